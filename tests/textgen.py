"""Synthetic frames with identifying text planted at known places: the OCR redaction evaluation's generator.

Each :class:`TextScene` is a stack of 1 to 60 display frames (8-bit grey or RGB) over a
background that looks like a modality (noisy ultrasound sector, CT-like body section, RGB
colour-flow screen), with tokens that look like PHI (names, IDs, dates, times) drawn at random
positions, sizes (8-40 px cap height), fonts (several Debian font families), colours and
polarities. The text is static across frames (banners do not move); the background noise is
new on every frame. Every token's box and glyph mask are kept, so a test can measure whether it
was masked (pixels) and whether it can still be read (an independent OCR pass).

:func:`token_readable` is the evaluation's independent reader (see ``bench/ocr_eval.py``).
Used by ``tests/test_mask_redact.py`` (a small, seeded sample) and ``bench/ocr_eval.py``
(the full evaluation). Deterministic for a given seed.
"""

from __future__ import annotations

import difflib
import string
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Font families looked for (Debian packages fonts-dejavu-core, fonts-liberation, fonts-freefont-ttf).
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("DejaVu Sans", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    ("DejaVu Sans Bold", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    ("DejaVu Sans Mono", "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"),
    ("DejaVu Serif", "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"),
    ("Liberation Sans", "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
    ("Liberation Serif", "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf"),
    ("Liberation Mono", "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"),
    ("Liberation Sans Narrow", "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf"),
    ("FreeSans", "/usr/share/fonts/truetype/freefont/FreeSans.ttf"),
    ("FreeSerif", "/usr/share/fonts/truetype/freefont/FreeSerif.ttf"),
    ("FreeMono", "/usr/share/fonts/truetype/freefont/FreeMono.ttf"),
)

SURNAMES = ("JOHNSON", "MARTINEZ", "OKAFOR", "NGUYEN", "KOWALSKI", "BERGSTROM", "HAMILTON", "FERREIRA",
            "LINDQVIST", "ABERNATHY", "DUBOIS", "YAMAMOTO", "PETERSEN", "CALLAGHAN", "MORRISON", "VASQUEZ")
GIVEN = ("Margaret", "Oliver", "Amara", "Lucas", "Ingrid", "Tomasz", "Beatrice", "Henrik", "Sofia",
         "Declan", "Priya", "Walter", "Elena", "Rashid", "Camille", "Gregory")
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
BACKGROUNDS = ("us", "ct", "rgb")


def available_fonts() -> list[tuple[str, str]]:
    """The (family, path) pairs of :data:`FONT_CANDIDATES` installed on this machine."""
    return [(name, path) for name, path in FONT_CANDIDATES if Path(path).is_file()]


@dataclass(frozen=True)
class Token:
    """One planted token: its text, kind, where it is and how it was drawn.

    Attributes:
        text: the string drawn (fake PHI).
        kind: ``name``, ``id``, ``date`` or ``time``.
        box: ``(x0, y0, x1, y1)`` of its inked pixels, x1/y1 exclusive.
        size: cap height in pixels (8-40).
        font: the font family.
        light: True when lighter than its surroundings (light on dark).
    """

    text: str
    kind: str
    box: tuple[int, int, int, int]
    size: int
    font: str
    light: bool


@dataclass
class TextScene:
    """Frames with planted tokens. ``glyphs`` is True on every inked pixel of any token."""

    frames: np.ndarray  # (frames, rows, columns) uint8 or (frames, rows, columns, 3) uint8
    tokens: list[Token] = field(default_factory=list)
    glyphs: np.ndarray | None = None
    background: str = "us"
    keep: tuple[tuple[int, int, int, int], ...] | None = None  # an ultrasound region, when the scene has one


def _token_text(rng: np.random.Generator, kind: str) -> str:
    if kind == "name":
        return str(rng.choice(SURNAMES)) + ("," if rng.random() < 0.3 else "")
    if kind == "given":
        return str(rng.choice(GIVEN))
    if kind == "id":
        digits = "".join(rng.choice(list(string.digits), size=int(rng.integers(6, 10))))
        return digits if rng.random() < 0.6 else f"{rng.choice(list('ABMRXZ'))}{digits}"
    if kind == "date":
        y, m, d = int(rng.integers(1930, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        style = int(rng.integers(0, 4))
        return (f"{d:02d}/{m:02d}/{y}", f"{y}-{m:02d}-{d:02d}", f"{d:02d}.{m:02d}.{y}", f"{d:02d}{MONTHS[m - 1]}{y}")[style]
    hh, mm, ss = int(rng.integers(0, 24)), int(rng.integers(0, 60)), int(rng.integers(0, 60))
    return f"{hh:02d}:{mm:02d}:{ss:02d}" if rng.random() < 0.5 else f"{hh:02d}:{mm:02d}"


def _background(rng: np.random.Generator, kind: str, rows: int, columns: int, frames: int) -> np.ndarray:
    """Background frames, float in 0..255, (frames, rows, columns) or (..., 3) for rgb."""
    yy, xx = np.mgrid[0:rows, 0:columns].astype(np.float32)
    if kind == "ct":
        cy, cx = rows * 0.55, columns / 2
        body = (((yy - cy) / (rows * 0.42)) ** 2 + ((xx - cx) / (columns * 0.45)) ** 2) < 1
        organ = (((yy - cy) / (rows * 0.15)) ** 2 + ((xx - cx * 0.8) / (columns * 0.12)) ** 2) < 1
        base = np.where(body, 105.0, 0.0) + np.where(organ, 40.0, 0.0)
        out = np.stack([base + rng.normal(0, 9, (rows, columns)) * body for _ in range(frames)])
        return np.clip(out, 0, 255)
    # ultrasound-like sector: speckle (Rayleigh) inside a fan, black around it
    apex_y, apex_x = rows * 0.08, columns / 2
    r = np.hypot(yy - apex_y, xx - apex_x)
    angle = np.arctan2(xx - apex_x, yy - apex_y)
    fan = (r < rows * 0.85) & (np.abs(angle) < 0.6) & (yy > apex_y)
    stack = []
    for _ in range(frames):
        speckle = rng.rayleigh(38, (rows, columns)).astype(np.float32)
        tissue = 0.6 + 0.4 * np.sin(r / 23.0 + rng.random() * 6) * np.exp(-r / (rows * 1.2))
        stack.append(np.clip(speckle * tissue, 0, 255) * fan)
    gray = np.stack(stack)
    if kind != "rgb":
        return gray
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    # colour-flow blobs in red and blue, moving a little between frames
    for i in range(frames):
        for colour, (dy, dx) in ((0, (0.45, 0.45)), (2, (0.6, 0.55))):
            blob = np.exp(-(((yy - rows * dy - 3 * i) ** 2) + (xx - columns * dx) ** 2) / (2 * (rows * 0.05) ** 2))
            rgb[i, ..., colour] = np.maximum(rgb[i, ..., colour], 230 * blob * fan)
    return rgb


def _font(path: str, cap_height: int) -> ImageFont.FreeTypeFont:
    """A font whose capital letters are about ``cap_height`` pixels tall."""
    size = max(4, round(cap_height / 0.72))
    font = ImageFont.truetype(path, size)
    for _ in range(6):
        bbox = font.getbbox("H")
        height = bbox[3] - bbox[1]
        if height == cap_height or height == 0:
            break
        size = max(4, round(size * cap_height / height))
        font = ImageFont.truetype(path, size)
    return font


def make_scene(
    rng: np.random.Generator,
    *,
    background: str | None = None,
    frames: int | None = None,
    tokens: int | None = None,
    size_range: tuple[int, int] = (8, 40),
    rows: int = 480,
    columns: int = 640,
) -> TextScene:
    """One scene: a background, then ``tokens`` fake-PHI tokens drawn at non-overlapping random places.

    Args:
        rng: the random source (the scene is a pure function of its state).
        background: ``us``, ``ct`` or ``rgb``; random when None.
        frames: 1-60; random when None (half the scenes are stills).
        tokens: how many tokens; 0 makes a text-free scene; random 2-6 when None.
        size_range: cap heights in pixels, inclusive.
        rows, columns: frame size.

    Returns:
        The scene, with every token's box and the union of their glyphs.
    """
    kind = background or str(rng.choice(BACKGROUNDS))
    n_frames = frames if frames is not None else (1 if rng.random() < 0.5 else int(rng.integers(2, 61)))
    n_tokens = tokens if tokens is not None else int(rng.integers(2, 7))
    base = _background(rng, kind, rows, columns, n_frames)
    fonts = available_fonts()
    if not fonts:
        raise RuntimeError("no TrueType font found: install fonts-dejavu-core fonts-liberation fonts-freefont-ttf")
    ink = np.zeros((rows, columns), dtype=np.float32)  # coverage 0..1 of each token's text
    colour_of = np.zeros((rows, columns, 3), dtype=np.float32)
    taken = np.zeros((rows, columns), dtype=bool)
    planted: list[Token] = []
    attempts = 0
    while len(planted) < n_tokens and attempts < 200:
        attempts += 1
        token_kind = str(rng.choice(("name", "given", "id", "date", "time")))
        text = _token_text(rng, token_kind)
        size = int(rng.integers(size_range[0], size_range[1] + 1))
        family, path = fonts[int(rng.integers(0, len(fonts)))]
        font = _font(path, size)
        left, top, right, bottom = font.getbbox(text)
        width, height = right - left, bottom - top
        if width + 8 >= columns or height + 8 >= rows:
            continue
        x = int(rng.integers(4, columns - width - 4))
        y = int(rng.integers(4, rows - height - 4))
        pad = max(4, size // 2)
        region = (slice(max(0, y - pad), y + height + pad), slice(max(0, x - pad), x + width + pad))
        if taken[region].any():
            continue
        layer = Image.new("L", (columns, rows), 0)
        ImageDraw.Draw(layer).text((x - left, y - top), text, font=font, fill=255)
        alpha = np.asarray(layer, dtype=np.float32) / 255.0
        light = bool(rng.random() < 0.75)  # most burned-in text is light on dark
        if light:
            colour = np.array(
                [(255, 255, 255), (255, 255, 0), (0, 255, 255), (140, 255, 140), (200, 200, 200)][int(rng.integers(0, 5))],
                dtype=np.float32,
            )
        else:
            colour = np.array((int(rng.integers(0, 40)),) * 3, dtype=np.float32)
            # dark text needs a light patch behind it (a banner)
            by0, bx0 = max(0, y - pad), max(0, x - pad)
            patch = (slice(by0, y + height + pad), slice(bx0, x + width + pad))
            base[(slice(None), *patch)] = float(rng.integers(170, 240))
        if kind != "rgb":  # grey screens draw text in a light grey, or dark on a banner
            colour = np.full(3, float(rng.choice((255, 235, 215))) if light else colour[0], dtype=np.float32)
        ink = np.maximum(ink, alpha)
        colour_of[alpha > 0] = colour
        taken[region] = True
        ys, xs = np.nonzero(alpha > 0.25)
        box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
        planted.append(Token(text=text, kind="name" if token_kind == "given" else token_kind, box=box, size=size,
                             font=family, light=light))
    if base.ndim == 3:  # grey frames
        out = base * (1 - ink) + colour_of[..., 0] * ink
    else:
        out = base * (1 - ink[..., None]) + colour_of * ink[..., None]
    frames_u8 = np.clip(np.round(out), 0, 255).astype(np.uint8)
    return TextScene(frames=frames_u8, tokens=planted, glyphs=ink > 0.25, background=kind)


def _normal(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


#: The independent reader's Tesseract runs: page segmentation modes the redaction never uses
#: (8: one word, 13: raw line; the redaction reads with 11, 7 and 6).
READER_PSMS = (8, 13)
#: The independent reader enlarges a token so that its capitals are this tall (the redaction: 32 and 40 px).
READER_CAP_HEIGHT = 48


def _otsu_level(values: np.ndarray) -> float:
    hist = np.bincount(values.ravel(), minlength=256).astype(np.float64)
    weight, mass = np.cumsum(hist), np.cumsum(hist * np.arange(256))
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mass[-1] * weight / weight[-1] - mass) ** 2 / (weight * (weight[-1] - weight))
    between[~np.isfinite(between)] = -1
    return float(np.argmax(between))


def token_readable(frame: np.ndarray, token: Token) -> bool:
    """The evaluation's independent reader: can Tesseract still read ``token`` where it was planted?

    Built unlike every pass of the redaction (``dcmexport.mask.redact``), which reads whole frames
    or text-like bands with fixed-level, banner or Sauvola binarisation or a percentile stretch,
    page segmentation 11, 7 or 6, enlarged to 32-40 px: this reader knows where the token is,
    crops around it, smooths and enlarges the crop so capitals are :data:`READER_CAP_HEIGHT` px
    tall (bicubic), binarises it with Otsu's threshold of the crop itself, and reads it as one
    word (``--psm 8``) and as a raw line (``--psm 13``), in both polarities; as a second opinion
    it also reads the contrast-stretched crop at ~32 px as one line (``--psm 7``, both
    polarities). Readable when any reading contains the token or matches at least 75 % of it
    (``difflib`` ratio on letters and digits): a half-masked name still read in part counts.
    """
    import pytesseract
    from PIL import Image, ImageFilter

    gray = frame.max(axis=2) if frame.ndim == 3 else frame
    x0, y0, x1, y1 = token.box
    pad = max(6, (y1 - y0) // 2)
    crop = gray[max(0, y0 - pad): y1 + pad, max(0, x0 - pad): x1 + pad].astype(np.uint8)
    if crop.size == 0 or int(crop.max()) - int(crop.min()) < 16:
        return False  # flat: nothing drawn is left
    factor = max(1.0, READER_CAP_HEIGHT / max(1, token.size))
    image = Image.fromarray(crop).filter(ImageFilter.GaussianBlur(0.6))
    image = image.resize((round(image.width * factor), round(image.height * factor)), Image.Resampling.BICUBIC)
    big = np.asarray(image)
    ink_light = big > _otsu_level(big)
    want = _normal(token.text)
    candidates = [(Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)), psm)  # dark ink on white
                  for ink in (ink_light, ~ink_light) for psm in READER_PSMS]
    # The first version of this reader, kept as a second opinion (either reading counts: stricter):
    # the crop contrast-stretched, capitals ~32 px (Lanczos), one line (--psm 7), both polarities.
    stretched = np.clip((crop.astype(np.float32) - crop.min()) * 255.0 / (int(crop.max()) - int(crop.min())), 0, 255)
    small = Image.fromarray(stretched.astype(np.uint8))
    factor = max(1.0, 32.0 / max(1, token.size))
    small = small.resize((round(small.width * factor), round(small.height * factor)), Image.Resampling.LANCZOS)
    candidates += [(small, 7), (Image.eval(small, lambda v: 255 - v), 7)]
    for candidate, psm in candidates:
        read = _normal(pytesseract.image_to_string(candidate, config=f"--psm {psm}"))
        if read and (want in read or difflib.SequenceMatcher(None, want, read).ratio() >= 0.75):
            return True
    return False


def score_token(masked: np.ndarray, blanked: np.ndarray, glyphs: np.ndarray | None, token: Token) -> tuple[bool, bool]:
    """Whether a planted token is gone after masking: ``(covered, readable)``.

    Args:
        masked: the frame after masking.
        blanked: True on every masked pixel (rows, columns).
        glyphs: True on every inked pixel of the scene's tokens (None: the token's whole box).
        token: the planted token.

    Returns:
        ``covered``: at least 99 % of the token's inked pixels are masked (no OCR involved);
        ``readable``: :func:`token_readable` still reads it on ``masked``. A token is removed
        when it is covered or not readable.
    """
    x0, y0, x1, y1 = token.box
    glyph = glyphs[y0:y1, x0:x1] if glyphs is not None else np.ones((y1 - y0, x1 - x0), bool)
    covered = bool((blanked[y0:y1, x0:x1] & glyph).sum() >= 0.99 * glyph.sum())
    return covered, (not covered) and token_readable(masked, token)
