"""V4L2 capture on a dev kit: NV12 or YUYV frames straight from the camera driver's mmap buffers.

    with V4l2Source("/dev/video0", 1920, 1080, PixelFormat.NV12, fps=30) as camera:
        for frame in camera.frames(max_frames=100):
            faces = pipeline.run(frame)          # done with the frame before the next read

Layers, from the kernel up:
  * `LinuxpyDevice`: the only code that talks to the kernel, through linuxpy (`linuxpy.video.device`): open,
    S_FMT/G_FMT, S_PARM, REQBUFS + QUERYBUF + mmap, QBUF/DQBUF with select(), STREAMON/STREAMOFF.
  * `negotiate_format(device, ...)`: asks for a size, format and rate, reads back what the driver chose
    (drivers round sizes and pad rows), and checks that it can be read as a Frame.
  * `frame_from_v4l2_buffer(memory, negotiated, buffer)`: wraps one dequeued buffer as a Frame without copying,
    with the driver's row stride and timestamp (CLOCK_MONOTONIC, the clock Frame uses).
  * `V4l2Source`: the FrameSource that streams: keeps all buffers queued but the one lent out.

Buffer lifetime (zero copy): a frame from `read()` is a view of a driver buffer. It stays valid until the next
`read()` or `close()`, when the buffer goes back to the driver, which then overwrites it with a later picture.
Process each frame before reading the next one (the perception loop does), or keep it with `copy_frame(frame)`,
or open the source with `copy=True` (one copy of the frame per read). The memory itself stays mapped while any
frame refers to it, so a frame kept too long shows a later picture; it never crashes.

Limitation: the single-planar API only (V4L2_CAP_VIDEO_CAPTURE, one buffer holding all planes, as UVC webcams
and most sensor drivers offer). An ISP that exposes only the multi-planar API (VIDEO_CAPTURE_MPLANE, NV12M) is
refused with a message saying so; supporting it means one mmap per plane and a Frame built from several buffers.

What is tested where (this CI machine has no /dev/video*):
  * Tested here, in tests/unit/test_camera.py: format negotiation (rounded sizes, padded strides, a substituted
    pixel format, an impossible stride, a frame rate the driver changes) against a fake device object; buffer to
    Frame wrapping with recorded-looking buffers (padded rows, truncated and error-flagged buffers); the streaming
    loop (queue/requeue order, the lent-out buffer, copy=True, timeouts, close with frames still held);
    LinuxpyDevice's translation (fourcc codes, timestamps, the error flag, buffer release while a frame still
    maps one) against a stand-in for linuxpy's module; and, through the real linuxpy, the errors for a missing
    device and for a file that is not a V4L2 device (/dev/null).
  * Needs a dev kit (or any Linux machine with a camera or the `vivid` test driver, `modprobe vivid`): the
    ioctls themselves against a real driver (S_FMT rounding, REQBUFS, mmap, DQBUF timing). Run
        glassbridge camera list
        glassbridge camera grab --device /dev/video0 --size 1920x1080 --format NV12 --frames 30 --out grab.png
    and check that the PNG shows the scene with the right colours (BT.601 limited range), that the reported
    stride and size match `v4l2-ctl -d /dev/video0 --get-fmt-video`, and that timestamps rise by ~1/fps.
    A UVC webcam on a laptop usually offers YUYV only: add `--format YUYV`.
"""

from __future__ import annotations

import os
import select
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from glassbridge.camera.frame import Frame, PixelFormat, YuvRange, plane_shapes
from glassbridge.camera.files import raw_frame_bytes
from glassbridge.camera.source import CameraError, FrameSource, copy_frame

__all__ = [
    "FOURCC",
    "DeviceFormat",
    "DequeuedBuffer",
    "Negotiated",
    "V4l2Device",
    "LinuxpyDevice",
    "V4l2Source",
    "negotiate_format",
    "frame_from_v4l2_buffer",
    "list_devices",
    "probe_device",
    "DeviceInfo",
]

# V4L2 fourcc codes of the single-planar formats a Frame can hold (videodev2.h).
FOURCC: dict[PixelFormat, str] = {
    PixelFormat.NV12: "NV12",
    PixelFormat.I420: "YU12",
    PixelFormat.YUYV: "YUYV",
    PixelFormat.RGB888: "RGB3",
    PixelFormat.BGR888: "BGR3",
    PixelFormat.RGBA8888: "AB24",  # V4L2_PIX_FMT_RGBA32: bytes R, G, B, A
    PixelFormat.RGB565: "RGBP",  # little-endian, R in the high 5 bits
    PixelFormat.GRAY8: "GREY",
}

