"""What ``dcmexport inspect`` reports about one object, as data (the CLI only prints it).

PHI-free unless the caller asks for values: rows carry tag, keyword, resolved
action and sequence path; values are read only with ``show_values=True``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydicom.dataset import Dataset

from dcmexport.burnedin import match_mask_presets, may_carry_burned_in, plan_masks, us_regions_from_dataset
from dcmexport.deid import DeidOptions, InspectRow, inspect_dataset
from dcmexport.errors import BurnedInError, DcmexportError
from dcmexport.options import MaskOptions
from dcmexport.read import check_pixel_geometry, has_pixels, read_dataset
from dcmexport.render import pixel_spacing_from_dataset
from dcmexport.render.timing import frame_rate_from_dataset


@dataclass
class Inspection:
    """Facts about one object; everything but ``values`` is PHI-free."""

    rows: list[InspectRow]
    sop_class: str
    modality: str
    burned_in_annotation: str
    frames: int | None
    fps: float | None
    fps_source: str | None
    spacing: str | None
    presets: list[str]
    us_regions: int
    burned_in_reason: str | None
    mask_plan: str
    values: dict[str, str] = field(default_factory=dict)  # path -> value, only with show_values (PHI!)


def _value_at(ds: Dataset, path: str) -> str:
    """Follow an InspectRow path such as ``RequestAttributesSequence[0].RequestedProcedureID``."""
    node: object = ds
    try:
        for part in path.split("."):
            name, _, index = part.partition("[")
            elem = node[name] if isinstance(node, Dataset) and name in node else None
            if elem is None:
                return ""
            node = elem[int(index.rstrip("]"))] if index else elem
        return str(node)[:200]
    except (KeyError, IndexError, ValueError, TypeError):
        return ""


def inspect_file(path: Path, deid: DeidOptions, mask: MaskOptions, *, show_values: bool = False) -> Inspection:
    """Inspect one object without writing anything.

    Raises:
        InputError: the file is not a readable DICOM object.
    """
    ds = read_dataset(path)
    rows = inspect_dataset(ds, deid)
    frames = fps = fps_source = spacing_text = None
    regions = 0
    plan_text = "no pixel data"
    if has_pixels(ds):
        try:
            frames = check_pixel_geometry(ds)
        except DcmexportError as exc:
            plan_text = f"pixels not usable: {exc}"
        if frames and frames > 1:
            rate = frame_rate_from_dataset(ds)
            fps, fps_source = rate.fps, rate.source
        spacing = pixel_spacing_from_dataset(ds)
        if spacing is not None:
            unit = " mm" if spacing.physical else " (ratio)"
            spacing_text = f"{spacing.row:g} x {spacing.column:g}{unit} ({spacing.source})"
        regions = len(us_regions_from_dataset(ds))
        if frames:
            try:
                plan = plan_masks(ds, mask)
                plan_text = plan.describe() if not plan.is_empty else "nothing to mask"
            except BurnedInError as exc:
                plan_text = f"would be refused: {exc}"
    values = {row.path: _value_at(ds, row.path) for row in rows if row.keyword} if show_values else {}
    sop = ds.get("SOPClassUID", "")
    return Inspection(
        rows=rows,
        sop_class=getattr(sop, "name", str(sop)) if sop else "",
        modality=str(ds.get("Modality", "") or ""),
        burned_in_annotation=str(ds.get("BurnedInAnnotation", "") or "(absent)"),
        frames=frames,
        fps=fps,
        fps_source=fps_source,
        spacing=spacing_text,
        presets=[p.name for p in match_mask_presets(ds)],
        us_regions=regions,
        burned_in_reason=may_carry_burned_in(ds),
        mask_plan=plan_text,
        values=values,
    )
