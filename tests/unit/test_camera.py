"""glassbridge.camera: Frame.from_buffer, the BT.601 converters (against OpenCV), every frame source, and the V4L2
source driven by a fake device (this machine has no /dev/video*; see glassbridge/camera/v4l2.py for what needs a
dev kit)."""

from __future__ import annotations

import enum
import io
import mmap
import os
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image, ImageOps

from glassbridge.camera import (
    CameraError,
    EndOfStream,
    Frame,
    ImageFileSource,
    PixelFormat,
    RawFileSource,
    TestPatternSource,
    YuvRange,
    copy_frame,
    frame_from_rgb,
    frame_to_rgb,
    open_file_source,
    read_image,
)
from glassbridge.camera.convert import rgb_view
from glassbridge.camera.files import raw_frame_bytes
from glassbridge.camera.frame import plane_shapes
from glassbridge.camera.pattern import COUNTER_BITS, box_position, box_side, counter_cells
from glassbridge.camera.v4l2 import (
    FOURCC,
    DequeuedBuffer,
    DeviceFormat,
    LinuxpyDevice,
    V4l2Source,
    frame_from_v4l2_buffer,
    negotiate_format,
)

RNG = np.random.default_rng(20261121)



def load_rgb(path: Path, *, exif_transpose: bool = False) -> np.ndarray:
    """An image file's pixels through Pillow (the independent reader), file closed afterwards."""
    with Image.open(path) as img:
        return np.asarray((ImageOps.exif_transpose(img) if exif_transpose else img).convert("RGB"))

def random_rgb(h: int, w: int) -> np.ndarray:
    return RNG.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def packed_bytes(frame: Frame) -> bytes:
    """The frame's pixels with row padding dropped, planes one after another."""
    shapes = plane_shapes(frame.format, frame.width, frame.height)
    return b"".join(np.ascontiguousarray(p[:r, :b]).tobytes() for p, (r, b) in zip(frame.planes, shapes))


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max())


# ---------------------------------------------------------------------------------------------------------------
# Frame.from_buffer: strides and truncation


def padded_buffer(planes: list[np.ndarray], strides: list[int]) -> bytearray:
    """Lay planes out as a V4L2 driver does: each row padded to its plane's stride, planes back to back."""
    out = bytearray()
    for plane, stride in zip(planes, strides):
        for row in plane:
            out += row.tobytes() + bytes(stride - len(row))
    return out


@pytest.mark.parametrize(
    ("fmt", "width", "height", "stride", "chroma_stride"),
    [
        (PixelFormat.NV12, 64, 48, 128, 128),  # V4L2 NV12: chroma rows share the luma stride
        (PixelFormat.NV12, 62, 30, 64, 64),
        (PixelFormat.I420, 64, 48, 96, 48),  # YU12: chroma stride is half the luma stride
        (PixelFormat.YUYV, 32, 8, 96, None),
        (PixelFormat.RGB888, 10, 6, 32, None),
        (PixelFormat.GRAY8, 7, 5, 8, None),
    ],
)
def test_from_buffer_reads_padded_rows_without_copying(
    fmt: PixelFormat, width: int, height: int, stride: int, chroma_stride: int | None
) -> None:
    shapes = plane_shapes(fmt, width, height)
    planes = [RNG.integers(0, 256, size=shape, dtype=np.uint8) for shape in shapes]
    strides = [stride] + [chroma_stride or 0] * (len(shapes) - 1)
    buf = np.frombuffer(padded_buffer(planes, strides), np.uint8)
    frame = Frame.from_buffer(fmt, width, height, buf, stride=stride, timestamp_ns=5, sequence=9)
    assert frame.strides == tuple(strides)
    for got, want in zip(frame.planes, planes):
        np.testing.assert_array_equal(got, want)
        assert np.shares_memory(got, buf)
    assert (frame.timestamp_ns, frame.sequence) == (5, 9)


def test_from_buffer_refuses_a_truncated_buffer_naming_both_sizes() -> None:
    need = 128 * 48 + 128 * 24
    with pytest.raises(ValueError, match=rf"truncated NV12 64x48 frame: {need - 1} bytes, need {need}"):
        Frame.from_buffer(PixelFormat.NV12, 64, 48, bytes(need - 1), stride=128)
    Frame.from_buffer(PixelFormat.NV12, 64, 48, bytes(need), stride=128)  # exactly enough is fine


def test_from_buffer_refuses_a_stride_shorter_than_a_row() -> None:
    with pytest.raises(ValueError, match="stride 60 is smaller"):
        Frame.from_buffer(PixelFormat.YUYV, 32, 4, bytes(1000), stride=60)


def test_raw_frame_bytes_matches_from_buffer_layout() -> None:
    for fmt in PixelFormat:
        for stride in (None, 256):
            n = raw_frame_bytes(fmt, 64, 48, stride)
            Frame.from_buffer(fmt, 64, 48, bytes(n), stride=stride)
            with pytest.raises(ValueError, match="truncated"):
                Frame.from_buffer(fmt, 64, 48, bytes(n - 1), stride=stride)


# ---------------------------------------------------------------------------------------------------------------
# BT.601 encoder and decoder, against OpenCV (fixed point, so within one level) and the JFIF formulas


def test_encoder_luma_matches_opencv_per_pixel() -> None:
    rgb = random_rgb(48, 64)
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    for fmt in (PixelFormat.NV12, PixelFormat.I420):
        assert max_diff(frame_from_rgb(rgb, fmt).planes[0], ref[:48]) <= 1


