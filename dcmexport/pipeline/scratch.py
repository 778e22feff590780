"""Scratch tables of one run: SQLite files in the run's private temporary folder.

What a run must remember about every object (series membership before planning,
instances seen for the duplicate check) goes to disk instead of memory, so the
client's memory does not grow with the number of inputs. The tables are never
durable (no journal, no sync): they die with the run.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path


def open_scratch(workdir: Path, prefix: str) -> tuple[Path, sqlite3.Connection]:
    """A new SQLite file in ``workdir`` (mode 0600, from mkstemp) and its connection, tuned for scratch use."""
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=".sqlite", dir=workdir)
    os.close(fd)
    db = sqlite3.connect(name)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    return Path(name), db
