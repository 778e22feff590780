"""The review page's data: the manifest's entries, what each output file holds, and its thumbnails.

:func:`read_review_entries` reads the manifest through :mod:`dcmexport.audit.manifest`
and keeps the last record per output name; :func:`inspect_output` looks at one
file (existence, size, hash, pixel size, frames, thumbnails) and never raises for
a bad file; :func:`read_review_items` composes them.
"""

from __future__ import annotations

import base64
import enum
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dcmexport.audit.manifest import MANIFEST_NAME, ManifestContents, Rect, read_manifest
from dcmexport.encode.formats import FORMATS
from dcmexport.encode.still import read_still
from dcmexport.errors import DcmexportError, InputError
from dcmexport.paths import resolve_child
from dcmexport.read import sha256_file
from dcmexport.results import Status, TextHit

THUMB_MAX_SIDE = 320

#: Suffixes with a preview, from the format registry (encode/formats.py).
STILL_SUFFIXES = frozenset(s for spec in FORMATS.values() if not spec.clip for s in spec.suffixes)
CLIP_SUFFIXES = frozenset(s for spec in FORMATS.values() if spec.clip for s in spec.suffixes)


class OutputState(enum.StrEnum):
    """What the review found for one output file named by the manifest (shown on its card)."""

    PRESENT = "present"
    MISSING = "missing"
    UNREADABLE = "unreadable"
    NO_PREVIEW = "no-preview"
    OUTSIDE = "outside"


PRESENT, MISSING, UNREADABLE = OutputState.PRESENT, OutputState.MISSING, OutputState.UNREADABLE
NO_PREVIEW, OUTSIDE = OutputState.NO_PREVIEW, OutputState.OUTSIDE


@dataclass(frozen=True)
class ReviewEntry:
    """One output file named by the manifest, with what the (last) object record says about it.

    ``masks`` and ``keep`` are in output pixel coordinates ``(x0, y0, x1, y1)``,
    half-open like array slices. ``keep`` is ``None`` when no ultrasound region
    restriction applied; ``bad_rects`` counts entries that were not four numbers.
    """

    name: str
    status: Status
    reason: str | None = None
    notes: tuple[str, ...] = ()
    frames: int | None = None
    fps: float | None = None
    fps_source: str | None = None
    masks: tuple[Rect, ...] = ()
    keep: tuple[Rect, ...] | None = None
    bad_rects: int = 0
    text_boxes: tuple[Rect, ...] = ()
    text: dict[str, float] = field(default_factory=dict)
    text_hits: tuple[TextHit, ...] = ()


@dataclass(frozen=True)
class ManifestSummary:
    """The manifest's entries plus object counts by status and lines that could not be parsed."""

    entries: tuple[ReviewEntry, ...]
    object_counts: dict[Status, int]
    runs: int
    bad_lines: int


def summarize_manifest(contents: ManifestContents) -> ManifestSummary:
    """One entry per output name from a manifest's records, the last record winning.

    Object records that list ``outputs`` contribute entries (status ``written``,
    and ``skipped`` from a resumed run, which names the same complete files). A
    re-run appends records, so a later record replaces an earlier one for the
    same output name; if the later record carries no ``masks``/``keep`` keys at
    all (an older writer, or a skip), the earlier geometry is kept.

    :param contents: the records, as :func:`dcmexport.audit.manifest.read_manifest` returns them.
    :returns: the entries sorted by name, object counts by status (last record
        per input SHA-256), the number of run records and of unparsable lines.
    """
    by_name: dict[str, ReviewEntry] = {}
    by_input: dict[str, Status] = {}
    counts: dict[Status, int] = {}
    for record in contents.objects:
        if record.input_sha256:
            by_input[record.input_sha256] = record.status
        else:
            counts[record.status] = counts.get(record.status, 0) + 1
        if record.status not in (Status.WRITTEN, Status.SKIPPED):
            continue
        for name in record.outputs:
            previous = by_name.get(name)
            geometry = (record.masks, record.keep, record.bad_rects)
            if not record.has_geometry and previous is not None:
                geometry = (previous.masks, previous.keep, previous.bad_rects)
            by_name[name] = ReviewEntry(
                name=name,
                status=record.status,
                reason=record.reason,
                notes=record.notes,
                frames=record.frames,
                fps=record.fps,
                fps_source=record.fps_source,
                masks=geometry[0],
                keep=geometry[1],
                bad_rects=geometry[2],
                text_boxes=record.text_boxes,
                text=record.text,
                text_hits=record.text_hits,
            )
    for status in by_input.values():
        counts[status] = counts.get(status, 0) + 1
    entries = tuple(by_name[n] for n in sorted(by_name))
    return ManifestSummary(entries, counts, len(contents.runs), contents.bad_lines)


