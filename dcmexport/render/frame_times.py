"""Per-frame presentation times of a multi-frame object: a Frame Time Vector, or an enhanced object's frame times.

:func:`dcmexport.render.timing.frame_rate_from_dataset` gives one rate per object;
when frames are not evenly spaced that rate is only an average. Here each
frame gets its own start time, in milliseconds from the first frame:

* Frame Time Vector (0018,1065), when it is what the rate came from: entry
  ``k`` (0-based) is the time from frame ``k - 1`` to frame ``k``; the first
  entry, the increment before the first frame, is ignored (PS3.3 C.7.6.5.1.2).
* Otherwise, when the object records no rate at all: the Frame Content
  Sequence (0020,9111) of each item of the Per-frame Functional Groups
  Sequence (5200,9230), Frame Reference DateTime (0018,9151), or Frame
  Acquisition DateTime (0018,9074) when not every frame has the former
  (PS3.3 C.7.6.16.2.2). Only differences are used: no date leaves here. The frames
  must be a cine, one time point each: a Temporal Position Index (0020,9128), where
  given, increases with every frame (a volume, or several slices per time point,
  repeats it), and every interval is a rate within ``MIN_FPS``..``MAX_FPS`` of
  :mod:`dcmexport.render.timing` (seconds between slices of a volume are not a cine).

A vector of the wrong length, an unreadable or non-positive increment, a
missing or unparseable date-time, or times that do not strictly increase give
None: the caller keeps the average rate. The functions below the adapter are
pure: they pick frames and scale times.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from pydicom.dataset import Dataset

from dcmexport.render.timing import MAX_FPS, MIN_FPS

#: Per-frame times are "constant" when every interval is within this of the mean (relative).
CONSTANT_TOLERANCE = 1e-6


def frame_times_from_dataset(ds: Dataset, frames: int, rate_source: str) -> tuple[float, ...] | None:
    """Each frame's start time in ms from the first frame, or None when the object has no usable per-frame times.

    :param ds: the original dataset (before de-identification: the date-times are read, never kept).
    :param frames: (0028,0008) Number of Frames.
    :param rate_source: where :func:`~dcmexport.render.timing.frame_rate_from_dataset` found the rate
        (its ``source``); the vector is used when that is ``FrameTimeVector``, the
        functional groups when it is ``default``.
    :returns: ``frames`` strictly increasing times starting at 0.0, or None.
    """
    try:
        if rate_source == "FrameTimeVector":
            return _times_from_vector(ds.get("FrameTimeVector"), frames)
        if rate_source == "default":
            return _times_from_frame_content(ds, frames)
    except Exception:  # noqa: BLE001 - damaged timing never stops an export: the average rate stays
        return None
    return None


def _times_from_vector(value: object, frames: int) -> tuple[float, ...] | None:
    entries = list(value) if isinstance(value, Sequence) and not isinstance(value, str | bytes) else [value]
    if len(entries) != frames or frames < 2:
        return None
    starts = [0.0]
    for entry in entries[1:]:
        increment = float(str(entry))
        if not (math.isfinite(increment) and increment > 0):
            return None
        starts.append(starts[-1] + increment)
    return tuple(starts)


def _times_from_frame_content(ds: Dataset, frames: int) -> tuple[float, ...] | None:
    groups = ds.get("PerFrameFunctionalGroupsSequence")
    if groups is None or len(groups) != frames or frames < 2:
        return None
    contents = [item.FrameContentSequence[0] for item in groups]
    positions = [c.get("TemporalPositionIndex") for c in contents]
    if any(p is not None for p in positions) and not (
            all(p is not None for p in positions)
            and all(int(b) > int(a) for a, b in zip(positions, positions[1:], strict=False))):
        return None
    for keyword in ("FrameReferenceDateTime", "FrameAcquisitionDateTime"):
        stamps = [_parse_dt(c.get(keyword)) for c in contents]
        if all(s is not None for s in stamps):
            first = stamps[0]
            assert first is not None
            starts = tuple((s - first).total_seconds() * 1000 for s in stamps if s is not None)
            shortest, longest = 1000 / MAX_FPS, 1000 / MIN_FPS
            if all(shortest <= b - a <= longest for a, b in zip(starts, starts[1:], strict=False)):
                return starts
            return None
    return None


def _parse_dt(value: object) -> datetime | None:
    """A DT value (``YYYYMMDDHHMMSS.FFFFFF&ZZXX``) as a datetime, or None; no value is ever reported."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    from pydicom.valuerep import DT

    try:
        parsed = DT(str(value).strip())
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=None) if isinstance(parsed, datetime) else None


def is_constant(starts: Sequence[float]) -> bool:
    """True when the intervals between consecutive ``starts`` are all equal (within :data:`CONSTANT_TOLERANCE`)."""
    intervals = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    if not intervals:
        return True
    mean = sum(intervals) / len(intervals)
    return all(abs(i - mean) <= CONSTANT_TOLERANCE * mean for i in intervals)


def apply_speed_and_floor(
    starts_ms: Sequence[float], speed: float, min_interval_ms: float | None
) -> tuple[tuple[float, ...], int]:
    """Presentation times in seconds from the first frame: ``starts_ms`` divided by ``speed``, each
    interval raised to at least ``min_interval_ms`` (a format's or ``--max-fps``'s fastest rate).

    :returns: the times (first 0.0) and the number of intervals lengthened.
    """
    times = [0.0]
    lengthened = 0
    for a, b in zip(starts_ms, starts_ms[1:], strict=False):
        interval = (b - a) / speed
        if min_interval_ms is not None and interval < min_interval_ms:
            interval = min_interval_ms
            lengthened += 1
        times.append(times[-1] + interval)
    return tuple(t / 1000 for t in times), lengthened
