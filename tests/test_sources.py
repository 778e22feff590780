"""sources: a DICOMDIR is recognised by its Media Storage SOP Class, not by its name (issue #20 item 4); each real file is one input, however often it is named (issue #19 item 8)."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
from pydicom.data import get_testdata_file

from dcmexport import api
from dcmexport.deid import Key
from dcmexport.sources import is_dicomdir, iter_input_files, iter_inputs
from tests.samplegen import make_ct, write_dataset

KEY = Key(b"sources-test-key-0123456789abcdef")
SRC = Path(get_testdata_file("DICOMDIR")).parent


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """pydicom's dicomdirtests, its index under another name."""
    dest = tmp_path / "cd"
    shutil.copytree(SRC, dest, ignore=shutil.ignore_patterns("DICOMDIR*", "*.txt", "TINY_ALPHA"))
    shutil.copy(SRC / "DICOMDIR", dest / "DICOMDIR.dcm")
    return dest


class TestIsDicomdir:
    def test_by_media_storage_sop_class(self, tmp_path: Path) -> None:
        for name in ("DICOMDIR", "DICOMDIR-implicit", "DICOMDIR-bigEnd", "DICOMDIR-reordered"):
            assert is_dicomdir(SRC / name), name
        ct = write_dataset(make_ct(), tmp_path / "DICOMDIR.dcm")
        assert not is_dicomdir(ct)
        (tmp_path / "text").write_text("DICM " * 100)
        assert not is_dicomdir(tmp_path / "text")
        assert not is_dicomdir(tmp_path / "missing")

    def test_reads_only_the_file_meta(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        big = tmp_path / "big.dcm"
        big.write_bytes((SRC / "DICOMDIR").read_bytes() + b"\0" * (4 << 20))
        asked: list[int] = []
        real_read = os.read

        def spy(fd: int, n: int) -> bytes:
            asked.append(n)
            return real_read(fd, n)

        monkeypatch.setattr(os, "read", spy)
        assert is_dicomdir(big)
        assert asked and all(0 < n <= 1024 for n in asked)

    def test_a_fifo_is_not_waited_on(self, tmp_path: Path) -> None:
        fifo = tmp_path / "pipe.dcm"
        os.mkfifo(fifo)
        assert not is_dicomdir(fifo)  # returns at once (pytest would hang otherwise)


class TestExpansion:
    def test_renamed_index_named_directly_expands_like_dicomdir(self, tree: Path, tmp_path: Path) -> None:
        referenced = list(iter_inputs([tree / "DICOMDIR.dcm"], tmp_path))
        assert len(referenced) == 31 and all(item.path.is_file() for item in referenced)
        lower = tree / "dicomdir"
        (tree / "DICOMDIR.dcm").rename(lower)  # lower case, as some CD writers
        assert len(list(iter_inputs([lower], tmp_path))) == 31
        lower.rename(tree / "DICOMDIR.dcm")
        via_index = api.export([tree / "DICOMDIR.dcm"], tmp_path / "o1", key=KEY, accept_burned_in=True)
        via_walk = api.export([tree], tmp_path / "o2", key=KEY, accept_burned_in=True)
        outs = lambda b: sorted(p.name for r in b.results for p in r.outputs)  # noqa: E731
        assert outs(via_index) == outs(via_walk) and len(outs(via_index)) == 31
        assert via_index.exit_code == 0 and via_walk.exit_code == 0

    def test_folder_walk_skips_a_renamed_index(self, tree: Path) -> None:
        found = list(iter_input_files([tree]))
        assert tree / "DICOMDIR.dcm" not in found and len(found) == 31

    def test_zip_member_index_is_skipped(self, tree: Path, tmp_path: Path) -> None:
        archive = tmp_path / "cd.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for path in sorted(p for p in tree.rglob("*") if p.is_file()):
                zf.write(path, path.relative_to(tree).as_posix())
        work = tmp_path / "work"
        work.mkdir()
        items = list(iter_inputs([archive], work))
        assert len(items) == 31 and not any(str(i.label).endswith("DICOMDIR.dcm") for i in items)


class TestEachFileOnce:
    """Each real file is one input, however often it is named (issue #19 item 8)."""

    def test_a_file_named_twice_and_in_its_folder_is_one_input(self, tmp_path: Path) -> None:
        a = write_dataset(make_ct(sop_instance_uid="1.2.3.1"), tmp_path / "in" / "a.dcm")
        b = write_dataset(make_ct(sop_instance_uid="1.2.3.2"), tmp_path / "in" / "b.dcm")
        found = list(iter_input_files([a, a, tmp_path / "in", Path(str(tmp_path / "in") + "/./")]))
        assert found == [a, b]

    def test_a_symlink_and_its_target_are_one_input(self, tmp_path: Path) -> None:
        a = write_dataset(make_ct(), tmp_path / "in" / "a.dcm")
        link = tmp_path / "link.dcm"
        os.symlink(a, link)
        assert list(iter_input_files([link, tmp_path / "in"])) == [link]

    def test_a_dicomdir_and_the_folder_it_indexes_are_one_set_of_inputs(self, tmp_path: Path) -> None:
        tree = tmp_path / "tree"
        shutil.copytree(SRC, tree)
        by_index = [i.path for i in iter_inputs([tree / "DICOMDIR"], tmp_path / "work")]
        both = [i.path for i in iter_inputs([tree / "DICOMDIR", tree], tmp_path / "work")]
        assert by_index and len(both) == len(set(p.resolve() for p in both))
        assert both[: len(by_index)] == by_index