def read_review_entries(manifest_path: Path) -> ManifestSummary:
    """Read ``manifest.jsonl`` (through :mod:`dcmexport.audit.manifest`) into :func:`summarize_manifest`.

    A line that is not a record (for example the torn last line of a killed run)
    is counted and skipped.

    :param manifest_path: the ``manifest.jsonl`` file.
    :raises InputError: the manifest cannot be read.
    """
    return summarize_manifest(read_manifest(manifest_path))


def apply_display_range(array: np.ndarray) -> np.ndarray:
    """Map an output image's samples to 8 bits for display, as a viewer would show them.

    uint8 is returned as is. uint16 is mapped linearly ``0..65535 -> 0..255``
    (``round(v / 257)``): a 16-bit output already holds display values (the
    window was applied at export), so no contrast stretch is added that a
    viewer would not apply either. Any other dtype (float or int TIFFs written
    by other tools) is stretched from its minimum to its maximum.

    :param array: ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` samples.
    :returns: a uint8 array of the same shape.
    """
    if array.dtype == np.uint8:
        return array
    if array.dtype == np.uint16:
        return ((array.astype(np.uint32) + 128) // 257).astype(np.uint8)
    values = array.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(array.shape, np.uint8)
    lo, hi = float(values[finite].min()), float(values[finite].max())
    scaled = np.zeros(array.shape, np.float64) if hi <= lo else (values - lo) * (255.0 / (hi - lo))
    return np.clip(np.nan_to_num(scaled, nan=0.0), 0, 255).round().astype(np.uint8)


def thumbnail_size(width: int, height: int, max_side: int = THUMB_MAX_SIDE) -> tuple[int, int]:
    """The thumbnail size that keeps the aspect ratio with the long side at most ``max_side``.

    Never enlarges; never returns a zero side.
    """
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def encode_thumbnail(array: np.ndarray, max_side: int = THUMB_MAX_SIDE) -> tuple[str, int, int]:
    """Downscale one display image and return it as a PNG ``data:`` URI with its size.

    :param array: ``(H, W)`` grey or ``(H, W, 3|4)`` colour samples of any dtype
        (see :func:`apply_display_range`).
    :param max_side: the thumbnail's long side at most, in pixels.
    :returns: ``(data_uri, width, height)`` of the thumbnail.
    :raises ValueError: the array is not an image shape.
    """
    from PIL import Image

    image8 = apply_display_range(np.asarray(array))
    if image8.ndim == 3 and image8.shape[2] == 1:
        image8 = image8[:, :, 0]
    if image8.ndim == 2:
        img = Image.fromarray(np.ascontiguousarray(image8), "L")
    elif image8.ndim == 3 and image8.shape[2] in (3, 4):
        # Alpha is dropped: the review shows the pixels, and a transparent
        # region must not hide what is under it.
        img = Image.fromarray(np.ascontiguousarray(image8[:, :, :3]), "RGB")
    else:
        raise ValueError(f"not an image shape: {array.shape}")
    size = thumbnail_size(img.width, img.height, max_side)
    if size != (img.width, img.height):
        img = img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii"), img.width, img.height


@dataclass(frozen=True)
class Thumbnail:
    """One embedded preview: which frame it shows, the PNG data URI and its size."""

    label: str
    data_uri: str
    width: int
    height: int


@dataclass(frozen=True)
class ReviewItem:
    """One card: the manifest entry plus what the file itself holds."""

    entry: ReviewEntry
    state: OutputState
    kind: str
    width: int | None = None
    height: int | None = None
    file_size: int | None = None
    sha256: str | None = None
    frames: int | None = None
    fps: float | None = None
    codec: str | None = None
    thumbnails: tuple[Thumbnail, ...] = ()
    problem: str | None = None
    pages: int = 1
    extra: dict[str, str] = field(default_factory=dict)


def _clip_thumbnails(path: Path, max_side: int) -> tuple[tuple[Thumbnail, ...], Any, int]:
    """First, middle and last frame of a clip, decoded in one pass keeping only those three.

    The middle index comes from the packet count (one packet is one frame for
    the codecs dcmexport writes); in the rare case the decoder yields fewer
    frames than that, a second pass fetches the true middle.
    """
    from dcmexport.encode import probe_video, read_video_frames

    info = probe_video(path)
    middle_index = max(0, info.frames - 1) // 2
    first = middle = last = None
    decoded = 0
    for index, frame in enumerate(read_video_frames(path)):
        if index == 0:
            first = frame
        if index == middle_index:
            middle = frame
        last = frame
        decoded = index + 1
    if first is None or last is None:
        raise DcmexportError("the clip holds no decodable frame")
    if decoded != info.frames:
        wanted = (decoded - 1) // 2
        middle = next(f for i, f in enumerate(read_video_frames(path)) if i == wanted)
    assert middle is not None
    chosen = (
        [("first frame", first), ("middle frame", middle), ("last frame", last)]
        if decoded > 1
        else [("only frame", first)]
    )
    thumbs = []
    for label, frame in chosen:
        uri, tw, th = encode_thumbnail(frame, max_side)
        thumbs.append(Thumbnail(label, uri, tw, th))
    return tuple(thumbs), info, decoded


def inspect_output(out_dir: Path, entry: ReviewEntry, *, max_side: int = THUMB_MAX_SIDE) -> ReviewItem:
    """Look at one output file: existence, size, hash, pixel size, frames and thumbnails.

    Never raises for a bad file: a missing, unreadable or unsupported output
    becomes an item whose ``state`` says so, so one broken file cannot hide
    the others from review.

    :param out_dir: the output directory.
    :param entry: the manifest's entry for the file.
    :param max_side: thumbnails' long side at most, in pixels.
    :returns: the card's data.
    """
    suffix = Path(entry.name).suffix.lower()
    kind = "clip" if suffix in CLIP_SUFFIXES else "still" if suffix in STILL_SUFFIXES else "other"
    path = resolve_child(out_dir, entry.name)
    if path is None:
        return ReviewItem(
            entry, OUTSIDE, kind, problem="the name points outside the output directory; not read"
        )
    if not path.is_file():
        return ReviewItem(entry, MISSING, kind, problem="file not found in the output directory")
    try:
        file_size = path.stat().st_size
        sha = sha256_file(path)
    except OSError as exc:
        return ReviewItem(
            entry, UNREADABLE, kind, problem=f"cannot read the file ({exc.strerror or type(exc).__name__})"
        )
    except InputError as exc:  # sha256_file's own refusals (permission, not a regular file)
        return ReviewItem(entry, UNREADABLE, kind, problem=f"cannot read the file ({exc})")
    if kind == "other":
        return ReviewItem(
            entry, NO_PREVIEW, kind, file_size=file_size, sha256=sha,
            problem=f"no preview for {suffix or 'this'} files; check it with `dcmexport verify`",
        )  # fmt: skip
    try:
        if kind == "still":
            array, pages = read_still(path)
            uri, tw, th = encode_thumbnail(array, max_side)
            label = "image" if pages == 1 else f"page 1 of {pages}"
            return ReviewItem(
                entry, PRESENT, kind, width=int(array.shape[1]), height=int(array.shape[0]),
                file_size=file_size, sha256=sha, frames=1, thumbnails=(Thumbnail(label, uri, tw, th),), pages=pages,
                extra={"bit depth": f"{array.dtype.itemsize * 8}-bit {'colour' if array.ndim == 3 else 'grey'}"},
            )  # fmt: skip
        thumbs, info, decoded = _clip_thumbnails(path, max_side)
        return ReviewItem(
            entry, PRESENT, kind, width=info.width, height=info.height, file_size=file_size, sha256=sha,
            frames=decoded, fps=info.fps or None, codec=f"{info.codec} {info.pix_fmt}", thumbnails=thumbs,
        )  # fmt: skip
    except (DcmexportError, OSError, ValueError, SyntaxError) as exc:
        # Decoder messages can quote the full path; the card names the file already.
        return ReviewItem(
            entry, UNREADABLE, kind, file_size=file_size, sha256=sha,
            problem=f"the file could not be decoded for a preview ({type(exc).__name__}); open it yourself",
        )  # fmt: skip


def manifest_path_for(out_dir: Path) -> Path:
    """``out_dir/manifest.jsonl``, or an InputError saying to export first."""
    path = out_dir / MANIFEST_NAME
    if not path.is_file():
        raise InputError(
            f"{out_dir}: no {MANIFEST_NAME} in this folder; run `dcmexport export ... --out {out_dir}` first"
        )
    return path


def read_review_items(
    out_dir: Path, *, max_side: int = THUMB_MAX_SIDE
) -> tuple[ManifestSummary, list[ReviewItem]]:
    """Read the manifest of ``out_dir`` and inspect every output it names.

    :param out_dir: an output directory written by ``dcmexport export``.
    :param max_side: thumbnails' long side at most, in pixels.
    :returns: the manifest summary and one item per output name, sorted by name.
    :raises InputError: ``out_dir`` has no readable ``manifest.jsonl``.
    """
    summary = read_review_entries(manifest_path_for(out_dir))
    return summary, [inspect_output(out_dir, e, max_side=max_side) for e in summary.entries]
