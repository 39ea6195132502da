"""glassbridge.nn.frontend (nn/src/frontend.c) against pymicro-features' MicroFrontend, the oracle, step by step.

Every step of every stream: the same frame or the same "window still filling" (pymicro-features' empty list), the
float features identical (0 difference) and the uint16 values identical (pymicro-features' floats are the values
times 5/128, exactly). Streams: espeak-ng speech (glassbridge.audio.speech_samples), silence, loud clipped noise,
uniform noise at levels from 1 LSB to full scale, tones and square waves, random short mixtures, and a 4-minute
stream of all of it at changing levels (noise reduction and PCAN state drifting). Then reset() and the input
types; and the int8 quantizer against what glassbridge.audio.WakeWord feeds okay_nabu (its float32 formula) for
all 65536 values. About 4 s in all.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from numpy.typing import NDArray

from glassbridge.audio import SAMPLE_RATE, read_wav
from glassbridge.audio.speech_samples import generate
from glassbridge.models.registry import model_info
from glassbridge.nn.frontend import (CHANNELS, FEATURE_SCALE, STATE_BYTES, STEP_SAMPLES, Frontend,
                                     FrontendQuantizer)

pymicro_features = pytest.importorskip("pymicro_features")

REPO = Path(__file__).resolve().parents[2]
SPEECH = ("okay_nabu.wav", "question_look.wav", "meeting.wav", "wake_and_ask.wav", "noise.wav")
I16 = NDArray[np.int16]


def _steps(pcm: I16) -> Iterator[I16]:
    for k in range(len(pcm) // STEP_SAMPLES):
        yield pcm[k * STEP_SAMPLES:(k + 1) * STEP_SAMPLES]


def _oracle(pcm: I16, frontend: Any = None) -> list[list[float]]:
    """pymicro-features' features for each step ([] while its window fills)."""
    fe = pymicro_features.MicroFrontend() if frontend is None else frontend
    return [fe.process_samples(step.tobytes()).features for step in _steps(pcm)]


def _as_values(features: list[float]) -> list[int]:
    values = [round(f / FEATURE_SCALE) for f in features]
    assert [v * FEATURE_SCALE for v in values] == features  # the oracle's floats are exact multiples
    return values


def _assert_same_stepwise(pcm: I16, what: str) -> int:
    """Step by step through Frontend.process and process_raw against the oracle; returns the frames compared."""
    expected = _oracle(pcm)
    ours = Frontend()
    frames = 0
    for k, step in enumerate(_steps(pcm)):
        raw = ours.process_raw(step)
        if not expected[k]:
            assert raw is None, f"{what}: step {k} made a frame, pymicro-features' window was still filling"
            continue
        assert raw is not None, f"{what}: step {k} made no frame"
        assert raw.dtype == np.uint16 and raw.shape == (CHANNELS,)
        want = _as_values(expected[k])
        if raw.tolist() != want:
            diff = np.asarray(raw, dtype=np.int64) - np.asarray(want, dtype=np.int64)
            pytest.fail(f"{what}: step {k}: channels {np.nonzero(diff)[0].tolist()} differ by {diff[diff != 0]}")
        frames += 1
    # The float API on the same stream, from a fresh state: pymicro-features' floats exactly.
    ours.reset()
    floats = [ours.process(step) for step in _steps(pcm)]
    assert [f if f is not None else [] for f in floats] == expected, what
    return frames


def _assert_same_stream(pcm: I16, what: str) -> int:
    """The whole stream through process_stream against the oracle."""
    expected = [_as_values(f) for f in _oracle(pcm) if f]
    got = Frontend().process_stream(pcm)
    assert got.shape == (len(expected), CHANNELS), what
    want = np.asarray(expected, dtype=np.uint16).reshape(-1, CHANNELS)
    if not np.array_equal(got, want):
        bad = np.nonzero((got != want).any(axis=1))[0]
        pytest.fail(f"{what}: {len(bad)} of {len(want)} frames differ, first at frame {bad[0]}: "
                    f"{got[bad[0]].tolist()} != {want[bad[0]].tolist()}")
    return len(expected)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, I16]:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng): the speech WAVs are made with it")
    paths = generate(tmp_path_factory.mktemp("speech"), SPEECH)
    out = {}
    for name, path in paths.items():
        pcm, rate = read_wav(path)
        assert rate == SAMPLE_RATE
        out[name] = np.frombuffer(pcm, dtype="<i2").astype(np.int16)
    return out


