"""The committed ``samples/`` folder: which objects it holds, their descriptions, its generated README."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from pydicom.dataset import Dataset

from .common import _PLANTED_PHI, DEFAULT_BANNER_TEXT, PRIVATE_CREATOR, write_dataset
from .single_frame import make_cr_mono1, make_ct, make_ct_series, make_mr
from .ultrasound import make_us_gray_cine, make_us_rgb_cine

#: Every file under samples/ (relative path) and what it exercises; the README is
#: generated from this table, so the two cannot drift apart.
SAMPLE_DESCRIPTIONS: dict[str, str] = {
    "ct_two_windows.dcm": (
        "CT Image Storage, 256x256 int16, Rescale Slope 1 / Intercept -1024 (HU), two VOI windows "
        "(soft tissue 40/400, lung -600/1500) in multi-valued Window Center/Width; Pixel Spacing, "
        "Image Position/Orientation (Patient)."
    ),
    "mr.dcm": "MR Image Storage, 256x256 uint16 (12 bits stored), one VOI window, head-like T1 phantom.",
    "cr_monochrome1.dcm": (
        "Computed Radiography, 256x512 MONOCHROME1 (low value = white), non-square Imager Pixel Spacing "
        "[0.2, 0.1] mm and no Pixel Spacing: the disc is round only after aspect correction; a white "
        "square marks the top-left corner."
    ),
    "us_rgb_cine.dcm": (
        "Ultrasound Multi-frame, RGB 240x320 x 24 frames, RLE Lossless, Frame Time 40 ms via Frame "
        "Increment Pointer, one Ultrasound Region (cm, 0.03 cm/pixel); the fake name "
        f"'{DEFAULT_BANNER_TEXT}' is burned into a top banner outside the region (Burned In Annotation YES)."
    ),
    "us_gray_cine.dcm": (
        "Ultrasound Multi-frame, MONOCHROME2 8-bit 256x256 x 30 frames, RLE Lossless, timed only by "
        "Cine Rate 15 (no Frame Time), no regions, Burned In Annotation NO."
    ),
    "ct_series/": (
        "One CT series of 5 slices (128x128) sharing Study/Series/Frame of Reference UIDs; file names "
        "slice_1..5 are in shuffled order, so correct ordering must come from Image Position (Patient) "
        "z / Instance Number."
    ),
}


def iter_samples() -> Iterator[tuple[str, Dataset]]:
    """Yield ``(relative path, dataset)`` for every file under ``samples/``.

    Returns:
        An iterator in a fixed order; paths use ``/`` separators.
    """
    yield "ct_two_windows.dcm", make_ct(rows=256, columns=256)
    yield "mr.dcm", make_mr(rows=256, columns=256)
    yield "cr_monochrome1.dcm", make_cr_mono1(rows=256, columns=512)
    yield "us_rgb_cine.dcm", make_us_rgb_cine(rows=240, columns=320, frames=24, compress=True)
    yield "us_gray_cine.dcm", make_us_gray_cine(rows=256, columns=256, frames=30, cine_rate=15, compress=True)
    for position, ds in enumerate(make_ct_series(5, rows=128, columns=128, shuffled_seed=7), start=1):
        yield f"ct_series/slice_{position}.dcm", ds


def render_samples_readme() -> str:
    """Return the text of ``samples/README.md``, generated from :data:`SAMPLE_DESCRIPTIONS`.

    Returns:
        Markdown text ending in a newline.
    """
    phi_lines = "\n".join(f"| `{key}` | `{value}` |" for key, value in _PLANTED_PHI.items())
    file_lines = "\n".join(f"| `{name}` | {text} |" for name, text in SAMPLE_DESCRIPTIONS.items())
    return (
        "# samples/\n\n"
        "Synthetic DICOM objects for the README demo and for tests. **All PHI in these files is fake**: "
        "it was invented by `tests/samplegen/`, belongs to no person, and is planted so that the "
        "de-identifier has visible work to do.\n\n"
        "Regenerate (deterministic, byte-identical for the same pydicom/NumPy/Pillow versions):\n\n"
        "```\npython scripts/make_samples.py            # writes samples/\n"
        "python scripts/make_samples.py --out DIR  # anywhere else\n```\n\n"
        "This file is generated too; edit `SAMPLE_DESCRIPTIONS` in `tests/samplegen/catalog.py`, not this file.\n\n"
        "## Files\n\n| file | what it exercises |\n| --- | --- |\n"
        f"{file_lines}\n\n"
        "## Planted fake PHI (in every file)\n\n"
        "Keys: a DICOM keyword, `Sequence/Keyword` (first item of that sequence), or a tag in the "
        f"`{PRIVATE_CREATOR}` private block at (0009,0010). UIDs are `2.25.` UUID-derived from fixed "
        "names.\n\n| key | fake value |\n| --- | --- |\n"
        f"{phi_lines}\n"
    )


def write_samples(out_dir: Path) -> list[Path]:
    """Write every sample of :func:`iter_samples` and ``README.md`` under ``out_dir``.

    Args:
        out_dir: Destination folder (created if missing).

    Returns:
        The written paths, README last.
    """
    out_dir = Path(out_dir)
    written = [write_dataset(ds, out_dir / name) for name, ds in iter_samples()]
    readme = out_dir / "README.md"
    readme.write_text(render_samples_readme(), encoding="utf-8", newline="\n")
    written.append(readme)
    return written
