"""DIMSE with pynetdicom: associations, C-FIND, C-GET, C-MOVE, C-STORE, and a storage SCP for C-MOVE.

Every wait is bounded by the run's timeout (connection, association, each
response). Failures become one :class:`NetworkError` line naming the peer by its
spec and the DICOM status (PS3.4 C.4.2.1.5, C.4.3.1.4, B.2.3), never a value from
a query or a dataset. Objects are received as the encoded bytes the peer sent
(``event.encoded_dataset()``): nothing is decoded or re-encoded on the way in.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dcmexport.errors import NetworkError
from dcmexport.net import NetSettings, PacsSpec, SendError, import_backend

if TYPE_CHECKING:  # pragma: no cover
    from pydicom.dataset import Dataset
    from pynetdicom.association import Association

_PENDING = frozenset({0xFF00, 0xFF01})
#: Storage statuses that store the object all the same (PS3.4 B.2.3: coercion, elements discarded).
_STORE_WARNINGS = frozenset({0xB000, 0xB006, 0xB007})
_STATUS_TEXT = {
    0xA700: "refused: out of resources", 0xA701: "refused: out of resources (matches)",
    0xA702: "refused: out of resources (sub-operations)", 0xA801: "refused: move destination unknown",
    0xA900: "identifier does not match the SOP class", 0xB000: "some sub-operations failed",
    0xC000: "unable to process", 0xFE00: "cancelled", 0x0122: "SOP class not supported",
    0x0124: "not authorised",
}


def describe_status(code: int) -> str:
    """``0xA702 (refused: out of resources (sub-operations))`` for a DIMSE status."""
    text = _STATUS_TEXT.get(code) or ("out of resources" if code & 0xFF00 == 0xA700 else
                                      "cannot understand" if code & 0xF000 == 0xC000 else "failure")
    return f"0x{code:04X} ({text})"


def _resolve(host: str) -> str:
    try:
        return str(socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)[0][4][0])
    except OSError:
        raise NetworkError(f"{host}: unknown host") from None


def no_delay(event: Any) -> None:
    """On a new connection (``EVT_CONN_OPEN``): send small PDUs at once (no Nagle).

    A DIMSE message is a command PDU and a data PDU; with Nagle the second waits for
    the peer's delayed ACK, ~40 ms per message (measured: C-FIND 100 -> 65 ms).
    """
    sock = getattr(getattr(getattr(event.assoc, "dul", None), "socket", None), "socket", None)
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class Dimse:
    """One DIMSE peer and the run's settings: makes AEs and associations, bounded in time."""

    def __init__(self, spec: PacsSpec, settings: NetSettings) -> None:
        self.pn = import_backend("pynetdicom", str(spec))
        self.spec, self.settings = spec, settings
        self._open: set[Association] = set()
        self._lock = threading.Lock()

    def new_ae(self, aet: str | None = None) -> Any:
        ae = self.pn.AE(ae_title=aet or self.settings.calling_aet)
        for name in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
            setattr(ae, name, self.settings.timeout)
        return ae

    @contextlib.contextmanager
    def association(self, ae: Any, *, ext_neg: Sequence[Any] | None = None,
                    handlers: Sequence[Any] | None = None) -> Iterator[Association]:
        """An established association with the peer, released (or aborted) at the end.

        Raises:
            SendError: rejected or aborted (permanent: a configuration matter), refused or no
                answer within the timeout (transient).
        """
        started = time.monotonic()
        connected: list[bool] = []

        def on_open(event: Any) -> None:
            connected.append(True)
            no_delay(event)

        assoc = ae.associate(_resolve(self.spec.host), self.spec.port, ae_title=self.spec.called_aet,
                             ext_neg=list(ext_neg or ()),
                             evt_handlers=[(self.pn.evt.EVT_CONN_OPEN, on_open), *(handlers or ())])
        if not assoc.is_established:
            raise self._why_not(assoc, bool(connected), time.monotonic() - started)
        with self._lock:
            self._open.add(assoc)
        try:
            yield assoc
        finally:
            with self._lock:
                self._open.discard(assoc)
            if assoc.is_established:
                assoc.release()

    def _why_not(self, assoc: Any, connected: bool, waited: float) -> SendError:
        calling = self.settings.calling_aet
        if waited >= self.settings.timeout * 0.9:
            return SendError(f"{self.spec}: no answer within {self.settings.timeout:g} s", transient=True)
        if not connected:
            return SendError(f"{self.spec}: cannot connect (is the archive running, and the host and port right?)",
                             transient=True)
        if assoc.is_rejected:
            return SendError(f"{self.spec}: association rejected (check the called AE title {self.spec.called_aet} "
                             f"and that the archive knows the calling AE title {calling}: --calling-aet)",
                             transient=False)
        return SendError(f"{self.spec}: association aborted by the archive (it accepts none of the services "
                         "asked for)", transient=False)

    def abort_all(self) -> None:
        """Abort every open association (from another thread: Ctrl-C, an error)."""
        with self._lock:
            open_ = list(self._open)
        for assoc in open_:
            assoc.abort()

    def lost(self, what: str) -> NetworkError:
        return NetworkError(f"{self.spec}: {what}: no answer within {self.settings.timeout:g} s "
                            "or the association was lost")

    def find(self, assoc: Association, identifier: Dataset) -> Iterator[Dataset]:
        """C-FIND (Study Root): yield each match.

        Raises:
            NetworkError: a failure status or no answer.
        """
        model = self.pn.sop_class.StudyRootQueryRetrieveInformationModelFind
        for status, match in assoc.send_c_find(identifier, model):
            if not status:
                raise self.lost("C-FIND")
            code = int(status.Status)
            if code in _PENDING:
                if match is not None:
                    yield match
            elif code == 0x0000:
                return
            else:
                raise NetworkError(f"{self.spec}: C-FIND failed: status {describe_status(code)}")

    def finish_retrieve(self, what: str, responses: Iterator[tuple[Dataset, Dataset | None]], hint: str = "") -> None:
        """Consume C-GET / C-MOVE responses; raise unless every sub-operation completed (``hint`` ends a failure).

        Raises:
            NetworkError: a failure status, failed sub-operations, or no answer.
        """
        for status, _ in responses:
            if not status:
                raise self.lost(what)
            code = int(status.Status)
            if code in _PENDING:
                continue
            failed = int(getattr(status, "NumberOfFailedSuboperations", 0) or 0)
            done = int(getattr(status, "NumberOfCompletedSuboperations", 0) or 0)
            if code == 0x0000 and not failed:
                return
            if failed:
                raise NetworkError(f"{self.spec}: {what}: {failed} of {failed + done} objects failed to transfer "
                                   f"(status {describe_status(code)})")
            raise NetworkError(f"{self.spec}: {what} failed: status {describe_status(code)}{hint}")
        raise self.lost(what)


