"""The shipped Table E.1-1 data file, its generator and the presets/deid allow lists."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from dcmexport.deid.table import TABLE_PATH, load_keep_lists, load_safe_private, load_table

REPO = Path(__file__).resolve().parent.parent
REFERENCE = REPO.parent / "shared" / "reference"
sys.path.insert(0, str(REPO / "scripts"))
import gen_deid_table  # noqa: E402


class TestShippedTable:
    def test_counts_match_reference_readme(self) -> None:
        table = load_table()
        assert len(table.entries) == 621
        assert Counter(e.basic for e in table.entries) == {
            "X": 384, "D": 92, "U": 54, "Z": 42, "X/D": 22, "X/Z": 11, "X/Z/D": 8, "Z/D": 6, "X/Z/U*": 2}

    def test_cites_edition_and_source(self) -> None:
        doc = json.loads(TABLE_PATH.read_text())
        assert doc["edition"] == "2024b"
        assert "innolitics/dicom-standard" in doc["source"]["origin"]
        assert "gen_deid_table.py" in doc["generated_by"]

    def test_known_rows(self) -> None:
        rows = {e.tag: e for e in load_table().entries}
        assert rows["(0010,0010)"].basic == "Z" and rows["(0010,0010)"].keyword == "PatientName"
        assert rows["(0018,1000)"].basic == "X/Z/D"
        assert rows["(0018,1000)"].options["rtnDevIdOpt"] == "K"
        assert rows["(0008,0018)"].basic == "U"

    def test_ranges_match_by_mask(self) -> None:
        rows = {e.tag: e for e in load_table().entries}
        overlay = rows["(60XX,3000)"]
        assert overlay.matches(0x60003000) and overlay.matches(0x601E3000)
        assert not overlay.matches(0x60003001) and not overlay.matches(0x70003000)
        curve = rows["(50XX,XXXX)"]
        assert curve.matches(0x50000000) and curve.matches(0x5012ABCD) and not curve.matches(0x51000000)
        private = next(e for e in load_table().entries if e.match == "private")
        assert private.matches(0x00091001) and not private.matches(0x00100010)

    def test_exact_rows_carry_their_dictionary_keyword(self) -> None:
        exact = [e for e in load_table().entries if e.match == "exact"]
        assert len(exact) == 617
        assert sum(1 for e in exact if e.keyword) >= 600


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="shared reference folder not present")
class TestGenerator:
    def test_regenerates_the_shipped_file(self) -> None:
        rebuilt = gen_deid_table.build_table(REFERENCE)
        shipped = json.loads(TABLE_PATH.read_text())
        assert rebuilt == shipped

    def test_regenerates_safe_private(self) -> None:
        text = gen_deid_table.build_safe_private(REFERENCE)
        assert text == (REPO / "presets" / "deid" / "safe_private.toml").read_text()

    def test_fails_when_extractions_disagree(self, tmp_path: Path) -> None:
        for name in REFERENCE.iterdir():
            if name.is_file():
                shutil.copy(name, tmp_path / name.name)
        csv_path = tmp_path / gen_deid_table.BASIC_CSV
        text = csv_path.read_text()
        assert '"(0010,0010)",Patient\'s Name,Z,' in text
        csv_path.write_text(text.replace('"(0010,0010)",Patient\'s Name,Z,', '"(0010,0010)",Patient\'s Name,K,'))
        with pytest.raises(gen_deid_table.ReferenceMismatch, match=r"\(0010,0010\)"):
            gen_deid_table.build_table(tmp_path)

    def test_script_help_runs(self) -> None:
        out = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_deid_table.py"), "--help"],
                             capture_output=True, text=True, check=True)
        assert "--reference" in out.stdout


class TestAllowLists:
    def test_safe_private_has_the_ctp_k_entries(self) -> None:
        safe = load_safe_private()
        assert 450 <= len(safe) <= 500  # 500 K rows, a few duplicates collapse
        assert ("BrainWave: 1.2.840.113819.3", 0x2001, 0x31) in safe
        assert all(group % 2 == 1 for _, group, _ in safe)

    def test_keep_lists_resolve_keywords(self) -> None:
        keep = load_keep_lists()
        assert 0x00080104 in keep.free_text  # CodeMeaning
        assert 0x00080070 in keep.free_text  # Manufacturer
        assert 0x00080016 in keep.uids  # SOPClassUID
        assert "chest" in keep.vocabulary
        # nothing on the keep list may be a table row: the table always wins
        table_tags = {e.value for e in load_table().entries if e.match == "exact"}
        assert not (keep.free_text | keep.uids) & table_tags
