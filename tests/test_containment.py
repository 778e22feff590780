"""Output containment (issue 6): pseudonymous names only, nothing outside --out, no overwrite, no symlink following."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dcmexport import api
from dcmexport.atomic import TEMP_PREFIX
from dcmexport.audit.manifest import MANIFEST_NAME
from dcmexport.cli import app
from dcmexport.deid import Key
from dcmexport.errors import DcmexportError
from dcmexport.samples import make_ct, make_us_gray_cine, planted_phi, write_dataset

KEY = "containment-key-0123456789abcdef"
#: A pseudonymous stem (20 hex digits), a frame suffix for stills of multi-frame objects, an extension.
OUTPUT_NAME = re.compile(r"^[0-9a-f]{20}(_f\d{4})?\.(png|jpg|tiff|mp4|webm|gif|dcm)$")
runner = CliRunner()


@pytest.fixture()
def key() -> Key:
    return Key(b"containment-test-key-0123456789ab")


def _phi_named_inputs(root: Path) -> list[Path]:
    """Inputs whose folder and file names are the planted patient's name and ID (as archives often are)."""
    phi = planted_phi()
    name = phi["PatientName"].replace("^", "_")
    folder = root / phi["PatientID"] / name
    ct = write_dataset(make_ct(), folder / f"{name}.dcm")
    cine = write_dataset(make_us_gray_cine(frames=3, rows=48, columns=48), folder / f"{name}_cine.dcm")
    return [ct, cine]


def _phi_fragments() -> list[str]:
    parts = set()
    for value in planted_phi().values():
        for piece in re.split(r"[\^ ]", value):
            if len(piece) >= 4 and not piece.isdigit():
                parts.add(piece.lower())
    return sorted(parts)


def _dataset_bytes(ds: object) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)  # type: ignore[attr-defined]
    return buffer.getvalue()


