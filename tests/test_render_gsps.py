"""Parsing presentation states (render/gsps.py), display shutters (render/shutters.py), overlay planes (render/overlays.py)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from dcmexport.errors import RenderError
from dcmexport.render.gsps import Shutters, latest, presentation_state_from_dataset
from dcmexport.render.overlays import apply_overlays, overlay_mask, overlay_planes_from_dataset
from dcmexport.render.shutters import shutter_mask
from tests.conftest import data_store_file
from tests.gspsgen import Area, Graphic, Layer, Text, add_overlay, make_ct, make_gsps
from tests.gspsgen import Shutters as ShutterSpec


@pytest.fixture(scope="module")
def image() -> pydicom.Dataset:
    return make_ct(rows=32, columns=48)


class TestParse:
    def test_every_module(self, image: pydicom.Dataset) -> None:
        ds = make_gsps(
            image, window=(40, 400), rescale=(1, -1024), plut_shape="INVERSE", rotation=270, flip=True,
            areas=[Area((5, 4), (40, 30), "MAGNIFY", spacing=(0.5, 0.5), magnification=2.0)],
            shutters=ShutterSpec(rect=(2, 45, 3, 30), circle=(16, 24, 14), value=1000),
            layers=[Layer("L1", 2, grey=30000, graphics=[Graphic("CIRCLE", [(10, 10), (14, 10)], filled=True)],
                          texts=[Text("SECRET^NAME", box=(1, 1, 20, 6))], overlays=[0x6000]),
                    Layer("L0", 1, cielab=(1, 2, 3), graphics=[Graphic("POINT", [(0.5, 0.5)], units="DISPLAY")])],
        )
        state = presentation_state_from_dataset(ds)
        uid = str(image.SOPInstanceUID)
        assert state.references_image(uid) and not state.references_image("1.2.3")
        assert state.rescale == (1.0, -1024.0) and state.plut_shape == "INVERSE"
        assert state.voi_for(uid, 1).window == (40.0, 400.0)  # type: ignore[union-attr]
        assert (state.rotation, state.flip) == (270, True)
        area = state.area_for(uid, 1)
        assert area is not None and area.tlhc == (5, 4) and area.mode == "MAGNIFY" and area.magnification == 2.0
        assert state.shutters is not None and state.shutters.rect == (2, 45, 3, 30)
        assert state.shutters.circle == (16, 24, 14) and state.shutters.value == 1000
        assert [a.layer for a in state.annotations_for(uid, 1)] == ["L0", "L1"]  # bottom layer first
        assert state.activated == {0x6000: "L1"}
        described = state.describe()
        assert "SECRET" not in described and "L1" not in described and "SECRET" not in repr(state)
        assert "1 text object(s)" in described and "rotation 270, flipped" in described

    def test_frame_references(self) -> None:
        from tests.gspsgen import make_us_gray_cine

        cine = make_us_gray_cine(rows=48, columns=48, frames=3)
        state = presentation_state_from_dataset(make_gsps(cine, window=(10, 20), voi_frames=[2]))
        uid = str(cine.SOPInstanceUID)
        assert state.voi_for(uid, 1) is None and state.voi_for(uid, 2) is not None

    @pytest.mark.parametrize("attribute", ["ImageRotation", "GraphicType", "PresentationSizeMode", "refs"])
    def test_malformed_states_name_the_tag(self, image: pydicom.Dataset, attribute: str) -> None:
        ds = make_gsps(image, layers=[Layer(graphics=[Graphic("POLYLINE", [(1, 1), (5, 5)])])])
        if attribute == "ImageRotation":
            ds.ImageRotation = 45
        elif attribute == "GraphicType":
            ds.GraphicAnnotationSequence[0].GraphicObjectSequence[0].GraphicType = "SPLAT"
        elif attribute == "PresentationSizeMode":
            ds.DisplayedAreaSelectionSequence[0].PresentationSizeMode = "HUGE"
        else:
            del ds.ReferencedSeriesSequence
        with pytest.raises(RenderError, match=r"\(00"):
            presentation_state_from_dataset(ds)

    def test_latest_wins(self, image: pydicom.Dataset) -> None:
        old = presentation_state_from_dataset(make_gsps(image, created=("20200101", "000000")))
        new = presentation_state_from_dataset(make_gsps(image, created=("20230101", "000000")))
        assert latest([old, new]) is new and latest([]) is None


class TestShutters:
    def test_each_shape_and_their_intersection(self) -> None:
        rect = shutter_mask((10, 10), Shutters(rect=(3, 8, 2, 9)))  # columns 3..8, rows 2..9 open (1-based)
        assert not rect[1:9, 2:8].any() and rect[0].all() and rect[:, 0].all() and rect[:, 9].all()
        circle = shutter_mask((21, 21), Shutters(circle=(11, 11, 5)))
        assert not circle[10, 10] and not circle[10, 15] and circle[10, 16] and circle[0, 0]
        tri = shutter_mask((10, 10), Shutters(polygon=((1, 1), (1, 10), (10, 1))))
        assert not tri[1, 1] and tri[9, 9]
        both = shutter_mask((21, 21), Shutters(rect=(1, 11, 1, 21), circle=(11, 11, 5)))
        assert both[10, 12] and not both[10, 10]  # right half shut by the rectangle

    def test_bitmap(self) -> None:
        bits = np.zeros((4, 4), bool)
        bits[0] = True
        assert np.array_equal(shutter_mask((4, 4), Shutters(bitmap_group=0x6000), bits), bits)


class TestOverlays:
    def test_unpacking_equals_pydicom(self) -> None:
        ds = pydicom.dcmread(data_store_file("MR-SIEMENS-DICOM-WithOverlays.dcm"))
        (plane,), notes = overlay_planes_from_dataset(ds)
        assert not notes and np.array_equal(plane.bits[0], ds.overlay_array(0x6000).astype(bool))

    def test_origin_clipping_roi_outline_and_frames(self) -> None:
        ds = make_ct(rows=10, columns=10)
        roi = np.zeros((5, 5), bool)
        roi[1:4, 1:4] = True
        add_overlay(ds, roi, group=0x6002, origin=(-1, 8), kind="R")  # hangs over the top and right edges
        frames = np.zeros((2, 10, 10), bool)
        frames[0, 0, 0] = frames[1, 9, 9] = True
        add_overlay(ds, frames, group=0x6004, frame_origin=2)
        planes, _ = overlay_planes_from_dataset(ds)
        roi_plane = next(p for p in planes if p.is_roi)
        mask = overlay_mask([roi_plane], 0, (10, 10))
        assert mask is not None and mask[0, 8] and mask[1, 8] and mask[1, 9] and not mask[0, 9]  # centre left open
        assert not mask[:, :8].any() and mask.sum() == 3
        multi = next(p for p in planes if p.group == 0x6004)
        assert multi.frame_bits(0) is None and multi.frame_bits(1)[0, 0] and multi.frame_bits(2)[9, 9]
        drawn = apply_overlays(np.zeros((10, 10), np.uint8), [multi], 1, (255, 255, 0))
        assert drawn.shape == (10, 10, 3) and drawn[0, 0].tolist() == [255, 255, 0]

    def test_embedded_overlays_are_reported_not_dropped(self) -> None:
        ds = make_ct(rows=8, columns=8)
        ds.add_new(0x60000010, "US", 8)
        ds.add_new(0x60000011, "US", 8)
        ds.add_new(0x60000100, "US", 16)
        ds.add_new(0x60000102, "US", 15)
        planes, notes = overlay_planes_from_dataset(ds)
        assert not planes and "6000" in notes[0] and "retired" in notes[0]