# A few bad buffers in a row (error flag, short) happen when a sensor restarts; many mean a broken setup.
MAX_BAD_BUFFERS_IN_A_ROW = 8


@dataclass(frozen=True)
class DeviceFormat:
    """What the driver reports after S_FMT (struct v4l2_pix_format)."""

    width: int
    height: int
    fourcc: str
    bytes_per_line: int
    size_image: int
    full_range: bool = False  # quantization == V4L2_QUANTIZATION_FULL_RANGE


@dataclass(frozen=True)
class DequeuedBuffer:
    """One buffer handed back by VIDIOC_DQBUF."""

    index: int
    bytesused: int
    sequence: int
    timestamp_ns: int
    error: bool = False  # V4L2_BUF_FLAG_ERROR: the driver says the data may be corrupt


@dataclass(frozen=True)
class Negotiated:
    """The stream as the driver set it up, checked readable as a Frame."""

    format: PixelFormat
    width: int
    height: int
    stride: int  # bytes per luma (or packed) row
    frame_bytes: int  # bytes of one frame in the buffer
    fps: float | None
    yuv_range: YuvRange


class V4l2Device(Protocol):
    """The handful of V4L2 operations V4l2Source needs; LinuxpyDevice implements them, tests fake them."""

    name: str

    def set_format(self, width: int, height: int, fourcc: str) -> None: ...
    def get_format(self) -> DeviceFormat: ...
    def set_fps(self, fps: float) -> float | None: ...
    def allocate(self, count: int) -> Sequence[Any]: ...
    def queue(self, index: int) -> None: ...
    def dequeue(self, timeout: float) -> DequeuedBuffer | None: ...
    def stream_on(self) -> None: ...
    def stream_off(self) -> None: ...
    def release(self) -> None: ...
    def close(self) -> None: ...


def negotiate_format(
    device: V4l2Device, width: int, height: int, fmt: PixelFormat, fps: float | None
) -> Negotiated:
    """Ask the driver for width x height in fmt at fps, and check what it chose.

    A driver may round the size to one its sensor supports (accepted: frames carry their size) and pad rows to
    an alignment (accepted: the stride goes into the Frame). A different pixel format, a stride shorter than a
    row or a buffer smaller than the frame are errors naming the device and what it answered.
    """
    if fmt not in FOURCC:
        raise CameraError(f"{device.name}: {fmt.name} cannot be captured", advice=f"use one of {sorted(FOURCC.values())}")
    fourcc = FOURCC[fmt]
    try:
        device.set_format(width, height, fourcc)
        got = device.get_format()
    except OSError as exc:
        raise CameraError(
            f"{device.name}: setting {width}x{height} {fourcc} failed ({exc.strerror or exc})",
            advice="see the sizes and formats the camera offers with: glassbridge camera list",
        ) from exc
    if got.fourcc != fourcc:
        raise CameraError(
            f"{device.name}: asked for {fourcc}, the driver chose {got.fourcc}",
            advice="pick a format the camera offers (glassbridge camera list), e.g. --format YUYV for UVC webcams",
        )
    if got.width <= 0 or got.height <= 0 or (fmt is PixelFormat.YUYV and got.width % 2):
        raise CameraError(f"{device.name}: the driver reported an unusable size {got.width}x{got.height}")
    row_bytes = plane_shapes(fmt, got.width, got.height)[0][1]
    stride = got.bytes_per_line or row_bytes
    if stride < row_bytes:
        raise CameraError(
            f"{device.name}: the driver reported {stride} bytes per line for {got.width} px of {fourcc} "
            f"(a row needs {row_bytes})",
            advice="this driver's single-planar format is not usable; report it with `v4l2-ctl --all`",
        )
    frame_bytes = raw_frame_bytes(fmt, got.width, got.height, stride if got.bytes_per_line else None)
    if got.size_image and got.size_image < frame_bytes:
        raise CameraError(
            f"{device.name}: the driver's buffers hold {got.size_image} bytes, a {got.width}x{got.height} "
            f"{fourcc} frame with stride {stride} needs {frame_bytes}",
            advice="the driver may use separate planes (multi-planar API), which this source does not read",
        )
    actual_fps = None
    if fps is not None:
        try:
            actual_fps = device.set_fps(fps)
        except OSError:  # drivers without VIDIOC_S_PARM run at their own rate
            actual_fps = None
    return Negotiated(fmt, got.width, got.height, stride, frame_bytes, actual_fps,
                      YuvRange.FULL if got.full_range and fmt.is_yuv else YuvRange.LIMITED)


