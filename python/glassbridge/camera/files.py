"""Frames from files: still images, raw camera dumps and videos, for the rig, demos and tests.

* `read_image(path)`: one image as a Frame. JPEG goes through glassbridge.camera.jpeg (libjpeg-turbo, with
  reduced-DCT decoding when `min_size` allows a smaller image), everything else through Pillow; gray images
  deeper than 8 bits (16-bit PNG and TIFF, 16-bit PGM, float TIFF) are scaled to 8 bits by `to_gray8`, not
  clipped. The EXIF orientation of phone photos is applied, so faces are upright. Any other `format` than RGB888
  is produced with the exact BT.601 encoder of glassbridge.camera.convert: an NV12 frame as a camera would send
  it.
* `ImageFileSource(paths)`: a list of images (or folders of them) as a frame source.
* `RawFileSource(path, width, height)`: concatenated raw frames (.nv12, .yuyv, ... dumps of a V4L2 camera).
* `VideoFileSource(path)`: a video through PyAV (`pip install glassbridge[video]`), frames as I420 or NV12 in
  the decoder's own memory, without colour conversion.
* `open_file_source(path)`: picks one of the three from the file name.

A missing, unreadable or corrupt file raises CameraError naming the file and the problem.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from glassbridge.camera.convert import frame_from_rgb, rgb_view
from glassbridge.camera.frame import Frame, PixelFormat, YuvRange, plane_shapes
from glassbridge.camera.source import CameraError, EndOfStream, FrameSource, Pacer

__all__ = [
    "read_image",
    "to_gray8",
    "ImageFileSource",
    "RawFileSource",
    "VideoFileSource",
    "open_file_source",
    "IMAGE_SUFFIXES",
    "RAW_SUFFIXES",
    "VIDEO_SUFFIXES",
]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
# Raw dumps name their layout in the suffix, as `v4l2-ctl --stream-to=frames.nv12` users do.
RAW_SUFFIXES: dict[str, PixelFormat] = {
    ".nv12": PixelFormat.NV12,
    ".i420": PixelFormat.I420,
    ".yu12": PixelFormat.I420,
    ".yuv": PixelFormat.I420,
    ".yuyv": PixelFormat.YUYV,
    ".yuy2": PixelFormat.YUYV,
    ".rgb": PixelFormat.RGB888,
    ".rgb24": PixelFormat.RGB888,
    ".bgr": PixelFormat.BGR888,
    ".bgr24": PixelFormat.BGR888,
    ".rgba": PixelFormat.RGBA8888,
    ".rgb565": PixelFormat.RGB565,
    ".gray": PixelFormat.GRAY8,
    ".y8": PixelFormat.GRAY8,
}
VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mjpeg", ".mjpg", ".h264", ".264"})

_JPEG_MAGIC = b"\xff\xd8\xff"
_EXIF_ORIENTATION = 0x0112


# -- still images ------------------------------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CameraError(f"{path}: no such file", advice="check the path") from None
    except IsADirectoryError:
        raise CameraError(f"{path}: is a folder, not an image file", advice="name an image file") from None
    except PermissionError:
        raise CameraError(f"{path}: permission denied", advice="check the file's permissions") from None
    except OSError as exc:
        raise CameraError(f"{path}: cannot read the file ({exc.strerror or exc})") from exc
    if not data:
        raise CameraError(f"{path}: the file is empty", advice="was a download or copy cut short?")
    return data


def _exif_orientation(data: bytes) -> int:
    """EXIF orientation tag (1..8; 1 = upright) from the file's header; 1 when absent or unreadable."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:  # reads the header only, not the pixels
            value = img.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # a broken EXIF block must not stop a readable image from loading
        return 1
    return int(value) if value in range(1, 9) else 1


