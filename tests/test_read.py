from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pydicom.data import get_testdata_file

from dcmexport.errors import InputError, NoPixelDataError, NotDicomError
from dcmexport.read import (
    check_pixel_geometry,
    iter_frames,
    read_dataset,
    sha256_file,
)
from dcmexport.sources import iter_input_files, iter_inputs


class TestIterInputFiles:
    def test_walks_directories_sorted_and_skips_hidden(self, tmp_path: Path) -> None:
        (tmp_path / "b").mkdir()
        (tmp_path / "b" / "2.dcm").write_bytes(b"x")
        (tmp_path / "a.dcm").write_bytes(b"x")
        (tmp_path / ".hidden").write_bytes(b"x")
        (tmp_path / "DICOMDIR").write_bytes(b"x")
        found = [p.relative_to(tmp_path).as_posix() for p in iter_input_files([tmp_path])]
        assert found == ["a.dcm", "b/2.dcm"]

    def test_symlink_loop_terminates(self, tmp_path: Path) -> None:
        (tmp_path / "d").mkdir()
        os.symlink(tmp_path, tmp_path / "d" / "loop")
        (tmp_path / "d" / "x.dcm").write_bytes(b"x")
        found = list(iter_input_files([tmp_path]))
        assert [p.name for p in found] == ["x.dcm"]

    def test_missing_input_is_input_error(self, tmp_path: Path) -> None:
        with pytest.raises(InputError, match="no such file"):
            list(iter_input_files([tmp_path / "nope"]))


class TestReadDataset:
    def test_text_file_is_not_dicom(self, tmp_path: Path) -> None:
        p = tmp_path / "notes.dcm"
        p.write_text("Patient: somebody\n" * 20)
        with pytest.raises(NotDicomError):
            read_dataset(p)

    def test_zero_byte_file(self, tmp_path: Path) -> None:
        p = tmp_path / "empty.dcm"
        p.write_bytes(b"")
        with pytest.raises(InputError):
            read_dataset(p)

    def test_directory_named_dcm(self, tmp_path: Path) -> None:
        d = tmp_path / "dir.dcm"
        d.mkdir()
        with pytest.raises(InputError, match="directory"):
            read_dataset(d)

    def test_no_pixel_object(self) -> None:
        ds = read_dataset(Path(get_testdata_file("rtplan.dcm")))
        with pytest.raises(NoPixelDataError):
            check_pixel_geometry(ds)

    def test_hostile_geometry_refused_before_allocation(self) -> None:
        ds = read_dataset(Path(get_testdata_file("CT_small.dcm")))
        ds.Rows, ds.Columns, ds.NumberOfFrames = 65535, 65535, 100000
        with pytest.raises(InputError, match="refused before allocation"):
            check_pixel_geometry(ds)

    def test_geometry_check_leaves_large_pixel_data_on_disk(self, tmp_path: Path) -> None:
        from tests.samplegen import make_us_gray_cine, write_dataset

        path = write_dataset(make_us_gray_cine(rows=256, columns=256, frames=8), tmp_path / "clip.dcm")
        ds = read_dataset(path)  # 512 KB of pixels: above the 256 KB defer size
        assert check_pixel_geometry(ds) == 8
        # Still deferred: streaming decoders read frames from the file, memory stays flat.
        assert ds.get_item(0x7FE00010, keep_deferred=True).value is None
        assert len(next(iter_frames(path, ds))) == 256

    def test_geometry_check_still_counts_frames_of_deferred_native_data(self, tmp_path: Path) -> None:
        from tests.samplegen import make_us_gray_cine, write_dataset

        ds = make_us_gray_cine(rows=256, columns=256, frames=8)
        ds.NumberOfFrames = 9  # one frame more than the 512 KB of Pixel Data hold
        path = write_dataset(ds, tmp_path / "clip.dcm")
        with pytest.raises(InputError, match="holds fewer frames"):
            check_pixel_geometry(read_dataset(path))

    def test_geometry_memo_only_for_identical_headers(self, tmp_path: Path) -> None:
        # check_pixel_geometry reuses a frame count for a byte-identical header and Pixel
        # Data length (read.geometry._geometry_key); anything that changes the answer is checked again.
        from dcmexport.read.geometry import _GEOMETRY_MEMO, _geometry_key
        from tests.samplegen import make_us_gray_cine, write_dataset

        good = write_dataset(make_us_gray_cine(rows=64, columns=64, frames=8), tmp_path / "good.dcm")
        _GEOMETRY_MEMO.clear()
        first = read_dataset(good)
        assert _geometry_key(first) is not None
        assert check_pixel_geometry(first) == 8 and len(_GEOMETRY_MEMO) == 1
        assert check_pixel_geometry(read_dataset(good)) == 8  # from the memo
        more = make_us_gray_cine(rows=64, columns=64, frames=8)
        more.NumberOfFrames = 9  # same Pixel Data length, one frame more: refused, every time
        bad = write_dataset(more, tmp_path / "bad.dcm")
        for _ in range(2):
            with pytest.raises(InputError, match="holds fewer frames"):
                check_pixel_geometry(read_dataset(bad))
        cut = read_dataset(good)
        raw = cut._dict[0x7FE00010]
        cut._dict[0x7FE00010] = raw._replace(value=raw.value[: 64 * 64 * 4], length=64 * 64 * 4)
        with pytest.raises(InputError, match="holds fewer frames"):  # same header, less Pixel Data
            check_pixel_geometry(cut)
        converted = read_dataset(good)
        converted.Rows = 65535  # a changed (converted) element is part of the record too
        converted.Columns, converted.NumberOfFrames = 65535, 100000
        with pytest.raises(InputError, match="refused before allocation"):
            check_pixel_geometry(converted)

    def test_messages_never_quote_values(self, tmp_path: Path) -> None:
        p = tmp_path / "x.dcm"
        p.write_bytes(b"\0" * 128 + b"DICM" + b"SECRETNAME" * 5)
        with pytest.raises(InputError) as info:
            check_pixel_geometry(read_dataset(p))
        assert "SECRETNAME" not in str(info.value)


