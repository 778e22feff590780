"""Resuming never keeps an output made under other options while the records claim otherwise (issue #19, item 1).

The property: after any sequence of runs into one ``--out`` (options varied,
``keep_existing`` on or off), every output file on disk is byte-identical to a
fresh export under the options of the run whose manifest record vouches for it,
and a run that left a file made under other options reports the object as
``kept`` (exit 1), never as written or skipped.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcmexport import api
from dcmexport.audit.manifest import MANIFEST_NAME
from dcmexport.deid import DeidOptions, Key
from dcmexport.samples import make_ct, write_dataset

KEY = Key(b"resume-test-key-0123456789abcdef")

#: Option sets that each change an output's bytes (render, mask, encode, de-identification).
VARIANTS: list[dict[str, Any]] = [
    {},
    {"window": "40,400"},
    {"window": "0,2000"},
    {"bit_depth": 16},
    {"aspect": False},
    {"max_side": 32},
    {"masks": ["0,0,20,20"]},
    {"masks": ["0,0,40,30"]},
    {"also_dicom": True},
    {"deid": DeidOptions(retain_patient_chars=True)},
]


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]


def _vouching_fingerprints(out: Path) -> dict[str, str]:
    """Output name -> fingerprint of the last object record that lists it among its outputs."""
    vouched: dict[str, str] = {}
    for record in _records(out):
        if record["record"] == "object":
            for name in record["outputs"]:
                vouched[name] = record["fingerprint"]
    return vouched


class _Reference:
    """Fresh exports per variant (cached), to compare bytes on disk with."""

    def __init__(self, src: Path, root: Path) -> None:
        self.src, self.root, self.cache = src, root, {}  # type: ignore[var-annotated]

    def files(self, variant: int) -> tuple[str, dict[str, bytes]]:
        if variant not in self.cache:
            out = self.root / f"ref{variant}"
            batch = api.export([self.src], out, key=KEY, **VARIANTS[variant])
            assert batch.exit_code == 0, [r.reason for r in batch.results]
            (run,) = [r for r in _records(out) if r["record"] == "run"]
            self.cache[variant] = (run["fingerprint"], {p.name: p.read_bytes() for p in batch.results[0].outputs})
        return self.cache[variant]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> _Reference:
    root = tmp_path_factory.mktemp("resume")
    src = write_dataset(make_ct(), root / "in" / "ct.dcm")
    return _Reference(src, root)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.lists(st.tuples(st.integers(0, len(VARIANTS) - 1), st.booleans()), min_size=2, max_size=4))
def test_records_always_match_the_bytes_on_disk(reference: _Reference, runs: list[tuple[int, bool]]) -> None:
    out = reference.root / "out"
    shutil.rmtree(out, ignore_errors=True)
    by_fingerprint: dict[str, int] = {}
    for variant, keep in runs:
        fingerprint, expected = reference.files(variant)
        by_fingerprint[fingerprint] = variant
        before = {p.name: p.read_bytes() for p in out.glob("*") if p.name != MANIFEST_NAME} if out.exists() else {}
        vouched = _vouching_fingerprints(out) if out.exists() else {}
        batch = api.export([reference.src], out, key=KEY, keep_existing=keep, **VARIANTS[variant])
        (result,) = batch.results
        # Made under other options (bytes may even coincide: the options are what the records describe).
        stale = [n for n in expected if n in before and vouched.get(n) != fingerprint]
        if keep and stale:
            # Made under other options and not to be replaced: reported as kept, nothing claimed about it.
            assert result.status == "kept" and batch.exit_code == 1
            assert not result.outputs and not result.mask_boxes and not result.notes
            assert all(before[n] == (out / n).read_bytes() for n in stale)
        else:
            assert result.status in ("written", "skipped"), result.reason
            assert {p.name for p in result.outputs} == set(expected)
            for name, data in expected.items():
                assert (out / name).read_bytes() == data, f"{name} does not hold what variant {variant} makes"
        # Whatever happened: each file on disk is what the options of the run vouching for it make.
        for name, fp in _vouching_fingerprints(out).items():
            assert fp in by_fingerprint, f"{name} vouched for by an unknown run"
            assert (out / name).read_bytes() == reference.files(by_fingerprint[fp])[1][name]


def test_bigger_mask_on_rerun_is_applied_to_real_ultrasound(tmp_path: Path) -> None:
    """The reported case: deid-data's RGB_IMAGE, then the same with a banner mask: the PNG must change."""
    deid_data = pytest.importorskip("deid_data")
    src = Path(deid_data.__file__).parent / "data" / "ultrasounds" / "RGB_IMAGE.dcm"
    out = tmp_path / "out"
    first = api.export([src], out, key=KEY)
    assert first.exit_code == 0, [r.reason for r in first.results]
    (png,) = first.results[0].outputs
    before = png.read_bytes()
    second = api.export([src], out, key=KEY, masks=["0,0,1024,300"])
    (result,) = second.results
    assert result.status == "written" and result.outputs == [png]
    assert png.read_bytes() != before
    assert any("replaced an existing output" in n for n in result.notes)
    from PIL import Image

    with Image.open(png) as im:
        banner = im.convert("L").crop((0, 0, min(1024, im.width), min(300, im.height)))
        assert banner.getextrema() == (0, 0), "the banner area is not blanked"
    # The manifest's last record for the file is the one that blanked the banner.
    (last,) = [r for r in _records(out) if r["record"] == "object"][-1:]
    assert last["outputs"] == [png.name] and any(m for m in last["masks"])


def test_same_options_rerun_skips_and_keeps_bytes(tmp_path: Path) -> None:
    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    out = tmp_path / "out"
    api.export([src], out, key=KEY, window="40,400")
    (png,) = out.glob("*.png")
    stamp = png.stat().st_mtime_ns
    again = api.export([src], out, key=KEY, window="40,400")
    assert again.results[0].status == "skipped" and again.exit_code == 0
    assert png.stat().st_mtime_ns == stamp


def test_overwrite_and_keep_existing_contradict(tmp_path: Path) -> None:
    from dcmexport.errors import UsageError

    with pytest.raises(UsageError, match="contradict"):
        api.export([tmp_path], tmp_path / "out", overwrite=True, keep_existing=True)


def test_manifest_without_fingerprints_vouches_for_nothing(tmp_path: Path) -> None:
    """An output whose origin is unknown (older manifest, deleted manifest) is redone, never trusted."""
    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    out = tmp_path / "out"
    api.export([src], out, key=KEY)
    (out / MANIFEST_NAME).unlink()
    again = api.export([src], out, key=KEY)
    assert again.results[0].status == "written"
    assert any("unknown run" in n for n in again.results[0].notes)


def test_cli_keep_existing_reports_kept_and_exit_1(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dcmexport.cli import app

    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    out = tmp_path / "out"
    env = {"DCMEXPORT_KEY": "k" * 64}
    runner = CliRunner()
    assert runner.invoke(app, ["export", str(src), "--out", str(out), "-q"], env=env).exit_code == 0
    res = runner.invoke(app, ["export", str(src), "--out", str(out), "--window", "40,400", "--keep-existing",
                              "--json"], env=env)
    assert res.exit_code == 1
    summary = json.loads(res.stdout)
    assert summary["kept"] == 1 and summary["written"] == 0
    (obj,) = summary["objects"]
    assert obj["status"] == "kept" and obj["outputs"] == [] and obj["notes"] == []
