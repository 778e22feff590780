"""Dataset outputs (#13 item 5): --layout, dataset.csv, --size letterbox, --window A,B,C. Real files, no mocks."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut, apply_voi_lut
from typer.testing import CliRunner

from dcmexport import api
from dcmexport.audit.dataset import DATASET_COLUMNS
from dcmexport.audit.merge import merge_parts
from dcmexport.audit.verify.findings import Kind
from dcmexport.audit.verify.run import verify_paths
from dcmexport.cli import app
from dcmexport.deid import DeidOptions, Key
from dcmexport.errors import MissingDependencyError, UsageError
from dcmexport.layout import check_layout, parse_layout, sanitise_component
from dcmexport.pipeline.shards import Shard
from dcmexport.render.letterbox import letterbox_geometry
from tests.samplegen import make_ct, make_ct_series, write_dataset

KEY = Key(b"dataset-outputs-test-key-0123456789")
LAYOUT = "{PatientID}/{StudyInstanceUID}/{SeriesNumber:03d}_{Modality}/{InstanceNumber:05d}"


@pytest.fixture
def series_dir(tmp_path: Path) -> Path:
    root = tmp_path / "in"
    for i, ds in enumerate(make_ct_series(4, seed=3)):
        write_dataset(ds, root / f"s{i}.dcm")
    write_dataset(make_ct(seed=9, instance=7), root / "other" / "ct.dcm")
    return root


def _files(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and not p.name.startswith(("manifest", "dataset"))}


def _rows(out: Path) -> list[dict[str, str]]:
    with open(out / "dataset.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class TestParseLayout:
    def test_fields_and_specs(self) -> None:
        layout = parse_layout(LAYOUT)
        assert [(f.keyword, f.spec) for f in layout.fields] == [
            ("PatientID", ""), ("StudyInstanceUID", ""), ("SeriesNumber", "03d"), ("Modality", ""),
            ("InstanceNumber", "05d")]

    @pytest.mark.parametrize("text, words", [
        ("{Foo}/{InstanceNumber}", "not a DICOM keyword"),
        ("{PatientID!r}", "DICOM keyword"),
        ("{PatientID[0]}", "DICOM keyword"),
        ("/abs/{PatientID}", "relative to --out"),
        ("../{PatientID}", "'..'"),
        ("a//{PatientID}", "'..'"),
        ("plain", "names no field"),
        ("{PatientID", "--layout"),
        ("{PatientID}/", "last part"),
    ])
    def test_malformed_is_a_usage_error(self, text: str, words: str) -> None:
        with pytest.raises(UsageError, match=re.escape(words)):
            parse_layout(text)

    @pytest.mark.parametrize("keyword", ["PatientName", "StudyDate", "AccessionNumber", "SeriesDescription",
                                         "PatientBirthDate", "ReferencedImageSequence"])
    def test_profile_refuses_what_it_removes_or_blanks(self, keyword: str) -> None:
        with pytest.raises(UsageError, match=re.escape("{" + keyword + "}")):
            check_layout(parse_layout("{" + keyword + "}/{InstanceNumber}"), DeidOptions())

    def test_allowed_set_follows_the_engine(self) -> None:
        check_layout(parse_layout(LAYOUT), DeidOptions())
        check_layout(parse_layout("{StudyDate}/{InstanceNumber}"), DeidOptions(retain_full_dates=True))
        check_layout(parse_layout("{StudyDate}/{InstanceNumber}"), DeidOptions(retain_modified_dates=True))
        check_layout(parse_layout("{SeriesDescription}/{InstanceNumber}"), DeidOptions(clean_descriptors=True))

    def test_build_options_checks_against_the_chosen_profile(self, tmp_path: Path) -> None:
        with pytest.raises(UsageError, match="StudyDate"):
            api.build_options(tmp_path, layout="{StudyDate}/{SOPInstanceUID}")
        opts = api.build_options(tmp_path, layout="{StudyDate}/{SOPInstanceUID}",
                                 deid=DeidOptions(retain_full_dates=True))
        assert opts.layout is not None and opts.layout.template == "{StudyDate}/{SOPInstanceUID}"


@pytest.mark.parametrize("value, expected", [
    ("a/b", "a_b"), ("..", ""), ("x\x00y\n", "x_y_"), ("CON", "_CON"), ("nul.txt", "_nul.txt"),
    (" .hidden. ", "hidden"), ("A\\B:C", "A_B_C")])
def test_sanitise_component(value: str, expected: str) -> None:
    assert sanitise_component(value) == expected


class TestLayoutRun:
    def test_paths_from_the_deidentified_dataset(self, series_dir: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        batch = api.export(series_dir, out, key=KEY, layout=LAYOUT)
        assert batch.exit_code == 0
        names = sorted(_files(out))
        assert len(names) == 5
        for name in names:
            assert re.fullmatch(r"ANON-[A-Z0-9]+/2\.25\.\d+/\d{3}_CT/\d{5}_[0-9a-f]{8}\.png", name), name
        # values come from the de-identified DICOM: deid with the same key names the same pseudonyms
        deid_out = tmp_path / "deid"
        api.deidentify(series_dir, deid_out, key=KEY, layout=LAYOUT)
        for path in deid_out.rglob("*.dcm"):
            ds = pydicom.dcmread(path)
            rel = path.relative_to(deid_out).as_posix()
            assert rel.startswith(f"{ds.PatientID}/{ds.StudyInstanceUID}/{int(ds.SeriesNumber):03d}_{ds.Modality}/"
                                  f"{int(ds.InstanceNumber):05d}_")
        assert {n.rsplit(".", 1)[0] for n in names} == {
            p.relative_to(deid_out).as_posix().rsplit(".", 1)[0] for p in deid_out.rglob("*.dcm")}

    def test_same_names_whatever_the_executor_and_shards(self, series_dir: Path, tmp_path: Path) -> None:
        one = tmp_path / "one"
        api.export(series_dir, one, key=KEY, layout=LAYOUT, dataset="csv")
        two = tmp_path / "two"
        api.export(series_dir, two, key=KEY, layout=LAYOUT, dataset="csv", jobs=2)
        sharded = tmp_path / "sharded"
        for index in range(2):
            api.export(series_dir, sharded, key=KEY, layout=LAYOUT, dataset="csv", shard=Shard(index, 2))
        assert list(sharded.glob("dataset.shard-*-of-2.csv"))
        report = merge_parts(sharded)
        assert not report.problems and report.dataset_rows == 5
        assert _files(one) == _files(two) == _files(sharded)
        key_rows = [sorted(tuple(r.values()) for r in _rows(d)) for d in (one, two, sharded)]
        assert key_rows[0] == key_rows[1] == key_rows[2]

    def test_collisions_get_distinct_deterministic_names(self, series_dir: Path, tmp_path: Path) -> None:
        first = api.export(series_dir, tmp_path / "a", key=KEY, layout="{Modality}")
        again = api.export(series_dir, tmp_path / "b", key=KEY, layout="{Modality}", jobs=2)
        names = sorted(_files(tmp_path / "a"))
        assert len(names) == 5 and all(re.fullmatch(r"CT_[0-9a-f]{8}\.png", n) for n in names)
        assert names == sorted(_files(tmp_path / "b")) and first.exit_code == again.exit_code == 0

    def test_missing_value_fails_that_object_only(self, tmp_path: Path) -> None:
        inputs = tmp_path / "in"
        write_dataset(make_ct(seed=1, instance=1), inputs / "a.dcm")
        bare = make_ct(seed=2, instance=2)
        del bare.SeriesNumber
        write_dataset(bare, inputs / "b.dcm")
        batch = api.export(inputs, tmp_path / "out", key=KEY, layout="{SeriesNumber:03d}/{InstanceNumber:05d}")
        by_status = {r.status: r for r in batch.results}
        assert set(by_status) == {"written", "failed"}
        failed = by_status["failed"]
        assert failed.error_kind == "layout" and "SeriesNumber" in (failed.reason or "") and not failed.outputs
        assert batch.exit_code == 1 and len(_files(tmp_path / "out")) == 1

    def test_format_spec_on_text_fails_clearly(self, tmp_path: Path) -> None:
        write_dataset(make_ct(), tmp_path / "in" / "a.dcm")
        batch = api.export(tmp_path / "in", tmp_path / "out", key=KEY, layout="{Modality:05d}")
        (result,) = batch.results
        assert result.status == "failed" and "Modality" in (result.reason or "") and "05d" in (result.reason or "")

    def test_resume_and_fingerprint_include_the_layout(self, series_dir: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        api.export(series_dir, out, key=KEY, layout=LAYOUT)
        again = api.export(series_dir, out, key=KEY, layout=LAYOUT)
        assert {r.status for r in again.results} == {"skipped"}
        other = api.export(series_dir, out, key=KEY, layout="{PatientID}/{InstanceNumber:05d}")
        assert {r.status for r in other.results} == {"written"}

    def test_default_names_unchanged(self, series_dir: Path, tmp_path: Path) -> None:
        api.export(series_dir, tmp_path / "out", key=KEY)
        assert all(re.fullmatch(r"[0-9a-f]{20}\.png", n) for n in _files(tmp_path / "out"))

    def test_layout_stays_inside_out(self, tmp_path: Path) -> None:
        write_dataset(make_ct(), tmp_path / "in" / "a.dcm")
        out = tmp_path / "out"
        out.mkdir()
        (tmp_path / "elsewhere").mkdir()
        (out / "CT").symlink_to(tmp_path / "elsewhere")  # a linked folder would lead outside
        batch = api.export(tmp_path / "in", out, key=KEY, layout="{Modality}/{InstanceNumber}")
        (result,) = batch.results
        assert result.status == "failed" and "leave --out" in (result.reason or "")
        assert not any((tmp_path / "elsewhere").iterdir())


class TestDatasetTable:
    def test_rows_rerun_and_verify(self, series_dir: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        api.export(series_dir, out, key=KEY, dataset="csv", size="96x64")
        rows = _rows(out)
        assert tuple(rows[0]) == DATASET_COLUMNS
        assert sorted(r["path"] for r in rows) == sorted(_files(out))
        for row in rows:
            ds = pydicom.dcmread(series_dir / "s0.dcm")
            assert row["patient_id"].startswith("ANON-") and row["patient_id"] != ds.PatientID
            assert row["study_uid"].startswith("2.25.") and row["modality"] == "CT"
            assert (row["rows"], row["columns"], row["frames"], row["masks"]) == ("64", "96", "1", "0")
            assert row["window"] == "40/400"
        api.export(series_dir, out, key=KEY, dataset="csv", size="96x64")  # skipped: adds nothing
        assert len(_rows(out)) == 5
        api.export(series_dir, out, key=KEY, dataset="csv", size="96x64", overwrite=True)  # redone: still one row each
        assert len(_rows(out)) == 5
        report = verify_paths([out], against=[series_dir])
        assert report.findings == []
        table = (out / "dataset.csv").read_text().splitlines()
        (out / "dataset.csv").write_text("\n".join(table[:-1]) + "\n")
        kinds = {f.kind for f in verify_paths([out]).findings}
        assert kinds == {Kind.DATASET_TABLE}

    def test_row_pointing_nowhere_is_found(self, series_dir: Path, tmp_path: Path) -> None:
        out = tmp_path / "out"
        api.export(series_dir, out, key=KEY, dataset="csv")
        next(p for p in out.iterdir() if p.suffix == ".png").unlink()
        details = [f.detail for f in verify_paths([out]).findings]
        assert any("does not exist" in d for d in details)

    def test_series_outputs_rows(self, series_dir: Path, tmp_path: Path) -> None:
        """A contact sheet's row gives the sheet's size (not one tile's), and no instance (it holds many)."""
        batch = api.export(series_dir, tmp_path / "out", key=KEY, series=True, montage=True, format="png",
                           dataset="csv")
        assert batch.exit_code == 0, [r.reason for r in batch.results]
        rows = {r["path"]: r for r in _rows(tmp_path / "out")}
        sheets = [r for r in batch.results if len(r.notes) and r.frames > 1]
        assert sheets
        for result in sheets:
            (output,) = result.outputs
            height, width = np.asarray(Image.open(output)).shape[:2]
            row = rows[output.relative_to(tmp_path / "out").as_posix()]
            assert (int(row["rows"]), int(row["columns"])) == (height, width)
            assert row["instance_uid"] == "" and row["series_uid"]

    def test_deid_rows(self, series_dir: Path, tmp_path: Path) -> None:
        api.deidentify(series_dir, tmp_path / "out", key=KEY, dataset="csv")
        rows = _rows(tmp_path / "out")
        assert len(rows) == 5 and all(r["path"].endswith(".dcm") and r["rows"] == "64" for r in rows)

    def test_parquet(self, series_dir: Path, tmp_path: Path) -> None:
        """Parquet (pyarrow, in the test extra): the same rows as CSV; a re-run reads the table back
        (streamed) and keeps one row per output; verify reads it too."""
        pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow is in the test extra; pip install pyarrow")
        api.export(series_dir, tmp_path / "csv", key=KEY, dataset="csv")
        out = tmp_path / "out"
        api.export(series_dir, out, key=KEY, dataset="parquet")
        table = pq.read_table(out / "dataset.parquet")
        assert tuple(table.column_names) == DATASET_COLUMNS and table.num_rows == 5
        assert sorted(map(tuple, (r.values() for r in table.to_pylist()))) == sorted(
            map(tuple, (r.values() for r in _rows(tmp_path / "csv"))))
        api.export(series_dir, out, key=KEY, dataset="parquet", overwrite=True)  # every output redone
        assert pq.read_table(out / "dataset.parquet").num_rows == 5
        assert not [f for f in verify_paths([out]).findings if f.kind is Kind.DATASET_TABLE]

    def test_parquet_without_pyarrow_is_refused_before_writing(self, series_dir: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
        import sys

        for name in [m for m in sys.modules if m == "pyarrow" or m.startswith("pyarrow.")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.setitem(sys.modules, "pyarrow", None)  # what the import system does when it is absent
        with pytest.raises(MissingDependencyError, match="pip install pyarrow"):
            api.export(series_dir, tmp_path / "out", key=KEY, dataset="parquet")
        assert not (tmp_path / "out").exists()


class TestLetterbox:
    def test_clip(self, tmp_path: Path) -> None:
        """A clip letterboxed: every frame decoded back (ffmpeg) has the asked size, black bands, picture inside."""
        from dcmexport.encode import read_video_frames
        from dcmexport.encode.probe import probe_video
        from tests.samplegen import make_us_gray_cine

        write_dataset(make_us_gray_cine(rows=96, columns=128, frames=6), tmp_path / "in" / "cine.dcm")
        (result,) = api.export(tmp_path / "in", tmp_path / "out", key=KEY, size="320x320", format="mp4",
                               accept_burned_in=True, aspect=False).results
        assert result.status == "written", result.reason
        info = probe_video(result.outputs[0])
        assert (info.width, info.height, info.frames) == (320, 320, 6)
        box = letterbox_geometry(96, 128, 320, 320)
        for frame in read_video_frames(result.outputs[0]):
            grey = np.asarray(frame, dtype=np.int16)
            grey = grey.mean(axis=2) if grey.ndim == 3 else grey
            assert grey.shape == (320, 320)
            assert grey[: box.top - 2].max() <= 8 and grey[box.top + box.inner_rows + 2:].max() <= 8  # the bands
            assert grey[box.top + 2: box.top + box.inner_rows - 2].max() > 40  # the picture

    @pytest.mark.parametrize("rows, cols, width, height", [(40, 80, 64, 64), (80, 40, 64, 64), (64, 64, 100, 60)])
    def test_pixels(self, tmp_path: Path, rows: int, cols: int, width: int, height: int) -> None:
        ds = make_ct(rows=rows, columns=cols)
        write_dataset(ds, tmp_path / "in" / "a.dcm")
        batch = api.export(tmp_path / "in", tmp_path / "out", key=KEY, size=f"{width}x{height}", aspect=False)
        (result,) = batch.results
        image = np.asarray(Image.open(result.outputs[0]))
        assert image.shape[:2] == (height, width)
        box = letterbox_geometry(rows, cols, width, height)
        assert box.inner_rows == height or box.inner_cols == width
        inner = np.zeros(image.shape[:2], bool)
        inner[box.top:box.top + box.inner_rows, box.left:box.left + box.inner_cols] = True
        assert not image[~inner].any()  # black padding
        assert image[inner].any()
        # the image itself: the same rendering resized (no padding) matches the inner part
        plain = api.export(tmp_path / "in", tmp_path / "plain", key=KEY, aspect=False,
                           max_size=f"{box.inner_cols}x{box.inner_rows}" if box.inner_rows < rows else None)
        reference = np.asarray(Image.open(plain.results[0].outputs[0]))
        if reference.shape[:2] == (box.inner_rows, box.inner_cols):
            cut = image[box.top:box.top + box.inner_rows, box.left:box.left + box.inner_cols]
            assert np.abs(cut.astype(int) - reference.astype(int)).max() <= 1

    @pytest.mark.parametrize("kwargs, words", [
        ({"size": "64x64", "zoom": 2.0}, "--zoom"), ({"size": "64x64", "max_size": "32x32"}, "--max-size"),
        ({"size": "64x64", "max_side": 32}, "--max-side"), ({"size": "65x64", "format": "mp4"}, "even"),
        ({"size": "8x8"}, "16"), ({"size": "64"}, "WIDTHxHEIGHT"),
        ({"window": "40/80,80/200,600/2800", "bit_depth": 16}, "8-bit"),
        ({"window": "40/80,80/200"}, "three"), ({"window": "40/0,80/200,1/2"}, "width"),
        ({"window": "40/80,nosuchpreset,1/2"}, "preset"),
    ])
    def test_combinations_checked_at_the_boundary(self, tmp_path: Path, kwargs: dict[str, object],
                                                  words: str) -> None:
        with pytest.raises(UsageError, match=re.escape(words)):
            api.build_options(tmp_path, **kwargs)  # type: ignore[arg-type]

    def test_odd_size_fine_for_stills(self, tmp_path: Path) -> None:
        assert api.build_options(tmp_path, size="65x63", format="png").render.size == (65, 63)


class TestWindowStack:
    WINDOWS = ((40.0, 80.0), (80.0, 200.0), (600.0, 2800.0))

    def test_channels_match_an_independent_rendering(self, tmp_path: Path) -> None:
        source = Path(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
        text = ",".join(f"{c:g}/{w:g}" for c, w in self.WINDOWS)
        batch = api.export([source], tmp_path / "out", key=KEY, window=text, dataset="csv")
        (result,) = batch.results
        image = np.asarray(Image.open(result.outputs[0]))
        assert image.shape == (128, 128, 3) and image.dtype == np.uint8
        ds = pydicom.dcmread(source)
        hu = apply_modality_lut(ds.pixel_array, ds)
        for channel, (center, width) in enumerate(self.WINDOWS):
            ds.WindowCenter, ds.WindowWidth = center, width
            ds.VOILUTFunction = "LINEAR"
            shown = apply_voi_lut(hu, ds)  # pydicom: windowed into its own output range
            low, high = (float(apply_voi_lut(np.array([v], float), ds)[0]) for v in (-1e9, 1e9))
            expected = np.rint((shown - low) / (high - low) * 255)
            assert np.abs(image[..., channel].astype(int) - expected).max() <= 1, channel
        assert _rows(tmp_path / "out")[0]["window"] == text

    def test_presets_in_the_triple(self, tmp_path: Path) -> None:
        from dcmexport.windows import load_window_presets

        names = [n for n, p in load_window_presets().items() if p.applies_to("CT")][:3]
        if len(names) < 3:
            pytest.skip("fewer than three CT window presets")
        source = Path(get_testdata_file("CT_small.dcm"))  # type: ignore[arg-type]
        batch = api.export([source], tmp_path / "out", key=KEY, window=",".join(names))
        assert batch.results[0].status == "written"

    def test_colour_input_fails_that_object(self, tmp_path: Path) -> None:
        source = Path(get_testdata_file("SC_rgb.dcm"))  # type: ignore[arg-type]
        batch = api.export([source], tmp_path / "out", key=KEY, window="40/80,80/200,600/2800")
        (result,) = batch.results
        assert result.status == "failed" and "three windows" in (result.reason or "")
        assert "PhotometricInterpretation" in (result.reason or "")


def test_cli_refuses_a_blanked_field(tmp_path: Path) -> None:
    write_dataset(make_ct(), tmp_path / "in" / "a.dcm")
    run = CliRunner().invoke(app, ["export", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                                   "--layout", "{PatientName}/{InstanceNumber}"])
    assert run.exit_code == 2 and "PatientName" in run.output
    assert not (tmp_path / "out").exists()
    run = CliRunner().invoke(app, ["deid", str(tmp_path / "in"), "--out", str(tmp_path / "d"),
                                   "--layout", "{PatientID}/{InstanceNumber:04d}", "--dataset", "csv"])
    assert run.exit_code == 0, run.output
    assert len(_rows(tmp_path / "d")) == 1
