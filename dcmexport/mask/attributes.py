"""Reading one attribute of a header for mask planning, where a damaged value fails closed.

Every mask source and the refusal rule read the dataset through :func:`read_attribute`;
the attributes they read are declared in :mod:`dcmexport.mask.plan` (the memo key).
"""

from __future__ import annotations

from typing import Any

from pydicom.datadict import tag_for_keyword

from dcmexport.errors import InputError


def read_attribute(source: Any, keyword: str, default: Any = None) -> Any:
    """``source.get(keyword, default)``, where a value pydicom cannot parse is an InputError.

    Elements are converted from their raw bytes only when first read; in a damaged
    header (an unknown VR, a length that overruns) that read raises pydicom's own
    exception types (NotImplementedError, ValueError, ...). Reading the header is
    an input problem, so say which attribute and stop (fail closed: an unreadable
    attribute can neither match a preset nor clear the object of burned-in text).

    Args:
        source: a Dataset or its file meta.
        keyword: the DICOM keyword to read.
        default: returned when the attribute is absent.

    Returns:
        The attribute's value, or ``default``.

    Raises:
        InputError: the value cannot be converted; names the tag and keyword, never a value.
    """
    try:
        return source.get(keyword, default)
    except Exception as exc:
        tag = tag_for_keyword(keyword)
        where = f"({tag >> 16:04X},{tag & 0xFFFF:04X}) {keyword}" if tag is not None else keyword
        raise InputError(f"{where} cannot be read ({type(exc).__name__}); the header is damaged") from None
