"""Frame sources: files, a moving test pattern, V4L2 capture on a dev kit."""

from glassbridge.camera.frame import Frame, PixelFormat, YuvRange

__all__ = ["Frame", "PixelFormat", "YuvRange"]