def frame_from_v4l2_buffer(memory: Any, negotiated: Negotiated, buffer: DequeuedBuffer) -> Frame:
    """Wrap the memory of one dequeued buffer as a Frame, without copying (see the buffer lifetime above).

    memory: the mapped buffer (anything exporting the buffer protocol). A buffer whose bytesused is smaller than
    a frame is truncated (a camera stopped mid-frame) and raises CameraError; bytesused 0 means "the whole
    buffer", which some drivers report.
    """
    view = memoryview(memory).cast("B")
    used = buffer.bytesused or len(view)
    need = negotiated.frame_bytes
    if used < need or len(view) < need:
        raise CameraError(
            f"truncated V4L2 buffer {buffer.index} (frame {buffer.sequence}): {min(used, len(view))} bytes, "
            f"a {negotiated.width}x{negotiated.height} {negotiated.format.name} frame needs {need}"
        )
    return Frame.from_buffer(
        negotiated.format, negotiated.width, negotiated.height, view[:need],
        stride=negotiated.stride, timestamp_ns=buffer.timestamp_ns, range=negotiated.yuv_range,
        sequence=buffer.sequence,
    )


class V4l2Source(FrameSource):
    """Frames from a V4L2 capture device (a MIPI sensor on the dev kit, a UVC webcam on a laptop).

    device: a path ("/dev/video0") opened through linuxpy, or an object implementing V4l2Device.
    width, height, format, fps: what to ask for; the driver may round the size (see `size` after opening).
    buffers: mmap buffers to cycle; one is lent to the caller, the others keep the sensor busy.
    copy: give every frame memory of its own (then frames may be kept; one memcpy per frame).
    timeout: seconds to wait for a frame before raising CameraError.
    """

    def __init__(
        self,
        device: str | os.PathLike[str] | V4l2Device = "/dev/video0",
        width: int = 1920,
        height: int = 1080,
        format: PixelFormat = PixelFormat.NV12,
        fps: float | None = 30.0,
        *,
        buffers: int = 4,
        copy: bool = False,
        timeout: float = 2.0,
    ) -> None:
        super().__init__()
        if buffers < 2:
            raise ValueError(f"V4L2 streaming needs at least 2 buffers, got {buffers}")
        self._device: V4l2Device = (
            LinuxpyDevice(os.fspath(device)) if isinstance(device, (str, os.PathLike)) else device
        )
        self._copy, self._timeout = copy, timeout
        self._held: int | None = None
        self._streaming = False
        self._memory: Sequence[Any] = []
        try:
            self.negotiated = negotiate_format(self._device, width, height, PixelFormat(format), fps)
            self._memory = self._allocate(buffers)
            for index in range(len(self._memory)):
                self._device.queue(index)
            self._device.stream_on()
            self._streaming = True
        except BaseException:
            self._teardown()
            raise

    def _allocate(self, count: int) -> Sequence[Any]:
        try:
            memory = self._device.allocate(count)
        except OSError as exc:
            raise CameraError(f"{self._device.name}: cannot allocate {count} capture buffers ({exc.strerror or exc})",
                              advice="another program may be using the camera; close it") from exc
        if len(memory) < 2:
            raise CameraError(f"{self._device.name}: the driver gave {len(memory)} buffer(s), streaming needs 2")
        return memory

    @property
    def reuses_buffers(self) -> bool:  # type: ignore[override]
        return not self._copy

    @property
    def format(self) -> PixelFormat:
        return self.negotiated.format

    @property
    def size(self) -> tuple[int, int]:
        return self.negotiated.width, self.negotiated.height

    @property
    def fps(self) -> float | None:
        return self.negotiated.fps

    @property
    def name(self) -> str:
        return self._device.name

    def _next_frame(self) -> Frame:
        if self._held is not None:  # the caller is done with the previous frame: give its buffer back
            held, self._held = self._held, None
            self._device.queue(held)
        bad: list[str] = []
        while True:
            try:
                buffer = self._device.dequeue(self._timeout)
            except OSError as exc:
                raise CameraError(f"{self.name}: capture failed ({exc.strerror or exc})",
                                  advice="the camera may have been unplugged or powered off") from exc
            if buffer is None:
                raise CameraError(
                    f"{self.name}: no frame within {self._timeout:g} s",
                    advice="is the camera powered (the MCU switches its rail together with the LED) and streaming? "
                    "see `dmesg`",
                )
            try:
                if buffer.error:
                    raise CameraError(f"V4L2 buffer {buffer.index} (frame {buffer.sequence}) flagged as corrupt")
                frame = frame_from_v4l2_buffer(self._memory[buffer.index], self.negotiated, buffer)
            except CameraError as exc:
                self._device.queue(buffer.index)
                bad.append(str(exc))
                if len(bad) >= MAX_BAD_BUFFERS_IN_A_ROW:
                    raise CameraError(f"{self.name}: {len(bad)} bad buffers in a row, last: {bad[-1]}",
                                      advice="check the sensor's connection and the negotiated format") from exc
                continue
            if self._copy:
                frame = copy_frame(frame)
                self._device.queue(buffer.index)
            else:
                self._held = buffer.index
            return frame

    def _teardown(self) -> None:
        # Each step is attempted even when an earlier one fails: a half-open device must still be released.
        steps = []
        if self._streaming:
            steps.append(self._device.stream_off)
        steps += [self._device.release, self._device.close]
        self._streaming = False
        self._held = None
        for step in steps:
            try:
                step()
            except (OSError, BufferError):
                pass

    def _close(self) -> None:
        self._teardown()