def test_encoder_chroma_matches_opencv_on_flat_blocks() -> None:
    # OpenCV takes each block's top-left chroma, the encoder the block mean: identical where blocks are flat.
    rgb = np.repeat(np.repeat(random_rgb(24, 32), 2, axis=0), 2, axis=1)
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    u_ref, v_ref = ref[48:60].reshape(24, 32), ref[60:72].reshape(24, 32)
    i420 = frame_from_rgb(rgb, PixelFormat.I420)
    assert max_diff(i420.planes[1], u_ref) <= 1 and max_diff(i420.planes[2], v_ref) <= 1
    nv12 = frame_from_rgb(rgb, PixelFormat.NV12)
    assert max_diff(nv12.planes[1][:, 0::2], u_ref) <= 1 and max_diff(nv12.planes[1][:, 1::2], v_ref) <= 1


def test_encoder_chroma_is_the_block_mean() -> None:
    # Reference: OpenCV's INTER_AREA halving (the 2x2 mean, rounded), then OpenCV's encoder on flat blocks.
    rgb = random_rgb(48, 64)
    mean = cv2.resize(rgb, (32, 24), interpolation=cv2.INTER_AREA)
    ref = cv2.cvtColor(np.repeat(np.repeat(mean, 2, axis=0), 2, axis=1), cv2.COLOR_RGB2YUV_I420)
    i420 = frame_from_rgb(rgb, PixelFormat.I420)
    assert max_diff(i420.planes[1], ref[48:60].reshape(24, 32)) <= 1
    assert max_diff(i420.planes[2], ref[60:72].reshape(24, 32)) <= 1


def test_yuyv_encoder_matches_opencv() -> None:
    rgb = random_rgb(16, 32)
    ref = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_YUYV).reshape(16, 64)
    assert max_diff(frame_from_rgb(rgb, PixelFormat.YUYV).planes[0], ref) <= 1


def test_odd_sizes_average_the_pixels_an_edge_block_has() -> None:
    rgb = random_rgb(5, 7)
    frame = frame_from_rgb(rgb, PixelFormat.I420)
    assert frame.planes[1].shape == (3, 4)
    # Float64 reference from BT.601: Cb of the corner block is the Cb of its one pixel; of an edge block, the
    # mean over its two pixels.
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    cb = 128 + 224 / 255 * (-0.168736 * r - 0.331264 * g + 0.5 * b)
    assert abs(int(frame.planes[1][2, 3]) - cb[4, 6]) <= 0.5 + 1e-3
    assert abs(int(frame.planes[1][0, 3]) - (cb[0, 6] + cb[1, 6]) / 2) <= 0.5 + 1e-3


@pytest.mark.parametrize(
    ("fmt", "code"),
    [
        (PixelFormat.NV12, cv2.COLOR_YUV2RGB_NV12),
        (PixelFormat.I420, cv2.COLOR_YUV2RGB_I420),
        (PixelFormat.YUYV, cv2.COLOR_YUV2RGB_YUYV),
    ],
)
def test_decoder_matches_opencv_on_legal_yuv(fmt: PixelFormat, code: int) -> None:
    # Legal range only: OpenCV clamps luma below 16 before converting, the exact formula does not (see below).
    w, h = 64, 48
    data = RNG.integers(16, 236, size=raw_frame_bytes(fmt, w, h), dtype=np.uint8)
    frame = Frame.from_buffer(fmt, w, h, data)
    cv_in = data.reshape(h, w, 2) if fmt is PixelFormat.YUYV else data.reshape(h * 3 // 2, w)
    assert max_diff(frame_to_rgb(frame), cv2.cvtColor(cv_in, code)) <= 1


def test_limited_range_decoder_matches_the_bt601_matrix_everywhere() -> None:
    # Every code, footroom and headroom included, against the BT.601 limited-range matrix as usually printed.
    w, h = 64, 48
    data = RNG.integers(0, 256, size=raw_frame_bytes(PixelFormat.NV12, w, h), dtype=np.uint8)
    frame = Frame.from_buffer(PixelFormat.NV12, w, h, data)
    y = frame.planes[0].astype(np.float64) - 16
    u = np.repeat(np.repeat(frame.planes[1][:, 0::2], 2, 0), 2, 1).astype(np.float64) - 128
    v = np.repeat(np.repeat(frame.planes[1][:, 1::2], 2, 0), 2, 1).astype(np.float64) - 128
    ref = np.stack([1.164383 * y + 1.596027 * v, 1.164383 * y - 0.391762 * u - 0.812968 * v,
                    1.164383 * y + 2.017232 * u], axis=-1)
    assert max_diff(frame_to_rgb(frame), np.clip(np.floor(ref + 0.5), 0, 255)) <= 1


def test_full_range_decoder_matches_the_jfif_formulas() -> None:
    w, h = 32, 16
    data = RNG.integers(0, 256, size=raw_frame_bytes(PixelFormat.I420, w, h), dtype=np.uint8)
    frame = Frame.from_buffer(PixelFormat.I420, w, h, data, range=YuvRange.FULL)
    y = frame.planes[0].astype(np.float64)
    u = np.repeat(np.repeat(frame.planes[1], 2, 0), 2, 1).astype(np.float64) - 128
    v = np.repeat(np.repeat(frame.planes[2], 2, 0), 2, 1).astype(np.float64) - 128
    # JFIF (ITU-T T.871) conversion, written independently of the module's derivation from Kr and Kb.
    ref = np.stack([y + 1.402 * v, y - 0.344136 * u - 0.714136 * v, y + 1.772 * u], axis=-1)
    ref = np.clip(np.floor(ref + 0.5), 0, 255)
    assert max_diff(frame_to_rgb(frame), ref) <= 1


def test_packed_rgb_formats_match_opencv_exactly() -> None:
    rgb = random_rgb(9, 11)
    bgr = frame_from_rgb(rgb, PixelFormat.BGR888).planes[0].reshape(9, 11, 3)
    np.testing.assert_array_equal(bgr, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    rgba = frame_from_rgb(rgb, PixelFormat.RGBA8888).planes[0].reshape(9, 11, 4)
    np.testing.assert_array_equal(rgba, cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA))
    rgb565 = frame_from_rgb(rgb, PixelFormat.RGB565).planes[0].reshape(9, 11, 2)
    np.testing.assert_array_equal(rgb565, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR565))  # R in the high bits, LE
    for fmt in (PixelFormat.RGB888, PixelFormat.BGR888, PixelFormat.RGBA8888):
        np.testing.assert_array_equal(frame_to_rgb(frame_from_rgb(rgb, fmt)), rgb)


