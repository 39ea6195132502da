"""Opus for the microphone stream to the phone: libopus (Debian's libopus0) through opuslib-next's ctypes binding.

Why Opus: 16 kHz speech at 24 kbit/s is 60 bytes per 20 ms against 640 bytes of PCM16, so a transcription session
fits the BLE link's budget with room for retransmissions; and libopus conceals lost packets (PLC) so a gap in the
link gives a short, smooth fill rather than a click the recogniser would stumble on.

- `OpusEncoder.encode(pcm)` returns one packet per complete `frame_ms` frame and keeps the remainder for the next
  call; `flush()` pads the remainder with silence into a last packet. The encoder runs in VOIP mode (speech
  tuning) with variable bitrate around `bitrate`.
- `OpusDecoder.decode(packet)` returns the packet's PCM (as many samples as the packet holds: 320 for 20 ms at
  16 kHz); `decode_lost(samples)` asks libopus to conceal exactly that many missing samples.
- `pack_opus_stream` / `unpack_opus_stream`: the byte layout of a TRANSFER_KIND_AUDIO_OPUS transfer, each packet
  prefixed by its length as 2 bytes little-endian.

Every libopus failure raises `OpusCodecError` naming libopus's reason (``corrupted stream``, ``invalid argument``);
when libopus0 itself is missing, the error says which apt package to install.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from glassbridge.audio.wav import SAMPLE_RATE, check_pcm

__all__ = ["OpusCodecError", "OpusEncoder", "OpusDecoder", "pack_opus_stream", "unpack_opus_stream",
           "OPUS_RATES", "MAX_PACKET_BYTES"]

OPUS_RATES = (8000, 12000, 16000, 24000, 48000)  # the rates libopus encodes and decodes at natively
_FRAME_MS = (10, 20, 40, 60)  # frame durations that suit speech (2.5 and 5 ms disable the speech modes)
# RFC 6716 section 3.4, R1-R5: a packet is at most 1275 bytes per frame; one 20 ms frame never needs more.
MAX_PACKET_BYTES = 1275
_MAX_STREAM_PACKET = 0xFFFF  # the 2-byte length prefix of TRANSFER_KIND_AUDIO_OPUS
_PLC_STEP_SAMPLES_PER_KHZ = 2.5  # libopus conceals in multiples of 2.5 ms
_MAX_PLC_MS = 120  # libopus's largest frame: longer gaps are concealed in several calls
_INSTALL = "install libopus0 (Debian/Ubuntu: `sudo apt-get install libopus0`; or `scripts/system-packages.sh audio`)"


class OpusCodecError(RuntimeError):
    """libopus refused an operation (its reason is in the message), or libopus0 is not installed."""


def _opuslib() -> ModuleType:
    """opuslib_next, imported on first use: without libopus0 it raises a bare Exception at import time."""
    try:
        import opuslib_next
    except ImportError as exc:
        raise OpusCodecError(f"the Python binding opuslib-next is not installed ({exc}); `pip install "
                             "opuslib-next` (a glassbridge dependency: reinstall glassbridge)") from exc
    except OSError as exc:  # the library exists but cannot be loaded (wrong architecture, broken install)
        raise OpusCodecError(f"libopus could not be loaded ({exc}); {_INSTALL}") from exc
    except Exception as exc:  # opuslib_next raises Exception("Could not find Opus library...")
        if "Opus library" in str(exc):
            raise OpusCodecError(f"libopus is not installed ({exc}); {_INSTALL}") from exc
        raise
    module: ModuleType = opuslib_next
    return module


def _reason(exc: BaseException) -> str:
    text = str(exc)
    return text if text else type(exc).__name__


def _check_rate(rate: int) -> None:
    if rate not in OPUS_RATES:
        raise ValueError(f"Opus runs at {', '.join(map(str, OPUS_RATES))} Hz, not {rate!r}; resample first "
                         "(glassbridge.audio.wav.resample)")


class OpusEncoder:
    """PCM16 mono -> Opus packets of `frame_ms` each, VBR around `bitrate` bit/s, VOIP mode."""

    def __init__(self, rate: int = SAMPLE_RATE, frame_ms: int = 20, bitrate: int = 24000, *,
                 complexity: int = 5) -> None:
        _check_rate(rate)
        if frame_ms not in _FRAME_MS:
            raise ValueError(f"frame_ms must be one of {_FRAME_MS}, got {frame_ms!r}")
        if not 6000 <= bitrate <= 510000:
            raise ValueError(f"bitrate must be 6000..510000 bit/s (libopus's range), got {bitrate!r}")
        if not 0 <= complexity <= 10:
            raise ValueError(f"complexity must be 0..10, got {complexity!r}")
        lib = _opuslib()
        self._error: type[BaseException] = lib.OpusError
        self.rate = rate
        self.frame_ms = frame_ms
        self.bitrate = bitrate
        self.frame_samples = rate * frame_ms // 1000
        self._frame_bytes = 2 * self.frame_samples
        try:
            self._encoder: Any = lib.Encoder(rate, 1, "voip")
            self._encoder.bitrate = bitrate
            # Complexity 5 of 10: on a glasses-class CPU the top settings cost 2-3x for little gain on speech.
            self._encoder.complexity = complexity
        except lib.OpusError as exc:
            raise OpusCodecError(f"libopus could not create an encoder ({_reason(exc)})") from exc
        self._pending = bytearray()
        self.packets = 0  # packets produced so far

    @property
    def lookahead_samples(self) -> int:
        """The codec's delay: decoded audio lags the input by this many samples (libopus's OPUS_GET_LOOKAHEAD)."""
        return int(self._encoder.lookahead)

    @property
    def pending_samples(self) -> int:
        """Samples kept back until a frame is complete."""
        return len(self._pending) // 2

    def encode(self, pcm: bytes | bytearray | memoryview) -> list[bytes]:
        """One packet per complete frame of (the kept remainder +) `pcm`; the new remainder is kept."""
        check_pcm(pcm)
        self._pending += pcm
        usable = len(self._pending) - len(self._pending) % self._frame_bytes
        packets = [self._encode_frame(bytes(self._pending[i:i + self._frame_bytes]))
                   for i in range(0, usable, self._frame_bytes)]
        del self._pending[:usable]
        return packets

    def flush(self) -> list[bytes]:
        """Encode the remainder padded with silence to a whole frame (no packet if there is none)."""
        if not self._pending:
            return []
        frame = bytes(self._pending) + bytes(self._frame_bytes - len(self._pending))
        self._pending.clear()
        return [self._encode_frame(frame)]

    def _encode_frame(self, frame: bytes) -> bytes:
        try:
            packet = bytes(self._encoder.encode(frame, self.frame_samples))
        except self._error as exc:
            raise OpusCodecError(f"libopus could not encode frame {self.packets} ({_reason(exc)})") from exc
        self.packets += 1
        return packet


class OpusDecoder:
    """Opus packets -> PCM16 mono at `rate` Hz, with packet-loss concealment."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        _check_rate(rate)
        lib = _opuslib()
        # The low-level call: PLC passes a NULL packet, which the high-level Decoder.decode cannot.
        import opuslib_next.api.decoder as api

        self._api: Any = api
        self._error: type[BaseException] = lib.OpusError
        self.rate = rate
        # The longest output of one packet: 120 ms (RFC 6716 section 3.2.1: at most 120 ms of audio per packet).
        self._max_samples = rate * _MAX_PLC_MS // 1000
        self._plc_step = int(rate * _PLC_STEP_SAMPLES_PER_KHZ / 1000)
        try:
            self._decoder: Any = lib.Decoder(rate, 1)
        except lib.OpusError as exc:
            raise OpusCodecError(f"libopus could not create a decoder ({_reason(exc)})") from exc
        self.packets = 0  # packets decoded so far (lost ones not counted)

    def decode(self, packet: bytes | bytearray | memoryview) -> bytes:
        """The PCM16 of one packet. An empty or corrupt packet raises OpusCodecError (the decoder stays usable:
        call `decode_lost` for the samples that packet would have held)."""
        if not isinstance(packet, (bytes, bytearray, memoryview)):
            raise TypeError(f"an Opus packet is bytes, got {type(packet).__name__}")
        data = bytes(packet)
        if not data:
            # libopus takes an empty packet as "lost" and conceals: make that explicit, never implicit.
            raise OpusCodecError(f"packet {self.packets} is empty; for a lost packet call decode_lost(samples)")
        try:
            pcm = bytes(self._decoder.decode(data, self._max_samples))
        except self._error as exc:
            raise OpusCodecError(f"libopus could not decode packet {self.packets} ({len(data)} bytes, first byte "
                                 f"{data[0]:#04x}): {_reason(exc)}") from exc
        self.packets += 1
        return pcm

    def decode_lost(self, samples: int) -> bytes:
        """Exactly `samples` samples of concealment for audio that never arrived (packet-loss concealment).

        libopus conceals in multiples of 2.5 ms up to 120 ms per call: longer gaps take several calls, and the
        last call's output is cut to the requested length.
        """
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 0:
            raise ValueError(f"samples must be a non-negative integer, got {samples!r}")
        out = bytearray()
        remaining = samples
        while remaining > 0:
            n = min(self._max_samples, -(-remaining // self._plc_step) * self._plc_step)
            try:
                chunk = self._api.decode(self._decoder.decoder_state, None, 0, n, False, channels=1)
            except self._error as exc:
                raise OpusCodecError(f"libopus could not conceal {n} lost samples ({_reason(exc)})") from exc
            take = min(remaining, len(chunk) // 2)
            if take <= 0:
                raise OpusCodecError(f"libopus returned no samples when concealing {n} lost samples")
            out += chunk[:2 * take]
            remaining -= take
        return bytes(out)


def pack_opus_stream(packets: Iterable[bytes | bytearray | memoryview]) -> bytes:
    """Packets -> one TRANSFER_KIND_AUDIO_OPUS body: each packet preceded by its length (uint16 little-endian)."""
    out = bytearray()
    for index, packet in enumerate(packets):
        size = len(packet)
        if size == 0:
            raise ValueError(f"packet {index} is empty; an Opus stream has no empty packets")
        if size > _MAX_STREAM_PACKET:
            raise ValueError(f"packet {index} is {size} bytes; the stream's 2-byte length allows {_MAX_STREAM_PACKET}")
        out += struct.pack("<H", size)
        out += packet
    return bytes(out)


def unpack_opus_stream(data: bytes | bytearray | memoryview) -> list[bytes]:
    """One TRANSFER_KIND_AUDIO_OPUS body -> its packets; a truncated or malformed body raises ValueError."""
    view = bytes(data)
    packets: list[bytes] = []
    pos = 0
    while pos < len(view):
        if pos + 2 > len(view):
            raise ValueError(f"Opus stream truncated: 1 byte left at offset {pos} where a 2-byte length belongs "
                             f"(after {len(packets)} packets)")
        (size,) = struct.unpack_from("<H", view, pos)
        if size == 0:
            raise ValueError(f"Opus stream packet {len(packets)} at offset {pos} has length 0; the body is damaged")
        end = pos + 2 + size
        if end > len(view):
            raise ValueError(f"Opus stream truncated: packet {len(packets)} at offset {pos} states {size} bytes, "
                             f"{len(view) - pos - 2} remain")
        packets.append(view[pos + 2:end])
        pos = end
    return packets