# -- the kernel side, through linuxpy (needs a real device to exercise; see the module docstring) -------------------
def _import_linuxpy() -> Any:
    try:
        from linuxpy.video import device as lv
    except ImportError as exc:
        raise CameraError("V4L2 capture needs linuxpy, which is not installed",
                          advice="pip install 'glassbridge[v4l2]' (or: pip install linuxpy)") from exc
    return lv


def _fourcc_str(code: int) -> str:
    return "".join(chr((code >> shift) & 0xFF) for shift in (0, 8, 16, 24))


class LinuxpyDevice:
    """V4l2Device over linuxpy's ioctl wrappers, with mmap buffers and select() for the timeout."""

    def __init__(self, path: str) -> None:
        lv = _import_linuxpy()
        self._lv = lv
        self.name = path
        self._maps: list[Any] = []
        self._dev: Any = None
        try:
            self._dev = lv.Device(path, blocking=False)
            self._dev.open()
            caps = self._dev.info.device_capabilities  # VIDIOC_QUERYCAP: ENOTTY means "not a V4L2 device"
        except FileNotFoundError:
            raise CameraError(f"{path}: no such video device",
                              advice="list cameras with `glassbridge camera list` (or `ls /dev/video*`)") from None
        except PermissionError:
            raise CameraError(f"{path}: permission denied",
                              advice="add yourself to the `video` group (sudo usermod -aG video $USER), log in again")\
                from None
        except OSError as exc:
            if getattr(self, "_dev", None) is not None:
                self._dev.close()
            raise CameraError(f"{path}: not a usable V4L2 device ({exc.strerror or exc})",
                              advice="name a /dev/videoN capture node") from exc
        if lv.Capability.VIDEO_CAPTURE not in caps or lv.Capability.STREAMING not in caps:
            self._dev.close()
            mplane = getattr(lv.Capability, "VIDEO_CAPTURE_MPLANE", None)
            if mplane is not None and mplane in caps:
                raise CameraError(f"{path}: offers only the multi-planar capture API, not supported yet",
                                  advice="look for a single-planar node of the same camera (v4l2-ctl --list-devices)")
            raise CameraError(f"{path}: not a single-planar streaming capture device ({caps!r})",
                              advice="cameras often expose several nodes; try the other /dev/videoN")

    def set_format(self, width: int, height: int, fourcc: str) -> None:
        self._lv.set_format(self._dev, self._lv.BufferType.VIDEO_CAPTURE, width, height, pixel_format=fourcc)

    def get_format(self) -> DeviceFormat:
        pix = self._lv.get_raw_format(self._dev, self._lv.BufferType.VIDEO_CAPTURE).fmt.pix
        return DeviceFormat(int(pix.width), int(pix.height), _fourcc_str(int(pix.pixelformat)),
                            int(pix.bytesperline), int(pix.sizeimage), full_range=int(pix.quantization) == 1)

    def set_fps(self, fps: float) -> float | None:
        self._lv.set_fps(self._dev, self._lv.BufferType.VIDEO_CAPTURE, fps)
        return float(self._lv.get_fps(self._dev, self._lv.BufferType.VIDEO_CAPTURE))

    def allocate(self, count: int) -> list[Any]:
        lv = self._lv
        req = lv.request_buffers(self._dev, lv.BufferType.VIDEO_CAPTURE, lv.Memory.MMAP, count)
        for index in range(req.count):
            buff = lv.query_buffer(self._dev, lv.BufferType.VIDEO_CAPTURE, lv.Memory.MMAP, index)
            self._maps.append(lv.mmap_from_buffer(self._dev, buff))
        return self._maps

    def queue(self, index: int) -> None:
        self._lv.enqueue_buffer(self._dev, self._lv.BufferType.VIDEO_CAPTURE, self._lv.Memory.MMAP, 0, index)

    def dequeue(self, timeout: float) -> DequeuedBuffer | None:
        ready, _, _ = select.select([self._dev], [], [], timeout)
        if not ready:
            return None
        lv = self._lv
        b = lv.dequeue_buffer(self._dev, lv.BufferType.VIDEO_CAPTURE, lv.Memory.MMAP)
        return DequeuedBuffer(int(b.index), int(b.bytesused), int(b.sequence),
                              int(b.timestamp.secs) * 1_000_000_000 + int(b.timestamp.usecs) * 1000,
                              error=bool(int(b.flags) & int(lv.BufferFlag.ERROR)))

    def stream_on(self) -> None:
        self._lv.stream_on(self._dev, self._lv.BufferType.VIDEO_CAPTURE)

    def stream_off(self) -> None:
        self._lv.stream_off(self._dev, self._lv.BufferType.VIDEO_CAPTURE)

    def release(self) -> None:
        busy = False
        for m in self._maps:
            try:
                m.close()
            except BufferError:  # a frame still refers to it: the mapping goes when the last frame does
                busy = True
        self._maps = []
        if not busy:
            self._lv.free_buffers(self._dev, self._lv.BufferType.VIDEO_CAPTURE, self._lv.Memory.MMAP)

    def close(self) -> None:
        self._dev.close()

    def formats(self) -> tuple[str, ...]:
        """The pixel formats (fourcc) the node offers (VIDIOC_ENUM_FMT); () when the driver lists none."""
        try:
            return tuple(_fourcc_str(int(f.pixel_format)) for f in self._dev.info.formats)
        except OSError:
            return ()


