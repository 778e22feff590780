"""The grayscale half of a presentation state: Modality LUT, VOI and Presentation LUT from the GSPS.

PS3.4 N.2.1.1: with a presentation state, the image's own Modality LUT, VOI
and Presentation LUT Shape do not apply; the state's do (an absent Modality LUT
in the state is the identity, an absent VOI is the identity too: the modality
values' full range maps to the Presentation LUT's input). The renderer is the
ordinary :class:`~dcmexport.render.renderer.FrameRenderer`, built on a small
dataset that carries the image's pixel description and the state's transforms;
the Presentation LUT shape becomes its photometric interpretation (INVERSE is
what MONOCHROME1 inversion does, IDENTITY is MONOCHROME2), and a Presentation
LUT table is looked up afterwards on a 16-bit rendering.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence

from dcmexport.errors import RenderError
from dcmexport.options import RenderOptions
from dcmexport.render.gsps import Lut, PresentationState, SoftcopyVoi
from dcmexport.render.lut import output_max, stored_value_range
from dcmexport.render.renderer import FrameRenderer, renderer_from_dataset

__all__ = ["PresentationRenderers", "apply_presentation_lut", "presentation_view"]

_PIXEL_DESCRIPTION = (
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "SamplesPerPixel",
    "NumberOfFrames",
    "FloatPixelData",
    "DoubleFloatPixelData",
)


def _lut_item(lut: Lut) -> Dataset:
    item = Dataset()
    # Explicit VRs: the dictionary's "US or SS" / "US or OW" would leave pydicom guessing.
    item.add_new(0x00283002, "SS" if lut.first < 0 else "US", [len(lut.data) % 65536, lut.first, lut.bits])
    item.add_new(0x00283006, "US", list(lut.data))
    return item


def _modality_range(image: Dataset, state: PresentationState) -> tuple[float, float]:
    """The range the state's Modality LUT can produce from the image's stored values."""
    if state.modality_lut is not None:
        return float(min(state.modality_lut.data)), float(max(state.modality_lut.data))
    bits = int(image.get("BitsStored", image.get("BitsAllocated", 16)) or 16)
    low, high = stored_value_range(min(bits, 32), int(image.get("PixelRepresentation", 0) or 0) == 1)
    slope, intercept = state.rescale or (1.0, 0.0)
    ends = sorted((low * slope + intercept, high * slope + intercept))
    return ends[0], ends[1]


def presentation_view(image: Dataset, state: PresentationState, voi: SoftcopyVoi | None) -> Dataset:
    """A dataset on which :func:`renderer_from_dataset` renders ``image`` as ``state`` says.

    :param image: the referenced image (only its pixel description is read).
    :param state: the presentation state.
    :param voi: the state's VOI item for the frame (None: identity VOI over the modality range).
    :returns: a new dataset; ``image`` is not changed.
    :raises RenderError: the image is not grayscale (a GSPS applies to MONOCHROME1/2 only).
    """
    photometric = str(image.get("PhotometricInterpretation", "")).strip().upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise RenderError("a Grayscale Softcopy Presentation State applies to MONOCHROME1/2 images; "
                          "(0028,0004) PhotometricInterpretation is not grayscale")
    view = Dataset()
    if hasattr(image, "file_meta"):
        view.file_meta = image.file_meta
    implicit, little = image.original_encoding
    view.set_original_encoding(implicit, little)
    for keyword in _PIXEL_DESCRIPTION:
        if keyword in image:
            view[keyword] = image[keyword]
    view.PhotometricInterpretation = "MONOCHROME1" if state.plut_shape == "INVERSE" else "MONOCHROME2"
    if state.modality_lut is not None:
        item = _lut_item(state.modality_lut)
        item.ModalityLUTType = "US"
        view.ModalityLUTSequence = DicomSequence([item])
    elif state.rescale is not None:
        view.RescaleSlope, view.RescaleIntercept = state.rescale
    if voi is not None and voi.lut is not None:
        view.VOILUTSequence = DicomSequence([_lut_item(voi.lut)])
    elif voi is not None and voi.window is not None:
        view.WindowCenter, view.WindowWidth = voi.window
        view.VOILUTFunction = voi.function
    else:
        low, high = _modality_range(image, state)
        width = max(1.0, high - low + 1)
        view.WindowCenter, view.WindowWidth = low + width / 2, width
    return view


def apply_presentation_lut(values: np.ndarray, lut: Lut, bit_depth: int) -> np.ndarray:
    """Map 16-bit VOI output through a Presentation LUT table to ``bit_depth`` display values.

    The VOI output range 0..65535 is scaled linearly onto the table's entries (truncated) and
    the table's output (``lut.bits`` wide) onto 0..2**bit_depth-1 (PS3.4 N.2.1.1).

    :param values: uint16 VOI output.
    :param lut: the Presentation LUT Sequence (2050,0010) item.
    :param bit_depth: 8 or 16.
    """
    entries = len(lut.data)
    # Truncated like dcmtk, which renders the VOI output straight into the table's index range.
    index = np.floor(np.arange(65536, dtype=np.float64) * (entries - 1) / 65535.0 + 1e-9).astype(np.int64)
    table = np.asarray(lut.data, dtype=np.float64)[index] * (output_max(bit_depth) / float((1 << lut.bits) - 1))
    dtype = np.uint8 if bit_depth == 8 else np.uint16
    full = np.clip(np.rint(table), 0, output_max(bit_depth)).astype(dtype)
    return np.take(full, values.astype(np.uint16, copy=False))


class _TableRenderer:
    """A 16-bit FrameRenderer followed by a Presentation LUT table (the FrameRenderer interface)."""

    is_color = False

    def __init__(self, inner: FrameRenderer, lut: Lut, bit_depth: int) -> None:
        self._inner, self._lut, self.bit_depth = inner, lut, bit_depth

    def render(self, frame: np.ndarray) -> np.ndarray:
        return apply_presentation_lut(self._inner.render(frame), self._lut, self.bit_depth)

    def passes_uint8_through(self) -> bool:
        return False

    def describe(self) -> str:
        return f"{self._inner.describe()}; presentation LUT table ({len(self._lut.data)} entries)"


class PresentationRenderers:
    """The renderer of every frame of an image under a presentation state (the :class:`FrameRenderers` interface).

    Frames whose VOI item differs (Softcopy VOI items may name frames) get their own renderer.
    """

    def __init__(self, image: Dataset, state: PresentationState, options: RenderOptions, uid: str) -> None:
        self._image, self._state, self._uid = image, state, uid
        # The state decides the VOI unless --window was typed; window index and name are the file's own.
        self._options = replace(options, window_index=0, window_name=None, window_preset=None)
        frames = int(image.get("NumberOfFrames", 1) or 1)
        self._keys = [self._voi_key(n) for n in range(frames)]
        self._by_key: dict[int, FrameRenderer | _TableRenderer] = {}
        self.first = self.for_frame(0)
        self.distinct = len(set(self._keys))
        self.varies = self.distinct > 1

    def _voi_key(self, index: int) -> int:
        voi = self._state.voi_for(self._uid, index + 1)
        return -1 if voi is None else self._state.vois.index(voi)

    def for_frame(self, index: int) -> FrameRenderer | _TableRenderer:
        """The renderer for frame ``index`` (0-based)."""
        key = self._keys[index] if index < len(self._keys) else self._keys[0]
        found = self._by_key.get(key)
        if found is None:
            voi = self._state.vois[key] if key >= 0 else None
            view = presentation_view(self._image, self._state, voi)
            if self._state.plut is not None:
                inner = renderer_from_dataset(view, replace(self._options, bit_depth=16))
                found = _TableRenderer(inner, self._state.plut, self._options.bit_depth)
            else:
                found = renderer_from_dataset(view, self._options)
            self._by_key[key] = found
        return found
