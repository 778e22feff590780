"""What a run checks once, before any object is read or any file written.

Options that depend on files or optional programs (``--mask-file``, ``--ocr-check``, ``--redact-text``)
cannot be checked by :func:`dcmexport.options.build_options`, which knows no stage;
checked per object instead, one bad file would fail every object of a batch with
the same line (issue #19 item 4). Here they fail the run once, as a usage error.
"""

from __future__ import annotations

from dataclasses import replace

from dcmexport.mask import read_mask_file
from dcmexport.options import ExportOptions, OcrCheck, RedactText


def prepare_options(options: ExportOptions) -> ExportOptions:
    """Read and check what the options name, once: the mask file's rectangles and the OCR backend.

    Idempotent: options already prepared (their mask file read) come back as they are,
    so the CLI can prepare them before it opens its log and the batch again for API callers.

    Args:
        options: the run's options.

    Returns:
        The options with :attr:`MaskOptions.file_rects` holding the ``--mask-file`` rectangles
        (the file is not read again for each object).

    Raises:
        PresetError: the mask file is missing, not TOML or holds a bad rectangle (file and key named).
        MissingDependencyError: ``--ocr-check`` or ``--redact-text`` without pytesseract or the
            tesseract program (naming the pip extra and the Debian package ``tesseract-ocr``).
    """
    mask = options.mask
    if mask.mask_file is not None and mask.file_rects is None:
        options = replace(options, mask=replace(mask, file_rects=read_mask_file(mask.mask_file)))
    if mask.ocr_check is not OcrCheck.OFF or mask.redact_text is not RedactText.OFF:
        from dcmexport.mask.ocr import require_ocr

        require_ocr()  # raises MissingDependencyError naming what to install: never a silent pass
    return options
