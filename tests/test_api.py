"""End-to-end behaviour of the orchestrator on synthetic objects with exact control."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from dcmexport import api
from dcmexport.deid import Key
from dcmexport.deid.marking import evidence_from_method
from dcmexport.errors import DeidentificationError, EncodeError
from dcmexport.paths import outside_of
from dcmexport.read import sha256_file
from dcmexport.samples import make_ct, make_us_gray_cine, make_us_rgb_cine, planted_phi, write_dataset


@pytest.fixture()
def key(tmp_path: Path) -> Key:
    p = tmp_path / "key.bin"
    p.write_bytes(b"0123456789abcdef0123456789abcdef")
    return Key.from_file(p)


def _phi_strings() -> list[bytes]:
    return [v.encode() for v in planted_phi().values() if len(v) >= 4]


def _assert_no_phi(out: Path) -> None:
    for f in out.rglob("*"):
        assert not any(s.decode().lower() in f.name.lower() for s in _phi_strings())
        if f.is_file():
            data = f.read_bytes()
            for s in _phi_strings():
                assert s not in data, f"{s!r} leaked into {f.name}"


def test_ct_still_png_named_by_digest_without_metadata(tmp_path: Path, key: Key) -> None:
    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    before = sha256_file(src)
    batch = api.export([src], tmp_path / "out", key=key)
    assert batch.exit_code == 0, [r.reason for r in batch.results]
    (out,) = batch.results[0].outputs
    assert out.suffix == ".png" and len(out.stem) == 20 and all(c in "0123456789abcdef" for c in out.stem)
    with Image.open(out) as im:
        assert im.size == (64, 64) and im.mode == "L"
        assert not getattr(im, "text", {}) and "exif" not in im.info
    assert sha256_file(src) == before  # inputs are read-only
    _assert_no_phi(tmp_path / "out")
    records = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    assert [r["record"] for r in records] == ["run", "object"]
    assert records[1]["input_sha256"] == before and records[1]["status"] == "written"
    assert records[1]["outputs"] == [out.name] and records[1]["actions"]


def test_same_key_same_name_and_rerun_skips(tmp_path: Path, key: Key) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    first = api.export([src], tmp_path / "out", key=key)
    second = api.export([src], tmp_path / "out", key=key)
    assert second.results[0].status == "skipped" and "already exported" in second.results[0].reason
    assert first.results[0].outputs == second.results[0].outputs
    third = api.export([src], tmp_path / "out", key=key, overwrite=True)
    assert third.results[0].status == "written"


def test_window_override_changes_rendering(tmp_path: Path, key: Key) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    a = api.export([src], tmp_path / "a", key=key).results[0].outputs[0]
    b = api.export([src], tmp_path / "b", key=key, window="1000,100").results[0].outputs[0]
    assert not np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))


def test_user_mask_blanks_region_in_still(tmp_path: Path, key: Key) -> None:
    ds = make_ct(pixels=np.full((64, 64), 1064, dtype=np.int16))  # HU 40: mid-grey in the 40/400 window
    src = write_dataset(ds, tmp_path / "ct.dcm")
    out = api.export([src], tmp_path / "out", key=key, masks=["0,0,16,8", "-8,-8,8,8"]).results[0].outputs[0]
    img = np.asarray(Image.open(out))
    assert (img[:8, :16] == 0).all() and (img[-8:, -8:] == 0).all()
    unmasked = np.asarray(Image.open(api.export([src], tmp_path / "o2", key=key).results[0].outputs[0]))
    assert unmasked[:8, :16].any()  # the test image is not black there: the mask did the blanking
    np.testing.assert_array_equal(img[8:-8], unmasked[8:-8])


def test_rgb_us_cine_to_mp4_at_recorded_rate_with_regions(tmp_path: Path, key: Key) -> None:
    from dcmexport.encode import probe_video

    src = write_dataset(make_us_rgb_cine(frames=12, frame_time_ms=40.0), tmp_path / "us.dcm")
    result = api.export([src], tmp_path / "out", key=key).results[0]
    assert result.status == "written", result.reason
    info = probe_video(result.outputs[0])
    assert info.frames == 12 and info.fps == pytest.approx(25.0)
    assert result.fps_source == "FrameTime"
    _assert_no_phi(tmp_path / "out")


def test_burned_in_without_mask_is_refused_and_writes_nothing(tmp_path: Path, key: Key) -> None:
    src = write_dataset(make_us_rgb_cine(frames=4), tmp_path / "us.dcm")
    batch = api.export([src], tmp_path / "out", key=key, mask_us_regions=False, mask_presets=False)
    result = batch.results[0]
    assert result.status == "refused" and batch.exit_code == 1
    assert "--accept-burned-in" in result.reason and "--mask" in result.reason
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["manifest.jsonl"]


def test_gray_cine_uses_cine_rate_and_frames_all_stills(tmp_path: Path, key: Key) -> None:
    from dcmexport.encode import probe_video

    ds = make_us_gray_cine(frames=6, cine_rate=15)
    src = write_dataset(ds, tmp_path / "g.dcm")
    clip = api.export([src], tmp_path / "clip", key=key).results[0]
    assert clip.status == "written", clip.reason
    assert probe_video(clip.outputs[0]).fps == pytest.approx(15.0) and clip.fps_source == "CineRate"
    stills = api.export([src], tmp_path / "stills", key=key, format="png", frames="all").results[0]
    assert len(stills.outputs) == 6 and [p.stem[-5:] for p in stills.outputs] == [f"f{i:04d}" for i in range(6)]


def test_frame_index_out_of_range_is_clean_failure(tmp_path: Path, key: Key) -> None:
    src = write_dataset(make_us_gray_cine(frames=3), tmp_path / "g.dcm")
    result = api.export([src], tmp_path / "o", key=key, format="png", frames="7").results[0]
    assert result.status == "failed" and "NumberOfFrames" in result.reason


def test_deidentification_failure_fails_closed(tmp_path: Path, key: Key, monkeypatch: pytest.MonkeyPatch) -> None:
    src = write_dataset(make_ct(), tmp_path / "ct.dcm")

    def boom(self: object, ds: object, **kw: object) -> None:
        raise DeidentificationError("(0010,0010) PatientName: could not be processed")

    monkeypatch.setattr("dcmexport.deid.Deidentifier.deidentify", boom)
    result = api.export([src], tmp_path / "out", key=key).results[0]
    assert result.status == "failed" and "PatientName" in result.reason
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["manifest.jsonl"]


def test_encoder_failure_mid_clip_leaves_no_file(tmp_path: Path, key: Key, monkeypatch: pytest.MonkeyPatch) -> None:
    from dcmexport.encode import VideoWriter

    src = write_dataset(make_us_gray_cine(frames=8), tmp_path / "g.dcm")
    real_write = VideoWriter.write

    def failing_write(self: VideoWriter, frame: np.ndarray) -> None:
        if self.frames_written == 4:
            raise EncodeError("disk full (simulated)")
        real_write(self, frame)

    monkeypatch.setattr(VideoWriter, "write", failing_write)
    result = api.export([src], tmp_path / "out", key=key).results[0]
    assert result.status == "failed"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["manifest.jsonl"]


def test_also_dicom_is_deidentified_and_masked(tmp_path: Path, key: Key) -> None:
    src = write_dataset(make_us_rgb_cine(frames=3), tmp_path / "us.dcm")
    result = api.export([src], tmp_path / "out", key=key, also_dicom=True).results[0]
    assert result.status == "written", result.reason
    dcm = next(p for p in result.outputs if p.suffix == ".dcm")
    out = pydicom.dcmread(dcm)
    # Issue #20 item 1: masked outside the ultrasound regions, the inside never looked at: no claim.
    assert out.PatientIdentityRemoved == "NO" and out.BurnedInAnnotation == "YES"
    assert "113101" in [i.CodeValue for i in out.DeidentificationMethodCodeSequence]
    original = pydicom.dcmread(src)
    assert out.SOPInstanceUID != original.SOPInstanceUID
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    _assert_no_phi(tmp_path / "out")


@pytest.mark.parametrize(("ocr", "removed", "burned_in", "evidence"), [
    ({}, "NO", "YES", "masked-not-checked"),
    ({"ocr_check": "report"}, "NO", "YES", "masked-not-checked"),  # first, middle and last frame only
    ({"ocr_check": "report", "ocr_all_frames": True}, "YES", "NO", "masked-and-checked"),
])
def test_also_dicom_marking_follows_the_ocr_check(tmp_path: Path, key: Key, ocr: dict[str, object], removed: str,
                                                  burned_in: str, evidence: str) -> None:
    pytest.importorskip("pytesseract")
    from dcmexport.ocr import ocr_available

    if ocr and not ocr_available():
        pytest.skip("tesseract not installed")
    src = write_dataset(make_us_rgb_cine(frames=4), tmp_path / "us.dcm")
    result = api.export([src], tmp_path / "out", key=key, also_dicom=True, **ocr).results[0]  # type: ignore[arg-type]
    assert result.status == "written", result.reason
    out = pydicom.dcmread(next(p for p in result.outputs if p.suffix == ".dcm"))
    assert (out.PatientIdentityRemoved, out.BurnedInAnnotation) == (removed, burned_in)
    assert evidence_from_method(out.DeidentificationMethod) == evidence
    assert "113101" in [i.CodeValue for i in out.DeidentificationMethodCodeSequence]


def test_accept_burned_in_without_cleaning_is_marked_not_removed(tmp_path: Path, key: Key) -> None:
    ds = make_us_rgb_cine(frames=2)
    del ds.SequenceOfUltrasoundRegions  # nothing to mask by: written only because of --accept-burned-in
    src = write_dataset(ds, tmp_path / "us.dcm")
    result = api.deidentify([src], tmp_path / "out", key=key, accept_burned_in=True).results[0]
    assert result.status == "written", result.reason
    out = pydicom.dcmread(result.outputs[0])
    assert out.PatientIdentityRemoved == "NO" and out.BurnedInAnnotation == "YES"
    assert "113101" not in [i.CodeValue for i in out.DeidentificationMethodCodeSequence]
    assert evidence_from_method(out.DeidentificationMethod) == "accepted-uncleaned"


def test_non_dicom_and_pixel_less_inputs_are_skipped(tmp_path: Path, key: Key) -> None:
    from pydicom.data import get_testdata_file

    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "readme.txt").write_text("not dicom")
    write_dataset(make_ct(), folder / "ct.dcm")
    batch = api.export([folder, Path(get_testdata_file("rtplan.dcm"))], tmp_path / "out", key=key)
    statuses = sorted(r.status for r in batch.results)
    assert statuses == ["skipped", "skipped", "written"] and batch.exit_code == 0


def test_output_dir_inside_input_is_not_reread(tmp_path: Path, key: Key) -> None:
    inp = tmp_path / "in"
    write_dataset(make_ct(), inp / "ct.dcm")
    first = api.export([inp], inp / "out", key=key)
    again = api.export([inp], inp / "out", key=key)
    assert [r.status for r in first.results] == ["written"]
    assert [r.status for r in again.results] == ["skipped"]  # its own PNG and manifest were not read as inputs


def test_outputs_reached_through_links_are_not_reread(tmp_path: Path, key: Key) -> None:
    # --out inside the input: its files are skipped whether reached directly, through a
    # symlinked file or through a symlinked folder (paths.outside_of resolves each directory once).
    inp = tmp_path / "in"
    write_dataset(make_ct(), inp / "ct.dcm")
    first = api.deidentify([inp], inp / "out", key=key)
    (written,) = first.results[0].outputs
    (inp / "link.dcm").symlink_to(written)
    (inp / "linked-folder").symlink_to(inp / "out", target_is_directory=True)
    elsewhere = tmp_path / "elsewhere"
    other = make_ct()
    other.SOPInstanceUID = other.SOPInstanceUID + ".2"
    write_dataset(other, elsewhere / "other.dcm")
    (inp / "outside.dcm").symlink_to(elsewhere / "other.dcm")
    again = api.deidentify([inp, inp / "linked-folder" / written.name], inp / "out", key=key)
    assert sorted(str(r.source.relative_to(inp)) for r in again.results) == ["ct.dcm", "outside.dcm"]
    assert sorted(r.status for r in again.results) == ["skipped", "written"]
    assert outside_of(tmp_path.resolve())(tmp_path / "missing-folder" / "x.dcm") is False


@pytest.mark.parametrize("masks", [["20,20,10,10"], []])
def test_implicit_vr_input_keeps_its_marking_when_masked_or_not(tmp_path: Path, key: Key, masks: list[str]) -> None:
    # The marking is pre-encoded in the input's own encoding (deid.engine._encoded_marking);
    # masking rewrites the pixels as explicit VR, so pydicom must re-encode it on the way out.
    ds = make_us_gray_cine(rows=64, columns=64, frames=3)
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    src = tmp_path / "implicit.dcm"
    ds.save_as(src, enforce_file_format=True)
    batch = api.deidentify([src], tmp_path / "out", key=key, masks=masks, accept_burned_in=not masks)
    (result,) = batch.results
    assert result.status == "written", result.reason
    out = pydicom.dcmread(result.outputs[0])
    syntax = pydicom.uid.ExplicitVRLittleEndian if masks else pydicom.uid.ImplicitVRLittleEndian
    assert out.file_meta.TransferSyntaxUID == syntax
    assert [i.CodeValue for i in out.DeidentificationMethodCodeSequence] == (
        ["113100", "113101"] if masks else ["113100"])
    assert out.PatientIdentityRemoved == "YES" and out.LongitudinalTemporalInformationModified == "REMOVED"
    region = ds.pixel_array[:, 20:30, 20:30]
    assert region.any()
    np.testing.assert_array_equal(out.pixel_array[:, 20:30, 20:30], 0 if masks else region)


def test_enhanced_frames_rendered_with_their_own_rescale(tmp_path: Path, key: Key) -> None:
    # Three frames holding the same Hounsfield values, stored with per-frame Rescale
    # Slopes 1, 2 and 4 (Per-frame Functional Groups, PS3.3 C.7.6.16.2.9): every PNG,
    # and a single still asked for by number, must look the same.
    from pydicom.dataset import Dataset

    # the (40, 400) window's range and beyond, in steps of 4 HU: exactly storable with every slope
    hu = np.tile(np.rint(np.linspace(-100, 180, 64) / 4) * 4, (64, 1))
    ds = make_ct()
    for keyword in ("RescaleSlope", "RescaleIntercept", "RescaleType"):
        ds.pop(keyword, None)
    items = []
    frames = []
    for slope in (1, 2, 4):
        pvt = Dataset()
        pvt.RescaleSlope, pvt.RescaleIntercept, pvt.RescaleType = slope, -1024, "HU"
        item = Dataset()
        item.PixelValueTransformationSequence = [pvt]
        items.append(item)
        frames.append(np.rint((hu + 1024) / slope).astype(np.int16))
    ds.PerFrameFunctionalGroupsSequence = items
    ds.NumberOfFrames = 3
    ds.PixelData = np.stack(frames).tobytes()
    src = write_dataset(ds, tmp_path / "enhanced.dcm")
    batch = api.export([src], tmp_path / "all", key=key, format="png", frames="all")
    (result,) = batch.results
    assert result.status == "written", result.reason
    assert "per-frame rescale/window from the functional groups (3 distinct)" in result.notes
    images = [np.asarray(Image.open(p)).astype(int) for p in sorted(result.outputs)]
    assert len(images) == 3 and images[0].max() > images[0].min()
    assert all(np.array_equal(image, images[0]) for image in images[1:])
    (single,) = api.export([src], tmp_path / "one", key=key, format="png", frames="2").results[0].outputs
    assert np.array_equal(np.asarray(Image.open(single)), images[0])


def test_top_level_notebook_api(tmp_path: Path, key: Key) -> None:
    import dcmexport

    src = write_dataset(make_ct(), tmp_path / "ct.dcm")
    batch = dcmexport.export(src, tmp_path / "out", key=key, format="jpg", quality=80)
    assert batch.exit_code == 0 and batch.results[0].outputs[0].suffix == ".jpg"
    dicom = dcmexport.deidentify([src], tmp_path / "deid", key=key)
    assert dicom.results[0].outputs[0].suffix == ".dcm"


def test_deid_batch_flush_failure_fails_its_group_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outputs are flushed per group and renamed after; a disk error fails the group's objects, closed."""
    import errno
    import shutil

    from dcmexport import atomic

    src = tmp_path / "in"
    src.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(Path(pydicom.data.__file__).parent / "test_files" / name, src / name)

    def broken_disk(path: Path) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic, "_fsync_file", broken_disk)
    batch = api.deidentify(src, tmp_path / "out", jobs=1)
    assert [r.status for r in batch.results] == ["failed", "failed"]
    for result in batch.results:
        assert "could not be written to disk (OSError: Input/output error)" in result.reason
        assert result.outputs == []
    assert not list((tmp_path / "out").glob("*.dcm")) and not list((tmp_path / "out").glob(".tmp-*"))
    assert batch.exit_code != 0


