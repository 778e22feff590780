"""Grouping single-frame images into series and ordering them along the slice normal.

Used by ``--series``: a folder of CT/MR slices becomes one scroll-through clip
(or one contact sheet with ``--montage``). Ordering follows PS3.3 C.7.6.2.1.1:
the slice position is the projection of Image Position (Patient) onto the
normal of Image Orientation (Patient) (row direction x column direction);
Instance Number is the fallback when the geometry is missing or inconsistent.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pydicom
from pydicom.dataset import Dataset

from dcmexport.deid import Deidentifier
from dcmexport.errors import InputError
from dcmexport.options import ExportOptions, OutputFormat
from dcmexport.pipeline.clip import lower_rate
from dcmexport.pipeline.facts import facts_from_dataset
from dcmexport.pipeline.frames import output_stem, pixel_state, plan_pixels
from dcmexport.pipeline.guard import run_guarded
from dcmexport.pipeline.naming import make_parents, named, output_base
from dcmexport.pipeline.redaction import redact_text
from dcmexport.pipeline.resume import ResumeIndex, apply_resume, no_resume
from dcmexport.pipeline.writing import encode_clip, note_verification, write_still_atomic
from dcmexport.read import check_pixel_geometry, iter_frames, quiet_pydicom, read_dataset, sha256_file
from dcmexport.render.montage import apply_montage
from dcmexport.results import WRITTEN, ExportResult
from dcmexport.sources import InputItem

T = TypeVar("T")

#: Geometry attributes that must agree across a series before its slices share one clip.
GEOMETRY_KEYWORDS = ("Rows", "Columns", "SamplesPerPixel", "PhotometricInterpretation", "PixelSpacing")


#: Slices share an orientation when their normals are within ~0.8 degrees (|cos| >= this).
SAME_ORIENTATION_COS = 0.9999


@dataclass(frozen=True)
class SliceInfo:
    """What ordering needs from one slice header (no PHI).

    ``position`` is along the slice's own normal; ``normal`` (unit, from (0020,0037)) and
    ``origin`` ((0020,0032)) let :func:`order_slices` check that the normals agree and
    project every slice on one of them.
    """

    series_uid: str
    position: float | None
    instance: int | None
    frames: int
    normal: tuple[float, float, float] | None = None
    origin: tuple[float, float, float] | None = None


def slice_normal(orientation: Sequence[float]) -> np.ndarray | None:
    """Unit normal of Image Orientation (Patient) (0020,0037); None when it is not two unit-ish vectors."""
    try:
        values = np.asarray([float(v) for v in orientation], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if values.shape != (6,):
        return None
    normal = np.cross(values[:3], values[3:])
    norm = float(np.linalg.norm(normal))
    return normal / norm if norm > 1e-6 else None


def slice_position(ds: Dataset) -> float | None:
    """Position of the slice along its normal (mm), from (0020,0032) and (0020,0037); None if unknown."""
    normal = slice_normal(ds.get("ImageOrientationPatient") or ())
    ipp = ds.get("ImagePositionPatient")
    if normal is None or not ipp or len(ipp) != 3:
        return None
    try:
        position = float(np.dot(np.asarray([float(v) for v in ipp]), normal))
    except (TypeError, ValueError):
        return None
    return position if math.isfinite(position) else None


def slice_info_from_dataset(ds: Dataset) -> SliceInfo:
    """Read what ordering needs from a header."""
    try:
        instance = int(ds.get("InstanceNumber")) if ds.get("InstanceNumber") not in (None, "") else None
    except (TypeError, ValueError):
        instance = None
    try:
        frames = int(ds.get("NumberOfFrames", 1) or 1)
    except (TypeError, ValueError):
        frames = 1
    normal = slice_normal(ds.get("ImageOrientationPatient") or ())
    origin: tuple[float, float, float] | None = None
    ipp = ds.get("ImagePositionPatient")
    try:
        if ipp and len(ipp) == 3:
            x, y, z = (float(v) for v in ipp)
            origin = (x, y, z) if all(math.isfinite(v) for v in (x, y, z)) else None
    except (TypeError, ValueError):
        origin = None
    return SliceInfo(
        str(ds.get("SeriesInstanceUID", "") or ""), slice_position(ds), instance, frames,
        normal=(float(normal[0]), float(normal[1]), float(normal[2])) if normal is not None else None,
        origin=origin,
    )


def unordered_reason(infos: Sequence[SliceInfo]) -> str | None:
    """Why slices cannot be put in slice order (PHI-free, tags named), or None when they can.

    Slice order is the position along one normal (PS3.3 C.7.6.2.1.1); it exists only when
    every slice has a position and all normals agree (radial slices or three-plane
    localizers in one series have no such order).
    """
    if any(info.position is None for info in infos):
        return "(0020,0032) ImagePositionPatient or (0020,0037) ImageOrientationPatient missing or invalid"
    normals = [info.normal for info in infos if info.normal is not None]
    if normals and any(abs(float(np.dot(n, normals[0]))) < SAME_ORIENTATION_COS for n in normals[1:]):
        return "(0020,0037) ImageOrientationPatient differs within the series"
    return None


def order_slices(items: Sequence[tuple[T, SliceInfo]]) -> list[T]:
    """Order slices along their common normal when :func:`unordered_reason` allows, else by Instance Number.

    Positions are projections on one normal, the direction most slices' normals share, so
    that a slice whose normal points the other way is still placed by where it lies. Ties
    and missing numbers keep the input order (the sort is stable).
    """
    infos = [info for _, info in items]
    if items and unordered_reason(infos) is None:
        normals = [np.asarray(info.normal) for info in infos if info.normal is not None]
        first = normals[0] if normals else None
        if first is not None and sum(float(np.dot(n, first)) for n in normals) < 0:
            first = -first

        def along(info: SliceInfo) -> float:
            if first is not None and info.origin is not None:
                return float(np.dot(info.origin, first))
            assert info.position is not None
            return info.position

        return [item for item, _ in sorted(items, key=lambda pair: along(pair[1]))]
    return [item for item, _ in sorted(items, key=lambda pair: (pair[1].instance is None, pair[1].instance or 0))]


def describe_order(infos: Sequence[SliceInfo]) -> str:
    """The run note for a series: its size and its order; "slice order" only when it is one."""
    if len(infos) == 1:
        return "series of 1 slice"
    reason = unordered_reason(infos)
    if reason is None:
        return f"series of {len(infos)} slices in slice order"
    return f"series of {len(infos)} slices in (0020,0013) InstanceNumber order, not slice order: {reason}"


def group_series(items: Iterable[InputItem]) -> tuple[list[list[InputItem]], list[InputItem]]:
    """Split inputs into ordered single-frame series and everything else.

    Headers are read without pixel data. Multi-frame objects, unreadable files
    and images without a Series Instance UID are returned as singles, to be
    exported one by one (their errors are reported there).

    Returns:
        ``(series, singles)``: each series is a list of items in slice order;
        series appear in the order their first file was found.
    """
    groups: dict[str, list[tuple[InputItem, SliceInfo]]] = {}
    singles: list[InputItem] = []
    for item in items:
        info = series_slice_info(item.path)
        if info is None:
            singles.append(item)
        else:
            groups.setdefault(info.series_uid, []).append((item, info))
    return [order_slices(members) for members in groups.values()], singles


def series_slice_info(path: Path) -> SliceInfo | None:
    """What ordering needs from ``path`` when it can join a series (a single-frame image with a Series
    Instance UID); None for anything else: multi-frame, no UID, unreadable (its error is reported
    when it is exported on its own)."""
    try:
        # The reader's guards (#18 item 7): a FIFO or device is refused before a byte is read,
        # pydicom's warnings stay quiet, pixel data stays deferred.
        with quiet_pydicom():
            info = slice_info_from_dataset(read_dataset(path))
    except Exception:  # unreadable here: the single-object path reports it properly
        return None
    return None if info.frames > 1 or not info.series_uid else info


def geometry_mismatch(datasets: Sequence[Dataset]) -> str | None:
    """Name the first geometry attribute that differs across a series (keywords only), or None."""
    first = datasets[0]
    for keyword in GEOMETRY_KEYWORDS:
        reference = _geometry_value(first, keyword)
        for ds in datasets[1:]:
            if _geometry_value(ds, keyword) != reference:
                return keyword
    return None


def _geometry_value(ds: Dataset, keyword: str) -> object:
    value = ds.get(keyword)
    if keyword == "PixelSpacing" and value:
        try:
            return tuple(round(float(v), 4) for v in value)
        except (TypeError, ValueError):
            return None
    return value if not isinstance(value, pydicom.multival.MultiValue) else tuple(value)


#: Scroll-through clips of a series have no recorded frame rate: --fps or this.
SERIES_DEFAULT_FPS = 10.0


def export_series(
    paths: Sequence[Path],
    options: ExportOptions,
    deidentifier: Deidentifier,
    *,
    on_frame: Callable[[], None] | None = None,
    resume: ResumeIndex | None = None,
) -> ExportResult:
    """Export an ordered series of single-frame images as one clip, or one contact sheet with ``montage``.

    Every slice is planned, masked and de-identified like a single object; one
    failure fails the whole series (fail closed), and slices whose geometry
    differs are reported, never silently resized.
    """
    index = resume or no_resume(options)
    return run_guarded(paths[0], lambda result: _export_series(paths, options, deidentifier, result, on_frame, index),
                    options.timeout)


def _export_series(
    paths: Sequence[Path],
    options: ExportOptions,
    deidentifier: Deidentifier,
    result: ExportResult,
    on_frame: Callable[[], None] | None,
    resume: ResumeIndex,
) -> None:
    datasets = [read_dataset(p) for p in paths]
    for ds in datasets:
        check_pixel_geometry(ds)
    mismatch = geometry_mismatch(datasets)
    if mismatch is not None:
        raise InputError(
            f"series of {len(paths)} slices mixes geometries ({mismatch} differs); export it without --series"
        )
    result.frames = len(paths)
    result.notes.append(describe_order([slice_info_from_dataset(ds) for ds in datasets]))
    montage = options.encode.montage
    fmt = OutputFormat.MP4 if options.encode.format is OutputFormat.AUTO else options.encode.format
    pipelines = [plan_pixels(ds, options, fmt, len(paths), result) for ds in datasets]
    for path, ds, pipeline in zip(paths, datasets, pipelines, strict=True):  # --redact-text: each slice's frame
        redact_text(path, ds, pipeline, options, result, numbers=[0], clip=True)
    shas = [sha256_file(p) for p in paths]
    result.input_sha256 = hashlib.sha256("".join(shas).encode()).hexdigest()
    counts: dict[str, int] = {}
    for ds, pipeline in zip(datasets, pipelines, strict=True):
        report = deidentifier.deidentify(ds, pixels=pixel_state(ds, pipeline.plan, options))
        for kind, n in report.action_counts.items():
            counts[kind] = counts.get(kind, 0) + n
    result.action_counts = counts
    series_uid = str(datasets[0].get("SeriesInstanceUID", "") or "")  # already remapped
    final = named(output_base(options, datasets[0], output_stem(series_uid, result.input_sha256)), fmt.extension)
    write_options = apply_resume(resume, [final], options, result)
    if write_options is None:
        return
    options = write_options
    make_parents([final], options.out_dir)

    def images() -> Iterator[np.ndarray]:
        for index, (path, ds, pipeline) in enumerate(zip(paths, datasets, pipelines, strict=True)):
            (frame,) = iter_frames(path, ds, indices=[0])
            yield pipeline(frame, index, number=0)  # each slice's own frame 0

    sheet_shape: tuple[int, int] | None = None
    if montage:
        sheet = apply_montage(list(images()))
        sheet_shape = (int(sheet.shape[0]), int(sheet.shape[1]))
        write_still_atomic(final, sheet, fmt, options, pipelines[0])
    else:
        speed = options.encode.speed
        if speed != 1:
            result.notes.append(f"speed {speed:g}x: frame times divided by {speed:g}")
        limits = [v for v in (fmt.spec.max_fps, options.encode.max_fps) if v is not None]
        fps = lower_rate((options.encode.fps or SERIES_DEFAULT_FPS) * speed, fmt, min(limits, default=None), result.notes)
        result.fps, result.fps_source = fps, "--fps" if options.encode.fps else "default"
        encode_clip(final, fmt, fps, images(), len(paths), options, on_frame)
    result.outputs = [final]
    result.status = WRITTEN
    result.dataset = facts_from_dataset(datasets[0], pipelines[0])
    result.dataset.instance_uid = ""  # one output for the whole series
    if sheet_shape is not None:  # the sheet's size; its tiles keep their pixel spacing (they are not resampled)
        result.dataset.rows, result.dataset.columns = sheet_shape
    note_verification(result, pipelines)
