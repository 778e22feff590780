"""Playback frame rate of a multi-frame object (PS3.3 C.7.6.5 Cine Module).

The rate is looked up in a fixed order of attributes; the first usable one
wins, and ``--fps`` overrides them all:

1. Frame Time (0018,1063), milliseconds per frame -> ``1000 / FrameTime``.
2. Frame Time Vector (0018,1065), milliseconds between frames; the first entry
   is the (zero) increment before frame 1, so the mean of the *other* positive
   entries is used. If Frame Increment Pointer (0028,0009) names Frame Time
   Vector, the vector is tried before Frame Time (the pointer says which of
   the two drives the timing, PS3.3 C.7.6.6.1.1).
3. Cine Rate (0018,0040), frames per second.
4. Recommended Display Frame Rate (0008,2144), frames per second.
5. Otherwise :data:`DEFAULT_FPS`, with source ``"default"`` so the summary can
   say the rate was guessed.

Values that cannot be parsed, are not finite, or are zero or negative are
skipped (a damaged header must never stop an export). Usable rates are kept
within :data:`MIN_FPS` .. :data:`MAX_FPS`: a candidate outside that range is
skipped in favour of a later in-range one, and only when no candidate is in
range is the first positive one clamped into it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.tag import Tag

from dcmexport.errors import UsageError

#: Rate used when the object records none (source ``"default"``).
DEFAULT_FPS: float = 10.0
#: Slowest rate we emit: one frame every 10 s. Slower "rates" are header garbage.
MIN_FPS: float = 0.1
#: Fastest rate we emit. Clinical cine tops out well below this (echo ~ 100-200
#: fps); players and GIF cannot show more anyway.
MAX_FPS: float = 240.0

_FRAME_TIME_VECTOR_TAG = Tag(0x0018, 0x1065)


@dataclass(frozen=True)
class FrameRate:
    """A playback rate and where it came from.

    ``source`` is the tag keyword used (``"FrameTime"``, ``"FrameTimeVector"``,
    ``"CineRate"``, ``"RecommendedDisplayFrameRate"``), ``"--fps"`` for an
    override, or ``"default"`` when the object records no usable rate.
    """

    fps: float
    source: str


def frame_rate_from_dataset(ds: Dataset, override: float | None = None) -> FrameRate:
    """Return the playback rate of a multi-frame object.

    PS3.3 C.7.6.5 (Cine Module) and C.7.6.6 (Multi-frame Module); see the
    module docstring for the order of attributes and the clamping rule.

    :param ds: the dataset (only timing attributes are read; none is modified).
    :param override: a rate from ``--fps``; wins over anything in the dataset.
    :returns: the rate and the keyword (or ``"--fps"`` / ``"default"``) it came from.
    :raises UsageError: if ``override`` is not a finite number in
        ``MIN_FPS..MAX_FPS``.
    """
    if override is not None:
        value = _as_float(override)
        if value is None or not MIN_FPS <= value <= MAX_FPS:
            raise UsageError(f"--fps must be a number between {MIN_FPS:g} and {MAX_FPS:g}, got {override!r}")
        return FrameRate(value, "--fps")

    candidates: list[tuple[str, float]] = []
    for keyword in _keyword_order(ds):
        fps = _rate_from_attribute(ds, keyword)
        if fps is not None:
            candidates.append((keyword, fps))
    for keyword, fps in candidates:
        if MIN_FPS <= fps <= MAX_FPS:
            return FrameRate(fps, keyword)
    if candidates:
        keyword, fps = candidates[0]
        return FrameRate(min(MAX_FPS, max(MIN_FPS, fps)), keyword)
    return FrameRate(DEFAULT_FPS, "default")


def _keyword_order(ds: Dataset) -> list[str]:
    """Attributes to try, most specific first (Frame Increment Pointer may promote the vector)."""
    order = ["FrameTime", "FrameTimeVector", "CineRate", "RecommendedDisplayFrameRate"]
    try:
        pointer = ds.get("FrameIncrementPointer")
        pointers = list(pointer) if _is_multi(pointer) else [pointer]
        if any(p is not None and Tag(p) == _FRAME_TIME_VECTOR_TAG for p in pointers):
            order[0], order[1] = order[1], order[0]
    except Exception:  # noqa: BLE001 - a damaged pointer just leaves the default order
        pass
    return order


def _rate_from_attribute(ds: Dataset, keyword: str) -> float | None:
    """Frames per second implied by one attribute, or None when absent or unusable."""
    try:
        # Damaged values may raise on conversion or come back as raw strings
        # (pydicom's lenient reading mode); both are handled as "unusable".
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - garbage in the header is skipped, never fatal
        return None
    if value is None or value == "":
        return None
    if keyword == "FrameTimeVector":
        entries = list(value) if _is_multi(value) else [value]
        increments = [v for v in (_as_float(e) for e in entries[1:]) if v is not None and v > 0]
        if not increments:
            return None
        return 1000.0 / (sum(increments) / len(increments))
    if _is_multi(value):  # VM 1 attributes holding several values are malformed
        return None
    number = _as_float(value)
    if number is None or number <= 0:
        return None
    fps = 1000.0 / number if keyword == "FrameTime" else number
    return fps if math.isfinite(fps) and fps > 0 else None


def _is_multi(value: object) -> bool:
    return isinstance(value, Iterable) and not isinstance(value, str | bytes)


def _as_float(value: object) -> float | None:
    """Parse a DS/IS value (number or string) leniently; None when not a finite number."""
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    try:
        number = float(value.strip() if isinstance(value, str) else value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None
