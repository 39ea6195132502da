"""glassbridge.audio Opus: libopus round trips of espeak-ng speech and of a sine, packet sizes, PLC, errors.

The reference for a round trip is the input itself: the decoded audio is aligned to it by a cross-correlation
search (numpy), and the signal-to-noise ratio is computed in float64. Opus is a perceptual codec, so the bounds
are modest and stated here: a pure tone keeps > 20 dB SNR at 24 kbit/s, speech > 8 dB (SILK models speech
rather than matching its waveform; measured ~11.5 dB), and the alignment found for speech equals the lookahead
libopus reports.
"""

from __future__ import annotations

import shutil
import struct
import sys

import numpy as np
import pytest

from glassbridge.audio import (
    SAMPLE_RATE,
    OpusCodecError,
    OpusDecoder,
    OpusEncoder,
    pack_opus_stream,
    unpack_opus_stream,
)
from glassbridge.audio.speech_samples import make_pcm

FRAME = SAMPLE_RATE // 50  # 20 ms


def _sine(freq: float = 440.0, seconds: float = 2.0, amplitude: float = 8000.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return np.rint(amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def _round_trip(pcm: np.ndarray, bitrate: int = 24000) -> tuple[list[bytes], np.ndarray, OpusEncoder]:
    enc, dec = OpusEncoder(bitrate=bitrate), OpusDecoder()
    packets = enc.encode(pcm.tobytes()) + enc.flush()
    out = np.frombuffer(b"".join(dec.decode(p) for p in packets), dtype="<i2")
    return packets, out, enc


def _best_snr(ref: np.ndarray, out: np.ndarray, max_lag: int = 400) -> tuple[float, int]:
    """Highest SNR (dB) over delays 0..max_lag of `out` against `ref`, and that delay."""
    best = (-np.inf, 0)
    for lag in range(max_lag):
        a = ref[: len(ref) - max_lag].astype(np.float64)
        b = out[lag: lag + len(a)].astype(np.float64)
        snr = 10 * np.log10(np.sum(a * a) / max(np.sum((a - b) ** 2), 1e-9))
        if snr > best[0]:
            best = (float(snr), lag)
    return best


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (sudo apt-get install espeak-ng): the speech is made with it")
    return np.frombuffer(make_pcm("question_look.wav"), dtype="<i2")


def test_speech_round_trip_keeps_the_waveform(speech: np.ndarray) -> None:
    packets, out, enc = _round_trip(speech)
    assert len(packets) == -(-len(speech) // FRAME)  # one packet per 20 ms, the last one padded
    assert len(out) == len(packets) * FRAME
    snr, lag = _best_snr(speech, out)
    assert snr > 8.0, snr
    assert lag == enc.lookahead_samples  # the delay libopus states is the one the audio shows


def test_sine_round_trip_keeps_the_tone() -> None:
    sine = _sine()
    _, out, _ = _round_trip(sine)
    snr, _ = _best_snr(sine, out)
    assert snr > 20.0, snr
    spectrum = np.abs(np.fft.rfft(out[FRAME * 5:].astype(np.float64)))
    assert np.argmax(spectrum) * SAMPLE_RATE / len(out[FRAME * 5:]) == pytest.approx(440.0, abs=1.0)


@pytest.mark.parametrize("bitrate", [16000, 24000, 32000])
def test_packet_sizes_follow_the_bitrate(bitrate: int) -> None:
    # A steady tone keeps VBR near its target: bytes per 20 ms packet = bitrate / 8 / 50.
    packets, _, _ = _round_trip(_sine(seconds=3.0), bitrate)
    sizes = np.array([len(p) for p in packets[10:]])  # after the encoder settles
    kbps = sizes.mean() * 8 * 50
    assert 0.7 * bitrate <= kbps <= 1.15 * bitrate, kbps
    assert sizes.max() <= 1275  # RFC 6716: at most 1275 bytes per frame


def test_remainders_are_kept_until_a_frame_is_complete() -> None:
    enc = OpusEncoder()
    pcm = _sine(seconds=0.1).tobytes()  # 1600 samples = 5 frames
    assert enc.encode(pcm[:2 * 300]) == [] and enc.pending_samples == 300
    assert len(enc.encode(pcm[2 * 300:2 * 700])) == 2 and enc.pending_samples == 60
    assert len(enc.encode(pcm[2 * 700:2 * 1500])) == 2 and enc.pending_samples == 220
    assert len(enc.flush()) == 1 and enc.pending_samples == 0
    assert enc.flush() == []


def test_packet_loss_concealment_gives_the_requested_length() -> None:
    enc, dec = OpusEncoder(), OpusDecoder()
    packets = enc.encode(_sine(seconds=1.0).tobytes())
    for p in packets[:25]:
        dec.decode(p)
    lost = np.frombuffer(dec.decode_lost(FRAME), dtype="<i2")
    assert len(lost) == FRAME
    # Concealment continues the tone (fading), neither silence nor a click louder than the input.
    rms = np.sqrt(np.mean(lost.astype(np.float64) ** 2))
    assert 0.1 * 8000 / np.sqrt(2) < rms and np.abs(lost).max() <= 1.2 * 8000
    for samples in (0, 40, 1000, 5000):  # 5000 > 120 ms: several libopus calls, cut to length
        assert len(dec.decode_lost(samples)) == 2 * samples
    assert len(dec.decode(packets[30])) == 2 * FRAME  # decoding resumes after a gap
    with pytest.raises(ValueError, match="non-negative integer"):
        dec.decode_lost(-1)


@pytest.mark.parametrize("packet", [b"\x03\x00", b"\x03", b"\x03\xff\x00", b"\xff" * 5])
def test_a_corrupt_packet_raises_a_clear_error_and_the_decoder_goes_on(packet: bytes) -> None:
    enc, dec = OpusEncoder(), OpusDecoder()
    good = enc.encode(_sine(seconds=0.04).tobytes())
    with pytest.raises(OpusCodecError, match="could not decode packet 0 .* corrupted stream"):
        dec.decode(packet)
    assert len(dec.decode(good[0])) == 2 * FRAME


def test_empty_packets_and_wrong_types_are_refused() -> None:
    dec = OpusDecoder()
    with pytest.raises(OpusCodecError, match="empty; for a lost packet call decode_lost"):
        dec.decode(b"")
    with pytest.raises(TypeError, match="Opus packet is bytes"):
        dec.decode("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="odd number"):
        OpusEncoder().encode(b"\x00")
    with pytest.raises(ValueError, match="not 44100"):
        OpusEncoder(rate=44100)
    with pytest.raises(ValueError, match="frame_ms"):
        OpusEncoder(frame_ms=25)
    with pytest.raises(ValueError, match="bitrate"):
        OpusEncoder(bitrate=1000)


def test_stream_packing_uses_two_byte_little_endian_lengths() -> None:
    packets = [b"\x01", b"ab" * 100, bytes(range(256)) * 3]
    body = pack_opus_stream(packets)
    # The layout, decoded with struct from its definition.
    pos, parsed = 0, []
    while pos < len(body):
        (n,) = struct.unpack_from("<H", body, pos)
        parsed.append(body[pos + 2: pos + 2 + n])
        pos += 2 + n
    assert parsed == packets
    assert unpack_opus_stream(body) == packets
    assert unpack_opus_stream(b"") == [] and pack_opus_stream([]) == b""
    with pytest.raises(ValueError, match="truncated: packet 1 at offset 3 states 200 bytes, 10 remain"):
        unpack_opus_stream(body[:15])
    with pytest.raises(ValueError, match="1 byte left"):
        unpack_opus_stream(body[:3] + b"\x05")
    with pytest.raises(ValueError, match="length 0"):
        unpack_opus_stream(b"\x00\x00")
    with pytest.raises(ValueError, match="packet 0 is empty"):
        pack_opus_stream([b""])
    with pytest.raises(ValueError, match="65535"):
        pack_opus_stream([bytes(70000)])


def test_a_real_stream_survives_packing(speech: np.ndarray) -> None:
    packets, out, _ = _round_trip(speech)
    dec = OpusDecoder()
    again = b"".join(dec.decode(p) for p in unpack_opus_stream(pack_opus_stream(packets)))
    assert again == out.tobytes()


def test_missing_libopus_names_the_apt_package(monkeypatch: pytest.MonkeyPatch) -> None:
    # Make opuslib_next's import-time search fail as on a machine without libopus0, then import it afresh.
    import ctypes.util
    import os.path

    for name in [m for m in sys.modules if m == "opuslib_next" or m.startswith("opuslib_next.")]:
        monkeypatch.delitem(sys.modules, name)
    real_exists = os.path.exists
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    monkeypatch.setattr(os.path, "exists", lambda p: False if "opus" in str(p) else real_exists(p))
    with pytest.raises(OpusCodecError, match="apt-get install libopus0"):
        OpusEncoder()
    with pytest.raises(OpusCodecError, match="libopus is not installed"):
        OpusDecoder()