def _snapshot(root: Path, skip: Path | None = None) -> dict[str, tuple[int, int, str]]:
    """Every entry under ``root`` (not following symlinks) with its size, mtime and content hash; ``skip`` excluded."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        if skip is not None and (here == skip or skip in here.parents):
            dirnames[:] = []
            continue
        for name in dirnames + filenames:
            p = here / name
            if p == skip:
                continue
            st = p.lstat()
            if p.is_dir() and not p.is_symlink():
                # A folder's mtime moves when a temporary comes and goes: its content is what counts.
                snap[str(p.relative_to(root))] = (0, 0, "dir")
                continue
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink() else ""
            snap[str(p.relative_to(root))] = (st.st_size, st.st_mtime_ns, digest)
    return snap


@pytest.mark.parametrize("fmt", ["png", "tiff", "jpg", "mp4", "gif"])
def test_output_names_are_pseudonymous(tmp_path: Path, key: Key, fmt: str) -> None:
    inputs = _phi_named_inputs(tmp_path / "in")
    out = tmp_path / "out"
    batch = api.export([tmp_path / "in"], out, key=key, format=fmt, frames="all")
    assert batch.count("written") >= 1, [r.reason for r in batch.results]
    names = sorted(p.name for p in out.iterdir() if p.name != MANIFEST_NAME)
    assert names and all(OUTPUT_NAME.match(n) for n in names), names
    fragments = _phi_fragments()
    for n in names:
        assert not any(f in n.lower() for f in fragments), n
    # The manifest names outputs and inputs by digest only: neither the input path nor its name.
    text = (out / MANIFEST_NAME).read_text()
    assert not any(str(p.parent) in text or p.stem in text for p in inputs)


def test_deid_output_names_are_pseudonymous(tmp_path: Path, key: Key) -> None:
    _phi_named_inputs(tmp_path / "in")
    out = tmp_path / "out"
    batch = api.deidentify([tmp_path / "in"], out, key=key)
    assert batch.count("written") == 2, [r.reason for r in batch.results]
    names = sorted(p.name for p in out.iterdir() if p.name != MANIFEST_NAME)
    assert len(names) == 2 and all(OUTPUT_NAME.match(n) and n.endswith(".dcm") for n in names), names


def test_nothing_written_outside_out(tmp_path: Path) -> None:
    """A real process, with a zip input (extracted to a private temporary folder): the working
    directory, TMPDIR, the inputs and the parent of --out are unchanged afterwards."""
    inputs = _phi_named_inputs(tmp_path / "in")
    member = make_ct(seed=3, instance=2)
    with zipfile.ZipFile(tmp_path / "in" / "bundle.zip", "w") as zf:
        # A hostile member path, named after the patient like the other inputs.
        zf.writestr("../../escape/" + inputs[0].name, _dataset_bytes(member))
    work, tmp = tmp_path / "cwd", tmp_path / "tmpdir"
    work.mkdir()
    tmp.mkdir()
    out = tmp_path / "out"
    before = _snapshot(tmp_path)
    env = {**os.environ, "DCMEXPORT_KEY": KEY, "TMPDIR": str(tmp)}
    proc = subprocess.run([sys.executable, "-m", "dcmexport", "export", str(tmp_path / "in"), "--out", str(out),
                           "--jobs", "1", "--format", "png", "--also-dicom", "--json"],
                          cwd=work, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-800:]
    assert json.loads(proc.stdout)["written"] == 3  # the two files and the zip's member
    after = _snapshot(tmp_path, skip=out)
    assert after == before, f"changed outside --out: {sorted(set(after) ^ set(before))[:5]}"
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()
    assert all(OUTPUT_NAME.match(p.name) or p.name == MANIFEST_NAME for p in out.iterdir())


def test_existing_output_not_overwritten_without_flag(tmp_path: Path, key: Key) -> None:
    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    out = tmp_path / "out"
    first = api.export([src], out, key=key)
    (png,) = first.results[0].outputs
    # The user (or another tool) changed the file since: a re-run must not touch it.
    png.write_bytes(b"user's own bytes")
    os.utime(png, ns=(1_000_000_000, 1_000_000_000))
    again = api.export([src], out, key=key)
    (r,) = again.results
    assert r.status == "skipped" and "--overwrite" in (r.reason or "")
    assert png.read_bytes() == b"user's own bytes" and png.stat().st_mtime_ns == 1_000_000_000
    redo = api.export([src], out, key=key, overwrite=True)
    assert redo.results[0].status == "written" and redo.results[0].outputs == [png]
    assert png.read_bytes().startswith(b"\x89PNG")


def test_existing_output_not_overwritten_cli(tmp_path: Path) -> None:
    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    out = tmp_path / "out"
    env = {"DCMEXPORT_KEY": KEY}
    assert runner.invoke(app, ["export", str(src), "--out", str(out), "-q"], env=env).exit_code == 0
    (png,) = out.glob("*.png")
    stamp, content = png.stat().st_mtime_ns, png.read_bytes()
    res = runner.invoke(app, ["export", str(src), "--out", str(out), "--json"], env=env)
    assert res.exit_code == 0
    summary = json.loads(res.stdout)
    assert summary["skipped"] == 1 and summary["written"] == 0
    assert png.stat().st_mtime_ns == stamp and png.read_bytes() == content


def _final_name(tmp_path: Path, key: Key, fmt: str) -> tuple[Path, Path]:
    """Export once to learn the final output path, then delete the output (the name is deterministic)."""
    src = write_dataset(make_us_gray_cine(frames=3, rows=48, columns=48) if fmt == "mp4" else make_ct(),
                        tmp_path / "in" / "x.dcm")  # fmt: skip
    out = tmp_path / "out"
    batch = api.export([src], out, key=key, format=fmt)
    (final,) = batch.results[0].outputs
    final.unlink()
    return src, final


@pytest.mark.parametrize("fmt", ["png", "mp4"])
@pytest.mark.parametrize("overwrite", [True, False])
def test_symlink_at_final_name_is_not_followed(tmp_path: Path, key: Key, fmt: str, overwrite: bool) -> None:
    src, final = _final_name(tmp_path, key, fmt)
    victim = tmp_path / "outside" / "precious.txt"
    victim.parent.mkdir()
    victim.write_bytes(b"do not touch")
    os.utime(victim, ns=(2_000_000_000, 2_000_000_000))
    final.symlink_to(victim)
    batch = api.export([src], final.parent, key=key, format=fmt, overwrite=overwrite)
    (r,) = batch.results
    assert r.status in ("failed", "skipped") and r.error_kind != "internal", (r.status, r.reason)
    assert victim.read_bytes() == b"do not touch" and victim.stat().st_mtime_ns == 2_000_000_000
    assert final.is_symlink() and final.resolve() == victim.resolve()
    assert not list(final.parent.glob(TEMP_PREFIX + "*"))


def test_dangling_symlink_at_final_name_creates_nothing_outside(tmp_path: Path, key: Key) -> None:
    src, final = _final_name(tmp_path, key, "png")
    target = tmp_path / "outside" / "would-be-created.png"
    target.parent.mkdir()
    final.symlink_to(target)
    for overwrite in (False, True):
        batch = api.export([src], final.parent, key=key, overwrite=overwrite)
        assert batch.results[0].status == "failed" and batch.results[0].error_kind != "internal"
        assert not target.exists()


def test_manifest_symlink_is_not_followed(tmp_path: Path, key: Key) -> None:
    """A ``manifest.jsonl`` planted as a symlink in --out must not make the run append to its target."""
    src = write_dataset(make_ct(), tmp_path / "in" / "ct.dcm")
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "outside.txt"
    victim.write_bytes(b"do not touch")
    (out / MANIFEST_NAME).symlink_to(victim)
    # Refusing the run is as good as writing a fresh manifest; following the link is not.
    with contextlib.suppress(DcmexportError):
        api.export([src], out, key=key)
    assert victim.read_bytes() == b"do not touch"
