"""The review page: one self-contained ``review.html`` for the visual PHI check before sharing.

Reads ``manifest.jsonl`` in an output directory and writes one card per output
file: thumbnails (first, middle and last frame for clips) with the masked
rectangles and the kept ultrasound regions outlined, the file's facts, and a
"reviewed: no PHI visible" check box. The page needs nothing but itself: images
are ``data:`` URIs, CSS and JS are inline, and a Content-Security-Policy forbids
every fetch, so a mistake that referenced something external would fail in
the browser (and show as a console error) instead of leaking a request.

Everything written into the page is HTML-escaped. The manifest is PHI-free by
construction (output names, statuses, notes), and the output directory's own
path is deliberately left out: the page lives in the folder that is shared.

Layout: :mod:`.items` reads the manifest (through :mod:`dcmexport.audit.manifest`:
:func:`read_review_entries`), inspects the files and makes thumbnails
(:func:`read_review_items`); :mod:`.page` turns items into HTML
(:func:`render_review_html`, pure) and composes the two (:func:`build_review_html`,
:func:`write_review`).
"""

from __future__ import annotations

from dcmexport.audit.review.items import (
    MISSING,
    NO_PREVIEW,
    OUTSIDE,
    PRESENT,
    THUMB_MAX_SIDE,
    UNREADABLE,
    ManifestSummary,
    OutputState,
    ReviewEntry,
    ReviewItem,
    Thumbnail,
    apply_display_range,
    encode_thumbnail,
    inspect_output,
    read_review_entries,
    read_review_items,
    summarize_manifest,
    thumbnail_size,
)
from dcmexport.audit.review.page import REVIEW_NAME, build_review_html, render_review_html, write_review

__all__ = [
    "MISSING",
    "NO_PREVIEW",
    "OUTSIDE",
    "PRESENT",
    "REVIEW_NAME",
    "THUMB_MAX_SIDE",
    "UNREADABLE",
    "ManifestSummary",
    "OutputState",
    "ReviewEntry",
    "ReviewItem",
    "Thumbnail",
    "apply_display_range",
    "build_review_html",
    "encode_thumbnail",
    "inspect_output",
    "read_review_entries",
    "read_review_items",
    "render_review_html",
    "summarize_manifest",
    "thumbnail_size",
    "write_review",
]
