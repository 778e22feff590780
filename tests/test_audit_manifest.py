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
from dcmexport.results import ExportResult, Status


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
