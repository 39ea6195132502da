"""WAV files of 16-bit PCM: read (with clear errors for anything else), write, and resample.

PCM in glassbridge is ``bytes`` of int16 little-endian mono samples unless said otherwise; `SAMPLE_RATE` (16 kHz)
is the rate of the glasses' microphone, the wake word, the VAD and the codec.

`read_wav` parses the RIFF chunks itself instead of using the standard library's `wave` module, for one reason:
programs that write a WAV to a pipe (``espeak-ng --stdout``) cannot seek back to fill in the sizes, so their
header claims a data chunk of 0x7FFFFFFF-odd bytes. `wave` believes it; here a data size that runs past the end
of the input means "until the end", rounded down to whole samples. Everything else that is not PCM16 mono
is refused with a `WavError` saying what the file holds and how to convert it.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

from glassbridge.audio.resampler import resample_array

__all__ = ["SAMPLE_RATE", "WavError", "read_wav", "write_wav", "resample", "pcm_to_array", "array_to_pcm",
           "check_pcm"]

SAMPLE_RATE = 16000

_CONVERT = "convert it, e.g. `ffmpeg -i IN -ac 1 -ar 16000 -c:a pcm_s16le OUT.wav`"
_FORMAT_PCM = 1
_FORMAT_EXTENSIBLE = 0xFFFE
# KSDATAFORMAT_SUBTYPE_PCM: the GUID that makes a WAVE_FORMAT_EXTENSIBLE file plain integer PCM.
_SUBTYPE_PCM = bytes.fromhex("0100000000001000800000aa00389b71")
# Sizes programs write when they cannot seek back (0xFFFFFFFF, or 0x7FFFFFFF-ish): "until the end of the input".
_STREAMED_SIZE_MIN = 0x7FFF0000


class WavError(ValueError):
    """A WAV input is unreadable or not 16-bit PCM mono; the message names the input, the problem and the fix."""


def check_pcm(pcm: bytes | bytearray | memoryview, what: str = "pcm") -> None:
    """Raise ValueError unless `pcm` is bytes-like holding whole int16 samples."""
    if not isinstance(pcm, (bytes, bytearray, memoryview)):
        raise TypeError(f"{what} must be bytes of int16 little-endian samples, got {type(pcm).__name__}")
    if len(pcm) % 2:
        raise ValueError(f"{what} has {len(pcm)} bytes, an odd number: PCM16 needs 2 bytes per sample "
                         "(was a sample split between two chunks?)")


def pcm_to_array(pcm: bytes | bytearray | memoryview) -> np.ndarray:
    """int16 samples of `pcm` (a read-only view when possible, no copy)."""
    check_pcm(pcm)
    return np.frombuffer(pcm, dtype="<i2")


def array_to_pcm(samples: np.ndarray) -> bytes:
    """Round a float (or int) signal to int16 with saturation and return its bytes."""
    values = np.asarray(samples)
    if values.dtype.kind == "f":
        values = np.rint(values)
    return bytes(np.clip(values, -32768, 32767).astype("<i2").tobytes())


def _describe(source: object) -> str:
    return "the WAV bytes" if isinstance(source, (bytes, bytearray, memoryview)) else str(source)


def read_wav(data_or_path: bytes | bytearray | memoryview | str | os.PathLike[str]) -> tuple[bytes, int]:
    """Return (pcm, sample_rate) of a 16-bit PCM mono WAV given as bytes or a path.

    Raises WavError for a missing or unreadable file, a file that is not RIFF/WAVE, a missing fmt or data chunk,
    compressed or float formats, other sample widths and more than one channel.
    """
    name = _describe(data_or_path)
    if isinstance(data_or_path, (bytes, bytearray, memoryview)):
        data = bytes(data_or_path)
    else:
        try:
            data = Path(data_or_path).read_bytes()
        except FileNotFoundError:
            raise WavError(f"{name}: no such file; check the path") from None
        except OSError as exc:
            raise WavError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        head = data[:12]
        raise WavError(f"{name}: not a WAV file (starts with {head!r}, expected b'RIFF....WAVE'); {_CONVERT}")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(data):
        chunk_id, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if size < 16 or body + 16 > len(data):
                raise WavError(f"{name}: its fmt chunk is {size} bytes, too short for a WAV format; the file is "
                               "damaged")
            tag, channels, rate = struct.unpack_from("<HHI", data, body)
            bits = struct.unpack_from("<H", data, body + 14)[0]
            if tag == _FORMAT_EXTENSIBLE and size >= 40 and data[body + 24:body + 40] == _SUBTYPE_PCM:
                tag = _FORMAT_PCM
            fmt = (tag, channels, rate, bits)
        elif chunk_id == b"data":
            if fmt is None:
                raise WavError(f"{name}: the data chunk comes before any fmt chunk; the file is damaged")
            tag, channels, rate, bits = fmt
            if tag != _FORMAT_PCM:
                kind = {3: "IEEE float", 6: "A-law", 7: "mu-law", 0x55: "MP3"}.get(tag, f"format tag {tag:#x}")
                raise WavError(f"{name}: holds {kind} audio, glassbridge reads 16-bit integer PCM; {_CONVERT}")
            if bits != 16:
                raise WavError(f"{name}: holds {bits}-bit samples, glassbridge reads 16-bit PCM; {_CONVERT}")
            if channels != 1:
                raise WavError(f"{name}: has {channels} channels, glassbridge reads mono; {_CONVERT}")
            if rate <= 0:
                raise WavError(f"{name}: states a sample rate of {rate} Hz; the file is damaged")
            end = body + size
            if end > len(data):
                if size < _STREAMED_SIZE_MIN:
                    raise WavError(f"{name}: is truncated (the data chunk states {size} bytes, "
                                   f"{len(data) - body} are present)")
                end = len(data)  # written to a pipe: the data runs to the end of the input
            pcm = data[body:end]
            return pcm[:len(pcm) - len(pcm) % 2], rate
        # Chunks are padded to an even size (RIFF rule); a streamed header can have a huge size here too.
        pos = body + size + (size & 1)
    if fmt is None:
        raise WavError(f"{name}: has no fmt chunk; the file is damaged or not a WAV file")
    raise WavError(f"{name}: has no data chunk (no audio); the file is damaged")


def write_wav(pcm: bytes | bytearray | memoryview, rate: int = SAMPLE_RATE) -> bytes:
    """A complete 16-bit mono PCM WAV file holding `pcm` at `rate` Hz (44-byte canonical header)."""
    check_pcm(pcm)
    if not isinstance(rate, int) or isinstance(rate, bool) or not 0 < rate <= 0xFFFFFFFF // 2:
        raise ValueError(f"rate must be a positive integer number of Hz, got {rate!r}")
    size = len(pcm)
    if size > 0xFFFFFFFF - 36:
        raise ValueError(f"{size} bytes of PCM do not fit in one WAV file (4 GiB limit of RIFF)")
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + size, b"WAVE", b"fmt ", 16, _FORMAT_PCM, 1, rate,
                         rate * 2, 2, 16, b"data", size)
    return header + bytes(pcm)


def resample(pcm: bytes | bytearray | memoryview, src_rate: int, dst_rate: int) -> bytes:
    """PCM16 at `src_rate` -> PCM16 at `dst_rate`, band-limited (libsoxr 'HQ': see `glassbridge.audio.resampler`),
    rounded to nearest and saturated to int16 (no dither). Output has floor(n * dst / src) samples."""
    samples = pcm_to_array(pcm)
    out = resample_array(samples, src_rate, dst_rate)  # checks the rates, also when they are equal
    return bytes(pcm) if src_rate == dst_rate else array_to_pcm(out)
