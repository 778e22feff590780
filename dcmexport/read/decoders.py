"""What pydicom can decode, for messages: the pixel-data decoders of a transfer syntax and their plugins.

pydicom chooses a decoder by transfer syntax and a plugin (pillow, pylibjpeg,
gdcm, pyjpegls...) among those installed (PS3.5 A.4 for the encapsulated
syntaxes). When decoding fails, the user needs to know which case it is: no
decoder exists at all, none of its plugins is installed, or the installed ones
failed on this data. Nothing here reads a dataset value besides the transfer
syntax UID (not PHI).
"""

from __future__ import annotations

from pydicom.uid import UID


def transfer_syntax_name(uid: str) -> str:
    """The transfer syntax's name from pydicom's dictionary, or its UID when unknown."""
    name = getattr(UID(uid), "name", "") or uid
    return name if name != uid else f"UID {uid}"


def describe_decode_failure(exc: BaseException, transfer_syntax: str) -> str:
    """One PHI-free line: why pixel data of ``transfer_syntax`` could not be decoded, and what would help.

    Args:
        exc: what pydicom raised (only its type is quoted: its text may hold values).
        transfer_syntax: the (0002,0010) TransferSyntaxUID, or "unknown".

    Returns:
        "no decoder exists for ...", "no installed plugin decodes ...; install one of: ...",
        or, when plugins are installed, which ones tried (the data may be damaged or use a
        feature they lack).
    """
    from pydicom.pixels import get_decoder

    name = transfer_syntax_name(transfer_syntax) if transfer_syntax != "unknown" else "unknown"
    kind = type(exc).__name__
    try:
        decoder = get_decoder(transfer_syntax)
    except (NotImplementedError, ValueError):
        return (f"pixel data could not be decoded: no decoder exists for transfer syntax {name} "
                "(pydicom decodes none; no plugin to install)")
    available = tuple(decoder.available_plugins)
    if not available:
        missing = "; ".join(decoder.missing_dependencies) or "a pydicom pixel data plugin"
        return (f"pixel data could not be decoded ({kind}): no installed plugin decodes transfer syntax {name}; "
                f"install one of: {missing}")
    return (f"pixel data could not be decoded ({kind}; transfer syntax {name}; installed plugins tried: "
            f"{', '.join(available)}): the data may be damaged or use a feature these plugins lack")
