"""H.264 profile and level for the MP4 writer: what players check before they try to decode.

A player (a browser, PowerPoint, a phone) reads the profile and level in the
stream's SPS and refuses, or falls back to software, when they exceed what
its decoder supports. So the writer states them instead of leaving them to
x264's guess: High profile (8-bit 4:2:0; CRF 0, lossless, needs High 4:4:4
Predictive and is left to x264), and the lowest level of ITU-T H.264 Table A-1
whose frame size (MaxFS, and each side at most sqrt(8 * MaxFS) macroblocks)
and macroblock rate (MaxMBPS at the fastest frame interval) fit the clip, but
at least 3.0: every H.264 player decodes 3.0, and lower levels cap the
bitrate below what CRF 18 needs for small noisy clips. The level's bitrate and
buffer (High profile: 1.25 x MaxBR and MaxCPB) become x264's VBV limits, so
the stream keeps to the level it declares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One row of ITU-T H.264 Table A-1 (1b left out)."""

    name: str
    max_mbps: int  # macroblocks per second
    max_fs: int  # macroblocks per frame
    max_br: int  # kbit/s, Baseline/Main (High: 1.25x)
    max_cpb: int  # kbit, Baseline/Main (High: 1.25x)


LEVELS: tuple[Level, ...] = (
    Level("1", 1485, 99, 64, 175), Level("1.1", 3000, 396, 192, 500), Level("1.2", 6000, 396, 384, 1000),
    Level("1.3", 11880, 396, 768, 2000), Level("2", 11880, 396, 2000, 2000), Level("2.1", 19800, 792, 4000, 4000),
    Level("2.2", 20250, 1620, 4000, 4000), Level("3", 40500, 1620, 10000, 10000),
    Level("3.1", 108000, 3600, 14000, 14000), Level("3.2", 216000, 5120, 20000, 20000),
    Level("4", 245760, 8192, 20000, 25000), Level("4.1", 245760, 8192, 50000, 62500),
    Level("4.2", 522240, 8704, 50000, 62500), Level("5", 589824, 22080, 135000, 135000),
    Level("5.1", 983040, 36864, 240000, 240000), Level("5.2", 2073600, 36864, 240000, 240000),
    Level("6", 4177920, 139264, 240000, 240000), Level("6.1", 8355840, 139264, 480000, 480000),
    Level("6.2", 16711680, 139264, 800000, 800000),
)  # fmt: skip
_MIN_LEVEL = "3"
_HIGH_FACTOR = 1.25  # cpbBrVclFactor 1250 / 1000 for High profile (Table A-2)


def choose_level(width: int, height: int, max_fps: float) -> Level:
    """The lowest level (at least 3.0) whose frame size and macroblock rate fit the clip.

    :param width: coded columns (even).
    :param height: coded rows (even).
    :param max_fps: the fastest instantaneous frame rate of the clip.
    :returns: the level; the largest (6.2) when nothing fits, as x264 would.
    """
    mb_w, mb_h = math.ceil(width / 16), math.ceil(height / 16)
    frame_mbs = mb_w * mb_h
    floor = next(i for i, level in enumerate(LEVELS) if level.name == _MIN_LEVEL)
    for level in LEVELS[floor:]:
        side = math.sqrt(8 * level.max_fs)
        if frame_mbs <= level.max_fs and mb_w <= side and mb_h <= side and frame_mbs * max_fps <= level.max_mbps:
            return level
    return LEVELS[-1]


def x264_level_args(width: int, height: int, max_fps: float, crf: int | None) -> list[str]:
    """ffmpeg arguments stating profile and level and keeping x264 within the level's bitrate.

    :param width: coded columns (even).
    :param height: coded rows (even).
    :param max_fps: the fastest instantaneous frame rate.
    :param crf: the CRF in use; 0 is lossless, which High profile cannot carry (no profile is forced).
    """
    level = choose_level(width, height, max_fps)
    args = ["-level:v", level.name,
            "-maxrate", f"{round(level.max_br * _HIGH_FACTOR)}k", "-bufsize", f"{round(level.max_cpb * _HIGH_FACTOR)}k"]
    return args if crf == 0 else ["-profile:v", "high", *args]