class TestIterFrames:
    def test_streams_frames_one_at_a_time(self) -> None:
        import data_store  # noqa: F401  (pydicom-data, test extra)

        path = Path(data_store.__file__).parent / "data" / "emri_small.dcm"
        ds = read_dataset(path)
        n = check_pixel_geometry(ds)
        it = iter_frames(path, ds)
        first = next(it)
        assert first.shape == (int(ds.Rows), int(ds.Columns))
        assert 1 + sum(1 for _ in it) == n == 10

    def test_selected_indices(self) -> None:
        import data_store

        path = Path(data_store.__file__).parent / "data" / "emri_small.dcm"
        ds = read_dataset(path)
        import pydicom

        full = pydicom.dcmread(path).pixel_array
        got = list(iter_frames(path, ds, indices=[3]))
        assert len(got) == 1
        np.testing.assert_array_equal(got[0], full[3])

    def test_truncated_pixel_data_is_input_error(self) -> None:
        path = Path(get_testdata_file("MR_truncated.dcm"))  # refused when read now (issue #18 item 2)
        with pytest.raises(InputError, match=r"truncated: the file ends at byte 9630, inside \(7FE0,0010\) PixelData"):
            read_dataset(path)

    @pytest.mark.parametrize(
        "name",
        [
            "image_dfl.dcm",  # Deflated Explicit VR Little Endian: the file's bytes are not the dataset's
            "SC_rgb_jpeg.dcm",  # JPEG Baseline whose dataset is written in implicit VR (not as its syntax says)
            "SC_ybr_full_422_uncompressed.dcm",  # native YBR_FULL_422: 2 bytes per pixel, not 3 (PS3.3 C.7.6.3.1.2)
        ],
    )
    def test_files_pydicom_decodes_are_decoded_alike(self, name: str) -> None:
        import pydicom

        path = Path(get_testdata_file(name))
        ds = read_dataset(path)
        assert check_pixel_geometry(ds) == 1
        (frame,) = iter_frames(path, ds)
        np.testing.assert_array_equal(frame, pydicom.dcmread(path).pixel_array)

    def test_native_ybr_full_422_still_needs_its_two_bytes_per_pixel(self) -> None:
        path = Path(get_testdata_file("SC_ybr_full_422_uncompressed.dcm"))
        ds = read_dataset(path)
        ds.NumberOfFrames = 2
        with pytest.raises(InputError, match="holds fewer frames"):
            check_pixel_geometry(ds)


