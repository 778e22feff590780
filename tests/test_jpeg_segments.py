"""encode.jpeg_segments: comment and application segments leave compressed frames, pixels stay (issue #20 item 3)."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate, encapsulate_extended, generate_frames
from pydicom.uid import (
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    SecondaryCaptureImageStorage,
    generate_uid,
)

from dcmexport import api
from dcmexport.audit.verify import verify_paths
from dcmexport.deid import Key
from dcmexport.encode.jpeg_segments import (
    iter_frame_segments,
    iter_pixel_data_text,
    strip_frame,
    strip_pixel_data_text,
)

NAME, MRN = b"DOE^JANE", b"MRN-998877"
KEY = Key(b"jpeg-segments-test-key-0123456789")


def pattern(rows: int = 48, columns: int = 64, frame: int = 0, rgb: bool = False) -> np.ndarray:
    y, x = np.mgrid[0:rows, 0:columns]
    gray = ((x * 4 + y * 2 + frame * 17) % 256).astype(np.uint8)
    return np.stack([gray, 255 - gray, (gray // 2)], axis=-1) if rgb else gray


def app_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_with_text(image: np.ndarray) -> bytes:
    """A baseline JPEG with a COM (Pillow's comment=), an Exif APP1, a vendor APP12 and a JFIF thumbnail."""
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=90, comment=b"patient " + NAME)
    data = buf.getvalue()
    assert data[2:4] == b"\xff\xe0" and data[6:11] == b"JFIF\0"
    jfif_len = int.from_bytes(data[4:6], "big")
    # JFIF header with a 1x1 RGB thumbnail: a copy of the image, not needed to decode it
    jfif = app_segment(0xE0, data[6:18] + b"\x01\x01" + b"\x10\x20\x30")
    tiff = b"II*\x00\x08\x00\x00\x00" + b"\x00\x00" + b"\x00\x00\x00\x00"  # an empty IFD, then the text
    extra = app_segment(0xE1, b"Exif\0\0" + tiff + MRN) + app_segment(0xEC, b"VendorX\0" + NAME)
    return b"\xff\xd8" + jfif + extra + data[4 + jfif_len:]


def j2k_with_text(image: np.ndarray, *, tiles: bool = False, tlm: bool = False) -> bytes:
    """A JPEG 2000 codestream: Pillow's comment= (main header COM) plus a COM in every tile-part header."""
    buf = io.BytesIO()
    options: dict[str, object] = {"irreversible": False, "no_jp2": True, "comment": b"study of " + NAME}
    if tiles:
        options["tile_size"] = (32, 32)
    Image.fromarray(image).save(buf, "JPEG2000", **options)
    cs = buf.getvalue()
    assert cs[:2] == b"\xff\x4f" and b"\xff\x64" in cs
    out = bytearray()
    first_sot = cs.index(b"\xff\x90")
    header = cs[:first_sot]
    pos = first_sot
    parts: list[bytes] = []
    while cs[pos:pos + 2] == b"\xff\x90":
        psot = int.from_bytes(cs[pos + 6:pos + 10], "big")
        tile = cs[pos:pos + psot] if psot else cs[pos:-2]
        com = b"\xff\x64" + struct.pack(">HH", 4 + len(MRN), 1) + MRN
        sot_end = 12  # SOT marker + Lsot (10)
        new_tile = bytearray(tile[:sot_end] + com + tile[sot_end:])
        if psot:
            new_tile[6:10] = struct.pack(">I", psot + len(com))
        parts.append(bytes(new_tile))
        pos += psot if psot else len(tile)
    if tlm:  # tile-part lengths, one byte tile index and four byte length each (A.7.1)
        body = b"\x00\x50" + b"".join(struct.pack(">BI", i, len(p)) for i, p in enumerate(parts))
        header += b"\xff\x55" + struct.pack(">H", 2 + len(body)) + body
    out += header + b"".join(parts) + cs[pos:]
    assert out.endswith(b"\xff\xd9")
    return bytes(out)