def probe_device(path: str, fmt: PixelFormat | None = None) -> tuple[str, ...]:
    """Open a capture node and close it again, to find a wrong --camera before anything starts rather than at
    the wearer's first question: CameraError (naming the node and what to do) when it is missing, not permitted,
    not a single-planar streaming capture device, or does not offer `fmt`. Returns the formats it offers."""
    device = LinuxpyDevice(path)
    try:
        formats = device.formats()
    finally:
        device.close()
    if fmt is not None and formats:
        wanted = FOURCC.get(fmt)
        if wanted is None:
            raise CameraError(f"{fmt.name} cannot be captured", advice=f"use one of {sorted(FOURCC.values())}")
        if wanted not in formats:
            raise CameraError(f"{path}: offers {', '.join(formats)}, not {wanted}",
                              advice="ask for a format it offers (UVC webcams often offer only YUYV)")
    return formats


@dataclass(frozen=True)
class DeviceInfo:
    """One capture node for `glassbridge camera list`."""

    path: str
    card: str = ""
    driver: str = ""
    formats: tuple[str, ...] = ()
    error: str | None = None


def list_devices() -> list[DeviceInfo]:
    """Every /dev/video* capture node with its name and pixel formats; [] when there is none or no linuxpy."""
    try:
        lv = _import_linuxpy()
    except CameraError:
        return []
    found = []
    for path in sorted(lv.iter_video_capture_files()):
        try:
            with lv.Device(path) as dev:
                info = dev.info
                formats = tuple(_fourcc_str(int(f.pixel_format)) for f in info.formats)
                found.append(DeviceInfo(str(path), info.card, info.driver, formats))
        except OSError as exc:
            found.append(DeviceInfo(str(path), error=str(exc.strerror or exc)))
    return found
