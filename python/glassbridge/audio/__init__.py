"""Audio on the glasses: wake word, voice activity and endpointing, Opus, WAV and resampling, the spoken voice.

    from glassbridge.audio import WakeWord, Endpointer, OpusEncoder, EspeakVoice, read_wav

    wake = WakeWord()                        # okay_nabu through LiteRT, verified by the model registry
    for chunk in microphone:                 # PCM16 mono 16 kHz bytes, any chunk size
        for hit in wake.feed(chunk):
            print("wake word at", hit.seconds, "s")

    ep = Endpointer(silence_ms=700)          # then listen until the wearer stops talking
    event = ep.feed(chunk)                   # EndpointEvent("speech_started"/"ended", reason=...)

    packets = OpusEncoder().encode(pcm)      # 20 ms Opus packets for the phone
    speech = await EspeakVoice().synthesize("One person ahead.")

PCM is always ``bytes`` of int16 little-endian mono at `SAMPLE_RATE` (16 kHz) unless a function says otherwise.
Modules: `wav` (WAV files, `resample`), `resampler` (band-limited resampling, libsoxr), `wakeword`, `vad`, `opus`,
`voice`, `speech_samples` (the test and demo WAVs). The pymicro-*, LiteRT and libopus bindings are imported when
an object that needs them is made, so importing this package is cheap and works without them.
"""

from __future__ import annotations

from glassbridge.audio.opus import OpusCodecError, OpusDecoder, OpusEncoder, pack_opus_stream, unpack_opus_stream
from glassbridge.audio.vad import Endpointer, EndpointEvent, Vad
from glassbridge.audio.voice import EspeakVoice, Voice, VoiceError
from glassbridge.audio.wakeword import Detection, WakeWord
from glassbridge.audio.wav import SAMPLE_RATE, WavError, read_wav, resample, write_wav

__all__ = [
    "SAMPLE_RATE",
    "WavError",
    "read_wav",
    "write_wav",
    "resample",
    "WakeWord",
    "Detection",
    "Vad",
    "Endpointer",
    "EndpointEvent",
    "OpusEncoder",
    "OpusDecoder",
    "OpusCodecError",
    "pack_opus_stream",
    "unpack_opus_stream",
    "Voice",
    "EspeakVoice",
    "VoiceError",
]
