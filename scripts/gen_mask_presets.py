#!/usr/bin/env python
"""Derive the starter mask-preset library (presets/masks/*.toml) from public region rules.

Inputs (``--reference DIR``, default ``/work/shared/reference``):

* ``burned-in-regions-ctp.script``: RSNA CTP DicomPixelAnonymizer signatures,
  ``{ cond * cond + cond }`` followed by ``(x,y,w,h)`` rectangles. ``*`` is AND,
  ``+`` is OR (``*`` binds tighter), parentheses group.
* ``burned-in-regions-deid.txt``: pydicom/deid default recipe; only its
  ``%filter graylist`` LABEL blocks carry coordinates. Lines join with ``+``
  (AND) and ``||`` (OR). deid evaluates them strictly left to right, so
  ``A + B + C || D`` means ``(A and B and C) or D``; every such rule in the file
  is evidently meant as ``A and B and (C or D)`` (an alternative for the last
  condition), and that narrower reading is what we convert: a generated rule
  then never matches an object the rule's author did not target.
  ``coordinates`` are ``x0,y0,x1,y1``; ``ctpcoordinates`` are ``x,y,w,h``.

Each rule is expanded to disjunctive normal form; each conjunction that maps
onto the schema of presets/masks/README.md becomes one preset. Rules are
skipped (and counted, with the reason) when a condition uses an attribute or
operator the schema cannot express, a Modality value that is not a DICOM
modality code, contradictory conditions, or no rectangles. Dropping a
condition instead would make the rule match more objects than intended and,
since a matching preset counts as coverage, let unrelated objects through.
Identical rules (same conditions and rectangles) are merged; the merged rule
lists every origin.

Usage: python scripts/gen_mask_presets.py [--reference DIR] [--out presets/masks] [--check]
"""

from __future__ import annotations

import argparse
import itertools
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CTP_FILE = "burned-in-regions-ctp.script"
DEID_FILE = "burned-in-regions-deid.txt"

# DICOM keyword (or tag) -> (schema key, kind)
ATTRIBUTES: dict[str, tuple[str, str]] = {
    "modality": ("modality", "code"),
    "00080060": ("modality", "code"),
    "manufacturer": ("manufacturer", "contains"),
    "00080070": ("manufacturer", "contains"),
    "manufacturermodelname": ("model", "contains"),
    "00081090": ("model", "contains"),
    "rows": ("rows", "int"),
    "00280010": ("rows", "int"),
    "columns": ("columns", "int"),
    "00280011": ("columns", "int"),
    "imagetype": ("image_type", "contains"),
    "00080008": ("image_type", "contains"),
    "seriesdescription": ("series_description", "contains"),
    "0008103e": ("series_description", "contains"),
    "burnedinannotation": ("burned_in_annotation", "code"),
    "00280301": ("burned_in_annotation", "code"),
    "implementationversionname": ("implementation_version_name", "contains"),
    "sopclassuid": ("sop_class_uid", "code"),
}
KEY_ORDER = [
    "modality",
    "manufacturer",
    "model",
    "rows",
    "columns",
    "sop_class_uid",
    "image_type",
    "series_description",
    "burned_in_annotation",
    "implementation_version_name",
]
# PS3.3 C.7.3.1.1.1 defined terms (current and retired) that may appear in rules.
MODALITY_CODES = set(  # noqa: SIM905 (a word list reads better than 80 quoted codes)
    [
        "AR",
        "ASMT",
        "AU",
        "BDUS",
        "BI",
        "BMD",
        "CR",
        "CT",
        "CTPROTOCOL",
        "DG",
        "DOC",
        "DX",
        "ECG",
        "EPS",
        "ES",
        "FID",
        "GM",
        "HC",
        "HD",
        "IO",
        "IOL",
        "IVOCT",
        "IVUS",
        "KER",
        "KO",
        "LEN",
        "LS",
        "MG",
        "MR",
        "M3D",
        "NM",
        "OAM",
        "OCT",
        "OP",
        "OPM",
        "OPT",
        "OPTBSV",
        "OPTENF",
        "OPV",
        "OSS",
        "OT",
        "PLAN",
        "PR",
        "PT",
        "PX",
        "REG",
        "RESP",
        "RF",
        "RG",
        "RTDOSE",
        "RTIMAGE",
        "RTPLAN",
        "RTRECORD",
        "RTSTRUCT",
        "RWV",
        "SEG",
        "SM",
        "SMR",
        "SR",
        "SRF",
        "STAIN",
        "TEXTUREMAP",
        "TG",
        "US",
        "VA",
        "XA",
        "XC",
        "DS",
        "CF",
        "CP",
        "CS",
        "DD",
        "DF",
        "DM",
        "EC",
        "FA",
        "FS",
        "LP",
        "MA",
        "MS",
        "OPR",
        "ST",
        "VF",
    ]
)


