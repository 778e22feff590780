"""Generate the de-identification data files from the shared reference extracts.

Writes (both are committed; re-run after changing the reference edition):

* ``dcmexport/deid/profile_table.json`` -- DICOM PS3.15 Table E.1-1 (Basic Application
  Level Confidentiality Profile and every option column), one entry per row, with the
  tag turned into integers plus masks so ``(50xx,xxxx)`` and ``(60xx,3000)`` ranges match
  by ``(tag & mask) == value``.
* ``presets/deid/safe_private.toml`` -- the Retain Safe Private allow list: every element
  the RSNA CTP private tag dictionary marks ``K`` (safe to keep), as private creator +
  group + element offset inside the creator's block.

The Basic Profile column is cross-checked against a second, independent extraction of
the same edition (``ps3.15-2024b-basic-profile.csv``); the script fails if the two disagree
on any tag they share, or if the code counts differ from the ones the reference README
states.

Usage::

    python scripts/gen_deid_table.py [--reference DIR]

``--reference`` defaults to ``../shared/reference`` relative to the repository root.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag

REPO = Path(__file__).resolve().parent.parent
EDITION = "2024b"
TABLE_JSON = f"ps3.15-{EDITION}-table-E.1-1.json"
BASIC_CSV = f"ps3.15-{EDITION}-basic-profile.csv"
PRIVATE_XML = "private-tags-ctp.xml"

#: Basic Profile code counts stated in the reference README (the shipped table must match).
EXPECTED_COUNTS = {
    "X": 384, "D": 92, "U": 54, "Z": 42, "X/D": 22, "X/Z": 11, "X/Z/D": 8, "Z/D": 6, "X/Z/U*": 2,
}
OPTION_COLUMNS = (
    "rtnSafePrivOpt", "rtnUIDsOpt", "rtnDevIdOpt", "rtnInstIdOpt", "rtnPatCharsOpt",
    "rtnLongFullDatesOpt", "rtnLongModifDatesOpt", "cleanDescOpt", "cleanStructContOpt", "cleanGraphOpt",
)
_TAG_RE = re.compile(r"^\(([0-9A-Fx]{4}),([0-9A-Fx]{4})\)$", re.IGNORECASE)


class ReferenceMismatch(Exception):
    """The reference files disagree with each other or with the README's counts."""


def parse_tag(text: str) -> dict[str, Any]:
    """Turn ``(gggg,eeee)`` (``x`` = any hex digit) into value/mask integers.

    The private-attributes row ``(GGGG,EEEE) where GGGG is odd`` becomes ``{"match": "private"}``.
    """
    if "ODD" in text.upper():
        return {"match": "private"}
    m = _TAG_RE.match(text.strip())
    if not m:
        raise ReferenceMismatch(f"unparseable tag {text!r} in Table E.1-1")
    out: dict[str, Any] = {"match": "exact"}
    for part, name in ((m.group(1), "group"), (m.group(2), "element")):
        value = int(part.upper().replace("X", "0"), 16)
        mask = int("".join("0" if c in "xX" else "F" for c in part), 16)
        out[name], out[f"{name}_mask"] = value, mask
        if mask != 0xFFFF:
            out["match"] = "mask"
    return out


def _clean_name(name: str) -> str:
    # Names carry footnote references such as "Icon Image Sequence\n\n(see Note 11)".
    return re.sub(r"\s*\(see Note.*?\)", "", " ".join(name.split())).strip()


def build_table(ref: Path) -> dict[str, Any]:
    """Read Table E.1-1, cross-check it and return the document to write."""
    rows = json.loads((ref / TABLE_JSON).read_text(encoding="utf-8"))
    counts = Counter(r["basicProfile"] for r in rows)
    if dict(counts) != EXPECTED_COUNTS or len(rows) != 621:
        raise ReferenceMismatch(f"Basic Profile counts {dict(counts)} differ from the README's {EXPECTED_COUNTS}")

    entries = []
    for r in rows:
        tag = parse_tag(r["tag"])
        entry: dict[str, Any] = {"tag": r["tag"].upper().replace("WHERE GGGG IS ODD", "where gggg is odd"),
                                 "name": _clean_name(r["name"]), **tag}
        if tag["match"] == "exact":
            value = (tag["group"] << 16) | tag["element"]
            entry["keyword"] = keyword_for_tag(value) or ""
            try:
                entry["vr"] = dictionary_VR(value)
            except KeyError:
                entry["vr"] = ""
        entry["basic"] = r["basicProfile"]
        entry["options"] = {c: r[c] for c in OPTION_COLUMNS if r.get(c)}
        entries.append(entry)

    _cross_check(entries, ref / BASIC_CSV)
    entries.sort(key=lambda e: e["tag"])
    return {
        "title": "DICOM PS3.15 Table E.1-1 Application Level Confidentiality Profile Attributes",
        "edition": EDITION,
        "source": {
            "file": TABLE_JSON,
            "origin": "innolitics/dicom-standard standard/confidentiality_profile_attributes.json "
                      "@ 8670abdd9ad16c61af5146ef857899699bdd9c5f (rev2024b)",
            "cross_checked_with": f"{BASIC_CSV} (KitwareMedical/dicom-anonymizer dicomfields_2024b.py)",
        },
        "generated_by": "scripts/gen_deid_table.py -- do not edit by hand",
        "counts": dict(sorted(counts.items())),
        "entries": entries,
    }