class StorageServer:
    """dcmexport's own storage SCP, the destination of C-MOVE (``--move-dest AET:port``).

    It accepts only the objects the current move asked for (by SOP Instance UID,
    from the C-FIND that preceded it); anything else is refused (0xC000) and never
    written, so another sender cannot slip objects into the export.
    """

    def __init__(self, dimse: Dimse, aet: str, port: int, on_object: Callable[[bytes], None]) -> None:
        self.dimse, self.aet, self.port, self.on_object = dimse, aet, port, on_object
        self.expected: set[str] = set()
        self._server: Any = None

    def __enter__(self) -> StorageServer:
        pn = self.dimse.pn
        ae = self.dimse.new_ae(self.aet)
        ae.require_called_aet = True
        for context in pn.AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, pn.ALL_TRANSFER_SYNTAXES)
        try:
            self._server = ae.start_server(("", self.port), block=False,
                                           evt_handlers=[(pn.evt.EVT_C_STORE, self._on_store),
                                                         (pn.evt.EVT_CONN_OPEN, no_delay)])
        except OSError as exc:
            raise NetworkError(f"--move-dest {self.aet}:{self.port}: cannot listen ({exc.strerror})") from None
        return self

    def _on_store(self, event: Any) -> int:
        uid = str(event.request.AffectedSOPInstanceUID or "")
        if uid not in self.expected:
            return 0xC000
        try:
            self.on_object(event.encoded_dataset())
        except Exception:
            return 0xA700
        self.expected.discard(uid)
        return 0x0000

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()


class StoreScu:
    """C-STORE to an archive (forwarding), one association kept across objects.

    Presentation contexts are proposed for the (SOP class, transfer syntax) pairs of
    the files sent so far; a file of a new pair re-associates with the new pair added.
    """

    def __init__(self, spec: PacsSpec, settings: NetSettings) -> None:
        self.dimse = Dimse(spec, settings)
        self._pairs: dict[tuple[str, str], None] = {}
        self._assoc: Any = None
        self._scope: Any = None

    def _connect(self) -> Any:
        self.close()
        ae = self.dimse.new_ae()
        for sop_class, syntax in list(self._pairs)[-128:]:  # at most 128 contexts (PS3.8 9.3.2.2)
            ae.add_requested_context(sop_class, syntax)
        scope = self.dimse.association(ae)
        self._assoc = scope.__enter__()  # SendError when refused: transient or not, as it says
        self._scope = scope
        return self._assoc

    def send(self, path: Path) -> None:
        """Store one Part 10 file.

        Raises:
            SendError: transient (no association, out of resources) or permanent (refused).
        """
        from pydicom.filereader import read_file_meta_info

        meta = read_file_meta_info(path)
        pair = (str(meta.MediaStorageSOPClassUID), str(meta.TransferSyntaxUID))
        assoc = self._assoc
        if assoc is None or not assoc.is_established or pair not in self._pairs:
            self._pairs[pair] = None
            assoc = self._connect()
        accepted = {(c.abstract_syntax, c.transfer_syntax[0]) for c in assoc.accepted_contexts}
        if pair not in accepted:
            raise SendError(f"{self.dimse.spec}: C-STORE: the archive does not accept this object's SOP class "
                            "in its transfer syntax", transient=False)
        status = assoc.send_c_store(path)
        if not status:
            self.close()
            raise SendError(f"{self.dimse.spec}: C-STORE: no answer within {self.dimse.settings.timeout:g} s "
                            "or the association was lost", transient=True)
        code = int(status.Status)
        if code == 0x0000 or code in _STORE_WARNINGS:
            return
        raise SendError(f"{self.dimse.spec}: C-STORE failed: status {describe_status(code)}",
                        transient=code & 0xFF00 == 0xA700)

    def close(self) -> None:
        scope, self._scope, self._assoc = self._scope, None, None
        if scope is not None:
            scope.__exit__(None, None, None)
