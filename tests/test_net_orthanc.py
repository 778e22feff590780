"""dcmexport against a real Orthanc (Debian's orthanc + orthanc-dicomweb): network sources, forwarding, faults.

The clinical archive (HTTP basic authentication, a planted password) holds samples/ and pydicom test
files; DICOMweb is reached through HTTPS (a TLS terminator in front of it, as nginx would be). A second
Orthanc is the research archive that de-identified objects are forwarded to. Faults come from pynetdicom's
own SCPs, a socket that never answers and a tiny HTTP server (tests/netfakes.py). Skipped, with the reason,
where Orthanc is not installed; .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pytest
from typer.testing import CliRunner, Result

from tests import orthanc as server
from tests.netfakes import FakeWeb, get_scp_with_failures, silent_server, storage_scp

pytest.importorskip("pynetdicom")
pytest.importorskip("dicomweb_client")
pytestmark = [pytest.mark.network,
              pytest.mark.skipif(server.missing() is not None, reason=server.missing() or "")]

from dcmexport.cli import app  # noqa: E402

SECRET = "Pl4nted-s3cret-9f31c"  # the archive's password: must never appear anywhere
KEY = "network-test-key-0123456789abcdef"
PYDICOM_FILES = ("CT_small.dcm", "MR_small.dcm", "SC_rgb_rle.dcm", "JPEG2000.dcm", "JPEG-lossy.dcm")
PHI = ("FAKE^PATIENT", "FAKE-ID-0001", "FAKEACC0001")  # the samples' fake identity


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    """The CLI in this process; the key fixed, no DICOMweb credentials unless given."""
    base = {"DCMEXPORT_KEY": KEY, "DCMEXPORT_DICOMWEB_TOKEN": None, "DCMEXPORT_DICOMWEB_USER": None,
            "DCMEXPORT_DICOMWEB_PASSWORD": None}
    return CliRunner().invoke(app, [str(a) for a in args], env={**base, **(env or {})})  # type: ignore[dict-item]


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "manifest.jsonl"}


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def pydicom_file(name: str) -> Path:
    import pydicom.data

    return Path(pydicom.data.__file__).parent / "test_files" / name


@pytest.fixture(scope="session")
def originals(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Path:
    """The originals: samples' DICOM files and a few pydicom test files (three are refused: burned-in text)."""
    folder = tmp_path_factory.mktemp("originals")
    for path in sorted(samples_dir.rglob("*.dcm")):
        shutil.copy(path, folder / f"{path.parent.name}-{path.name}")
    for name in PYDICOM_FILES:
        shutil.copy(pydicom_file(name), folder / name)
    return folder


@pytest.fixture(scope="session")
def study_args(originals: Path) -> list[str]:
    uids = sorted({str(pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID) for p in originals.iterdir()})
    return [arg for uid in uids for arg in ("--study", uid)]


@pytest.fixture(scope="session")
def scp_port() -> int:
    return server.free_port()


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory, originals: Path, scp_port: int) -> Iterator[server.Orthanc]:
    orthanc = server.Orthanc(tmp_path_factory.mktemp("archive"), users={"alice": SECRET}, scp_port=scp_port).start()
    try:
        orthanc.upload(sorted(originals.iterdir()))
        assert sorted(orthanc.files()) == sorted(p.read_bytes() for p in originals.iterdir())  # stored as given
        yield orthanc
    finally:
        orthanc.stop()


@pytest.fixture(scope="session")
def research(tmp_path_factory: pytest.TempPathFactory) -> Iterator[server.Orthanc]:
    orthanc = server.Orthanc(tmp_path_factory.mktemp("research"), aet="RESEARCH").start()
    try:
        yield orthanc
    finally:
        orthanc.stop()


