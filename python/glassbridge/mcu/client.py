"""`Mcu`: the typed asyncio client of the glasses' microcontroller.

    async with await Mcu.connect("/dev/ttyS1") as mcu:
        print(await mcu.status())
        await mcu.show_card(CardSpec(title="Hello", text="glassbridge is up"))
        async for event in mcu.events():
            print(event)                       # ButtonPressed, GestureDetected, BatteryChanged, McuRebooted...

Under it: a SerialTransport (pyserial, one thread) driving the link engine, which delivers every message
reliably and in order through line noise, a pulled cable and a reconnect, and the client layer both links share
(glassbridge.protocol.client: request/answer matching, the patience rule, what a peer restart fails and resumes,
resumable transfers, errors that name what was awaited). This module is the MCU's face of that layer: its
requests and events, the microphone (restarted with a marked gap after a reboot, ended by the capture
fail-safe), TransferChunk as the transfers' data message, and the MCU's words in its errors (the line's losses,
the firmware's versions, the port).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncGenerator, Callable
from dataclasses import asdict, dataclass
from typing import Any

from glassbridge.mcu.errors import CaptureStoppedError, McuError
from glassbridge.mcu.events import (
    AudioChunk,
    BatteryChanged,
    BatteryInfo,
    ButtonPressed,
    CaptureFailsafe,
    CardSpec,
    GestureDetected,
    McuConnected,
    McuDisconnected,
    McuEvent,
    McuRebooted,
    McuStatus,
    TransferReport,
    WakeWordHeard,
)
from glassbridge.mcu.transport import (
    DEFAULT_BAUD,
    DEFAULT_STALL_TIMEOUT,
    PortBack,
    PortLost,
    SerialTransport,
    check_positive,
    line_report,
)
from glassbridge.protocol.client import LinkClient, PeerClient
from glassbridge.protocol.errors import NotConnected, PeerError, PeerIncompatible, PeerRestarted
from glassbridge.protocol.link import Channel, Link, PeerInfo, PeerReset, Role
from glassbridge.protocol.messages import enum_name, enum_value, pb
from glassbridge.protocol.transfer import TRANSFER_CHUNK_LIMIT, TransferChunks

__all__ = [
    # the client
    "EVENT_QUEUE",
    "MCU_TRANSFER_IDLE",
    "MCU_TRANSFER_LIMITS",
    "Mcu",
    "SAMPLE_RATE",
    "TRANSFER_CHUNK",
    "version_mismatch_message",
    # its value types, defined in glassbridge.mcu.events and re-exported here
    "AudioChunk",
    "BatteryChanged",
    "BatteryInfo",
    "ButtonPressed",
    "CaptureFailsafe",
    "CardSpec",
    "GestureDetected",
    "McuConnected",
    "McuDisconnected",
    "McuEvent",
    "McuRebooted",
    "McuStatus",
    "TransferReport",
    "WakeStream",
    "WakeWordHeard",
]

log = logging.getLogger(__name__)

#: Audio of the MCU link: PCM16 mono at 16 kHz (32,000 bytes/s, a third of the UART at 921600 baud).
SAMPLE_RATE = 16000
#: Frames of a stream the MCU started on a wake word that may wait for Mcu.wake_stream (20 s at 20 ms): past it,
#: nobody is reading, so the client stops the stream (MicControl{stream: false}) and drops what it held.
WAKE_STREAM_BACKLOG = 1000
#: The MCU's size limit per transfer kind (firmware/src/app/transfer.h, SPEC.md 10.1): larger ones are refused with
#: TOO_LARGE, other kinds with BAD_REQUEST.
MCU_TRANSFER_LIMITS: dict[str, int] = {"firmware": 1024 * 1024, "asset": 256 * 1024}
#: Seconds without progress after which the MCU lets another transfer of the same SoC session replace a running
#: one (before that it answers BUSY; a new SoC session replaces it at once).
MCU_TRANSFER_IDLE = 30.0

#: Largest chunk of a bulk transfer: the `limit: 960` of TransferChunk.data, so one chunk fits one 1 KB frame.
TRANSFER_CHUNK = TRANSFER_CHUNK_LIMIT
#: Events a slow consumer of events() may fall behind before it loses the oldest.
EVENT_QUEUE = 1024


# ---- what the client returns: glassbridge.mcu.events; the microphone queue's markers --------------------


class _Gap:
    """Marker in the microphone queue: the stream broke (MCU reboot); the next chunk starts after a gap."""


@dataclass(frozen=True)
class _Stopped:
    """Marker in the microphone queue: the MCU stopped the stream itself (capture fail-safe)."""

    reason: str


def version_mismatch_message(peer: PeerInfo, own_min: int, own_max: int) -> str:
    """What the MCU's PeerIncompatible says: both sides' version ranges as their Hellos gave them, and which side to
    update (the one whose newest version is below the other's oldest); when the ranges overlap, the mismatch
    comes from the MCU's limits or its refusal, which updating the package would not fix."""
    theirs = f"{peer.min_protocol_version} to {peer.protocol_version}"
    text = (f"the MCU (firmware {peer.firmware_version or 'unknown'}) speaks link protocol versions {theirs}; "
            f"this glassbridge speaks {own_min} to {own_max}")
    if peer.protocol_version < own_min:
        return text + ": no version in common, the firmware is older: update the firmware"
    if peer.min_protocol_version > own_max:
        return text + ": no version in common, glassbridge is older: update the glassbridge package"
    return (text + f": the versions overlap, but the MCU refused the link or declared unusable limits (max_frame "
            f"{peer.max_frame}, window {peer.window}, max_message {peer.max_message}): a firmware fault")



class WakeStream:
    """The stream of one WakeWordHeard (Mcu.wake_stream): iterate for its AudioChunks; aclose() stops it on the
    MCU whether or not it was read. CaptureStoppedError when the MCU stopped it (fail-safe) or rebooted."""

    def __init__(self, mcu: Mcu, queue: asyncio.Queue[Any], stream_id: int) -> None:
        self._mcu = mcu
        self._queue = queue
        self.stream_id = stream_id
        self._closed = False

    def __aiter__(self) -> WakeStream:
        return self

    async def __anext__(self) -> AudioChunk:
        while not self._closed:
            item = await self._queue.get()
            if isinstance(item, _Stopped):
                raise CaptureStoppedError(item.reason)
            if isinstance(item, _Gap):
                raise CaptureStoppedError("the MCU rebooted during the wake word's stream")
            if item.stream_id != self.stream_id:
                continue  # a late frame of an earlier stream
            return AudioChunk(item.pcm, item.first_sample, item.sample_rate, item.stream_id, item.gap_before)
        raise StopAsyncIteration

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        mcu = self._mcu
        if mcu._mic is self._queue:
            mcu._mic = None
        if mcu.connected and mcu._link.version_error is None:
            with contextlib.suppress(PeerError):
                await mcu._request("MicControl(stream=False)", "mic_control", pb.MicControl(stream=False))


# ---- the client ---------------------------------------------------------------------------------------


class Mcu(PeerClient["_McuLink", McuEvent]):
    """The glasses' microcontroller over its UART. Create with `await Mcu.connect(port)`. Its events: buttons,
    gestures, battery changes, the capture fail-safe and link state (McuConnected, McuDisconnected, McuRebooted)."""

    def __init__(self, transport: SerialTransport, *, request_timeout: float = 3.0, link_patience: float = 15.0,
                 stall_timeout: float = DEFAULT_STALL_TIMEOUT):
        """request_timeout: seconds an answer may take while the link is up; link_patience: how much longer while
        it is down; stall_timeout: seconds a transfer may go without the MCU confirming progress. Each a finite
        number above 0 (ValueError otherwise)."""
        check_positive("request_timeout", request_timeout)
        check_positive("link_patience", link_patience)
        check_positive("stall_timeout", stall_timeout)
        self._transport = transport
        self.stall_timeout = stall_timeout
        super().__init__(_McuLink(self, transport, request_timeout=request_timeout, link_patience=link_patience),
                         EVENT_QUEUE)
        self._mic: asyncio.Queue[Any] | None = None
        self._wake_stream_id = 0  # a stream the MCU started on a wake word, waiting for wake_stream()
        self._background: set[asyncio.Task[None]] = set()
        self._dispatcher = asyncio.create_task(self._link.pump(transport.events), name="glassbridge-mcu-dispatch")

    @classmethod
    async def connect(
        cls,
        port: str,
        *,
        baudrate: int = DEFAULT_BAUD,
        timeout: float = 5.0,
        request_timeout: float = 3.0,
        link_patience: float = 15.0,
        stall_timeout: float = DEFAULT_STALL_TIMEOUT,
        **link_options: Any,
    ) -> Mcu:
        """Opens the port (exclusively) and waits for the link handshake. Raises PortError (also "port in use"),
        NotConnected, PeerIncompatible; ValueError for a baudrate or a time that is not a finite number above 0.
        stall_timeout: how long sends wait for room and transfers for progress while nothing gets through before
        they fail with an error naming the line's losses."""
        check_positive("baudrate", baudrate, integer=True)
        check_positive("timeout", timeout)
        check_positive("request_timeout", request_timeout)
        check_positive("link_patience", link_patience)
        check_positive("stall_timeout", stall_timeout)
        options: dict[str, Any] = {"role": Role.SOC, "max_frame": 1024, "window": 16, "max_message": 4096}
        options.update(link_options)
        link = Link(**options)
        transport = SerialTransport(port, link, baudrate=baudrate, stall_timeout=stall_timeout)
        await transport.start()
        mcu = cls(transport, request_timeout=request_timeout, link_patience=link_patience,
                  stall_timeout=stall_timeout)
        try:
            await mcu.wait_connected(timeout)
        except BaseException:
            await mcu.close()
            raise
        return mcu

    async def _shutdown(self) -> None:
        self._dispatcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._dispatcher
        await self._transport.close()

    @property
    def connected(self) -> bool:
        """The link is up (handshake done, messages flow): the MCU's word for `up`."""
        return self.up

    @property
    def link(self) -> Link:
        return self._transport.link

    def link_info(self) -> dict[str, Any]:
        """The link's counters (retransmissions, CRC errors, round-trip time) as a dict."""
        return asdict(self.link.stats)

    async def wait_connected(self, timeout: float) -> None:
        """Waits for the handshake: NotConnected says what was seen on the wire meanwhile; PeerIncompatible when
        the firmware's versions do not fit."""
        check_positive("timeout", timeout)
        await self._link.wait_up(timeout)

    # ---- events -----------------------------------------------------------------------------------------

    def _on_message(self, msg: pb.Message) -> bool:
        """The MCU's events (button, gesture, battery, microphone audio, fail-safe); False for anything else."""
        body = msg.WhichOneof("body")
        if body == "button":
            b = msg.button
            self._publish(
                ButtonPressed(
                    enum_name(pb.ButtonId, b.button, "BUTTON_ID_"),
                    enum_name(pb.ButtonAction, b.action, "BUTTON_ACTION_"),
                    b.at_ms,
                )
            )
        elif body == "gesture":
            g = msg.gesture
            self._publish(GestureDetected(enum_name(pb.Gesture, g.gesture, "GESTURE_"), g.at_ms, g.confidence_pct))
        elif body == "battery":
            self._publish(BatteryChanged(BatteryInfo.from_pb(msg.battery.battery), msg.battery.at_ms))
        elif body == "mic_audio":
            if self._mic is not None:
                self._mic.put_nowait(msg.mic_audio)
                if self._wake_stream_id and self._mic.qsize() > WAKE_STREAM_BACKLOG:
                    log.warning("a wake word's microphone stream was not read for %d frames: stopping it",
                                WAKE_STREAM_BACKLOG)
                    self._mic = None
                    self._wake_stream_id = 0
                    self._spawn_mic_stop()
        elif body == "wake_word_event":
            e = msg.wake_word_event
            heard = WakeWordHeard(e.stream_id, e.lookback_sample, e.detected_sample,
                                  e.probability_permille / 1000, e.at_ms, e.heard_sample)
            if self._mic is None:  # the stream it starts is read by wake_stream(): its frames wait here until then
                self._mic = asyncio.Queue()
                self._wake_stream_id = e.stream_id
            self._publish(heard)
        elif body == "failsafe":
            f = msg.failsafe
            event = CaptureFailsafe(f.link_lost_ms, f.camera_was_on, f.mic_was_streaming, f.at_ms, f.down_ms)
            log.warning("the MCU's capture fail-safe acted: the link was lost for %.1f s (camera %s, microphone %s)",
                        f.link_lost_ms / 1000, "off" if f.camera_was_on else "was off",
                        "stopped" if f.mic_was_streaming else "was idle")
            if f.mic_was_streaming and self._mic is not None:
                self._mic.put_nowait(_Stopped(
                    f"the MCU stopped the microphone stream: its link to the SoC was lost for "
                    f"{f.link_lost_ms / 1000:.1f} s (capture fail-safe); start it again"))
            self._publish(event)
        else:
            return False
        return True

    # ---- requests ---------------------------------------------------------------------------------------

    async def _request(self, what: str, body: str, value: Any, channel: int = Channel.CONTROL) -> Any:
        """Sends one request (`body` = `value`) and returns the answer, by the patience rule of
        glassbridge.protocol.client: `request_timeout` while the link is up, up to `link_patience` more while it
        is down (a pulled cable), then an error saying what it was waiting for and what the line did."""
        msg = pb.Message()
        getattr(msg, body).CopyFrom(value)
        return await self._link.request(what, msg, channel)

    async def status(self) -> McuStatus:
        """The MCU's firmware version, boot count, battery, buttons, IMU, camera/LED/mic state."""
        answer = await self._request("Status", "status_request", pb.StatusRequest())
        return McuStatus.from_pb(answer.status, self.link_info())

    async def set_camera_power(self, on: bool) -> bool:
        """Powers the camera (and with it, always, the capture LED). Returns the camera's new power state."""
        answer = await self._request(f"CameraPower(on={on})", "camera_power", pb.CameraPower(on=on))
        state = answer.camera_state
        if state.powered and not state.capture_led:
            raise McuError("the MCU reports the camera powered with the capture LED off: refusing to go on")
        return bool(state.powered)

    async def show_card(self, card: CardSpec, card_id: int | None = None) -> int:
        """Shows a card on the display; returns its id (larger ids replace smaller ones)."""
        cid = card_id or self._link.next_id()
        kind, icon = enum_value(pb.CardKind, card.kind, "CARD_KIND_"), enum_value(pb.Icon, card.icon, "ICON_")
        value = pb.DisplayCard(card_id=cid, kind=kind, icon=icon, title=card.title, text=card.text, ttl_ms=card.ttl_ms)
        await self._request(f"DisplayCard({card.title!r})", "card", value)
        return cid

    async def clear_display(self) -> None:
        await self._request("DisplayClear", "display_clear", pb.DisplayClear())

    async def play_audio(self, pcm: bytes, sample_rate: int = SAMPLE_RATE, frame_ms: int = 20,
                         lead_ms: int = 200) -> None:
        """Sends PCM16 mono to the speaker in `frame_ms` frames, paced at the audio's own rate and at most
        `lead_ms` ahead of it; returns once the last frame is queued on the link (about the audio's length minus
        `lead_ms`). Pacing keeps the UART free for requests: queued all at once, 3 s of speech (96 KB) would sit
        ~1 s of line time in front of a camera-power request at 921600 baud. `lead_ms` <= 0: no pacing."""
        step = sample_rate * frame_ms // 1000 * 2
        loop = asyncio.get_running_loop()
        started = loop.time()
        for start in range(0, len(pcm), step):
            if lead_ms > 0:
                due = started + (start // 2 / sample_rate) - lead_ms / 1000
                delay = due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            frame = pb.AudioFrame(sample_rate=sample_rate, first_sample=start // 2, pcm=pcm[start : start + step])
            await self._link.send(pb.Message(speaker_audio=frame), Channel.AUDIO)

    async def listen_for_wake_word(self, listen: bool = True, *, cutoff: float | None = None,
                                   window: int | None = None, refractory_ms: int | None = None,
                                   lookback_ms: int | None = None, frame_ms: int = 20) -> None:
        """Has the MCU listen for the wake word itself (its capability WAKE_WORD; McuError NOT_SUPPORTED without
        it), or stop. While it only listens no audio crosses the UART and the capture LED stays off; on the phrase
        it publishes WakeWordHeard and streams the audio from `lookback_ms` (default 1500) before the detection:
        read it with wake_stream(). `cutoff` (0-1, three decimals) and `window` (steps of 30 ms) default to the
        model's own (okay_nabu: 0.85 over 5); `refractory_ms` to 1000. Each new call starts afresh."""
        if cutoff is not None and not 0.0 < cutoff < 1.0:
            raise ValueError(f"cutoff must be between 0 and 1 (exclusive), got {cutoff}")
        value = pb.WakeWordControl(
            listen=listen, cutoff_permille=0 if cutoff is None else max(1, min(999, round(cutoff * 1000))),
            window=window or 0, refractory_ms=refractory_ms or 0, lookback_ms=lookback_ms or 0, frame_ms=frame_ms)
        await self._request(f"WakeWordControl(listen={listen})", "wake_word_control", value)

    @property
    def listens_for_wake_word(self) -> bool:
        """The firmware can listen for the wake word itself (its Hello declared CAPABILITY_WAKE_WORD)."""
        peer = self.link.peer
        return peer is not None and bool(peer.capabilities & pb.CAPABILITY_WAKE_WORD)

    def wake_stream(self, event: WakeWordHeard) -> WakeStream:
        """The microphone stream a WakeWordHeard started, from its first (lookback) frame on: an async iterator of
        AudioChunk whose aclose() stops it (MicControl{stream: false}, the LED goes off), also when it was never
        read. McuError when that stream is not the one waiting (another consumer streams, or it was stopped for
        not being read)."""
        if self._mic is None or self._wake_stream_id != event.stream_id:
            raise McuError(f"the wake word's stream {event.stream_id} is not waiting to be read (another consumer "
                           "streams the microphone, or nobody read it for too long)")
        self._wake_stream_id = 0
        return WakeStream(self, self._mic, event.stream_id)

    def _spawn_mic_stop(self) -> None:
        async def stop() -> None:
            with contextlib.suppress(PeerError):
                await self._request("MicControl(stream=False)", "mic_control", pb.MicControl(stream=False))
        task = asyncio.create_task(stop(), name="glassbridge-mcu-mic-stop")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def microphone(self, frame_ms: int = 20) -> AsyncGenerator[AudioChunk, None]:
        """Streams the microphone (the capture LED is lit meanwhile). After an MCU reboot the stream is restarted
        and the next chunk has gap_before=True."""
        if self._mic is not None:
            raise McuError("the microphone is already being streamed by another consumer")
        self._mic = asyncio.Queue()
        gap = False
        try:
            await self._request("MicControl(stream=True)", "mic_control", pb.MicControl(stream=True, frame_ms=frame_ms))
            while True:
                item = await self._mic.get()
                if isinstance(item, _Stopped):
                    raise CaptureStoppedError(item.reason)
                if isinstance(item, _Gap):
                    gap = True
                    await self.wait_connected(self.link_patience)
                    await self._request(
                        "MicControl(stream=True) after a reboot", "mic_control",
                        pb.MicControl(stream=True, frame_ms=frame_ms),
                    )
                    continue
                yield AudioChunk(item.pcm, item.first_sample, item.sample_rate, item.stream_id, gap or item.gap_before)
                gap = False
        finally:
            self._mic = None
            if self.connected and self._link.version_error is None:
                with contextlib.suppress(PeerError):
                    await self._request("MicControl(stream=False)", "mic_control", pb.MicControl(stream=False))

    async def transfer(
        self,
        data: bytes,
        *,
        name: str = "",
        kind: str = "firmware",
        transfer_id: int | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> TransferReport:
        """Sends `data` to the MCU, which verifies its SHA-256, in TransferChunks (glassbridge.protocol.transfer:
        the one resumable sender). Survives link loss and MCU reboots: after either, it asks the MCU where the
        transfer stands (TransferQuery) and resumes from the confirmed offset (or from the start when the MCU has
        forgotten it).

        The MCU takes kinds "firmware" (at most MCU_TRANSFER_LIMITS["firmware"] = 1 MiB, its image slot) and
        "asset" (256 KiB), one transfer at a time (SPEC.md 10.1).

        It always ends: VERIFIED returns (at once when the MCU already holds the whole transfer, e.g. the same
        transfer_id sent again). TransferFailed when the MCU refuses it (FAILED; too_large over the kind's limit;
        bad_request for another kind; busy while it receives another transfer of this SoC session that made
        progress in the last MCU_TRANSFER_IDLE seconds: not retried here) or reports an offset beyond the size;
        TransferStalled when it confirms no progress for `stall_timeout` seconds (the message names the line's
        losses); LinkStalled when nothing gets through at all; LinkLost or NotConnected
        when the link stays down."""
        tid = transfer_id or (secrets.randbits(31) | 1)
        return await self._link.upload(kind, data, name, TransferChunks(), transfer_id=tid, progress=progress,
                                       stall_timeout=self.stall_timeout,
                                       stall_detail=lambda since: line_report(self.link, since))


class _McuLink(LinkClient):
    """The client layer with the MCU's words and events: what the hooks of LinkClient say and do for the MCU."""

    def __init__(self, mcu: Mcu, transport: SerialTransport, *, request_timeout: float,
                 link_patience: float) -> None:
        super().__init__(transport, peer="MCU", request_timeout=request_timeout, link_patience=link_patience)
        self.mcu = mcu
        self.port = transport.port
        self.baudrate = transport.baudrate

    def on_message(self, msg: pb.Message, channel: int) -> bool:
        return self.mcu._on_message(msg)

    def on_link_up(self, peer: PeerInfo) -> None:
        self.mcu._publish(McuConnected(peer.firmware_version, peer.boot_counter))

    def on_link_down(self) -> None:
        self.mcu._publish(McuDisconnected("nothing heard from the MCU for the link timeout"))

    def restart_error(self, event: PeerReset) -> PeerRestarted:
        return PeerRestarted(f"the MCU rebooted (boot counter {event.peer.boot_counter}); {event.dropped} "
                             "unacknowledged messages were dropped", peer=self.peer)

    def on_restart(self, event: PeerReset) -> None:
        if self.mcu._mic is not None:
            self.mcu._mic.put_nowait(_Gap())
        self.mcu._publish(McuRebooted(event.peer.boot_counter, event.dropped))

    def own_versions(self) -> tuple[int, int]:
        link = self.mcu.link
        return (link.min_protocol_version, link.protocol_version)

    def incompatible(self, peer: PeerInfo) -> PeerIncompatible:
        ours = self.own_versions()
        return PeerIncompatible(version_mismatch_message(peer, *ours), peer=self.peer,
                                peer_versions=(peer.min_protocol_version, peer.protocol_version), our_versions=ours)

    def on_other(self, event: object) -> None:
        if isinstance(event, PortLost):
            self.mcu._publish(McuDisconnected(f"serial port {event.port} gone: {event.reason}"))
        elif isinstance(event, PortBack):
            log.info("serial port %s back; waiting for the handshake", event.port)

    def stats(self) -> dict[str, Any]:
        return self.mcu.link_info()

    def awaited(self, what: str) -> str:
        return f"the answer to {what}"

    def down_detail(self, since: dict[str, Any]) -> str:
        return f"meanwhile {line_report(self.mcu.link, since)}; check the cable or port {self.port}"

    def silent_detail(self, since: dict[str, Any]) -> str:
        stats = self.stats()
        damaged = sum(stats.get(k, 0) - since.get(k, 0) for k in ("retransmits", "crc_errors", "framing_errors"))
        return (f"although the link is up; meanwhile {line_report(self.mcu.link, since)}: "
                + ("the line loses frames: check the wiring, noise, the baud" if damaged
                   else "the firmware may not handle this request"))

    def not_connected(self, timeout: float) -> NotConnected:
        s = self.stats()
        return NotConnected(
            f"handshake with the MCU on {self.port}", timeout,
            f"{s.get('bytes_rx', 0)} bytes received, {s.get('crc_errors', 0)} frames with a bad CRC, "
            f"{s.get('framing_errors', 0)} malformed; is the firmware running, and is the baud {self.baudrate} on "
            "both ends?", peer=self.peer)
