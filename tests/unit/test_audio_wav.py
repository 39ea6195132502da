"""glassbridge.audio.wav: WAV files checked against Python's own `wave` module, and the errors for the rest.

Files are written by the standard library (the reference) and read by `read_wav`, and the other way round; the
refusals (stereo, 8-bit, float, not RIFF, truncated) are made by `wave` or by packing the RIFF header by hand from
the format's definition, so no byte comes from the code under test.
"""

from __future__ import annotations

import io
import struct
import wave
from pathlib import Path

import numpy as np
import pytest

from glassbridge.audio.wav import SAMPLE_RATE, WavError, read_wav, resample, write_wav


def _wave_bytes(samples: np.ndarray, rate: int, channels: int = 1, width: int = 2) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return buf.getvalue()


def _riff(fmt_body: bytes, data: bytes, *, data_size: int | None = None, extra: bytes = b"") -> bytes:
    """A RIFF/WAVE file from a fmt chunk body and data, packed by hand (the reference layout)."""
    size = len(data) if data_size is None else data_size
    chunks = b"fmt " + struct.pack("<I", len(fmt_body)) + fmt_body + extra + b"data" + struct.pack("<I", size) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _fmt(tag: int = 1, channels: int = 1, rate: int = 16000, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return struct.pack("<HHIIHH", tag, channels, rate, rate * block, block, bits)


RNG = np.random.default_rng(7)
SAMPLES = RNG.integers(-32768, 32767, 4001, dtype=np.int16)  # odd count: no accidental alignment


def test_read_wav_reads_what_the_standard_library_writes(tmp_path: Path) -> None:
    data = _wave_bytes(SAMPLES, 22050)
    pcm, rate = read_wav(data)
    assert rate == 22050
    assert np.array_equal(np.frombuffer(pcm, dtype="<i2"), SAMPLES)
    path = tmp_path / "a.wav"
    path.write_bytes(data)
    assert read_wav(path) == (pcm, 22050)
    assert read_wav(str(path)) == (pcm, 22050)


def test_write_wav_is_read_back_by_the_standard_library() -> None:
    data = write_wav(SAMPLES.tobytes(), 16000)
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, len(SAMPLES))
        assert np.array_equal(np.frombuffer(w.readframes(w.getnframes()), dtype="<i2"), SAMPLES)
    assert len(data) == 44 + 2 * len(SAMPLES)  # the canonical header: nothing else in the file


def test_streamed_header_with_placeholder_sizes_reads_to_the_end() -> None:
    # What espeak-ng --stdout writes: it cannot seek back, so both sizes are placeholders (0x7ffff000 there).
    data = _riff(_fmt(rate=22050), SAMPLES.tobytes() + b"\x01", data_size=0x7FFFF000)
    pcm, rate = read_wav(data)
    assert rate == 22050
    assert np.array_equal(np.frombuffer(pcm, dtype="<i2"), SAMPLES)  # the odd last byte is dropped


def test_chunks_before_data_are_skipped_including_padding() -> None:
    extra = b"LIST" + struct.pack("<I", 5) + b"abcde" + b"\x00"  # odd size: padded to even, per RIFF
    pcm, _ = read_wav(_riff(_fmt(), SAMPLES.tobytes(), extra=extra))
    assert np.array_equal(np.frombuffer(pcm, dtype="<i2"), SAMPLES)


def test_wave_format_extensible_pcm_is_read() -> None:
    sub_pcm = bytes.fromhex("0100000000001000800000aa00389b71")
    body = _fmt(tag=0xFFFE) + struct.pack("<HHI", 22, 16, 4) + sub_pcm
    pcm, rate = read_wav(_riff(body, SAMPLES.tobytes()))
    assert rate == 16000 and len(pcm) == 2 * len(SAMPLES)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (_wave_bytes(np.zeros(20, np.int16), 16000, channels=2), "2 channels"),
        (_wave_bytes(np.zeros(20, np.uint8), 16000, width=1), "8-bit"),
        (_riff(_fmt(tag=3, bits=32), bytes(40)), "IEEE float"),
        (_riff(_fmt(tag=7, bits=8), bytes(40)), "mu-law"),
        (b"OggS" + bytes(40), "not a WAV file"),
        (b"", "not a WAV file"),
        (_riff(_fmt(), bytes(100), data_size=1000), "truncated"),
        (b"RIFF" + struct.pack("<I", 4) + b"WAVE", "no fmt chunk"),
        (b"RIFF" + struct.pack("<I", 28) + b"WAVE" + b"fmt " + struct.pack("<I", 16) + _fmt(), "no data chunk"),
        (b"RIFF" + struct.pack("<I", 12) + b"WAVE" + b"data" + struct.pack("<I", 0), "before any fmt"),
        (_riff(_fmt()[:10], b""), "too short"),
    ],
)
def test_unreadable_or_unsupported_wavs_raise_wav_error_saying_what(data: bytes, words: str) -> None:
    with pytest.raises(WavError, match=words) as info:
        read_wav(data)
    assert "the WAV bytes" in str(info.value)


def test_conversion_advice_is_given_for_other_formats() -> None:
    with pytest.raises(WavError, match="ffmpeg -i IN -ac 1 -ar 16000"):
        read_wav(_wave_bytes(np.zeros(20, np.int16), 16000, channels=2))


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.wav"
    with pytest.raises(WavError, match="nope.wav: no such file"):
        read_wav(missing)
    with pytest.raises(WavError, match="cannot be read"):
        read_wav(tmp_path)  # a directory


def test_write_wav_refuses_half_samples_and_bad_rates() -> None:
    with pytest.raises(ValueError, match="odd number"):
        write_wav(b"\x00\x01\x02")
    with pytest.raises(ValueError, match="positive integer"):
        write_wav(b"", 0)
    with pytest.raises(TypeError, match="bytes"):
        write_wav([1, 2, 3])  # type: ignore[arg-type]
    assert read_wav(write_wav(b"")) == (b"", SAMPLE_RATE)  # an empty recording is a valid file


def test_resample_of_pcm_saturates_and_checks_its_input() -> None:
    loud = np.full(2000, 32767, dtype=np.int16)
    out = np.frombuffer(resample(loud.tobytes(), 8000, 16000), dtype="<i2")
    assert len(out) == 4000
    # A full-scale step overshoots (Gibbs ringing) above 32767: the output saturates instead of wrapping.
    assert out.min() > 0 and out.max() == 32767
    assert resample(loud.tobytes(), 16000, 16000) == loud.tobytes()
    with pytest.raises(ValueError, match="odd number"):
        resample(b"\x00", 16000, 8000)
    with pytest.raises(ValueError, match="src_rate must be a positive integer"):
        resample(b"", 0, 16000)
