"""`glassbridge sim phone-demo` (part of `make demo`) end to end, checked against what the phone and the display
report rather than against the demo's own account."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from glassbridge_rig.phone_demo import DEFAULT_PHOTO_ID, fit, run_phone_demo

pytestmark = pytest.mark.skipif(not Path("/usr/bin/dbus-daemon").exists(), reason="dbus-daemon not installed")


def test_fit_cuts_at_a_word_boundary_within_the_byte_limit() -> None:
    assert fit("short", 191) == "short"
    cut = fit("word " * 100, 191)
    assert len(cut.encode()) <= 191 and cut.endswith("word...")
    assert len(fit("é" * 200, 191).encode()) <= 191  # never splits a UTF-8 sequence into invalid bytes


def test_phone_demo(tmp_path: Path) -> None:
    from glassbridge.models.registry import ModelError, test_image_path

    try:
        test_image_path(DEFAULT_PHOTO_ID)
    except ModelError as exc:
        pytest.skip(f"the test image is missing: {exc}")
    result = run_phone_demo(tmp_path)
    summary = json.loads((tmp_path / "phone.json").read_text())
    assert summary["pairing_code"] == result.pairing_code and 0 <= result.pairing_code <= 999999
    assert result.drops == 2  # the radio really dropped twice during the upload
    # The phone's own count: every byte of the photo reached its application exactly once.
    assert result.phone_bytes_received == result.photo_bytes > 0
    assert result.answer_source == "offline" and "what is in front of me?" in result.answer
    assert result.notification == "Messages: Mei: Lunch at 12:30?"
    for name in ("1-pairing.png", "2-answer.png", "3-notification.png"):
        with Image.open(tmp_path / name) as img:
            assert img.size == (512, 256)  # the 256x128 display, scaled 2x
            assert img.getextrema() == (0, 255)  # something is drawn
