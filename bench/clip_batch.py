"""The clip batch of the benchmark (issue #16 item 5): a folder of real and synthetic clips and their ffmpeg floors.

``build_batch`` fills ``corpus/clips/`` in the cache folder (idempotent) with

* the real multi-frame objects of the test-data packages: pydicom-data's ``color3d_jpeg_baseline``
  (120 YBR JPEG frames 640x480), ``emri_small`` (10 frames 64x64 MR, 16-bit) and ``OBXXXX1A_2frame``
  (2 palette-colour frames 800x600); deid-data's ``ultrasound-multiframe`` (30 RGB frames 800x600),
  ``GREYSCALE_CINE`` (27 grey frames 800x600) and ``RGB_CINE`` (51 RGB frames 1016x672);
* five synthetic ultrasound cines (``tests.samplegen``), grey and RGB, 48-120 frames;

and, for each, the input of its "ffmpeg alone" floor: the MJPEG stream of the same JPEG fragments for the
JPEG clip, otherwise the frames dcmexport renders as raw bytes (``gray`` or ``rgb24``), taken from a
lossless APNG export of the clip read back exactly. The floor encodes them with the same x264 settings as
dcmexport (CRF 18, High profile, the same level and VBV limits, yuv420p).
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SITE = Path(np.__file__).resolve().parents[1]
STORE = SITE / "data_store" / "data"
DEID = SITE / "deid_data" / "data" / "ultrasounds"


@dataclass(frozen=True)
class BatchClip:
    """One clip of the batch and its floor's input."""

    dicom: Path
    floor_input: list[str]  # ffmpeg input arguments reading the floor's frames
    frames: int
    fps: float
    width: int  # coded size of the MP4 (even)
    height: int


def _real_sources(root: Path) -> list[Path]:
    with zipfile.ZipFile(DEID / "RGB_CINE.zip") as zf, zipfile.ZipFile(DEID / "GREYSCALE_CINE.zip") as zg:
        for archive in (zf, zg):
            name = next(n for n in archive.namelist() if n.endswith(".dcm"))
            if not (root / Path(name).name).exists():
                archive.extract(name, root / "unzipped")
                shutil.move(str(root / "unzipped" / name), root / Path(name).name)
    for src in (STORE / "color3d_jpeg_baseline.dcm", STORE / "emri_small.dcm", STORE / "OBXXXX1A_2frame.dcm",
                DEID / "ultrasound-multiframe.dcm"):
        if not (root / src.name).exists():
            shutil.copy(src, root / src.name)
    return sorted(root.glob("*.dcm"))


def _synthetic_sources(root: Path) -> None:
    from tests.samplegen import make_us_gray_cine, make_us_rgb_cine, write_dataset

    specs = [("syn_gray_480x640x120.dcm", "gray", 480, 640, 120), ("syn_gray_600x800x60.dcm", "gray", 600, 800, 60),
             ("syn_gray_256x256x96.dcm", "gray", 256, 256, 96), ("syn_rgb_360x480x48.dcm", "rgb", 360, 480, 48),
             ("syn_rgb_480x640x60.dcm", "rgb", 480, 640, 60)]
    for seed, (name, kind, rows, cols, frames) in enumerate(specs):
        if (root / name).exists():
            continue
        if kind == "gray":
            ds = make_us_gray_cine(rows=rows, columns=cols, frames=frames, cine_rate=30, seed=seed)
        else:
            ds = make_us_rgb_cine(rows=rows, columns=cols, frames=frames, frame_time_ms=40, seed=seed, banner_text="")
        write_dataset(ds, root / name)


def build_batch(cache: Path) -> tuple[Path, list[BatchClip]]:
    """Create (or reuse) ``cache/corpus/clips`` and the floors' inputs; return the folder and its clips."""
    import pydicom
    from pydicom.encaps import generate_frames

    from dcmexport import api
    from dcmexport.deid import Key
    from dcmexport.encode.probe import read_video_frames
    from dcmexport.render.timing import frame_rate_from_dataset

    folder = cache.resolve() / "corpus" / "clips"
    floors = cache.resolve() / "corpus" / "clip-floors"
    folder.mkdir(parents=True, exist_ok=True)
    floors.mkdir(parents=True, exist_ok=True)
    _real_sources(folder)
    _synthetic_sources(folder)
    shutil.rmtree(folder / "unzipped", ignore_errors=True)
    index_path = floors / "index.json"
    index = json.loads(index_path.read_text()) if index_path.exists() else {}
    clips: list[BatchClip] = []
    for dicom in sorted(folder.glob("*.dcm")):
        if dicom.name not in index:
            ds = pydicom.dcmread(dicom)
            frames = int(ds.NumberOfFrames)
            fps = frame_rate_from_dataset(ds).fps
            if "JPEG" in ds.file_meta.TransferSyntaxUID.name:
                stream = floors / f"{dicom.stem}.mjpeg"
                with open(stream, "wb") as out:
                    for fragment in generate_frames(ds.PixelData, number_of_frames=frames):
                        out.write(fragment)
                shape = (int(ds.Rows), int(ds.Columns))
                entry = {"kind": "mjpeg", "file": stream.name, "shape": shape}
            else:
                out_dir = floors / "apng" / dicom.stem
                (result,) = api.export([dicom], out_dir, format="apng", key=Key(b"b" * 32), accept_burned_in=True,
                                       overwrite=True).results
                assert result.status == "written", result.reason
                rendered = list(read_video_frames(result.outputs[0]))
                grey = str(ds.PhotometricInterpretation).startswith("MONOCHROME")
                raw = floors / f"{dicom.stem}.{'gray' if grey else 'rgb'}"
                with open(raw, "wb") as out:
                    for frame in rendered:
                        out.write(np.ascontiguousarray(frame[..., 0] if grey else frame).tobytes())
                shutil.rmtree(out_dir)
                entry = {"kind": "gray" if grey else "rgb24", "file": raw.name, "shape": rendered[0].shape[:2]}
            entry.update(frames=frames, fps=fps)
            index[dicom.name] = entry
            index_path.write_text(json.dumps(index, indent=1))
        entry = index[dicom.name]
        rows, cols = entry["shape"]
        fps_text = _fraction(entry["fps"])
        path = str(floors / entry["file"])
        if entry["kind"] == "mjpeg":
            ff_input = ["-f", "mjpeg", "-framerate", fps_text, "-i", path]
        else:
            ff_input = ["-f", "rawvideo", "-pix_fmt", entry["kind"], "-s", f"{cols}x{rows}", "-framerate", fps_text,
                        "-i", path]
        clips.append(BatchClip(dicom, ff_input, entry["frames"], entry["fps"], cols + cols % 2, rows + rows % 2))
    return folder, clips


def _fraction(fps: float) -> str:
    from fractions import Fraction

    return str(Fraction(fps).limit_denominator(100_000))
