"""Atomic output files: write to a hidden temporary name in the target directory, fsync, rename.

A crash, ``kill -9`` or Ctrl-C therefore never leaves a file at the final name
that is only half written; the worst case is a hidden ``.tmp-*`` file, which
:func:`remove_stale_temporaries` clears on the next run.

Inside :func:`deferred_commits` (a batch's group of objects), the fsync and the
rename move to a background thread and to the end of the group: the files are
the same and each is still fsynced before it gets its final name, but the
~2.8 ms a small file's fsync waits for the disk here overlaps the next object's
work instead of idling a core (``dcmexport deid``: 500 CT slices spent 1.4 s of
8.2 s waiting in fsync).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import secrets
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
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
    if output_exists(final) and not overwrite:
        raise EncodeError(f"{final.name}: already exists; use --overwrite to replace it")
    tmp = final.with_name(f"{TEMP_PREFIX}{secrets.token_hex(6)}-{final.name}")
    deferred = _DEFERRED.get()
    handed_over = False
    try:
        yield tmp
        if not tmp.exists():
            raise EncodeError(f"{final.name}: the encoder wrote no file")
        if deferred is not None:
            deferred.add(tmp, final)
            handed_over = True
            return
        _fsync_file(tmp)
        os.replace(tmp, final)
        if sync_dir:
            fsync_directory(final.parent)
    finally:
        if not handed_over:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()


def output_exists(final: Path) -> bool:
    """``final`` exists, or is waiting for its rename in the current :func:`deferred_commits` group."""
    deferred = _DEFERRED.get()
    return final.exists() or (deferred is not None and deferred.is_pending(final))


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


@dataclass
class _Pending:
    tmp: Path
    final: Path
    synced: Future[None]


@dataclass
class DeferredCommits:
    """Temporaries written in one group, fsynced in a background thread, renamed at :meth:`commit`.

    Callers group the files of one object with :meth:`mark` (before the object)
    and :meth:`commit` / :meth:`discard` (the whole object's files, or none).
    """

    _pool: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1, "dcmexport-fsync"))
    _pending: list[_Pending] = field(default_factory=list)

    def add(self, tmp: Path, final: Path) -> None:
        self._pending.append(_Pending(tmp, final, self._pool.submit(_fsync_file, tmp)))

    def is_pending(self, final: Path) -> bool:
        return any(p.final == final for p in self._pending)

    def mark(self) -> int:
        """A position to :meth:`discard` or :meth:`commit` from: the files added after it."""
        return len(self._pending)

    def discard(self, since: int = 0) -> None:
        """Delete the temporaries added since ``since``; none of them gets its final name."""
        for pending in self._pending[since:]:
            with contextlib.suppress(Exception):
                pending.synced.result()
            with contextlib.suppress(FileNotFoundError):
                pending.tmp.unlink()
        del self._pending[since:]

    def commit(self, since: int, until: int) -> OSError | None:
        """Rename the files added in ``since..until`` once all are fsynced; on any failure rename none.

        Returns:
            The first error (the caller fails that object), or None when all were renamed.
        """
        group = self._pending[since:until]
        error: OSError | None = None
        for pending in group:
            try:
                pending.synced.result()
            except OSError as exc:
                error = error or exc
        for pending in group:
            if error is None:
                try:
                    os.replace(pending.tmp, pending.final)
                    continue
                except OSError as exc:
                    error = exc
            with contextlib.suppress(FileNotFoundError):
                pending.tmp.unlink()
        return error

    def close(self) -> None:
        """Delete whatever was not committed and stop the thread."""
        for pending in self._pending:
            with contextlib.suppress(Exception):
                pending.synced.result()
            with contextlib.suppress(FileNotFoundError):
                if pending.tmp.exists():
                    pending.tmp.unlink()
        self._pending.clear()
        self._pool.shutdown(wait=True)


_DEFERRED: contextvars.ContextVar[DeferredCommits | None] = contextvars.ContextVar("dcmexport_deferred", default=None)


@contextlib.contextmanager
def deferred_commits() -> Iterator[DeferredCommits]:
    """Within this block, :func:`atomic_output` hands finished temporaries to the yielded group.

    The caller commits each object's files; anything left uncommitted (an
    exception, Ctrl-C) is deleted on exit, so no temporary or half-state survives.
    """
    group = DeferredCommits()
    token = _DEFERRED.set(group)
    try:
        yield group
    finally:
        _DEFERRED.reset(token)
        group.close()


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
