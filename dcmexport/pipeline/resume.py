"""Resuming a run: an existing output is kept only when it was made under the same options.

An output's *fingerprint* is a keyed digest of everything that shapes its bytes:
the command, the rendering, masking, encoding and de-identification options, the
contents of a ``--mask-file``, the explicit patient map, the shipped preset
library and the tool version. Each manifest object record carries the
fingerprint of the run that wrote (or confirmed) its outputs. A re-run skips an
object only when all its outputs exist AND the manifest says they were made
under the current fingerprint; otherwise the outputs are redone (replaced
atomically), or, with ``keep_existing``, kept and the object reported as
``kept`` (exit 1: the files do not reflect this run's options).

Keyed (HMAC with the run's key, domain ``output-fingerprint``): the patient map
holds original Patient IDs, and an unkeyed digest of them could be tested
against guesses. An ephemeral key gives a new fingerprint every run, as its
pseudonyms (and so its output names) change every run too.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dcmexport._version import __version__
from dcmexport.atomic import output_exists
from dcmexport.results import KEPT, SKIPPED, ExportResult

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.deid import Key
    from dcmexport.options import ExportOptions

#: ExportOptions fields that do not shape any output's bytes (run control only).
_NOT_SHAPING = frozenset({"out_dir", "timeout", "overwrite", "keep_existing"})


#: The reason of an input whose content another input of the run already exported.
DUPLICATE_REASON = "duplicate: another input of this run has the same content"


class Decision(enum.Enum):
    """What to do with one object's planned outputs."""

    WRITE = "write"  # none exists: write them
    SKIP = "skip"  # all exist and were made under the same fingerprint
    REDO = "redo"  # replace (atomically) what exists: other options, unknown origin, or --overwrite
    KEEP = "keep"  # some exist under other options and keep_existing forbids replacing them
    DUPLICATE = "duplicate"  # another input of this run already made them (same content)


