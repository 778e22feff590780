"""Run the dcmexport CLI in this process and record this process's own peak RSS.

``python bench/selfrss.py RSS_FILE -- export ...``: GNU time reports the largest
process of the tree, which for a clip may be ffmpeg; this wrapper writes the
Python process's own ``ru_maxrss`` (KiB) to ``RSS_FILE`` when the CLI exits, so
the memory benchmark can show that the *Python side* streams.
"""

from __future__ import annotations

import atexit
import resource
import sys
from pathlib import Path


def main() -> None:
    rss_file = Path(sys.argv[1])
    if sys.argv[2] != "--":
        raise SystemExit("usage: selfrss.py RSS_FILE -- dcmexport-arguments...")

    def record() -> None:
        rss_file.write_text(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}\n")

    atexit.register(record)
    sys.argv = ["dcmexport", *sys.argv[3:]]
    from dcmexport.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