@pytest.fixture(scope="session")
def https(tmp_path_factory: pytest.TempPathFactory, archive: server.Orthanc) -> Iterator[tuple[str, Path]]:
    """The archive's DICOMweb over HTTPS: (spec, the self-signed certificate to trust)."""
    made = server.make_certificate(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("openssl is not installed (needed for the HTTPS test server's certificate)")
    cert, key = made
    proxy = server.TlsProxy(cert, key, archive.http_port)
    try:
        yield f"dicomweb+https://localhost:{proxy.port}/dicom-web", cert
    finally:
        proxy.close()


@pytest.fixture(scope="session")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "archive.toml"
    path.write_text(f'username = "alice"\npassword = "{SECRET}"\n')
    path.chmod(0o600)
    return path


@pytest.fixture(scope="session")
def from_disk(tmp_path_factory: pytest.TempPathFactory, originals: Path) -> dict[str, Path]:
    """``export`` and ``deid`` of the originals from disk, with the test key: the reference outputs."""
    made = {}
    for command in ("export", "deid"):
        out = tmp_path_factory.mktemp(f"disk-{command}")
        res = run(command, originals, "--out", out, "-q", "-j", "1")
        assert res.exit_code == 1, res.output  # three objects are refused (burned-in text), as over the network
        made[command] = out
    return made


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where this process makes temporary folders during the test (to see that none is left)."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def source_args(protocol: str, archive: server.Orthanc, https: tuple[str, Path], auth_file: Path,
                scp_port: int) -> list[str | Path]:
    if protocol == "dicomweb":
        spec, cert = https
        return [spec, "--auth-file", auth_file, "--ca-file", cert]
    move = ["--move-dest", f"DCMEXPORT:{scp_port}"] if protocol == "c-move" else []
    return [archive.pacs, *move]


@pytest.mark.parametrize("protocol", ["dicomweb", "c-get", "c-move"])
def test_export_by_study_equals_export_from_disk(protocol: str, archive: server.Orthanc, https: tuple[str, Path],
                                                 auth_file: Path, scp_port: int, study_args: list[str],
                                                 from_disk: dict[str, Path], tmp_path: Path,
                                                 private_tmp: Path) -> None:
    out = tmp_path / "out"
    res = run("export", *source_args(protocol, archive, https, auth_file, scp_port), *study_args, "--out", out,
              "--json", "-j", "1")
    assert res.exit_code == 1, res.output  # the same three refusals as from disk
    payload = json.loads(res.stdout)
    assert (payload["written"], payload["refused"], payload["failed"]) == (12, 3, 0), payload["objects"]
    got, want = outputs(out), outputs(from_disk["export"])
    if protocol == "dicomweb":
        assert got == want  # WADO-RS gives the files as stored: same names, same bytes
    else:
        # DIMSE carries the dataset, not the file: the received file has dcmexport's own file meta, and
        # output names hash the input file's bytes. The outputs themselves are the same, byte for byte.
        assert sorted(got.values()) == sorted(want.values())
    prefix = "dicomweb:localhost/study-" if protocol == "dicomweb" else "pacs:ORTHANC/study-"
    assert all(o["input"].startswith(prefix) for o in payload["objects"])  # labels: counters, no UID, no PHI
    assert not list(private_tmp.iterdir())  # the private folder of retrieved objects is gone


def test_deid_over_dicomweb_equals_deid_from_disk(https: tuple[str, Path], auth_file: Path, study_args: list[str],
                                                  from_disk: dict[str, Path], tmp_path: Path) -> None:
    spec, cert = https
    res = run("deid", spec, "--auth-file", auth_file, "--ca-file", cert, *study_args, "--out", tmp_path, "-q")
    assert res.exit_code == 1, res.output
    assert outputs(tmp_path) == outputs(from_disk["deid"])


