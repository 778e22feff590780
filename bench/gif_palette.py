"""GIF palette quality: one palette for the whole clip vs one per frame, with and without dithering.

For each clip, the frames dcmexport renders are taken from a lossless APNG export (decoded back exactly),
then written as GIF by the bundled ffmpeg with each palette strategy, decoded again, and compared:
PSNR (dB, over all RGB samples of all frames, against the rendered frames), file size, encode time.
Grey clips are not in the table: dcmexport writes them as 8-bit grey GIFs, which are exact.

Usage: python bench/gif_palette.py [--frames 30]   (prints a Markdown table; ~2 minutes on 2 cores)
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # tests.samplegen makes the synthetic clip

#: name -> (palette filter graph for one pass, or None for the two-pass global palette, paletteuse dither)
STRATEGIES: dict[str, tuple[str, str]] = {
    "per-frame, Bayer 5 (before this change)": ("single", "bayer:bayer_scale=5"),
    "per-frame, no dither": ("single", "none"),
    "per-frame, Sierra-2-4A": ("single", "sierra2_4a"),
    "global, Bayer 5": ("full", "bayer:bayer_scale=5"),
    "global, no dither": ("full", "none"),
    "global, Sierra-2-4A": ("full", "sierra2_4a"),
}


def clips(work: Path) -> dict[str, Path]:
    """Real RGB clips from the test-data packages, and a synthetic one."""
    import data_store
    import deid_data

    from tests.samplegen import make_us_rgb_cine, write_dataset

    store = Path(data_store.__file__).parent / "data"
    deid = Path(deid_data.__file__).parent / "data"
    with zipfile.ZipFile(deid / "ultrasounds" / "RGB_CINE.zip") as zf:
        zf.extractall(work / "rgb_cine")
    return {
        "color3d_jpeg_baseline (pydicom-data, US 640x480)": store / "color3d_jpeg_baseline.dcm",
        "ultrasound-multiframe (deid-data, US 800x600)": deid / "ultrasounds" / "ultrasound-multiframe.dcm",
        "RGB_CINE (deid-data, US 1016x672)": work / "rgb_cine" / "RGB_CINE.dcm",
        "synthetic US cine (tests.samplegen, 160x120)": write_dataset(
            make_us_rgb_cine(rows=120, columns=160, frames=24), work / "synthetic.dcm"),
    }


def rendered_frames(src: Path, work: Path, frames: int) -> list[np.ndarray]:
    """The frames dcmexport renders (masks included), through a lossless APNG export read back exactly."""
    from dcmexport import api
    from dcmexport.deid import Key
    from dcmexport.encode.probe import read_video_frames

    out = work / "apng" / src.stem
    (result,) = api.export([src], out, format="apng", frame_range=f"0:{frames}", key=Key(b"g" * 32),
                           accept_burned_in=True, overwrite=True).results
    assert result.status == "written", result.reason
    return list(read_video_frames(result.outputs[0]))


def write_gif(frames: list[np.ndarray], path: Path, stats: str, dither: str) -> float:
    """Encode RGB frames to GIF with a palette per frame (``single``) or for the clip (``full``); seconds."""
    h, w, _ = frames[0].shape
    raw = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", "25", "-i", "pipe:0"]
    data = b"".join(f.tobytes() for f in frames)
    started = time.perf_counter()
    if stats == "single":
        graph = (f"split[a][b];[a]palettegen=stats_mode=single:max_colors=256:reserve_transparent=0[p];"
                 f"[b][p]paletteuse=new=1:dither={dither}")
        subprocess.run([FFMPEG, "-v", "error", "-y", *raw, "-filter_complex", graph, str(path)],
                       input=data, check=True)
    else:
        palette = path.with_suffix(".palette.png")
        subprocess.run([FFMPEG, "-v", "error", "-y", *raw, "-vf",
                        "palettegen=stats_mode=full:max_colors=256:reserve_transparent=0", str(palette)],
                       input=data, check=True)
        subprocess.run([FFMPEG, "-v", "error", "-y", *raw, "-i", str(palette), "-filter_complex",
                        f"[0:v][1:v]paletteuse=dither={dither}", str(path)], input=data, check=True)
    return time.perf_counter() - started


def psnr(reference: list[np.ndarray], path: Path) -> float:
    from dcmexport.encode.probe import read_video_frames

    decoded = list(read_video_frames(path))
    assert len(decoded) == len(reference), (len(decoded), len(reference))
    err = sum(float(np.sum((a.astype(np.float64) - b) ** 2)) for a, b in zip(reference, decoded, strict=True))
    mse = err / sum(a.size for a in reference)
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=30, help="first N frames of each clip (default 30)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = []
        for name, src in clips(work).items():
            reference = rendered_frames(src, work, args.frames)
            cells = []
            for label, (stats, dither) in STRATEGIES.items():
                path = work / "gif" / f"{src.stem}-{stats}-{dither.split(':')[0]}.gif"
                path.parent.mkdir(parents=True, exist_ok=True)
                seconds = write_gif(reference, path, stats, dither)
                cells.append((label, psnr(reference, path), path.stat().st_size / 1024, seconds))
            rows.append((name, len(reference), cells))
            print(f"# {name}: done", file=sys.stderr, flush=True)
    print("| clip | frames | strategy | PSNR dB | size KiB | encode s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, count, cells in rows:
        for label, db, size, seconds in cells:
            print(f"| {name} | {count} | {label} | {db:.2f} | {size:.0f} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
