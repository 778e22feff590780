"""Input discovery: each real file is one input, however often it is named (issue #19 item 8)."""

from __future__ import annotations

import os
from pathlib import Path

from dcmexport.samples import make_ct, write_dataset
from dcmexport.sources import iter_input_files, iter_inputs


def test_a_file_named_twice_and_in_its_folder_is_one_input(tmp_path: Path) -> None:
    a = write_dataset(make_ct(sop_instance_uid="1.2.3.1"), tmp_path / "in" / "a.dcm")
    b = write_dataset(make_ct(sop_instance_uid="1.2.3.2"), tmp_path / "in" / "b.dcm")
    found = list(iter_input_files([a, a, tmp_path / "in", Path(str(tmp_path / "in") + "/./")]))
    assert found == [a, b]


def test_a_symlink_and_its_target_are_one_input(tmp_path: Path) -> None:
    a = write_dataset(make_ct(), tmp_path / "in" / "a.dcm")
    link = tmp_path / "link.dcm"
    os.symlink(a, link)
    assert list(iter_input_files([link, tmp_path / "in"])) == [link]


def test_a_dicomdir_and_the_folder_it_indexes_are_one_set_of_inputs(tmp_path: Path) -> None:
    import shutil

    from pydicom.data import get_testdata_file

    tree = tmp_path / "tree"
    shutil.copytree(Path(get_testdata_file("DICOMDIR")).parent, tree)  # type: ignore[arg-type]
    by_index = [i.path for i in iter_inputs([tree / "DICOMDIR"], tmp_path / "work")]
    both = [i.path for i in iter_inputs([tree / "DICOMDIR", tree], tmp_path / "work")]
    assert by_index and len(both) == len(set(p.resolve() for p in both))
    assert both[: len(by_index)] == by_index