def dataset(frames: list[bytes], syntax: str, *, rgb: bool = False, extended: bool = False,
            rows: int = 48, columns: int = 64) -> Dataset:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = syntax
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = SecondaryCaptureImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.PatientID, ds.Modality, ds.BurnedInAnnotation = "P1", "OT", "NO"
    ds.Rows, ds.Columns, ds.NumberOfFrames = rows, columns, len(frames)
    ds.SamplesPerPixel = 3 if rgb else 1
    ds.PhotometricInterpretation = ("YBR_FULL_422" if syntax == JPEGBaseline8Bit else "RGB") if rgb else "MONOCHROME2"
    if rgb:
        ds.PlanarConfiguration = 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    if extended:
        data, offsets, lengths = encapsulate_extended(frames)
        ds.PixelData, ds.ExtendedOffsetTable, ds.ExtendedOffsetTableLengths = data, offsets, lengths
    else:
        ds.PixelData = encapsulate(frames)
    ds["PixelData"].VR, ds["PixelData"].is_undefined_length = "OB", True
    return ds


def roundtrip(ds: Dataset) -> Dataset:
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return pydicom.dcmread(io.BytesIO(buf.getvalue()))


class TestStripFrame:
    def test_jpeg_text_segments_go_decoding_segments_stay(self) -> None:
        frame = jpeg_with_text(pattern())
        assert list(iter_frame_segments(frame)) == [
            "JFIF thumbnail", "APP1 segment Exif", "APP12 segment", "COM segment"]
        new, kinds = strip_frame(frame)
        assert kinds == list(iter_frame_segments(frame))
        assert NAME not in new and MRN not in new and b"\xff\xfe" not in new
        assert new[2:6] == b"\xff\xe0\x00\x10" and new[6:11] == b"JFIF\0"  # JFIF kept, thumbnail gone
        assert list(iter_frame_segments(new)) == []
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(new))),
                                      np.asarray(Image.open(io.BytesIO(frame))))

    def test_adobe_app14_and_padding_are_kept(self) -> None:
        buf = io.BytesIO()
        Image.fromarray(pattern(rgb=True)).save(buf, "JPEG")
        data = buf.getvalue()
        adobe = app_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x01")
        frame = data[:2] + adobe + data[2:] + b"\x00"
        assert strip_frame(frame) == (frame, [])
        trailing = frame[:-1] + b"trailing text " + NAME
        new, kinds = strip_frame(trailing)
        assert kinds == ["data after EOI"] and NAME not in new and new.endswith(b"\xff\xd9")

    def test_j2k_main_and_tile_part_comments(self) -> None:
        image = pattern(64, 64)
        frame = j2k_with_text(image, tiles=True, tlm=True)
        assert frame.count(MRN) == 4  # one per tile-part
        new, kinds = strip_frame(frame)
        assert kinds == ["JPEG 2000 COM segment"] * 5
        assert NAME not in new and MRN not in new and b"\xff\x55" not in new  # stale TLM dropped
        assert list(iter_frame_segments(new)) == []
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(new))), image)

    def test_not_a_codestream(self) -> None:
        with pytest.raises(ValueError, match="neither a JPEG nor a JPEG 2000"):
            strip_frame(b"\x01\x00\x00\x00" + b"\0" * 60)
        with pytest.raises(ValueError):
            strip_frame(jpeg_with_text(pattern())[:300])  # cut inside the scan: no EOI


