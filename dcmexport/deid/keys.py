"""The secret key and every pseudonym derived from it (HMAC-SHA256).

One keyed object is the only source of pseudonyms, so the same key gives the same UIDs,
patient pseudonyms and date offsets across files, processes and runs, and tests can assert
exact output. Each derivation uses its own domain prefix so a UID never collides with a
PatientID token derived from the same text.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from dcmexport.errors import UsageError

MIN_KEY_BYTES = 16
#: Date shift range in days (PS3.15 E.3.6 leaves the method open): 1 to 10 years back.
SHIFT_MIN_DAYS, SHIFT_MAX_DAYS = 365, 3650


class Key:
    """A secret for keyed pseudonyms. Picklable; ``repr`` never shows the secret."""

    __slots__ = ("_secret", "ephemeral", "_mac")

    def __init__(self, secret: bytes, *, ephemeral: bool = False) -> None:
        """Wrap ``secret`` (at least 16 bytes).

        Raises:
            UsageError: the secret is shorter than 16 bytes.
        """
        if len(secret) < MIN_KEY_BYTES:
            raise UsageError(f"the de-identification key must be at least {MIN_KEY_BYTES} bytes; "
                             "create one with: head -c 32 /dev/urandom > key.bin")
        self._secret = bytes(secret)
        self.ephemeral = ephemeral
        self._mac = hmac.new(self._secret, digestmod=hashlib.sha256)

    @classmethod
    def from_file(cls, path: Path) -> Key:
        """Read the raw bytes of ``path`` as the key.

        Raises:
            UsageError: the file cannot be read or holds fewer than 16 bytes.
        """
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the key file ({exc.strerror}); check --key-file") from None
        if len(data) < MIN_KEY_BYTES:
            raise UsageError(f"{path}: key file holds {len(data)} bytes, at least {MIN_KEY_BYTES} are needed; "
                             "create one with: head -c 32 /dev/urandom > key.bin")
        return cls(data)

    @classmethod
    def from_env(cls, var: str = "DCMEXPORT_KEY") -> Key | None:
        """Return the key held (as text) in environment variable ``var``, or None when unset/empty.

        Raises:
            UsageError: the variable is set but shorter than 16 bytes.
        """
        value = os.environ.get(var)
        if not value:
            return None
        data = value.encode("utf-8")
        if len(data) < MIN_KEY_BYTES:
            raise UsageError(f"${var} holds fewer than {MIN_KEY_BYTES} bytes; set a longer secret")
        return cls(data)

    @classmethod
    def random(cls) -> Key:
        """Return a fresh random key for this run only (nothing links across runs)."""
        return cls(os.urandom(32), ephemeral=True)

    def digest(self, domain: str, value: str) -> bytes:
        """Return HMAC-SHA256(key, ``domain`` NUL ``value``)."""
        mac = self._mac.copy()
        mac.update(domain.encode("ascii") + b"\0" + value.encode("utf-8", "surrogateescape"))
        return mac.digest()

    def __repr__(self) -> str:
        return f"Key(<secret>, ephemeral={self.ephemeral})"

    def __getstate__(self) -> tuple[bytes, bool]:
        # hmac objects do not pickle; rebuild it on the other side.
        return (self._secret, self.ephemeral)

    def __setstate__(self, state: tuple[bytes, bool]) -> None:
        self._secret, self.ephemeral = state
        self._mac = hmac.new(self._secret, digestmod=hashlib.sha256)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.digest("hash", ""))


def uid_from_key(key: Key, uid: str) -> str:
    """Return ``2.25.<int>`` from the first 16 bytes of HMAC(key, uid) (PS3.5 B.2: a UUID-derived UID).

    At most 39 digits after ``2.25.``, so 44 characters, within the 64-character limit.
    """
    return "2.25." + str(int.from_bytes(key.digest("uid", uid)[:16], "big"))


def patient_token(key: Key, patient_id: str) -> str:
    """Return 10 base32 characters of HMAC(key, PatientID) (50 bits: collisions need ~30M patients)."""
    return base64.b32encode(key.digest("patient", patient_id)).decode("ascii")[:10]


def date_offset_days(key: Key, patient_id: str) -> int:
    """Return the per-patient date shift in days, in ``[-3650, -365]``, from HMAC(key, PatientID)."""
    span = SHIFT_MAX_DAYS - SHIFT_MIN_DAYS + 1
    return -(SHIFT_MIN_DAYS + int.from_bytes(key.digest("shift", patient_id)[:8], "big") % span)
