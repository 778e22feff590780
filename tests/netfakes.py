"""Small misbehaving servers for the network tests: pynetdicom's own SCPs, a socket that never answers,
and a tiny DICOMweb server (QIDO-RS / WADO-RS) that can demand a bearer token, fail or stall."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pydicom


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a stalled server)."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = listener.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        listener.close()


def _json_attr(vr: str, value: object) -> dict[str, object]:
    return {"vr": vr, "Value": [value]}


@dataclass
class FakeWeb:
    """A DICOMweb service of one study with one series of ``files``.

    ``status`` answers every request with that HTTP code; ``stall`` sleeps that long
    before answering (``stall_wado``: only WADO-RS requests); ``token`` demands
    ``Authorization: Bearer <token>``; ``gate``: after the first part of a series,
    wait for this event (at most ``gate_timeout`` s) before sending the rest.
    """

    files: list[Path] = field(default_factory=list)
    status: int | None = None
    stall: float = 0.0
    stall_wado: float = 0.0
    token: str | None = None
    gate: threading.Event | None = None
    gate_timeout: float = 10.0
    wado_requests: int = 0
    seen_authorization: list[str] = field(default_factory=list)
    port: int = 0

    @property
    def spec(self) -> str:
        return f"dicomweb+http://127.0.0.1:{self.port}/dicom-web"

    def _uids(self) -> tuple[str, str]:
        ds = pydicom.dcmread(self.files[0], stop_before_pixels=True)
        return str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        auth = handler.headers.get("Authorization", "")
        self.seen_authorization.append(auth)
        url = urlsplit(handler.path)
        is_wado = "/series/" in url.path
        self.wado_requests += is_wado
        if self.stall or (is_wado and self.stall_wado):
            time.sleep(self.stall or self.stall_wado)
        if self.status is not None:
            return self._send(handler, self.status, b'{"error": "fake"}', "application/json")
        if self.token is not None and auth != f"Bearer {self.token}":
            return self._send(handler, 401, b"", "text/plain", {"WWW-Authenticate": 'Bearer realm="fake"'})
        study, series = self._uids()
        if parse_qs(url.query).get("offset", ["0"])[0] != "0":
            return self._send(handler, 200, b"[]", "application/dicom+json")
        if url.path.endswith("/studies"):
            body = [{"0020000D": _json_attr("UI", study), "00201208": _json_attr("IS", len(self.files))}]
            return self._send(handler, 200, json.dumps(body).encode(), "application/dicom+json")
        if url.path.endswith("/series"):
            body = [{"0020000E": _json_attr("UI", series), "00080060": _json_attr("CS", "CT"),
                     "00201209": _json_attr("IS", len(self.files))}]
            return self._send(handler, 200, json.dumps(body).encode(), "application/dicom+json")
        boundary = "fake-boundary-0001"
        handler.send_response(200)
        handler.send_header("Content-Type", f'multipart/related; type="application/dicom"; boundary={boundary}')
        handler.end_headers()
        handler.wfile.write(f"--{boundary}".encode())
        for number, path in enumerate(self.files):
            # A part is complete once the next delimiter has come: send it with the part.
            handler.wfile.write(b"\r\nContent-Type: application/dicom\r\n\r\n" + path.read_bytes()
                                + f"\r\n--{boundary}".encode())
            handler.wfile.flush()
            if number == 0 and self.gate is not None:
                self.gate.wait(self.gate_timeout)
        handler.wfile.write(b"--\r\n")

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        handler.send_response(code)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(body)

    @contextlib.contextmanager
    def running(self) -> Iterator[FakeWeb]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.0"

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with contextlib.suppress(OSError):
                    fake.answer(self)

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args: Any) -> None:
                return None

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.port = int(server.server_address[1])
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            if self.gate is not None:
                self.gate.set()
            server.shutdown()
            server.server_close()


@contextlib.contextmanager
def storage_scp(aet: str, statuses: Callable[[int], int]) -> Iterator[tuple[int, list[str]]]:
    """pynetdicom's storage SCP answering the n-th C-STORE (from 0) with ``statuses(n)``; yields the port
    and the SOP Instance UIDs it acknowledged with success."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt

    ae = AE(ae_title=aet)
    for context in AllStoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
    stored: list[str] = []
    calls = [0]

    def on_store(event: Any) -> int:
        code = statuses(calls[0])
        calls[0] += 1
        if code == 0:
            stored.append(str(event.request.AffectedSOPInstanceUID))
        return code

    server = ae.start_server(("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, on_store)])
    try:
        yield int(server.server_address[1]), stored
    finally:
        server.shutdown()


@contextlib.contextmanager
def get_scp_with_failures(good: Path, bad: Path) -> Iterator[int]:
    """pynetdicom's Q/R SCP (``FAKEQR``) answering C-FIND with one study, one series and two CT images, whose
    C-GET sends ``good`` and then ``bad`` (an MR image: no storage context was negotiated for it, so
    its sub-operation fails and the final status is 0xB000 with one failure)."""
    from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
    from pynetdicom.sop_class import (  # type: ignore[attr-defined]
        CTImageStorage,
        MRImageStorage,
        StudyRootQueryRetrieveInformationModelFind,
        StudyRootQueryRetrieveInformationModelGet,
    )

    first, second = pydicom.dcmread(good), pydicom.dcmread(bad)
    study, series = str(first.StudyInstanceUID), str(first.SeriesInstanceUID)
    ae = AE(ae_title="FAKEQR")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelFind)
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    for sop in (CTImageStorage, MRImageStorage):
        ae.add_supported_context(sop, ALL_TRANSFER_SYNTAXES, scu_role=True, scp_role=True)

    def on_find(event: Any) -> Iterator[tuple[int, Any]]:
        level = event.identifier.QueryRetrieveLevel
        rows = [{"StudyInstanceUID": study, "NumberOfStudyRelatedInstances": "2"}] if level == "STUDY" else \
            [{"StudyInstanceUID": study, "SeriesInstanceUID": series, "Modality": "CT",
              "NumberOfSeriesRelatedInstances": "2"}] if level == "SERIES" else \
            [{"SOPInstanceUID": str(ds.SOPInstanceUID), "SOPClassUID": str(CTImageStorage)} for ds in (first, second)]
        for row in rows:
            identifier = pydicom.Dataset()
            identifier.QueryRetrieveLevel = level
            for keyword, value in row.items():
                setattr(identifier, keyword, value)
            yield 0xFF00, identifier

    def on_get(event: Any) -> Iterator[Any]:
        yield 2
        yield 0xFF00, first
        yield 0xFF00, second

    server = ae.start_server(("127.0.0.1", 0), block=False,
                             evt_handlers=[(evt.EVT_C_FIND, on_find), (evt.EVT_C_GET, on_get)])
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
