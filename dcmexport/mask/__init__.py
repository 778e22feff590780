"""Burned-in text: rectangles, mask presets, ultrasound regions, the plan, masking Pixel Data, checks.

Modules: :mod:`~dcmexport.mask.rects` (pure array functions and :class:`MaskPlan`),
:mod:`~dcmexport.mask.presets` (the rule library and ``--mask-file``),
:mod:`~dcmexport.mask.regions` (ultrasound regions), :mod:`~dcmexport.mask.policy`
(the refusal rule), :mod:`~dcmexport.mask.plan` (the plan, memoised by one
declaration of its inputs), :mod:`~dcmexport.mask.apply` (masking a DICOM's
Pixel Data), :mod:`~dcmexport.mask.detect` (the text-like rows detector) and
:mod:`~dcmexport.mask.ocr` (the optional Tesseract backend), :mod:`~dcmexport.mask.redact`
(the OCR redaction, ``--redact-text``: a mask source that reads pixels) and
:mod:`~dcmexport.mask.words` (PHI-like words and the allow list); the last three are not
imported here, callers import them lazily.
"""

from __future__ import annotations

from dcmexport.mask.apply import apply_plan_to_dataset
from dcmexport.mask.detect import apply_channel_max, find_text_like_rows
from dcmexport.mask.plan import PLAN_INPUTS, PlanInput, plan_masks
from dcmexport.mask.policy import TEXT_PRONE_MODALITIES, may_carry_burned_in
from dcmexport.mask.presets import (
    MaskMatch,
    MaskPreset,
    load_mask_presets,
    match_mask_presets,
    read_mask_file,
    read_mask_presets_file,
)
from dcmexport.mask.rects import (
    Box,
    MaskPlan,
    align_box_outward,
    apply_blank_boxes,
    apply_keep_boxes,
    clip_box,
    complement_boxes,
    keep_mask,
)
from dcmexport.mask.regions import us_regions_from_dataset

__all__ = [
    "PLAN_INPUTS",
    "TEXT_PRONE_MODALITIES",
    "Box",
    "MaskMatch",
    "MaskPlan",
    "MaskPreset",
    "PlanInput",
    "align_box_outward",
    "apply_blank_boxes",
    "apply_channel_max",
    "apply_keep_boxes",
    "apply_plan_to_dataset",
    "clip_box",
    "complement_boxes",
    "find_text_like_rows",
    "keep_mask",
    "load_mask_presets",
    "match_mask_presets",
    "may_carry_burned_in",
    "plan_masks",
    "read_mask_file",
    "read_mask_presets_file",
    "us_regions_from_dataset",
]