class TestTruncatedFiles:
    """A file that ends inside an element is damaged input, said so with byte positions (issue #18 item 2)."""

    def test_undefined_length_pixel_data_without_its_end(self) -> None:
        import data_store

        path = Path(data_store.__file__).parent / "data" / "emri_small_jpeg_2k_lossless_too_short.dcm"
        with pytest.raises(InputError, match=r"^truncated: the file ends at byte 40316 inside an element of undefined"):
            read_dataset(path)

    def test_a_sequence_value_cut(self) -> None:
        with pytest.raises(InputError, match=r"^truncated: .* inside \(300A,00B0\) BeamSequence, whose value needs 976"):
            read_dataset(Path(get_testdata_file("rtplan_truncated.dcm")))

    @pytest.fixture
    def ct(self, tmp_path: Path) -> Path:
        from tests.samplegen import make_ct, write_dataset

        return write_dataset(make_ct(rows=512, columns=512), tmp_path / "ct.dcm")  # 512 KB: deferred when read

    @pytest.mark.parametrize("in_memory", [False, True], ids=["deferred", "in-memory"])
    def test_pixel_data_cut(self, ct: Path, tmp_path: Path, in_memory: bool) -> None:
        data = ct.read_bytes()[:-1000]
        cut = tmp_path / "cut.dcm"
        cut.write_bytes(data)
        with pytest.raises(InputError, match=rf"^truncated: the file ends at byte {len(data)}, inside \(7FE0,0010\)"):
            read_dataset(cut, data if in_memory else None)

    def test_header_of_the_last_element_cut(self, ct: Path, tmp_path: Path) -> None:
        import pydicom

        tell = pydicom.dcmread(ct, defer_size=64).get_item(0x7FE00010, keep_deferred=True).value_tell
        header = tell - 12  # explicit VR OW: tag, VR, 2 reserved bytes, 4-byte length
        cut = tmp_path / "cut.dcm"
        cut.write_bytes(ct.read_bytes()[: header + 5])
        with pytest.raises(InputError, match=rf"ends at byte {header + 5}, inside an element that starts at byte {header}"):
            read_dataset(cut)

    def test_an_early_value_cut_drops_nothing_silently(self, ct: Path, tmp_path: Path) -> None:
        cut = tmp_path / "cut.dcm"
        cut.write_bytes(ct.read_bytes()[:700])
        with pytest.raises(InputError, match=r"^truncated: the file ends at byte 700"):
            read_dataset(cut)

    def test_image_that_does_not_parse_from_its_start_is_damaged_not_foreign(self, ct: Path, tmp_path: Path) -> None:
        # pydicom's no_meta.dcm (one stray byte before the dataset) and a Part 10 file with one byte added in front.
        with pytest.raises(InputError, match=r"^damaged DICOM: \(7FE0,0010\) PixelData found at byte 5953"):
            read_dataset(Path(get_testdata_file("no_meta.dcm")))
        shifted = tmp_path / "shifted.dcm"
        shifted.write_bytes(b"\0" + ct.read_bytes())
        with pytest.raises(InputError, match=r"^damaged DICOM") as info:
            read_dataset(shifted)
        assert not isinstance(info.value, NotDicomError)

    def test_complete_files_pass(self, ct: Path) -> None:
        assert check_pixel_geometry(read_dataset(ct)) == 1
        assert check_pixel_geometry(read_dataset(ct, ct.read_bytes())) == 1


def test_sha256_matches_hashlib(tmp_path: Path) -> None:
    import hashlib

    p = tmp_path / "f"
    p.write_bytes(os.urandom(3 << 20))
    assert sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()


