"""glassbridge.audio.WakeWord: the real okay_nabu model (LiteRT) on espeak-ng speech with known words.

The speech is generated with espeak-ng (`glassbridge.audio.speech_samples`) into a temporary folder: "okay nabu"
must fire exactly once, where it was put, also inside 3 s of noise or of other speech on each side; the questions,
the meeting, silence and white noise must never fire. Timing facts (cost per 10 ms) belong to benchmarks, not
here. Without espeak-ng these tests skip locally and fail in CI (tests/conftest.py).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from glassbridge.audio import SAMPLE_RATE, Detection, WakeWord, read_wav
from glassbridge.audio.speech_samples import generate
from glassbridge.models import registry
from glassbridge.models.registry import ModelError

NEGATIVES = ("question_look.wav", "question_sign.wav", "question_feel.wav", "meeting.wav", "silence.wav",
             "noise.wav")


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng): the speech WAVs are made with it")
    folder = tmp_path_factory.mktemp("speech")
    paths = generate(folder)
    out = {}
    for name, path in paths.items():
        pcm, rate = read_wav(path)
        assert rate == SAMPLE_RATE
        out[name] = np.frombuffer(pcm, dtype="<i2")
    return out


@pytest.fixture(scope="module")
def wake() -> WakeWord:
    """One detector shared by the module's tests (each test resets it: a new interpreter, a fresh frontend)."""
    return WakeWord()


def _run(wake: WakeWord, pcm: np.ndarray, chunk: int = 1000) -> list[Detection]:
    wake.reset()
    data = pcm.astype("<i2").tobytes()
    found: list[Detection] = []
    for i in range(0, len(data), chunk):
        found += wake.feed(data[i:i + chunk])
    return found


def _speech_span(pcm: np.ndarray) -> tuple[int, int]:
    """First and last sample louder than -50 dBFS: where espeak-ng's voice is, measured on the samples."""
    loud = np.nonzero(np.abs(pcm.astype(np.int32)) > 100)[0]
    return int(loud[0]), int(loud[-1])


def test_okay_nabu_fires_once_after_the_words(samples: dict[str, np.ndarray], wake: WakeWord) -> None:
    pcm = samples["okay_nabu.wav"]
    found = _run(wake, pcm)
    assert len(found) == 1, found
    start, end = _speech_span(pcm)
    # The model decides on the word's last syllable; the smoothing window adds up to 5 steps of 30 ms.
    assert start < found[0].sample <= end + SAMPLE_RATE // 2
    assert found[0].probability > wake.cutoff == 0.85  # the manifest's cut-off
    assert wake.phrase == "Okay Nabu"
    assert found[0].seconds == found[0].sample / SAMPLE_RATE


@pytest.mark.parametrize("background", ["noise", "speech"])
def test_okay_nabu_inside_three_seconds_of_noise_or_speech_fires_once_in_place(
        samples: dict[str, np.ndarray], wake: WakeWord, background: str) -> None:
    word = samples["okay_nabu.wav"]
    three_s = 3 * SAMPLE_RATE
    if background == "noise":
        noise = samples["noise.wav"]
        before = after = np.tile(noise, 2)[:three_s]
    else:
        meeting = samples["meeting.wav"]
        before, after = meeting[:three_s], meeting[three_s:2 * three_s]
    found = _run(wake, np.concatenate([before, word, after]), chunk=2 * 333)
    assert len(found) == 1, found
    start, end = _speech_span(word)
    assert three_s + start < found[0].sample <= three_s + end + SAMPLE_RATE // 2


@pytest.mark.parametrize("name", NEGATIVES)
def test_other_speech_silence_and_noise_never_fire(samples: dict[str, np.ndarray], wake: WakeWord,
                                                   name: str) -> None:
    assert _run(wake, samples[name]) == []
    # The model ran on all of it: one invoke per 3 feature frames, the first frame after 30 ms (3 steps of 10 ms).
    steps = len(samples[name]) // 160
    assert wake.invokes == (steps - 2) // 3


def test_wake_then_question_fires_once_on_the_wake_word(samples: dict[str, np.ndarray], wake: WakeWord) -> None:
    found = _run(wake, samples["wake_and_ask.wav"])
    assert len(found) == 1
    assert found[0].sample < len(samples["okay_nabu.wav"])  # in the first part, not during the question


def test_chunk_size_does_not_change_the_result(samples: dict[str, np.ndarray], wake: WakeWord) -> None:
    pcm = np.concatenate([samples["question_look.wav"], samples["okay_nabu.wav"]])
    reference = _run(wake, pcm, chunk=len(pcm) * 2)  # everything at once
    rng = np.random.default_rng(5)
    wake.reset()
    data = pcm.tobytes()
    pos, found = 0, []
    while pos < len(data):
        n = 2 * int(rng.integers(1, 900))  # 1..899 samples: below, at and across the 160-sample steps
        found += wake.feed(data[pos:pos + n])
        pos += n
    assert found == reference and len(reference) == 1


def test_refractory_period_makes_one_utterance_one_detection(samples: dict[str, np.ndarray]) -> None:
    word = samples["okay_nabu.wav"]
    # Without a refractory period the probability stays over the cut-off for several windows after one word:
    eager = WakeWord(refractory_ms=0)
    assert len(_run(eager, word)) > 1
    # With the default one, one word gives one detection, and a second "okay nabu" 2 s later gives another.
    default = WakeWord()
    twice = _run(default, np.concatenate([word, word]))
    assert len(twice) == 2
    assert twice[1].sample - twice[0].sample == pytest.approx(len(word), abs=SAMPLE_RATE // 5)


def test_reset_forgets_the_streaming_state(samples: dict[str, np.ndarray], wake: WakeWord) -> None:
    word = samples["okay_nabu.wav"]
    first = _run(wake, word)
    wake.feed(samples["meeting.wav"][:SAMPLE_RATE].tobytes())  # leave state behind in the interpreter
    assert _run(wake, word) == first  # _run resets: same detection, same sample index, same probability
    assert wake.samples == len(word) // 160 * 160


def test_bad_input_and_bad_models_are_refused_with_reasons(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           wake: WakeWord) -> None:
    with pytest.raises(ValueError, match="odd number"):
        wake.feed(b"\x00\x01\x02")
    with pytest.raises(TypeError, match="bytes"):
        wake.feed(np.zeros(10, np.int16))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="no \\[model.wake_word\\] table"):
        WakeWord("emotion_fer_int8")
    with pytest.raises(ModelError, match="no model with id 'hey_nobody'"):
        WakeWord("hey_nobody")
    with pytest.raises(ValueError, match="cutoff"):
        WakeWord(cutoff=1.5)
    with pytest.raises(ValueError, match="window"):
        WakeWord(window=0)
    # A damaged model file found first on the search path is refused before LiteRT sees it.
    real = registry.model_path("okay_nabu")
    (tmp_path / real.name).write_bytes(real.read_bytes()[:1000])
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(tmp_path))
    with pytest.raises(ModelError, match="truncated"):
        WakeWord()
