"""Planning a figure for one object, from its ORIGINAL header: VOI choice, overlays, presentation state,
viewport, annotations, scale bar and print resolution.

Everything here reads geometry, LUTs, overlay bitmaps and a presentation state,
never identity; notes name tags, keywords and counts only. The pixels are
changed by :class:`dcmexport.render.figure.FigureRenderer`, which this module
builds.
"""

from __future__ import annotations

import math
from dataclasses import replace

from pydicom.dataset import Dataset

from dcmexport.errors import RenderError
from dcmexport.figure_options import Annotations, Color, CropUnit, FigureOptions
from dcmexport.options import ExportOptions, RenderOptions, Window
from dcmexport.render.annotate import Ink
from dcmexport.render.aspect import PixelSpacing
from dcmexport.render.figure import (
    Drawing,
    FigureRenderer,
    annotations_from_state,
    geometric_shutters,
    layer_ink,
    shutter_planes,
)
from dcmexport.render.gsps import DisplayedArea, PresentationState
from dcmexport.render.overlays import OverlayPlane, overlay_planes_from_dataset
from dcmexport.render.scalebar import choose_length, format_length, scale_spacing_from_dataset
from dcmexport.render.viewport import Box, Viewport, plan_viewport
from dcmexport.results import ExportResult

#: (0008,0060) codes that may be quoted in a message (the value is then one of ours, not free text).
_MODALITY_CODES = frozenset({"CT", "MR", "CR", "DX", "MG", "US", "NM", "PT", "XA", "RF", "OT", "SC", "IO", "PX",
                             "ES", "XC", "OP", "SM", "RG", "DG", "BI", "TG"})


def _note(result: ExportResult, text: str) -> None:
    if text not in result.notes:
        result.notes.append(text)


def _values(value: object) -> list[object]:
    if value is None or value == "":
        return []
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)


def _explanations(ds: Dataset) -> list[str]:
    """Window Center & Width Explanation (0028,1055), from the top level or the first functional group."""
    values = _values(ds.get("WindowCenterWidthExplanation"))
    if not values:
        for group_kw in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
            groups = ds.get(group_kw)
            voi = groups[0].get("FrameVOILUTSequence") if groups else None
            if voi:
                values = _values(voi[0].get("WindowCenterWidthExplanation"))
                break
    return [" ".join(str(v).split()).casefold() for v in values]


def resolve_voi(ds: Dataset, render: RenderOptions, result: ExportResult) -> RenderOptions:
    """Turn ``--window NAME`` (a preset) and ``--window-name`` into the plain window / index the renderer takes.

    :raises RenderError: the preset is not meant for this object's modality, or no window of the file
        has that explanation.
    """
    preset = render.window_preset
    if preset is not None:
        modality = str(ds.get("Modality", "") or "").strip().upper()
        if not preset.applies_to(modality):
            shown = modality if modality in _MODALITY_CODES else "another modality"
            raise RenderError(
                f"window preset {preset.name} is for {'/'.join(preset.modalities)} ({preset.units}); "
                f"(0008,0060) Modality is {shown}: pass --window CENTER,WIDTH instead"
            )
        _note(result, f"window preset {preset.name}: {preset.center:g}/{preset.width:g} {preset.units}")
        return replace(render, window=Window(preset.center, preset.width), window_preset=None)
    if render.window_name is not None:
        wanted = " ".join(render.window_name.split()).casefold()
        explanations = _explanations(ds)
        if wanted not in explanations:
            raise RenderError(
                f"--window-name: none of the {len(explanations)} window(s) of this object has that "
                "(0028,1055) WindowCenterWidthExplanation; list them with `dcmexport inspect FILE --show-values`, "
                "or use --window-index"
            )
        index = explanations.index(wanted)
        _note(result, f"window #{index} chosen by (0028,1055) WindowCenterWidthExplanation")
        return replace(render, window_index=index, window_name=None)
    return render


def _ink(color: Color) -> Ink:
    return (color.red / 255.0, color.green / 255.0, color.blue / 255.0)


def _crop_box(ds: Dataset, figure: FigureOptions, rows: int, cols: int) -> Box | None:
    crop = figure.crop
    if crop is None:
        return None
    x, y, w, h = crop.x, crop.y, crop.width, crop.height
    if crop.unit is CropUnit.MM:
        spacing, why = scale_spacing_from_dataset(ds)
        if spacing is None:
            raise RenderError(f"--crop-mm needs a trustworthy pixel spacing: {why}; use --crop in pixels")
        x, w = x / spacing.column, w / spacing.column
        y, h = y / spacing.row, h / spacing.row
    x0, y0 = max(0, math.floor(x)), max(0, math.floor(y))
    x1, y1 = min(cols, math.ceil(x + w)), min(rows, math.ceil(y + h))
    if x1 <= x0 or y1 <= y0:
        raise RenderError(f"the crop lies outside the image ({cols} x {rows} stored pixels)")
    return x0, y0, x1, y1


