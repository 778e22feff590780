"""The review page: one self-contained ``review.html`` for the visual PHI check before sharing.

Reads ``manifest.jsonl`` in an output directory and writes one card per output
file: thumbnails (first, middle and last frame for clips) with the masked
rectangles and the kept ultrasound regions outlined, the file's facts, and a
"reviewed: no PHI visible" check box. The page needs nothing but itself: images
are ``data:`` URIs, CSS and JS are inline, and a Content-Security-Policy forbids
every fetch, so a mistake that referenced something external would fail in
the browser (and show as a console error) instead of leaking a request.

Everything written into the page is HTML-escaped. The manifest is PHI-free by
construction (output names, statuses, notes), and the output directory's own
path is deliberately left out: the page lives in the folder that is shared.

Layout: :func:`read_review_entries` parses the manifest (pure I/O on text),
:func:`read_review_items` inspects the files and makes thumbnails,
:func:`render_review_html` turns items into HTML (pure), and
:func:`build_review_html` / :func:`write_review` compose them.
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import html
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dcmexport.errors import DcmexportError, InputError

REVIEW_NAME = "review.html"
THUMB_MAX_SIDE = 320
#: thumbnails smaller than this (long side, px) are displayed enlarged by a whole factor
THUMB_MIN_DISPLAY = 160

STILL_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
CLIP_SUFFIXES = frozenset({".mp4", ".webm", ".gif"})

# Output states shown on a card.
PRESENT = "present"
MISSING = "missing"
UNREADABLE = "unreadable"
NO_PREVIEW = "no-preview"
OUTSIDE = "outside"

Rect = tuple[float, float, float, float]


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class ReviewEntry:
    """One output file named by the manifest, with what the (last) object record says about it.

    ``masks`` and ``keep`` are in output pixel coordinates ``(x0, y0, x1, y1)``,
    half-open like array slices. ``keep`` is ``None`` when no ultrasound region
    restriction applied; ``bad_rects`` counts entries that were not four numbers.
    """

    name: str
    status: str
    reason: str | None = None
    notes: tuple[str, ...] = ()
    frames: int | None = None
    fps: float | None = None
    fps_source: str | None = None
    masks: tuple[Rect, ...] = ()
    keep: tuple[Rect, ...] | None = None
    bad_rects: int = 0


@dataclass(frozen=True)
class ManifestSummary:
    """The manifest's entries plus object counts by status and lines that could not be parsed."""

    entries: tuple[ReviewEntry, ...]
    object_counts: dict[str, int]
    runs: int
    bad_lines: int


