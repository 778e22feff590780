from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dcmexport.atomic import TEMP_PREFIX, DeferredCommits, atomic_output, remove_stale_temporaries
from dcmexport.errors import EncodeError


def test_success_renames_and_keeps_suffix(tmp_path: Path) -> None:
    final = tmp_path / "abc.mp4"
    with atomic_output(final) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and tmp.name.startswith(TEMP_PREFIX)
        tmp.write_bytes(b"data")
        assert not final.exists()
    assert final.read_bytes() == b"data"
    assert list(tmp_path.iterdir()) == [final]


def test_failure_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "abc.png"
    with pytest.raises(RuntimeError), atomic_output(final) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_leaves_nothing(tmp_path: Path) -> None:
    final = tmp_path / "abc.png"
    with pytest.raises(KeyboardInterrupt), atomic_output(final) as tmp:
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_existing_file_not_overwritten_unless_asked(tmp_path: Path) -> None:
    final = tmp_path / "abc.png"
    final.write_bytes(b"old")
    with pytest.raises(EncodeError, match="--overwrite"), atomic_output(final) as tmp:
        tmp.write_bytes(b"new")
    assert final.read_bytes() == b"old"
    with atomic_output(final, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert final.read_bytes() == b"new"


def test_symlink_target_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"keep")
    link = tmp_path / "abc.png"
    link.symlink_to(outside)
    with pytest.raises(EncodeError, match="symlink"), atomic_output(link, overwrite=True) as tmp:
        tmp.write_bytes(b"new")
    assert outside.read_bytes() == b"keep"


def test_stale_temporaries_removed(tmp_path: Path) -> None:
    (tmp_path / f"{TEMP_PREFIX}dead-x.mp4").write_bytes(b"partial")
    (tmp_path / "real.mp4").write_bytes(b"ok")
    assert remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["real.mp4"]


def test_stale_temporaries_in_layout_subfolders_removed(tmp_path: Path) -> None:
    """--layout writes into subfolders: a crash's leftovers there go too; a symlinked folder is not entered."""
    sub = tmp_path / "P1" / "study" / "001_CT"
    sub.mkdir(parents=True)
    (sub / f"{TEMP_PREFIX}dead-00001.png").write_bytes(b"partial")
    (sub / "00001.png").write_bytes(b"ok")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    elsewhere.mkdir()
    (elsewhere / f"{TEMP_PREFIX}theirs.png").write_bytes(b"not ours")
    (tmp_path / "link").symlink_to(elsewhere, target_is_directory=True)
    assert remove_stale_temporaries(tmp_path) == 1
    assert [p.name for p in sub.iterdir()] == ["00001.png"]
    assert (elsewhere / f"{TEMP_PREFIX}theirs.png").exists()


# --- deferred commits: fsync in the background, rename at the end of a group -----------------


def test_deferred_files_appear_only_when_committed(tmp_path: Path) -> None:
    from dcmexport.atomic import deferred_commits, output_exists

    final = tmp_path / "a.dcm"
    with deferred_commits() as group:
        since = group.mark()
        with atomic_output(final) as tmp:
            tmp.write_bytes(b"data")
        assert not final.exists()  # fsync pending: no final name yet
        assert output_exists(final)  # but a second writer of the same name sees it as taken
        with pytest.raises(EncodeError, match="already exists"), atomic_output(final):
            pass
        assert group.commit(since, group.mark()) is None
        assert final.read_bytes() == b"data"
    assert list(tmp_path.iterdir()) == [final]


def test_uncommitted_and_discarded_files_leave_nothing(tmp_path: Path) -> None:
    from dcmexport.atomic import deferred_commits

    with deferred_commits() as group:
        with atomic_output(tmp_path / "kept.png") as tmp:
            tmp.write_bytes(b"1")
        since = group.mark()
        with atomic_output(tmp_path / "failed.png") as tmp:
            tmp.write_bytes(b"2")
        group.discard(since)
        assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.iterdir()).name]  # only kept's temporary
    assert list(tmp_path.iterdir()) == []  # never committed: the block's end deleted it


def test_interrupt_inside_a_group_leaves_nothing(tmp_path: Path) -> None:
    from dcmexport.atomic import deferred_commits

    with pytest.raises(KeyboardInterrupt), deferred_commits():
        with atomic_output(tmp_path / "done.png") as tmp:
            tmp.write_bytes(b"1")
        with atomic_output(tmp_path / "half.png") as tmp:
            tmp.write_bytes(b"2")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_flush_failure_renames_none_of_the_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from dcmexport import atomic

    def full_disk(path: Path) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic, "_fsync_file", full_disk)
    with atomic.deferred_commits() as group:
        for name in ("a.png", "b.png"):
            with atomic_output(tmp_path / name) as tmp:
                tmp.write_bytes(b"x")
        error = group.commit(0, group.mark())
    assert isinstance(error, OSError) and error.errno == errno.ENOSPC
    assert list(tmp_path.iterdir()) == []


def test_every_file_is_flushed_before_its_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dcmexport import atomic

    flushed: list[str] = []
    real = atomic._fsync_file

    def spy(path: Path) -> None:
        assert not any((tmp_path / n).exists() for n in ("a.png", "b.png"))  # nothing renamed before the flush
        flushed.append(path.name.rsplit("-", 1)[-1])
        real(path)

    monkeypatch.setattr(atomic, "_fsync_file", spy)
    with atomic.deferred_commits() as group:
        spans = _two_objects(group, tmp_path, lambda name: name.encode())
        assert all(group.commit(since, until) is None for since, until in spans)
    assert sorted(flushed) == ["a.png", "b.png"]  # each flushed exactly once
    assert (tmp_path / "a.png").read_bytes() == b"a.png" and (tmp_path / "b.png").read_bytes() == b"b.png"


def test_one_failed_fsync_fails_only_its_object(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import errno

    from dcmexport import atomic

    real = atomic._fsync_file

    def flaky(path: Path) -> None:
        if path.name.endswith("b.png"):
            raise OSError(errno.EIO, "Input/output error")
        real(path)

    monkeypatch.setattr(atomic, "_fsync_file", flaky)
    with atomic.deferred_commits() as group:
        spans = _two_objects(group, tmp_path, lambda name: b"x")
        errors = [group.commit(since, until) for since, until in spans]
    assert errors[0] is None and isinstance(errors[1], OSError) and errors[1].errno == errno.EIO
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]


def _two_objects(group: DeferredCommits, folder: Path, content: Callable[[str], bytes]) -> list[tuple[int, int]]:
    """Write a.png and b.png into the deferred ``group`` as two objects; their (since, until) spans."""
    spans = []
    for name in ("a.png", "b.png"):
        since = group.mark()
        with atomic_output(folder / name) as tmp:
            tmp.write_bytes(content(name))
        spans.append((since, group.mark()))
    return spans