class TestArchivesAndDicomdir:
    def test_zip_exports_like_the_folder_it_contains(self, tmp_path: Path) -> None:
        import zipfile

        from dcmexport import api
        from dcmexport.deid import Key
        from tests.samplegen import make_ct, make_mr, write_dataset

        folder = tmp_path / "cd"
        write_dataset(make_ct(), folder / "a" / "ct.dcm")
        write_dataset(make_mr(), folder / "mr.dcm")
        archive = tmp_path / "cd.zip"
        with zipfile.ZipFile(archive, "w") as zf:
            for f in sorted(folder.rglob("*.dcm")):
                zf.write(f, f.relative_to(folder).as_posix())
            zf.writestr("../evil/../../escape.txt", b"not dicom")  # traversal names are never used as paths
        key = Key(b"zip-test-key-0123456789abcdef0123")
        from_folder = api.export([folder], tmp_path / "o1", key=key)
        from_zip = api.export([archive], tmp_path / "o2", key=key)
        names = lambda b: sorted(p.name for r in b.results for p in r.outputs)  # noqa: E731
        assert names(from_folder) == names(from_zip) and len(names(from_zip)) == 2
        labels = sorted(str(r.source) for r in from_zip.results)
        assert any(label.endswith("cd.zip/a/ct.dcm") for label in labels)
        assert not (tmp_path / "escape.txt").exists() and not (tmp_path.parent / "escape.txt").exists()

    def test_dicomdir_exports_every_referenced_file_like_the_folder(self, tmp_path: Path) -> None:
        import shutil

        from dcmexport import api
        from dcmexport.deid import Key

        src = Path(get_testdata_file("DICOMDIR")).parent
        tree = tmp_path / "tree"
        shutil.copytree(src, tree, ignore=shutil.ignore_patterns("DICOMDIR-*", "*.txt"))
        referenced = list(iter_inputs([tree / "DICOMDIR"], tmp_path))
        assert len(referenced) == 31
        key = Key(b"dicomdir-test-key-0123456789abcdef")
        via_index = api.export([tree / "DICOMDIR"], tmp_path / "o1", key=key, accept_burned_in=True)
        via_walk = api.export([tree], tmp_path / "o2", key=key, accept_burned_in=True)
        outs = lambda b: sorted(p.name for r in b.results for p in r.outputs)  # noqa: E731
        assert outs(via_index) == outs(via_walk) and outs(via_index)


