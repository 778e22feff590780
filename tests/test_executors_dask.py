"""The Dask executor on a real dask.distributed LocalCluster (processes, nanny): no mocks of dask.

Outputs equal the local executor's (names and bytes, same key); the key and input
paths never appear in task keys, task specs or logs; a worker killed in the middle of
an object costs nothing (the task runs again elsewhere, no partial or duplicate output,
one manifest record per object); ``--out`` that the workers do not see is refused.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")

from dcmexport import api  # noqa: E402
from dcmexport.atomic import TEMP_PREFIX  # noqa: E402
from dcmexport.audit.manifest import MANIFEST_NAME  # noqa: E402
from dcmexport.deid import Key  # noqa: E402
from dcmexport.errors import UsageError  # noqa: E402
from dcmexport.executors.dask import DaskExecutor  # noqa: E402
from dcmexport.executors.local import LocalExecutor  # noqa: E402
from tests.samplegen import make_ct, make_ct_series, make_us_gray_cine, write_dataset  # noqa: E402

SECRET = b"dask-test-secret-key-0123456789abcdef"
KEY = Key(SECRET)
ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}

# The functions these tests run on workers travel by value (workers do not import the tests).
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _cluster(workers: int) -> distributed.LocalCluster:
    return distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                    dashboard_address=":0", silence_logs=50)


@pytest.fixture(scope="module")
def client() -> Iterator[distributed.Client]:
    with _cluster(2) as cluster, distributed.Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six CT slices, a 3-slice series and a small cine, under names that carry a (fake) patient name."""
    root = tmp_path_factory.mktemp("dask-in") / "DOE_JOHN"
    for i in range(6):
        write_dataset(make_ct(seed=i, instance=i + 1, phi={"PatientName": "DOE^JOHN"}), root / f"ct{i}.dcm")
    for i, ds in enumerate(make_ct_series(3, seed=7)):
        write_dataset(ds, root / "series" / f"s{i}.dcm")
    write_dataset(make_us_gray_cine(rows=48, columns=48, frames=4), root / "cine.dcm")
    return root


def _outputs(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != MANIFEST_NAME}


def _objects(out: Path) -> list[dict[str, object]]:
    lines = (out / MANIFEST_NAME).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["record"] == "object"]


@pytest.mark.parametrize("series", [False, True])
def test_same_outputs_as_the_local_executor(client: distributed.Client, inputs: Path, tmp_path: Path,
                                            series: bool) -> None:
    local = api.export([inputs], tmp_path / "local", key=KEY, series=series, executor=LocalExecutor(1))
    remote = api.export([inputs], tmp_path / "dask", key=KEY, series=series, executor=DaskExecutor(client=client))
    assert [(r.status, r.reason) for r in remote.results if not r.outputs] == []
    assert remote.count("written") == local.count("written") == (3 if series else 10)
    assert _outputs(tmp_path / "dask") == _outputs(tmp_path / "local")  # same names, same bytes
    assert sorted(str(r.source) for r in remote.results) == sorted(str(r.source) for r in local.results)
    assert all(r.outputs and r.outputs[0].parent == tmp_path / "dask" for r in remote.results)
    records = _objects(tmp_path / "dask")
    assert len(records) == len(remote.results)  # exactly one record per object
    assert sorted(r["input_sha256"] for r in records) == sorted(r["input_sha256"] for r in _objects(tmp_path / "local"))


def _scheduler_view(dask_scheduler: object = None) -> list[tuple[str, str, bytes]]:
    """Every task the scheduler holds: key, prefix (the dashboard's name) and its pickled spec."""
    view = []
    for key, ts in dask_scheduler.tasks.items():  # type: ignore[attr-defined]
        try:
            spec = pickle.dumps(ts.run_spec)
        except Exception:  # noqa: BLE001 - a spec that does not pickle is shown by its repr
            spec = repr(ts.run_spec).encode()
        view.append((str(key), ts.prefix.name, spec))
    return view


