"""The glasses' phone commands at their edges (issue 11): status while disconnected, photos that are not images,
numbers and language tags refused before anything starts. No radio: what these check happens before one is used.
References: Pillow decoding what is sent, the process's exit status and its one-line error."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from glassbridge.cli.phone import _photo
from glassbridge.phone.bonds import Bond
from glassbridge.phone.client import Phone
from glassbridge.protocol.link import LinkState


def glassbridge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "glassbridge.cli.main", *args], capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/nonexistent"})


def test_status_says_the_link_is_down_while_disconnected() -> None:
    async def body() -> None:
        phone = Phone(Bond(address="AA:BB:CC:DD:EE:FF"))
        # The link session outlives the connection (SPEC 16.4): the engine still says UP after the radio went.
        phone.transport = SimpleNamespace(info=None, state=LinkState.UP, connected=False, mtu=517,  # type: ignore
                                          stats=lambda: {})
        assert (await phone.status()).link_state == "down"
        phone.transport.connected = True  # type: ignore[attr-defined]
        assert (await phone.status()).link_state == "up"

    asyncio.run(body())


def test_a_photo_that_is_not_an_image_is_refused_before_any_upload(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    with pytest.raises(ValueError, match="not an image"):
        _photo(text)
    truncated = tmp_path / "cut.jpg"
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, "JPEG")
    truncated.write_bytes(buf.getvalue()[:200])
    with pytest.raises(ValueError, match="not an image"):
        _photo(truncated)
    whole = tmp_path / "ok.jpg"
    whole.write_bytes(buf.getvalue())
    assert _photo(whole) == buf.getvalue()  # a JPEG goes as it is
    png = tmp_path / "shot.png"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(png)
    sent = Image.open(io.BytesIO(_photo(png)))
    assert sent.format == "JPEG" and sent.size == (64, 48)
    assert all(abs(a - b) <= 3 for a, b in zip(sent.getpixel((5, 5)), (10, 200, 30)))


def test_the_command_line_refuses_a_non_image_photo_without_touching_bluetooth(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    result = glassbridge("phone", "ask", "what is this?", "--photo", str(text), "--bond", str(tmp_path / "b.json"))
    assert result.returncode != 0 and "not an image" in result.stderr, result.stderr


@pytest.mark.parametrize("args", [["scan", "--timeout", "-1"], ["scan", "--timeout", "inf"],
                                  ["scan", "--timeout", "nan"], ["pair", "--confirm-timeout", "0"],
                                  ["ask", "q", "--language", "en_US!"], ["status", "--timeout", "inf"]])
def test_bad_numbers_and_language_tags_are_usage_errors(args: list[str]) -> None:
    result = glassbridge("phone", *args)
    assert result.returncode == 2 and "error: argument" in result.stderr, result.stderr


def test_a_photo_whose_faces_cannot_be_looked_for_is_not_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Blurring fails closed: when the detector cannot run (its model missing or damaged), nothing is uploaded."""
    import glassbridge.assistant.perception as perception
    from glassbridge.models.registry import ModelError

    def broken(*_args: object, **_kwargs: object) -> None:
        raise ModelError("face_detection_full_range_sparse.tflite", "not found")

    monkeypatch.setattr(perception, "FacePerceiver", broken)
    shot = tmp_path / "shot.png"
    Image.new("RGB", (64, 48), (10, 200, 30)).save(shot)
    with pytest.raises(ValueError, match="cannot look for faces to blur .*nothing was sent"):
        _photo(shot)
    assert _photo(shot, blur_faces=False)[:2] == b"\xff\xd8"  # off: the wearer's choice, no detector needed