def test_retrieved_objects_stay_private_and_stream(tmp_path: Path, private_tmp: Path) -> None:
    """Objects are exported while the series is still arriving; the folder holding them is 0700, files 0600."""
    from dcmexport import api
    from dcmexport.deid import Key
    from dcmexport.net import NetSettings, parse_spec
    from dcmexport.sources.network import RemoteInput
    from dcmexport.sources.remote import Query

    files = sorted(Path(__file__).resolve().parent.parent.joinpath("samples", "ct_series").glob("*.dcm"))
    gate = threading.Event()
    modes: list[tuple[int, int]] = []

    def on_retrieved(count: int) -> None:
        for folder in private_tmp.glob("dcmexport-retrieved-*"):
            modes.extend((folder.stat().st_mode & 0o777, f.stat().st_mode & 0o777) for f in folder.iterdir())

    def on_result(result: api.ExportResult) -> None:
        gate.set()  # the first object is out: let the server send the rest of the series

    with FakeWeb(files, gate=gate, gate_timeout=10).running() as fake:
        started = time.monotonic()
        remote = RemoteInput(parse_spec(fake.spec), Query(studies=(str(pydicom.dcmread(files[0]).StudyInstanceUID),)),
                             NetSettings(timeout=20), on_retrieved=on_retrieved)
        batch = api.export(remote, tmp_path / "out", key=Key(KEY.encode()), on_result=on_result)
    assert [r.status for r in batch.results] == ["written"] * 5
    assert time.monotonic() - started < 8  # the gate opened on the first result, not on its timeout
    assert modes and set(modes) == {(0o700, 0o600)}
    assert not list(private_tmp.iterdir())


@pytest.mark.parametrize("destination", ["c-store", "stow-rs"])
def test_forward_to_research_archive_then_verify(destination: str, archive: server.Orthanc, research: server.Orthanc,
                                                 originals: Path, study_args: list[str], tmp_path: Path) -> None:
    from dcmexport.audit.verify import verify_paths

    research.clear()
    to = research.pacs if destination == "c-store" else research.dicomweb
    res = run("deid", archive.pacs, *study_args, "--out", tmp_path / "out", "--to", to, "--json")
    assert res.exit_code == 1, res.output  # three refused objects...
    payload = json.loads(res.stdout)
    assert (payload["written"], payload["refused"], payload["failed"]) == (12, 3, 0)
    stored = research.files()
    assert len(stored) == 12  # ...and never sent
    written = {pydicom.dcmread(p).SOPInstanceUID for p in (tmp_path / "out").glob("*.dcm")}
    back = tmp_path / "read-back"
    back.mkdir()
    for n, data in enumerate(stored):
        (back / f"{n}.dcm").write_bytes(data)
    assert {pydicom.dcmread(p).SOPInstanceUID for p in back.iterdir()} == written
    report = verify_paths([back], against=[originals])
    assert report.ok and report.files_checked == 12, report.findings  # nothing that fails
    # and nothing else than verifying the same run's files in --out finds (a masked ultrasound clip that no OCR
    # checked is marked PatientIdentityRemoved NO: "pixels masked, not checked", which does not fail)
    local = verify_paths([tmp_path / "out"], against=[originals])
    assert sorted((f.kind, f.detail) for f in report.findings) == sorted((f.kind, f.detail) for f in local.findings)
    assert {f.category.value for f in report.findings} <= {"unclaimed"}
    records = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text().splitlines()]
    objects = [r for r in records if r["record"] == "object"]
    assert sorted(f"stored at {to}" in r["notes"] for r in objects) == [False] * 3 + [True] * 12