def test_gray_matches_opencv() -> None:
    rgb = random_rgb(20, 30)
    gray = frame_from_rgb(rgb, PixelFormat.GRAY8)
    assert max_diff(gray.planes[0], cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)) <= 1
    np.testing.assert_array_equal(frame_to_rgb(gray), np.repeat(gray.planes[0][..., None], 3, axis=2))


def test_rgb565_decoder_maps_codes_to_the_nearest_level() -> None:
    codes = np.arange(65536, dtype="<u2").reshape(256, 256)
    frame = Frame(PixelFormat.RGB565, 256, 256, (codes.view(np.uint8).reshape(256, 512),))
    rgb = frame_to_rgb(frame).astype(np.float64)
    r, g, b = codes >> 11, (codes >> 5) & 63, codes & 31
    expected = np.stack([r * 255 / 31, g * 255 / 63, b * 255 / 31], axis=-1)
    assert np.abs(rgb - expected).max() <= 0.5
    # ... and encoding the decoded levels gives the codes back: the decoder loses nothing.
    again = frame_from_rgb(frame_to_rgb(frame), PixelFormat.RGB565).planes[0]
    np.testing.assert_array_equal(again.view("<u2"), codes)


def test_decoder_ignores_row_padding() -> None:
    rgb = random_rgb(12, 16)
    packed = frame_from_rgb(rgb, PixelFormat.NV12)
    buf = padded_buffer(list(packed.planes), [64, 64])
    strided = Frame.from_buffer(PixelFormat.NV12, 16, 12, buf, stride=64)
    np.testing.assert_array_equal(frame_to_rgb(strided), frame_to_rgb(packed))


def test_round_trip_through_nv12_stays_close_on_smooth_images() -> None:
    x = np.linspace(0, 255, 64)
    rgb = np.stack(np.broadcast_arrays(x[None, :], x[:, None] * 0.5 + 60, 255 - x[None, :]), axis=-1)
    rgb = np.round(rgb[:48]).astype(np.uint8)
    back = frame_to_rgb(frame_from_rgb(rgb, PixelFormat.NV12))
    assert max_diff(back, rgb) <= 8  # chroma of 2x2 blocks on a gradient, plus two roundings


def test_encoder_refuses_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        frame_from_rgb(np.zeros((4, 4), np.uint8), PixelFormat.NV12)
    with pytest.raises(ValueError, match="even width"):
        frame_from_rgb(np.zeros((4, 5, 3), np.uint8), PixelFormat.YUYV)


# ---------------------------------------------------------------------------------------------------------------
# Test pattern


