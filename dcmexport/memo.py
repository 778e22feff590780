"""Per-process memos: one owner for the caches that the stages keep between objects.

Several stages save time across the objects of a batch by remembering a result
keyed by exactly what decides it (geometry checks, mask plans, grayscale tables).
Each is a :class:`Memo`: bounded (the oldest entry goes when full: batches are
runs of alike objects, so recency tracking buys nothing), registered by name, and
clearable all at once (:func:`clear_memos`, for tests and for a long-lived API
user who changes the preset library). A memo never stores a refusal or an error:
callers put only results.
"""

from __future__ import annotations

from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

_REGISTRY: dict[str, Memo[object, object]] = {}


class Memo(Generic[K, V]):
    """A bounded mapping from a key (everything that decides the value) to a value."""

    def __init__(self, name: str, max_size: int) -> None:
        """Register a new memo.

        Args:
            name: a unique name (what it remembers), for :func:`memo_sizes`.
            max_size: entries kept at most.
        """
        if name in _REGISTRY:
            raise ValueError(f"a memo named {name!r} exists already")
        self.name, self.max_size = name, max_size
        self._entries: dict[K, V] = {}
        _REGISTRY[name] = self  # type: ignore[assignment]

    def get(self, key: K) -> V | None:
        return self._entries.get(key)

    def put(self, key: K, value: V) -> V:
        """Remember ``value`` under ``key`` (the oldest entry goes when the memo is full); returns ``value``."""
        if key not in self._entries and len(self._entries) >= self.max_size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = value
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def clear_memos() -> None:
    """Forget everything every memo of this process holds."""
    for memo in _REGISTRY.values():
        memo.clear()


def memo_sizes() -> dict[str, int]:
    """Entries held per memo name (diagnostics, tests)."""
    return {name: len(memo) for name, memo in _REGISTRY.items()}
