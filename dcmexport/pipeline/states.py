"""Presentation states among the inputs: find them, pair them with the images they reference, load them.

``--presentation-state auto`` reads the header of every input once (the SOP
Class and Instance UIDs only, no pixels) before the batch starts; each
Grayscale Softcopy Presentation State is parsed there, in the client, and
attached to the images it references. ``--presentation-state FILE`` attaches
that one file to every image (it applies to those it references). The states
themselves are never exported: each one among the inputs is reported as
consumed (status ``skipped``), or as failed when it cannot be used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

from dcmexport.errors import DcmexportError, InputError, RenderError, UsageError
from dcmexport.figure_options import GSPS_SOP_CLASS, PresentationMode
from dcmexport.memo import Memo
from dcmexport.options import ExportOptions
from dcmexport.read import read_dataset, sha256_file
from dcmexport.render.gsps import PresentationState, latest, presentation_state_from_dataset
from dcmexport.results import FAILED, SKIPPED, ExportResult
from dcmexport.sources import InputItem

#: Parsed states of this process, keyed by path, size and modification time.
_STATES: Memo[tuple[str, int, int], PresentationState] = Memo("presentation states", 256)


def load_state(path: Path) -> PresentationState:
    """Read and parse a presentation state file (memoised per process).

    :raises RenderError: malformed state; :raises InputError: unreadable file.
    """
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    found = _STATES.get(key)
    if found is None:
        found = _STATES.put(key, presentation_state_from_dataset(read_dataset(path)))
    return found


@dataclass(frozen=True)
class Planned:
    """One input with what the batch does with it: an image (with candidate states) or a state (consumed)."""

    item: InputItem
    is_state: bool
    presentations: tuple[Path, ...] = ()  # image: the states that may apply; state: the images it applies to


def _header(path: Path) -> Dataset | None:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID", "SOPInstanceUID"])
    except Exception:  # not DICOM or unreadable: the export reports it properly
        return None


def pair_presentation_states(items: Iterable[InputItem], options: ExportOptions) -> list[Planned]:
    """Plan the inputs of an export with presentation states (see the module docstring).

    :raises UsageError: the ``--presentation-state`` file cannot be used at all.
    """
    choice = options.figure.presentation
    listed = list(items)
    if choice.mode is PresentationMode.FILE:
        assert choice.path is not None
        try:
            load_state(choice.path)
        except (DcmexportError, OSError) as exc:
            raise UsageError(f"--presentation-state {choice.path}: {exc}") from None
        own = choice.path.resolve()
        out = []
        for item in listed:
            if item.path.resolve() == own:
                out.append(Planned(item, True, tuple(i.path for i in listed if i.path.resolve() != own)))
            else:
                out.append(Planned(item, False, (choice.path,)))
        return out
    uids: dict[int, str] = {}
    states: dict[int, PresentationState | None] = {}
    for number, item in enumerate(listed):
        header = _header(item.path)
        if header is None:
            continue
        if str(header.get("SOPClassUID", "") or "") == GSPS_SOP_CLASS:
            try:
                states[number] = load_state(item.path)
            except (DcmexportError, OSError):
                states[number] = None  # reported by its own task
        else:
            uids[number] = str(header.get("SOPInstanceUID", "") or "")
    planned = []
    for number, item in enumerate(listed):
        if number in states:
            state = states[number]
            users = () if state is None else tuple(
                listed[n].path for n, uid in uids.items() if uid and state.references_image(uid))
            planned.append(Planned(item, True, users))
        else:
            uid = uids.get(number, "")
            mine = tuple(listed[n].path for n, s in states.items() if s is not None and uid and s.references_image(uid))
            planned.append(Planned(item, False, mine))
    return planned


def consumed_state_result(path: Path, images: Sequence[Path]) -> ExportResult:
    """The result of a presentation state among the inputs: consumed (never exported), or failed when unusable."""
    result = ExportResult(source=path, status=SKIPPED)
    try:
        result.input_sha256 = sha256_file(path)
        load_state(path)
    except (DcmexportError, OSError) as exc:
        result.status, result.error_kind = FAILED, getattr(exc, "reason", "input")
        result.reason = f"presentation state cannot be used: {exc}" if isinstance(exc, DcmexportError) else (
            "presentation state cannot be read")
        return result
    result.reason = (f"presentation state: applied to {len(images)} image(s) among the inputs; never exported"
                     if images else "presentation state: references none of the input images; not applied")
    return result


def choose_state(ds: Dataset, paths: Sequence[Path], mode: PresentationMode,
                 result: ExportResult) -> PresentationState | None:
    """The state to apply to image ``ds`` among ``paths`` (the most recent one that references it), noted."""
    uid = str(ds.get("SOPInstanceUID", "") or "")
    found: list[tuple[PresentationState, Path]] = []
    for path in paths:
        try:
            state = load_state(path)
        except (InputError, RenderError, OSError) as exc:
            raise RenderError(f"presentation state cannot be used: {exc}") from None
        if uid and state.references_image(uid):
            found.append((state, path))
    if not found:
        if mode is PresentationMode.FILE:
            result.notes.append("not referenced by --presentation-state: exported without it")
        return None
    chosen = latest(s for s, _ in found)
    assert chosen is not None
    path = next(p for s, p in found if s is chosen)
    digest = sha256_file(path)
    result.shaping_inputs.append(digest)  # a re-run redoes the image when the state changes
    more = f"; {len(found)} states reference this image, the most recent was used" if len(found) > 1 else ""
    result.notes.append(f"presentation state applied (input sha256 {digest[:12]}...): {chosen.describe()}{more}")
    return chosen

