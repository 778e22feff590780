"""The seeds' recipe for a cine, kept as the baseline dcmexport is compared with.

``python bench/naive_recipe.py INPUT.dcm OUT.mp4 FPS``: load every frame at once
(``ds.pixel_array``, colour converted by pydicom), write one PNG per frame into a
temporary folder, then run the bundled ffmpeg with ``-preset slow -crf 18`` on the PNGs.
No de-identification, no windowing: this is the floor of what the recipe does.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pydicom
from PIL import Image


def main(argv: list[str]) -> int:
    src, out, fps = Path(argv[0]), Path(argv[1]), argv[2]
    ds = pydicom.dcmread(src)
    frames = ds.pixel_array  # the whole clip decoded into memory, RGB for YBR data
    if frames.dtype != np.uint8:
        frames = (frames / max(1, frames.max()) * 255).astype(np.uint8)
    with tempfile.TemporaryDirectory(prefix="naive-") as tmp:
        for i, frame in enumerate(frames):
            Image.fromarray(frame).save(Path(tmp) / f"frame_{i:05d}.png")
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
                "-framerate", fps, "-i", str(Path(tmp) / "frame_%05d.png"),
                "-c:v", "libx264", "-preset", "slow", "-crf", "18", "-pix_fmt", "yuv420p", str(out),
            ],
            check=True,
        )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
