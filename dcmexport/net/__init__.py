"""Talking to image archives: PACS over DIMSE (pynetdicom) and DICOMweb servers (dicomweb-client).

A *spec* names a server, never credentials:

- ``pacs://CALLED_AET@host:port``: C-FIND, C-GET / C-MOVE, C-STORE (PS3.4 Annexes B, C);
- ``dicomweb+https://host[:port]/path``: QIDO-RS, WADO-RS, STOW-RS (PS3.18 10.4-10.6);
  ``dicomweb+http://`` only to this machine (credentials and images never cross a network in clear).

Both backends are optional (``pip install 'dcmexport[net]'``) and imported only
when a spec asks for them. This package imports nothing from the pipeline.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from dcmexport.errors import MissingDependencyError, NetworkError, UsageError

if TYPE_CHECKING:  # pragma: no cover
    from dcmexport.net.credentials import Credentials

#: Hosts that ``dicomweb+http://`` may name: this machine only.
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

#: Default calling AE title of dcmexport, and the network timeout in seconds.
DEFAULT_CALLING_AET = "DCMEXPORT"
DEFAULT_TIMEOUT = 30.0

_SPEC = re.compile(r"^(?P<scheme>pacs|dicomweb\+https?):/+(?P<rest>.*)$", re.IGNORECASE)
_AET_BAD = re.compile(r"[\\\x00-\x1f\x7f]")


class SendError(NetworkError):
    """An object could not be stored; ``transient`` when trying again later may succeed."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


def check_aet(aet: str, flag: str) -> str:
    """An AE title as PS3.5 6.2 allows it (1-16 characters, no backslash or control character).

    Raises:
        UsageError: naming ``flag``.
    """
    if not 0 < len(aet) <= 16 or not aet.strip() or _AET_BAD.search(aet):
        raise UsageError(f"{flag}: an AE title has 1 to 16 characters, no backslash or control character")
    return aet


def _port(text: str, flag: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise UsageError(f"{flag}: the port must be a number from 1 to 65535")
    return int(text)


@dataclass(frozen=True)
class PacsSpec:
    """A DIMSE peer: ``pacs://CALLED_AET@host:port``."""

    called_aet: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"pacs://{self.called_aet}@{host}:{self.port}"

    @property
    def short(self) -> str:
        """How labels of its objects begin (``pacs:AET``)."""
        return f"pacs:{self.called_aet}"


@dataclass(frozen=True)
class WebSpec:
    """A DICOMweb service: its base URL (``https://host[:port]/path``, no trailing slash)."""

    url: str
    host: str

    def __str__(self) -> str:
        return f"dicomweb+{self.url}"

    @property
    def short(self) -> str:
        """How labels of its objects begin (``dicomweb:host``)."""
        return f"dicomweb:{self.host}"


Spec = PacsSpec | WebSpec


def spec_text(value: object) -> str | None:
    """The spec ``value`` names (a string, or a path that folded ``//`` into ``/``), else None."""
    text = os.fspath(value) if isinstance(value, str | os.PathLike) else None
    if not isinstance(text, str):
        return None
    match = _SPEC.match(text)
    if match is None:
        return None
    return f"{match['scheme'].lower()}://{match['rest']}"


def is_spec(value: object) -> bool:
    """``value`` names a network source or destination rather than a local path."""
    return spec_text(value) is not None


def parse_spec(value: object, flag: str = "source") -> Spec:
    """Parse a ``pacs://`` or ``dicomweb+http(s)://`` spec.

    Raises:
        UsageError: malformed, credentials in it, or ``dicomweb+http://`` to another machine.
    """
    text = spec_text(value)
    if text is None:
        raise UsageError(f"{flag}: expected pacs://AET@host:port or dicomweb+https://host/path")
    scheme, _, rest = text.partition("://")
    if scheme == "pacs":
        aet, at, address = rest.rstrip("/").rpartition("@")
        host, colon, port = address.rpartition(":")
        if not at or not colon or not host:
            raise UsageError(f"{flag}: expected pacs://CALLED_AET@host:port")
        return PacsSpec(check_aet(aet, flag), host.strip("[]"), _port(port, flag))
    from urllib.parse import urlsplit

    url = text.removeprefix("dicomweb+")
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise UsageError(f"{flag}: credentials do not belong in the URL; use an environment variable or "
                         "--auth-file (see README, DICOMweb credentials)")
    if not parts.hostname or parts.query or parts.fragment:
        raise UsageError(f"{flag}: expected dicomweb+https://host[:port]/path (no query or fragment)")
    try:
        parts.port  # noqa: B018 - validates the port
    except ValueError:
        raise UsageError(f"{flag}: the port must be a number from 1 to 65535") from None
    if parts.scheme == "http" and not _is_local(parts.hostname):
        raise UsageError(f"{flag}: dicomweb+http:// is only for this machine (localhost); "
                         "use dicomweb+https:// for another host")
    return WebSpec(url.rstrip("/"), parts.hostname)


def _is_local(host: str) -> bool:
    import ipaddress

    if host.lower() in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_move_dest(text: str) -> tuple[str, int]:
    """``--move-dest AET:port``: the AE title and port of dcmexport's own storage SCP for C-MOVE.

    Raises:
        UsageError: malformed.
    """
    aet, colon, port = text.rpartition(":")
    if not colon:
        raise UsageError("--move-dest: expected AET:port, e.g. DCMEXPORT:11112")
    return check_aet(aet, "--move-dest"), _port(port, "--move-dest")


@dataclass(frozen=True)
class NetSettings:
    """How dcmexport talks to servers: its AE titles, timeout, credentials and trusted CAs.

    ``move_dest`` set means C-MOVE to dcmexport's own storage SCP on that port (the
    archive must know the AE title); unset, C-GET on the query's association.
    """

    calling_aet: str = DEFAULT_CALLING_AET
    move_dest: tuple[str, int] | None = None
    timeout: float = DEFAULT_TIMEOUT
    credentials: Credentials | None = field(default=None, repr=False)
    ca_file: Path | None = None

    def __post_init__(self) -> None:
        check_aet(self.calling_aet, "--calling-aet")
        if not 0 < self.timeout <= 3600:
            raise UsageError("--net-timeout: seconds, more than 0 and at most 3600")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise UsageError(f"--ca-file {self.ca_file}: no such file")


def import_backend(name: str, purpose: str) -> ModuleType:
    """Import an optional network backend, or say how to install it.

    Raises:
        MissingDependencyError: naming the extra to install.
    """
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError:
        package = {"pynetdicom": "pynetdicom", "dicomweb_client": "dicomweb-client"}.get(name, name)
        raise MissingDependencyError(
            f"{purpose} needs {package}: pip install 'dcmexport[net]'"
        ) from None
