"""glassbridge: an open runtime for AI smart glasses.

The public API is what `__all__` lists; submodules (camera, vision, bench, cli) hold the rest.
"""

from glassbridge.camera.frame import Frame, PixelFormat, YuvRange

__all__ = ["Frame", "PixelFormat", "YuvRange", "__version__"]
__version__ = "0.1.0"
