"""The mask plan of one object: what its sources blank and keep, or its refusal; memoised by one declaration.

Sources, in order: the rectangles of every matching mask preset
(:mod:`dcmexport.mask.presets`), the ultrasound image regions to keep
(:mod:`dcmexport.mask.regions`), the user's ``--mask`` rectangles and the
rectangles of a ``--mask-file``. The refusal rule (:mod:`dcmexport.mask.policy`)
then decides whether a suspect object may go out with that plan.

:data:`PLAN_INPUTS` declares everything a plan is computed from: the MaskOptions
fields and the DICOM attributes each source reads. The memo key is derived from
it and nothing else, so a new mask source is declared there (one line) or its
plans would be stale; ``tests/test_mask_plan.py`` records the attributes a plan
reads on real files and fails on any that is not declared.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydicom.datadict import tag_for_keyword
from pydicom.dataset import Dataset

from dcmexport.errors import InputError
from dcmexport.mask import presets
from dcmexport.mask.policy import REFUSAL_ATTRIBUTES, check_coverage
from dcmexport.mask.presets import PRESET_ATTRIBUTES, match_mask_presets, read_mask_file
from dcmexport.mask.rects import Box, MaskPlan, clip_box
from dcmexport.mask.regions import US_REGION_ATTRIBUTES, us_regions_from_dataset, use_us_regions
from dcmexport.memo import Memo
from dcmexport.options import MaskOptions, MaskRect
from dcmexport.read import raw_signature


@dataclass(frozen=True)
class PlanInput:
    """One thing a mask plan is computed from, and what of the options and the object it reads.

    Attributes:
        name: the source or rule (plans cite sources as ``preset:<name>``, ``us-regions``, ``user`` ...).
        options: the :class:`~dcmexport.options.MaskOptions` fields it reads.
        attributes: the DICOM keywords it reads; those of group 0002 come from the file meta.
        memo: False when it reads something besides the options and the object each time it
            runs (a file the user may edit between two calls): a plan for which one of its
            ``options`` is set (not None) is computed afresh, never memoised.
        library: for a source that consults a shared resource (the shipped preset library):
            returns it for these options, or None when it is not consulted. Compared by
            identity: plans made against another one are dropped.
        pixels: the source reads the object's pixels (OCR), so no header can key it: it is not
            part of :func:`plan_masks` (whose plans the memo keeps) but adds its boxes to that
            plan per object, afterwards, when :func:`pixel_sources` names it for the options.
            Its options do not key the memo (the header plan is the same whatever they are).
    """

    name: str
    options: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    memo: bool = True
    library: Callable[[MaskOptions], object] | None = None
    pixels: bool = False


def _preset_library(options: MaskOptions) -> object:
    # Looked up on the module at call time, so that a reloaded (or, in tests, replaced)
    # library is seen; without presets the library is not loaded at all.
    return presets.default_mask_presets() if options.use_presets else None


#: Everything a mask plan is computed from (besides the code): the memo key derives from this alone.
#: A new mask source adds its line here.
PLAN_INPUTS: tuple[PlanInput, ...] = (
    PlanInput("geometry", attributes=("Rows", "Columns")),  # rectangles are resolved against the frame
    PlanInput("character set", attributes=("SpecificCharacterSet",)),  # decodes the strings read below
    PlanInput("presets", options=("use_presets",), attributes=PRESET_ATTRIBUTES, library=_preset_library),
    PlanInput("us-regions", options=("us_regions",), attributes=US_REGION_ATTRIBUTES),
    PlanInput("user", options=("rects",)),
    PlanInput("mask-file", options=("mask_file", "file_rects"), memo=False),  # file_rects: read at start-up
    # --redact-text defers the refusal to the pixels (the redaction's second pass clears or raises it).
    PlanInput("refusal", options=("accept_burned_in", "redact_text"), attributes=REFUSAL_ATTRIBUTES),
    # OCR redaction (dcmexport.mask.redact): reads rendered frames, so it runs per object after the header plan.
    PlanInput("ocr-redact", options=("redact_text", "ocr_all_frames", "ocr_step"), pixels=True),
)

#: MaskOptions fields that do not shape a plan: they choose the checks run after masking.
#: Every field is in PLAN_INPUTS or in this set, not both (tests/test_mask_plan.py).
NOT_PLAN_OPTIONS: frozenset[str] = frozenset({"ocr_check"})


def pixel_sources(options: MaskOptions) -> tuple[str, ...]:
    """The names of the mask sources that read pixels and are switched on by ``options``.

    A pixel source is on when its first declared option is set (not None, False or ``"off"``);
    the pipeline runs each of them per object after :func:`plan_masks`.
    """
    names = []
    for source in PLAN_INPUTS:
        if source.pixels and source.options:
            value = getattr(options, source.options[0])
            if value not in (None, False, "off"):
                names.append(source.name)
    return tuple(names)


def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise ValueError(f"PLAN_INPUTS names {keyword!r}, which is not a DICOM keyword")
    return int(tag)


class PlanMemo:
    """Plans already made in this process, keyed by what ``inputs`` declare a plan depends on.

    A series shares one plan: matching the preset library converted and compared
    a dozen attributes per object (~0.6 ms per CT slice, paid by every ``deid``;
    issue #3 asks for 3x dicognito's throughput). The key holds the declared
    option values and the raw bytes of the declared elements, so equal keys give
    equal plans.
    """

    def __init__(self, inputs: Sequence[PlanInput], name: str = "mask plans", max_plans: int = 256) -> None:
        self.inputs = tuple(inputs)
        header_inputs = [i for i in self.inputs if not i.pixels]
        self.option_fields = tuple(dict.fromkeys(field for i in header_inputs for field in i.options))
        self.fresh_fields = tuple(field for i in self.inputs if not i.memo for field in i.options)
        tags = sorted({_tag(keyword) for i in self.inputs for keyword in i.attributes})
        self.body_tags = tuple(t for t in tags if t >> 16 != 0x0002)
        self.meta_tags = tuple(t for t in tags if t >> 16 == 0x0002)
        self._plans: Memo[tuple[object, ...], MaskPlan] = Memo(name, max_plans)
        self._libraries: dict[str, object] = {}

    def key(self, ds: Dataset, options: MaskOptions) -> tuple[object, ...] | None:
        """What decides ``ds``'s plan, as raw bytes; None when the plan must be computed afresh.

        Not memoised: a plan reading something outside the object each time (an
        input declared ``memo=False`` with its option set: a ``mask_file``, read
        again for each object, the user may change it between API calls) and
        datasets whose declared elements were already converted (:func:`raw_signature`).
        """
        if any(getattr(options, name) is not None for name in self.fresh_fields):
            return None
        body = raw_signature(ds, self.body_tags)
        meta = ds.get("file_meta")
        meta_values = raw_signature(meta, self.meta_tags) if meta is not None else ()
        if body is None or meta_values is None:
            return None
        return tuple(getattr(options, name) for name in self.option_fields), body, meta_values

    def get(self, key: tuple[object, ...], options: MaskOptions) -> MaskPlan | None:
        """The plan stored under ``key``; None when absent or made against another library."""
        for source in self.inputs:
            library = source.library(options) if source.library is not None else None
            if library is not None and self._libraries.get(source.name) is not library:
                self._plans.clear()
                self._libraries[source.name] = library
                return None
        return self._plans.get(key)

    def put(self, key: tuple[object, ...], plan: MaskPlan) -> None:
        """Store ``plan`` under ``key`` (the oldest plan goes when the memo is full)."""
        self._plans.put(key, plan)

    def clear(self) -> None:
        """Forget every plan."""
        self._plans.clear()


_PLAN_MEMO = PlanMemo(PLAN_INPUTS)


def plan_key(ds: Dataset, options: MaskOptions) -> tuple[object, ...] | None:
    """The memo key of ``ds``'s plan under ``options`` (see :meth:`PlanMemo.key`); None: not memoised."""
    return _PLAN_MEMO.key(ds, options)


def plan_masks(ds: Dataset, options: MaskOptions, *, label: str | None = None) -> MaskPlan:
    """Decide what to blank in ``ds``, or refuse it.

    Blanks: rectangles of every matching preset (when ``options.use_presets``),
    then ``options.rects``, then the rectangles of ``options.mask_file``.
    Keep: the ultrasound image regions when ``options.us_regions`` is True, or
    None and the Modality is US (PS3.3 C.8.5.5).

    Refusal rule (fail closed): when :func:`~dcmexport.mask.policy.may_carry_burned_in`
    gives a reason and the plan covers nothing (no preset, no region, no user
    mask), the object is refused unless ``options.accept_burned_in``. A user
    rectangle counts only when it covers at least one pixel of the object: one
    that lies outside the image is dropped and noted in ``plan.notes`` (and in
    the refusal message), never taken as coverage.

    With ``options.redact_text`` on, the refusal is deferred to the pixels instead:
    the plan comes back with ``unresolved`` set, and is unusable until the OCR
    redaction's second pass clears it (:mod:`dcmexport.mask.redact`).

    Plans are memoised by :data:`PLAN_INPUTS`; refusals and deferred refusals never
    are (their message names the object). Pixel sources (``pixels=True`` inputs) are
    not run here.

    Args:
        ds: the object, with its original attributes (presets match on Manufacturer etc.).
        options: the user's mask options.
        label: how messages name the object (a path or a pseudonymous id); optional.

    Returns:
        The plan (possibly empty when nothing is suspect or the user accepted the risk).

    Raises:
        BurnedInError: refused; the message names the reason (tags and keywords)
            and the flags that resolve it.
        InputError: Rows (0028,0010) or Columns (0028,0011) missing.
        PresetError: the preset library or the mask file is invalid.
    """
    key = _PLAN_MEMO.key(ds, options)
    if key is not None and (plan := _PLAN_MEMO.get(key, options)) is not None:
        return plan
    plan = _plan_masks(ds, options, label)
    if key is not None and plan.unresolved is None:  # a deferred refusal names the object, like a refusal
        _PLAN_MEMO.put(key, plan)
    return plan


def _plan_masks(ds: Dataset, options: MaskOptions, label: str | None) -> MaskPlan:
    who = label or "object"
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
    except (AttributeError, TypeError, ValueError):
        raise InputError(
            f"{who}: (0028,0010) Rows or (0028,0011) Columns missing; cannot place masks"
        ) from None

    blank: list[Box] = []
    sources: list[str] = []
    notes: list[str] = []

    def add(rects: Sequence[MaskRect], source: str, named: str | None = None) -> None:
        """Add the boxes of ``rects``; a user's rectangle (``named``) that covers nothing is noted."""
        added = False
        for rect in rects:
            box = clip_box(rect.resolve(rows, columns), rows, columns)
            if box is None and named is not None:
                notes.append(
                    f"{named} {rect.x},{rect.y},{rect.width},{rect.height} lies outside the {columns}x{rows} "
                    "image: it masks nothing and does not count as covering burned-in text"
                )
            elif box is not None and box not in blank:
                blank.append(box)
                added = True
        if added:
            sources.append(source)

    if options.use_presets:
        for preset in match_mask_presets(ds):
            add(preset.rects, f"preset:{preset.name}")
    keep: tuple[Box, ...] | None = None
    if use_us_regions(ds, options.us_regions):
        regions = us_regions_from_dataset(ds)
        if regions:
            keep = regions
            sources.append("us-regions")
    add(options.rects, "user", "--mask")
    if options.mask_file is not None:
        rects = options.file_rects if options.file_rects is not None else read_mask_file(options.mask_file)
        add(rects, "mask-file", "--mask-file rectangle")

    plan = MaskPlan(blank=tuple(blank), keep=keep, sources=tuple(sources), notes=tuple(notes))
    deferred = check_coverage(ds, plan, accept_burned_in=options.accept_burned_in, label=label,
                              defer=options.redact_text != "off")
    if deferred is not None:
        plan = MaskPlan(blank=plan.blank, keep=plan.keep, sources=plan.sources, notes=plan.notes,
                        unresolved=deferred)
    return plan