def read_counter(frame: Frame) -> int:
    """The frame number from the counter cells (documented layout), from the decoded picture's green channel."""
    cell, cells = counter_cells(frame.width, frame.height)
    rgb = frame_to_rgb(frame)
    bits = [int(rgb[y + cell // 2, x + cell // 2, 1] > 128) for x, y in cells]
    return int("".join(map(str, bits)), 2)


def test_pattern_is_deterministic() -> None:
    a = TestPatternSource(320, 240, PixelFormat.NV12)
    b = TestPatternSource(320, 240, PixelFormat.NV12)
    frames = list(a.frames(max_frames=5))
    assert [f.sequence for f in frames] == [0, 1, 2, 3, 4]
    for n, frame in enumerate(frames):
        assert packed_bytes(frame) == packed_bytes(b.render(n))
    assert packed_bytes(a.render(3)) != packed_bytes(a.render(4))  # it moves


@pytest.mark.parametrize("n", [0, 1, 7, 12345, (1 << COUNTER_BITS) - 1])
def test_pattern_counter_shows_the_frame_number(n: int) -> None:
    assert read_counter(TestPatternSource(640, 480, PixelFormat.NV12).render(n)) == n


def test_pattern_box_moves_and_stays_inside() -> None:
    w, h = 1920, 1080
    side = box_side(w, h)
    positions = [box_position(n, w, h) for n in range(2000)]
    assert all(0 <= x <= w - side and 0 <= y <= h - side and x % 2 == 0 == y % 2 for x, y in positions)
    assert len(set(positions)) > 100


@pytest.mark.parametrize("fmt", list(PixelFormat))
def test_pattern_looks_the_same_in_every_format(fmt: PixelFormat) -> None:
    n = 37
    want = frame_to_rgb(TestPatternSource(192, 108, PixelFormat.RGB888).render(n))
    got = frame_to_rgb(TestPatternSource(192, 108, fmt).render(n))
    if fmt is PixelFormat.GRAY8:
        want = cv2.cvtColor(want, cv2.COLOR_RGB2GRAY)[..., None].repeat(3, axis=2)
    # YUV: two roundings; RGB565: 5/6-bit truncation; shapes are whole 2x2 blocks, so no chroma bleeding.
    tolerance = {PixelFormat.RGB565: 8}.get(fmt, 2)
    assert max_diff(got, want) <= tolerance
    # The box is where box_position says, in the documented colour.
    x, y = box_position(n, 192, 108)
    if fmt not in (PixelFormat.GRAY8,):
        assert max_diff(got[y + 2, x + 2], np.array([255, 128, 0])) <= tolerance


def test_pattern_timestamps_and_validation() -> None:
    source = TestPatternSource(64, 48, fps=25)
    assert [f.timestamp_ns for f in source.frames(max_frames=3)] == [0, 40_000_000, 80_000_000]
    assert source.size == (64, 48) and source.fps == 25 and source.format is PixelFormat.NV12
    for w, h in ((62, 48), (64, 46), (65, 48)):
        with pytest.raises(ValueError, match="even and at least"):
            TestPatternSource(w, h)
    source.close()
    with pytest.raises(CameraError, match="closed"):
        source.read()


def test_realtime_pacing_never_releases_a_frame_early() -> None:
    # Frame n is due at start + n / fps (the release of frame 0) and is stamped with its release time.
    with TestPatternSource(64, 48, fps=500, realtime=True) as source:
        stamps = [f.timestamp_ns for f in source.frames(max_frames=5)]
    assert all(stamps[n] - stamps[0] >= n * 2_000_000 for n in range(5))


def test_pattern_frames_are_independent_memory() -> None:
    source = TestPatternSource(64, 48)
    first = source.read()
    keep = packed_bytes(first)
    for _ in range(3):
        source.read()
    assert packed_bytes(first) == keep
    assert not source.reuses_buffers


# ---------------------------------------------------------------------------------------------------------------
# Image files


def save_png(path: Path, rgb: np.ndarray, exif: Image.Exif | None = None) -> Path:
    img = Image.fromarray(rgb)
    img.save(path, format="PNG", exif=exif) if exif is not None else img.save(path, format="PNG")
    return path


def test_read_image_png_in_rgb_and_camera_formats(tmp_path: Path) -> None:
    rgb = random_rgb(30, 40)
    path = save_png(tmp_path / "a.png", rgb)
    frame = read_image(path)
    assert frame.format is PixelFormat.RGB888 and (frame.width, frame.height) == (40, 30)
    np.testing.assert_array_equal(rgb_view(frame), rgb)
    nv12 = read_image(path, format=PixelFormat.NV12)
    assert nv12.range is YuvRange.LIMITED
    assert max_diff(nv12.planes[0], cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)[:30]) <= 1


def test_read_image_converts_palette_gray_and_alpha_images(tmp_path: Path) -> None:
    rgb = random_rgb(8, 8)
    for mode in ("L", "P", "RGBA", "LA"):
        path = tmp_path / f"{mode}.png"
        Image.fromarray(rgb).convert(mode).save(path)
        want = load_rgb(path)
        np.testing.assert_array_equal(rgb_view(read_image(path)), want)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_read_image_applies_exif_orientation_like_pillow(tmp_path: Path, orientation: int) -> None:
    rgb = random_rgb(6, 10)
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save_png(tmp_path / "o.png", rgb, exif)
    want = load_rgb(path, exif_transpose=True)
    np.testing.assert_array_equal(rgb_view(read_image(path)), want)
    np.testing.assert_array_equal(rgb_view(read_image(path, orient=False)), rgb)


def test_read_image_jpeg_with_dct_scaling(tmp_path: Path) -> None:
    x = np.linspace(0, 255, 640)
    rgb = np.stack(np.broadcast_arrays(x[None, :], x[:480, None] * 0.5, 255 - x[None, :]), axis=-1)
    rgb = np.round(rgb[:480]).astype(np.uint8)
    path = tmp_path / "g.jpg"
    Image.fromarray(rgb).save(path, quality=95)
    full = read_image(path)
    assert (full.width, full.height) == (640, 480)
    assert max_diff(rgb_view(full), load_rgb(path)) <= 4  # two IDCTs
    small = read_image(path, min_size=(100, 100))
    assert 100 <= small.width < 640 and 100 <= small.height < 480


def bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Files that must give a CameraError, with a word the message must contain."""
    good = io.BytesIO()
    Image.fromarray(random_rgb(64, 64)).save(good, format="PNG")
    jpeg = io.BytesIO()
    Image.fromarray(random_rgb(64, 64)).save(jpeg, format="JPEG")
    files = {
        "missing": (tmp_path / "missing.png", "no such file"),
        "folder": (tmp_path, "folder"),
        "empty": (tmp_path / "empty.png", "empty"),
        "text": (tmp_path / "notes.png", "not an image"),
        "truncated png": (tmp_path / "cut.png", "corrupt or truncated"),
        "corrupt jpeg": (tmp_path / "cut.jpg", "JPEG"),
    }
    files["empty"][0].write_bytes(b"")
    files["text"][0].write_text("hello, this is not a picture\n")
    files["truncated png"][0].write_bytes(good.getvalue()[:200])
    files["corrupt jpeg"][0].write_bytes(jpeg.getvalue()[:40] + b"\x00" * 64)
    return files


def test_unreadable_images_raise_camera_error_naming_the_file(tmp_path: Path) -> None:
    for kind, (path, word) in bad_files(tmp_path).items():
        with pytest.raises(CameraError) as info:
            read_image(path)
        message = str(info.value)
        assert str(path) in message and word in message, (kind, message)
        assert "\n" not in message


def test_image_file_source(tmp_path: Path) -> None:
    a, b = random_rgb(10, 12), random_rgb(20, 16)
    save_png(tmp_path / "1.png", a)
    save_png(tmp_path / "2.png", b)
    with ImageFileSource(tmp_path, fps=10) as source:  # a folder: its images sorted by name
        assert source.size == (12, 10)  # before any read: the first image
        frames = list(source)
        assert [f.sequence for f in frames] == [0, 1]
        assert [f.timestamp_ns for f in frames] == [0, 100_000_000]
        np.testing.assert_array_equal(rgb_view(frames[1]), b)
        assert source.size == (16, 20)
        with pytest.raises(EndOfStream):
            source.read()
    looping = ImageFileSource([tmp_path / "2.png"], loop=True, format=PixelFormat.NV12)
    assert len(list(looping.frames(max_frames=5))) == 5 and looping.fps is None


def test_image_file_source_reports_a_bad_file_when_its_turn_comes(tmp_path: Path) -> None:
    save_png(tmp_path / "1.png", random_rgb(8, 8))
    (tmp_path / "2.png").write_text("not an image")
    source = ImageFileSource([tmp_path / "1.png", tmp_path / "2.png"])
    source.read()
    with pytest.raises(CameraError, match="2.png"):
        source.read()
    with pytest.raises(CameraError, match="no image files"):
        ImageFileSource((tmp_path / "empty").mkdir() or tmp_path / "empty")


# ---------------------------------------------------------------------------------------------------------------
# Raw dumps


def test_raw_file_source_reads_padded_nv12_frames(tmp_path: Path) -> None:
    pattern = TestPatternSource(64, 48, PixelFormat.NV12)
    frames = [pattern.render(n) for n in range(3)]
    path = tmp_path / "dump.nv12"
    path.write_bytes(b"".join(padded_buffer(list(f.planes), [80, 80]) for f in frames))
    with RawFileSource(path, 64, 48, stride=80, fps=15) as source:  # format from the suffix
        assert source.format is PixelFormat.NV12 and source.frame_count == 3
        got = list(source)
    assert [packed_bytes(f) for f in got] == [packed_bytes(f) for f in frames]
    assert [f.timestamp_ns for f in got] == [0, 66_666_667, 133_333_333]
    assert got[0].strides == (80, 80)
    looping = RawFileSource(path, 64, 48, stride=80, loop=True)
    assert [f.sequence for f in looping.frames(max_frames=5)] == [0, 1, 2, 3, 4]


def test_raw_file_source_errors(tmp_path: Path) -> None:
    path = tmp_path / "odd.yuyv"
    path.write_bytes(bytes(1000))
    with pytest.raises(CameraError, match=r"1000 bytes is .* frames of YUYV 16x16 \(512 bytes each\)"):
        RawFileSource(path, 16, 16)
    with pytest.raises(CameraError, match="no such file"):
        RawFileSource(tmp_path / "none.nv12", 16, 16)
    with pytest.raises(CameraError, match="suffix"):
        RawFileSource(tmp_path / "frames.bin", 16, 16)
    (tmp_path / "frames.bin").write_bytes(bytes(256))
    assert RawFileSource(tmp_path / "frames.bin", 16, 16, PixelFormat.GRAY8).frame_count == 1


# ---------------------------------------------------------------------------------------------------------------
# Video files (PyAV): FFV1 is lossless, so decoded planes must equal what was encoded


def write_video(path: Path, frames: list[Frame], fps: int = 30) -> None:
    av = pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames[0].width, frames[0].height, "yuv420p"
        for n, frame in enumerate(frames):
            vf = av.VideoFrame(frame.width, frame.height, "yuv420p")
            for plane, data in zip(vf.planes, frame.planes):
                padded = np.zeros((data.shape[0], plane.line_size), np.uint8)
                padded[:, : data.shape[1]] = data
                plane.update(padded)
            vf.pts = n
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_video_file_source_gives_the_encoded_planes(tmp_path: Path) -> None:
    from glassbridge.camera import VideoFileSource

    pattern = TestPatternSource(96, 64, PixelFormat.I420)
    frames = [pattern.render(n) for n in range(4)]
    path = tmp_path / "clip.mkv"
    write_video(path, frames)
    with VideoFileSource(path) as source:
        assert source.size == (96, 64) and source.fps == 30 and source.format is PixelFormat.I420
        got = list(source)
    assert [packed_bytes(f) for f in got] == [packed_bytes(f) for f in frames]
    assert [f.sequence for f in got] == [0, 1, 2, 3]
    assert got[1].timestamp_ns == pytest.approx(1e9 / 30, abs=1e6)  # the container's ms time base
    # NV12: the same samples, chroma interleaved.
    nv12 = TestPatternSource(96, 64, PixelFormat.NV12)
    with VideoFileSource(path, format=PixelFormat.NV12, loop=True) as source:
        looped = list(source.frames(max_frames=6))
    assert packed_bytes(looped[2]) == packed_bytes(nv12.render(2))
    assert packed_bytes(looped[5]) == packed_bytes(nv12.render(1))  # second pass
    stamps = [f.timestamp_ns for f in looped]
    assert stamps == sorted(stamps) and len(set(stamps)) == 6  # the clock continues across the loop


def test_video_file_source_errors(tmp_path: Path) -> None:
    pytest.importorskip("av", reason="PyAV (the 'video' extra) is not installed")
    from glassbridge.camera import VideoFileSource

    with pytest.raises(CameraError, match="no such file"):
        VideoFileSource(tmp_path / "none.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"definitely not a video" * 10)
    with pytest.raises(CameraError, match="junk.mp4"):
        VideoFileSource(junk)
    with pytest.raises(ValueError, match="I420 or NV12"):
        VideoFileSource(junk, format=PixelFormat.RGB888)


def test_open_file_source_picks_by_suffix(tmp_path: Path) -> None:
    save_png(tmp_path / "a.png", random_rgb(8, 8))
    (tmp_path / "a.gray").write_bytes(bytes(64))
    assert isinstance(open_file_source(tmp_path / "a.png"), ImageFileSource)
    assert isinstance(open_file_source(tmp_path / "a.gray", size=(8, 8)), RawFileSource)
    with pytest.raises(CameraError, match="frame size"):
        open_file_source(tmp_path / "a.gray")
    with pytest.raises(CameraError, match="what kind of file"):
        open_file_source(tmp_path / "a.xyz")


# ---------------------------------------------------------------------------------------------------------------
# V4L2: negotiation, buffer wrapping and the streaming loop, against a fake device


class FakeV4l2Device:
    """Behaves like a V4L2 capture driver as far as V4l2Source can see: it rounds sizes, pads rows, keeps a
    queue of buffers and fills the oldest queued one with the next test-pattern frame at each dequeue."""

    def __init__(
        self,
        formats: tuple[str, ...] = ("NV12", "YUYV"),
        align: int = 64,
        round_size: tuple[int, int] | None = None,
        fps: float | None = None,
        bad: dict[int, str] | None = None,
        stall_after: int | None = None,
        bytes_per_line: int | None = None,
        size_image_delta: int = 0,
    ) -> None:
        self.name = "/dev/fake0"
        self.formats, self.align, self.round_size, self.driver_fps = formats, align, round_size, fps
        self.bad = bad or {}  # sequence -> "error" or "short"
        self.stall_after = stall_after
        self.forced_bpl, self.size_image_delta = bytes_per_line, size_image_delta
        self.calls: list[str] = []
        self.queued: deque[int] = deque()
        self.memory: list[bytearray] = []
        self.sequence = 0
        self.streaming = False
        self.fmt: DeviceFormat | None = None

    def set_format(self, width: int, height: int, fourcc: str) -> None:
        self.calls.append(f"set_format {width}x{height} {fourcc}")
        fourcc = fourcc if fourcc in self.formats else self.formats[0]
        width, height = self.round_size or (width, height)
        pixel = PixelFormat.YUYV if fourcc == "YUYV" else PixelFormat.NV12
        row = plane_shapes(pixel, width, height)[0][1]
        bpl = self.forced_bpl or -(-row // self.align) * self.align
        size = raw_frame_bytes(pixel, width, height, bpl) + self.size_image_delta
        self.fmt = DeviceFormat(width, height, fourcc, bpl, size)

    def get_format(self) -> DeviceFormat:
        assert self.fmt is not None
        return self.fmt

    def set_fps(self, fps: float) -> float | None:
        self.calls.append(f"set_fps {fps}")
        if self.driver_fps is None:
            raise OSError(25, "Inappropriate ioctl for device")
        return self.driver_fps

    def allocate(self, count: int) -> list[bytearray]:
        assert self.fmt is not None
        self.calls.append(f"allocate {count}")
        self.memory = [bytearray(self.fmt.size_image) for _ in range(count)]
        return self.memory

    def queue(self, index: int) -> None:
        assert index not in self.queued, f"buffer {index} queued twice"
        self.queued.append(index)

    def expected_frame(self, sequence: int) -> Frame:
        assert self.fmt is not None
        pixel = PixelFormat.YUYV if self.fmt.fourcc == "YUYV" else PixelFormat.NV12
        return TestPatternSource(self.fmt.width, self.fmt.height, pixel).render(sequence)

    def dequeue(self, timeout: float) -> DequeuedBuffer | None:
        assert self.streaming and self.fmt is not None
        if not self.queued or (self.stall_after is not None and self.sequence >= self.stall_after):
            return None
        index = self.queued.popleft()
        seq = self.sequence
        self.sequence += 1
        frame = self.expected_frame(seq)
        strides = [self.fmt.bytes_per_line] * len(frame.planes)
        data = padded_buffer(list(frame.planes), strides)
        self.memory[index][: len(data)] = data
        used = len(data) // 2 if self.bad.get(seq) == "short" else self.fmt.size_image
        return DequeuedBuffer(index, used, seq, 1_000_000_000 + seq * 33_333_333, error=self.bad.get(seq) == "error")

    def stream_on(self) -> None:
        self.calls.append("stream_on")
        self.streaming = True

    def stream_off(self) -> None:
        self.calls.append("stream_off")
        self.streaming = False

    def release(self) -> None:
        self.calls.append("release")

    def close(self) -> None:
        self.calls.append("close")


def test_negotiation_accepts_rounded_sizes_and_padded_rows() -> None:
    device = FakeV4l2Device(round_size=(1280, 736), fps=25.0)
    neg = negotiate_format(device, 1280, 720, PixelFormat.NV12, 30.0)
    assert (neg.width, neg.height, neg.stride, neg.fps) == (1280, 736, 1280, 25.0)
    assert neg.frame_bytes == 1280 * 736 * 3 // 2
    neg = negotiate_format(FakeV4l2Device(align=256), 100, 50, PixelFormat.YUYV, None)
    assert (neg.stride, neg.frame_bytes, neg.fps) == (256, 256 * 50, None)
    # A driver without VIDIOC_S_PARM runs at its own rate: no error, fps unknown.
    assert negotiate_format(FakeV4l2Device(fps=None), 64, 48, PixelFormat.NV12, 30.0).fps is None


def test_negotiation_errors_name_the_device_and_the_answer() -> None:
    with pytest.raises(CameraError, match="asked for NV12, the driver chose YUYV"):
        negotiate_format(FakeV4l2Device(formats=("YUYV",)), 64, 48, PixelFormat.NV12, None)
    with pytest.raises(CameraError, match="100 bytes per line .*a row needs 128"):
        negotiate_format(FakeV4l2Device(bytes_per_line=100), 64, 48, PixelFormat.YUYV, None)
    with pytest.raises(CameraError, match="multi-planar"):
        negotiate_format(FakeV4l2Device(size_image_delta=-1), 64, 48, PixelFormat.NV12, None)
    assert FOURCC[PixelFormat.NV12] == "NV12" and FOURCC[PixelFormat.YUYV] == "YUYV"


def test_frame_from_v4l2_buffer_wraps_a_recorded_buffer_without_copying() -> None:
    device = FakeV4l2Device()
    neg = negotiate_format(device, 96, 64, PixelFormat.NV12, None)
    expected = TestPatternSource(96, 64, PixelFormat.NV12).render(11)
    memory = bytearray(padded_buffer(list(expected.planes), [neg.stride, neg.stride]) + bytes(100))
    frame = frame_from_v4l2_buffer(memory, neg, DequeuedBuffer(2, len(memory), 11, 123_000))
    assert packed_bytes(frame) == packed_bytes(expected)
    assert frame.strides == (128, 128) and frame.sequence == 11 and frame.timestamp_ns == 123_000
    assert np.shares_memory(frame.planes[0], np.frombuffer(memory, np.uint8))
    # bytesused 0: some drivers leave it unset; the whole buffer counts.
    assert packed_bytes(frame_from_v4l2_buffer(memory, neg, DequeuedBuffer(2, 0, 11, 0))) == packed_bytes(expected)
    with pytest.raises(CameraError, match=r"truncated V4L2 buffer 2 \(frame 11\): 1000 bytes"):
        frame_from_v4l2_buffer(memory, neg, DequeuedBuffer(2, 1000, 11, 0))


@pytest.mark.parametrize("fmt", [PixelFormat.NV12, PixelFormat.YUYV])
def test_v4l2_source_streams_frames_lending_one_buffer_at_a_time(fmt: PixelFormat) -> None:
    device = FakeV4l2Device(fps=30.0)
    with V4l2Source(device, 96, 64, fmt, fps=30, buffers=4) as camera:
        assert camera.size == (96, 64) and camera.format is fmt and camera.reuses_buffers
        assert len(device.queued) == 4 and "stream_on" in device.calls
        for n in range(10):
            frame = camera.read()
            assert frame.sequence == n and frame.timestamp_ns == 1_000_000_000 + n * 33_333_333
            assert packed_bytes(frame) == packed_bytes(device.expected_frame(n))
            assert len(device.queued) == 3  # one buffer lent to the caller until the next read
    assert device.calls[-3:] == ["stream_off", "release", "close"]


def test_v4l2_frames_are_valid_until_the_next_read_unless_copied() -> None:
    device = FakeV4l2Device()
    with V4l2Source(device, 64, 48, buffers=2) as camera:
        first = camera.read()
        kept = copy_frame(first)
        for _ in range(3):
            camera.read()
        assert packed_bytes(kept) == packed_bytes(device.expected_frame(0))
        # The view now shows a later picture: the documented lifetime, not a crash.
        assert packed_bytes(first) != packed_bytes(device.expected_frame(0))
    device = FakeV4l2Device()
    with V4l2Source(device, 64, 48, buffers=2, copy=True) as camera:
        first = camera.read()
        assert len(device.queued) == 2 and not camera.reuses_buffers
        for _ in range(3):
            camera.read()
        assert packed_bytes(first) == packed_bytes(device.expected_frame(0))


def test_v4l2_source_skips_bad_buffers_and_gives_up_on_many() -> None:
    device = FakeV4l2Device(bad={1: "error", 2: "short"})
    with V4l2Source(device, 64, 48) as camera:
        assert [f.sequence for f in camera.frames(max_frames=3)] == [0, 3, 4]
        assert len(device.queued) == 3  # the bad buffers went back to the driver
    device = FakeV4l2Device(bad={n: "error" for n in range(100)})
    with V4l2Source(device, 64, 48) as camera, pytest.raises(CameraError, match="8 bad buffers in a row"):
        camera.read()


def test_v4l2_source_times_out_with_advice() -> None:
    with V4l2Source(FakeV4l2Device(stall_after=1), 64, 48, timeout=0.01) as camera:
        camera.read()
        with pytest.raises(CameraError, match="no frame within 0.01 s; is the camera powered"):
            camera.read()


def test_v4l2_source_releases_the_device_when_setup_fails() -> None:
    device = FakeV4l2Device(formats=("YUYV",))
    with pytest.raises(CameraError, match="driver chose"):
        V4l2Source(device, 64, 48, PixelFormat.NV12)
    assert device.calls[-2:] == ["release", "close"] and "stream_on" not in device.calls


def test_v4l2_close_while_a_frame_is_held_and_read_after_close() -> None:
    device = FakeV4l2Device()
    camera = V4l2Source(device, 64, 48)
    frame = camera.read()
    camera.close()
    camera.close()  # idempotent
    assert frame.width == 64 and device.calls.count("close") == 1
    with pytest.raises(CameraError, match="closed"):
        camera.read()


def test_linuxpy_device_errors_without_a_camera(tmp_path: Path) -> None:
    pytest.importorskip("linuxpy", reason="linuxpy (the 'v4l2' extra) is not installed")
    with pytest.raises(CameraError, match="no such video device"):
        LinuxpyDevice(str(tmp_path / "video9"))
    with pytest.raises(CameraError, match="/dev/null: not a usable V4L2 device"):
        LinuxpyDevice("/dev/null")


class FakeLinuxpy:
    """Stands in for `linuxpy.video.device`: records the calls LinuxpyDevice makes and answers with ctypes-like
    structures, so the adapter's translation (fourcc, timestamps, flags, buffer release) is checked here; the
    real ioctls need a camera (see the v4l2 module docstring)."""

    class Capability(enum.IntFlag):
        VIDEO_CAPTURE = 0x1
        VIDEO_CAPTURE_MPLANE = 0x1000
        STREAMING = 0x4000000

    class BufferType(enum.IntEnum):
        VIDEO_CAPTURE = 1

    class Memory(enum.IntEnum):
        MMAP = 1

    class BufferFlag(enum.IntFlag):
        ERROR = 0x40

    def __init__(self, caps: int, ready: bool = True) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.caps = caps
        self.read_fd, self.write_fd = os.pipe()
        if ready:
            os.write(self.write_fd, b"x")  # select() sees the "device" readable
        lv = self

        class Device:
            def __init__(self, path: str, blocking: bool = False) -> None:
                lv.calls.append(("Device", path, blocking))
                self.info = SimpleNamespace(device_capabilities=lv.Capability(lv.caps))
                self.closed = True

            def open(self) -> None:
                self.closed = False

            def close(self) -> None:
                lv.calls.append(("close",))
                self.closed = True

            def fileno(self) -> int:
                return lv.read_fd

        self.Device = Device

    def __getattr__(self, name: str) -> Any:
        if name.startswith(("answer_", "_")):
            raise AttributeError(name)

        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, *args[1:], *kwargs.values()))
            return getattr(self, f"answer_{name}", lambda: None)()

        return record

    @staticmethod
    def answer_get_raw_format() -> Any:
        pix = SimpleNamespace(width=640, height=480, pixelformat=0x3231564E,  # "NV12" little-endian
                              bytesperline=640, sizeimage=640 * 480 * 3 // 2, quantization=1)
        return SimpleNamespace(fmt=SimpleNamespace(pix=pix))

    @staticmethod
    def answer_get_fps() -> Any:
        return 30

    @staticmethod
    def answer_request_buffers() -> Any:
        return SimpleNamespace(count=3)

    @staticmethod
    def answer_query_buffer() -> Any:
        return SimpleNamespace(length=16)

    @staticmethod
    def answer_mmap_from_buffer() -> Any:
        return mmap.mmap(-1, 16)

    @staticmethod
    def answer_dequeue_buffer() -> Any:
        return SimpleNamespace(index=2, bytesused=460800, sequence=77, flags=0x40 | 0x2000,
                               timestamp=SimpleNamespace(secs=12, usecs=345678))

    def close_fds(self) -> None:
        os.close(self.read_fd)
        os.close(self.write_fd)


def test_linuxpy_adapter_translates_calls_and_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    import glassbridge.camera.v4l2 as v4l2

    lv = FakeLinuxpy(FakeLinuxpy.Capability.VIDEO_CAPTURE | FakeLinuxpy.Capability.STREAMING)
    monkeypatch.setattr(v4l2, "_import_linuxpy", lambda: lv)
    try:
        dev = LinuxpyDevice("/dev/video3")
        assert lv.calls[0] == ("Device", "/dev/video3", False)  # non-blocking: select() does the waiting
        dev.set_format(640, 480, "NV12")
        assert lv.calls[-1] == ("set_format", lv.BufferType.VIDEO_CAPTURE, 640, 480, "NV12")
        assert dev.get_format() == DeviceFormat(640, 480, "NV12", 640, 460800, full_range=True)
        assert dev.set_fps(30.0) == 30.0
        maps = dev.allocate(4)
        assert len(maps) == 3  # what the driver granted, not what was asked
        dev.queue(1)
        assert lv.calls[-1] == ("enqueue_buffer", lv.BufferType.VIDEO_CAPTURE, lv.Memory.MMAP, 0, 1)
        buf = dev.dequeue(0.01)
        assert buf == DequeuedBuffer(2, 460800, 77, 12_345_678_000, error=True)
        held = np.frombuffer(maps[0], np.uint8)  # a frame still viewing buffer 0
        dev.release()  # must not raise; leaves the busy mapping to the garbage collector
        assert not any(call[0] == "free_buffers" for call in lv.calls)  # vb2 would answer EBUSY
        del held
        dev.close()
        assert lv.calls[-1] == ("close",)
    finally:
        lv.close_fds()
    idle = FakeLinuxpy(FakeLinuxpy.Capability.VIDEO_CAPTURE | FakeLinuxpy.Capability.STREAMING, ready=False)
    monkeypatch.setattr(v4l2, "_import_linuxpy", lambda: idle)
    try:
        assert LinuxpyDevice("/dev/video3").dequeue(0.01) is None  # nothing readable in time
    finally:
        idle.close_fds()


def test_linuxpy_adapter_refuses_nodes_that_cannot_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    import glassbridge.camera.v4l2 as v4l2

    lv = FakeLinuxpy(FakeLinuxpy.Capability.VIDEO_CAPTURE)  # e.g. a metadata or read()-only node
    monkeypatch.setattr(v4l2, "_import_linuxpy", lambda: lv)
    try:
        with pytest.raises(CameraError, match="not a single-planar streaming capture device"):
            LinuxpyDevice("/dev/video1")
        assert lv.calls[-1] == ("close",)
    finally:
        lv.close_fds()
    isp = FakeLinuxpy(FakeLinuxpy.Capability.VIDEO_CAPTURE_MPLANE | FakeLinuxpy.Capability.STREAMING)
    monkeypatch.setattr(v4l2, "_import_linuxpy", lambda: isp)
    try:
        with pytest.raises(CameraError, match="only the multi-planar capture API"):
            LinuxpyDevice("/dev/video2")
    finally:
        isp.close_fds()