def test_key_and_paths_never_in_task_keys_specs_or_logs(client: distributed.Client, inputs: Path,
                                                        tmp_path: Path) -> None:
    seen: list[tuple[str, str, bytes]] = []

    def look(result: object) -> None:
        if not seen:  # while the run's tasks are on the scheduler
            seen.extend(client.run_on_scheduler(_scheduler_view))

    batch = api.export([inputs], tmp_path / "out", key=KEY, executor=DaskExecutor(client=client), on_result=look)
    assert batch.ok
    ours = [(k, prefix, spec) for k, prefix, spec in seen if k.startswith("dcmexport-")]
    assert ours, "no dcmexport task seen on the scheduler"
    for task_key, prefix, spec in ours:
        assert re.fullmatch(r"dcmexport-[0-9a-f]{20}", task_key)  # opaque: no path, no name
        assert prefix == "dcmexport"
        assert SECRET not in spec and SECRET.hex().encode() not in spec  # the key is not part of any task
    logs = json.dumps([client.get_scheduler_logs(), client.get_worker_logs()])
    assert SECRET.decode() not in logs and "DOE" not in logs and str(inputs) not in logs


def _install_barrier(barrier: str) -> int:
    """On a worker: the first fsync of an output, on any worker, blocks (its temporary written, not renamed)."""
    import dcmexport.atomic as atomic

    original = atomic._fsync_file

    def blocking(path: Path) -> None:
        try:
            fd = os.open(os.path.join(barrier, "blocked"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return original(path)
        os.write(fd, f"{os.getpid()}\n{path}".encode())
        os.close(fd)
        deadline = time.monotonic() + 60  # bounded: the test kills this process long before
        while time.monotonic() < deadline and not os.path.exists(os.path.join(barrier, "release")):
            time.sleep(0.02)
        return original(path)

    atomic._fsync_file = blocking
    return os.getpid()


def _wait_for(path: Path, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_worker_killed_in_the_middle_of_an_object(inputs: Path, tmp_path: Path) -> None:
    reference = api.export([inputs], tmp_path / "reference", key=KEY, executor=LocalExecutor(1))
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    out = tmp_path / "out"
    killed: dict[str, object] = {}

    def killer() -> None:
        if not _wait_for(barrier / "blocked", 60):
            return
        pid_text, temporary = (barrier / "blocked").read_text().split("\n", 1)
        killed["temporary_existed"] = Path(temporary).exists() and Path(temporary).name.startswith(TEMP_PREFIX)
        killed["pid"] = int(pid_text)
        os.kill(int(pid_text), signal.SIGKILL)  # the nanny notices; the scheduler reschedules the task

    with _cluster(2) as cluster, distributed.Client(cluster) as client:
        pids = set(client.run(_install_barrier, str(barrier)).values())
        thread = threading.Thread(target=killer)
        thread.start()
        try:
            batch = api.export([inputs], out, key=KEY, executor=DaskExecutor(client=client))
        finally:
            (barrier / "release").touch()
            thread.join(60)
    assert killed.get("pid") in pids, "no worker was blocked in the middle of an object"
    assert killed["temporary_existed"]  # the killed worker had written its output, not renamed it
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)  # type: ignore[arg-type]
    assert batch.count("written") == reference.count("written") == 10 and batch.ok
    assert _outputs(out) == _outputs(tmp_path / "reference")  # nothing partial, nothing twice
    assert not [p.name for p in out.iterdir() if p.name.startswith(TEMP_PREFIX)]  # the leftover was removed
    records = _objects(out)
    assert len(records) == 10 and all(r["status"] == "written" for r in records)
    assert len({r["input_sha256"] for r in records}) == 10  # one record per object


def test_out_not_seen_by_a_worker_is_refused(tmp_path: Path, inputs: Path) -> None:
    """A worker in its own mount namespace, with an empty tmpfs over the folder holding --out."""
    shared = tmp_path / "shared"
    shared.mkdir()
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            f"mount -t tmpfs none {shared}"], capture_output=True, timeout=30, check=False)
    if probe.returncode != 0:
        pytest.skip("mount namespaces are not available here (unshare -m)")
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=":0",
                                  silence_logs=50) as cluster, distributed.Client(cluster) as client:
        worker = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             f"mount -t tmpfs none {shared} && exec {sys.executable} -m distributed.cli.dask_worker "
             f"{cluster.scheduler_address} --nthreads 1 --no-nanny --no-dashboard"],
            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            client.wait_for_workers(1, timeout=60)
            with pytest.raises(UsageError, match="must be one path that every Dask worker sees"):
                api.export([inputs], shared / "out", key=KEY, executor=DaskExecutor(client=client))
        finally:
            worker.terminate()
            worker.wait(30)
    assert not [p for p in (shared / "out").iterdir() if p.name != MANIFEST_NAME]  # no probe left, no output


