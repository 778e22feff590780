"""What ``dcmexport inspect`` reports about one object, as data (the CLI only prints it).

PHI-free unless the caller asks for values: rows carry tag, keyword, resolved
action and sequence path; values are read only with ``show_values=True``.
The rows themselves are built by the engine (:func:`dcmexport.deid.inspect_dataset`);
:func:`resolve_row` is the one way back from a row to its element.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

from dcmexport.deid import DeidOptions, InspectRow, inspect_dataset
from dcmexport.errors import BurnedInError, DcmexportError

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.options import MaskOptions


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


_PATH_STEP = re.compile(r"^(?P<name>[^\[]+)\[(?P<index>\d+)\]$")


def resolve_row(ds: Dataset, row: InspectRow) -> DataElement | None:
    """Return the element an :class:`~dcmexport.deid.InspectRow` names, or None.

    The one resolver of inspect rows (``verify`` and ``inspect --show-values`` use it): it
    follows the row's path, ``Seq[0].Keyword`` or ``(gggg,eeee)[0].Keyword`` at any depth,
    then takes the row's tag in the item it reached.

    Args:
        ds: the dataset the row was listed from.
        row: a row of :func:`~dcmexport.deid.inspect_dataset`.

    Returns:
        The element (a DataElement), or None when the path does not lead to it.
    """
    tag = int(row.tag[1:5] + row.tag[6:10], 16)
    target: Dataset = ds
    for step in row.path.split(".")[:-1]:
        m = _PATH_STEP.match(step)
        if m is None:
            return None
        name = m.group("name")
        seq_tag = tag_for_keyword(name) if not name.startswith("(") else int(name[1:5] + name[6:10], 16)
        if seq_tag is None or seq_tag not in target:
            return None
        items = target[seq_tag].value
        index = int(m.group("index"))
        if not isinstance(items, DicomSequence) or index >= len(items):
            return None
        target = items[index]
    return target.get(tag)  # the element (an int key), or None


#: characters of a value shown by ``inspect --show-values`` (a long UT is cut, with a note)
SHOWN_CHARS = 2000


def value_text(elem: DataElement) -> str:
    """An element's value as text: values joined with ``\\``, a sequence or bytes as a short summary.

    The value itself, never pydicom's element representation (which quotes the tag, name and
    VR and abbreviates long values). PHI: for ``--show-values`` and ``verify --show-values`` only.
    """
    value = elem.value
    if elem.VR == "SQ":
        return f"<sequence of {len(value or [])} item(s)>"
    if isinstance(value, bytes | bytearray):
        return f"<{len(value)} bytes>"
    if value is None:
        return ""
    if isinstance(value, MultiValue | list | tuple):
        return "\\".join(str(v) for v in value)
    return str(value)


def _value_at(ds: Dataset, row: InspectRow) -> str:
    """The element a row names, as text (``show_values`` only: PHI)."""
    elem = resolve_row(ds, row)
    if elem is None:
        return ""
    text = value_text(elem)
    if len(text) > SHOWN_CHARS:
        text = f"{text[:SHOWN_CHARS]}… (+{len(text) - SHOWN_CHARS} characters)"
    return text


def inspect_file(path: Path, deid: DeidOptions, mask: MaskOptions, *, show_values: bool = False) -> Inspection:
    """Inspect one object without writing anything.

    Raises:
        InputError: the file is not a readable DICOM object.
    """
    # Imported here: verify uses resolve_row without the pixel stages.
    from dcmexport.burnedin import (
        match_mask_presets,
        may_carry_burned_in,
        plan_masks,
        us_regions_from_dataset,
    )
    from dcmexport.cine import frame_rate_from_dataset
    from dcmexport.read import check_pixel_geometry, has_pixels, read_dataset
    from dcmexport.render import pixel_spacing_from_dataset

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
    values = {row.path: _value_at(ds, row) for row in rows if row.keyword} if show_values else {}
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