@pytest.mark.parametrize("name", SPEECH)
def test_speech_step_by_step(speech: dict[str, I16], name: str) -> None:
    pcm = speech[name]
    assert _assert_same_stepwise(pcm, name) == len(pcm) // STEP_SAMPLES - 2


def _noise(rng: np.random.Generator, seconds: float, amplitude: int, dc: int = 0) -> I16:
    n = int(seconds * SAMPLE_RATE)
    x = rng.integers(-amplitude, amplitude + 1, n) + dc
    return np.clip(x, -32768, 32767).astype(np.int16)


def _tone(seconds: float, hz: float, amplitude: float, square: bool = False) -> I16:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    x = np.sin(2 * np.pi * hz * t)
    if square:
        x = np.sign(x)
    return np.clip(np.round(amplitude * x), -32768, 32767).astype(np.int16)


def test_silence() -> None:
    pcm = np.zeros(3 * SAMPLE_RATE, dtype=np.int16)
    assert _assert_same_stepwise(pcm, "silence") == 298


@pytest.mark.parametrize("amplitude", [1, 3, 30, 300, 3000, 12000, 32767])
def test_uniform_noise_at_several_levels(amplitude: int) -> None:
    rng = np.random.default_rng(amplitude)
    _assert_same_stepwise(_noise(rng, 2.0, amplitude), f"noise +-{amplitude}")


