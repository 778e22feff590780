"""De-identification options (PS3.15 E.3) and the named profiles under ``presets/profiles/``."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from dcmexport.errors import PresetError, UsageError
from dcmexport.presets import iter_preset_files, preset_path, read_toml

#: CID 7050 De-identification Method codes (scheme DCM), PS3.16.
CID7050: dict[str, str] = {
    "113100": "Basic Application Confidentiality Profile",
    "113101": "Clean Pixel Data Option",
    "113102": "Clean Recognizable Visual Features Option",
    "113103": "Clean Graphics Option",
    "113104": "Clean Structured Content Option",
    "113105": "Clean Descriptors Option",
    "113106": "Retain Longitudinal Temporal Information Full Dates Option",
    "113107": "Retain Longitudinal Temporal Information Modified Dates Option",
    "113108": "Retain Patient Characteristics Option",
    "113109": "Retain Device Identity Option",
    "113110": "Retain UIDs Option",
    "113111": "Retain Safe Private Option",
    "113112": "Retain Institution Identity Option",
}

#: option field -> (Table E.1-1 column, CID 7050 code). safe_harbor has no column or code.
OPTION_COLUMNS: dict[str, tuple[str, str]] = {
    "retain_safe_private": ("rtnSafePrivOpt", "113111"),
    "retain_uids": ("rtnUIDsOpt", "113110"),
    "retain_device_id": ("rtnDevIdOpt", "113109"),
    "retain_institution_id": ("rtnInstIdOpt", "113112"),
    "retain_patient_chars": ("rtnPatCharsOpt", "113108"),
    "retain_full_dates": ("rtnLongFullDatesOpt", "113106"),
    "retain_modified_dates": ("rtnLongModifDatesOpt", "113107"),
    "clean_descriptors": ("cleanDescOpt", "113105"),
    "clean_structured_content": ("cleanStructContOpt", "113104"),
    "clean_graphics": ("cleanGraphOpt", "113103"),
}


@dataclass(frozen=True)
class DeidOptions:
    """Which PS3.15 Annex E profile options apply (all off = Basic Profile only).

    ``safe_harbor`` is not a DICOM option: it reduces every date and date-time the table
    governs to 1 January of its year and caps ages over 89 years at ``090Y``
    (HIPAA 45 CFR 164.514(b)(2)(i)(C)).

    Raises:
        UsageError: when both longitudinal options are set (they contradict each other).
    """

    profile: str = "basic"
    retain_modified_dates: bool = False
    retain_full_dates: bool = False
    retain_patient_chars: bool = False
    retain_device_id: bool = False
    retain_institution_id: bool = False
    retain_uids: bool = False
    retain_safe_private: bool = False
    clean_descriptors: bool = False
    clean_graphics: bool = False
    clean_structured_content: bool = False
    safe_harbor: bool = False

    def __post_init__(self) -> None:
        if self.retain_full_dates and self.retain_modified_dates:
            raise UsageError(
                "retain full dates (113106) and retain modified dates (113107) exclude each other; choose one")

    def enabled(self) -> list[str]:
        """Return the names of the boolean options that are on, in declaration order."""
        return [f.name for f in fields(self) if f.name != "profile" and getattr(self, f.name)]


_FLAG_NAMES = frozenset(f.name for f in fields(DeidOptions) if f.name != "profile")


def list_profiles() -> list[str]:
    """Return the names of the profiles shipped in ``presets/profiles/`` (file stems, sorted)."""
    return [p.stem for p in iter_preset_files("profiles")]


def load_profile(name: str, **overrides: bool) -> DeidOptions:
    """Load ``presets/profiles/<name>.toml`` and apply flag overrides on top.

    Args:
        name: profile name, e.g. ``"basic"`` or ``"safe-harbor"``.
        **overrides: option flags (``retain_uids=True``...) that win over the file.

    Returns:
        The frozen options.

    Raises:
        PresetError: unknown profile (the message lists the known ones) or an invalid file.
        UsageError: an unknown override name, or contradictory options.
    """
    known = list_profiles()
    if name not in known:
        raise PresetError(f"unknown de-identification profile {name!r}; known profiles: {', '.join(known)}")
    path = preset_path("profiles", f"{name}.toml")
    doc = read_toml(path)
    table: Any = doc.get("options", {})
    if not isinstance(table, dict):
        raise PresetError(f"{path}: [options] must be a table of booleans")
    values: dict[str, bool] = {}
    for key, value in table.items():
        if key not in _FLAG_NAMES or not isinstance(value, bool):
            raise PresetError(f"{path}: options.{key} is not a known boolean option; known: {', '.join(sorted(_FLAG_NAMES))}")
        values[key] = value
    for key, value in overrides.items():
        if key not in _FLAG_NAMES:
            raise UsageError(f"unknown de-identification option {key!r}; known: {', '.join(sorted(_FLAG_NAMES))}")
        values[key] = bool(value)
    return DeidOptions(profile=name, **values)


def method_codes(options: DeidOptions, *, pixels_cleaned: bool = False) -> list[tuple[str, str]]:
    """Return the CID 7050 (code, meaning) pairs describing ``options`` (PS3.15 E.1.1, PS3.16 CID 7050).

    ``safe_harbor`` changes dates, so it is reported as Modified Dates (113107), never Full Dates.
    """
    codes = ["113100"]
    if pixels_cleaned:
        codes.append("113101")
    for name, (_column, code) in OPTION_COLUMNS.items():
        if getattr(options, name):
            codes.append(code)
    if options.safe_harbor:
        # Year-only dates are modified dates, never full ones.
        codes = [c for c in codes if c != "113106"] + ["113107"]
    return [(c, CID7050[c]) for c in sorted(set(codes))]