def _parse_rects(value: Any) -> tuple[tuple[Rect, ...], int]:
    """Rectangles from a manifest list; malformed entries are counted, not trusted."""
    rects: list[Rect] = []
    bad = 0
    if not isinstance(value, list):
        return (), 0 if value is None else 1
    for item in value:
        if (
            isinstance(item, list | tuple)
            and len(item) == 4
            and all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in item)
            and item[2] > item[0]
            and item[3] > item[1]
        ):
            rects.append((float(item[0]), float(item[1]), float(item[2]), float(item[3])))
        else:
            bad += 1
    return tuple(rects), bad


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def read_review_entries(manifest_path: Path) -> ManifestSummary:
    """Parse ``manifest.jsonl`` into one entry per output name, the last record winning.

    Object records that list ``outputs`` contribute entries (status ``written``,
    and ``skipped`` from a resumed run, which names the same complete files). A
    re-run appends records, so a later record replaces an earlier one for the
    same output name; if the later record carries no ``masks``/``keep`` keys at
    all (an older writer, or a skip), the earlier geometry is kept. A line that
    is not JSON (for example the torn last line of a killed run) is counted and
    skipped.

    :param manifest_path: the ``manifest.jsonl`` file.
    :returns: the entries sorted by name, object counts by status (last record
        per input SHA-256), the number of run records and of unparsable lines.
    :raises InputError: the manifest cannot be read.
    """
    try:
        text = manifest_path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"{manifest_path.name}: cannot read the manifest ({exc.strerror or exc})") from exc
    by_name: dict[str, ReviewEntry] = {}
    by_input: dict[str, str] = {}
    anonymous_counts: dict[str, int] = {}
    runs = bad_lines = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            bad_lines += 1
            continue
        if not isinstance(record, dict):
            bad_lines += 1
            continue
        kind = record.get("record")
        if kind == "run":
            runs += 1
            continue
        if kind != "object":
            continue
        status = str(record.get("status") or "unknown")
        sha = record.get("input_sha256")
        if isinstance(sha, str) and sha:
            by_input[sha] = status
        else:
            anonymous_counts[status] = anonymous_counts.get(status, 0) + 1
        outputs = record.get("outputs") or []
        if not isinstance(outputs, list) or status not in ("written", "skipped"):
            continue
        has_geometry = "masks" in record or "keep" in record
        masks, bad_masks = _parse_rects(record.get("masks"))
        keep_raw = record.get("keep")
        keep_rects, bad_keep = _parse_rects(keep_raw)
        keep = None if keep_raw is None else keep_rects
        notes = record.get("notes") or []
        frames = record.get("frames")
        fps = record.get("fps")
        for name in outputs:
            if not isinstance(name, str) or not name:
                continue
            previous = by_name.get(name)
            geometry = (masks, keep, bad_masks + bad_keep)
            if not has_geometry and previous is not None:
                geometry = (previous.masks, previous.keep, previous.bad_rects)
            by_name[name] = ReviewEntry(
                name=name,
                status=status,
                reason=_opt_str(record.get("reason")),
                notes=tuple(str(n) for n in notes) if isinstance(notes, list) else (str(notes),),
                frames=frames if isinstance(frames, int) and not isinstance(frames, bool) else None,
                fps=float(fps) if isinstance(fps, int | float) and not isinstance(fps, bool) else None,
                fps_source=_opt_str(record.get("fps_source")),
                masks=geometry[0],
                keep=geometry[1],
                bad_rects=geometry[2],
            )
    counts = dict(anonymous_counts)
    for status in by_input.values():
        counts[status] = counts.get(status, 0) + 1
    entries = tuple(by_name[n] for n in sorted(by_name))
    return ManifestSummary(entries, counts, runs, bad_lines)


# --------------------------------------------------------------------------- pixels


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


def _read_still(path: Path) -> tuple[np.ndarray, int]:
    """The first image of a still file and its page count (TIFFs may hold several)."""
    if path.suffix.lower() in (".tif", ".tiff"):
        # tifffile, not Pillow: it reads every sample format we write (16-bit
        # grey deflate) and those other tools write (float, multi-page).
        import tifffile

        with tifffile.TiffFile(path) as tif:
            return tif.pages[0].asarray(), len(tif.pages)
    from PIL import Image

    with Image.open(path) as img:
        img.load()
        pages = getattr(img, "n_frames", 1)
        if img.mode in ("I;16", "I;16B", "I;16L"):
            return np.asarray(img, dtype=np.uint16), pages
        if img.mode == "I":
            # Older Pillow opens 16-bit grey PNGs as 32-bit "I" holding 0..65535.
            arr = np.asarray(img)
            in_range = arr.size and arr.min() >= 0 and arr.max() <= 65535
            return (arr.astype(np.uint16) if in_range else arr), pages
        if img.mode in ("L", "RGB", "RGBA"):
            return np.asarray(img), pages
        has_alpha = "A" in img.getbands() or "transparency" in img.info
        return np.asarray(img.convert("RGBA" if has_alpha else "RGB")), pages


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
    state: str
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


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


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