def test_loud_clipped_noise_and_extremes() -> None:
    rng = np.random.default_rng(7)
    parts = [
        _noise(rng, 2.0, 3 * 32768),  # clipped: most samples at -32768 or 32767
        np.full(SAMPLE_RATE // 2, -32768, dtype=np.int16),  # the most negative DC: the window's -32768 output
        np.full(SAMPLE_RATE // 2, 32767, dtype=np.int16),
        np.tile(np.array([-32768, 32767], dtype=np.int16), SAMPLE_RATE // 2),  # full-scale Nyquist
        _tone(1.0, 1000.0, 40000.0, square=True),  # clipped square wave
        _noise(rng, 1.0, 200, dc=-32000),  # near the negative rail
        np.where(rng.random(SAMPLE_RATE) < 0.01, -32768, 0).astype(np.int16),  # sparse clicks
    ]
    pcm = np.concatenate(parts)
    _assert_same_stepwise(pcm, "clipped and extreme")


def test_tones_sweep_the_filterbank() -> None:
    parts = [_tone(0.3, hz, amp) for hz in (60, 125, 440, 1000, 2500, 5000, 7400, 7999)
             for amp in (5.0, 2000.0, 32767.0)]
    _assert_same_stream(np.concatenate(parts), "tones")


def test_random_short_streams() -> None:
    """500 short streams (3..40 steps) of random mixtures: noise, tone, DC, gain, silence gaps."""
    rng = np.random.default_rng(2026)
    for case in range(500):
        steps = int(rng.integers(3, 41))
        n = steps * STEP_SAMPLES
        amp = float(10 ** rng.uniform(0, 4.7))
        x = rng.normal(0, amp, n) * rng.integers(0, 2)
        x += float(rng.uniform(-1, 1)) * amp * np.sin(2 * np.pi * rng.uniform(20, 8000) * np.arange(n) / SAMPLE_RATE)
        x += rng.integers(-3000, 3001) * rng.integers(0, 2)
        if rng.random() < 0.3:
            x[rng.integers(0, n):][:rng.integers(0, n)] = 0
        pcm = np.clip(np.round(x), -32768, 32767).astype(np.int16)
        _assert_same_stream(pcm, f"random case {case}")


def test_four_minute_stream_with_drifting_state(speech: dict[str, I16]) -> None:
    """4 minutes of speech, noise and silence at changing gains in one stream: noise reduction's estimates and PCAN
    follow slow changes for minutes; every frame must still match."""
    rng = np.random.default_rng(11)
    parts: list[I16] = []
    total = 0
    while total < 240 * SAMPLE_RATE:
        kind = rng.integers(0, 4)
        if kind == 0:
            word = speech[SPEECH[int(rng.integers(0, len(SPEECH)))]].astype(np.float64)
            part = np.clip(np.round(word * 10 ** rng.uniform(-2, 0.7)), -32768, 32767).astype(np.int16)
        elif kind == 1:
            part = _noise(rng, float(rng.uniform(0.5, 8)), int(10 ** rng.uniform(0, 4.5)))
        elif kind == 2:
            part = np.zeros(int(rng.uniform(0.1, 5) * SAMPLE_RATE), dtype=np.int16)
        else:
            part = _tone(float(rng.uniform(0.2, 3)), float(rng.uniform(50, 7900)), float(10 ** rng.uniform(1, 4.5)))
        parts.append(part)
        total += len(part)
    pcm = np.concatenate(parts)[:240 * SAMPLE_RATE]
    assert _assert_same_stream(pcm, "four minutes") == 240 * 100 - 2


def test_reset_matches_the_oracles_reset(speech: dict[str, I16]) -> None:
    pcm = speech["meeting.wav"]
    oracle = pymicro_features.MicroFrontend()
    ours = Frontend()
    first, second = pcm[:3 * SAMPLE_RATE], pcm[3 * SAMPLE_RATE:5 * SAMPLE_RATE]
    want1, got1 = _oracle(first, oracle), ours.process_stream(first)
    oracle.reset()
    ours.reset()
    want2, got2 = _oracle(second, oracle), ours.process_stream(second)
    assert got1.tolist() == [_as_values(f) for f in want1 if f]
    assert got2.tolist() == [_as_values(f) for f in want2 if f]
    # Mid-window reset (one step in): the window starts filling again.
    ours.reset()
    assert ours.process_raw(first[:STEP_SAMPLES]) is None
    ours.reset()
    assert ours.process_raw(first[:STEP_SAMPLES]) is None and ours.process_raw(first[:STEP_SAMPLES]) is None
    assert ours.process_raw(first[:STEP_SAMPLES]) is not None


def test_c_golden_constant_is_pymicro_features() -> None:
    """nn/tests/test_frontend.c checks the C frontend alone (and on the MCU's toolchain) against one FNV-1a hash of
    pymicro-features' frames for its golden signal: recompute that hash here with pymicro-features."""
    text = (REPO / "nn/tests/test_frontend.c").read_text(encoding="utf-8")
    match = re.search(r"#define GOLDEN_FNV 0x([0-9a-f]{16})ull", text)
    assert match, "GOLDEN_FNV not found in nn/tests/test_frontend.c"
    # The golden signal, as golden_signal() in the C test builds it.
    n = 14 * SAMPLE_RATE
    state = 2024
    lcg = np.empty(n, dtype=np.int64)
    for k in range(n):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        lcg[k] = state
    r = (lcg >> 16) - 32768
    pcm = np.zeros(n, dtype=np.int64)
    i = np.arange(SAMPLE_RATE)
    for s in range(14):
        seg = slice(s * SAMPLE_RATE, (s + 1) * SAMPLE_RATE)
        if 1 <= s <= 8:
            pcm[seg] = np.trunc(r[seg] * (1 << (2 * s - 2)) / 32768)
        elif s == 9:
            pcm[seg] = r[seg]
        elif s == 10:
            pcm[seg] = np.clip(2 * r[seg], -32768, 32767)
        elif s == 11:
            pcm[seg] = np.where((i // 40) % 2 == 1, 30000, -30000)
        elif s == 12:
            pcm[seg] = np.where(i < SAMPLE_RATE // 2, -32768, np.where(i % 2 == 1, 32767, -32768))
        elif s == 13:
            pcm[seg] = np.where(i % 97 == 0, -32768, 0)
    values = np.asarray([_as_values(f) for f in _oracle(pcm.astype(np.int16)) if f], dtype="<u2")
    assert values.shape == (1398, CHANNELS)
    h = 0xCBF29CE484222325
    for byte in values.tobytes():
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    assert f"{h:016x}" == match.group(1)


def test_input_types_and_errors() -> None:
    rng = np.random.default_rng(3)
    pcm = _noise(rng, 0.05, 5000)  # 5 steps
    reference = Frontend().process_stream(pcm)
    for convert in (lambda s: s.tobytes(), lambda s: bytearray(s.tobytes()), lambda s: memoryview(s.tobytes()),
                    lambda s: s, lambda s: s.astype("<i2")):
        fe = Frontend()
        frames = [fe.process_raw(convert(step)) for step in _steps(pcm)]
        assert frames[:2] == [None, None]
        assert np.array_equal(np.stack([f for f in frames if f is not None]), reference)
    fe = Frontend()
    with pytest.raises(ValueError, match="exactly 160 samples"):
        fe.process_raw(pcm[:159])
    with pytest.raises(ValueError, match="exactly 160 samples"):
        fe.process_raw(pcm[:161].tobytes())
    with pytest.raises(ValueError, match="whole 16-bit samples"):
        fe.process_raw(b"\0" * 321)
    with pytest.raises(TypeError, match="int16"):
        fe.process_raw(pcm[:160].astype(np.float32))
    with pytest.raises(TypeError, match="int16"):
        fe.process_raw(pcm[:80].astype(np.int32))
    with pytest.raises(ValueError, match="contiguous"):
        fe.process_raw(pcm[:320][::2])
    with pytest.raises(ValueError, match="multiple of 160"):
        fe.process_stream(pcm[:200])
    assert fe.process_stream(pcm[:0]).shape == (0, CHANNELS)
    assert 3000 < STATE_BYTES < 4096


# ---- the model's int8 input ----

def _wakeword_formula(values: NDArray[np.int64], scale: float, zero: int) -> NDArray[np.int8]:
    """glassbridge.audio.wakeword's quantisation of pymicro-features' floats, verbatim: the features as the
    frontend's Python floats, then numpy float32."""
    features = np.asarray([int(v) * FEATURE_SCALE for v in values], dtype=np.float32)
    q: NDArray[np.int8] = np.clip(np.rint(features / scale + zero), -128, 127).astype(np.int8)
    return q


ALL_VALUES = np.arange(65536, dtype=np.int64)


def test_quantizer_equals_wakeword_float_formula_for_okay_nabu() -> None:
    spec = model_info("okay_nabu").inputs[0]
    assert spec.scale is not None and spec.zero_point is not None
    q = FrontendQuantizer(spec.scale, spec.zero_point)
    got = q.quantize(ALL_VALUES.astype(np.uint16))
    want = _wakeword_formula(ALL_VALUES, spec.scale, spec.zero_point)
    assert got.dtype == np.int8
    bad = np.nonzero(got != want)[0]
    assert bad.size == 0, f"{bad.size} values differ, first {bad[:5].tolist()}"
    # Not a trivial mapping: every level is used, and the tie-breaking matters somewhere.
    assert set(np.unique(got).tolist()) == set(range(-128, 128))
    assert q.thresholds.shape == (255,) and bool(np.all(np.diff(q.thresholds.astype(np.int64)) >= 0))
    assert q.quantize(np.array([[0, 65535]], dtype=np.uint16)).tolist() == [[-128, 127]]


def test_quantizer_equals_what_wakeword_feeds_the_model() -> None:
    """All 65536 values through glassbridge.audio.WakeWord's own step (the model replaced by a recorder): the int8
    tensor it would give okay_nabu equals the quantizer's."""
    from glassbridge.audio import WakeWord

    wake = WakeWord()
    fed: list[NDArray[np.int8]] = []

    class Recorder:
        def run(self, array: NDArray[np.int8], *, dequantize: bool = True) -> list[NDArray[np.uint8]]:
            fed.append(array.copy())
            return [np.zeros((1, 1), dtype=np.uint8)]

    wake._model = Recorder()  # type: ignore[assignment]
    per_invoke = 3 * CHANNELS
    values = np.concatenate([ALL_VALUES, np.full(-len(ALL_VALUES) % per_invoke, 65535)])
    for chunk in values.reshape(-1, 3, CHANNELS):
        wake._features = [[int(v) * FEATURE_SCALE for v in row] for row in chunk]
        wake._step()
    assert len(fed) == len(values) // per_invoke and fed[0].shape == (1, 3, CHANNELS) and fed[0].dtype == np.int8
    spec = model_info("okay_nabu").inputs[0]
    assert spec.scale is not None and spec.zero_point is not None
    got = FrontendQuantizer(spec.scale, spec.zero_point).quantize(values.astype(np.uint16))
    assert np.array_equal(np.concatenate(fed).reshape(-1), got)


def test_quantizer_equals_the_float_formula_for_random_scales() -> None:
    rng = np.random.default_rng(15)
    features = ALL_VALUES.astype(np.float32) * np.float32(FEATURE_SCALE)
    for _ in range(200):
        scale = float(np.float32(10 ** rng.uniform(-3, 2)))
        zero = int(rng.integers(-128, 128))
        want = np.clip(np.rint(features / scale + zero), -128, 127).astype(np.int8)
        got = FrontendQuantizer(scale, zero).quantize(ALL_VALUES.astype(np.uint16))
        assert np.array_equal(got, want), (scale, zero)


def test_quantizer_refuses_bad_arguments() -> None:
    for scale, zero in ((0.0, 0), (-1.0, 0), (float("inf"), 0), (float("nan"), 0), (1.0, 128), (1.0, -129)):
        with pytest.raises(ValueError, match="scale must be"):
            FrontendQuantizer(scale, zero)
    assert repr(FrontendQuantizer(0.5, -3)) == "FrontendQuantizer(scale=0.5, zero_point=-3)"