def _orient(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an (H, W, 3) image (the same transforms as PIL.ImageOps.exif_transpose)."""
    if orientation == 2:
        return rgb[:, ::-1]
    if orientation == 3:
        return rgb[::-1, ::-1]
    if orientation == 4:
        return rgb[::-1]
    if orientation == 5:
        return rgb.transpose(1, 0, 2)
    if orientation == 6:
        return rgb[::-1].transpose(1, 0, 2)  # rotate 90 degrees clockwise
    if orientation == 7:
        return rgb[::-1, ::-1].transpose(1, 0, 2)
    if orientation == 8:
        return rgb[:, ::-1].transpose(1, 0, 2)  # rotate 90 degrees counter-clockwise
    return rgb


def _decode_jpeg_rgb(path: Path, data: bytes, min_size: tuple[int, int] | None) -> np.ndarray:
    from glassbridge.camera.jpeg import decode_jpeg

    min_w, min_h = min_size if min_size is not None else (None, None)
    try:
        frame = decode_jpeg(data, min_width=min_w, min_height=min_h)
    except Exception as exc:  # libjpeg-turbo reports corrupt data as ValueError; nothing may crash the caller
        problem = str(exc) if "JPEG" in str(exc) else f"corrupt JPEG ({exc})"
        raise CameraError(f"{path}: {problem}", advice="re-export or re-download the image") from exc
    return rgb_view(frame)


#: Pillow's single-channel modes with more than 8 bits per sample, which `Image.convert("RGB")` would clip at 255
#: instead of scaling (a 16-bit photo becomes nearly white, a float one in [0, 1] black).
_DEEP_GRAY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def to_gray8(values: np.ndarray) -> np.ndarray:
    """Samples deeper than 8 bits as 8-bit gray, the way the image was meant to look:

    * unsigned 16-bit (Pillow's I;16 modes: 16-bit PNG, TIFF): round(v / 257), exact integer rounding, so
      v = 257 * a (how an 8-bit image is widened) gives back a;
    * 32-bit integers (mode I: 16-bit PGM, 32-bit TIFF): as 16-bit when every value is within 0..65535 (Pillow
      scales a PGM's maxval to 65535), else stretched from the image's own minimum and maximum (min-max);
    * floats (mode F: float TIFF): values within [0, 1], the usual convention, scaled by 255 and rounded;
      otherwise stretched min-max over the finite values. NaN becomes 0, +inf 255 and -inf 0.
    """
    if values.dtype.kind == "f":
        v = values.astype(np.float64)
        finite = v[np.isfinite(v)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if lo >= 0.0 and hi <= 1.0:
            lo, hi = 0.0, 1.0
        if hi > lo:
            scaled = (np.clip(v, lo, hi) - lo) * (255.0 / (hi - lo))  # clip takes +-inf to hi and lo
        else:  # a constant image outside [0, 1]: nothing to stretch
            scaled = np.where(v > hi, 255.0, 0.0)
        return np.rint(np.where(np.isnan(v), 0.0, scaled)).astype(np.uint8)
    v = values.astype(np.int64)
    lo, hi = (int(v.min()), int(v.max())) if v.size else (0, 0)
    if lo >= 0 and hi <= 0xFFFF:
        return ((v * 2 + 257) // 514).astype(np.uint8)  # round(v / 257) without floats: never a tie (257 is odd)
    # round((v - lo) * 255 / (hi - lo)) in integers (hi > lo here: a constant image is within one of the ranges
    # above or stretched to 0)
    return (((v - lo) * 510 + (hi - lo)) // ((hi - lo) * 2)).astype(np.uint8)


def _pillow_rgb(img: Any) -> np.ndarray:
    """An opened Pillow image as (H, W, 3) uint8 RGB; deep gray modes are scaled by `to_gray8`, not clipped."""
    if img.mode in _DEEP_GRAY_MODES:
        gray = to_gray8(np.asarray(img))
        return np.repeat(gray[:, :, None], 3, axis=2)
    return np.asarray(img.convert("RGB"))


def _decode_pillow_rgb(path: Path, data: bytes) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    kind = "image"
    try:
        with Image.open(io.BytesIO(data)) as img:
            kind = f"{img.format} image" if img.format else kind
            img.load()
            rgb = _pillow_rgb(img)
    except UnidentifiedImageError:
        raise CameraError(
            f"{path}: not an image file Pillow recognises",
            advice="glassbridge reads JPEG, PNG, BMP, GIF, TIFF, WebP and PPM",
        ) from None
    except Image.DecompressionBombError as exc:
        raise CameraError(f"{path}: image too large ({exc})", advice="downscale it first") from exc
    except Exception as exc:  # Pillow raises OSError, SyntaxError or ValueError for broken files
        raise CameraError(f"{path}: corrupt or truncated {kind} ({exc})", advice="re-export the image") from exc
    return rgb


def read_image(
    path: str | os.PathLike[str],
    *,
    format: PixelFormat = PixelFormat.RGB888,
    yuv_range: YuvRange = YuvRange.LIMITED,
    min_size: tuple[int, int] | None = None,
    orient: bool = True,
) -> Frame:
    """Read one image file as a Frame of `format`.

    min_size: (min_width, min_height) the caller needs; a JPEG may then be decoded at 1/2, 1/4 or 1/8 scale
      (libjpeg-turbo's DCT scaling, several times faster) as long as the result is at least that large. Other
      formats always come at full size. Boxes found in a scaled image are in the scaled image's pixels.
    yuv_range: the range of YUV output formats (limited, as cameras send, by default).
    orient: apply the EXIF orientation (phone photos are often stored sideways with a rotation tag).
    """
    p = Path(path)
    fmt = PixelFormat(format)
    data = _read_bytes(p)
    orientation = _exif_orientation(data) if orient else 1
    if data.startswith(_JPEG_MAGIC):
        if min_size is not None and orientation >= 5:  # the decoder sees the image before it is turned
            min_size = (min_size[1], min_size[0])
        rgb = _decode_jpeg_rgb(p, data, min_size)
    else:
        rgb = _decode_pillow_rgb(p, data)
    rgb = np.ascontiguousarray(_orient(rgb, orientation))
    if fmt is PixelFormat.YUYV and rgb.shape[1] % 2:
        rgb = rgb[:, :-1]  # YUYV pairs pixels; a camera would not deliver an odd width either
    try:
        return frame_from_rgb(rgb, fmt, yuv_range=yuv_range)
    except ValueError as exc:
        raise CameraError(f"{p}: cannot convert to {fmt.name} ({exc})") from exc


def _expand_paths(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> list[Path]:
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(c for c in p.iterdir() if c.suffix.lower() in IMAGE_SUFFIXES and c.is_file())
            if not found:
                raise CameraError(f"{p}: no image files in this folder", advice=f"expected {sorted(IMAGE_SUFFIXES)}")
            out += found
        else:
            out.append(p)
    if not out:
        raise CameraError("no image files given", advice="name at least one image file or folder")
    return out


class ImageFileSource(FrameSource):
    """Still images (files, or folders of them, sorted by name) delivered one after another.

    loop: start again after the last image (an endless source). fps: if given, frame n carries the presentation
    time n / fps and, with realtime=True, read() is paced to it; if None, frames carry the monotonic time at
    which they were read. format, yuv_range, min_size: as read_image. A file that cannot be read raises
    CameraError when its turn comes.
    """

    def __init__(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        loop: bool = False,
        fps: float | None = None,
        format: PixelFormat = PixelFormat.RGB888,
        yuv_range: YuvRange = YuvRange.LIMITED,
        min_size: tuple[int, int] | None = None,
        realtime: bool = False,
    ) -> None:
        super().__init__()
        self.paths: list[Path] = _expand_paths(paths)
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be positive or None, got {fps}")
        if realtime and fps is None:
            raise ValueError("realtime playback needs an fps")
        self._loop, self._fps, self._format = loop, fps, PixelFormat(format)
        self._range, self._min_size = yuv_range, min_size
        self._pacer = Pacer(fps) if realtime and fps else None
        self._n = 0
        self._peeked: Frame | None = None
        self._last_size: tuple[int, int] | None = None

    @property
    def format(self) -> PixelFormat:
        return self._format

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def name(self) -> str:
        return str(self.paths[0]) if len(self.paths) == 1 else f"{len(self.paths)} images from {self.paths[0].parent}"

    @property
    def size(self) -> tuple[int, int]:
        """Size of the last frame read; before the first read, of the first image (decoded now, delivered next).
        Images in one source may differ in size."""
        if self._last_size is None:
            if self._peeked is None:
                self._peeked = self._decode(self._n)
            return self._peeked.width, self._peeked.height
        return self._last_size

    def _decode(self, n: int) -> Frame:
        if n >= len(self.paths) and not self._loop:
            raise EndOfStream(f"{self.name}: all {len(self.paths)} images delivered")
        path = self.paths[n % len(self.paths)]
        return read_image(path, format=self._format, yuv_range=self._range, min_size=self._min_size)

    def _next_frame(self) -> Frame:
        frame = self._peeked if self._peeked is not None else self._decode(self._n)
        self._peeked = None
        n = self._n
        self._n += 1
        if self._pacer is not None:
            self._pacer.wait()
        ts = int(round(n * 1e9 / self._fps)) if self._fps else None
        frame = Frame(frame.format, frame.width, frame.height, frame.planes,
                      timestamp_ns=frame.timestamp_ns if ts is None else ts, range=frame.range, sequence=n)
        self._last_size = (frame.width, frame.height)
        return frame


# -- raw dumps ---------------------------------------------------------------------------------------------------
def raw_frame_bytes(fmt: PixelFormat, width: int, height: int, stride: int | None = None) -> int:
    """Bytes of one raw frame in the layout Frame.from_buffer (and V4L2's single-planar formats) use: planes one
    after another, NV12 chroma rows with the luma stride, I420 chroma rows with half of it."""
    shapes = plane_shapes(fmt, width, height)
    if stride is None:
        return sum(rows * row_bytes for rows, row_bytes in shapes)
    if fmt is PixelFormat.NV12:
        return stride * (shapes[0][0] + shapes[1][0])
    if fmt is PixelFormat.I420:
        return stride * shapes[0][0] + 2 * (stride // 2) * shapes[1][0]
    return stride * height


class RawFileSource(FrameSource):
    """Frames from a file of raw frames laid end to end (a V4L2 capture dump), mapped into memory, not copied.

    format: the pixel layout; None takes it from the suffix (.nv12, .i420/.yuv, .yuyv, .rgb, .bgr, .rgba,
    .rgb565, .gray). stride: bytes per luma row when rows are padded (as the camera's bytesperline). fps: frame n
    carries the presentation time n / fps. yuv_range: what the camera sent (limited for nearly all sensors).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        width: int,
        height: int,
        format: PixelFormat | None = None,
        *,
        stride: int | None = None,
        fps: float = 30.0,
        loop: bool = False,
        yuv_range: YuvRange = YuvRange.LIMITED,
        realtime: bool = False,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        if format is None:
            try:
                format = RAW_SUFFIXES[self.path.suffix.lower()]
            except KeyError:
                raise CameraError(
                    f"{self.path}: cannot tell the pixel format from the suffix {self.path.suffix!r}",
                    advice=f"name it with one of {sorted(RAW_SUFFIXES)} or pass the format",
                ) from None
        self._format = PixelFormat(format)
        if width <= 0 or height <= 0:
            raise ValueError(f"frame size must be positive, got {width}x{height}")
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self._width, self._height, self._stride, self._fps = width, height, stride, float(fps)
        self._loop, self._range = loop, yuv_range
        self._pacer = Pacer(fps) if realtime else None
        self.frame_bytes = raw_frame_bytes(self._format, width, height, stride)
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            raise CameraError(f"{self.path}: no such file", advice="check the path") from None
        except OSError as exc:
            raise CameraError(f"{self.path}: cannot read the file ({exc.strerror or exc})") from exc
        if size == 0 or size % self.frame_bytes:
            raise CameraError(
                f"{self.path}: {size} bytes is {size / self.frame_bytes:.3g} frames of "
                f"{self._format.name} {width}x{height} ({self.frame_bytes} bytes each)",
                advice="check the size, the format and the stride the frames were captured with",
            )
        self.frame_count = size // self.frame_bytes
        try:
            self._data: np.ndarray | None = np.memmap(self.path, dtype=np.uint8, mode="r")
        except OSError as exc:
            raise CameraError(f"{self.path}: cannot map the file ({exc.strerror or exc})") from exc
        self._n = 0

    @property
    def format(self) -> PixelFormat:
        return self._format

    @property
    def size(self) -> tuple[int, int]:
        return self._width, self._height

    @property
    def fps(self) -> float:
        return self._fps

    @property
    def name(self) -> str:
        return str(self.path)

    def _next_frame(self) -> Frame:
        assert self._data is not None
        n = self._n
        if n >= self.frame_count and not self._loop:
            raise EndOfStream(f"{self.path}: all {self.frame_count} frames delivered")
        offset = (n % self.frame_count) * self.frame_bytes
        self._n += 1
        if self._pacer is not None:
            self._pacer.wait()
        return Frame.from_buffer(
            self._format, self._width, self._height, self._data[offset : offset + self.frame_bytes],
            stride=self._stride, timestamp_ns=int(round(n * 1e9 / self._fps)), range=self._range, sequence=n,
        )

    def _close(self) -> None:
        # Frames handed out keep their own reference to the mapping, so dropping ours never invalidates them.
        self._data = None


# -- video -------------------------------------------------------------------------------------------------------
def _import_av() -> Any:
    try:
        import av
    except ImportError as exc:
        raise CameraError(
            "reading video files needs PyAV, which is not installed",
            advice="pip install 'glassbridge[video]' (or: pip install av)",
        ) from exc
    return av


class VideoFileSource(FrameSource):
    """Frames of a video file's first video stream, decoded by FFmpeg through PyAV.

    format: I420 (most decoders' native yuv420p: planes wrapped without a copy) or NV12 (the chroma bytes
    interleaved in numpy: a repack, no colour conversion). A video in another pixel format (4:2:2, 4:4:4, RGB)
    is converted to 4:2:0 by libswscale, the one case with a colour conversion. The frames' YuvRange comes from
    the stream (full for MJPEG/yuvj, limited otherwise). Timestamps are the stream's presentation times; with loop=True, each pass continues the clock.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: PixelFormat = PixelFormat.I420,
        loop: bool = False,
        realtime: bool = False,
    ) -> None:
        super().__init__()
        self.path = Path(path)
        self._format = PixelFormat(format)
        if self._format not in (PixelFormat.I420, PixelFormat.NV12):
            raise ValueError(f"videos are delivered as I420 or NV12, not {self._format.name}")
        self._loop = loop
        av = _import_av()
        if not self.path.exists():
            raise CameraError(f"{self.path}: no such file", advice="check the path")
        try:
            self._container = av.open(str(self.path))
            streams = self._container.streams.video
            if not streams:
                raise CameraError(f"{self.path}: has no video stream")
            self._stream = streams[0]
        except CameraError:
            raise
        except Exception as exc:  # av.error.InvalidDataError and friends
            raise CameraError(f"{self.path}: not a video FFmpeg can read ({exc})") from exc
        ctx = self._stream.codec_context
        self._width, self._height = int(ctx.width), int(ctx.height)
        rate = self._stream.average_rate or self._stream.guessed_rate
        self._fps: float | None = float(rate) if rate else None
        self._pacer = Pacer(self._fps) if realtime and self._fps else None
        self._decoder = self._container.decode(self._stream)
        self._n = 0
        self._pass_frames = 0
        self._offset_ns = 0  # added to timestamps on each new pass when looping
        self._last_ts_ns = 0

    @property
    def format(self) -> PixelFormat:
        return self._format

    @property
    def size(self) -> tuple[int, int]:
        return self._width, self._height

    @property
    def fps(self) -> float | None:
        return self._fps

    @property
    def name(self) -> str:
        return str(self.path)

    def _decode_next(self) -> Any:
        for attempt in range(2):  # at most one rewind per frame: a pass that yields nothing ends the stream
            try:
                frame = next(self._decoder)
                self._pass_frames += 1
                return frame
            except StopIteration:
                if not self._loop or self._pass_frames == 0 or attempt:
                    raise EndOfStream(f"{self.path}: end of video after {self._n} frames") from None
            except Exception as exc:
                raise CameraError(f"{self.path}: decoding failed at frame {self._n} ({exc})") from exc
            period = int(round(1e9 / self._fps)) if self._fps else 0
            self._offset_ns = self._last_ts_ns + period
            try:
                self._container.seek(0)
            except Exception as exc:
                raise CameraError(f"{self.path}: cannot rewind to loop ({exc})") from exc
            self._decoder = self._container.decode(self._stream)
            self._pass_frames = 0
        raise AssertionError("unreachable")

    def _next_frame(self) -> Frame:
        vf = self._decode_next()
        full = vf.format.name.startswith("yuvj") or int(vf.color_range) == 2  # AVCOL_RANGE_JPEG
        if vf.format.name not in ("yuv420p", "yuvj420p", "nv12"):
            # 4:2:2, 4:4:4 or RGB video: libswscale makes 4:2:0 (the only conversion this source ever does).
            vf = vf.reformat(format="yuv420p")
            full = False
        native = PixelFormat.NV12 if vf.format.name == "nv12" else PixelFormat.I420
        shapes = plane_shapes(native, vf.width, vf.height)
        planes = []
        for plane, (rows, row_bytes) in zip(vf.planes, shapes):
            buf = np.frombuffer(plane, np.uint8)  # keeps the decoder's frame alive as long as the array
            planes.append(buf[: rows * plane.line_size].reshape(rows, plane.line_size)[:, :row_bytes])
        if native is not self._format:
            planes = _repack_420(planes, self._format)
        if vf.time is not None:
            ts = self._offset_ns + int(round(vf.time * 1e9))
        else:
            ts = int(round(self._n * 1e9 / self._fps)) if self._fps else 0
        self._last_ts_ns = ts
        n = self._n
        self._n += 1
        if self._pacer is not None:
            self._pacer.wait()
        return Frame(self._format, vf.width, vf.height, tuple(planes), timestamp_ns=ts,
                     range=YuvRange.FULL if full else YuvRange.LIMITED, sequence=n)

    def _close(self) -> None:
        self._container.close()


def _repack_420(planes: list[np.ndarray], to: PixelFormat) -> list[np.ndarray]:
    """I420 <-> NV12: move the chroma bytes between separate and interleaved planes; no value changes."""
    if to is PixelFormat.NV12:
        y, u, v = planes
        uv = np.empty((u.shape[0], 2 * u.shape[1]), np.uint8)
        uv[:, 0::2], uv[:, 1::2] = u, v
        return [y, uv]
    y, uv = planes
    return [y, np.ascontiguousarray(uv[:, 0::2]), np.ascontiguousarray(uv[:, 1::2])]


# -- choosing by name --------------------------------------------------------------------------------------------
def open_file_source(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | None = None,
    format: PixelFormat | None = None,
    loop: bool = False,
    fps: float | None = None,
) -> FrameSource:
    """The right file source for `path` by its suffix: image (or a folder of images), raw dump (needs size) or
    video. format: the frames' pixel format (defaults: RGB888 for images, the suffix's for raw, I420 for video)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if p.is_dir() or suffix in IMAGE_SUFFIXES:
        return ImageFileSource(p, loop=loop, fps=fps, format=format or PixelFormat.RGB888)
    if suffix in RAW_SUFFIXES:
        if size is None:
            raise CameraError(f"{p}: a raw frame file needs the frame size", advice="give it, e.g. --size 1920x1080")
        return RawFileSource(p, size[0], size[1], format, fps=fps or 30.0, loop=loop)
    if suffix in VIDEO_SUFFIXES:
        return VideoFileSource(p, format=format or PixelFormat.I420, loop=loop)
    known: Sequence[str] = sorted(IMAGE_SUFFIXES | set(RAW_SUFFIXES) | VIDEO_SUFFIXES)
    raise CameraError(f"{p}: cannot tell what kind of file this is from {suffix or 'no suffix'}",
                      advice=f"use one of {', '.join(known)}")
