"""``dcmexport verify``: re-read exported outputs and report what should not be there (issue #5 item 6).

Three independent checks, each fail closed (a file that cannot be checked is a finding):

* **DICOM outputs** are re-checked with the engine's own rule set: :func:`dcmexport.deid.inspect_dataset`
  lists every attribute de-identification would still touch, and :func:`~.dicom.iter_dataset_problems`
  decides which of those rows are evidence of a leak. On a correctly de-identified file the engine
  legitimately re-touches some attributes (UIDs it remapped, dummies it wrote, the marking it
  added), so a row is a finding only when the value contradicts the action (PS3.15 E.1.1):

  ======================  ============================================================
  action of the row       finding when
  ======================  ============================================================
  X, text-unlisted        the attribute is present at all (``attribute-present``)
  private                 any private element outside Retain Safe Private (``private-tag``)
  Z                       the value is not empty (``not-empty``)
  D, pn-unlisted          the value is not the engine's dummy for its VR (``not-dummy``)
  PatientID/PatientName   not ``ANON-``/``ANON^`` + 10 base32 characters, a dummy, empty or
                          a ``--patient-map`` pseudonym (``not-pseudonym``)
  C (clean)               text that is not a clean descriptor (``not-clean``)
  year (Safe Harbor)      a date that is not 1 January of its year (``date-not-year``)
  age (Safe Harbor)       an age over 89 years other than 090Y (``age-not-capped``)
  U, shift                never alone: a remapped UID or a shifted date looks like any
                          other; ``--against`` finds the unchanged ones by value
  ======================  ============================================================

  Plus the marking (PatientIdentityRemoved = YES, DeidentificationMethod present: ``marking``;
  NO with BurnedInAnnotation YES is the engine's marking for pixels the user accepted with
  ``--accept-burned-in``: ``pixels-accepted``, a category that alone does not fail),
  the file meta group (only PS3.10 7.1 elements, MediaStorageSOPInstanceUID equal to
  SOPInstanceUID: ``file-meta``) and an all-zero preamble (``preamble``).

* **Media outputs** (PNG, JPEG, TIFF, GIF, MP4, WebM; recognised by their signature, or by
  their suffix when the signature is wrong) must carry no metadata text (``metadata``). Each
  format is checked against an allow list of structural parts, so anything unknown is reported.

* **Against the inputs** (``against``): values of the attributes the profile changes are
  collected from the original objects (:func:`~.phi.collect_phi_values`) and searched in every output
  byte (as UTF-8 and UTF-16LE, ASCII case-insensitively) and in every file name under the output
  paths (``value-in-bytes``, ``value-in-name``). Values are matched as whole tokens; a match inside
  a longer word, or of a short or common value, is weak evidence (``weak-value-in-bytes``,
  ``weak-value-in-name``: reported, but alone not a failure; see :class:`.phi.PhiMatcher`).

Findings name the file, the kind and a tag/keyword/chunk name, never a value: file names that
contain a collected value are shown with that part redacted. Values are attached only when the
caller asks for them (``show_values``; PHI, for a private screen).

Modules: :mod:`.findings` (kinds and categories as enums, the report; the exit code derives from
the categories), :mod:`.dicom` (DICOM attributes), :mod:`.media` (media metadata), :mod:`.phi`
(searching the inputs' values), :mod:`.run` (:func:`verify_paths`, walking the outputs).
"""

from __future__ import annotations

from dcmexport.audit.verify.dicom import iter_dataset_problems
from dcmexport.audit.verify.findings import Category, Finding, Kind, Problem, VerifyReport
from dcmexport.audit.verify.media import (
    MetadataItem,
    iter_container_metadata,
    iter_gif_metadata,
    iter_jpeg_metadata,
    iter_png_metadata,
    iter_tiff_metadata,
    iter_webp_metadata,
)
from dcmexport.audit.verify.phi import PhiMatcher, collect_phi_values
from dcmexport.audit.verify.run import verify_paths

__all__ = [
    "Category",
    "Finding",
    "Kind",
    "MetadataItem",
    "PhiMatcher",
    "Problem",
    "VerifyReport",
    "collect_phi_values",
    "iter_container_metadata",
    "iter_dataset_problems",
    "iter_gif_metadata",
    "iter_webp_metadata",
    "iter_jpeg_metadata",
    "iter_png_metadata",
    "iter_tiff_metadata",
    "verify_paths",
]
