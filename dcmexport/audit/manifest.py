"""The per-run audit trail: ``manifest.jsonl`` in the output directory (JSON Lines).

One ``run`` record (tool version, profile and options, whether the key was
ephemeral), then one ``object`` record per input: its SHA-256, status, output
names, frame and rate facts and counts of de-identification actions by kind.
Never a PHI value: input *paths* are not recorded either (a file name can carry
a patient's name); the SHA-256 identifies the input for the custodian.

A shard of a job array (``--shard I/N``) writes the same records to its own part,
``manifest.shard-I-of-N.jsonl``, plus a :class:`ShardRecord` after its run record and
another once all its objects are recorded; its object records carry a keyed
``input_id``. ``dcmexport merge`` appends the parts to ``manifest.jsonl``.

The schema is defined once, here: :class:`RunRecord`, :class:`ObjectRecord` and
:class:`ShardRecord` are written by :class:`Manifest` and read back by :func:`iter_manifest` /
:func:`read_manifest` (the review page and resuming read it through them).
Reading is tolerant: a line that is not a record of this schema (a torn last
line of a killed run, an unknown status) is counted, not trusted.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import json
import math
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from dcmexport.errors import InputError, UsageError
from dcmexport.results import TEXT_HIT_CATEGORIES, TEXT_HIT_STAGES, Status, TextHit

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.deid import Key
    from dcmexport.results import ExportResult

MANIFEST_NAME = "manifest.jsonl"
#: A shard's manifest part, ``manifest.shard-3-of-8.jsonl`` (``--shard 3/8``), until ``dcmexport merge``.
PART_PATTERN = re.compile(r"^manifest\.shard-(\d+)-of-(\d+)\.jsonl$")


def part_name(index: int, count: int) -> str:
    """The manifest part of shard ``index`` of ``count``."""
    return f"manifest.shard-{index}-of-{count}.jsonl"

#: A rectangle in output pixel coordinates ``(x0, y0, x1, y1)``, half-open like array slices.
Rect = tuple[float, float, float, float]


class KeyKind(enum.StrEnum):
    """How the run's pseudonymisation key was obtained (never the key itself)."""

    EPHEMERAL = "ephemeral"
    PROVIDED = "provided"