def test_same_content_twice_in_one_group_is_written_once(tmp_path: Path) -> None:
    import shutil

    src = tmp_path / "in"
    src.mkdir()
    ct = Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm"
    shutil.copy(ct, src / "a.dcm")
    shutil.copy(ct, src / "b.dcm")
    batch = api.deidentify(src, tmp_path / "out", jobs=1, key=Key(b"k" * 32))
    assert sorted(r.status for r in batch.results) == ["skipped", "written"]
    assert len(list((tmp_path / "out").glob("*.dcm"))) == 1


def test_deid_same_bytes_whether_the_file_is_read_into_memory_or_streamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small files are read once into memory (hash + parse); large ones keep the deferred, streamed path."""
    from dcmexport import read

    src = Path(pydicom.data.__file__).parent / "test_files" / "CT_small.dcm"
    key = Key(b"same-bytes-either-path-key-01234")
    small = api.deidentify(src, tmp_path / "memory", key=key)
    monkeypatch.setattr(read, "PRELOAD_MAX_BYTES", 0)  # every file now counts as large
    large = api.deidentify(src, tmp_path / "streamed", key=key)
    (a,), (b,) = small.results[0].outputs, large.results[0].outputs
    assert a.name == b.name and a.read_bytes() == b.read_bytes()
    assert small.results[0].input_sha256 == large.results[0].input_sha256 == sha256_file(src)
