"""OCR redaction (``--redact-text``): a mask source that reads the pixels, and its second pass.

Tesseract (:mod:`dcmexport.mask.ocr`) reads every sampled frame *after* the header plan is
applied, under several preprocessings chosen to find small and light-on-dark text
(:data:`DETECT_PASSES`: local and fixed-level binarisation, both polarities, enlarged three
times for small text and as is for large text, sparse-text page segmentation), then reads the
small-text bands that the text-like rows detector finds on binarised frames one by one, cropped
and enlarged. Each word it reads is classified:

* ``all``: every word outside the ultrasound image regions is masked; inside a region only
  words that look like PHI (:func:`~dcmexport.mask.words.looks_like_phi`: names, identifiers,
  dates, times).
* ``phi``: every word is masked except those on the allow list of settings words
  (``presets/ocr/allow.toml``: MI, TIS, Hz, dB, cm, probe names, measured values ...).

A masked word's box grows along its line while the same ink continues (Tesseract often reads
only part of a word), then by a margin; the boxes of all sampled frames are united (banners do
not move) and blanked on every frame. The second pass (:func:`check_text`) reads the masked
frames with *other* preprocessing (:data:`CHECK_PASSES`): no word may be read inside a masked
area, and nothing PHI-like anywhere; :class:`TextFindings` counts what it found.

Only counts and boxes leave this module: the words read may be PHI and are never stored,
logged or raised. Pure functions of arrays; the pipeline (``dcmexport.pipeline.redaction``)
renders the frames and applies the policy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from dcmexport.mask.detect import apply_channel_max, find_text_like_rows
from dcmexport.mask.findings import TextFindings
from dcmexport.mask.ocr import OcrPass, Word, apply_ocr_pass, read_words
from dcmexport.mask.rects import Box, apply_blank_boxes, clip_box
from dcmexport.mask.words import load_allow_list, phi_category
from dcmexport.options import RedactText

#: Detection: what the redaction shows Tesseract (each pass one Tesseract run per frame).
DETECT_PASSES: tuple[OcrPass, ...] = (
    OcrPass("light-x3", "light", 3, 11, level=170),  # light text over speckle or a body section, small text
    OcrPass("banner-x3", "banner", 3, 11, level=100),  # dark text on a light banner
    OcrPass("sauvola-x2", "sauvola", 2, 11),  # local threshold: either polarity
    OcrPass("sauvola-x1", "sauvola", 1, 11),  # large text, which enlarged gets too big to read
)
#: The second pass: other thresholds, another enlargement, another page segmentation.
CHECK_PASSES: tuple[OcrPass, ...] = (
    OcrPass("check-light-x2", "light", 2, 11, level=200),
    OcrPass("check-banner-x2", "banner", 2, 11, level=120),
    OcrPass("check-sauvola-x2", "sauvola", 2, 6),
)

#: Words the second pass reads below this confidence are not counted as PHI-like (noise reads
#: as short random words).
CHECK_MIN_CONFIDENCE = 60.0
#: A word read inside a masked area counts from this confidence on (its letters survived the mask;
#: below it, what is read at the edge of a mask over anatomy is texture: "pan" at 39 on a heart).
CHECK_INSIDE_MIN_CONFIDENCE = 50.0
#: Inside an image region, ``all`` masks a PHI-like word read at least this confidently (echoes
#: and speckle read as short random words); the second pass checks at a higher threshold.
INSIDE_MIN_CONFIDENCE = 40.0
#: Detected words outside this height range (frame pixels) are not text of a screen.
MIN_WORD_HEIGHT, MAX_WORD_HEIGHT = 5, 90
#: A word's ink must differ from its ground by this many grey levels (of 255): burned-in text is
#: drawn to be legible, while the "words" Tesseract reads in speckle or a noisy body section differ
#: by 10-50 levels (measured on bench/ocr_eval.py's scenes: text >= 110, noise <= 52).
MIN_TEXT_CONTRAST = 64

#: Small-text line candidates (:func:`find_text_line_candidates`): bands at most this tall are
#: read again one by one, cropped and enlarged; at most this many per frame.
LINE_MAX_HEIGHT, LINE_MAX_CANDIDATES = 24, 40
#: Width of the vertical strips small-text bands are looked for in (they overlap by half).
LINE_STRIP = 192
#: Grey text on a black ground is looked for from this level (the ``light`` passes start at 170).
DIM_LEVEL = 60


def sample_frame_indices(frames: int, *, all_frames: bool, step: int) -> list[int]:
    """The frames of a ``frames``-frame object that OCR reads: every frame of a still or with
    ``all_frames``, else the first, middle, last and every ``step``-th frame of a clip."""
    if frames <= 1 or all_frames:
        return list(range(max(frames, 1)))
    return sorted({0, frames // 2, frames - 1, *range(0, frames, max(1, step))})


def _to_gray(image: np.ndarray) -> np.ndarray:
    gray = apply_channel_max(image)
    if gray.dtype == np.uint8:
        return gray
    if gray.dtype == np.uint16:
        return (gray >> 8).astype(np.uint8)
    lo, hi = float(gray.min()), float(gray.max())
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return ((gray.astype(np.float64) - lo) * scale).astype(np.uint8)


def _inside_any(box: Box, regions: Sequence[Box]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return any(r[0] <= cx < r[2] and r[1] <= cy < r[3] for r in regions)


def apply_ink_growth(gray: np.ndarray, box: Box, *, max_factor: float = 6.0) -> Box:
    """Grow a word's box along its line while the same ink continues (a partly read word).

    The word's ink is told from its ground by the box's own pixels (the level farthest from
    the median of its border); columns left and right of the box that hold such ink and such
    ground within the box's rows extend it, across gaps up to about one letter wide.

    Args:
        gray: the frame, ``(rows, columns)`` uint8.
        box: the word's box, x1/y1 exclusive.
        max_factor: the growth on each side stops after this many box heights.

    Returns:
        The grown box, clipped to the frame: its rows tightened to those holding the word's ink,
        its columns never fewer than ``box``'s.
    """
    rows, columns = gray.shape
    clipped = clip_box(box, rows, columns)
    if clipped is None:
        return box
    x0, y0, x1, y1 = clipped
    patch = gray[y0:y1, x0:x1].astype(np.int16)
    border = np.concatenate([patch[0], patch[-1], patch[:, 0], patch[:, -1]])
    ground = int(np.median(border))
    spread = patch - ground
    ink_level = int(spread.max()) if abs(int(spread.max())) >= abs(int(spread.min())) else int(spread.min())
    if abs(ink_level) < MIN_TEXT_CONTRAST:
        return clipped
    # Tighten the rows to those holding the word's ink (a box Tesseract drew over noise is taller).
    inked = np.flatnonzero((np.abs(spread - ink_level) <= abs(ink_level) // 3).sum(axis=1) >= 2)
    if inked.size:
        y0, y1 = y0 + int(inked[0]), y0 + int(inked[-1]) + 1
    band = gray[y0:y1].astype(np.int16) - ground
    ink = np.abs(band - ink_level) <= abs(ink_level) // 3  # the word's own ink level, not any brightness
    ground_near = np.abs(band) <= abs(ink_level) // 3
    # A column continues the word when it holds the word's ink *and* its ground: letters on
    # their banner or background, not a dark surround that merely matches dark ink.
    has_ink: np.ndarray = np.asarray(ink.any(axis=0) & ground_near.any(axis=0))
    height = y1 - y0
    gap_limit = max(3, int(0.8 * height))
    reach = int(max_factor * height)

    def extend(start: int, direction: int, limit: int) -> int:
        edge, gap, x = start, 0, start
        while 0 <= x + direction < columns and abs(x + direction - start) <= limit:
            x += direction
            if has_ink[x]:
                edge, gap = x, 0
            else:
                gap += 1
                if gap > gap_limit:
                    break
        return edge

    left = extend(x0, -1, reach)
    right = extend(x1 - 1, 1, reach) + 1
    return left, y0, max(right, x1), y1


def apply_margin(box: Box, rows: int, columns: int) -> Box | None:
    """Grow a text box by a margin of a quarter of its height (at least 3 pixels) on every side."""
    x0, y0, x1, y1 = box
    margin = max(3, (y1 - y0 + 3) // 4)
    return clip_box((x0 - margin, y0 - margin, x1 + margin, y1 + margin), rows, columns)


def _same_line(a: Box, b: Box) -> bool:
    """True when ``a`` and ``b`` overlap and their bounding box is at most a quarter larger than their union."""
    if a[0] > b[2] or b[0] > a[2] or a[1] > b[3] or b[1] > a[3]:
        return False
    inter = max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    bound = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return bound * 4 <= union * 5


def merge_boxes(boxes: Iterable[Box]) -> tuple[Box, ...]:
    """Unite overlapping boxes into their bounding box where it adds at most a quarter to their
    union (words of one line); other boxes stay as they are. The masked area only grows.

    Returns:
        Boxes, none inside another, top to bottom then left to right.
    """
    merged: list[Box] = []
    for box in sorted(set(boxes)):
        current = box
        changed = True
        while changed:
            changed = False
            for other in list(merged):
                if _same_line(current, other):
                    merged.remove(other)
                    current = (min(current[0], other[0]), min(current[1], other[1]),
                               max(current[2], other[2]), max(current[3], other[3]))
                    changed = True
        merged.append(current)
    inside = {b for b in merged for o in merged
              if o != b and o[0] <= b[0] and o[1] <= b[1] and o[2] >= b[2] and o[3] >= b[3]}
    return tuple(sorted((b for b in merged if b not in inside), key=lambda b: (b[1], b[0])))


def _otsu(values: np.ndarray) -> int:
    """Otsu's threshold of uint8 ``values``: the level that best splits them into two classes."""
    hist = np.bincount(values, minlength=256).astype(np.float64)
    weight = np.cumsum(hist)
    mass = np.cumsum(hist * np.arange(256))
    total_w, total_m = weight[-1], mass[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (total_m * weight / total_w - mass) ** 2 / (weight * (total_w - weight))
    between[~np.isfinite(between)] = -1
    return int(np.argmax(between))


def text_contrast(gray: np.ndarray, box: Box) -> int:
    """How much ``box`` looks like drawn text: the grey-level difference of its ink and ground, or 0.

    The box's pixels are split in two by Otsu's threshold; the smaller class is the ink, and
    the result is the difference of the two classes' medians. It is 0 when the rows of the box
    cross fewer than two ink edges on average: the edge of an anatomy or of a sector is one
    long boundary, while letters are strokes (at least two edges per row).
    """
    rows, columns = gray.shape
    clipped = clip_box(box, rows, columns)
    if clipped is None:
        return 0
    x0, y0, x1, y1 = clipped
    patch = gray[y0:y1, x0:x1]
    values = patch.ravel()
    if values.size < 4:
        return 0
    threshold = _otsu(values)
    above = patch > threshold
    ink = above if int(above.sum()) * 2 <= values.size else ~above
    inked_rows = ink.any(axis=1)
    if not inked_rows.any():
        return 0
    edges = np.abs(np.diff(ink.astype(np.int8), axis=1)).sum(axis=1)[inked_rows]
    if float(edges.mean()) < 2.0:
        return 0
    return abs(int(np.median(values[ink.ravel()])) - int(np.median(values[~ink.ravel()])))


def _plausible(word: Word, gray: np.ndarray) -> bool:
    height = word.box[3] - word.box[1]
    if not MIN_WORD_HEIGHT <= height <= MAX_WORD_HEIGHT or word.box[2] - word.box[0] < 2:
        return False
    return text_contrast(gray, word.box) >= MIN_TEXT_CONTRAST


def find_text_line_candidates(gray: np.ndarray, exclude: Sequence[Box] = ()) -> list[Box]:
    """Bands of small text (at most :data:`LINE_MAX_HEIGHT` rows) in ``gray``, to be read one by one.

    Tesseract's page layout misses small text on a full frame; the text-like rows detector
    (:func:`~dcmexport.mask.detect.find_text_like_rows`) finds it reliably on a binarised frame
    (light ink, dim ink on a black ground, and dark ink on a light banner), where speckle and anatomy leave few pixels.
    ``exclude``: boxes of text already read, left out of the search.

    Returns:
        At most :data:`LINE_MAX_CANDIDATES` boxes, widest first.
    """
    light = np.where(gray >= 170, 255, 0).astype(np.uint8)
    banner = 255 - apply_ocr_pass(gray, OcrPass("banner", "banner", 1, 11, level=100))
    dim = 255 - apply_ocr_pass(gray, OcrPass("dim", "dim", 1, 11, level=DIM_LEVEL))
    rows, columns = gray.shape
    for box in exclude:  # text already read: a large line beside a small one would hide it
        clipped = clip_box(box, rows, columns)
        if clipped is not None:
            for binary in (light, banner, dim):
                binary[clipped[1]:clipped[3], clipped[0]:clipped[2]] = 0
    found: list[Box] = []
    for binary in (light, banner, dim):
        # In vertical strips: the detector looks at whole rows, and text elsewhere on the same
        # rows would make a small line's band taller than a line.
        for left in range(0, max(1, columns - LINE_STRIP // 2), LINE_STRIP // 2):
            strip = binary[:, left: left + LINE_STRIP]
            for x0, y0, x1, y1 in find_text_like_rows(strip, contrast=0.5, min_transitions=4, min_height=4,
                                                      max_height=64):
                # a band can join lines of different sizes side by side: each segment's own rows
                inked = np.flatnonzero(strip[y0:y1, x0:x1].any(axis=1))
                if inked.size and inked[-1] - inked[0] < LINE_MAX_HEIGHT:
                    found.append((x0 + left, y0 + int(inked[0]) - 2, x1 + left, y0 + int(inked[-1]) + 3))
    merged = sorted(merge_boxes(found), key=lambda b: b[2] - b[0], reverse=True)
    return merged[:LINE_MAX_CANDIDATES]


def _read_line(gray: np.ndarray, box: Box, cap_height: int, psm: int) -> list[Word]:
    """Read one candidate band, cropped with a small pad and enlarged so its text is ~``cap_height`` tall."""
    rows, columns = gray.shape
    pad = 4
    x0, y0, x1, y1 = max(0, box[0] - pad), max(0, box[1] - pad), min(columns, box[2] + pad), min(rows, box[3] + pad)
    scale = max(2, min(8, round(cap_height / max(1, box[3] - box[1] - 2))))
    words = read_words(gray[y0:y1, x0:x1], (OcrPass(f"line-x{scale}", "plain", scale, psm),))
    return [Word(w.text, w.confidence, (w.box[0] + x0, w.box[1] + y0, w.box[2] + x0, w.box[3] + y0), w.source)
            for w in words]


def _covered_by(box: Box, boxes: Sequence[Box]) -> bool:
    area = max(1, (box[2] - box[0]) * (box[3] - box[1]))
    covered = np.zeros((box[3] - box[1], box[2] - box[0]), dtype=bool)
    for b in boxes:
        cx0, cy0 = max(b[0], box[0]) - box[0], max(b[1], box[1]) - box[1]
        cx1, cy1 = min(b[2], box[2]) - box[0], min(b[3], box[3]) - box[1]
        if cx1 > cx0 and cy1 > cy0:
            covered[cy0:cy1, cx0:cx1] = True
    return int(covered.sum()) >= 0.9 * area


def find_text_boxes(
    image: np.ndarray,
    *,
    mode: RedactText,
    keep: Sequence[Box] | None = None,
    passes: tuple[OcrPass, ...] = DETECT_PASSES,
    findings: TextFindings | None = None,
) -> list[Box]:
    """Return the boxes to mask for the text OCR reads in one frame (the detection pass).

    Full-frame passes first (``passes``), then every small-text band of
    :func:`find_text_line_candidates` that they did not already cover, cropped, enlarged and read
    as one line. A band OCR cannot read is masked whole when it lies outside the image regions
    (it looks like text and nothing says it is harmless); inside a region it is left alone.

    Args:
        image: the rendered frame with the header plan already applied, ``(rows, columns)`` or
            ``(rows, columns, samples)``.
        mode: ``all`` or ``phi`` (see the module docstring).
        keep: the ultrasound image regions (inside them ``all`` masks only PHI-like words);
            None: no region, everything counts as outside.
        passes: the preprocessings Tesseract is run with on the whole frame.
        findings: counts are added here when given.

    Returns:
        Boxes (grown along the ink and by the margin), clipped to the frame; not yet merged.

    Raises:
        MissingDependencyError: pytesseract or the tesseract program is missing.
    """
    gray = _to_gray(image)
    rows, columns = gray.shape
    allow = load_allow_list()
    counts = findings if findings is not None else TextFindings()
    boxes: list[Box] = []
    read: list[Box] = []

    def classify(words: Iterable[Word]) -> None:
        for word in words:
            if not _plausible(word, gray):
                continue
            counts.words += 1
            read.append(word.box)
            category = phi_category(word.text)
            if mode is RedactText.PHI:
                masked = not allow.allows(word.text)
            elif not keep or not _inside_any(word.box, keep):
                masked = True
            else:  # inside an image region: PHI-like words, read well enough not to be texture
                masked = word.confidence >= INSIDE_MIN_CONFIDENCE and category is not None
            if not masked:
                counts.kept += 1
                counts.kept_words.append((word.box, word.confidence))
                counts.add_hit("detect", "kept", word.confidence, word.box)
                continue
            counts.masked += 1
            counts.add_hit("detect", category or "word", word.confidence, word.box)
            grown = apply_margin(apply_ink_growth(gray, word.box), rows, columns)
            if grown is not None:
                boxes.append(grown)

    classify(read_words(gray, passes))
    for band in find_text_line_candidates(gray, read + boxes):
        if _covered_by(band, read + boxes):
            continue
        before = len(read)
        classify(_read_line(gray, band, 32, 7))
        if len(read) == before and (not keep or not _inside_any(band, keep)):
            counts.masked += 1  # text-like but unreadable: masked whole, outside the image regions
            counts.add_hit("detect", "band", 0.0, band)
            grown = apply_margin(band, rows, columns)
            if grown is not None:
                boxes.append(grown)
    return boxes


def apply_ground_fill(gray: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
    """Return ``gray`` with each box filled with the median of the 3-pixel ring around it.

    The second pass looks for text left around and inside masked areas, not for the masks: a
    black box on a light banner is itself a dark blob that Tesseract may read as a letter.
    Filled with its surroundings' level, only ink that the mask did not cover remains.
    """
    out = gray.copy()
    rows, columns = gray.shape
    for box in boxes:
        inner = clip_box(box, rows, columns)
        outer = clip_box((box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3), rows, columns)
        if inner is None or outer is None:
            continue
        ring = np.ones((outer[3] - outer[1], outer[2] - outer[0]), dtype=bool)
        ring[inner[1] - outer[1]: inner[3] - outer[1], inner[0] - outer[0]: inner[2] - outer[0]] = False
        values = gray[outer[1]: outer[3], outer[0]: outer[2]][ring]
        out[inner[1]: inner[3], inner[0]: inner[2]] = int(np.median(values)) if values.size else 0
    return out


def _read_better(word: Word, kept: Sequence[tuple[Box, float]]) -> bool:
    """True when detection kept a word at the same place, read at least as confidently.

    Two preprocessings can read one word differently ("TAC1", "TAC\""); the more confident
    reading that detection classified as harmless wins over a less confident one.
    """
    x0, y0, x1, y1 = word.box
    area = max(1, (x1 - x0) * (y1 - y0))
    for (kx0, ky0, kx1, ky1), confidence in kept:
        overlap = max(0, min(x1, kx1) - max(x0, kx0)) * max(0, min(y1, ky1) - max(y0, ky0))
        if overlap * 2 >= area and confidence >= word.confidence:
            return True
    return False


def check_text(
    image: np.ndarray,
    masked: Sequence[Box],
    *,
    passes: tuple[OcrPass, ...] = CHECK_PASSES,
    findings: TextFindings,
) -> None:
    """The second pass on one masked frame: count words read inside masked areas and PHI-like words.

    Args:
        image: the frame after every mask of the plan.
        masked: the boxes the redaction blanked (a word whose centre lies in one is "inside");
            they are filled with their surroundings' level first (:func:`apply_ground_fill`).
        passes: preprocessings other than the detection's.
        findings: the counts are added here.

    Raises:
        MissingDependencyError: pytesseract or the tesseract program is missing.
    """
    gray = apply_ground_fill(_to_gray(image), masked)
    findings.check_frames += 1
    words = read_words(gray, passes)
    for band in find_text_line_candidates(gray, [w.box for w in words]):
        words.extend(_read_line(gray, band, 40, 6))
    for word in words:
        if not _plausible(word, gray):
            continue
        findings.check_words += 1
        if masked and _inside_any(word.box, masked):
            # remnants of masked text read as a word (two letters or digits at least), not texture
            if word.confidence >= CHECK_INSIDE_MIN_CONFIDENCE and sum(ch.isalnum() for ch in word.text) >= 2:
                findings.check_inside += 1
                findings.add_hit("check", "inside", word.confidence, word.box)
        elif word.confidence >= CHECK_MIN_CONFIDENCE and not _read_better(word, findings.kept_words):
            category = phi_category(word.text)
            if category is not None:
                findings.check_phi += 1
                findings.add_hit("check", category, word.confidence, word.box)


@dataclass(frozen=True)
class Redaction:
    """The outcome of :func:`redact_frames`: the boxes to blank on every frame and the counts."""

    boxes: tuple[Box, ...]
    findings: TextFindings


def redact_frames(
    get_frame: Callable[[int], np.ndarray],
    frames: int,
    *,
    mode: RedactText,
    keep: Sequence[Box] | None,
    all_frames: bool,
    step: int,
) -> Redaction:
    """Find the text of an object's sampled frames, unite the boxes, and check the masked frames again.

    Args:
        get_frame: returns frame ``i`` rendered, with the header plan applied (called twice per
            sampled frame: once per pass, so no frame is held between the passes).
        frames: the object's frame count.
        mode: ``all`` or ``phi``.
        keep: the ultrasound image regions kept by the header plan (None: none).
        all_frames: read every frame (``--ocr-frames all``), else :func:`sample_frame_indices`.
        step: the sampling step for clips (``--ocr-frames N``).

    Returns:
        The merged boxes and the findings of both passes (counts and seconds only).

    Raises:
        MissingDependencyError: pytesseract or the tesseract program is missing.
    """
    findings = TextFindings()
    indices = sample_frame_indices(frames, all_frames=all_frames, step=step)
    found: list[Box] = []
    for index in indices:
        started = time.perf_counter()
        found.extend(find_text_boxes(get_frame(index), mode=mode, keep=keep, findings=findings))
        findings.per_frame.append(time.perf_counter() - started)
        findings.frames += 1
    boxes = merge_boxes(found)
    findings.boxes = len(boxes)
    for position, index in enumerate(indices):
        started = time.perf_counter()
        check_text(apply_blank_boxes(get_frame(index), boxes), boxes, findings=findings)
        findings.per_frame[position] += time.perf_counter() - started
    findings.seconds = sum(findings.per_frame)
    return Redaction(boxes, findings)