def _inside(out_dir: Path, name: str) -> Path | None:
    """The output's path if it resolves inside ``out_dir`` (no ``..``, absolute names or escaping links)."""
    candidate = out_dir / name
    try:
        candidate.resolve().relative_to(out_dir.resolve())
    except ValueError:
        return None
    return candidate


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
    path = _inside(out_dir, entry.name)
    if path is None:
        return ReviewItem(
            entry, OUTSIDE, kind, problem="the name points outside the output directory; not read"
        )
    if not path.is_file():
        return ReviewItem(entry, MISSING, kind, problem="file not found in the output directory")
    try:
        file_size = path.stat().st_size
        sha = _sha256(path)
    except OSError as exc:
        return ReviewItem(
            entry, UNREADABLE, kind, problem=f"cannot read the file ({exc.strerror or type(exc).__name__})"
        )
    if kind == "other":
        return ReviewItem(
            entry, NO_PREVIEW, kind, file_size=file_size, sha256=sha,
            problem=f"no preview for {suffix or 'this'} files; check it with `dcmexport verify`",
        )  # fmt: skip
    try:
        if kind == "still":
            array, pages = _read_still(path)
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
    from dcmexport.manifest import MANIFEST_NAME

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


# --------------------------------------------------------------------------- HTML

_CSS = """
:root{--mask:#ff1f8f;--keep:#12c26b;--ink:#1d2330;--muted:#5b6475;--bg:#f3f4f7;--card:#fff;--line:#d9dce3}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:var(--bg)}
header{position:sticky;top:0;z-index:2;background:#1d2330;color:#fff;padding:10px 20px;display:flex;flex-wrap:wrap;gap:8px 24px;align-items:center}
header h1{font-size:17px;margin:0;font-weight:600}
#counter{font-weight:700;font-variant-numeric:tabular-nums}
body.all-done #counter{color:#7dffb5}
header button{font:inherit;padding:4px 12px;border-radius:4px;border:1px solid #8b93a5;background:#2d3547;color:#fff;cursor:pointer}
header button:hover{background:#3b455c}
.legend{display:flex;gap:14px;font-size:13px}
.sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:-1px;border:2px solid}
.sw.mask{border-color:var(--mask)}.sw.keep{border-color:var(--keep);border-style:dashed}
.summary{padding:10px 20px;color:var(--muted)}
.summary strong{color:var(--ink)}
.summary .warn{color:#a4161a;font-weight:600}
main{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px;padding:0 20px 30px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px;display:flex;flex-direction:column;gap:8px}
/* a clip's three frames side by side: the card takes a whole row */
.card.clip{grid-column:1/-1}
.card.checked{border-color:var(--keep);box-shadow:0 0 0 2px var(--keep) inset}
.card.missing,.card.unreadable,.card.outside{border-color:#e5a0a0;background:#fff6f6}
.card h2{font-size:14px;margin:0;word-break:break-all}
.badge{display:inline-block;font-size:11px;font-weight:700;text-transform:uppercase;letter-spacing:.04em;padding:1px 6px;border-radius:3px;background:#e6e8ee;color:var(--muted);margin-left:6px}
.badge.missing,.badge.unreadable,.badge.outside{background:#a4161a;color:#fff}
.thumbs{display:flex;flex-wrap:wrap;gap:6px}
figure{margin:0}
figcaption{font-size:11px;color:var(--muted)}
.frame{position:relative;display:inline-block;line-height:0;background:#000}
.frame img{display:block;max-width:100%;height:auto}
.frame img.enlarged{image-rendering:pixelated}
.frame svg{position:absolute;left:0;top:0;width:100%;height:100%;overflow:hidden;pointer-events:none}
.frame rect.mask{fill:var(--mask);fill-opacity:.12;stroke:var(--mask);stroke-width:2}
.frame rect.keep{fill:none;stroke:var(--keep);stroke-width:2;stroke-dasharray:6 3}
dl{display:grid;grid-template-columns:max-content 1fr;gap:1px 10px;margin:0;font-size:12.5px}
dt{color:var(--muted)}dd{margin:0;word-break:break-word}
.problem{color:#a4161a;font-weight:600;margin:0}
label.check{display:flex;gap:8px;align-items:center;font-weight:600;padding-top:4px;border-top:1px solid var(--line);cursor:pointer}
label.check input{width:18px;height:18px}
label.check.disabled{color:var(--muted);font-weight:400;cursor:default}
#selftest{display:none}
"""

