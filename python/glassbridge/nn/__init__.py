"""glassbridge's int8 engine (gbnn, bit-exact with TensorFlow Lite Micro) and the wake word's audio frontend, both in
portable C11 under nn/ and built into glassbridge.nn._nn. ``glassbridge.nn.engine`` runs models (``Int8Model``),
``glassbridge.nn.frontend`` computes okay_nabu's features. Light by design (numpy and the extension only, no
LiteRT): the audio layer uses it."""

from __future__ import annotations

from glassbridge.nn.engine import EngineError, Int8Model
from glassbridge.nn.frontend import Frontend, FrontendQuantizer

__all__ = ["EngineError", "Frontend", "FrontendQuantizer", "Int8Model"]
