"""Fuzzing what the phone parses of the glasses' audio (atheris): WAV questions, Opus question bodies, Opus packets.

    python tests/fuzz/fuzz_audio_input.py -max_total_time=8             # short (make test)
    python tests/fuzz/fuzz_audio_input.py -max_total_time=600 build/fuzz/corpus_audio   # long (make fuzz-py)

The bytes come from a bonded but possibly buggy or hostile peer, so each parser either returns or raises its
documented error, never anything else (and libopus, C behind ctypes, never crashes the process). Oracles:
- read_wav: WavError or (pcm, rate) with whole samples; when the header's data size fits the input (no streamed
  header), Python's `wave` module, an independent parser, must read the same samples and rate when it accepts the
  file as PCM16 mono;
- unpack_opus_stream: ValueError, or packets that pack_opus_stream turns back into exactly the input;
- OpusDecoder.decode: OpusCodecError, or whole 16-bit samples, at most 120 ms per packet (RFC 6716's longest),
  and the decoder stays usable (the next packet of a known-good stream still decodes to 20 ms).
"""

from __future__ import annotations

import io
import struct
import sys
import wave


from glassbridge.audio import OpusDecoder, OpusEncoder, pack_opus_stream, unpack_opus_stream
from glassbridge.audio.opus import OpusCodecError
from glassbridge.audio.wav import WavError, read_wav

_MAX_PACKET_SAMPLES = 16000 * 120 // 1000
_decoder: OpusDecoder | None = None
_good_packet = b""


def _setup() -> None:
    global _decoder, _good_packet
    _decoder = OpusDecoder()
    tone = b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(320))
    _good_packet = OpusEncoder().encode(tone)[0]


def _declared_data_fits(data: bytes) -> bool:
    """True when the data chunk's declared size lies within the input and within the RIFF container's declared
    size (so `wave` and read_wav must agree; for headers that contradict themselves they read different spans)."""
    if len(data) < 12:
        return False
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        if cid == b"data":
            return pos + 8 + size <= min(len(data), riff_end)
        pos += 8 + size + (size & 1)
    return False


def check_wav(data: bytes) -> None:
    try:
        pcm, rate = read_wav(data)
    except WavError:
        return
    assert len(pcm) % 2 == 0 and rate > 0, (len(pcm), rate)
    if not _declared_data_fits(data):
        return
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            if w.getnchannels() != 1 or w.getsampwidth() != 2:
                return
            theirs, their_rate = w.readframes(w.getnframes()), w.getframerate()
    except (wave.Error, EOFError, struct.error, ValueError):
        return  # wave refuses more than read_wav does (WAVE_FORMAT_EXTENSIBLE, for one)
    assert (theirs, their_rate) == (pcm, rate), (len(theirs), their_rate, len(pcm), rate)


def check_opus_stream(data: bytes) -> None:
    try:
        packets = unpack_opus_stream(data)
    except ValueError:
        return
    assert pack_opus_stream(packets) == data
    assert _decoder is not None
    for packet in packets[:8]:  # decoding is the slow part: a few packets per input are enough
        try:
            pcm = _decoder.decode(packet)
        except OpusCodecError:
            continue
        assert len(pcm) % 2 == 0 and len(pcm) // 2 <= _MAX_PACKET_SAMPLES, len(pcm)
    assert len(_decoder.decode(_good_packet)) == 640  # still usable after whatever came before


def run(data: bytes) -> None:
    if _decoder is None:
        _setup()
    if data[:1] == b"W":  # steer: a RIFF header in front, so the chunk walker is reached
        check_wav(b"RIFF" + struct.pack("<I", max(0, len(data) - 1)) + b"WAVE" + data[1:])
    else:
        check_wav(data)
        check_opus_stream(data)


def main() -> None:
    import atheris
    from coverage_of import instrument  # tests/fuzz/, beside this script

    from glassbridge.audio import opus, wav

    # the parsers, the independent parser they are compared with (Python's `wave`) and this harness's oracles
    instrument(atheris, wav, opus, wave, sys.modules[__name__])
    atheris.Setup(sys.argv, run)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
