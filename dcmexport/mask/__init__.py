"""Burned-in text: rectangles, mask presets, ultrasound regions, the plan, masking Pixel Data, checks.

The OCR backend (:mod:`dcmexport.mask.ocr`) is not imported here: it is optional
and imported lazily by the callers that need it.
"""

from __future__ import annotations

from dcmexport.mask.detect import apply_channel_max, find_text_like_rows
from dcmexport.mask.presets import (
    TEXT_PRONE_MODALITIES,
    MaskMatch,
    MaskPreset,
    apply_plan_to_dataset,
    load_mask_presets,
    match_mask_presets,
    may_carry_burned_in,
    plan_masks,
    read_mask_file,
    read_mask_presets_file,
    us_regions_from_dataset,
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

__all__ = [
    "TEXT_PRONE_MODALITIES",
    "Box",
    "MaskMatch",
    "MaskPlan",
    "MaskPreset",
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