class TestPixelData:
    @pytest.mark.parametrize(("syntax", "rgb", "extended"), [
        (JPEGBaseline8Bit, False, False), (JPEGBaseline8Bit, True, False), (JPEGBaseline8Bit, False, True),
        (JPEG2000Lossless, False, False), (JPEG2000Lossless, True, False)])
    def test_frames_decode_to_identical_pixels(self, syntax: str, rgb: bool, extended: bool) -> None:
        pytest.importorskip("pylibjpeg")
        images = [pattern(frame=i, rgb=rgb) for i in range(3)]
        make = jpeg_with_text if syntax == JPEGBaseline8Bit else j2k_with_text
        ds = roundtrip(dataset([make(im) for im in images], syntax, rgb=rgb, extended=extended))
        before = ds.pixel_array.copy()
        assert {kind for _, kind in iter_pixel_data_text(ds)}
        removed = strip_pixel_data_text(ds)
        assert sum(removed.values()) == len(list(iter_pixel_data_text(roundtrip(
            dataset([make(im) for im in images], syntax, rgb=rgb, extended=extended)))))
        out = roundtrip(ds)
        assert NAME not in out.PixelData and MRN not in out.PixelData
        assert list(iter_pixel_data_text(out)) == []
        np.testing.assert_array_equal(out.pixel_array, before)
        frames = list(generate_frames(out.PixelData, number_of_frames=3,
                                      extended_offsets=(out.ExtendedOffsetTable, out.ExtendedOffsetTableLengths)
                                      if extended else None))
        assert len(frames) == 3

    def test_nothing_to_remove_leaves_the_element(self) -> None:
        buf = io.BytesIO()
        Image.fromarray(pattern()).save(buf, "JPEG")
        ds = dataset([buf.getvalue()], JPEGBaseline8Bit)
        elem = ds["PixelData"]
        assert strip_pixel_data_text(ds) == {} and ds["PixelData"] is elem


def test_deid_strips_and_verify_reports(tmp_path: Path) -> None:
    pytest.importorskip("pylibjpeg")
    images = [pattern(frame=i) for i in range(2)]
    src = tmp_path / "in" / "sc.dcm"
    src.parent.mkdir()
    dataset([jpeg_with_text(im) for im in images], JPEGBaseline8Bit).save_as(src, enforce_file_format=True)
    # verify reports the segments in the input itself ...
    found = {(f.kind, f.detail) for f in verify_paths([src]).findings}
    assert ("metadata", "(7FE0,0010) PixelData compressed frame: COM segment") in found
    assert ("metadata", "(7FE0,0010) PixelData compressed frame: APP1 segment Exif") in found
    # ... deid removes them, and the output passes
    batch = api.deidentify([src], tmp_path / "out", key=KEY)
    (result,) = batch.results
    assert result.status == "written", result.reason
    data = result.outputs[0].read_bytes()
    assert NAME not in data and MRN not in data
    assert result.action_counts["pixel-text:COM segment"] == 2
    assert not [f for f in verify_paths([result.outputs[0]]).findings if f.kind == "metadata"]
    np.testing.assert_array_equal(pydicom.dcmread(result.outputs[0]).pixel_array, pydicom.dcmread(src).pixel_array)


def test_also_dicom_strips(tmp_path: Path) -> None:
    pytest.importorskip("pylibjpeg")
    src = tmp_path / "sc.dcm"
    dataset([j2k_with_text(pattern())], JPEG2000Lossless).save_as(src, enforce_file_format=True)
    (result,) = api.export([src], tmp_path / "out", key=KEY, also_dicom=True).results
    assert result.status == "written", result.reason
    dcm = next(p for p in result.outputs if p.suffix == ".dcm")
    assert MRN not in dcm.read_bytes() and NAME not in dcm.read_bytes()
    assert result.action_counts["pixel-text:JPEG 2000 COM segment"] == 2


def test_undecodable_codestream_fails_closed(tmp_path: Path) -> None:
    src = tmp_path / "bad.dcm"
    ds = dataset([b"\xff\xd8\xff\xfe\x00\x10" + NAME + b"\0" * 6], JPEGBaseline8Bit)  # COM, then nothing
    ds.save_as(src, enforce_file_format=True)
    (result,) = api.deidentify([src], tmp_path / "out", key=KEY).results
    assert result.status == "failed" and "(7FE0,0010)" in (result.reason or "")
    assert not list((tmp_path / "out").glob("*.dcm"))