_JS = r"""
(function () {
  "use strict";
  var selftest = window.location.hash === "#selftest";
  var boxes = Array.prototype.slice.call(document.querySelectorAll("input.reviewed"));
  var counter = document.getElementById("counter");
  var prefix = "dcmexport-review:";

  function storage() {
    // file:// pages may have no usable storage (private windows, strict
    // settings): the page works without it, the state just is not remembered.
    try {
      var s = window.localStorage;
      var probe = prefix + "probe";
      s.setItem(probe, "1");
      s.removeItem(probe);
      return s;
    } catch (e) {
      return null;
    }
  }
  var store = selftest ? null : storage();

  function cardOf(box) {
    var node = box;
    while (node && !(node.classList && node.classList.contains("card"))) { node = node.parentNode; }
    return node;
  }

  function update() {
    var done = 0;
    boxes.forEach(function (box) {
      if (box.checked) { done += 1; }
      var card = cardOf(box);
      if (card) { card.classList.toggle("checked", box.checked); }
    });
    counter.textContent = done + " / " + boxes.length;
    document.body.classList.toggle("all-done", boxes.length > 0 && done === boxes.length);
    return done;
  }

  function state() {
    var files = Array.prototype.slice.call(document.querySelectorAll(".card")).map(function (card) {
      var box = card.querySelector("input.reviewed");
      return {
        name: card.getAttribute("data-name"),
        sha256: card.getAttribute("data-sha256") || null,
        state: card.getAttribute("data-state"),
        reviewed: box ? box.checked : false
      };
    });
    return {
      tool: "dcmexport",
      kind: "review-state",
      page_generated: document.body.getAttribute("data-generated"),
      saved: new Date().toISOString(),
      reviewed: files.filter(function (f) { return f.reviewed; }).length,
      total: boxes.length,
      files: files
    };
  }

  function download() {
    var text = JSON.stringify(state(), null, 2) + "\n";
    var blob = new Blob([text], { type: "application/json" });
    var url = URL.createObjectURL(blob);
    var a = document.createElement("a");
    a.href = url;
    a.download = "review-state.json";
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
    window.setTimeout(function () { URL.revokeObjectURL(url); }, 2000);
  }

  boxes.forEach(function (box) {
    // A check applies to the exact bytes reviewed: the key is the file's SHA-256,
    // so a re-exported (changed) file comes back unchecked.
    var key = prefix + box.getAttribute("data-sha256");
    if (store && store.getItem(key) === "1") { box.checked = true; }
    box.addEventListener("change", function () {
      if (store) {
        try {
          if (box.checked) { store.setItem(key, "1"); } else { store.removeItem(key); }
        } catch (e) { /* storage full or revoked: keep working without it */ }
      }
      update();
    });
  });
  document.getElementById("download").addEventListener("click", download);
  update();

  if (selftest) {
    // Used by the browser test: tick every box, build the exported state and
    // its Blob exactly as the button does (without starting a download) and
    // put the JSON in the page; nothing is stored.
    boxes.forEach(function (box) { box.checked = true; });
    update();
    var text = JSON.stringify(state());
    URL.revokeObjectURL(URL.createObjectURL(new Blob([text], { type: "application/json" })));
    var out = document.getElementById("selftest");
    out.textContent = text;
    console.info("dcmexport-review selftest ok");
  }
  document.body.setAttribute("data-ready", "1");
})();
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _fmt_num(value: float) -> str:
    return f"{value:g}"


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit} ({size} B)"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _aspect(width: int, height: int) -> str:
    g = math.gcd(width, height) or 1
    w, h = width // g, height // g
    ratio = f"{width / height:.3f}" if height else "?"
    return f"{w}:{h} ({ratio})" if w <= 64 and h <= 64 else ratio


def _overlay(item: ReviewItem) -> str:
    """An SVG in output pixel coordinates laid over a thumbnail: it scales with the image exactly."""
    if item.width is None or item.height is None or (not item.entry.masks and not item.entry.keep):
        return ""
    parts = [f'<svg viewBox="0 0 {item.width} {item.height}" preserveAspectRatio="none" aria-hidden="true">']
    for cls, rects in (("keep", item.entry.keep or ()), ("mask", item.entry.masks)):
        for x0, y0, x1, y1 in rects:
            parts.append(
                f'<rect class="{cls}" x="{_fmt_num(x0)}" y="{_fmt_num(y0)}" width="{_fmt_num(x1 - x0)}" '
                f'height="{_fmt_num(y1 - y0)}" vector-effect="non-scaling-stroke"/>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _facts(item: ReviewItem) -> list[tuple[str, str]]:
    entry = item.entry
    facts: list[tuple[str, str]] = [("type", item.kind)]
    if item.width is not None and item.height is not None:
        facts.append(("pixels", f"{item.width} × {item.height}"))
        facts.append(("aspect", _aspect(item.width, item.height)))
    facts.extend(item.extra.items())
    if item.file_size is not None:
        facts.append(("file size", _human_size(item.file_size)))
    if item.kind == "clip" and item.frames is not None:
        facts.append(("frames", str(item.frames)))
        if item.fps:
            rate = f"{item.fps:.3f}".rstrip("0").rstrip(".") + " fps"
            if entry.fps_source:
                rate += f" (from {entry.fps_source})"
            facts.append(("frame rate", rate))
        if item.codec:
            facts.append(("codec", item.codec))
    if item.pages > 1:
        facts.append(("pages", f"{item.pages} (first shown)"))
    facts.append(("manifest", entry.status + (f": {entry.reason}" if entry.reason else "")))
    if (
        entry.frames is not None
        and item.kind == "clip"
        and item.frames is not None
        and entry.frames != item.frames
    ):
        facts.append(("manifest frames", f"{entry.frames} (file holds {item.frames})"))
    facts.append(("masked areas", str(len(entry.masks))))
    facts.append(("kept US regions", "not restricted" if entry.keep is None else str(len(entry.keep))))
    if entry.bad_rects:
        facts.append(("unreadable rectangles", f"{entry.bad_rects} (not drawn)"))
    for note in entry.notes:
        facts.append(("note", note))
    if item.sha256:
        facts.append(("SHA-256", item.sha256[:16] + "…"))
    return facts


def _card(item: ReviewItem, index: int) -> str:
    entry = item.entry
    reviewable = item.state == PRESENT and bool(item.thumbnails)
    attrs = f'data-name="{_esc(entry.name)}" data-state="{_esc(item.state)}"'
    if item.sha256:
        attrs += f' data-sha256="{_esc(item.sha256)}"'
    out = [f'<section class="card {_esc(item.state)} {_esc(item.kind)}" id="card-{index}" {attrs}>']
    badge = (
        "" if item.state == PRESENT else f'<span class="badge {_esc(item.state)}">{_esc(item.state)}</span>'
    )
    out.append(f"<h2>{_esc(entry.name)}{badge}</h2>")
    if item.thumbnails:
        out.append('<div class="thumbs">')
        overlay = _overlay(item)
        for thumb in item.thumbnails:
            # Small outputs are shown enlarged (whole-number factor, sharp pixels)
            # so they can be inspected; the embedded PNG stays at its own size.
            factor = max(1, THUMB_MIN_DISPLAY // max(thumb.width, thumb.height))
            cls = ' class="enlarged"' if factor > 1 else ""
            out.append(
                f'<figure><div class="frame"><img{cls} src="{_esc(thumb.data_uri)}" width="{thumb.width * factor}" '
                f'height="{thumb.height * factor}" alt="{_esc(thumb.label)} of {_esc(entry.name)}">{overlay}</div>'
                f"<figcaption>{_esc(thumb.label)}</figcaption></figure>"
            )
        out.append("</div>")
    if item.problem:
        out.append(f'<p class="problem">{_esc(item.problem)}</p>')
    out.append("<dl>")
    for key, value in _facts(item):
        out.append(f"<dt>{_esc(key)}</dt><dd>{_esc(value)}</dd>")
    out.append("</dl>")
    if reviewable:
        out.append(
            f'<label class="check"><input type="checkbox" class="reviewed" id="check-{index}" '
            f'data-sha256="{_esc(item.sha256 or "")}"> reviewed: no PHI visible</label>'
        )
    else:
        out.append('<label class="check disabled">nothing to review on this page</label>')
    out.append("</section>")
    return "".join(out)


def render_review_html(
    summary: ManifestSummary, items: Sequence[ReviewItem], *, generated: str | None = None
) -> str:
    """Turn inspected items into the self-contained page (pure: no file access).

    :param summary: the parsed manifest (for the counts at the top).
    :param items: one per card, in display order.
    :param generated: the page's timestamp (ISO 8601); now, in UTC, if omitted.
    :returns: the HTML text.
    """
    generated = generated or _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    reviewable = sum(1 for i in items if i.state == PRESENT and i.thumbnails)
    by_state: dict[str, int] = {}
    for item in items:
        by_state[item.state] = by_state.get(item.state, 0) + 1
    # Only our own inline style and script may run, and nothing may be fetched:
    # images are data: URIs, and everything else is refused by the browser.
    csp = (
        f"default-src 'none'; img-src data:; style-src {_csp_hash(_CSS)}; script-src {_csp_hash(_JS)}; "
        "base-uri 'none'; form-action 'none'"
    )
    summary_bits = [f"<strong>{len(items)}</strong> output file{'s' if len(items) != 1 else ''}"]
    for state in (MISSING, UNREADABLE, OUTSIDE, NO_PREVIEW):
        if by_state.get(state):
            cls = "warn" if state != NO_PREVIEW else ""
            summary_bits.append(f'<span class="{cls}">{by_state[state]} {_esc(state)}</span>')
    objects = ", ".join(f"{n} {_esc(s)}" for s, n in sorted(summary.object_counts.items()))
    if objects:
        summary_bits.append(f"objects in the manifest: {objects}")
    if summary.runs > 1:
        summary_bits.append(f"{summary.runs} runs (latest record per file shown)")
    if summary.bad_lines:
        summary_bits.append(
            f'<span class="warn">{summary.bad_lines} unreadable manifest line(s) ignored</span>'
        )
    body = "\n".join(_card(item, i) for i, item in enumerate(items))
    if not items:
        body = '<p class="summary">The manifest lists no output files.</p>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_esc(csp)}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dcmexport review</title>
<style>{_CSS}</style>
</head>
<body data-generated="{_esc(generated)}" data-reviewable="{reviewable}">
<header>
<h1>dcmexport review</h1>
<span>reviewed <span id="counter">0 / {reviewable}</span></span>
<button type="button" id="download">Download review state (JSON)</button>
<span class="legend"><span><span class="sw mask"></span>masked (blanked)</span><span><span class="sw keep"></span>kept ultrasound region</span></span>
</header>
<p class="summary">{" · ".join(summary_bits)}. Look at every image for names, IDs, dates or faces before sharing; tick a file only when nothing identifying is visible. Page generated {_esc(generated)}.</p>
<main>
{body}
</main>
<pre id="selftest"></pre>
<script>{_JS}</script>
</body>
</html>
"""


