"""The CLI's side concerns are batch observers (issue #12 item 6): wired by flags, told of each result and the end."""

from __future__ import annotations

from pathlib import Path

from dcmexport import api
from dcmexport.audit.observers import LinkageObserver, ReviewObserver, RunLogObserver, WrittenCounter
from dcmexport.audit.runlog import RunLog
from dcmexport.deid import Key
from tests.samplegen import make_ct, planted_phi, write_dataset

KEY = Key(b"observers-test-key-0123456789abc")


def test_observers_see_every_result_and_the_end(tmp_path: Path) -> None:
    src = tmp_path / "in"
    write_dataset(make_ct(), src / "a.dcm")
    write_dataset(make_ct(instance=2), src / "b.dcm")
    (src / "notes.txt").write_text("not DICOM")
    out, table, log = tmp_path / "out", tmp_path / "private" / "link.csv", tmp_path / "run.log"
    counter = WrittenCounter()
    with RunLog(log, "export", "test") as runlog:
        batch = api.export([src], out, key=KEY, observers=[counter, RunLogObserver(runlog),
                                                          LinkageObserver(table, out), ReviewObserver(out)])
    assert counter.written == batch.count("written") == 2
    assert len([line for line in log.read_text().splitlines() if line.strip()]) >= 3  # each result, a line
    assert table.exists() and planted_phi()["PatientID"] in table.read_text()  # the custodian's table
    assert (out / "review.html").exists()
    assert any(n.startswith("linkage table:") for n in batch.notes)
    assert any(n.startswith("review page:") for n in batch.notes)
    assert planted_phi()["PatientID"] not in " ".join(batch.notes)
