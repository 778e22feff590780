"""Where objects come from: files, folders (walked recursively), DICOMDIR indexes and zip archives.

A source is a generator of :class:`InputItem`; the pipeline opens each item
through the reader. Nothing here reads pixel data.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import struct
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pydicom

from dcmexport.errors import InputError
from dcmexport.scratch import open_scratch

_COPY_CHUNK = 1 << 20
#: Media Storage Directory Storage (PS3.4 Annex F): the SOP Class of a DICOMDIR, in its file meta.
MEDIA_STORAGE_DIRECTORY = b"1.2.840.10008.1.3.10"
#: Enough for the preamble, DICM and the file meta up to (0002,0002) (PS3.10 7.1: group length,
#: version, then the class): what :func:`is_dicomdir` reads of a file.
_META_PROBE = 1024
#: Explicit VRs with a 4-byte length after two reserved bytes (PS3.5 7.1.2).
_LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})


def is_dicomdir(path: Path) -> bool:
    """True when ``path`` is a DICOMDIR, whatever its name: its file meta names Media Storage Directory Storage.

    Reads at most the first kilobyte (preamble, ``DICM``, the start of the file meta) of a
    regular file (opened non-blocking: a FIFO is never waited on); anything unreadable or
    not Part 10 is not a DICOMDIR (PS3.10 7.1, 8.6).
    """
    try:
        # Non-blocking, and only a regular file is read: a FIFO in a folder must not hang the walk.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, _META_PROBE)
    except OSError:
        return False
    finally:
        os.close(fd)
    if head[128:132] != b"DICM":
        return False
    pos = 132
    while pos + 8 <= len(head):
        group, element = struct.unpack_from("<HH", head, pos)
        if group != 0x0002:
            return False
        vr = head[pos + 4:pos + 6]
        if vr in _LONG_VRS:
            if pos + 12 > len(head):
                return False
            length, value = struct.unpack_from("<I", head, pos + 8)[0], pos + 12
        else:
            length, value = struct.unpack_from("<H", head, pos + 6)[0], pos + 8
        if element == 0x0002:  # Media Storage SOP Class UID
            return head[value:value + length].rstrip(b"\0 ") == MEDIA_STORAGE_DIRECTORY
        pos = value + length
    return False


class SeenFiles:
    """The files already yielded in one discovery, by identity (device and inode of the real file).

    The same file named twice (``a.dcm a.dcm``, a file and its folder, a symlink and
    its target, a DICOMDIR and the folder it indexes) is one input. A file that cannot
    be stat'ed is never a duplicate (it then fails on its own).

    Memory: a set in memory holds the first :data:`IN_MEMORY` identities (176 B each);
    with a ``workdir`` (a run's private temporary folder), the rest go to an SQLite
    scratch table there, so a tree of millions of files does not grow the client
    (bench/scale.py: the set alone was +35 MB at 200,000 files, +45 % of the client).
    """

    #: Identities kept in memory before a discovery with a workdir moves them to disk.
    IN_MEMORY = 20_000

    def __init__(self, workdir: Path | None = None) -> None:
        self._identities: set[tuple[int, int]] = set()
        self._workdir = workdir
        self._db: sqlite3.Connection | None = None
        self._db_path: Path | None = None

    def first(self, path: Path) -> bool:
        """True the first time the real file behind ``path`` is seen."""
        try:
            st = path.stat()
        except OSError:
            return True
        identity = (st.st_dev, st.st_ino)
        if self._db is not None:
            # An INSERT that changes no row: seen before (one statement, no read-then-write race).
            return self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", identity).rowcount == 1
        if identity in self._identities:
            return False
        self._identities.add(identity)
        if self._workdir is not None and len(self._identities) >= self.IN_MEMORY:
            self._spill(self._workdir)
        return True

    def _spill(self, workdir: Path) -> None:
        self._db_path, self._db = open_scratch(workdir, "seen-")
        self._db.execute("CREATE TABLE seen (dev INTEGER, ino INTEGER, PRIMARY KEY (dev, ino)) WITHOUT ROWID")
        self._db.executemany("INSERT INTO seen VALUES (?, ?)", self._identities)
        self._identities = set()

    def close(self) -> None:
        """Remove the scratch table, if any (the discovery has ended)."""
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._db_path is not None:
            self._db_path.unlink(missing_ok=True)

    def __enter__(self) -> SeenFiles:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def iter_input_files(inputs: Iterable[Path], seen: SeenFiles | None = None) -> Iterator[Path]:
    """Yield the files named by ``inputs``: files as given, directories walked recursively.

    Directories are walked in sorted order without following symlinked
    directories (so a symlink loop cannot recurse forever); hidden files
    (``.name``) and DICOMDIR indexes (by name, or by content under any other
    name: :func:`is_dicomdir`) are skipped here. Each real file is yielded once,
    however often it is named (see :class:`SeenFiles`).

    Args:
        inputs: files and folders, as the user named them.
        seen: the discovery's record of files already yielded (a new one when None).

    Raises:
        InputError: an input path does not exist.
    """
    seen = seen if seen is not None else SeenFiles()
    for top in inputs:
        if top.is_dir():
            for root, dirs, files in os.walk(top, followlinks=False):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.startswith(".") or name.upper() == "DICOMDIR":
                        continue
                    path = Path(root) / name
                    if is_dicomdir(path):  # an index under another name: the walk finds its files
                        continue
                    if seen.first(path):
                        yield path
        elif top.exists():  # a file, a DICOMDIR, or something the reader refuses (a FIFO ...)
            if seen.first(top):
                yield top
        else:
            raise InputError(f"{top}: no such file or directory")


#: Refuse archives that would expand beyond this (zip bombs); members are never extracted by their own names.
MAX_ARCHIVE_BYTES = 32 << 30


@dataclass(frozen=True)
class InputItem:
    """One object to process: where its bytes are, and how to name it to the user.

    ``label`` is what the user would recognise: the path as found, or
    ``archive.zip/member`` for a zip member extracted to a private temporary folder.
    """

    path: Path
    label: Path


def iter_dicomdir(path: Path) -> Iterator[Path]:
    """Yield the files a DICOMDIR references (PS3.10 8.6, read with :class:`pydicom.fileset.FileSet`).

    Raises:
        InputError: the DICOMDIR cannot be read.
    """
    from pydicom.fileset import FileSet

    try:
        fileset = FileSet(pydicom.dcmread(path))
        referenced = sorted({Path(instance.path) for instance in fileset})
    except Exception as exc:  # pydicom raises several types for a damaged DICOMDIR
        raise InputError(f"{path}: DICOMDIR cannot be read ({type(exc).__name__})") from None
    yield from referenced


def extract_archive(archive: Path, workdir: Path) -> Iterator[InputItem]:
    """Extract a zip archive's files into ``workdir`` under neutral names; yield them with their labels.

    Member names are never used as paths (no traversal, no absolute paths, no
    symlinks); the total declared size is checked before anything is written.

    Raises:
        InputError: not a readable zip, encrypted, or larger than :data:`MAX_ARCHIVE_BYTES`.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_ARCHIVE_BYTES:
                raise InputError(f"{archive}: archive expands beyond {MAX_ARCHIVE_BYTES >> 30} GiB; refused")
            target = Path(tempfile.mkdtemp(prefix="zip-", dir=workdir))
            for number, member in enumerate(members):
                if member.flag_bits & 0x1:
                    raise InputError(f"{archive}: encrypted archive members are not supported")
                name = PurePosixPath(member.filename).name
                if name.startswith(".") or name.upper() == "DICOMDIR":
                    continue
                dest = target / f"{number:06d}.dcm"
                with zf.open(member) as src, open(dest, "wb") as out:
                    shutil.copyfileobj(src, out, _COPY_CHUNK)
                if is_dicomdir(dest):  # an index under another name: its files are members too
                    dest.unlink()
                    continue
                yield InputItem(dest, archive / member.filename)
    except zipfile.BadZipFile:
        raise InputError(f"{archive}: not a readable zip archive") from None


def iter_inputs(inputs: Iterable[Path], workdir: Path) -> Iterator[InputItem]:
    """Expand files, folders, DICOMDIRs and zip archives into objects to process.

    A DICOMDIR named directly (recognised by its name or, under any other
    name, by its Media Storage SOP Class) yields every file it references;
    inside a folder walk, the DICOMDIR index itself is skipped (the walk finds
    the files). Zip archives (named or found in a folder) are extracted into
    ``workdir``, which the caller removes. Each real file is one input, however
    often it is named (a DICOMDIR's files found again in a folder walk included).
    """
    inputs = list(inputs)
    with SeenFiles(workdir) as seen:
        yield from _iter_inputs(inputs, workdir, seen)


def _iter_inputs(inputs: list[Path], workdir: Path, seen: SeenFiles) -> Iterator[InputItem]:
    named = {p for p in inputs if not p.is_dir()}
    for path in iter_input_files(inputs, seen):
        # Only named directly: folder walks skip the index. Only a named file's meta is read here.
        if path.name.upper() == "DICOMDIR" or (path in named and is_dicomdir(path)):
            for ref in iter_dicomdir(path):
                if seen.first(ref):
                    yield InputItem(ref, ref)
        elif path.suffix.lower() == ".zip" and zipfile.is_zipfile(path):
            yield from extract_archive(path, workdir)
        else:
            yield InputItem(path, path)
