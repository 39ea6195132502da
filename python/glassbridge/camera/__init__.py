"""Frame sources with one interface: image, raw and video files, a moving test pattern, V4L2 capture on a dev kit.

    from glassbridge.camera import TestPatternSource, read_image

    with TestPatternSource(1920, 1080) as source:        # NV12 by default, like the glasses' camera
        for frame in source.frames(max_frames=10):
            ...
    photo = read_image("photo.jpg")                       # an RGB888 Frame

`V4l2Source` needs linuxpy (`pip install glassbridge[v4l2]`) and `VideoFileSource` PyAV
(`pip install glassbridge[video]`); each is imported only when such a source is opened.
"""

from glassbridge.camera.convert import frame_from_rgb, frame_to_rgb
from glassbridge.camera.files import ImageFileSource, RawFileSource, VideoFileSource, open_file_source, read_image
from glassbridge.camera.frame import Frame, PixelFormat, YuvRange
from glassbridge.camera.pattern import TestPatternSource
from glassbridge.camera.source import CameraError, EndOfStream, FrameSource, copy_frame
from glassbridge.camera.v4l2 import V4l2Source

__all__ = [
    "Frame",
    "PixelFormat",
    "YuvRange",
    "FrameSource",
    "CameraError",
    "EndOfStream",
    "copy_frame",
    "TestPatternSource",
    "ImageFileSource",
    "RawFileSource",
    "VideoFileSource",
    "V4l2Source",
    "open_file_source",
    "read_image",
    "frame_from_rgb",
    "frame_to_rgb",
]
