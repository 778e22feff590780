"""A real Orthanc (Debian's ``orthanc`` and ``orthanc-dicomweb``) for tests and benchmarks.

Each server gets its own JSON configuration, free local ports, storage in a
temporary folder, the DICOMweb plugin, and no access from other machines: HTTP
is local only (``RemoteAccessAllowed`` false) and DICOM peers must be registered
modalities connecting from 127.0.0.1 (``DicomCheckModalityHost``; nothing is
allowed to unknown peers). dcmexport's AE title is registered (with its storage
SCP's port, for C-MOVE).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ORTHANC = "/usr/sbin/Orthanc"
PLUGIN_CANDIDATES = (
    "/usr/share/orthanc/plugins/libOrthancDicomWeb.so",
    "/usr/lib/orthanc/libOrthancDicomWeb.so.1.7",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dicomweb_plugin() -> str | None:
    """The DICOMweb plugin's shared object, wherever this Debian release put it (``dpkg -L orthanc-dicomweb``)."""
    for path in PLUGIN_CANDIDATES:
        if Path(path).is_file():
            return path
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        listing = subprocess.run(["dpkg", "-L", "orthanc-dicomweb"], capture_output=True, text=True, timeout=10).stdout
        for line in listing.splitlines():
            if "DicomWeb" in line and ".so" in line and Path(line).is_file():
                return line
    return None


def missing() -> str | None:
    """Why a real Orthanc cannot run here (None: it can)."""
    if not Path(ORTHANC).is_file():
        return "Orthanc is not installed (apt-get install orthanc orthanc-dicomweb)"
    if dicomweb_plugin() is None:
        return "the Orthanc DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
    return None


def make_certificate(folder: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for localhost / 127.0.0.1: (certificate, key) PEM files; None without openssl."""
    if shutil.which("openssl") is None:
        return None
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    return cert, key


class TlsProxy:
    """HTTPS in front of a local HTTP port, as nginx would put it in front of Orthanc.

    (Orthanc 1.10's own HTTPS crashes on the first request in this Debian build.)
    """

    def __init__(self, cert: Path, key: Path, target_port: int) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(str(cert), str(key))
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            tls = self.context.wrap_socket(client, server_side=True)
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
        except OSError:  # e.g. a client that does not trust the certificate hangs up
            client.close()
            return

        def pipe(src: socket.socket, dst: socket.socket) -> None:
            try:
                while data := src.recv(1 << 16):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for sock in (src, dst):
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pipe, args=(upstream, tls), daemon=True).start()
        pipe(tls, upstream)

    def close(self) -> None:
        self._stop = True
        self.listener.close()


@dataclass
class Orthanc:
    """One running Orthanc; ``url`` is its DICOMweb root, ``dicom_port`` its DICOM port."""

    folder: Path
    aet: str = "ORTHANC"
    scu_aet: str = "DCMEXPORT"
    scp_port: int = 0
    users: dict[str, str] = field(default_factory=dict)
    http_port: int = 0
    dicom_port: int = 0
    process: subprocess.Popen[bytes] | None = None
    instance_name: str = ""  # the server's Name, random per start: tells our server from another on the port

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def dicomweb(self) -> str:
        """The ``dicomweb+http(s)://`` spec of this server."""
        return f"dicomweb+{self.base}/dicom-web"

    @property
    def pacs(self) -> str:
        """The ``pacs://`` spec of this server."""
        return f"pacs://{self.aet}@127.0.0.1:{self.dicom_port}"

    def config(self) -> dict[str, Any]:
        storage = str(self.folder / "storage")
        config: dict[str, Any] = {
            "Name": self.instance_name,
            "StorageDirectory": storage,
            "IndexDirectory": storage,
            "HttpPort": self.http_port,
            "DicomPort": self.dicom_port,
            "DicomAet": self.aet,
            "RemoteAccessAllowed": False,
            "HttpCompressionEnabled": False,
            "Plugins": [dicomweb_plugin()],
            "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
            "DicomModalities": {"dcmexport": [self.scu_aet, "127.0.0.1", self.scp_port or 104]},
            "DicomCheckCalledAet": True,
            "DicomCheckModalityHost": True,
            "DicomAlwaysAllowEcho": False,
            "DicomAlwaysAllowStore": False,
            "UnknownSopClassAccepted": True,
            "DicomScuTimeout": 10,
            "StorageCompression": False,
            "ConcurrentJobs": 2,
            "AuthenticationEnabled": bool(self.users),
            "RegisteredUsers": self.users,
        }
        return config

    def start(self, timeout: float = 30.0, attempts: int = 3) -> Orthanc:
        """Start Orthanc on free ports and wait until it answers.

        A free port can be taken by another process between :func:`free_port` and Orthanc's
        bind (another test run's server, for one): Orthanc then exits at start-up, or the
        port answers for someone else. The server must answer with this instance's own name
        (a random one), and a failed start is tried again on new ports.
        """
        for attempt in range(1, attempts + 1):
            try:
                return self._start_once(timeout)
            except RuntimeError:
                self.stop()
                if attempt == attempts:
                    raise
        raise AssertionError("unreachable")

    def _start_once(self, timeout: float) -> Orthanc:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.http_port, self.dicom_port = free_port(), free_port()
        self.instance_name = f"dcmexport-test-{self.aet}-{secrets.token_hex(4)}"
        path = self.folder / "orthanc.json"
        path.write_text(json.dumps(self.config(), indent=2))
        log = open(self.folder / "orthanc.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen([ORTHANC, str(path)], stdout=log, stderr=subprocess.STDOUT,
                                        env={**os.environ, "TCP_NODELAY": "1"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Orthanc exited at start-up; see {self.folder / 'orthanc.log'}")
            with contextlib.suppress(OSError, urllib.error.URLError, ValueError):
                if self.get("/system").get("Name") != self.instance_name:
                    raise RuntimeError("another server answers on this port")
                with socket.create_connection(("127.0.0.1", self.dicom_port), timeout=1):
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"Orthanc did not answer within {timeout:g} s; see {self.folder / 'orthanc.log'}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:  # Orthanc takes ~5 s to stop gracefully; its storage is a throw-away folder
                process.wait(timeout=1)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def request(self, method: str, path: str, data: bytes | None = None) -> bytes:
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        if self.users:
            user, password = next(iter(self.users.items()))
            req.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
        with urllib.request.urlopen(req, timeout=30) as response:
            return bytes(response.read())

    def get(self, path: str) -> Any:
        return json.loads(self.request("GET", path))

    def upload(self, paths: list[Path]) -> list[str]:
        """POST each file to ``/instances``; the Orthanc IDs of the stored instances."""
        return [json.loads(self.request("POST", "/instances", p.read_bytes()))["ID"] for p in paths]

    def files(self) -> list[bytes]:
        """Every stored instance, as stored."""
        return [self.request("GET", f"/instances/{i}/file") for i in self.get("/instances")]

    def clear(self) -> None:
        for patient in self.get("/patients"):
            self.request("DELETE", f"/patients/{patient}")