def jsonable(value: Any) -> Any:
    """Dataclasses, enums, paths and containers as plain JSON values (dicts keyed by field name).

    A field declared with ``metadata={"record": False}`` is left out (an input path that may name the patient).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("record", True)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- the schema


@dataclass(frozen=True)
class RunRecord:
    """The first record of each run: what ran, with which options (``options`` without ``out_dir``)."""

    command: str
    version: str
    started: str
    options: dict[str, Any]
    key: KeyKind | None  # None only when read from a record that does not say
    fingerprint: str | None = None
    tool: str = "dcmexport"

    def to_json(self) -> dict[str, Any]:
        """The record as written (one JSON object)."""
        return {
            "record": "run",
            "tool": self.tool,
            "command": self.command,
            "version": self.version,
            "started": self.started,
            "options": self.options,
            "key": None if self.key is None else self.key.value,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        """Read a ``run`` record; fields of the wrong type become empty ones (nothing here is trusted)."""
        options = data.get("options")
        key = data.get("key")
        known = {k.value for k in KeyKind}
        return cls(
            command=_text(data.get("command")) or "",
            version=_text(data.get("version")) or "",
            started=_text(data.get("started")) or "",
            options=options if isinstance(options, dict) else {},
            key=KeyKind(key) if isinstance(key, str) and key in known else None,
            fingerprint=data.get("fingerprint") if isinstance(data.get("fingerprint"), str) else None,
            tool=_text(data.get("tool")) or "",
        )


@dataclass(frozen=True)
class ObjectRecord:
    """One input object's record: PHI-free by construction (no input paths, no values).

    ``outputs`` names (relative to the output directory) the files this record vouches
    for: written, or found made under the same ``fingerprint``. A ``kept`` object's
    files, made under other options, are listed in ``kept`` so that no reader takes
    this run's masks and notes for theirs. ``masks`` and ``keep`` are rectangles in
    output pixels; ``keep`` is None when no ultrasound region restriction applied.
    ``text_boxes`` are the rectangles of ``masks`` that the OCR redaction (``--redact-text``)
    found, and ``text`` its findings: counts of words read, masked, kept, read again by the
    second pass, and OCR seconds (never a word: words may be PHI); ``text_hits`` where words
    were read (:class:`~dcmexport.results.TextHit`: stage, category, confidence, output-pixel
    box); all empty without it.

    Two fields describe a record as read, and are never written: ``has_geometry``
    (False when the record carried neither ``masks`` nor ``keep``, as an older writer's)
    and ``bad_rects`` (malformed rectangles dropped).
    """

    status: Status
    input_sha256: str | None = None
    error_kind: str | None = None
    reason: str | None = None
    outputs: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()
    fingerprint: str | None = None
    frames: int | None = None
    fps: float | None = None
    fps_source: str | None = None
    notes: tuple[str, ...] = ()
    actions: dict[str, int] = field(default_factory=dict)
    masks: tuple[Rect, ...] = ()
    keep: tuple[Rect, ...] | None = None
    seconds: float = 0.0
    text_boxes: tuple[Rect, ...] = ()
    text: dict[str, float] = field(default_factory=dict)
    text_hits: tuple[TextHit, ...] = ()
    #: a shard's keyed digest of the input's identity (never its path); written only when set
    input_id: str | None = None
    has_geometry: bool = True
    bad_rects: int = 0

    @classmethod
    def from_result(cls, result: ExportResult, *, out_dir: Path, fingerprint: str | None,
                    input_id: str | None = None) -> ObjectRecord:
        """The record of one result; ``fingerprint`` is kept only when the record vouches for outputs."""

        def names(paths: list[Path]) -> tuple[str, ...]:
            return tuple(p.name if p.parent == out_dir else str(p.relative_to(out_dir)) for p in paths)

        return cls(
            status=Status(result.status),
            input_sha256=result.input_sha256,
            error_kind=result.error_kind,
            reason=result.reason,
            outputs=names(result.outputs),
            kept=names(result.kept_outputs),
            fingerprint=fingerprint if result.outputs else None,
            frames=result.frames,
            fps=result.fps,
            fps_source=result.fps_source,
            notes=tuple(result.notes),
            actions=dict(result.action_counts),
            masks=tuple(tuple(b) for b in result.mask_boxes),  # type: ignore[misc]
            keep=None if result.keep_boxes is None else tuple(tuple(b) for b in result.keep_boxes),  # type: ignore[misc]
            seconds=round(result.seconds, 3),
            text_boxes=tuple(tuple(b) for b in result.text_boxes),  # type: ignore[misc]
            text=dict(result.text_findings),
            text_hits=tuple(result.text_hits),
            input_id=input_id,
        )

    def to_json(self) -> dict[str, Any]:
        """The record as written (one JSON object)."""
        shard = {} if self.input_id is None else {"input_id": self.input_id}
        return {
            **shard,
            "record": "object",
            "input_sha256": self.input_sha256,
            "status": self.status.value,
            "error_kind": self.error_kind,
            "reason": self.reason,
            "outputs": list(self.outputs),
            "kept": list(self.kept),
            "fingerprint": self.fingerprint,
            "frames": self.frames,
            "fps": self.fps,
            "fps_source": self.fps_source,
            "notes": list(self.notes),
            "actions": self.actions,
            "masks": [list(b) for b in self.masks],
            "keep": None if self.keep is None else [list(b) for b in self.keep],
            "seconds": self.seconds,
            **({"text_boxes": [list(b) for b in self.text_boxes], "text": self.text,
                "text_hits": [{"stage": h.stage, "category": h.category, "confidence": h.confidence,
                               "box": list(h.box)} for h in self.text_hits]} if self.text else {}),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ObjectRecord | None:
        """Read an ``object`` record, or None when its status is not a :class:`Status`.

        Fields of the wrong type become empty ones; rectangles that are not four finite
        numbers with ``x1 > x0`` and ``y1 > y0`` are dropped and counted in ``bad_rects``.
        """
        raw_status = data.get("status")
        if not isinstance(raw_status, str) or raw_status not in {s.value for s in Status}:
            return None
        status = Status(raw_status)
        masks, bad_masks = _rects(data.get("masks"))
        text_boxes, bad_text = _rects(data.get("text_boxes"))
        text_hits, bad_hits = _text_hits(data.get("text_hits"))
        text = data.get("text")
        keep_raw = data.get("keep")
        keep, bad_keep = _rects(keep_raw)
        notes = data.get("notes") or []
        frames, fps, seconds = data.get("frames"), data.get("fps"), data.get("seconds")
        actions = data.get("actions")
        sha = data.get("input_sha256")
        return cls(
            status=status,
            input_sha256=sha if isinstance(sha, str) and sha else None,
            error_kind=_text(data.get("error_kind")),
            reason=_text(data.get("reason")),
            outputs=_names(data.get("outputs")),
            kept=_names(data.get("kept")),
            fingerprint=data.get("fingerprint") if isinstance(data.get("fingerprint"), str) else None,
            frames=frames if isinstance(frames, int) and not isinstance(frames, bool) else None,
            fps=_number(fps),
            fps_source=_text(data.get("fps_source")),
            notes=tuple(str(n) for n in notes) if isinstance(notes, list) else (str(notes),),
            actions={str(k): v for k, v in actions.items() if isinstance(v, int)} if isinstance(actions, dict) else {},
            masks=masks,
            keep=None if keep_raw is None else keep,
            seconds=_number(seconds) or 0.0,
            text_boxes=text_boxes,
            text_hits=text_hits,
            text={str(k): float(v) for k, v in text.items() if _is_number(v)} if isinstance(text, dict) else {},
            input_id=data.get("input_id") if isinstance(data.get("input_id"), str) else None,
            has_geometry="masks" in data or "keep" in data,
            bad_rects=bad_masks + bad_keep + bad_text + bad_hits,
        )


@dataclass(frozen=True)
class ShardRecord:
    """A shard's run: ``start`` (right after its run record) and ``end`` (all its objects recorded).

    ``inputs`` (start) is a keyed digest of the input arguments, which every shard of a
    job must share; ``objects`` (end) counts the run's object records.
    """

    event: str  # "start" or "end"
    index: int
    count: int
    inputs: str | None = None
    objects: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The record as written (one JSON object)."""
        extra = {"inputs": self.inputs} if self.event == "start" else {"objects": self.objects}
        return {"record": "shard", "event": self.event, "index": self.index, "count": self.count, **extra}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ShardRecord | None:
        """Read a ``shard`` record, or None when its event, index or count make no sense."""
        event, index, count = data.get("event"), data.get("index"), data.get("count")
        if event not in ("start", "end") or not all(isinstance(v, int) and not isinstance(v, bool)
                                                      for v in (index, count)):
            return None
        inputs, objects = data.get("inputs"), data.get("objects")
        return cls(str(event), int(index), int(count), inputs if isinstance(inputs, str) else None,  # type: ignore[arg-type]
                   objects if isinstance(objects, int) and not isinstance(objects, bool) else None)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _number(value: Any) -> float | None:
    return float(value) if _is_number(value) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _names(value: Any) -> tuple[str, ...]:
    """Output names from a record; anything but a non-empty string is dropped."""
    if not isinstance(value, list):
        return ()
    return tuple(name for name in value if isinstance(name, str) and name)


def _rects(value: Any) -> tuple[tuple[Rect, ...], int]:
    """Rectangles from a record's list; malformed entries are counted, not trusted."""
    if not isinstance(value, list):
        return (), 0 if value is None else 1
    rects: list[Rect] = []
    bad = 0
    for item in value:
        if (
            isinstance(item, list | tuple)
            and len(item) == 4
            and all(_is_number(v) and math.isfinite(v) for v in item)
            and item[2] > item[0]
            and item[3] > item[1]
        ):
            rects.append((float(item[0]), float(item[1]), float(item[2]), float(item[3])))
        else:
            bad += 1
    return tuple(rects), bad


def _text_hits(value: Any) -> tuple[tuple[TextHit, ...], int]:
    """OCR places from a record's list: a known stage and category, a confidence, a rectangle."""
    if not isinstance(value, list):
        return (), 0 if value is None else 1
    hits: list[TextHit] = []
    bad = 0
    for item in value:
        rects, wrong = _rects([item.get("box")]) if isinstance(item, dict) else ((), 1)
        if (wrong or not rects or not isinstance(item, dict) or item.get("stage") not in TEXT_HIT_STAGES
                or item.get("category") not in TEXT_HIT_CATEGORIES or not _is_number(item.get("confidence"))):
            bad += 1
            continue
        hits.append(TextHit(str(item["stage"]), str(item["category"]), float(item["confidence"]), rects[0]))
    return tuple(hits), bad


# --------------------------------------------------------------------------- writing


class Manifest:
    """Append-only JSON Lines writer; each line is flushed as it is written, fsynced at close."""

    def __init__(self, path: Path, fingerprint: str | None = None) -> None:
        self.path = path
        self.fingerprint = fingerprint
        try:  # O_NOFOLLOW: a symlink planted at manifest.jsonl must not redirect the audit trail
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        except OSError as exc:
            raise UsageError(
                f"{path.name} in --out cannot be opened ({exc.strerror}); if it is a symlink, remove it"
            ) from None
        self._fh = os.fdopen(fd, "a", encoding="utf-8")

    @classmethod
    def open(cls, out_dir: Path, *, tool_version: str, options: Any, key: Key, command: str = "export",
             fingerprint: str | None = None, name: str = MANIFEST_NAME) -> Manifest:
        """Open ``out_dir/manifest.jsonl`` and write the run record.

        Args:
            out_dir: the output directory.
            tool_version: dcmexport's version.
            options: the run's options (a dataclass; the output directory itself is omitted).
            key: only whether it is ephemeral is recorded, never the key.
            command: ``export`` or ``deid``.
            fingerprint: the outputs' fingerprint (:mod:`dcmexport.pipeline.resume`), recorded per object.
            name: the file in ``out_dir`` (a shard writes its own part, :mod:`dcmexport.pipeline.shards`).
        """
        manifest = cls(out_dir / name, fingerprint)
        opts = jsonable(options)
        if isinstance(opts, dict):
            opts.pop("out_dir", None)
        run = RunRecord(
            command=command,
            version=tool_version,
            started=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            options=opts if isinstance(opts, dict) else {},
            key=KeyKind.EPHEMERAL if key.ephemeral else KeyKind.PROVIDED,
            fingerprint=fingerprint,
        )
        manifest._write(run.to_json())
        return manifest

    def record(self, result: ExportResult, *, out_dir: Path, input_id: str | None = None) -> None:
        """Append one object record (see :class:`ObjectRecord`)."""
        self._write(ObjectRecord.from_result(result, out_dir=out_dir, fingerprint=result.fingerprint or self.fingerprint,
                                             input_id=input_id).to_json())

    def record_shard(self, record: ShardRecord) -> None:
        """Append a shard's start or end record."""
        self._write(record.to_json())

    def _write(self, record: dict[str, Any]) -> None:
        # Flushed per line (a crash keeps what the OS has); fsynced once at close. Outputs
        # themselves are fsynced before their rename, and resuming trusts outputs, not this file.
        self._fh.write(json.dumps(record, sort_keys=True) + "\n")
        self._fh.flush()

    def close(self) -> None:
        """Flush, fsync and close the file (idempotent)."""
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# --------------------------------------------------------------------------- reading


def parse_line(line: str) -> RunRecord | ObjectRecord | ShardRecord | None:
    """One manifest line as a record; None for a line that is not a record of this schema."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    kind = data.get("record")
    if kind == "run":
        return RunRecord.from_json(data)
    if kind == "object":
        return ObjectRecord.from_json(data)
    if kind == "shard":
        return ShardRecord.from_json(data)
    return None


def iter_manifest(path: Path) -> Iterator[RunRecord | ObjectRecord | ShardRecord | None]:
    """Yield the records of a manifest file in order (None for each line that is not a record; blank lines skipped).

    Read line by line: memory does not grow with the number of records.

    Raises:
        OSError: the file cannot be opened or read.
    """
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.strip():
                yield parse_line(line)


@dataclass(frozen=True)
class ManifestContents:
    """Every record of a manifest, in order, and the number of lines that were not records."""

    runs: tuple[RunRecord, ...]
    objects: tuple[ObjectRecord, ...]
    bad_lines: int


def read_manifest(path: Path) -> ManifestContents:
    """Read a whole ``manifest.jsonl``.

    Args:
        path: the manifest file.

    Returns:
        Its run and object records and the count of lines that were not records.

    Raises:
        InputError: the manifest cannot be read (the message names the file only).
    """
    runs: list[RunRecord] = []
    objects: list[ObjectRecord] = []
    bad = 0
    try:
        for record in iter_manifest(path):
            if isinstance(record, RunRecord):
                runs.append(record)
            elif isinstance(record, ObjectRecord):
                objects.append(record)
            elif isinstance(record, ShardRecord):
                continue  # read by dcmexport merge (dcmexport.audit.merge)
            else:
                bad += 1
    except OSError as exc:
        raise InputError(f"{path.name}: cannot read the manifest ({exc.strerror or exc})") from exc
    return ManifestContents(tuple(runs), tuple(objects), bad)


def read_output_fingerprints(out_dir: Path, name: str = MANIFEST_NAME) -> dict[str, str]:
    """Map each output name in ``out_dir``'s manifest to the fingerprint of the last record vouching for it.

    Records without a fingerprint (older versions) vouch for nothing, so their
    outputs are redone. Unparsable lines are ignored: resuming then redoes more,
    never less. A missing manifest gives an empty map.
    """
    fingerprints: dict[str, str] = {}
    try:
        for record in iter_manifest(out_dir / name):
            if isinstance(record, ObjectRecord):
                _vouch(record, fingerprints)
    except OSError:
        return {}
    return fingerprints


def _vouch(record: ObjectRecord, fingerprints: dict[str, str]) -> None:
    """Apply one object record to the name -> fingerprint map (the last record for a name wins)."""
    # Interned: the map holds one string per distinct fingerprint, not one per output name.
    fingerprint = sys.intern(record.fingerprint) if record.fingerprint is not None else None
    for name in record.outputs:
        if fingerprint is not None:
            fingerprints[name] = fingerprint
        else:
            fingerprints.pop(name, None)
