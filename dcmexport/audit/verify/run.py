"""``verify_paths``: walk the outputs, run the DICOM, media and PHI checks on each file, gather the findings."""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from dcmexport.audit.dataset import DATASET_NAMES, iter_table_problems
from dcmexport.audit.manifest import MANIFEST_NAME
from dcmexport.audit.verify.dicom import iter_file_problems
from dcmexport.audit.verify.findings import BadMedia, Finding, Kind, Problem, VerifyReport
from dcmexport.audit.verify.media import MEDIA_SUFFIXES, iter_media_problems, sniff
from dcmexport.audit.verify.phi import PhiMatcher, ValueMatch, collect_phi_values
from dcmexport.deid import DeidOptions
from dcmexport.errors import InputError, UsageError
from dcmexport.paths import contains, is_inside_any
from dcmexport.read import quiet_pydicom

#: Files the pipeline writes beside the outputs: not DICOM, but still searched with ``against``.
#: (``review.html`` is review's REVIEW_NAME, spelled here: importing the page would load numpy.)
RUN_FILES = frozenset({MANIFEST_NAME, "review.html", *DATASET_NAMES})


#: The names dcmexport gives its outputs (dcmexport.api.output_stem: 20 hex digits; ``_fNNNN`` per frame).
OUTPUT_NAME = re.compile(r"^[0-9a-f]{20}(_f\d{4})?\.[a-z0-9]{2,4}$")


def looks_like_input(path: Path) -> str | None:
    """Why ``path`` looks like an original input rather than a dcmexport output, or None.

    An output folder holds ``manifest.jsonl``, and its files are outputs. Elsewhere, a zip
    archive, a DICOMDIR, or a DICOM file that has neither dcmexport's output name nor a
    de-identification marking ((0012,0062) PatientIdentityRemoved, (0012,0063)
    DeidentificationMethod) is an original; media files never are. A folder looks like an
    input when any file below it (outside output folders) does.

    Args:
        path: a path given to ``verify`` as an output to check.

    Returns:
        A PHI-free reason naming the file, or None.
    """
    if path.is_dir():
        for root, dirs, files in os.walk(path, followlinks=False):
            dirs.sort()
            if MANIFEST_NAME in files:
                continue  # an output folder: its files are outputs (its subfolders are looked at)
            for name in sorted(files):
                reason = _original_file(Path(root) / name)
                if reason is not None:
                    return reason
        return None
    if (path.parent / MANIFEST_NAME).is_file():
        return None
    return _original_file(path)


def _original_file(path: Path) -> str | None:
    if not path.is_file():  # FIFOs and the like are never opened here
        return None
    if path.name.upper() == "DICOMDIR" or (path.suffix.lower() == ".zip" and zipfile.is_zipfile(path)):
        return f"{path} is a {'DICOMDIR' if path.suffix.lower() != '.zip' else 'zip archive'}"
    if OUTPUT_NAME.match(path.name):
        return None
    try:
        with open(path, "rb") as fh:
            if sniff(fh.read(132)) != "dicom":
                return None
    except OSError:
        return None  # verify reports it as unreadable
    if not _has_marking(path):
        return f"{path} is a DICOM file without a de-identification marking"
    return None


def _has_marking(path: Path) -> bool:
    """True when the file carries PatientIdentityRemoved or DeidentificationMethod (or cannot be read)."""
    import pydicom

    with quiet_pydicom():
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=[0x00120062, 0x00120063])
        except Exception:  # noqa: BLE001 - an unreadable file is verify's to report, not a usage error
            return True
    return 0x00120062 in ds or 0x00120063 in ds


def _iter_input_paths(against: Sequence[Path]) -> Iterator[Path]:
    """Every file the inputs name, as export finds them (zip archives themselves, DICOMDIR references)."""
    from dcmexport.sources import iter_dicomdir, iter_input_files

    for path in iter_input_files(against):
        yield path
        if path.name.upper() == "DICOMDIR":  # named directly, as sources.iter_inputs expands it
            yield from iter_dicomdir(path)


