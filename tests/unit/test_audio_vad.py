"""glassbridge.audio.Vad and Endpointer on espeak-ng speech with known extent.

Where the speech is comes from the samples themselves (the first and last sample above -50 dBFS, espeak-ng writes
digital silence around words), not from the VAD. The endpointer must end a question `silence_ms` after that last
sample within the documented tolerance, refuse to start on silence and noise, and stop long speech at `max_ms`.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from glassbridge.audio import SAMPLE_RATE, EndpointEvent, Endpointer, Vad
from glassbridge.audio.speech_samples import make_pcm
from glassbridge.audio.vad import ENDPOINT_TOLERANCE_MS, FRAME_SAMPLES

MS = SAMPLE_RATE // 1000
QUESTIONS = ("question_look.wav", "question_sign.wav", "question_feel.wav", "okay_nabu.wav")


@pytest.fixture(scope="module")
def speech() -> dict[str, np.ndarray]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng): the speech is made with it")
    cache: dict[str, np.ndarray] = {}
    names = (*QUESTIONS, "meeting.wav", "silence.wav", "noise.wav")
    return {name: np.frombuffer(make_pcm(name, cache), dtype="<i2") for name in names}


def _span(pcm: np.ndarray) -> tuple[int, int]:
    loud = np.nonzero(np.abs(pcm.astype(np.int32)) > 100)[0]
    return int(loud[0]), int(loud[-1]) + 1


def _feed(ep: Endpointer, pcm: np.ndarray, chunk: int = 640) -> list[EndpointEvent]:
    data = pcm.astype("<i2").tobytes()
    events: list[EndpointEvent] = []
    for i in range(0, len(data), chunk):
        events += ep.feed_events(data[i:i + chunk])
    return events


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


@pytest.mark.parametrize("name", QUESTIONS)
@pytest.mark.parametrize("silence_ms", [700, 1000])
def test_a_question_ends_silence_ms_after_the_last_spoken_sample(speech: dict[str, np.ndarray], name: str,
                                                                 silence_ms: int) -> None:
    pcm = np.concatenate([speech[name], _silence(2.0)])
    ep = Endpointer(silence_ms=silence_ms)
    events = _feed(ep, pcm)
    assert [(e.kind, e.reason) for e in events] == [("speech_started", None), ("ended", "silence")]
    start, end = _span(speech[name])
    started, ended = events
    # The VAD needs 0.25-0.45 s of speech to rise; min_speech_ms is counted from there.
    assert start <= started.sample <= start + 500 * MS
    assert started.speech_start == ended.speech_start == started.sample
    delay_ms = (ended.sample - end) / MS
    assert silence_ms - 100 <= delay_ms <= silence_ms + ENDPOINT_TOLERANCE_MS, delay_ms
    assert ended.speech_end is not None and end <= ended.speech_end <= ended.sample
    assert ep.done and ep.result == ended and not ep.speaking
    assert ep.feed(pcm.tobytes()) is None  # done: further audio is ignored until reset()


def test_feed_returns_the_ended_event_when_one_chunk_holds_both(speech: dict[str, np.ndarray]) -> None:
    pcm = np.concatenate([speech["question_look.wav"], _silence(2.0)]).tobytes()
    ep = Endpointer()
    event = ep.feed(pcm)
    assert event is not None and (event.kind, event.reason) == ("ended", "silence")
    ep.reset()
    assert [e.kind for e in ep.feed_events(pcm)] == ["speech_started", "ended"]
    assert ep.result == event  # reset gives the same timeline again


@pytest.mark.parametrize("name", ["silence.wav", "noise.wav"])
def test_no_speech_ends_after_no_speech_ms(speech: dict[str, np.ndarray], name: str) -> None:
    pcm = np.tile(speech[name], 3)  # 6 s
    events = _feed(Endpointer(no_speech_ms=3000), pcm)
    assert [(e.kind, e.reason, e.sample) for e in events] == [("ended", "no_speech", 3000 * MS)]
    assert events[0].speech_start is None and events[0].speech_end is None


def test_long_speech_is_cut_at_max_ms(speech: dict[str, np.ndarray]) -> None:
    meeting = speech["meeting.wav"]
    assert len(meeting) > 5 * SAMPLE_RATE
    events = _feed(Endpointer(max_ms=4000), meeting)
    assert [(e.kind, e.reason) for e in events] == [("speech_started", None), ("ended", "max_length")]
    assert events[-1].sample == 4000 * MS and events[-1].seconds == 4.0


def test_speech_shorter_than_min_speech_ms_does_not_start(speech: dict[str, np.ndarray]) -> None:
    pcm = np.concatenate([speech["question_feel.wav"], _silence(3.0)])
    start, end = _span(speech["question_feel.wav"])
    assert (end - start) / MS < 2000  # the question lasts well under 2 s
    events = _feed(Endpointer(min_speech_ms=2500, no_speech_ms=4000), pcm)
    assert [(e.kind, e.reason) for e in events] == [("ended", "no_speech")]


def test_vad_marks_speech_frames_inside_the_words_and_none_in_silence(speech: dict[str, np.ndarray]) -> None:
    pcm = speech["question_sign.wav"]
    vad = Vad()
    flags = np.array(vad.feed(pcm.tobytes()))
    assert len(flags) == len(pcm) // FRAME_SAMPLES
    start, end = _span(pcm)
    inside = flags[start // FRAME_SAMPLES + 40:end // FRAME_SAMPLES]  # after the VAD's 0.4 s rise
    assert inside.mean() > 0.9
    assert not flags[: start // FRAME_SAMPLES].any()  # the lead-in silence, right from the first frame
    vad.reset()
    assert not any(vad.feed(np.tile(speech["noise.wav"], 2).tobytes()))


def test_vad_keeps_remainders_between_calls() -> None:
    vad = Vad()
    assert len(vad.feed(bytes(2 * 250))) == 1  # 250 samples: one frame, 90 kept
    assert len(vad.feed(bytes(2 * 70))) == 1  # 90 + 70 = 160: the second frame
    assert vad.feed(b"") == []
    with pytest.raises(ValueError, match="odd number"):
        vad.feed(b"\x00")


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="silence_ms must be a positive"):
        Endpointer(silence_ms=0)
    with pytest.raises(ValueError, match="no_speech_ms must be a positive"):
        Endpointer(no_speech_ms=-5)
    with pytest.raises(ValueError, match="threshold"):
        Vad(threshold=1.0)


def test_wake_word_then_endpointer_captures_the_spoken_question(speech: dict[str, np.ndarray]) -> None:
    """The loop's flow: listen for "okay nabu", then endpoint the question that follows it."""
    from glassbridge.audio import WakeWord

    cache: dict[str, np.ndarray] = {}
    pcm = np.concatenate([np.frombuffer(make_pcm("wake_and_ask.wav", cache), dtype="<i2"), _silence(2.0)])
    question = speech["question_look.wav"]
    q_offset = len(pcm) - len(question) - 2 * SAMPLE_RATE  # the question is the last part of the sequence
    q_start, q_end = _span(question)
    wake, ep = WakeWord(), None
    listen_from = 0
    events: list[EndpointEvent] = []
    data = pcm.tobytes()
    for i in range(0, len(data), 640):
        chunk = data[i:i + 640]
        if ep is None:
            if wake.feed(chunk):
                ep, listen_from = Endpointer(), (i + len(chunk)) // 2
        else:
            events += ep.feed_events(chunk)
    assert ep is not None, "the wake word did not fire"
    assert [(e.kind, e.reason) for e in events] == [("speech_started", None), ("ended", "silence")]
    started, ended = (listen_from + e.sample for e in events)
    assert q_offset + q_start <= started <= q_offset + q_start + 500 * MS
    assert ended - (q_offset + q_end) == pytest.approx(700 * MS, abs=ENDPOINT_TOLERANCE_MS * MS)
