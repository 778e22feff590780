"""Network sources and forwarding without a server: specs, queries, credentials, the multipart reader,
the streaming retrieval, the forwarding step and the CLI's checks (tests/test_net_orthanc.py has the servers)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from dcmexport.cli import app
from dcmexport.errors import InputError, MissingDependencyError, NetworkError, UsageError
from dcmexport.net import (
    NetSettings,
    PacsSpec,
    SendError,
    WebSpec,
    import_backend,
    is_spec,
    parse_move_dest,
    parse_spec,
)
from dcmexport.net.credentials import Credentials, credentials_from_env, read_auth_file
from dcmexport.net.multipart import boundary_of, iter_parts
from dcmexport.pipeline.forward import ForwardStep
from dcmexport.results import FAILED, REFUSED, SKIPPED, WRITTEN, ExportResult
from dcmexport.sources.network import RemoteInput, split_inputs
from dcmexport.sources.remote import Query, RemoteSource, Retrieval, SeriesRef, SeriesRow, Sink, StudyRow

SECRET = "Pl4nted-unit-s3cret"


class TestParseSpec:
    def test_pacs(self) -> None:
        assert parse_spec("pacs://ORTHANC@127.0.0.1:4242") == PacsSpec("ORTHANC", "127.0.0.1", 4242)
        assert str(parse_spec("pacs://A@[::1]:104")) == "pacs://A@[::1]:104"

    def test_a_path_that_folded_the_slashes_is_still_a_spec(self) -> None:
        folded = Path("pacs://ORTHANC@host:4242")  # typer hands inputs over as paths: 'pacs:/ORTHANC@...'
        assert is_spec(folded) and parse_spec(folded) == PacsSpec("ORTHANC", "host", 4242)
        assert parse_spec(Path("dicomweb+https://h/dicom-web")) == WebSpec("https://h/dicom-web", "h")
        assert not is_spec(Path("study/pacs.dcm"))

    @pytest.mark.parametrize("text", ["pacs://host:4242", "pacs://A@host", "pacs://A@host:0", "pacs://A@host:x",
                                      "pacs://@host:1", "pacs://SEVENTEEN-CHARACTERS@h:1", "pacs://A\\B@h:1"])
    def test_bad_pacs_specs(self, text: str) -> None:
        with pytest.raises(UsageError):
            parse_spec(text)

    def test_dicomweb_over_http_only_to_this_machine(self) -> None:
        for host in ("localhost", "127.0.0.1", "[::1]", "127.0.0.2"):
            assert isinstance(parse_spec(f"dicomweb+http://{host}:8042/dicom-web"), WebSpec)
        with pytest.raises(UsageError, match="only for this machine"):
            parse_spec("dicomweb+http://pacs.example.org/dicom-web")

    def test_credentials_in_the_url_are_refused_without_being_echoed(self) -> None:
        with pytest.raises(UsageError) as info:
            parse_spec(f"dicomweb+https://alice:{SECRET}@pacs.example.org/dicom-web")
        assert SECRET not in str(info.value) and "--auth-file" in str(info.value)

    def test_no_query_in_the_url(self) -> None:
        with pytest.raises(UsageError):
            parse_spec("dicomweb+https://h/dicom-web?PatientID=X")

    def test_move_dest(self) -> None:
        assert parse_move_dest("DCMEXPORT:11112") == ("DCMEXPORT", 11112)
        with pytest.raises(UsageError):
            parse_move_dest("DCMEXPORT")


class TestQuery:
    def test_values_never_widen_a_query(self) -> None:
        for bad in ({"patient_ids": ("FAKE*",)}, {"accessions": ("A?1",)}, {"patient_ids": ("A\\B",)},
                    {"studies": ("1.2.*",)}, {"series": ("abc",)}, {"study_date": "2024"},
                    {"study_date": "20240201-20240101"}, {"study_date": "-"}):
            with pytest.raises(UsageError):
                Query(**bad)  # type: ignore[arg-type]

    def test_alternatives_and_combinations(self) -> None:
        query = Query(accessions=("A1", "A2"), patient_ids=("P",), study_date="20240101-")
        assert list(query.study_filters()) == [
            {"AccessionNumber": "A1", "PatientID": "P", "StudyDate": "20240101-"},
            {"AccessionNumber": "A2", "PatientID": "P", "StudyDate": "20240101-"},
        ]
        assert Query().is_empty and not Query(study_date="-20240101").is_empty


class TestCredentials:
    def test_environment(self) -> None:
        assert credentials_from_env({"DCMEXPORT_DICOMWEB_TOKEN": SECRET}) == Credentials(
            "environment (DCMEXPORT_DICOMWEB_*)", token=SECRET)
        pair = credentials_from_env({"DCMEXPORT_DICOMWEB_USER": "u", "DCMEXPORT_DICOMWEB_PASSWORD": SECRET})
        assert pair is not None and pair.kind == "user name and password"
        assert credentials_from_env({}) is None
        with pytest.raises(UsageError):
            credentials_from_env({"DCMEXPORT_DICOMWEB_USER": "u"})

    def test_repr_hides_secrets(self) -> None:
        assert SECRET not in repr(Credentials("x", token=SECRET))
        assert SECRET not in repr(NetSettings(credentials=Credentials("x", username="u", password=SECRET)))

    def test_auth_file_must_be_private(self, tmp_path: Path) -> None:
        path = tmp_path / "auth.toml"
        path.write_text(f'token = "{SECRET}"\n')
        path.chmod(0o640)
        with pytest.raises(UsageError, match="chmod 600") as info:
            read_auth_file(path)
        assert SECRET not in str(info.value)
        path.chmod(0o600)
        assert read_auth_file(path).token == SECRET
        path.chmod(0o400)
        assert read_auth_file(path).token == SECRET

    def test_auth_file_errors_never_quote_it(self, tmp_path: Path) -> None:
        path = tmp_path / "auth.toml"
        for text in (f"token = {SECRET}\n", f'passwd = "{SECRET}"\n', f'password = "{SECRET}"\n'):
            path.write_text(text)
            path.chmod(0o600)
            with pytest.raises(UsageError) as info:
                read_auth_file(path)
            assert SECRET not in str(info.value)

    def test_auth_file_symlink_is_refused(self, tmp_path: Path) -> None:
        real = tmp_path / "real.toml"
        real.write_text('token = "t"\n')
        real.chmod(0o600)
        (tmp_path / "link.toml").symlink_to(real)
        with pytest.raises(UsageError, match="cannot be opened"):
            read_auth_file(tmp_path / "link.toml")


def _multipart(parts: list[bytes], boundary: bytes = b"b0undary") -> bytes:
    body = b"preamble ignored\r\n"
    for part in parts:
        body += b"--" + boundary + b"\r\nContent-Type: application/dicom\r\n\r\n" + part + b"\r\n"
    return body + b"--" + boundary + b"--\r\nepilogue"


class TestMultipart:
    def test_boundary(self) -> None:
        assert boundary_of('multipart/related; type="application/dicom"; boundary="abc"') == b"abc"
        assert boundary_of("Multipart/Related;boundary=xyz") == b"xyz"
        with pytest.raises(NetworkError):
            boundary_of("application/json")

    @settings(max_examples=60, deadline=None)
    @given(parts=st.lists(st.binary(max_size=300), min_size=0, max_size=5), cuts=st.lists(st.integers(1, 50)))
    def test_any_chunking_gives_the_same_parts(self, parts: list[bytes], cuts: list[int]) -> None:
        body = _multipart(parts)
        chunks, at = [], 0
        for size in cuts or [len(body)]:
            chunks.append(body[at : at + size])
            at += size
        chunks.append(body[at:])
        assert list(iter_parts(chunks, b"b0undary")) == parts

    def test_part_holding_the_boundary_text_without_crlf(self) -> None:
        tricky = [b"x\r\n--b0undar", b"--b0undar"]  # prefixes of the delimiter are content
        assert list(iter_parts([_multipart(tricky)], b"b0undary")) == tricky

    def test_truncated_answer(self) -> None:
        with pytest.raises(NetworkError, match="ended early"):
            list(iter_parts([_multipart([b"abc"])[:-30]], b"b0undary"))


class FakeSource(RemoteSource):
    """Series of ``sizes`` objects; ``fail`` maps a series number to (objects sent first, the error)."""

    def __init__(self, sizes: list[int], fail: dict[int, tuple[int, Exception]] | None = None) -> None:
        super().__init__(PacsSpec("FAKE", "h", 1), NetSettings())
        self.sizes, self.fail = sizes, fail or {}
        self.closed = False

    def query_studies(self, filters: dict[str, str]) -> list[StudyRow]:
        return [StudyRow("1.2.3")]

    def query_series(self, study_uid: str) -> list[SeriesRow]:
        return [SeriesRow(f"1.2.3.{n}", count=size) for n, size in enumerate(self.sizes, 1)]

    def query_series_uid(self, series_uid: str) -> str | None:
        return "1.2.3"

    def retrieve(self, ref: SeriesRef, sink: Sink) -> None:
        sent, error = self.fail.get(ref.series_n, (self.sizes[ref.series_n - 1], None))
        for n in range(sent):
            sink.put(f"object {ref.series_n}.{n}".encode())
        if error is not None:
            raise error

    def close(self) -> None:
        self.closed = True


def _retrieval(source: FakeSource, whole_series: bool = False) -> Retrieval:
    return Retrieval(source, source.resolve(Query(studies=("1.2.3",))), whole_series=whole_series)


class TestRetrieval:
    def test_units_stream_and_their_files_go(self) -> None:
        with _retrieval(FakeSource([3, 2])) as retrieval:
            assert stat.S_IMODE(retrieval.folder.stat().st_mode) == 0o700
            seen: list[str] = []
            previous: list[Path] = []
            for unit in retrieval.units():
                assert not any(p.exists() for p in previous)  # handed-over files are removed on the next unit
                for item in unit.items:
                    assert stat.S_IMODE(item.path.stat().st_mode) == 0o600
                    seen.append(str(item.label))
                previous = [i.path for i in unit.items]
            folder = retrieval.folder
        assert seen == [f"pacs:FAKE/study-1/series-{s}/{n}" for s, k in ((1, 3), (2, 2)) for n in range(1, k + 1)]
        assert not folder.exists()

    def test_a_failed_series_is_one_failure_and_whole_series_drop_what_came(self) -> None:
        for whole, expected in ((False, 1), (True, 0)):
            source = FakeSource([2, 3], fail={2: (1, NetworkError("pacs://FAKE@h:1: C-GET failed"))})
            with _retrieval(source, whole_series=whole) as retrieval:
                units = list(retrieval.units())
            failures = [u.failure for u in units if u.failure]
            assert failures == [(Path("pacs:FAKE/study-1/series-2"), "pacs://FAKE@h:1: C-GET failed")]
            from_failed = [i for u in units for i in u.items if "series-2" in str(i.label)]
            assert len(from_failed) == expected

    def test_unexpected_errors_say_only_their_type(self) -> None:
        source = FakeSource([1], fail={1: (0, ValueError(f"value {SECRET}"))})
        with _retrieval(source) as retrieval:
            (unit,) = list(retrieval.units())
        assert unit.failure is not None and SECRET not in unit.failure[1] and "ValueError" in unit.failure[1]

    def test_fewer_objects_than_listed(self) -> None:
        class Short(FakeSource):
            def retrieve(self, ref: SeriesRef, sink: Sink) -> None:
                sink.put(b"only one")

        with _retrieval(Short([3])) as retrieval:
            failures = [u.failure for u in retrieval.units() if u.failure]
        assert failures == [(Path("pacs:FAKE/study-1/series-1"), "2 of 3 objects were not received")]

    def test_leaving_early_stops_the_thread_and_cleans_up(self) -> None:
        source = FakeSource([5, 5, 5])
        with _retrieval(source) as retrieval:
            next(iter(retrieval.units()))
            folder = retrieval.folder
        assert not folder.exists() and source.closed

    def test_a_value_that_selects_nothing_is_a_failure_not_a_smaller_cohort(self) -> None:
        class Partial(FakeSource):
            def query_studies(self, filters: dict[str, str]) -> list[StudyRow]:
                return [StudyRow("1.2.3")] if filters.get("StudyInstanceUID") == "1.2.3" else []

        source = Partial([1])
        refs = source.resolve(Query(studies=("1.2.3", "1.2.4")))
        retrieval = Retrieval(source, refs, whole_series=False, misses=source.misses)
        with retrieval:
            units = list(retrieval.units())
        assert units[0].failure == (Path("pacs:FAKE/query"), "pacs://FAKE@h:1: --study value 2 of 2 matches no study")
        assert retrieval.expected == 2 and len([i for u in units for i in u.items]) == 1

    def test_an_empty_answer_is_asked_again(self) -> None:
        class Flaky(FakeSource):
            calls = 0

            def query_series(self, study_uid: str) -> list[SeriesRow]:
                self.calls += 1
                return [] if self.calls == 1 else super().query_series(study_uid)

        source = Flaky([2])
        assert [r.count for r in source.resolve(Query(studies=("1.2.3",)))] == [2] and source.misses == []

    def test_nothing_matches(self) -> None:
        with pytest.raises(InputError, match="no series matches"):
            FakeSource([]).resolve(Query(studies=("1.2.3",)))

    def test_an_empty_query_is_refused(self) -> None:
        with pytest.raises(UsageError, match="say what to take"):
            FakeSource([1]).find_studies(Query())


class FakeDestination:
    def __init__(self, errors: list[Exception | None]) -> None:
        self.errors, self.sent, self.closed = errors, [], False

    def send(self, path: Path) -> None:
        error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        self.sent.append(path)

    def close(self) -> None:
        self.closed = True


def _written(tmp_path: Path, name: str = "a.dcm", status: str = WRITTEN) -> ExportResult:
    path = tmp_path / name
    path.write_bytes(b"dicom")
    return ExportResult(Path("in.dcm"), status, outputs=[path])  # type: ignore[arg-type]


class TestForwardStep:
    def _step(self, destination: FakeDestination, sleeps: list[float]) -> ForwardStep:
        return ForwardStep(destination, "pacs://R@h:1", sleep=sleeps.append)

    def test_transient_failures_are_retried_with_backoff(self, tmp_path: Path) -> None:
        busy = SendError("busy", transient=True)
        sleeps: list[float] = []
        destination = FakeDestination([busy, busy, None])
        result = _written(tmp_path)
        with self._step(destination, sleeps) as step:
            step.after_write(result)
        assert result.status == WRITTEN and result.notes == ["stored at pacs://R@h:1"]
        assert sleeps == [0.5, 1.0] and destination.closed

    def test_bounded_then_the_object_fails_and_its_files_go(self, tmp_path: Path) -> None:
        busy = SendError("pacs://R@h:1: C-STORE: no answer", transient=True)
        result = _written(tmp_path)
        step = self._step(FakeDestination([busy] * 3), [])
        step.after_write(result)
        assert (result.status, result.outputs, result.error_kind) == (FAILED, [], "network")
        assert result.reason == "not stored: pacs://R@h:1: C-STORE: no answer (after 3 attempts)"
        assert not (tmp_path / "a.dcm").exists()

    def test_permanent_failure_is_not_retried_and_a_skipped_files_stays(self, tmp_path: Path) -> None:
        result = _written(tmp_path, status=SKIPPED)  # made by an earlier run: not this run's to remove
        destination = FakeDestination([SendError("refused", transient=False)])
        self._step(destination, []).after_write(result)
        assert result.status == FAILED and destination.errors == [] and (tmp_path / "a.dcm").exists()

    def test_gives_up_after_objects_in_a_row_failed(self, tmp_path: Path) -> None:
        busy = SendError("busy", transient=True)
        destination = FakeDestination([busy] * 9)
        step = self._step(destination, [])
        results = [_written(tmp_path, f"{n}.dcm") for n in range(4)]
        for result in results:
            step.after_write(result)
        assert destination.errors == []  # 3 objects x 3 attempts; the fourth not tried
        assert results[3].reason is not None and "not tried" in results[3].reason

    def test_only_what_this_run_vouches_for_is_sent(self, tmp_path: Path) -> None:
        destination = FakeDestination([])
        step = self._step(destination, [])
        refused = ExportResult(Path("x"), REFUSED)
        media = _written(tmp_path, "a.png")
        step.after_write(refused)
        step.after_write(media)
        assert destination.sent == [] and media.notes == []


def test_move_destination_port_taken_fails_before_any_query() -> None:
    import socket

    from dcmexport.sources.pacs import PacsSource

    pytest.importorskip("pynetdicom")
    with socket.create_server(("", 0)) as taken:
        port = taken.getsockname()[1]
        source = PacsSource(PacsSpec("NOWHERE", "127.0.0.1", 9), NetSettings(move_dest=("DCMEXPORT", port)))
        with pytest.raises(NetworkError, match=f"--move-dest DCMEXPORT:{port}: cannot listen on port {port}"):
            source.resolve(Query(studies=("1.2.3",)))


class TestInputs:
    def test_a_bare_spec_needs_a_query(self) -> None:
        with pytest.raises(UsageError, match="say what to take"):
            split_inputs(["pacs://A@h:1"])

    def test_split(self) -> None:
        remote = RemoteInput.parse("pacs://A@h:1", Query(studies=("1.2",)))
        assert split_inputs(["a.dcm", remote]) == ([Path("a.dcm")], [remote])

    def test_missing_backend_names_the_extra(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import builtins

        real = builtins.__import__

        def fake(name: str, *args: object, **kwargs: object) -> object:
            if name.startswith("pynetdicom"):
                raise ImportError(name)
            return real(name, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(builtins, "__import__", fake)
        monkeypatch.delitem(__import__("sys").modules, "pynetdicom", raising=False)
        with pytest.raises(MissingDependencyError, match=r"pip install 'dcmexport\[net\]'"):
            import_backend("pynetdicom", "pacs://A@h:1")


class TestCli:
    runner = CliRunner()

    def test_spec_without_query(self, tmp_path: Path) -> None:
        res = self.runner.invoke(app, ["export", "pacs://A@127.0.0.1:1", "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and "say what to take from it" in res.stderr
        assert not (tmp_path / "o").exists()

    def test_query_without_network_source(self, samples_dir: Path, tmp_path: Path) -> None:
        res = self.runner.invoke(app, ["deid", str(samples_dir), "--study", "1.2.3", "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and "select objects of a network source" in res.stderr

    def test_bad_forward_destination(self, samples_dir: Path, tmp_path: Path) -> None:
        res = self.runner.invoke(app, ["deid", str(samples_dir), "--to", "dicomweb+http://pacs.example.org/x",
                                       "--out", str(tmp_path / "o")])
        assert res.exit_code == 2 and "only for this machine" in res.stderr

    def test_find_needs_a_query(self) -> None:
        res = self.runner.invoke(app, ["find", "pacs://A@127.0.0.1:1"])
        assert res.exit_code == 2 and "say what to list" in res.stderr

    def test_wildcard_patient_id(self) -> None:
        res = self.runner.invoke(app, ["find", "pacs://A@127.0.0.1:1", "--patient-id", "*"])
        assert res.exit_code == 2 and "exact value" in res.stderr


@pytest.fixture(autouse=True)
def _no_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("DCMEXPORT_DICOMWEB_TOKEN", "DCMEXPORT_DICOMWEB_USER", "DCMEXPORT_DICOMWEB_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    yield


def test_a_local_run_loads_no_network_machinery(tmp_path: Path, samples_dir: Path) -> None:
    from tests.test_startup import run_cli

    result = run_cli(["export", str(samples_dir / "mr.dcm"), "--out", str(tmp_path / "o"), "-q"], tmp_path)
    assert result["code"] == 0
    loaded = set(result["modules"])  # type: ignore[call-overload]
    assert not loaded & {"pynetdicom", "dicomweb_client", "dcmexport.sources.remote", "dcmexport.net.dimse",
                         "dcmexport.net.web", "dcmexport.pipeline.forward", "dcmexport.pipeline.remote", "tomllib"}


def test_retrieval_thread_is_a_daemon() -> None:
    retrieval = _retrieval(FakeSource([1]))
    assert retrieval._thread.daemon  # a stuck read must never keep the process alive


def test_progress_shows_objects_retrieved_and_exported(tmp_path: Path, samples_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    import pydicom
    from rich.console import Console

    import dcmexport.cli.common as common
    from tests.netfakes import FakeWeb

    pytest.importorskip("dicomweb_client")
    buf = io.StringIO()
    monkeypatch.setattr(common, "err_console", Console(file=buf, force_terminal=True, width=150))
    files = sorted((samples_dir / "ct_series").glob("*.dcm"))
    study = str(pydicom.dcmread(files[0], stop_before_pixels=True).StudyInstanceUID)
    with FakeWeb(files).running() as fake:
        res = CliRunner().invoke(app, ["export", fake.spec, "--study", study, "--out", str(tmp_path / "o"), "-j", "1"],
                                 env={"DCMEXPORT_KEY": "progress-test-key-0123456789"})
    assert res.exit_code == 0, res.output
    shown = buf.getvalue()
    assert "5/5" in shown and "5 retrieved" in shown
