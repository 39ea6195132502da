"""[privacy] blur_faces in the assistant, with the real detector on the astronaut (a real face) in NV12 frames.

On by default: the photo the phone gets has no face the detector can find (it finds one in the frame), the phone
is told how many were blurred (Perception.faces_blurred, read back through Python's protobuf), and the glasses'
own perception still comes from the unblurred frame. Off: said once on the display at start, not spoken, and the
photo keeps the face."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from glassbridge.assistant.config import Settings
from glassbridge.assistant.loop import FACES_NOT_BLURRED
from glassbridge.assistant.perception import FacePerceiver
from glassbridge.camera.frame import Frame, PixelFormat
from glassbridge.protocol.messages import pb
from tests.unit.assistant_fakes import ask_and_stop, fast_settings, perceiver, run  # noqa: F401  perceiver: a fixture


def faces_in(perceiver: FacePerceiver, jpeg: bytes) -> int:
    rgb = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"))
    h, w = rgb.shape[:2]
    frame = Frame(PixelFormat.RGB888, w, h, (np.ascontiguousarray(rgb).reshape(h, w * 3),))
    return len(perceiver.perceive(frame, emotions=False).faces)


def test_on_by_default() -> None:
    assert Settings().privacy.blur_faces is True


def test_faces_blurred_in_the_photo_and_counted(perceiver: FacePerceiver) -> None:
    rig = run(lambda: ask_and_stop(fast_settings(), perceiver))
    asked = rig.phone.asked[0]
    assert asked.photo is not None
    assert faces_in(perceiver, asked.photo) == 0
    assert len(perceiver.perceive(rig.camera.frame(), emotions=False).faces) == 1
    # the glasses' own perception is the unblurred frame's: one face, sent as a box
    sent = pb.Perception.FromString(asked.perception.SerializeToString())  # the wire, through protobuf
    assert len(sent.faces) == 1 and sent.faces_blurred == 1
    assert sent.summary == "one person ahead"
    mark = rig.timeline.find("faces_blurred", question=1)[0].detail
    assert mark["faces"] == 1 and mark["elapsed_ms"] > 0
    assert not rig.timeline.find("notice", title="Privacy")


def test_turned_off_is_said_once_and_the_face_stays(perceiver: FacePerceiver) -> None:
    rig = run(lambda: ask_and_stop(fast_settings(privacy={"blur_faces": False}), perceiver, questions=2))
    notices = rig.timeline.find("notice", title="Privacy")
    assert [n.detail["text"] for n in notices] == [FACES_NOT_BLURRED]
    assert any(c.text == FACES_NOT_BLURRED for c in rig.mcu.cards)
    assert not rig.voice.heard("blurred")  # on the display, not read out
    for asked in rig.phone.asked:
        assert asked.photo is not None and faces_in(perceiver, asked.photo) == 1
        assert asked.perception.faces_blurred == 0 and len(asked.perception.faces) == 1
    assert rig.timeline.find("started")[0].detail["blur_faces"] is False
