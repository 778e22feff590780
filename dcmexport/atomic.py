"""Atomic output files: write to a hidden temporary name in the target directory, fsync, rename.

A crash, ``kill -9`` or Ctrl-C therefore never leaves a file at the final name
that is only half written; the worst case is a hidden ``.tmp-*`` file, which
:func:`remove_stale_temporaries` clears on the next run.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from dcmexport.errors import EncodeError

TEMP_PREFIX = ".tmp-dcmexport-"


def fsync_directory(directory: Path) -> None:
    """Make renames in ``directory`` durable (best effort: not every filesystem allows it)."""
    with contextlib.suppress(OSError):  # not every filesystem lets a directory be fsynced
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_output(final: Path, *, overwrite: bool = False, sync_dir: bool = True) -> Iterator[Path]:
    """Yield a temporary path next to ``final``; on success fsync it and rename it to ``final``.

    The temporary name keeps ``final``'s suffix (encoders that look at it still
    work). On any exception, including KeyboardInterrupt, the temporary file is
    removed and nothing appears at ``final``.

    Args:
        final: the path the complete file should have.
        overwrite: replace an existing regular file at ``final``.
        sync_dir: fsync the directory after the rename; a batch passes False and syncs
            the directory once at its end (the file itself is always fsynced first).

    Raises:
        EncodeError: ``final`` exists (and not ``overwrite``) or is a symlink.
    """
    if final.is_symlink():
        raise EncodeError(f"{final.name}: output path is a symlink; refusing to follow it")
    if final.exists() and not overwrite:
        raise EncodeError(f"{final.name}: already exists; use --overwrite to replace it")
    tmp = final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{final.name}")
    try:
        yield tmp
        if not tmp.exists():
            raise EncodeError(f"{final.name}: the encoder wrote no file")
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        if sync_dir:
            fsync_directory(final.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def remove_stale_temporaries(directory: Path) -> int:
    """Delete temporaries left by an interrupted earlier run in ``directory``; return how many."""
    count = 0
    if directory.is_dir():
        for leftover in directory.glob(TEMP_PREFIX + "*"):
            with contextlib.suppress(OSError):
                if leftover.is_file() and not leftover.is_symlink():
                    leftover.unlink()
                    count += 1
    return count
