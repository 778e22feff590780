"""dcmexport.audit.manifest: one schema, written and read by the same module."""

from __future__ import annotations

import json
from pathlib import Path

from dcmexport.audit.manifest import (
    MANIFEST_NAME,
    KeyKind,
    Manifest,
    ObjectRecord,
    RunRecord,
    parse_line,
    read_manifest,
    read_output_fingerprints,
)
from dcmexport.deid import Key
from dcmexport.results import ExportResult, Status, TextHit


def _result(out: Path, **extra: object) -> ExportResult:
    result = ExportResult(source=Path("/in/secret-name.dcm"), status=Status.WRITTEN, outputs=[out / "a.png",
                          out / "sub" / "b.png"], frames=3, fps=12.5, fps_source="FrameTime", notes=["n"],
                          action_counts={"X": 4}, input_sha256="a" * 64, seconds=0.12345,
                          mask_boxes=[(0, 0, 10, 5)], keep_boxes=[(1, 2, 3, 4)])
    for name, value in extra.items():
        setattr(result, name, value)
    return result


class TestRoundTrip:
    def test_what_is_written_reads_back_equal(self, tmp_path: Path) -> None:
        result = _result(tmp_path)
        with Manifest.open(tmp_path, tool_version="9.9", options={"x": 1}, key=Key(b"k" * 32),
                           fingerprint="f" * 32) as manifest:
            manifest.record(result, out_dir=tmp_path)
        contents = read_manifest(tmp_path / MANIFEST_NAME)
        (run,) = contents.runs
        assert (run.command, run.version, run.key, run.fingerprint, run.options) == (
            "export", "9.9", KeyKind.PROVIDED, "f" * 32, {"x": 1})
        (record,) = contents.objects
        assert record == ObjectRecord.from_result(result, out_dir=tmp_path, fingerprint="f" * 32)
        assert record.status is Status.WRITTEN and record.outputs == ("a.png", "sub/b.png")
        assert record.masks == ((0.0, 0.0, 10.0, 5.0),) and record.keep == ((1.0, 2.0, 3.0, 4.0),)
        assert contents.bad_lines == 0
        assert "secret-name" not in (tmp_path / MANIFEST_NAME).read_text()  # input paths are never recorded

    def test_the_written_keys(self, tmp_path: Path) -> None:
        record = ObjectRecord.from_result(_result(tmp_path), out_dir=tmp_path, fingerprint=None)
        assert sorted(record.to_json()) == sorted(
            ["record", "input_sha256", "status", "error_kind", "reason", "outputs", "kept", "fingerprint", "frames",
             "fps", "fps_source", "notes", "actions", "masks", "keep", "seconds"])
        run = RunRecord("deid", "1", "2026-01-01T00:00:00+00:00", {}, KeyKind.EPHEMERAL)
        assert RunRecord.from_json(json.loads(json.dumps(run.to_json()))) == run


    def test_ocr_text_boxes_findings_and_places_read_back_equal(self, tmp_path: Path) -> None:
        hits = [TextHit("detect", "name", 91.5, (4, 2, 40, 12)), TextHit("detect", "kept", 88.0, (50, 2, 60, 12)),
                TextHit("check", "inside", 55.0, (5, 3, 20, 11))]
        result = _result(tmp_path, text_boxes=[(0, 0, 44, 16)], text_findings={"words": 2.0, "masked": 1.0},
                         text_hits=hits)
        with Manifest.open(tmp_path, tool_version="9.9", options={}, key=Key(b"k" * 32)) as manifest:
            manifest.record(result, out_dir=tmp_path)
        (record,) = read_manifest(tmp_path / MANIFEST_NAME).objects
        assert record == ObjectRecord.from_result(result, out_dir=tmp_path, fingerprint=None)
        assert record.text_hits == tuple(hits) and record.text_boxes == ((0.0, 0.0, 44.0, 16.0),)
        written = json.loads((tmp_path / MANIFEST_NAME).read_text().splitlines()[-1])
        assert written["text_hits"][0] == {"stage": "detect", "category": "name", "confidence": 91.5,
                                           "box": [4, 2, 40, 12]}

    def test_malformed_ocr_places_are_dropped_and_counted(self) -> None:
        good = {"stage": "check", "category": "date", "confidence": 70, "box": [0, 0, 5, 5]}
        record = parse_line(json.dumps({"record": "object", "status": "written", "text": {"words": 1},
                                        "text_hits": [good, {**good, "category": "JOHNSON"}, {**good, "box": [1]},
                                                      {**good, "stage": "x"}, {**good, "confidence": "high"}, 7]}))
        assert isinstance(record, ObjectRecord)
        assert record.text_hits == (TextHit("check", "date", 70.0, (0.0, 0.0, 5.0, 5.0)),)
        assert record.bad_rects == 5


class TestTolerantReading:
    def test_lines_outside_the_schema_are_not_records(self) -> None:
        assert parse_line('{"record": "object", "status": "wri') is None  # torn line
        assert parse_line('{"record": "object", "status": "exploded"}') is None  # not a Status
        assert parse_line('["record"]') is None
        assert parse_line('{"record": "other"}') is None

    def test_wrong_types_become_empty_fields(self) -> None:
        record = parse_line(json.dumps({"record": "object", "status": "skipped", "outputs": ["x.png", 3, ""],
                                        "frames": True, "fps": "12", "notes": "one", "keep": [[0, 0, 1]]}))
        assert isinstance(record, ObjectRecord)
        assert record.status is Status.SKIPPED and record.outputs == ("x.png",)
        assert record.frames is None and record.fps is None and record.notes == ("one",)
        assert record.keep == () and record.bad_rects == 1 and record.has_geometry

    def test_fingerprints_last_record_wins(self, tmp_path: Path) -> None:
        lines = [
            {"record": "object", "status": "written", "outputs": ["a.png", "b.png"], "fingerprint": "1"},
            {"record": "object", "status": "written", "outputs": ["a.png"], "fingerprint": "2"},
            {"record": "object", "status": "written", "outputs": ["b.png"], "fingerprint": None},
        ]
        (tmp_path / MANIFEST_NAME).write_text("".join(json.dumps(r) + "\n" for r in lines) + "torn{")
        assert read_output_fingerprints(tmp_path) == {"a.png": "2"}
        assert read_output_fingerprints(tmp_path / "missing") == {}
