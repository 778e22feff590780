"""ffmpeg's messages, shared by the writers (:mod:`.video`) and the reader (:mod:`.probe`)."""

from __future__ import annotations

import re
from collections.abc import Iterable

_NOISE = re.compile(
    r"Task finished with error code|Terminating thread with return code|Conversion failed|"
    r"Nothing was written into output file|Error while opening encoder|Could not open encoder before EOF|"
    r"Error sending frames to consumers|Error while filtering|Error submitting|Error closing|"
    r"Could not write header|Error writing trailer|^\s*$"
)
_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")


def last_meaningful_line(lines: Iterable[str]) -> str:
    """The last ffmpeg stderr line that names a cause, without ``[component @ 0x..]`` prefixes.

    ffmpeg ends a failure with generic lines ("Conversion failed!", "Task
    finished with error code ..."); the cause is the last line before those.
    """
    kept = [_PREFIX.sub("", line).strip() for line in lines]
    kept = [line for line in kept if line and not _NOISE.search(line)]
    if kept:
        return kept[-1][:300]
    return ""
