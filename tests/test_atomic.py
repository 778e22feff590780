from __future__ import annotations

from pathlib import Path

import pytest

from dcmexport.atomic import TEMP_PREFIX, atomic_output, remove_stale_temporaries
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