def _file_digest(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"  # the object then fails on reading the mask file itself


def _presets_digest() -> str:
    """Digest of the preset library in use (masks match on it); the version alone misses a dev checkout's edits."""
    from dcmexport.presets import presets_dir

    digest = hashlib.sha256()
    root = presets_dir()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def output_fingerprint(
    command: str,
    options: ExportOptions,
    key: Key,
    patient_map: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """The keyed fingerprint of every option that shapes an output of ``command``.

    Args:
        command: ``export`` or ``deid``.
        options: the run's options.
        key: the run's pseudonymisation key (the digest is keyed with it).
        patient_map: the explicit pseudonyms (original IDs: hence the keyed digest).

    Returns:
        32 hex digits.
    """
    from dcmexport.audit.manifest import jsonable

    opts = jsonable(options)
    assert isinstance(opts, dict)
    for name in _NOT_SHAPING:
        opts.pop(name, None)
    material = {
        "command": command,
        "version": __version__,
        "options": opts,
        "mask_file": _file_digest(options.mask.mask_file),
        "presets": _presets_digest(),
        "patient_map": sorted([k, *v] for k, v in (patient_map or {}).items()),
    }
    return key.digest("output-fingerprint", json.dumps(material, sort_keys=True)).hex()[:32]


@dataclass(frozen=True)
class ResumeIndex:
    """What a run knows about the outputs already in ``--out``.

    ``known`` maps the names (relative to ``--out``) in the manifest to the fingerprint
    of the last record vouching for each (the run's options, or an object's own: see
    :meth:`for_object`); ``made`` holds the names this process wrote in this run.
    """

    fingerprint: str
    known: Mapping[str, str] = field(default_factory=dict)
    overwrite: bool = False
    keep_existing: bool = False
    made: set[str] = field(default_factory=set, compare=False)

    def for_object(self, shaping_inputs: Sequence[str]) -> str:
        """The fingerprint of an object whose outputs also depend on these input files (SHA-256s):
        the run's when there are none."""
        if not shaping_inputs:
            return self.fingerprint
        material = "\0".join([self.fingerprint, *sorted(shaping_inputs)])
        return hashlib.sha256(material.encode()).hexdigest()[:32]  # the run's fingerprint is keyed already

    def record(self, written: Sequence[Path], out_dir: Path) -> None:
        """Note outputs this run wrote, so that a second input with the same content is a duplicate."""
        self.made.update(_relative(p, out_dir) for p in written)

    def decide(self, planned: Sequence[Path], out_dir: Path, fingerprint: str | None = None) -> Decision:
        """Decide for one object's planned outputs (see :class:`Decision`); ``fingerprint``: the
        object's own (:meth:`for_object`), else the run's."""
        existing = [p for p in planned if output_exists(p)]
        wanted = fingerprint or self.fingerprint
        if any(_relative(p, out_dir) in self.made for p in existing):
            return Decision.DUPLICATE
        if self.overwrite:
            return Decision.REDO
        if not existing:
            return Decision.WRITE
        stale = [p for p in existing if self.known.get(_relative(p, out_dir)) != wanted]
        if not stale:
            return Decision.SKIP if len(existing) == len(planned) else Decision.REDO
        return Decision.KEEP if self.keep_existing else Decision.REDO


def _relative(path: Path, out_dir: Path) -> str:
    return path.name if path.parent == out_dir else path.relative_to(out_dir).as_posix()


def load_resume_index(out_dir: Path, fingerprint: str, *, overwrite: bool, keep_existing: bool,
                      parts: Sequence[str] = ()) -> ResumeIndex:
    """Read ``out_dir``'s manifest (if any) into a :class:`ResumeIndex` for ``fingerprint``.

    ``parts`` names manifest parts read after it (a shard's own, newer than the last merge).
    """
    from dcmexport.audit.manifest import read_output_fingerprints

    known = read_output_fingerprints(out_dir)
    for name in parts:
        known.update(read_output_fingerprints(out_dir, name))
    return ResumeIndex(fingerprint, known, overwrite=overwrite, keep_existing=keep_existing)


def no_resume(options: ExportOptions) -> ResumeIndex:
    """For a direct call without a run's manifest: nothing is known, so any existing output is redone."""
    return ResumeIndex("", overwrite=options.overwrite, keep_existing=options.keep_existing)


def apply_resume(
    resume: ResumeIndex, planned: list[Path], options: ExportOptions, result: ExportResult
) -> ExportOptions | None:
    """Settle an object's existing outputs before anything is written (issue #19, item 1).

    Returns the options to write with (``overwrite`` set when existing files are to be
    replaced), or None when the object is done: skipped (same fingerprint) or kept
    (other options, ``keep_existing``), in which case the result claims nothing about
    the kept files' masks, notes or de-identification.
    """
    if result.shaping_inputs:
        result.fingerprint = resume.for_object(result.shaping_inputs)
    decision = resume.decide(planned, options.out_dir, result.fingerprint)
    if decision is Decision.SKIP:
        result.status, result.reason, result.outputs = SKIPPED, "already exported with the same options (use --overwrite to redo)", planned
        return None
    if decision is Decision.DUPLICATE:
        result.status, result.reason = SKIPPED, DUPLICATE_REASON
        result.outputs = planned
        return None
    if decision is Decision.KEEP:
        result.status = KEPT
        result.reason = ("an existing output was made under other options or by an unknown run; kept as it is "
                         "(--keep-existing), so it does not reflect this run's options")
        result.kept_outputs = [p for p in planned if output_exists(p)]
        result.notes, result.mask_boxes, result.keep_boxes, result.action_counts = [], [], None, {}
        return None
    if decision is Decision.REDO and not options.overwrite:
        result.notes.append("replaced an existing output made under other options or by an unknown run")
        return replace(options, overwrite=True)
    return options