def test_cli_with_a_scheduler_address(client: distributed.Client, inputs: Path, tmp_path: Path) -> None:
    address = client.scheduler.address
    proc = subprocess.run(
        [sys.executable, "-m", "dcmexport", "export", str(inputs), "--out", str(tmp_path / "out"), "--executor", "dask",
         "--scheduler", address, "--json"],
        env={**ENV, "DCMEXPORT_KEY": SECRET.decode()}, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["written"] == 10
    local = api.export([inputs], tmp_path / "local", key=KEY, executor=LocalExecutor(1))
    assert local.ok and _outputs(tmp_path / "out") == _outputs(tmp_path / "local")


def test_cli_quiet_with_its_own_cluster_prints_nothing(inputs: Path, tmp_path: Path) -> None:
    """-q means quiet: the LocalCluster dcmexport starts (scheduler, nannies, workers) logs nothing at INFO."""
    proc = subprocess.run(
        [sys.executable, "-m", "dcmexport", "export", str(inputs), "--out", str(tmp_path / "out"), "--executor", "dask",
         "--jobs", "2", "-q"],
        env={**ENV, "DCMEXPORT_KEY": SECRET.decode()}, capture_output=True, text=True, timeout=180, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "" and proc.stderr == "", proc.stderr[:2000]


def test_cli_timeout_with_dask_is_a_usage_error(client: distributed.Client, inputs: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dcmexport", "export", str(inputs), "--out", str(tmp_path / "out"), "--executor", "dask",
         "--scheduler", client.scheduler.address, "--timeout", "5", "-q"],
        env=ENV, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert "--timeout is not supported with --executor dask" in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything is written


_WITHOUT_DASK = """
import sys
sys.modules["distributed"] = None  # as if dask.distributed were not installed
sys.argv = ["dcmexport", *sys.argv[1:]]
from dcmexport.cli import main
main()
"""


def test_missing_dask_is_a_usage_error_with_an_install_hint(inputs: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-c", _WITHOUT_DASK, "export", str(inputs), "--out", str(out),
                           "--executor", "dask", "-q"], env=ENV, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 2
    assert "pip install 'dcmexport[dask]'" in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_a_shared_scheduler_is_left_running(client: distributed.Client, inputs: Path, tmp_path: Path) -> None:
    """The run's context is removed from the workers when the run ends; the caller's client stays usable."""
    api.export([inputs / "ct0.dcm"], tmp_path / "out", key=KEY, executor=DaskExecutor(client=client))
    plugins = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert not [name for names in plugins.values() for name in names if name.startswith("dcmexport-")]
    assert client.submit(sum, [1, 2]).result() == 3
    shutil.rmtree(tmp_path / "out")


def test_tasks_are_taken_as_workers_need_them(client: distributed.Client, tmp_path: Path) -> None:
    from dcmexport.options import build_options
    from dcmexport.pipeline.resume import no_resume
    from dcmexport.pipeline.tasks import RunContext, Task, TaskKind

    (tmp_path / "in").mkdir()
    taken = 0

    def tasks() -> Iterator[Task]:
        nonlocal taken
        for i in range(400):
            path = tmp_path / "in" / f"{i}.txt"
            path.write_bytes(b"not DICOM")
            taken += 1
            yield Task(TaskKind.EXPORT, (path,), path)

    options = build_options(tmp_path / "out")
    (tmp_path / "out").mkdir()
    context = RunContext(options, KEY, None, no_resume(options))
    done = ahead = 0
    for result in DaskExecutor(client=client).run(tasks(), context):
        assert result.status == "skipped"
        done += 1
        ahead = max(ahead, taken - done)
    # At most a window of 64 tasks on the cluster, plus the batch of results being handed out.
    assert done == 400 and ahead <= 128


def test_presentation_states_reach_the_workers(client: distributed.Client, tmp_path: Path) -> None:
    """A task's presentation states travel with it (as absolute paths): the image is rendered through one."""
    import pydicom

    from tests.gspsgen import make_gsps, write

    ct = write_dataset(make_ct(rows=96, columns=128), tmp_path / "in" / "ct.dcm")
    write(make_gsps(pydicom.dcmread(ct), rescale=(1, -1024), window=(40, 400), rotation=90),  # type: ignore[arg-type]
          tmp_path / "in" / "ps.dcm")
    local = api.export([tmp_path / "in"], tmp_path / "local", key=KEY, presentation_state="auto",
                       executor=LocalExecutor(1))
    remote = api.export([tmp_path / "in"], tmp_path / "dask", key=KEY, presentation_state="auto",
                        executor=DaskExecutor(client=client))
    by_name = {r.source.name: r for r in remote.results}
    assert remote.exit_code == local.exit_code == 0
    assert any(n.startswith("presentation state applied") for n in by_name["ct.dcm"].notes)
    assert _outputs(tmp_path / "dask") == _outputs(tmp_path / "local")


def test_objects_go_in_groups_one_record_each(client: distributed.Client, inputs: Path, tmp_path: Path) -> None:
    """Several objects per Dask task (fewer tasks than objects), still one result and one record per object."""
    root = tmp_path / "many"
    for i in range(40):
        write_dataset(make_ct(rows=16, columns=16, seed=i, instance=i + 1), root / f"ct{i}.dcm")
    with distributed.get_task_stream(client) as stream:
        batch = api.export([root], tmp_path / "out", key=KEY, executor=DaskExecutor(client=client))
    tasks = [t for t in stream.data if str(t["key"]).startswith("dcmexport-")]
    assert batch.ok and batch.count("written") == 40
    assert 0 < len(tasks) < 40
    records = _objects(tmp_path / "out")
    assert len(records) == 40 and len({r["input_sha256"] for r in records}) == 40
    local = api.export([root], tmp_path / "local", key=KEY, executor=LocalExecutor(1))
    assert local.ok and _outputs(tmp_path / "out") == _outputs(tmp_path / "local")


def test_group_sizes_follow_the_objects_time(tmp_path: Path) -> None:
    """Groups of fast objects grow to the cap, slow objects (clips) go one per task, a small run is spread."""
    from dcmexport.executors import dask as executor
    from dcmexport.pipeline.tasks import Task, TaskKind
    from dcmexport.results import ExportResult

    def tasks(n: int) -> Iterator[Task]:
        return iter(Task(TaskKind.EXPORT, (tmp_path / f"{i}",), tmp_path / f"{i}") for i in range(n))

    def took(seconds: float, n: int) -> list[ExportResult]:
        return [ExportResult(source=Path(), status="written", seconds=seconds) for _ in range(n)]

    small = executor._Groups(tasks(10), threads=2)
    assert [len(g) for g in small.take(0)] == [2] * 5  # every thread gets work
    small.observe([took(0.001, 2)])
    assert small.size == 2  # a run known in full keeps its spread

    large = executor._Groups(tasks(10_000), threads=2)
    first = large.take(0)
    assert sum(map(len, first)) <= large.budget == 2 * executor._OBJECTS_AHEAD
    assert len(first) >= 2 * executor._GROUPS_AHEAD
    large.observe([took(0.005, 16)])
    assert large.size == executor._GROUP_OBJECTS  # fast objects: the largest groups
    for _ in range(10):
        large.observe([took(5.0, 1)])
    assert large.size == 1  # clips of seconds: one per task
    assert all(len(g) == 1 for g in large.take(0))