def _cross_check(entries: list[dict[str, Any]], csv_path: Path) -> None:
    """Fail when the CSV's Basic Profile column disagrees with the JSON on a shared tag.

    The CSV writes ranges as their first tag plus masks (``(6000,3000)``, ``0xFF00,0xFFFF``).
    """
    by_key: dict[tuple[int, int, int, int], str] = {}
    for e in entries:
        if e["match"] != "private":
            by_key[(e["group"], e["element"], e["group_mask"], e["element_mask"])] = e["basic"]
    shared = 0
    with csv_path.open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            t = parse_tag(row["tag"])
            gm, em = (0xFFFF, 0xFFFF)
            if row["range_masks"]:
                gm, em = (int(x, 16) for x in row["range_masks"].split(","))
            key = (t["group"] & gm, t["element"] & em, gm, em)
            if key not in by_key:
                continue
            shared += 1
            if by_key[key] != row["basic_profile_action"]:
                raise ReferenceMismatch(
                    f"{row['tag']}: JSON says {by_key[key]!r}, CSV says {row['basic_profile_action']!r}")
    if shared < 600:
        raise ReferenceMismatch(f"only {shared} tags shared between the two extractions; expected ~619")


def build_safe_private(ref: Path) -> str:
    """Return ``safe_private.toml``: the CTP dictionary's ``K`` (safe) private elements."""
    root = ET.parse(ref / PRIVATE_XML).getroot()
    seen: set[tuple[str, int, int]] = set()
    lines = [
        "# Retain Safe Private Option (PS3.15 E.3.10, code 113111) allow list.",
        "# GENERATED by scripts/gen_deid_table.py from the RSNA CTP private tag dictionary",
        "# (johnperry/CTP source/resources/PrivateTagDictionary.xml @ 361e90f8): every element coded K",
        "# (safe to keep). An element is kept only when its private creator string matches `creator`",
        "# exactly (after stripping spaces), its group is `group` and its offset inside the creator's",
        "# block (low byte of the element number) is `element`. Do not edit by hand.",
        "",
    ]
    for el in root.iter("element"):
        if el.get("code") != "K":
            continue
        creator = (el.get("cr") or "").strip()
        group, offset = int(el.get("gp", "0"), 16), int(el.get("el", "0"), 16)
        if not creator or group % 2 == 0 or (creator, group, offset) in seen:
            continue
        seen.add((creator, group, offset))
        lines += [
            "[[element]]",
            f"creator = {json.dumps(creator)}",
            f'group = "{group:04X}"',
            f'element = "{offset:02X}"',
            f"name = {json.dumps(el.get('key') or '')}",
            f'vr = "{el.get("vr") or ""}"',
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Generate both files; return a process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reference", type=Path, default=REPO.parent / "shared" / "reference",
                        help="folder holding the reference extracts (default: ../shared/reference)")
    args = parser.parse_args(argv)
    try:
        table = build_table(args.reference)
        safe = build_safe_private(args.reference)
    except (ReferenceMismatch, OSError, KeyError, ValueError) as exc:
        print(f"gen_deid_table: {exc}", file=sys.stderr)
        return 1
    out = REPO / "dcmexport" / "deid" / "profile_table.json"
    out.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    safe_out = REPO / "presets" / "deid" / "safe_private.toml"
    safe_out.parent.mkdir(parents=True, exist_ok=True)
    safe_out.write_text(safe, encoding="utf-8")
    print(f"wrote {out.relative_to(REPO)} ({len(table['entries'])} entries) and {safe_out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
