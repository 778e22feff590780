"""DICOMweb credentials: from the environment or a private file, never from the command line.

A command line is visible to every user of the machine (``ps``) and lands in shell
histories, so credentials come from:

- ``DCMEXPORT_DICOMWEB_TOKEN`` (a bearer token), or ``DCMEXPORT_DICOMWEB_USER`` and
  ``DCMEXPORT_DICOMWEB_PASSWORD`` (HTTP basic); or
- ``--auth-file FILE``, TOML with ``token = "..."`` or ``username``/``password``,
  refused unless only its owner may read it (mode 0600 or 0400).

No message, log line, manifest record or ``repr`` ever holds a secret.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from dcmexport.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    import requests

ENV_TOKEN = "DCMEXPORT_DICOMWEB_TOKEN"
ENV_USER = "DCMEXPORT_DICOMWEB_USER"
ENV_PASSWORD = "DCMEXPORT_DICOMWEB_PASSWORD"


@dataclass(frozen=True)
class Credentials:
    """A bearer token or a user name and password; where they came from (for messages)."""

    origin: str
    token: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return "bearer token" if self.token is not None else "user name and password"

    def secrets(self) -> tuple[str, ...]:
        """The secret strings (for tests and scrubbing), never to be printed."""
        return tuple(s for s in (self.token, self.password) if s)

    def apply(self, session: requests.Session) -> None:
        """Authenticate every request of ``session`` with these credentials."""
        if self.token is not None:
            session.headers["Authorization"] = f"Bearer {self.token}"
        else:
            session.auth = (self.username or "", self.password or "")


def _check(values: Mapping[str, object], origin: str) -> Credentials:
    token, user, password = values.get("token"), values.get("username"), values.get("password")
    unknown = sorted(set(values) - {"token", "username", "password"})
    if unknown:
        raise UsageError(f"{origin}: unknown key {unknown[0]!r}; expected token, or username and password")
    if not all(v is None or (isinstance(v, str) and v and "\n" not in v) for v in (token, user, password)):
        raise UsageError(f"{origin}: credentials must be non-empty one-line strings")
    if token is not None and (user is not None or password is not None):
        raise UsageError(f"{origin}: give a token, or a user name and password, not both")
    if token is not None:
        return Credentials(origin, token=str(token))
    if user is None or password is None:
        raise UsageError(f"{origin}: a user name needs a password (and a password a user name)")
    return Credentials(origin, username=str(user), password=str(password))


def read_auth_file(path: Path) -> Credentials:
    """Read ``--auth-file``: TOML, readable by its owner only.

    Raises:
        UsageError: missing, readable by others, not TOML, or not a token / user-password pair.
            The message never quotes the file's contents.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise UsageError(f"--auth-file {path}: cannot be opened ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        mode = os.fstat(fh.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise UsageError(f"--auth-file {path}: not a regular file")
        if mode & 0o077:
            raise UsageError(f"--auth-file {path}: mode {stat.S_IMODE(mode):04o} lets other users read it; "
                             f"run: chmod 600 {path}")
        raw = fh.read()
    import tomllib  # only here: a local run never parses TOML (start-up time, tests/test_startup.py)

    try:
        values = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):  # their messages can quote the text
        raise UsageError(f"--auth-file {path}: not a TOML file (token = \"...\", or username and password)") from None
    return _check(values, f"--auth-file {path}")


def credentials_from_env(environ: Mapping[str, str] | None = None) -> Credentials | None:
    """Credentials from ``DCMEXPORT_DICOMWEB_TOKEN`` or ``..._USER`` / ``..._PASSWORD``; None if unset.

    Raises:
        UsageError: only one of user and password set, or both a token and a password.
    """
    env = os.environ if environ is None else environ
    values = {k: env[v] for k, v in (("token", ENV_TOKEN), ("username", ENV_USER), ("password", ENV_PASSWORD))
              if env.get(v)}
    return _check(values, "environment (DCMEXPORT_DICOMWEB_*)") if values else None


def load_credentials(auth_file: Path | None, environ: Mapping[str, str] | None = None) -> Credentials | None:
    """``--auth-file`` when given, else the environment, else None (no authentication)."""
    if auth_file is not None:
        return read_auth_file(auth_file)
    return credentials_from_env(environ)
