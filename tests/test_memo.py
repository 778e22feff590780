"""dcmexport.memo: the one owner of the per-process caches (issue #12: four caches had no common owner)."""

from __future__ import annotations

import pytest

from dcmexport.memo import Memo, clear_memos, memo_sizes


def test_bounded_oldest_first_and_registered() -> None:
    memo: Memo[int, str] = Memo("test: bounded", 2)
    memo.put(1, "a")
    memo.put(2, "b")
    memo.put(1, "a2")  # an existing key does not evict
    assert len(memo) == 2 and memo.get(1) == "a2"
    memo.put(3, "c")
    assert memo.get(1) is None and memo.get(2) == "b" and memo.get(3) == "c"
    assert memo_sizes()["test: bounded"] == 2
    clear_memos()
    assert len(memo) == 0 and memo_sizes()["test: bounded"] == 0


def test_names_are_unique() -> None:
    Memo("test: unique", 1)
    with pytest.raises(ValueError, match="exists already"):
        Memo("test: unique", 1)


def test_stage_caches_are_registered() -> None:
    import dcmexport.render.renderer  # noqa: F401  (registers its memo on import)

    assert "grayscale tables" in memo_sizes()
