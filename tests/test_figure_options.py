"""dcmexport.figure_options and dcmexport.windows: figure options coerced once, at the boundary."""

from __future__ import annotations

from pathlib import Path

import pytest

from dcmexport.audit.manifest import jsonable
from dcmexport.errors import UsageError
from dcmexport.figure_options import (
    Color,
    Corner,
    CropUnit,
    PresentationMode,
    build_figure_options,
    parse_color,
    parse_crop,
    parse_scale_bar,
)
from dcmexport.options import build_options
from dcmexport.windows import find_window_preset, load_window_presets, normalise_name
from tests.gspsgen import make_ct, make_gsps, write, write_dataset


class TestParsers:
    def test_colours(self) -> None:
        assert parse_color("Yellow") == Color(255, 255, 0)
        assert parse_color("#10a0FF") == Color(16, 160, 255)
        assert parse_color("128") == Color(128, 128, 128) and parse_color("128").is_grey
        for bad in ("chartreuse-ish", "#12345", "300"):
            with pytest.raises(UsageError, match="--overlay-color"):
                parse_color(bad)

    def test_crops(self) -> None:
        assert parse_crop("1,2,30,40", CropUnit.PIXELS) == parse_crop("1,2,30,40", CropUnit.PIXELS)
        assert parse_crop("1.5,2,30,40", CropUnit.MM).x == 1.5
        for bad in ("1,2,3", "1.5,2,30,40", "-1,0,5,5", "0,0,0,5", "a,b,c,d"):
            with pytest.raises(UsageError, match="--crop"):
                parse_crop(bad, CropUnit.PIXELS)

    def test_scale_bars(self) -> None:
        assert parse_scale_bar("auto").length_mm is None
        assert parse_scale_bar("1cm", "top-left") == parse_scale_bar("10 mm", Corner.TOP_LEFT)
        assert parse_scale_bar("2.5CM").length_mm == 25
        for bad in ("10", "10 in", "0mm", "-5mm"):
            with pytest.raises(UsageError, match="--scale-bar"):
                parse_scale_bar(bad)
        with pytest.raises(UsageError, match="--scale-bar-corner"):
            parse_scale_bar("auto", "middle")


class TestBuild:
    def test_defaults_change_nothing(self) -> None:
        assert not build_figure_options().shapes_pixels

    def test_contradictions(self) -> None:
        for kwargs in ({"crop": "0,0,5,5", "crop_mm": "0,0,5,5"}, {"zoom": 0}, {"zoom": 100},
                       {"dpi": 300, "width_mm": 80, "zoom": 2}, {"overlay_color": "red"}, {"annotations": "all"},
                       {"presentation_state": "auto", "crop": "0,0,5,5"}, {"dpi": 0.1}):
            with pytest.raises(UsageError):
                build_figure_options(**kwargs)  # type: ignore[arg-type]

    def test_width_with_dpi_sets_the_target_width(self) -> None:
        assert build_figure_options(dpi=300, width_mm=25.4).target_width == 300

    def test_presentation_file_is_fingerprinted_not_recorded(self, tmp_path: Path) -> None:
        image = make_ct()
        state = write(make_gsps(image), tmp_path / "ps.dcm")
        options = build_options(tmp_path / "o", presentation_state=state)
        choice = options.figure.presentation
        assert choice.mode is PresentationMode.FILE and choice.path == state and len(choice.sha256 or "") == 64
        assert jsonable(choice) == {"mode": "file", "sha256": choice.sha256}
        with pytest.raises(UsageError, match="Grayscale Softcopy Presentation State"):
            build_options(tmp_path / "o", presentation_state=write_dataset(image, tmp_path / "ct.dcm"))
        with pytest.raises(UsageError, match="cannot be read"):
            build_options(tmp_path / "o", presentation_state=tmp_path / "missing.dcm")


class TestWindowPresets:
    def test_every_preset_cites_its_source(self) -> None:
        presets = load_window_presets()
        assert {"brain", "subdural", "stroke", "temporal-bone", "soft-tissue", "mediastinum", "lung", "liver",
                "bone"} <= set(presets)
        for preset in presets.values():
            assert preset.source.url.startswith("https://") and preset.modalities and preset.width >= 1

    def test_spellings(self) -> None:
        assert normalise_name(" Temporal  bone ") == "temporal-bone"
        assert find_window_preset("TEMPORAL_BONE") is find_window_preset("temporal-bone")
        assert find_window_preset("nothing") is None

    def test_window_option_takes_numbers_or_a_name(self) -> None:
        assert build_options("o", window="lung").render.window_preset is find_window_preset("lung")
        assert build_options("o", window="40,400").render.window_preset is None
        with pytest.raises(UsageError, match="preset name"):
            build_options("o", window="lungz")
        with pytest.raises(UsageError, match="--window-name"):
            build_options("o", window="lung", window_name="LUNG")
