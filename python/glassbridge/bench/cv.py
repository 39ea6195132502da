"""OpenCV for the benchmarks: imported on demand (an optional dependency, the `bench` extra), one thread.

A module of its own so that both the OpenCV contenders (opencv.py) and the normalisation they share with the other
contenders (normalise.py) can import it without importing each other.
"""

from __future__ import annotations

from typing import Any


def import_cv2() -> Any:
    """cv2, single-threaded (the benchmark compares one core against one core)."""
    try:
        import cv2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the OpenCV contenders need opencv-python-headless: pip install 'glassbridge[bench]'") from exc
    cv2.setNumThreads(1)
    return cv2