class TestJpegFrames:
    """jpeg_header_from_dataset / iter_jpeg_frames: the clip passthrough's source."""

    def test_color3d_frames_are_the_fragments_streamed_from_the_file(self) -> None:
        import pydicom
        from pydicom.encaps import generate_frames

        from dcmexport.read import iter_jpeg_frames, jpeg_header_from_dataset
        from tests.conftest import data_store_file

        path = data_store_file("color3d_jpeg_baseline.dcm")
        ds = read_dataset(path)
        header = jpeg_header_from_dataset(path, ds)
        assert header is not None and (header.rows, header.columns, header.sof) == (480, 640, 0xC0)
        frames = list(iter_jpeg_frames(path, ds, header))
        reference = list(generate_frames(pydicom.dcmread(path).PixelData, number_of_frames=120))
        assert len(frames) == 120
        for got, fragment in zip(frames, reference, strict=True):
            assert got.startswith(b"\xff\xd8") and got.endswith(b"\xff\xd9")
            assert got == fragment.rstrip(b"\x00")  # the same bytes, padding removed
        # Streamed from the file: Pixel Data was never loaded into the dataset.
        assert ds.get_item(0x7FE00010, keep_deferred=True).value is None

    @pytest.mark.parametrize("name", ["CT_small.dcm", "SC_rgb_jpeg_gdcm.dcm", "SC_rgb_rle.dcm"])
    def test_no_header_for_other_transfer_syntaxes(self, name: str) -> None:
        from dcmexport.read import jpeg_header_from_dataset

        path = Path(get_testdata_file(name))
        assert jpeg_header_from_dataset(path, read_dataset(path)) is None  # native, lossless, RLE

    def _clip(self, tmp_path: Path, frames: int = 4) -> Path:
        from tests.samplegen import compress_jpeg_baseline, make_us_rgb_cine, write_dataset

        ds = make_us_rgb_cine(frames=frames)
        compress_jpeg_baseline(ds)
        return write_dataset(ds, tmp_path / "clip.dcm")

    def _rewrite(self, src: Path, dst: Path, frames: list[bytes], number_of_frames: int | None = None) -> Path:
        import pydicom
        from pydicom.encaps import encapsulate

        ds = pydicom.dcmread(src)
        ds.PixelData = encapsulate([f + b"\x00" * (len(f) % 2) for f in frames])  # fragments of even length
        if number_of_frames is not None:
            ds.NumberOfFrames = number_of_frames
        ds.save_as(dst, enforce_file_format=True)
        return dst

    def _jpeg_stream(self, path: Path) -> Iterator[bytes]:
        """iter_jpeg_frames over ``path``, whose frame 0 gives a passthrough header."""
        from dcmexport.read import iter_jpeg_frames, jpeg_header_from_dataset

        ds = read_dataset(path)
        header = jpeg_header_from_dataset(path, ds)
        assert header is not None
        return iter_jpeg_frames(path, ds, header)

    def _frames(self, path: Path) -> list[bytes]:
        import pydicom
        from pydicom.encaps import generate_frames

        ds = pydicom.dcmread(path)
        return list(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))

    def test_a_frame_unlike_frame_0_is_unsupported(self, tmp_path: Path) -> None:
        from dcmexport.errors import UnsupportedError

        src = self._clip(tmp_path)
        frames = self._frames(src)
        frames[2] = frames[2].replace(b"\xff\xc0", b"\xff\xc1", 1)  # same data, extended-process marker
        it = self._jpeg_stream(self._rewrite(src, tmp_path / "mixed.dcm", frames))
        assert len([next(it), next(it)]) == 2
        with pytest.raises(UnsupportedError, match="frame 2 is coded unlike frame 0"):
            next(it)

    def test_a_frame_without_eoi_is_unsupported(self, tmp_path: Path) -> None:
        from dcmexport.errors import UnsupportedError

        src = self._clip(tmp_path)
        frames = self._frames(src)
        frames[1] = frames[1].rstrip(b"\x00")[:-200]
        stream = self._jpeg_stream(self._rewrite(src, tmp_path / "cut.dcm", frames))
        with pytest.raises(UnsupportedError, match="frame 1 does not end with an EOI"):
            list(stream)

    def test_damaged_header_is_input_error(self, tmp_path: Path) -> None:
        src = self._clip(tmp_path)
        frames = self._frames(src)
        frames[3] = b"\xff\xd8\xff\xdb\x00\x90" + frames[3][-40:]  # a DQT running into the entropy data
        stream = self._jpeg_stream(self._rewrite(src, tmp_path / "bad.dcm", frames))
        with pytest.raises(InputError, match="JPEG frame 3 of \\(7FE0,0010\\) PixelData is damaged"):
            list(stream)

    def test_fewer_frames_than_number_of_frames_is_input_error(self, tmp_path: Path) -> None:
        src = self._clip(tmp_path)
        stream = self._jpeg_stream(self._rewrite(src, tmp_path / "short.dcm", self._frames(src), number_of_frames=5))
        with pytest.raises(InputError, match="NumberOfFrames is 5 but \\(7FE0,0010\\) PixelData holds 4 frames"):
            list(stream)


def test_quiet_pydicom_skips_validation_only_while_active_and_respects_raise() -> None:
    import pydicom.config

    from dcmexport.read import quiet_pydicom

    settings = pydicom.config.settings
    before = settings.reading_validation_mode, settings.writing_validation_mode
    assert before == (pydicom.config.WARN, pydicom.config.WARN)  # pydicom 3's defaults
    with quiet_pydicom():
        assert settings.reading_validation_mode == settings.writing_validation_mode == pydicom.config.IGNORE
    assert (settings.reading_validation_mode, settings.writing_validation_mode) == before
    settings.writing_validation_mode = pydicom.config.RAISE  # a user who asked for errors keeps them
    try:
        with quiet_pydicom():
            assert settings.writing_validation_mode == pydicom.config.RAISE
    finally:
        settings.writing_validation_mode = before[1]