def _area_geometry(area: DisplayedArea | None, rows: int, cols: int) -> tuple[Box, PixelSpacing | None]:
    """The displayed area as a stored-pixel box (PS3.3 C.10.4: corners before the spatial transformation)."""
    if area is None:
        return (0, 0, cols, rows), None
    (c0, r0), (c1, r1) = area.tlhc, area.brhc
    box = (min(c0, c1) - 1, min(r0, r1) - 1, max(c0, c1), max(r0, r1))
    spacing = None
    if area.spacing is not None:
        spacing = PixelSpacing(area.spacing[0], area.spacing[1], "PresentationPixelSpacing")
    elif area.aspect is not None:
        spacing = PixelSpacing(area.aspect[0], area.aspect[1], "PresentationPixelAspectRatio", physical=False)
    return box, spacing


def _overlays(ds: Dataset, figure: FigureOptions, state: PresentationState | None,
              result: ExportResult) -> tuple[list[OverlayPlane], list[OverlayPlane], list[Ink]]:
    """(the image's planes, the planes to burn, their inks)."""
    image_planes, notes = overlay_planes_from_dataset(ds)
    default = _ink(figure.overlay_color)
    bitmap_group = state.shutters.bitmap_group if state is not None and state.shutters is not None else None
    if state is None:
        if figure.overlays:
            for note in notes:
                _note(result, note)
            return image_planes, image_planes, [default] * len(image_planes)
        return image_planes, [], []
    chosen: list[OverlayPlane] = []
    inks: list[Ink] = []
    for group, layer in sorted(state.activated.items()):
        if group == bitmap_group:
            continue
        plane = next((p for p in (*state.overlays, *image_planes) if p.group == group), None)
        if plane is not None:
            chosen.append(plane)
            inks.append(layer_ink(state, layer, default))
    if chosen and not figure.overlays:
        _note(result, f"the presentation state activates {len(chosen)} overlay plane(s): not burned without "
                      "--overlays (overlays can carry identifying text)")
        return image_planes, [], []
    return image_planes, chosen, inks


def _drawings(state: PresentationState, uid: str, frames: int, viewport: Viewport,
              figure: FigureOptions, result: ExportResult) -> tuple[dict[int, Drawing], Drawing]:
    if figure.annotations is Annotations.NONE:
        if state.annotations:
            _note(result, "graphic annotations of the presentation state not burned (--annotations none)")
        return {}, Drawing()
    with_text = figure.annotations is Annotations.TEXT
    by_items: dict[tuple[int, ...], Drawing] = {}
    drawings: dict[int, Drawing] = {}
    for n in range(frames):
        items = state.annotations_for(uid, n + 1)
        key = tuple(id(i) for i in items)
        if key not in by_items:
            by_items[key] = annotations_from_state(state, uid, n + 1, viewport, with_text=with_text)
        drawings[n] = by_items[key]
    first = drawings.get(0, Drawing())
    texts = sum(len(a.texts) for a in state.annotations)
    if first.shapes or first.labels:
        _note(result, f"burned in from the presentation state: {len(first.shapes)} graphic(s), "
                      f"{len(first.labels)} text object(s)")
    if texts and not with_text:
        _note(result, f"{texts} text object(s) of the presentation state not burned (text can carry PHI; "
                      "--annotations text burns them and runs the burned-in text check)")
    return drawings, Drawing()


