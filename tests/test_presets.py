"""dcmexport.presets: finding presets/, reading TOML, and the parsed-copy cache (presets_cache.json)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from dcmexport import presets
from dcmexport.errors import PresetError
from dcmexport.mask import load_mask_presets
from dcmexport.presets import CACHE_PATH, cache_key, presets_dir, read_toml

REPO = Path(__file__).resolve().parent.parent


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("gen_presets_cache", REPO / "scripts" / "gen_presets_cache.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def shipped_toml() -> list[Path]:
    return sorted(presets_dir().rglob("*.toml"))


class TestPresetsCache:
    def test_cache_is_current(self) -> None:
        """Stale only costs start-up time, but then the cache is pointless: regenerate it."""
        gen = load_generator()
        document, skipped = gen.build()
        assert skipped == []
        assert CACHE_PATH.read_text(encoding="utf-8") == gen.render(document), (
            "dcmexport/presets_cache.json is stale: run python scripts/gen_presets_cache.py"
        )

    def test_every_shipped_file_is_cached_and_equals_tomllib(self) -> None:
        gen = load_generator()
        entries = json.loads(CACHE_PATH.read_text(encoding="utf-8"))["files"]
        assert sorted(entries) == sorted(cache_key(p) for p in shipped_toml())
        for path in shipped_toml():
            parsed = tomllib.loads(path.read_text(encoding="utf-8"))
            assert gen.same(read_toml(path), parsed), path  # same values and types, key order included

    def test_read_toml_takes_the_cache_for_shipped_files(self, monkeypatch: pytest.MonkeyPatch) -> None:
        def refuse(*args: object, **kwargs: object) -> None:
            raise AssertionError("tomllib was called for a cached file")

        monkeypatch.setattr(tomllib, "loads", refuse)
        assert len(load_mask_presets()) == 127
        assert read_toml(presets_dir() / "deid" / "keep.toml")["free_text"]["keywords"]

    def test_each_call_returns_a_fresh_document(self) -> None:
        path = presets_dir() / "workflows" / "slides.toml"
        first = read_toml(path)
        first.clear()
        assert read_toml(path) != {}

    def test_an_edited_file_is_parsed_again(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        copy = tmp_path / "presets"
        shutil.copytree(presets_dir(), copy)
        slides = copy / "workflows" / "slides.toml"
        original = read_toml(slides)  # outside presets_dir(): parsed, not looked up
        slides.write_text(slides.read_text(encoding="utf-8").replace("1920", "1280"), encoding="utf-8")
        monkeypatch.setattr(presets, "presets_dir", lambda: copy.resolve())
        assert cache_key(slides) == "workflows/slides.toml"  # now it is looked up, and its hash differs
        assert read_toml(slides)["export"]["max_side"] == 1280 != original["export"]["max_side"]

    def test_a_file_outside_presets_is_never_looked_up(self, tmp_path: Path) -> None:
        mask_file = tmp_path / "masks.toml"
        mask_file.write_text("rects = [[0, 0, 10, 4]]\n")
        assert cache_key(mask_file) is None
        assert read_toml(mask_file) == {"rects": [[0, 0, 10, 4]]}

    def test_a_broken_cache_means_no_cache(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        broken = tmp_path / "presets_cache.json"
        broken.write_text("{not json")
        monkeypatch.setattr(presets, "CACHE_PATH", broken)
        presets._cache_entries.cache_clear()
        try:
            assert len(load_mask_presets()) == 127
        finally:
            presets._cache_entries.cache_clear()


class TestReadToml:
    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(PresetError, match=r"nope\.toml: preset file not found"):
            read_toml(tmp_path / "nope.toml")

    def test_invalid_toml_names_the_file(self, tmp_path: Path) -> None:
        bad = tmp_path / "bad.toml"
        bad.write_text("rects = [[0, 0,\n")
        with pytest.raises(PresetError, match=r"bad\.toml: not valid TOML"):
            read_toml(bad)

    def test_a_directory_is_unreadable(self, tmp_path: Path) -> None:
        with pytest.raises(PresetError, match="cannot read preset file"):
            read_toml(tmp_path)