def _iter_output_files(paths: Sequence[Path]) -> Iterator[tuple[Path, str]]:
    """Yield (file, the part of its path below the given root) for every file, hidden ones included.

    Hidden files are walked too (a leftover temporary can leak as well as an output);
    symlinked directories are not followed, so a loop cannot recurse forever.
    """
    for top in paths:
        if top.is_dir():
            for root, dirs, files in os.walk(top, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    full = Path(root) / name
                    yield full, str(full.relative_to(top))
        else:
            yield top, top.name


def _value_problem(strong: Kind, weak: Kind, key: tuple[str, str], match: ValueMatch,
                   show_values: bool) -> Problem:
    """A value found in a name or in bytes: ``Keyword`` (+ encoding), with the reason when it is weak."""
    keyword, label = key
    if match.strong:
        return Problem(strong, keyword + label, match.value if show_values else None)
    return Problem(weak, f"{keyword}{label} ({match.reason})", match.value if show_values else None)


def _check_file(path: Path, rel: str, options: DeidOptions, matcher: PhiMatcher | None,
                pseudonyms: frozenset[str], show_values: bool) -> list[Problem]:
    problems: list[Problem] = []
    if matcher is not None:
        for key, match in matcher.scan_bytes(rel.encode("utf-8", "surrogateescape")).items():
            problems.append(_value_problem(Kind.VALUE_IN_NAME, Kind.WEAK_VALUE_IN_NAME, key, match, show_values))
    try:
        with open(path, "rb") as fh:
            head = fh.read(132)
        kind = sniff(head)
        promised = MEDIA_SUFFIXES.get(path.suffix.lower())
        if kind == "dicom" and path.name not in RUN_FILES:
            problems += iter_file_problems(path, options, pseudonyms=pseudonyms, show_values=show_values)
        elif kind is not None and kind != "dicom":
            problems += iter_media_problems(path, kind, show_values)
        elif promised is not None:
            problems.append(Problem(Kind.UNREADABLE, f"suffix {path.suffix} but no {promised.upper()} signature"))
        if matcher is not None:
            for key, match in matcher.scan_file(path).items():
                problems.append(_value_problem(Kind.VALUE_IN_BYTES, Kind.WEAK_VALUE_IN_BYTES, key, match, show_values))
    except BadMedia as exc:
        problems.append(Problem(Kind.UNREADABLE, str(exc)))
    except OSError as exc:
        problems.append(Problem(Kind.UNREADABLE, f"cannot be read ({exc.strerror or type(exc).__name__})"))
    return problems


def verify_paths(
    paths: Sequence[Path],
    *,
    against: Sequence[Path] = (),
    options: DeidOptions | None = None,
    pseudonyms: Iterable[str] = (),
    show_values: bool = False,
) -> VerifyReport:
    """Check every file under ``paths`` for what de-identified outputs must not carry.

    Every file is read: DICOM files (DICM signature; ``manifest.jsonl`` and ``review.html``
    excepted) against ``options`` with :func:`~.dicom.iter_dataset_problems`, media files for metadata,
    and -- with ``against`` -- every file's bytes and every file name for PHI values of the inputs.

    Args:
        paths: output files or folders (searched recursively, hidden files included).
        against: the original DICOM files, folders, zip archives or DICOMDIRs the outputs were made from
            (discovered as ``export`` discovers its inputs).
        options: the de-identification profile of the outputs (default: the Basic Profile).
        pseudonyms: extra PatientID/PatientName values to accept (from a ``--patient-map``).
        show_values: attach the offending values to the findings (PHI: private screen only).

    Returns:
        The findings, deduplicated per (file, kind, detail), and the number of files checked.

    Raises:
        InputError: a path does not exist.
        UsageError: ``against`` holds no readable DICOM object, or there is no file to check.
    """
    options = options or DeidOptions()
    paths = [Path(p) for p in paths]
    for p in [*paths, *map(Path, against)]:
        if not p.exists():
            raise InputError(f"{p}: no such file or directory")
    report = VerifyReport()
    matcher: PhiMatcher | None = None
    input_files: set[Path] = set()
    if against:
        # Outputs written inside an input folder are not inputs (api.export does the same).
        roots = [Path(a).resolve() for a in against]
        inside = [p for p in paths if is_inside_any(p, roots)]
        values = collect_phi_values(against, options, exclude=inside)
        matcher = PhiMatcher(values)
        report.values_searched = len(matcher)
        skip = [p.resolve() for p in inside]
        resolved_inputs = (p.resolve() for p in _iter_input_paths([Path(a) for a in against]))
        input_files = {r for r in resolved_inputs if not any(contains(s, r, or_equal=True) for s in skip)}
    accepted = frozenset(pseudonyms)
    for path, rel in _iter_output_files(paths):
        if path.resolve() in input_files:
            continue  # an input inside an output folder is not an output
        report.files_checked += 1
        shown = matcher.redact(str(path)) if matcher is not None and not show_values else str(path)
        seen: set[tuple[Kind, str]] = set()
        for problem in _check_file(path, rel, options, matcher, accepted, show_values):
            if (problem.kind, problem.detail) in seen:
                continue
            seen.add((problem.kind, problem.detail))
            report.findings.append(Finding(shown, problem.kind, problem.detail, problem.value))
    for top in paths:  # the dataset table is checked like any output: rows against files
        if top.is_dir():
            for file, detail in iter_table_problems(top):
                shown = matcher.redact(file) if matcher is not None and not show_values else file
                report.findings.append(Finding(shown, Kind.DATASET_TABLE, detail))
    if report.files_checked == 0:
        raise UsageError("nothing to verify: no output files under the given paths "
                         "(files that are --against inputs are not checked)")
    return report
