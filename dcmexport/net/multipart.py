"""Reading a ``multipart/related`` body (RFC 2046 5.1, PS3.18 8.7.1.2) part by part, as it streams in.

Memory holds one part and one chunk at a time, whatever the number of parts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from dcmexport.errors import NetworkError


def boundary_of(content_type: str) -> bytes:
    """The ``boundary`` parameter of a ``multipart/related`` Content-Type.

    Raises:
        NetworkError: not multipart, or no boundary.
    """
    media, *params = (p.strip() for p in content_type.split(";"))
    if media.lower() != "multipart/related":
        raise NetworkError(f"expected a multipart/related answer, got {media or 'no content type'}")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "boundary" and value.strip().strip('"'):
            return value.strip().strip('"').encode("latin-1")
    raise NetworkError("the multipart answer names no boundary")


def _content(buffer: bytearray, end: int) -> bytes:
    """The body of the part ``buffer[:end]``: what follows its header lines and the blank line."""
    start = buffer.find(b"\r\n\r\n", 0, end)
    if start < 0:
        raise NetworkError("a part of the multipart answer has no header end")
    with memoryview(buffer) as view:  # one copy of the body, not two
        return bytes(view[start + 4 : end])


def iter_parts(chunks: Iterable[bytes], boundary: bytes) -> Iterator[bytes]:
    """Yield each part's body from a stream of ``chunks``, as soon as the part is complete.

    Raises:
        NetworkError: the stream ended before the closing delimiter (a truncated answer).
    """
    delimiter = b"--" + boundary
    separator = b"\r\n" + delimiter  # what ends a part
    buffer = bytearray()
    started = False
    search_from = 0
    for chunk in chunks:
        buffer += chunk
        while True:
            if not started:
                at = buffer.find(delimiter)
                if at < 0:
                    del buffer[: max(0, len(buffer) - len(delimiter))]  # the preamble
                    break
                del buffer[: at + len(delimiter)]
                started = True
            if len(buffer) < 2:
                break
            if buffer[:2] == b"--":
                return  # the closing delimiter: the epilogue is ignored
            at = buffer.find(separator, search_from)
            if at < 0:
                search_from = max(0, len(buffer) - len(separator) + 1)
                break
            body = _content(buffer, at)
            del buffer[: at + len(separator)]
            search_from = 0
            yield body
    raise NetworkError("the multipart answer ended early (truncated)")