class Skip(Exception):
    """A rule that cannot be converted faithfully; the message is the reason bucket."""


@dataclass(frozen=True)
class Cond:
    attribute: str  # as written in the source
    op: str  # equals | contains | other operator names
    values: tuple[str, ...]


@dataclass
class Rule:
    origin: str  # e.g. "CTP DicomPixelAnonymizer.script line 40"
    label: str
    modality_hint: str  # section heading, used only for naming
    dnf: list[list[Cond]]
    rects: list[tuple[int, int, int, int]]


@dataclass
class Preset:
    match: dict[str, tuple[str | int, ...]]
    rects: tuple[tuple[int, int, int, int], ...]
    labels: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    hint: str = ""


@dataclass
class Report:
    ctp_rules: int = 0
    deid_rules: int = 0
    converted_terms: int = 0
    merged: int = 0
    written: int = 0
    files: dict[str, int] = field(default_factory=dict)
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_rules: int = 0

    def text(self) -> str:
        lines = [
            f"read {self.ctp_rules} CTP signatures and {self.deid_rules} deid LABEL rules",
            f"converted {self.converted_terms} rule terms; merged {self.merged} duplicates; "
            f"wrote {self.written} presets in {len(self.files)} files",
            f"skipped {self.skipped_rules} source rules:",
        ]
        lines += [
            f"  {n:3d}  {reason}"
            for reason, n in sorted(self.skipped.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        lines += [f"  {name}: {n} presets" for name, n in sorted(self.files.items())]
        return "\n".join(lines)


# --------------------------------------------------------------------------- CTP


_CTP_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lp>\() | (?P<rp>\)) | (?P<and>\*) | (?P<or>\+) | (?P<not>!) |
        (?P<cond>(?P<attr>\[[0-9A-Fa-f]{4},[0-9A-Fa-f]{4}\]|[A-Za-z][A-Za-z0-9]*)
                 \s*\.\s*(?P<method>[A-Za-z]+)\s*\(\s*"(?P<value>[^"]*)"\s*\))
    )""",
    re.VERBOSE,
)


def _ctp_tokens(text: str) -> list[tuple[str, object]]:
    tokens: list[tuple[str, object]] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _CTP_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise Skip("CTP condition syntax not understood")
        pos = m.end()
        kind = m.lastgroup if m.lastgroup != "value" else "cond"
        if m.group("cond"):
            method = m.group("method").lower()
            op = {
                "equals": "equals",
                "equalsignorecase": "equals",
                "contains": "contains",
                "containsignorecase": "contains",
            }.get(method, method)
            tokens.append(("cond", Cond(m.group("attr"), op, (m.group("value"),))))
        else:
            tokens.append((str(kind), None))
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return tokens


def _ctp_dnf(text: str) -> list[list[Cond]]:
    """Parse a CTP boolean expression into DNF (list of AND-lists)."""
    tokens = _ctp_tokens(text)
    pos = 0

    def peek() -> str | None:
        return tokens[pos][0] if pos < len(tokens) else None

    def parse_or() -> list[list[Cond]]:
        nonlocal pos
        terms = parse_and()
        while peek() == "or":
            pos += 1
            terms = terms + parse_and()
        return terms

    def parse_and() -> list[list[Cond]]:
        nonlocal pos
        terms = parse_atom()
        while peek() == "and":
            pos += 1
            right = parse_atom()
            terms = [a + b for a in terms for b in right]
        return terms

    def parse_atom() -> list[list[Cond]]:
        nonlocal pos
        kind = peek()
        if kind == "cond":
            cond = tokens[pos][1]
            pos += 1
            assert isinstance(cond, Cond)
            return [[cond]]
        if kind == "lp":
            pos += 1
            inner = parse_or()
            if peek() != "rp":
                raise Skip("CTP condition syntax not understood")
            pos += 1
            return inner
        if kind == "not":
            raise Skip("negated condition (!) not expressible")
        raise Skip("CTP condition syntax not understood")

    dnf = parse_or()
    if pos != len(tokens):
        raise Skip("CTP condition syntax not understood")
    return dnf


def parse_ctp(text: str) -> list[Rule | tuple[str, str]]:
    """Return CTP signatures as rules, or (origin, skip reason) for unparsable ones."""
    out: list[Rule | tuple[str, str]] = []
    section = ""
    label = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("*****") and i + 1 < len(lines):
            section = lines[i + 1].strip()
            i += 3
            continue
        if "{" in stripped:
            start = i
            buf = stripped
            while "}" not in buf and i + 1 < len(lines):
                i += 1
                buf += " " + lines[i].strip()
            cond_text = buf[buf.index("{") + 1 : buf.index("}")]
            rect_text = buf[buf.index("}") + 1 :]
            # rectangles follow on the next lines until a blank line or the next signature
            while i + 1 < len(lines) and lines[i + 1].strip().startswith("("):
                i += 1
                rect_text += " " + lines[i]
            rects = [
                tuple(int(v) for v in m)
                for m in re.findall(r"\((\d+),(\d+),(\d+),(\d+)\)", rect_text.replace(" ", ""))
            ]
            origin = f"CTP DicomPixelAnonymizer.script line {start + 1}"
            try:
                dnf = _ctp_dnf(cond_text)
                out.append(Rule(origin, label or section, section, dnf, [r for r in rects if len(r) == 4]))
            except Skip as exc:
                out.append((origin, str(exc)))
        elif stripped and not stripped.startswith("("):
            label = stripped
        i += 1
    return out


# --------------------------------------------------------------------------- deid


_DEID_COND = re.compile(r"^(?P<op>[a-z]+)\s+(?P<field>\S+)(?:\s+(?P<value>.+))?$")


def _deid_cond(text: str) -> Cond:
    m = _DEID_COND.match(text.strip())
    if not m:
        raise Skip("deid condition syntax not understood")
    value = (m.group("value") or "").strip()
    values = tuple(v.strip() for v in value.split("|")) if value else ()
    return Cond(m.group("field"), m.group("op"), values)


def parse_deid(text: str) -> list[Rule | tuple[str, str]]:
    """Return deid LABEL blocks as rules (graylist) or (origin, skip reason)."""
    out: list[Rule | tuple[str, str]] = []
    section = ""
    block: list[tuple[int, str]] = []

    def flush() -> None:
        if not block:
            return
        line_no, head = block[0]
        label = head.split("#")[0].replace("LABEL", "", 1).strip()
        origin = f"deid deid.dicom line {line_no}"
        if section != "graylist":
            out.append((origin, f"{section} rule (no rectangles by design)"))
            return
        clauses: list[list[Cond]] = []
        rects: list[tuple[int, int, int, int]] = []
        try:
            for _, line in block[1:]:
                line = line.split("#")[0].strip()
                if not line:
                    continue
                if line.startswith(("coordinates", "ctpcoordinates", "keepcoordinates")):
                    kind, _, spec = line.partition(" ")
                    if kind == "keepcoordinates" or "from:" in spec or spec.strip() == "all":
                        raise Skip("keep/whole-image coordinates (not a fixed rectangle)")
                    a, b, c, d = (int(v) for v in spec.replace(" ", "").split(","))
                    rects.append((a, b, c - a, d - b) if kind == "coordinates" else (a, b, c, d))
                    continue
                parts = re.split(r"\s*\|\|\s*", line)
                first = parts[0]
                if first.startswith("+"):
                    clauses.append([_deid_cond(first[1:])])
                elif first == "" and clauses:
                    pass  # the line began with ||: alternatives only
                else:
                    clauses.append([_deid_cond(first)])
                for alt in parts[1:]:
                    if not clauses:
                        raise Skip("deid condition syntax not understood")
                    clauses[-1].append(_deid_cond(alt))
        except Skip as exc:
            out.append((origin, str(exc)))
            return
        dnf = [list(combo) for combo in itertools.product(*clauses)] if clauses else []
        out.append(Rule(origin, label, "", dnf, rects))

    for n, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if s.startswith("%filter"):
            flush()
            block = []
            section = s.split()[1]
        elif s.startswith("%"):
            flush()
            block = []
            section = s.lstrip("%")
        elif s.startswith("LABEL"):
            flush()
            block = [(n, s)]
        elif block:
            block.append((n, line))
    flush()
    return out


# --------------------------------------------------------------------------- conversion


def _implied(a: str, others: tuple[str, ...]) -> bool:
    """True when containing ``a`` implies containing one of ``others``."""
    return any(o.casefold() in a.casefold() for o in others)


def term_to_match(term: list[Cond]) -> dict[str, tuple[str | int, ...]]:
    """Map one AND-list of conditions onto the preset schema, or raise Skip."""
    match: dict[str, tuple[str | int, ...]] = {}
    for cond in term:
        attr = cond.attribute.strip("[]").replace(",", "").lower()
        if attr not in ATTRIBUTES:
            raise Skip(f"condition on an attribute the schema does not cover ({cond.attribute})")
        key, kind = ATTRIBUTES[attr]
        if cond.op not in ("equals", "contains"):
            raise Skip(f"operator '{cond.op}' not expressible")
        if not cond.values or any(not v for v in cond.values):
            raise Skip("empty condition value")
        values: tuple[str | int, ...]
        if kind == "int":
            try:
                values = tuple(int(v) for v in cond.values)
            except ValueError:
                raise Skip("non-integer Rows/Columns value") from None
        elif kind == "code":
            codes = tuple(v.strip().upper() for v in cond.values)
            if key == "modality" and any(c not in MODALITY_CODES for c in codes):
                raise Skip("Modality value is not a DICOM modality code")
            values = codes
        else:
            if any("+" in v for v in cond.values):
                raise Skip("'+' inside a deid value (regex quantifier, meaning unclear)")
            values = tuple(v.strip() for v in cond.values)
        if key in match:
            old = match[key]
            if kind == "contains":
                # AND of two "contains any" lists: keep whichever list implies the other.
                if all(_implied(str(v), tuple(map(str, old))) for v in values):
                    match[key] = values
                elif not all(_implied(str(v), tuple(map(str, values))) for v in old):
                    raise Skip("two conditions on one attribute that the schema cannot combine")
            else:
                both = tuple(v for v in old if v in values)
                if not both:
                    raise Skip("contradictory conditions")
                match[key] = both
        else:
            match[key] = values
    if not match:
        raise Skip("no conditions")
    return {k: match[k] for k in KEY_ORDER if k in match}


def combine_terms(matches: list[dict[str, tuple[str | int, ...]]]) -> list[dict[str, tuple[str | int, ...]]]:
    """Fold DNF terms of one rule that differ in a single key into one term listing both values.

    ``(A and B1) or (A and B2)`` is ``A and (B1 or B2)``, which the schema expresses as a list.
    """
    terms = list(matches)
    changed = True
    while changed:
        changed = False
        for i, j in itertools.combinations(range(len(terms)), 2):
            a, b = terms[i], terms[j]
            if a.keys() != b.keys():
                continue
            differing = [k for k in a if a[k] != b[k]]
            if len(differing) == 1:
                k = differing[0]
                a = dict(a)
                a[k] = a[k] + tuple(v for v in b[k] if v not in a[k])
                terms[i] = a
                del terms[j]
                changed = True
                break
            if not differing:
                del terms[j]
                changed = True
                break
    return terms


def convert(rules: list[Rule | tuple[str, str]], report: Report) -> list[Preset]:
    presets: list[Preset] = []
    for rule in rules:
        if isinstance(rule, tuple):
            report.skipped[rule[1]] += 1
            report.skipped_rules += 1
            continue
        if not rule.rects:
            report.skipped["no rectangles (flag-only rule)"] += 1
            report.skipped_rules += 1
            continue
        bad = [r for r in rule.rects if r[2] <= 0 or r[3] <= 0]
        if bad:
            report.skipped["rectangle with zero or negative size"] += 1
            report.skipped_rules += 1
            continue
        try:
            matches = [term_to_match(term) for term in rule.dnf]
        except Skip as exc:
            report.skipped[str(exc)] += 1
            report.skipped_rules += 1
            continue
        matches = combine_terms(matches)
        if not matches:
            report.skipped["no conditions"] += 1
            report.skipped_rules += 1
            continue
        for match in matches:
            report.converted_terms += 1
            presets.append(Preset(match, tuple(rule.rects), [rule.label], [rule.origin], rule.modality_hint))
    return presets


def merge(presets: list[Preset], report: Report) -> list[Preset]:
    merged: dict[tuple[object, ...], Preset] = {}
    for p in presets:
        key = (tuple((k, tuple(str(v).casefold() for v in vs)) for k, vs in p.match.items()), p.rects)
        if key in merged:
            report.merged += 1
            kept = merged[key]
            kept.origins += [o for o in p.origins if o not in kept.origins]
            kept.labels += [lab for lab in p.labels if lab not in kept.labels]
        else:
            merged[key] = p
    return list(merged.values())


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def file_stem(p: Preset) -> str:
    modality = p.match.get("modality", ())
    return str(modality[0]).lower() if len(modality) == 1 else "any-modality"


def name_presets(presets: list[Preset]) -> list[tuple[str, Preset]]:
    named: list[tuple[str, Preset]] = []
    used: set[str] = set()
    for p in presets:
        parts = [file_stem(p)]
        for key in ("manufacturer", "model"):
            if key in p.match:
                parts.append(str(p.match[key][0]))
        if len(parts) == 1:
            parts.append(p.labels[0])
        for key in ("rows", "columns"):
            if key in p.match:
                parts.append("x".join(str(v) for v in p.match[key]))
        base = _slug("-".join(parts))[:60].strip("-")
        name, n = base, 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        named.append((name, p))
    return named


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(values: tuple[str | int, ...]) -> str:
    return "[" + ", ".join(str(v) if isinstance(v, int) else _toml_str(v) for v in values) + "]"


def citations(reference: Path) -> dict[str, str]:
    """Read 'repository · path · commit' for our two inputs from the reference README."""
    cites: dict[str, str] = {}
    for line in (reference / "README.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3:
            name = cells[0].strip("`")
            if name in (CTP_FILE, DEID_FILE):
                cites[name] = cells[-1]
    missing = {CTP_FILE, DEID_FILE} - set(cites)
    if missing:
        raise SystemExit(f"reference README.md does not cite {sorted(missing)}")
    return cites


def render_files(named: list[tuple[str, Preset]], cites: dict[str, str]) -> dict[str, str]:
    groups: dict[str, list[tuple[str, Preset]]] = {}
    for name, p in named:
        groups.setdefault(file_stem(p), []).append((name, p))
    files: dict[str, str] = {}
    for stem, items in sorted(groups.items()):
        out = [
            f"# Mask presets ({stem}): GENERATED by scripts/gen_mask_presets.py, do not edit by hand.",
            "# Schema: presets/masks/README.md. Regenerate: python scripts/gen_mask_presets.py --reference DIR",
            "# Derived from:",
            f"#   RSNA CTP Burned-in Annotation Library: {cites[CTP_FILE]}",
            f"#   pydicom/deid default recipe (graylist): {cites[DEID_FILE]}",
            "# Rectangles are where vendors were seen to burn in PHI; they are not a guarantee.",
            "",
        ]
        for name, p in items:
            out.append("[[rule]]")
            out.append(f"name = {_toml_str(name)}")
            src = "; ".join(
                f"{o} ({lab})" if lab else o
                for o, lab in zip(p.origins, p.labels + [""] * len(p.origins), strict=False)
            )
            out.append(f"source = {_toml_str(src)}")
            out.append("rects = [" + ", ".join(f"[{x}, {y}, {w}, {h}]" for x, y, w, h in p.rects) + "]")
            out.append("[rule.match]")
            for key, values in p.match.items():
                out.append(f"{key} = {_toml_value(values)}")
            out.append("")
        files[f"{stem}.toml"] = "\n".join(out)
    return files


def build(reference: Path) -> tuple[dict[str, str], Report]:
    """Build the library from ``reference``; returns {file name: TOML text} and the report."""
    report = Report()
    ctp = parse_ctp((reference / CTP_FILE).read_text(encoding="utf-8"))
    deid = parse_deid((reference / DEID_FILE).read_text(encoding="utf-8"))
    report.ctp_rules, report.deid_rules = len(ctp), len(deid)
    presets = merge(convert(ctp, report) + convert(deid, report), report)
    named = name_presets(presets)
    files = render_files(named, citations(reference))
    report.written = len(named)
    report.files = {fname: text.count("[[rule]]") for fname, text in files.items()}
    return files, report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=Path("/work/shared/reference"))
    parser.add_argument("--out", type=Path, default=REPO / "presets" / "masks")
    parser.add_argument("--check", action="store_true", help="exit 1 if the files on disk differ")
    args = parser.parse_args(argv)
    files, report = build(args.reference)
    if args.check:
        stale = [
            n for n, t in files.items() if not (args.out / n).is_file() or (args.out / n).read_text() != t
        ]
        print(report.text())
        print("up to date" if not stale else f"stale: {stale}")
        return 1 if stale else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.toml"):
        if old.name not in files and old.read_text(encoding="utf-8").startswith("# Mask presets ("):
            old.unlink()  # a generated file that no longer has rules
    for name, text in files.items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(report.text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
