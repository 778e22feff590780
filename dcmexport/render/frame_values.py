"""The values that render one frame: top-level attributes, or an enhanced object's functional groups.

Enhanced multi-frame objects carry rescale and window per frame (Per-frame
Functional Groups) or for all frames (Shared Functional Groups), PS3.3
C.7.6.16.2. :func:`render_view` flattens what one frame needs into a small
dataset that the grayscale maths reads; :func:`per_frame_keys` tells which
frames differ, so that frames with equal values share one renderer.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

# Attributes copied into the render view, grouped by the functional-group
# sequence that carries them in enhanced multi-frame objects (PS3.3 C.7.6.16.2).
_MODALITY_KEYWORDS = ("RescaleSlope", "RescaleIntercept", "RescaleType")
_VOI_KEYWORDS = ("WindowCenter", "WindowWidth", "VOILUTFunction")
_TOP_LEVEL_ONLY = (
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "SamplesPerPixel",
    "ModalityLUTSequence",
    "VOILUTSequence",
)


def _functional_group_items(ds: Dataset, keyword: str, frame: int = 0) -> list[Dataset]:
    """The first item of ``keyword`` inside the Shared, then the ``frame``-th Per-frame, functional group."""
    items = _shared_items(ds, keyword)
    groups = ds.get("PerFrameFunctionalGroupsSequence")
    if groups and frame < len(groups):
        seq = groups[frame].get(keyword)
        if seq:
            items.append(seq[0])
    return items


def _shared_items(ds: Dataset, keyword: str) -> list[Dataset]:
    """The first item of ``keyword`` inside the Shared Functional Groups, as a list of at most one."""
    groups = ds.get("SharedFunctionalGroupsSequence")
    seq = groups[0].get(keyword) if groups else None
    return [seq[0]] if seq else []


#: (attributes, functional group sequence that carries them, attribute whose presence decides the source)
_FUNCTIONAL_GROUPS = (
    (_MODALITY_KEYWORDS, "PixelValueTransformationSequence", "RescaleSlope"),
    (_VOI_KEYWORDS, "FrameVOILUTSequence", "WindowCenter"),
)


def render_view(ds: Dataset, frame: int = 0) -> Dataset:
    """A small Dataset holding only what the grayscale maths reads for ``frame``, with functional groups flattened.

    pydicom's ``apply_modality_lut`` / ``apply_voi`` read top-level attributes only;
    this view lets them (and our adapters) work on enhanced objects too, without
    touching the caller's dataset. Each attribute comes from the top level, else the
    Shared Functional Groups, else the frame's own Per-frame Functional Groups item
    (PS3.3 C.7.6.16). The view keeps the file's encoding, which pydicom needs to
    unpack OW LUT Data.
    """
    view = Dataset()
    if hasattr(ds, "file_meta"):
        view.file_meta = ds.file_meta
    implicit, little = ds.original_encoding
    view.set_original_encoding(implicit, little)
    for kw in _TOP_LEVEL_ONLY:
        if kw in ds:
            view[kw] = ds[kw]
    for keywords, container, key in _FUNCTIONAL_GROUPS:
        for source in [ds, *_functional_group_items(ds, container, frame)]:
            if key in source:
                for kw in keywords:
                    if kw in source:
                        view[kw] = source[kw]
                break
    return view


def per_frame_keys(ds: Dataset) -> list[tuple[object, ...]]:
    """For each Per-frame Functional Groups item, the values it gives the render view; [] when none does.

    Only attributes the view takes from the per-frame item count: the top level
    and the Shared Functional Groups win (see :func:`render_view`).
    """
    groups = ds.get("PerFrameFunctionalGroupsSequence")
    if not groups or len(groups) < 2:
        return []
    containers = []
    for keywords, container, key in _FUNCTIONAL_GROUPS:
        if key in ds or any(key in item for item in _shared_items(ds, container)):
            continue
        containers.append((keywords, container))
    if not containers:
        return []
    keys: list[tuple[object, ...]] = []
    for item in groups:
        frame_key: list[object] = []
        for keywords, container in containers:
            seq = item.get(container)
            values = seq[0] if seq else None
            frame_key.append(tuple(_hashable(values.get(kw) if values is not None else None) for kw in keywords))
        keys.append(tuple(frame_key))
    return keys


def _hashable(value: object) -> object:
    """A DICOM value as a hashable key (multi-valued attributes become tuples of text)."""
    if value is None or isinstance(value, str | int | float):
        return value
    try:
        return tuple(str(v) for v in value)  # type: ignore[attr-defined]
    except TypeError:
        return str(value)