def plan_figure(
    ds: Dataset,
    options: ExportOptions,
    render: RenderOptions,
    frames: int,
    result: ExportResult,
    *,
    state: PresentationState | None = None,
    aspect_spacing: PixelSpacing | None = None,
) -> FigureRenderer:
    """Plan overlays, shutters, viewport, annotations and scale bar for one object.

    :param ds: the ORIGINAL dataset (before de-identification).
    :param options: the run's options (``options.figure``).
    :param render: the render options in force (bit depth, aspect, max side).
    :param frames: the object's number of frames.
    :param result: receives PHI-free notes.
    :param state: the presentation state applied to this image, if any.
    :param aspect_spacing: the sampling aspect correction uses (None: no aspect correction).
    :raises RenderError: a crop outside the image, a scale bar without a trustworthy spacing or too
        long for the image; the message says why.
    """
    figure = options.figure
    rows, cols = int(ds.Rows), int(ds.Columns)
    uid = str(ds.get("SOPInstanceUID", "") or "")
    image_planes, planes, inks = _overlays(ds, figure, state, result)
    rotation, flip, zoom = 0, False, figure.zoom
    spacing = aspect_spacing
    shutters = None
    bitmap: tuple[OverlayPlane, ...] = ()
    level = 0.0
    area: DisplayedArea | None = None
    if state is not None:
        area = state.area_for(uid, 1)
        box, area_spacing = _area_geometry(area, rows, cols)
        if render.aspect and area_spacing is not None:
            spacing = area_spacing
        rotation, flip = state.rotation, state.flip
        if area is not None and area.mode == "MAGNIFY" and area.magnification:
            zoom *= area.magnification
        shutters = geometric_shutters(state, (rows, cols))
        bitmap = shutter_planes(state, image_planes)
        level = state.shutters.value / 65535.0 if state.shutters is not None else 0.0
        if frames > 1 and any(state.area_for(uid, n + 1) is not area for n in range(frames)):
            _note(result, "the presentation state's displayed area differs between frames: frame 1's is used")
    else:
        box = _crop_box(ds, figure, rows, cols) or (0, 0, cols, rows)
        if figure.crop is not None:
            _note(result, f"cropped to {box[2] - box[0]} x {box[3] - box[1]} stored pixels at {box[0]},{box[1]}")
    viewport = plan_viewport(rows, cols, box=box, rotation=rotation, flip=flip, spacing=spacing, zoom=zoom,
                             max_side=render.max_side)
    if figure.target_width is not None:
        base = plan_viewport(rows, cols, box=box, rotation=rotation, flip=flip, spacing=spacing)
        viewport = plan_viewport(rows, cols, box=box, rotation=rotation, flip=flip, spacing=spacing,
                                 zoom=figure.target_width / base.out_size[1], max_side=render.max_side)
        _note(result, f"resampled to {viewport.out_size[1]} px wide: {figure.width_mm:g} mm at {figure.dpi:g} dpi")
    drawings: dict[int, Drawing] = {}
    default = Drawing()
    if state is not None:
        drawings, default = _drawings(state, uid, frames, viewport, figure, result)
    bar = None
    if figure.scale_bar is not None:
        bar = _scale_bar(ds, figure, viewport, area)
        _note(result, f"scale bar {format_length(bar[1])} (from {bar[3]})")
    if viewport.out_size != (rows, cols) and not any(n.startswith("resized") for n in result.notes):
        _note(result, f"resized {cols}x{rows} -> {viewport.out_size[1]}x{viewport.out_size[0]}")
    return FigureRenderer(
        viewport=viewport,
        grey_only=render.bit_depth == 16,
        overlays=tuple(planes),
        overlay_inks=tuple(inks),
        shutters=shutters,
        bitmap_shutters=bitmap,
        shutter_level=level,
        drawings=drawings,
        default_drawing=default,
        scale_bar=(bar[0], bar[1], bar[2]) if bar is not None else None,
        physical_spacing=(PixelSpacing(area.spacing[0], area.spacing[1], "PresentationPixelSpacing")
                          if area is not None and area.spacing is not None else None),
    )


def _scale_bar(ds: Dataset, figure: FigureOptions, viewport: Viewport,
               area: DisplayedArea | None) -> tuple[float, float, str, str]:
    assert figure.scale_bar is not None
    if area is not None and area.spacing is not None:
        spacing: PixelSpacing | None = PixelSpacing(area.spacing[0], area.spacing[1], "PresentationPixelSpacing")
        why = ""
    else:
        spacing, why = scale_spacing_from_dataset(ds)
    if spacing is None:
        raise RenderError(f"--scale-bar needs a trustworthy pixel spacing: {why}; export without --scale-bar")
    _, col_mm = viewport.output_spacing(spacing)
    cols = viewport.out_size[1]
    length = figure.scale_bar.length_mm or choose_length(col_mm, cols)
    if length / col_mm > 0.9 * cols or length / col_mm < 2:
        raise RenderError(
            f"--scale-bar {format_length(length)} does not fit: the output is {cols * col_mm:.3g} mm wide "
            f"({cols} px); choose a length under {0.9 * cols * col_mm:.3g} mm, or auto"
        )
    return col_mm, length, figure.scale_bar.corner.value, spacing.source


def figure_dpi(figure: FigureOptions, viewport: Viewport | None, spacing: PixelSpacing | None,
               out_shape: tuple[int, ...]) -> tuple[float, float] | None:
    """The resolution to record: ``--dpi``; else ``--width-mm`` over the output width; else the physical size.

    The physical size is the stored spacing carried through the viewport (crop, zoom, rotation), so a
    cropped or zoomed 16-bit TIFF still prints at the size of the anatomy. None when nothing is known.
    """
    if figure.dpi is not None:
        return figure.dpi, figure.dpi
    if figure.width_mm is not None:
        dpi = out_shape[1] * 25.4 / figure.width_mm
        return dpi, dpi
    if spacing is None or not spacing.physical or viewport is None:
        return None
    row_mm, col_mm = viewport.output_spacing(spacing)
    return 25.4 / col_mm, 25.4 / row_mm
