"""Build the benchmark corpus in a cache folder (never in the repository).

Everything is synthetic (``tests/samplegen``) or copied out of the installed
test-data packages, so the corpus holds no real patient data and is rebuilt
identically on any machine:

* ``ct<N>/`` -- ``N`` CT slices 512x512 int16 of one series (default 500);
* ``clip1000.dcm`` -- an 8-bit MONOCHROME2 ultrasound cine, 1,000 frames 512x512,
  Explicit VR Little Endian; ``clip100.dcm`` -- the same header and its first 100 frames;
* ``clip1000.gray`` / ``us_multiframe.rgb`` -- the same frames as raw bytes, the input of
  the "ffmpeg alone" baselines;
* ``color3d.mjpeg`` -- the JPEG fragments of pydicom-data's ``color3d_jpeg_baseline.dcm``
  concatenated into an MJPEG stream (no decoding: the very same compressed bytes);
* ``tiny/`` -- one 64x64 CT slice and one 10-frame 64x64 ultrasound cine, for the start-up
  benchmark (:func:`build_tiny`, made on its own: the rest of the corpus is not needed for it).

Usage: ``python bench/corpus.py [--cache DIR] [--slices N]``; ``run.py`` calls :func:`build`.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: The checkout: the synthetic objects come from its test code (``tests.samplegen``, not installed).
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SITE = Path(np.__file__).resolve().parents[1]
COLOR3D = SITE / "data_store" / "data" / "color3d_jpeg_baseline.dcm"
US_MULTIFRAME = SITE / "deid_data" / "data" / "ultrasounds" / "ultrasound-multiframe.dcm"

CLIP_FRAMES = 1000
CUT_FRAMES = 100
CLIP_SIDE = 512
CT_SIDE = 512


def default_cache() -> Path:
    """``$DCMEXPORT_BENCH_CACHE``, else ``~/.cache/dcmexport-bench`` (the corpus goes into ``corpus/`` below it)."""
    env = os.environ.get("DCMEXPORT_BENCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "dcmexport-bench"


@dataclass(frozen=True)
class Corpus:
    """Paths of one built corpus."""

    root: Path
    ct_dir: Path
    slices: int
    clip1000: Path
    clip100: Path
    clip_raw: Path
    clip_fps: float
    us_multiframe: Path
    us_raw: Path
    us_shape: tuple[int, int, int]  # frames, rows, cols
    us_fps: float
    color3d: Path
    color3d_mjpeg: Path
    color3d_frames: int
    color3d_fps: float


def _write_ct(ct_dir: Path, slices: int) -> None:
    from tests.samplegen import make_ct, write_dataset

    ct_dir.mkdir(parents=True, exist_ok=True)
    have = {p.name for p in ct_dir.glob("*.dcm")}
    for i in range(slices):
        name = f"slice_{i:04d}.dcm"
        if name in have:
            continue
        ds = make_ct(rows=CT_SIDE, columns=CT_SIDE, seed=i, instance=i + 1, position_z=2.5 * i)
        write_dataset(ds, ct_dir / name)


def _write_clips(root: Path) -> None:
    from pydicom.uid import generate_uid

    from tests.samplegen import make_us_gray_cine, write_dataset

    clip1000, clip100, raw = root / "clip1000.dcm", root / "clip100.dcm", root / "clip1000.gray"
    if clip1000.exists() and clip100.exists() and raw.exists():
        return
    ds = make_us_gray_cine(rows=CLIP_SIDE, columns=CLIP_SIDE, frames=CLIP_FRAMES, seed=1)
    write_dataset(ds, clip1000)
    raw.write_bytes(ds.PixelData)
    frame_bytes = CLIP_SIDE * CLIP_SIDE
    ds.PixelData = ds.PixelData[: CUT_FRAMES * frame_bytes]
    ds.NumberOfFrames = CUT_FRAMES
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    write_dataset(ds, clip100)


def _write_us_raw(raw: Path) -> tuple[int, int, int]:
    import pydicom

    ds = pydicom.dcmread(US_MULTIFRAME)
    arr = ds.pixel_array  # (frames, rows, cols, 3) RGB, interleaved whatever the Planar Configuration
    if not raw.exists():
        raw.write_bytes(np.ascontiguousarray(arr, dtype=np.uint8).tobytes())
    return int(arr.shape[0]), int(arr.shape[1]), int(arr.shape[2])


def _write_mjpeg(mjpeg: Path) -> int:
    import pydicom
    from pydicom.encaps import generate_frames

    ds = pydicom.dcmread(COLOR3D)
    frames = int(ds.NumberOfFrames)
    if not mjpeg.exists():
        with open(mjpeg, "wb") as out:
            for fragment in generate_frames(ds.PixelData, number_of_frames=frames):
                out.write(fragment)
    return frames


def _fps(path: Path) -> float:
    import pydicom

    from dcmexport.render.timing import frame_rate_from_dataset

    return frame_rate_from_dataset(pydicom.dcmread(path, stop_before_pixels=True), None).fps


def build(cache: Path | None = None, slices: int = 500) -> Corpus:
    """Create (or reuse) the corpus under ``cache``; return its paths. Idempotent."""
    root = (cache or default_cache()).resolve() / "corpus"
    root.mkdir(parents=True, exist_ok=True)
    ct_dir = root / f"ct{slices}"
    _write_ct(ct_dir, slices)
    _write_clips(root)
    us_shape = _write_us_raw(root / "us_multiframe.rgb")
    color_frames = _write_mjpeg(root / "color3d.mjpeg")
    return Corpus(
        root=root,
        ct_dir=ct_dir,
        slices=slices,
        clip1000=root / "clip1000.dcm",
        clip100=root / "clip100.dcm",
        clip_raw=root / "clip1000.gray",
        clip_fps=_fps(root / "clip1000.dcm"),
        us_multiframe=US_MULTIFRAME,
        us_raw=root / "us_multiframe.rgb",
        us_shape=us_shape,
        us_fps=_fps(US_MULTIFRAME),
        color3d=COLOR3D,
        color3d_mjpeg=root / "color3d.mjpeg",
        color3d_frames=color_frames,
        color3d_fps=_fps(COLOR3D),
    )


@dataclass(frozen=True)
class Tiny:
    """The start-up benchmark's inputs: as small as an object gets, so nearly all time is fixed cost."""

    ct: Path  # 64x64 int16 CT slice, two VOI windows
    cine: Path  # 10-frame 64x64 8-bit ultrasound cine (Cine Rate 15)
    cine_frames: int


def build_tiny(cache: Path | None = None) -> Tiny:
    """Create (or reuse) ``corpus/tiny/`` under ``cache``; return its paths. Idempotent."""
    from tests.samplegen import make_ct, make_us_gray_cine, write_dataset

    folder = (cache or default_cache()).resolve() / "corpus" / "tiny"
    tiny = Tiny(ct=folder / "ct64.dcm", cine=folder / "us64x10.dcm", cine_frames=10)
    if not tiny.ct.exists():
        write_dataset(make_ct(rows=64, columns=64), tiny.ct)
    if not tiny.cine.exists():
        write_dataset(make_us_gray_cine(rows=64, columns=64, frames=tiny.cine_frames), tiny.cine)
    return tiny


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cache", type=Path, default=None, help="corpus folder (default: %(default)s -> ~/.cache)"
    )
    parser.add_argument("--slices", type=int, default=500)
    args = parser.parse_args(argv)
    corpus = build(args.cache, args.slices)
    print(
        f"corpus ready in {corpus.root} ({corpus.slices} CT slices, clips of {CLIP_FRAMES}/{CUT_FRAMES} frames)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