def build_review_html(out_dir: Path, *, max_side: int = THUMB_MAX_SIDE) -> str:
    """Build the review page for an output directory, without writing it.

    :param out_dir: a directory written by ``dcmexport export`` (holds ``manifest.jsonl``).
    :param max_side: thumbnails' long side at most, in pixels.
    :returns: the self-contained HTML text.
    :raises InputError: ``out_dir`` has no ``manifest.jsonl``.
    """
    summary, items = read_review_items(Path(out_dir), max_side=max_side)
    return render_review_html(summary, items)


def write_review(out_dir: Path, *, max_side: int = THUMB_MAX_SIDE) -> Path:
    """Write ``out_dir/review.html`` atomically (replacing an older one) and return its path.

    :param out_dir: a directory written by ``dcmexport export``.
    :param max_side: thumbnails' long side at most, in pixels.
    :returns: the path of ``review.html``.
    :raises InputError: ``out_dir`` has no ``manifest.jsonl``.
    :raises EncodeError: the page cannot be written (e.g. ``review.html`` is a symlink).
    """
    from dcmexport.atomic import atomic_output

    out_dir = Path(out_dir)
    text = build_review_html(out_dir, max_side=max_side)
    final = out_dir / REVIEW_NAME
    with atomic_output(final, overwrite=True) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return final
