"""No PHI in side channels (issue 6): messages, summary, JSON, manifest, --log, file names, media, ffmpeg metadata.

A CT is built with :func:`tests.samplegen.make_ct` and then EVERY text-like
element (PN, LO, SH, LT, ST, UT, UC, DA, TM, DT, AS) at every depth, public and
private, plus every instance UID, gets a unique token. Its pixel module is
broken in several ways so that the export FAILS at different stages (header
check, pixel decode after de-identification, values pydicom warns about); the
tokens must appear in no stdout, stderr, manifest, log line or file name. For a
good object, they must also be absent from the media bytes.
"""

from __future__ import annotations

import json
import os
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import imageio_ffmpeg
import pydicom
import pytest
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate, generate_frames
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from typer.testing import CliRunner

from dcmexport.cli import app
from tests.samplegen import make_ct, make_us_gray_cine, write_dataset

TEXT_VRS = {"PN", "LO", "SH", "LT", "ST", "UT", "UC", "DA", "TM", "DT", "AS"}
#: UIDs that name the kind of object, not the patient (PS3.15 E.1: they are kept).
KEEP_UIDS = {"SOPClassUID", "MediaStorageSOPClassUID", "TransferSyntaxUID", "ImplementationClassUID",
             "ReferencedSOPClassUID", "CodingSchemeUID"}  # fmt: skip
KEY = "sidechannel-key-0123456789abcdef"

runner = CliRunner()


@dataclass
class Tokens:
    """The planted values: ``words`` are long unique letters (safe to look for in binary media)."""

    words: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)  # dates, times, ages, UIDs: text channels only
    _n: int = 0

    def word(self) -> str:
        self._n += 1
        n, letters = self._n, ""
        for _ in range(5):
            n, r = divmod(n, 26)
            letters = string.ascii_uppercase[r] + letters
        token = f"QZX{letters}"  # 8 letters; "QZX" never occurs in dcmexport's own messages
        self.words.append(token)
        return token

    def other(self, value: str, *also: str) -> str:
        self.others.extend([value, *also])
        return value

    def value_for(self, vr: str) -> str:
        n = self._n = self._n + 1
        if vr == "PN":
            return f"{self.word()}^{self.word()}"
        if vr == "DA":
            day = f"19{n % 90 + 10:02d}{n % 12 + 1:02d}{n % 28 + 1:02d}"
            return self.other(day, f"{day[:4]}-{day[4:6]}-{day[6:]}")
        if vr == "TM":
            return self.other(f"{n % 24:02d}{n % 60:02d}17.{n:06d}")
        if vr == "DT":
            return self.other(f"1931{n % 12 + 1:02d}0{n % 9 + 1}101112.{n:06d}")
        if vr == "AS":
            return self.other(f"{n % 80 + 10:03d}W")
        return self.word()

    def uid(self) -> str:
        return self.other(f"1.2.826.0.1.3680043.10.54321.{self._next()}")

    def _next(self) -> int:
        self._n += 1
        return self._n

    @property
    def text_needles(self) -> list[str]:
        return self.words + self.others


def _add_extras(ds: Dataset) -> None:
    """Make sure every text VR is present, at the top level, in nested sequences and in private blocks."""
    ds.AdditionalPatientHistory = "x"  # LT
    ds.ImageComments = "x"  # LT
    ds.InstitutionAddress = "x"  # ST
    ds.DerivationDescription = "x"  # ST
    ds.AcquisitionDateTime = "20010101"  # DT
    ds.PatientAge = "040Y"  # AS
    ds.PatientBirthName = "x"  # PN
    ds.StudyID = "x"  # SH
    ds.AccessionNumber = "x"  # SH
    ds.PatientComments = "x"  # LT
    ds.ReasonForTheRequestedProcedure = "x"  # LO
    inner = Dataset()
    inner.ValueType = "TEXT"
    inner.TextValue = "x"  # UT
    inner.PersonName = "x"  # PN
    inner.DateTime = "20010101"  # DT
    deeper = Dataset()
    deeper.TextValue = "x"  # UT, two levels down
    deeper.ObserverType = "PSN"
    deeper.PersonName = "x"
    inner.ContentSequence = DicomSequence([deeper])
    ds.ContentSequence = DicomSequence([inner])
    ds.StrainAdditionalInformation = "x"  # UT at the top level
    block = ds.private_block(0x0011, "QZ SIDECHANNEL 1.0", create=True)
    for offset, vr in enumerate(["PN", "LO", "SH", "LT", "ST", "UT", "UC", "DA", "TM", "DT", "AS"]):
        block.add_new(
            offset + 1, vr, {"DA": "19990101", "DT": "19990101", "TM": "000000", "AS": "040Y"}.get(vr, "x")
        )
    nested = Dataset()
    nested_block = nested.private_block(0x0011, "QZ SIDECHANNEL 1.0", create=True)
    nested_block.add_new(0x01, "PN", "x")
    nested_block.add_new(0x02, "UT", "x")
    block.add_new(0x20, "SQ", DicomSequence([nested]))


