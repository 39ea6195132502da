"""The audio pieces the loop builds per use (an Opus encoder per stream, an endpointer per question).

`AudioTools.default()` takes them from glassbridge.audio (libopus through opuslib, the VAD endpointer); tests give
fakes. Kept apart from the loop so that the loop imports glassbridge.audio only when it needs it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from glassbridge.assistant.config import WakeWordSettings
from glassbridge.assistant.ports import EndpointerPort, OpusEncoderPort

__all__ = ["AudioTools", "OPUS_FRAME_SAMPLES"]

#: Opus packets of 20 ms at 16 kHz (glassbridge.proto AudioPacket.frame_samples).
OPUS_FRAME_SAMPLES = 320


@dataclass(frozen=True)
class AudioTools:
    encoder: Callable[[int], OpusEncoderPort]  # bitrate (bits/s) -> an encoder for 16 kHz mono, 20 ms packets
    pack: Callable[[Sequence[bytes]], bytes]  # Opus packets -> the TRANSFER_KIND_AUDIO_OPUS byte stream
    endpointer: Callable[[WakeWordSettings], EndpointerPort]

    @classmethod
    def default(cls) -> AudioTools:
        from glassbridge import audio

        def encoder(bitrate: int) -> OpusEncoderPort:
            return audio.OpusEncoder(rate=16000, frame_ms=20, bitrate=bitrate)

        def endpointer(w: WakeWordSettings) -> EndpointerPort:
            return audio.Endpointer(silence_ms=w.silence_ms, max_ms=w.max_question_ms,
                                    no_speech_ms=w.no_speech_ms)

        return cls(encoder=encoder, pack=audio.pack_opus_stream, endpointer=endpointer)
