"""Shards: one run split into N independent parts (a Slurm job array, a Kubernetes indexed job).

The partition is a pure function of what the inputs *are*, so every shard, on any
machine, computes the same one without talking to the others:

- a single object belongs to shard ``hash(identity) mod N``, where its identity is
  its path from the folder holding the input argument it was found under, e.g.
  ``study7/ct/0001.dcm`` for the argument ``/mnt/pacs/study7``: the same on every node
  that mounts the tree, wherever the mount point is (:class:`InputRoots`). Content
  hashes would be as stable but would make every shard read every file in full;
- a ``--series`` group belongs to ``hash(Series Instance UID) mod N``: a series is
  never split (every shard reads all headers to group, then keeps its own series).

``hash`` is SHA-256 (not Python's ``hash``, which is salted per process). Each shard
writes its own manifest part ``manifest.shard-I-of-N.jsonl`` (and linkage part);
``dcmexport merge`` combines them (:mod:`dcmexport.audit.merge`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from dcmexport.audit.manifest import part_name
from dcmexport.errors import UsageError


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based)."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise UsageError(f"--shard {self.index}/{self.count}: I must be in 0..N-1 (0-based) and N at least 1")

    def owns(self, identity: str) -> bool:
        """This shard processes the object or series identified by ``identity``."""
        digest = hashlib.sha256(identity.encode("utf-8", "surrogateescape")).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    @property
    def tag(self) -> str:
        """The tag of this shard's temporary files (:func:`dcmexport.atomic.temporary_tag`)."""
        return f"s{self.index}of{self.count}"

    @property
    def manifest_name(self) -> str:
        """This shard's manifest part in ``--out``."""
        return part_name(self.index, self.count)

    def linkage_path(self, linkage: Path) -> Path:
        """This shard's part of the ``--linkage`` table: ``links.csv`` -> ``links.shard-0-of-4.csv``."""
        return linkage.with_name(f"{linkage.stem}.shard-{self.index}-of-{self.count}{linkage.suffix}")

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str, environ: Mapping[str, str] | None = None) -> Shard:
    """Coerce ``--shard`` into a :class:`Shard`.

    ``I/N`` (0-based); ``auto``: ``SLURM_ARRAY_TASK_ID`` minus ``SLURM_ARRAY_TASK_MIN``
    of ``SLURM_ARRAY_TASK_COUNT`` (a contiguous array such as ``--array=0-7`` or
    ``1-8``); ``auto/N``: ``JOB_COMPLETION_INDEX`` (Kubernetes indexed job), else the
    Slurm variables, of ``N`` given here. The environment is read only for ``auto``.

    Raises:
        UsageError: malformed, out of range, or ``auto`` without the variables it needs.
    """
    env = os.environ if environ is None else environ
    text = text.strip()
    if text == "auto" or text.startswith("auto/"):
        count = _number(text[5:], "N", text) if text != "auto" else None
        return _shard_from_env(env, count)
    index_text, slash, count_text = text.partition("/")
    if not slash:
        raise UsageError(f"--shard {text!r}: expected I/N (0-based, e.g. 0/4), auto or auto/N")
    return Shard(_number(index_text, "I", text), _number(count_text, "N", text))


def _number(text: str, name: str, whole: str) -> int:
    if not text.strip().isdigit():
        raise UsageError(f"--shard {whole!r}: {name} must be a whole number (I/N, 0-based, e.g. 0/4)")
    return int(text)


def _shard_from_env(env: Mapping[str, str], count: int | None) -> Shard:
    def read(name: str) -> int | None:
        value = env.get(name)
        if value is None or value == "":
            return None
        if not value.strip().isdigit():
            raise UsageError(f"--shard auto: ${name} is not a whole number")
        return int(value)

    if count is not None and (k8s := read("JOB_COMPLETION_INDEX")) is not None:
        return Shard(k8s, count)
    task_id = read("SLURM_ARRAY_TASK_ID")
    if task_id is None:
        wanted = "JOB_COMPLETION_INDEX or SLURM_ARRAY_TASK_ID" if count is not None else "SLURM_ARRAY_TASK_ID"
        raise UsageError(f"--shard auto: ${wanted} is not set (not in a job array); give --shard I/N")
    index = task_id - (read("SLURM_ARRAY_TASK_MIN") or 0)
    slurm_count = read("SLURM_ARRAY_TASK_COUNT")
    if count is None:
        if slurm_count is None:
            raise UsageError("--shard auto: $SLURM_ARRAY_TASK_COUNT is not set; give --shard auto/N")
        count = slurm_count
    elif slurm_count is not None and slurm_count != count:
        raise UsageError(f"--shard auto/{count}: the Slurm array has {slurm_count} tasks")
    if not 0 <= index < count:
        raise UsageError(f"--shard auto: array task {task_id} is not one of {count} consecutive tasks "
                         "(use a contiguous --array such as 0-N-1, without a step)")
    return Shard(index, count)


class InputRoots:
    """The input arguments of a run, to name each input by what identifies it across machines.

    An input's identity is its path from the folder holding the argument it was found
    under: ``study7/ct/0001.dcm`` for ``/mnt/a/study7`` and for ``/scratch/study7`` alike.
    A second argument with the same name gets a ``#1/`` prefix, a third ``#2/``.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        self.roots = list(roots)
        seen: dict[str, int] = {}
        self._prefixes: list[str] = []
        for root in self.roots:
            repeat = seen[root.name] = seen.get(root.name, -1) + 1
            self._prefixes.append(f"#{repeat}/" if repeat else "")

    def identity(self, label: Path) -> str:
        """The identity of the input found as ``label`` (a DICOMDIR's reference elsewhere: its whole path)."""
        for root, prefix in zip(self.roots, self._prefixes, strict=True):
            if label == root or root in label.parents:
                try:
                    return prefix + label.relative_to(root.parent).as_posix()
                except ValueError:
                    break
        return label.as_posix()

    def signature(self) -> str:
        """The arguments as the shards must all have been given them (names, in order)."""
        return "\n".join(prefix + root.name for root, prefix in zip(self.roots, self._prefixes, strict=True))