def _iter_elements(ds: Dataset) -> Iterator[tuple[Dataset, DataElement]]:
    for elem in list(ds):
        yield ds, elem
        if elem.VR == "SQ":
            for item in elem.value:
                yield from _iter_elements(item)


def token_dataset(tokens: Tokens) -> Dataset:
    """A CT whose every text value and instance UID is a unique token."""
    ds = make_ct(rows=32, columns=32)
    _add_extras(ds)
    for parent, elem in _iter_elements(ds):
        if elem.tag.is_private_creator:
            continue
        if elem.VR in TEXT_VRS:
            parent[elem.tag].value = tokens.value_for(elem.VR)
        elif elem.VR == "UI" and elem.keyword not in KEEP_UIDS:
            parent[elem.tag].value = tokens.uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def _raw(ds: Dataset, keyword: str, vr: str, text: str) -> None:
    """Store ``text`` as raw bytes (pydicom would refuse to build an invalid value, but reads it)."""
    tag = pydicom.datadict.tag_for_keyword(keyword)
    assert tag is not None, keyword
    raw = text.encode() + b" " * (len(text) % 2)
    ds[tag] = RawDataElement(BaseTag(tag), vr, len(raw), raw, 0, False, True)


@dataclass
class Planted:
    tokens: Tokens
    folder: Path  # inputs: one good and several broken objects
    good: Path
    broken: list[Path]
    #: a decode failure pydicom logs with a traceback (see test_decoder_failure_prints_no_traceback)
    rle_cut: Path


