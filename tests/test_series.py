"""--series: slices grouped by Series Instance UID and ordered along the slice normal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dcmexport import api
from dcmexport.deid import Key
from dcmexport.pipeline.series import order_slices, slice_info_from_dataset, slice_normal
from dcmexport.render.montage import apply_montage, montage_shape
from tests.samplegen import make_ct, uid_from_name, write_dataset

KEY = Key(b"series-test-key-0123456789abcdef")


def _slice(z: float, instance: int, hu: int, **kw: object):  # type: ignore[no-untyped-def]
    return make_ct(
        pixels=np.full((32, 32), hu + 1024, dtype=np.int16),
        position_z=z,
        instance=instance,
        series_uid=uid_from_name("series-a"),
        study_uid=uid_from_name("study-a"),
        sop_instance_uid=uid_from_name(f"slice-{z}"),
        **kw,
    )


def test_normal_and_position() -> None:
    np.testing.assert_allclose(slice_normal([1, 0, 0, 0, 1, 0]), [0, 0, 1])
    assert slice_normal([1, 0, 0, 1, 0, 0]) is None  # parallel: no plane
    assert slice_info_from_dataset(_slice(7.5, 1, 0)).position == pytest.approx(7.5)


def test_order_falls_back_to_instance_number() -> None:
    from dcmexport.pipeline.series import SliceInfo

    items = [("b", SliceInfo("s", None, 2, 1)), ("a", SliceInfo("s", 1.0, 1, 1)), ("c", SliceInfo("s", 3.0, 3, 1))]
    assert order_slices(items) == ["a", "b", "c"]
    items = [("z2", SliceInfo("s", 2.0, 9, 1)), ("z1", SliceInfo("s", 1.0, 8, 1))]
    assert order_slices(items) == ["z1", "z2"]  # geometry wins over instance numbers


def test_montage_layout() -> None:
    assert montage_shape(5) == (2, 3) and montage_shape(9) == (3, 3) and montage_shape(1) == (1, 1)
    tiles = [np.full((2, 3), i, np.uint8) for i in range(5)]
    sheet = apply_montage(tiles)
    assert sheet.shape == (4, 9)
    assert sheet[0, 0] == 0 and sheet[0, 8] == 2 and sheet[3, 3] == 4 and sheet[3, 8] == 0


def test_out_of_order_series_exports_as_one_clip_in_slice_order(tmp_path: Path) -> None:
    from dcmexport.encode import probe_video, read_video_frames

    # z positions and HU rise together; files and instance numbers are written scrambled
    zs = [0.0, 2.5, 5.0, 7.5, 10.0]
    hus = [-160, -80, 0, 80, 160]  # inside the first window (40/400): distinct, increasing greys
    order = [3, 0, 4, 1, 2]
    for rank, i in enumerate(order):
        write_dataset(_slice(zs[i], instance=10 - rank, hu=hus[i]), tmp_path / "in" / f"file{rank}.dcm")
    batch = api.export([tmp_path / "in"], tmp_path / "out", key=KEY, series=True, fps=5)
    (result,) = batch.results
    assert result.status == "written", result.reason
    (clip,) = result.outputs
    info = probe_video(clip)
    assert info.frames == 5 and info.fps == pytest.approx(5.0)
    means = [float(f.mean()) for f in read_video_frames(clip)]
    assert means == sorted(means) and means[-1] - means[0] > 100


def test_montage_contact_sheet(tmp_path: Path) -> None:
    for i in range(4):
        write_dataset(_slice(float(i), i + 1, -100 + 60 * i), tmp_path / "in" / f"{i}.dcm")
    result = api.export([tmp_path / "in"], tmp_path / "out", key=KEY, series=True, montage=True,
                        format="png").results[0]
    assert result.status == "written", result.reason
    sheet = np.asarray(Image.open(result.outputs[0]))
    assert sheet.shape == (64, 64)
    quads = [sheet[:32, :32].mean(), sheet[:32, 32:].mean(), sheet[32:, :32].mean(), sheet[32:, 32:].mean()]
    assert quads == sorted(quads)


def test_mixed_geometry_is_reported_not_resized(tmp_path: Path) -> None:
    write_dataset(_slice(0.0, 1, 0), tmp_path / "in" / "a.dcm")
    odd = make_ct(rows=48, columns=48, position_z=1.0, instance=2, series_uid=uid_from_name("series-a"),
                  study_uid=uid_from_name("study-a"), sop_instance_uid=uid_from_name("odd"))
    write_dataset(odd, tmp_path / "in" / "b.dcm")
    result = api.export([tmp_path / "in"], tmp_path / "out", key=KEY, series=True).results[0]
    assert result.status == "failed" and "mixes geometries" in result.reason and "Rows" in result.reason
    assert not list((tmp_path / "out").glob("*.mp4"))


def test_montage_needs_series_and_still(tmp_path: Path) -> None:
    from dcmexport.errors import UsageError

    with pytest.raises(UsageError, match="--montage needs --series"):
        api.build_options(tmp_path, montage=True, format="png")


def test_progress_total_counts_results_not_files(tmp_path: Path) -> None:
    # The CLI's progress bar takes its total from on_start: a series of 5 files is one
    # result, and a zip of 3 slices is three; counting files would say 6 and 1.
    import zipfile

    for i, z in enumerate([0.0, 2.5, 5.0, 7.5, 10.0]):
        write_dataset(_slice(z, instance=i + 1, hu=0), tmp_path / "series" / f"s{i}.dcm")
    totals: list[int] = []
    batch = api.export([tmp_path / "series"], tmp_path / "out", key=KEY, series=True, on_start=totals.append)
    assert totals == [1] == [len(batch.results)]
    with zipfile.ZipFile(tmp_path / "cd.zip", "w") as zf:
        for i in range(3):
            zf.write(tmp_path / "series" / f"s{i}.dcm", f"DICOM/IM{i}")
    totals.clear()
    batch = api.deidentify([tmp_path / "cd.zip"], tmp_path / "deid", key=KEY, on_start=totals.append, jobs=2)
    assert totals == [3] == [len(batch.results)]


# --------------------------------------------------------------------------- orientations (issue #19 item 7)

def _dicomdir_tests() -> Path:
    from pydicom.data import get_testdata_file

    return Path(get_testdata_file("DICOMDIR")).parent  # type: ignore[arg-type]


def _infos(folder: Path) -> list[tuple[Path, object]]:
    import pydicom

    return [(p, slice_info_from_dataset(pydicom.dcmread(p, stop_before_pixels=True)))
            for p in sorted(folder.iterdir())]  # fmt: skip


def test_radial_slices_fall_back_to_instance_number() -> None:
    import pydicom

    from dcmexport.pipeline.series import unordered_reason

    items = _infos(_dicomdir_tests() / "98892003" / "MR700")
    assert "ImageOrientationPatient differs" in (unordered_reason([i for _, i in items]) or "")  # type: ignore[misc]
    ordered = order_slices(items)  # type: ignore[arg-type]
    assert [int(pydicom.dcmread(p, stop_before_pixels=True).InstanceNumber) for p in ordered] == [1, 2, 3, 4, 5, 6, 7]


def test_shared_orientation_is_slice_order_even_with_a_flipped_normal() -> None:
    from dcmexport.pipeline.series import SliceInfo, unordered_reason

    up, down = (0.0, 0.0, 1.0), (0.0, 0.0, -1.0)
    items = [
        ("z5", SliceInfo("s", -5.0, 1, 1, normal=down, origin=(0.0, 0.0, 5.0))),  # own normal reversed
        ("z0", SliceInfo("s", 0.0, 2, 1, normal=up, origin=(0.0, 0.0, 0.0))),
        ("z9", SliceInfo("s", 9.0, 3, 1, normal=up, origin=(0.0, 0.0, 9.0))),
    ]
    assert unordered_reason([i for _, i in items]) is None
    assert order_slices(items) == ["z0", "z5", "z9"]


def test_series_notes_say_slice_order_only_when_true(tmp_path: Path) -> None:
    root = _dicomdir_tests()
    batch = api.export([root / "98892003", root / "98892001" / "CT5N"], tmp_path / "out", key=KEY, series=True,
                       accept_burned_in=True)
    notes = {r.source.parent.name + ("/" + r.source.name if r.source.parent.name == "MR2" else ""):
             " ".join(r.notes) for r in batch.results if r.frames > 1}  # fmt: skip
    assert all(r.status == "written" for r in batch.results), [(r.source, r.reason) for r in batch.results]
    radial, ct = notes.pop("MR700"), notes.pop("CT5N")
    assert "slices in (0020,0013) InstanceNumber order, not slice order" in radial and "in slice order" not in radial
    assert "series of 5 slices in slice order" in ct
    assert len(notes) == 2  # the two three-plane localizer series of MR2
    for localizer in notes.values():
        assert "ImageOrientationPatient differs" in localizer and "in slice order" not in localizer


def test_series_grouping_refuses_a_fifo_instead_of_hanging(tmp_path: Path) -> None:
    """--series reads headers through the reader's guards (#18 item 7): a FIFO among the inputs is reported,
    never opened for reading (which blocks forever with no writer). A real process, bounded in time."""
    import json
    import os
    import subprocess
    import sys

    src = tmp_path / "in"
    for i in range(3):
        write_dataset(make_ct(instance=i + 1), src / f"ct{i}.dcm")
    os.mkfifo(src / "pipe.dcm")
    proc = subprocess.run([sys.executable, "-m", "dcmexport", "export", str(src), "--out", str(tmp_path / "out"),
                           "--series", "--json", "--jobs", "1"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "DCMEXPORT_KEY": "k" * 64})
    summary = json.loads(proc.stdout)
    statuses = {Path(o["input"]).name: (o["status"], o["reason"] or "") for o in summary["objects"]}
    assert statuses["pipe.dcm"][0] == "failed" and "not a regular file" in statuses["pipe.dcm"][1]
    assert summary["written"] == 1  # the three slices, one clip