def test_forward_refused_by_archive_fails_each_object_and_keeps_nothing(archive: server.Orthanc,
                                                                        research: server.Orthanc,
                                                                        tmp_path: Path) -> None:
    wrong = f"pacs://NOT-RESEARCH@127.0.0.1:{research.dicom_port}"
    ct = tmp_path / "ct.dcm"
    shutil.copy(pydicom_file("CT_small.dcm"), ct)
    res = run("deid", ct, "--out", tmp_path / "out", "--to", wrong, "-q")
    assert res.exit_code == 1
    assert lines(res.stderr) == [f"{ct}: failed: not stored: {wrong}: association rejected (check the called AE "
                                 "title NOT-RESEARCH and that the archive knows the calling AE title DCMEXPORT: "
                                 "--calling-aet)"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["manifest.jsonl"]
    record = json.loads((tmp_path / "out" / "manifest.jsonl").read_text().splitlines()[-1])
    assert (record["status"], record["outputs"], record["error_kind"]) == ("failed", [], "network")


def test_forward_retries_a_busy_archive(tmp_path: Path) -> None:
    ct = tmp_path / "ct.dcm"
    shutil.copy(pydicom_file("CT_small.dcm"), ct)
    with storage_scp("BUSY", lambda n: 0xA700 if n < 2 else 0x0000) as (port, stored):
        res = run("deid", ct, "--out", tmp_path / "out", "--to", f"pacs://BUSY@127.0.0.1:{port}", "-q")
    assert res.exit_code == 0, res.output
    assert stored == [str(pydicom.dcmread(next((tmp_path / "out").glob("*.dcm"))).SOPInstanceUID)]


def test_forward_refused_object_is_not_retried(tmp_path: Path) -> None:
    ct = tmp_path / "ct.dcm"
    shutil.copy(pydicom_file("CT_small.dcm"), ct)
    calls: list[int] = []
    with storage_scp("PICKY", lambda n: calls.append(n) or 0xA900) as (port, _):
        res = run("deid", ct, "--out", tmp_path / "out", "--to", f"pacs://PICKY@127.0.0.1:{port}", "-q")
    assert res.exit_code == 1
    assert calls == [0]
    assert "C-STORE failed: status 0xA900 (identifier does not match the SOP class)" in res.stderr


def _assert_fails_before_writing(res: Result, out: Path, expected: str) -> None:
    assert res.exit_code == 1, res.output
    assert lines(res.stderr) == [f"dcmexport: error: {expected}"]
    assert not out.exists()


def test_association_rejected(archive: server.Orthanc, tmp_path: Path) -> None:
    spec = f"pacs://WRONG-AET@127.0.0.1:{archive.dicom_port}"
    res = run("export", spec, "--patient-id", "FAKE-ID-0001", "--out", tmp_path / "out", "-q")
    _assert_fails_before_writing(res, tmp_path / "out", f"{spec}: association rejected (check the called AE title "
                                 "WRONG-AET and that the archive knows the calling AE title DCMEXPORT: --calling-aet)")


def test_c_move_to_a_destination_the_archive_does_not_know(archive: server.Orthanc, scp_port: int,
                                                          tmp_path: Path) -> None:
    study = pydicom.dcmread(pydicom_file("CT_small.dcm"), stop_before_pixels=True).StudyInstanceUID
    res = run("export", archive.pacs, "--study", study, "--move-dest", f"UNKNOWN:{scp_port}", "--out",
              tmp_path / "out", "-q")
    assert res.exit_code == 1
    (line,) = lines(res.stderr)  # Orthanc 1.10 answers 0xC000, not 0xA801 (move destination unknown)
    assert line.startswith(f"pacs:ORTHANC/study-1/series-1: failed: {archive.pacs}: C-MOVE failed: status 0x")
    assert line.endswith(f"; does the archive know UNKNOWN at this machine's address, port {scp_port}?")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["manifest.jsonl"]


def test_c_get_with_failed_sub_operations(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with get_scp_with_failures(pydicom_file("CT_small.dcm"), pydicom_file("MR_small.dcm")) as port:
        res = run("export", f"pacs://FAKEQR@127.0.0.1:{port}", "--study-date", "19000101-", "--out", out, "-q")
    assert res.exit_code == 1
    assert lines(res.stderr) == [f"pacs:FAKEQR/study-1/series-1: failed: pacs://FAKEQR@127.0.0.1:{port}: C-GET: "
                                 "1 of 2 objects failed to transfer (status 0xB000 (some sub-operations failed))"]
    assert sorted(p.suffix for p in out.iterdir()) == [".jsonl", ".png"]  # the object that came is whole


def test_c_get_failure_drops_a_whole_series_clip(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with get_scp_with_failures(pydicom_file("CT_small.dcm"), pydicom_file("MR_small.dcm")) as port:
        res = run("export", f"pacs://FAKEQR@127.0.0.1:{port}", "--study-date", "19000101-", "--series",
                  "--out", out, "-q")
    assert res.exit_code == 1
    assert len(lines(res.stderr)) == 1
    assert [p.name for p in out.iterdir()] == ["manifest.jsonl"]  # no clip missing slices


def test_dimse_server_that_never_answers(tmp_path: Path) -> None:
    started = time.monotonic()
    with silent_server() as port:
        res = run("export", f"pacs://STALL@127.0.0.1:{port}", "--study", "1.2.3", "--out", tmp_path / "out",
                  "--net-timeout", "2", "-q")
    _assert_fails_before_writing(res, tmp_path / "out", f"pacs://STALL@127.0.0.1:{port}: no answer within 2 s")
    assert time.monotonic() - started < 8


def test_dicomweb_401_from_the_archive(archive: server.Orthanc, tmp_path: Path) -> None:
    res = run("export", archive.dicomweb, "--study-date", "19000101-", "--out", tmp_path / "out", "-q")
    _assert_fails_before_writing(res, tmp_path / "out", f"{archive.dicomweb}: QIDO-RS query: HTTP 401 Unauthorized "
                                 "(the server wants credentials: set DCMEXPORT_DICOMWEB_TOKEN (or _USER and "
                                 "_PASSWORD) or give --auth-file)")


def test_dicomweb_500(tmp_path: Path) -> None:
    with FakeWeb([pydicom_file("CT_small.dcm")], status=500).running() as fake:
        res = run("export", fake.spec, "--study", "1.2.3", "--out", tmp_path / "out", "-q")
    _assert_fails_before_writing(res, tmp_path / "out", f"{fake.spec}: QIDO-RS query: HTTP 500 Internal Server "
                                 "Error (server error: see the server's log)")


def test_dicomweb_server_that_stalls(tmp_path: Path) -> None:
    with FakeWeb([pydicom_file("CT_small.dcm")], stall=30).running() as fake:
        res = run("export", fake.spec, "--study", "1.2.3", "--out", tmp_path / "out", "--net-timeout", "2", "-q")
    _assert_fails_before_writing(res, tmp_path / "out", f"{fake.spec}: QIDO-RS query: no answer within 2 s")


def test_dicomweb_stall_during_retrieval(tmp_path: Path, private_tmp: Path) -> None:
    with FakeWeb([pydicom_file("CT_small.dcm")], stall_wado=30).running() as fake:
        res = run("export", fake.spec, "--study", "1.2.3", "--out", tmp_path / "out", "--net-timeout", "2", "-q")
    assert res.exit_code == 1
    assert lines(res.stderr) == [f"dicomweb:127.0.0.1/study-1/series-1: failed: {fake.spec}: WADO-RS retrieval: "
                                 "no answer within 2 s"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["manifest.jsonl"]
    assert not list(private_tmp.iterdir())


def test_untrusted_certificate_is_refused(https: tuple[str, Path], auth_file: Path, tmp_path: Path) -> None:
    spec, _ = https
    res = run("export", spec, "--auth-file", auth_file, "--study", "1.2.3", "--out", tmp_path / "out", "-q")
    _assert_fails_before_writing(res, tmp_path / "out", f"{spec}: QIDO-RS query: the server's TLS certificate is "
                                 "not trusted (add your CA with --ca-file)")


def _everything(res: Result, *folders: Path) -> bytes:
    blobs = [res.stdout.encode(), res.stderr.encode()]
    for folder in folders:
        blobs.extend(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    return b"\n".join(blobs)


def test_credentials_never_leak(https: tuple[str, Path], auth_file: Path, study_args: list[str],
                                tmp_path: Path) -> None:
    spec, cert = https
    out, logs = tmp_path / "out", tmp_path / "logs"
    logs.mkdir()
    ok = run("export", spec, "--auth-file", auth_file, "--ca-file", cert, *study_args, "--out", out, "--json",
             "--log", logs / "run.log")
    assert ok.exit_code == 1 and json.loads(ok.stdout)["written"] == 12
    wrong = "Wr0ng-planted-passw0rd"
    refused = run("export", spec, "--ca-file", cert, "--study", "1.2.3", "--out", tmp_path / "o2",
                  "--log", logs / "run2.log", env={"DCMEXPORT_DICOMWEB_USER": "alice",
                                                     "DCMEXPORT_DICOMWEB_PASSWORD": wrong})
    assert refused.exit_code == 1 and "HTTP 401" in refused.stderr
    # --debug logs what the HTTP libraries say (URLs, status lines): still no credential
    ct_study = str(pydicom.dcmread(pydicom_file("CT_small.dcm"), stop_before_pixels=True).StudyInstanceUID)
    debug = subprocess.run([sys.executable, "-m", "dcmexport", "export", spec, "--auth-file", str(auth_file),
                            "--ca-file", str(cert), "--study", ct_study, "--out", str(tmp_path / "o4"), "--debug"],
                           env={**os.environ, "DCMEXPORT_KEY": KEY,
                                "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
                           capture_output=True, timeout=120)
    assert debug.returncode == 0 and b"DEBUG" in debug.stderr
    everything = _everything(ok, out, logs) + _everything(refused) + debug.stdout + debug.stderr
    for secret in (SECRET, wrong):
        assert secret.encode() not in everything
    loose = tmp_path / "loose.toml"
    loose.write_text(f'token = "{SECRET}"\n')
    loose.chmod(0o644)
    res = run("export", spec, "--auth-file", loose, "--study", "1.2.3", "--out", tmp_path / "o3")
    assert res.exit_code == 2 and "chmod 600" in res.stderr and SECRET not in res.output


def test_bearer_token_from_the_environment_never_leaks(tmp_path: Path) -> None:
    token = "Pl4nted-bearer-t0ken-77e1"
    with FakeWeb([pydicom_file("CT_small.dcm")], token=token).running() as fake:
        ok = run("export", fake.spec, "--study", "1.2.3", "--out", tmp_path / "out", "--json",
                 env={"DCMEXPORT_DICOMWEB_TOKEN": token})
        bad = run("export", fake.spec, "--study", "1.2.3", "--out", tmp_path / "o2",
                  env={"DCMEXPORT_DICOMWEB_TOKEN": token + "-wrong"})
    assert ok.exit_code == 0 and json.loads(ok.stdout)["written"] == 1
    assert bad.exit_code == 1 and "HTTP 401" in bad.stderr
    assert f"Bearer {token}" in fake.seen_authorization
    assert token.encode() not in _everything(ok, tmp_path / "out") + _everything(bad)


def test_find_lists_studies_without_phi_unless_asked(archive: server.Orthanc, https: tuple[str, Path],
                                                     auth_file: Path) -> None:
    spec, cert = https
    for source in ([archive.pacs], [spec, "--auth-file", auth_file, "--ca-file", cert]):
        res = run("find", *source, "--patient-id", "FAKE-ID-0001", "--json")
        assert res.exit_code == 0, res.output
        rows = json.loads(res.stdout)["rows"]
        series = [r for r in rows if r["series"] is not None]
        assert {(r["modality"], r["objects"]) for r in series} == {("CT", 5), ("CT", 1), ("MR", 1), ("US", 1),
                                                                    ("CR", 1)}
        assert not any(value in res.output for value in PHI)
        shown = run("find", *source, "--patient-id", "FAKE-ID-0001", "--show-values")
        assert shown.exit_code == 0 and all(value in shown.stdout for value in PHI)


def test_ctrl_c_during_retrieval_removes_the_private_folder(tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    with FakeWeb([pydicom_file("CT_small.dcm")], stall_wado=30).running() as fake:
        env = {**os.environ, "DCMEXPORT_KEY": KEY, "TMPDIR": str(tmp),
               "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
        process = subprocess.Popen([sys.executable, "-m", "dcmexport", "export", fake.spec, "--study", "1.2.3",
                                    "--out", str(tmp_path / "out"), "-q"], env=env)
        deadline = time.monotonic() + 20
        while fake.wado_requests == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(tmp.glob("dcmexport-retrieved-*"))
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=20)
    assert process.returncode == 130
    assert not list(tmp.iterdir())


def test_outputs_are_what_the_manifest_says(archive: server.Orthanc, study_args: list[str], tmp_path: Path) -> None:
    """Every file in --out is vouched for by the manifest (nothing partial, nothing identified)."""
    out = tmp_path / "out"
    res = run("export", archive.pacs, *study_args, "--out", out, "-q")
    assert res.exit_code == 1
    records = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    vouched = {name for r in records if r["record"] == "object" for name in r["outputs"]}
    assert set(outputs(out)) == vouched and len(vouched) == 12
