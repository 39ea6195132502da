"""The one interface every frame source offers, and the errors they raise.

A source is a context manager that hands out `Frame`s one at a time:

    with TestPatternSource(1920, 1080) as source:       # or ImageFileSource, VideoFileSource, V4l2Source...
        frame = source.read()                            # one frame; EndOfStream when a finite source is done
        for frame in source.frames(max_frames=30):       # or `for frame in source:` until the end
            ...

Reading is synchronous on purpose: a V4L2 dequeue or a decode is a short blocking call, and an asyncio caller
runs it off the event loop with `await asyncio.to_thread(source.read)`. One thread reads a source at a time.

Frame lifetime: a frame's planes may be views of memory the source reuses (V4L2 mmap buffers). Such sources say
so (`reuses_buffers`), and a frame from them stays valid only until the next `read()` or `close()`: keep one
longer with `copy_frame(frame)` (`V4l2Source(copy=True)` does that for every frame). Frames from files and the
pattern stay valid as long as they are referenced (raw dumps are read-only views of the mapped file).
"""

from __future__ import annotations

import abc
import dataclasses
import time
from collections.abc import Iterator
from types import TracebackType

import numpy as np

from glassbridge.camera.frame import Frame, PixelFormat, plane_shapes

__all__ = ["CameraError", "EndOfStream", "FrameSource", "copy_frame"]


class CameraError(Exception):
    """A frame source could not deliver: names what failed, on which input, and what to do about it.

    `str(error)` is one line: the problem, then the advice after a semicolon.
    """

    def __init__(self, message: str, *, advice: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.advice = advice

    def __str__(self) -> str:
        return f"{self.message}; {self.advice}" if self.advice else self.message


class EndOfStream(EOFError):
    """A finite source (files, a video without loop) has no more frames. Not an error: `frames()` just stops."""


def copy_frame(frame: Frame) -> Frame:
    """A frame with the same pixels in memory of its own (rows tightly packed), safe to keep after the next read."""
    shapes = plane_shapes(frame.format, frame.width, frame.height)
    planes = tuple(np.array(p[:rows, :row_bytes], copy=True) for p, (rows, row_bytes) in zip(frame.planes, shapes))
    return dataclasses.replace(frame, planes=planes)


class FrameSource(abc.ABC):
    """Base class of all frame sources; subclasses implement `_next_frame` and the `format`/`size` properties.

    Properties:
      format: the PixelFormat of the frames delivered.
      size: (width, height) of the frames delivered.
      fps: the nominal frame rate (frames per second), or None when the source has none (a list of photos).
      reuses_buffers: True when a frame is only valid until the next read (see the module docstring).
    """

    reuses_buffers: bool = False

    def __init__(self) -> None:
        self._closed = False
        self._delivered = 0

    # -- what subclasses provide ---------------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def format(self) -> PixelFormat:
        """Pixel format of the frames this source delivers."""

    @property
    @abc.abstractmethod
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames this source delivers."""

    @property
    def fps(self) -> float | None:
        """Nominal frames per second, or None when the source has no frame rate."""
        return None

    @property
    def name(self) -> str:
        """What this source reads, for messages ("pattern", a path, a device)."""
        return type(self).__name__

    @abc.abstractmethod
    def _next_frame(self) -> Frame:
        """Produce the next frame or raise EndOfStream. Called only while the source is open."""

    def _close(self) -> None:
        """Release what the source holds (files, devices, buffers). Called once."""

    # -- the interface -------------------------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def frames_delivered(self) -> int:
        """How many frames read() has returned so far."""
        return self._delivered

    def read(self) -> Frame:
        """The next frame. Raises EndOfStream when a finite source is exhausted and CameraError when it fails."""
        if self._closed:
            raise CameraError(f"{self.name}: the source is closed", advice="open a new source to read again")
        frame = self._next_frame()
        self._delivered += 1
        return frame

    def frames(self, max_frames: int | None = None) -> Iterator[Frame]:
        """Yield frames until the source ends or `max_frames` have been yielded (None: no limit)."""
        if max_frames is not None and max_frames < 0:
            raise ValueError(f"max_frames must be >= 0 or None, got {max_frames}")
        count = 0
        while max_frames is None or count < max_frames:
            try:
                frame = self.read()
            except EndOfStream:
                return
            count += 1
            yield frame

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def close(self) -> None:
        """Release the source. Safe to call more than once."""
        if not self._closed:
            self._closed = True
            self._close()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:  # no size: for some sources it costs a decode
        state = "closed" if self._closed else f"{self._delivered} frames read"
        return f"<{type(self).__name__} {self.name} {self.format.name} fps={self.fps} {state}>"


class Pacer:
    """Holds a source to its frame rate (real-time playback of files and the pattern), on the monotonic clock.

    Frame n is released no earlier than start + n / fps; a consumer that falls behind is not made to catch up
    with bursts beyond one frame, as a real camera drops frames rather than queueing them.
    """

    def __init__(self, fps: float) -> None:
        if not fps > 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.period_ns = int(round(1e9 / fps))
        self._next_ns: int | None = None

    def wait(self) -> int:
        """Sleep until the next frame is due; returns the monotonic time of release in nanoseconds."""
        now = time.monotonic_ns()
        if self._next_ns is None:
            self._next_ns = now
        elif now < self._next_ns:
            time.sleep((self._next_ns - now) / 1e9)
            now = time.monotonic_ns()
        self._next_ns = max(self._next_ns + self.period_ns, now)
        return now