def plant(tmp_path: Path) -> Planted:
    tokens = Tokens()
    folder = tmp_path / "in"
    written: list[tuple[Path, int, int]] = []  # file, first and last+1 index of its words

    def build() -> Dataset:
        written.append((Path(), len(tokens.words), 0))
        return token_dataset(tokens)

    def save(ds: Dataset, name: str, *, relabel: pydicom.uid.UID | None = None, where: Path = folder) -> Path:
        path = (
            write_dataset(ds, where / name) if relabel is None else _save_unchecked(ds, relabel, where / name)
        )
        written[-1] = (path, written[-1][1], len(tokens.words))
        return path

    good = save(build(), "good.dcm")

    # 1. Rows = 0: refused by the header check, before de-identification.
    ds = build()
    ds.Rows = 0
    broken = [save(ds, "rows0.dcm")]

    # 2. Pixel Data truncated: fails while decoding, after de-identification ran.
    ds = build()
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 3]
    broken.append(save(ds, "short_pixels.dcm"))

    # 3. Values pydicom warns about *quoting the value*, plus an impossible Bits Allocated.
    ds = build()
    _raw(ds, "PatientBirthDate", "DA", tokens.word())  # not a date
    _raw(ds, "PatientAge", "AS", tokens.word())  # not an age
    _raw(ds, "PatientWeight", "DS", tokens.word())  # not a number
    _raw(ds, "WindowCenter", "DS", tokens.word())  # not a number, read by the renderer
    _raw(ds, "PatientName", "PN", "^".join(tokens.word() for _ in range(6)))  # too many components
    ds.BitsAllocated = 12
    broken.append(save(ds, "bad_values.dcm"))

    # 4. A wrong transfer syntax: the pixel data cannot be decoded as declared.
    broken.append(save(build(), "wrong_ts.dcm", relabel=pydicom.uid.RLELossless))

    # 5. RLE data cut in half: every decoder plugin fails (pydicom logs each failure with a traceback).
    ds = build()
    ds.compress(pydicom.uid.RLELossless)
    fragment = next(generate_frames(ds.PixelData, number_of_frames=1))
    ds.PixelData = encapsulate([fragment[: len(fragment) // 2]])
    rle_cut = save(ds, "rle_cut.dcm", where=tmp_path / "in_rle")

    for path, first, last in written:
        data = path.read_bytes()
        missing = [w for w in tokens.words[first:last] if w.encode() not in data]
        # At most 2 missing: the PatientName components overwritten by _raw in case 3.
        assert len(missing) <= 2, f"{path.name}: planting failed for {missing}"
    return Planted(tokens, folder, good, broken, rle_cut)


def _save_unchecked(ds: Dataset, ts: pydicom.uid.UID, path: Path) -> Path:
    # Encode as Explicit VR Little Endian, then relabel: exactly the inconsistency a broken writer makes.
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    write_dataset(ds, path)
    data = path.read_bytes()
    old = pydicom.uid.ExplicitVRLittleEndian.encode() + b"\x00"
    new = ts.encode() + b"\x00" * (len(old) - len(ts))
    assert len(new) == len(old) and data.count(old) == 1
    path.write_bytes(data.replace(old, new))
    return path


def assert_no_tokens(text: str, tokens: Tokens, where: str) -> None:
    found = [t for t in tokens.text_needles if t in text]
    # PN components may be re-joined with a space or an underscore by a careless formatter.
    assert not found, f"planted value(s) {found[:3]} leaked into {where}"


def assert_no_tokens_in_dir(out: Path, tokens: Tokens, *, media: bool) -> None:
    for p in sorted(out.rglob("*")):
        assert_no_tokens(p.name, tokens, f"file name {p.name}")
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.suffix in (".jsonl", ".log", ".txt", ".json", ".html", ".csv"):
            assert_no_tokens(data.decode("utf-8", "replace"), tokens, p.name)
        elif p.suffix == ".dcm":
            # De-identified DICOM (deid, --also-dicom) rightly keeps attributes PS3.15 Table E.1-1
            # does not list (Manufacturer, Software Versions, ...): the deid tests check its content.
            continue
        elif media:
            leaked = [w for w in tokens.words if w.encode() in data]
            assert not leaked, f"planted value(s) {leaked[:3]} in the bytes of {p.name}"


@pytest.fixture()
def planted(tmp_path: Path) -> Planted:
    return plant(tmp_path)


def _statuses(summary: dict[str, Any]) -> dict[str, str]:
    return {Path(o["input"]).name: o["status"] for o in summary["objects"]}


@pytest.mark.parametrize("command", ["export", "deid"])
@pytest.mark.parametrize("json_out", [True, False])
def test_failed_exports_leak_nothing_clirunner(
    planted: Planted, tmp_path: Path, command: str, json_out: bool
) -> None:
    out = tmp_path / "out"
    args = [command, str(planted.folder), "--out", str(out), "--jobs", "1"]
    log = tmp_path / "logs" / "run.log"
    args += ["--log", str(log)]
    if json_out:
        args.append("--json")
    res = runner.invoke(app, args, env={"DCMEXPORT_KEY": KEY, "COLUMNS": "200"})
    assert res.exit_code == 1, res.output[-800:]
    assert "Traceback" not in res.output
    assert_no_tokens(res.stdout, planted.tokens, "stdout")
    assert_no_tokens(res.stderr, planted.tokens, "stderr")
    assert_no_tokens_in_dir(out, planted.tokens, media=True)
    if json_out:
        statuses = _statuses(json.loads(res.stdout))
        assert statuses["good.dcm"] == "written"
        if command == "export":  # deid does not decode pixels, so only header breaks fail there
            assert all(statuses[p.name] == "failed" for p in planted.broken), statuses
        else:
            assert statuses["rows0.dcm"] == "failed", statuses
    text = log.read_text()
    assert text.strip(), "--log wrote nothing"
    assert_no_tokens(text, planted.tokens, "--log file")


@pytest.mark.parametrize("command", ["export", "deid"])
def test_log_option_is_wired(command: str) -> None:
    """Was a skip when --log was missing from --help (#18 item 10): now it fails instead."""
    res = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "--log" in res.output


@pytest.mark.parametrize("json_out", [True, False])
def test_failed_exports_leak_nothing_real_process(planted: Planted, tmp_path: Path, json_out: bool) -> None:
    """The installed module in a real interpreter: warnings and logging go to the real stderr here."""
    out = tmp_path / "out"
    log = tmp_path / "run.log"
    cmd = [sys.executable, "-m", "dcmexport", "export", str(planted.folder), "--out", str(out), "--jobs", "1"]
    cmd += ["--log", str(log)]
    if json_out:
        cmd.append("--json")
    env = {**os.environ, "DCMEXPORT_KEY": KEY, "COLUMNS": "200", "PYTHONWARNINGS": "default"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 1, proc.stderr[-800:]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout
    assert_no_tokens(proc.stdout, planted.tokens, "stdout")
    assert_no_tokens(proc.stderr, planted.tokens, "stderr")
    assert_no_tokens_in_dir(out, planted.tokens, media=True)
    assert log.read_text().strip(), "--log wrote nothing"
    assert_no_tokens(log.read_text(), planted.tokens, "--log file")
    # Every broken object is named by its path with a one-line reason.
    if not json_out:
        for p in planted.broken:
            assert re.search(rf"^{re.escape(str(p))}: failed: .+$", proc.stderr, re.MULTILINE), p.name


def test_inspect_without_show_values_leaks_nothing(planted: Planted) -> None:
    for path in [planted.good, *planted.broken]:
        res = runner.invoke(app, ["inspect", str(path)], env={"COLUMNS": "200"})
        assert "Traceback" not in res.output
        assert_no_tokens(res.output, planted.tokens, f"inspect {path.name}")


def test_successful_export_media_and_names_clean(planted: Planted, tmp_path: Path) -> None:
    out = tmp_path / "out"
    for fmt in ("png", "tiff", "jpg"):
        res = runner.invoke(app, ["export", str(planted.good), "--out", str(out), "--format", fmt, "--json"],
                            env={"DCMEXPORT_KEY": KEY})  # fmt: skip
        assert res.exit_code == 0, res.output[-500:]
        assert_no_tokens(res.stdout + res.stderr, planted.tokens, "CLI output")
    res = runner.invoke(app, ["export", str(planted.good), "--out", str(out), "--also-dicom", "--format", "png",
                              "--overwrite"], env={"DCMEXPORT_KEY": KEY})  # fmt: skip
    assert res.exit_code == 0
    assert {p.suffix for p in out.iterdir()} >= {".png", ".tiff", ".jpg", ".dcm", ".jsonl"}
    (dcm,) = out.glob("*.dcm")
    dcm.unlink()  # the de-identified DICOM is checked by the deid tests; here only media, names, manifest
    assert_no_tokens_in_dir(out, planted.tokens, media=True)


def _ffmetadata(path: Path) -> dict[str, str]:
    proc = subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path), "-f", "ffmetadata", "-"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    keys = {}
    for line in proc.stdout.splitlines():
        if "=" in line and not line.startswith(";"):
            k, _, v = line.partition("=")
            keys[k.strip().lower()] = v
    return keys


@pytest.mark.parametrize("fmt", ["mp4", "webm", "gif"])
def test_clip_container_metadata_controlled(tmp_path: Path, fmt: str) -> None:
    tokens = Tokens()
    ds = make_us_gray_cine(frames=4, rows=64, columns=64)
    _add_extras(ds)
    for parent, elem in _iter_elements(ds):
        if elem.VR in TEXT_VRS and not elem.tag.is_private_creator:
            parent[elem.tag].value = tokens.value_for(elem.VR)
    src = write_dataset(ds, tmp_path / "in" / "clip.dcm")
    out = tmp_path / "out"
    res = runner.invoke(
        app, ["export", str(src), "--out", str(out), "--format", fmt], env={"DCMEXPORT_KEY": KEY}
    )
    assert res.exit_code == 0, res.output[-500:]
    (clip,) = out.glob(f"*.{fmt}")
    meta = _ffmetadata(clip)
    assert not {"title", "comment", "creation_time", "artist", "description", "date"} & set(meta), meta
    assert_no_tokens("\n".join(f"{k}={v}" for k, v in meta.items()), tokens, "container metadata")
    assert_no_tokens_in_dir(out, tokens, media=True)


def test_decoder_failure_prints_no_traceback(planted: Planted, tmp_path: Path) -> None:
    """A failed decode is one line on stderr, with no traceback from pydicom's decoder plugins (no --debug)."""
    proc = subprocess.run(
        [sys.executable, "-m", "dcmexport", "export", str(planted.rle_cut), "--out", str(tmp_path / "out"), "--jobs", "1"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "DCMEXPORT_KEY": KEY, "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 1
    assert_no_tokens(proc.stdout + proc.stderr, planted.tokens, "output")
    assert re.search(rf"^{re.escape(str(planted.rle_cut))}: failed: .+$", proc.stderr, re.MULTILINE)
    assert "Traceback" not in proc.stderr, proc.stderr[:600]
    assert "ERROR pydicom" not in proc.stderr
