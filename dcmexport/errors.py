"""The one exception hierarchy of dcmexport.

Every message names the object by a caller-supplied label (a file path or a
pseudonymous id), the attribute by tag and keyword, and what to do about it.
No message ever contains a value read from a dataset: values may be PHI.
"""

from __future__ import annotations


class DcmexportError(Exception):
    """Base class: an expected failure with a one-line, PHI-free message."""

    #: short machine-readable reason used in summaries and manifests
    reason: str = "error"


class InputError(DcmexportError):
    """The input is not a readable DICOM object (missing, truncated, not DICOM, no pixels)."""

    reason = "input"


class NotDicomError(InputError):
    """The file is not DICOM at all; batches skip and count it rather than fail."""

    reason = "not-dicom"


class NoPixelDataError(InputError):
    """A DICOM object without pixels (SR, RT Plan, waveform): nothing to render, skipped."""

    reason = "no-pixels"


class DeidentificationError(DcmexportError):
    """The object cannot be fully de-identified, so nothing is written (fail closed)."""

    reason = "deidentification"


class BurnedInError(DcmexportError):
    """The object may carry burned-in text that no mask covers, so it is refused."""

    reason = "burned-in"


class RenderError(DcmexportError):
    """The pixel data cannot be turned into display values (odd geometry, unsupported LUT)."""

    reason = "render"


class EncodeError(DcmexportError):
    """The output file could not be encoded or written."""

    reason = "encode"


class PresetError(DcmexportError):
    """A preset or mask file under presets/ (or given by the user) is missing or invalid."""

    reason = "preset"


class MissingDependencyError(DcmexportError):
    """An optional dependency is not installed; the message names the package to install."""

    reason = "missing-dependency"


class NetworkError(DcmexportError):
    """A PACS or DICOMweb server could not be reached, refused, failed or stalled.

    Messages name the server by its spec (never credentials) and the DICOM status
    or HTTP code; never a query value (a Patient ID) or a URL with one.
    """

    reason = "network"


class UsageError(DcmexportError):
    """Options that contradict each other or cannot apply to this input."""

    reason = "usage"


class TimeLimitError(DcmexportError):
    """One object took longer than ``--timeout``; its partial outputs are removed."""

    reason = "time-limit"


class UnsupportedError(DcmexportError):
    """Internal 'this backend cannot handle that' signal, distinct from bugs (imageio style)."""

    reason = "unsupported"
