"""Privacy of the feel skill and the photo for the phone, with the real models on the astronaut (a real face).

Expressions are computed only when the wearer opted in, and leave the glasses only when also shared; the
reference for what the glasses should find is glassbridge.vision.FacePipeline run on the same frame. The photo
sent is checked against Pillow's own resize of the PNG."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from PIL import Image

from glassbridge.assistant.perception import FacePerceiver, LocalPerception, SeenFace, describe
from glassbridge.assistant.photo import fit_size, photo_for_phone
from glassbridge.camera.files import read_image
from glassbridge.camera.frame import PixelFormat
from tests.unit.assistant_fakes import (  # noqa: F401  perceiver: a fixture
    CountingPerceiver, IMAGES, Rig, ask_and_stop, fast_settings, perceiver, run, start_rig, stop_rig,
)



@pytest.fixture(scope="module")
def reference() -> list[Any]:
    from glassbridge.vision.pipeline import FacePipeline

    frame = read_image(IMAGES / "astronaut.png", format=PixelFormat.NV12)
    return FacePipeline(emotions=True).run(frame)


def test_emotions_off_by_default_never_computed_never_sent(perceiver: FacePerceiver, reference: list[Any]) -> None:
    counting = CountingPerceiver(perceiver)
    rig = run(lambda: ask_and_stop(fast_settings(), counting))
    assert counting.calls == [False]  # the loop asked for no expression at all
    sent = rig.phone.asked[0].perception
    assert len(sent.faces) == len(reference) == 1
    assert not sent.emotions_withheld and sent.faces[0].emotion == "" and sent.faces[0].emotion_score == 0
    # the face is the vision pipeline's, normalised to the frame
    x0, y0, x1, y1 = reference[0].box
    face = sent.faces[0]
    assert (face.x, face.y, face.width, face.height) == pytest.approx(
        (x0 / 512, y0 / 512, (x1 - x0) / 512, (y1 - y0) / 512), abs=1e-4)
    assert sent.summary == "one person ahead" and "look" not in sent.summary
    assert not rig.timeline.find("reminder")


def test_emotions_opted_in_stay_on_the_glasses(perceiver: FacePerceiver, reference: list[Any]) -> None:
    counting = CountingPerceiver(perceiver)
    rig = run(lambda: ask_and_stop(fast_settings(privacy={"emotions": True}), counting))
    assert counting.calls == [True]
    sent = rig.phone.asked[0].perception
    assert sent.emotions_withheld is True
    assert all(f.emotion == "" and f.emotion_score == 0 for f in sent.faces)
    assert "look" not in sent.summary and reference[0].emotion.label not in sent.summary
    # the wearer sees and hears it, and is reminded once that the person should be told
    label = reference[0].emotion.label
    assert rig.mcu.cards[-1].title == f"One person ahead, looks {label}."
    assert rig.voice.heard(f"On the glasses: One person ahead, looks {label}.")
    assert rig.voice.heard("the person should be told") and len(rig.timeline.find("reminder")) == 1


def test_emotions_shared_reach_the_phone(perceiver: FacePerceiver, reference: list[Any]) -> None:
    rig = run(lambda: ask_and_stop(fast_settings(privacy={"emotions": True, "share_emotions": True}), perceiver))
    sent = rig.phone.asked[0].perception
    assert not sent.emotions_withheld
    expected = reference[0].emotion
    assert sent.faces[0].emotion == expected.label
    assert sent.faces[0].emotion_score == pytest.approx(expected.confidence, abs=1e-3)
    assert sent.summary == f"one person ahead, looks {expected.label}"


def test_emotion_model_loads_only_on_opt_in() -> None:
    try:
        p = FacePerceiver()
    except Exception as exc:
        pytest.skip(f"face models unavailable: {exc}")
    frame = read_image(IMAGES / "astronaut.png", format=PixelFormat.NV12)
    seen = p.perceive(frame, emotions=False)
    assert not p.emotion_model_loaded and seen.faces and seen.faces[0].emotion is None
    seen = p.perceive(frame, emotions=True)
    assert p.emotion_model_loaded and seen.faces[0].emotion is not None


def test_nobody_in_view(perceiver: FacePerceiver) -> None:
    frame = read_image(IMAGES / "chelsea.png", format=PixelFormat.NV12)  # a cat
    seen = perceiver.perceive(frame, emotions=True)
    assert seen.faces == () and seen.summary == "no one in view"
    assert seen.to_pb(share_emotions=True).summary == "no one in view"


def test_summary_sentences_for_positions_and_crowds() -> None:
    left = SeenFace((0, 0, 100, 100), 0.9, "sad", 0.8)
    ahead = SeenFace((450, 0, 600, 150), 0.9, "happy", 0.9)
    right = SeenFace((900, 0, 950, 50), 0.9, None)
    assert describe([ahead], 1000, with_emotions=True) == "one person ahead, looks happy"
    assert describe([left, ahead, right], 1000, with_emotions=True) == (
        "three people: one ahead, looks happy; one on your left, looks sad; one on your right")
    assert describe([left, ahead], 1000, with_emotions=False) == "two people: one ahead; one on your left"
    crowd = [SeenFace((i * 14, 0, i * 14 + 5 + i, 10), 0.9) for i in range(7)]  # the largest at x 84..95
    assert describe(crowd, 100, with_emotions=True) == "seven people in view, the nearest on your right"
    many = LocalPerception(tuple(crowd * 3), 100, 10, False)
    assert len(many.to_pb(share_emotions=False).faces) == 16  # the proto's limit: the largest 16


def test_photo_is_scaled_like_pillow_does_and_never_enlarged() -> None:
    frame = read_image(IMAGES / "coffee.png", format=PixelFormat.NV12)  # 600x400
    jpeg, size = photo_for_phone(frame, faces=(), max_width=300, max_height=300, quality=90)
    assert size == (300, 200)
    got = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), dtype=np.float64)
    with Image.open(IMAGES / "coffee.png") as img:
        want = np.asarray(img.convert("RGB").resize(size, Image.Resampling.BILINEAR), dtype=np.float64)
    assert got.shape == want.shape
    # NV12 chroma subsampling, bilinear vs Pillow's filter and JPEG at 90 all differ a little, nothing more
    assert np.abs(got - want).mean() < 6.0
    _, same = photo_for_phone(frame, faces=(), max_width=1280, max_height=720, quality=80)
    assert same == (600, 400)
    assert fit_size(1280, 720, 320, 240) == (320, 180)
    with pytest.raises(ValueError, match="sizes must be positive"):
        fit_size(0, 720, 320, 240)


def test_low_battery_sends_a_smaller_photo() -> None:
    async def body() -> Rig:
        rig = await start_rig(fast_settings(camera={"width": 400, "height": 400, "low_battery_width": 160,
                                                    "low_battery_height": 160}))
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=1, timeout=10)
        await rig.settle()
        rig.mcu.battery(14, "low")
        await rig.timeline.wait_for("battery", timeout=5)
        await rig.settle()
        rig.mcu.press()
        await rig.timeline.wait_for("card_shown", question=2, timeout=10)
        await rig.settle()
        await stop_rig(rig)
        return rig

    rig = run(body)
    sizes = [Image.open(io.BytesIO(a.photo)).size for a in rig.phone.asked]
    assert sizes == [(400, 400), (160, 160)]
    assert rig.voice.heard("Battery at 14%: sending smaller photos")
