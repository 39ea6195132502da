"""`Mcu`: the typed asyncio client of the glasses' microcontroller.

    async with await Mcu.connect("/dev/ttyS1") as mcu:
        print(await mcu.status())
        await mcu.show_card(CardSpec(title="Hello", text="glassbridge is up"))
        async for event in mcu.events():
            print(event)                       # ButtonPressed, GestureDetected, BatteryChanged, McuRebooted...

Under it: a SerialTransport (pyserial, one thread) driving the link engine, which delivers every message
reliably and in order through line noise, a pulled cable and a reconnect. This module adds what the engine cannot
know: request/answer matching (Message.request_id), what to do when the MCU reboots (the engine reports a new
peer session: requests in flight fail with McuRebootedError, a transfer asks the MCU where it stands and resumes
from there, the microphone stream restarts with a marked gap), and errors that say what was being waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import secrets
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import asdict, dataclass
from typing import Any

from glassbridge._events import Broadcaster, EventStream
from glassbridge.mcu.errors import (
    CaptureStoppedError,
    LinkLostError,
    McuError,
    McuRebootedError,
    NotConnectedError,
    RequestFailedError,
    TransferError,
    VersionMismatchError,
)
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
from glassbridge.protocol.link import (
    Channel,
    Link,
    LinkDown,
    LinkUp,
    MessageReceived,
    PeerInfo,
    PeerReset,
    Role,
    VersionMismatch,
)
from glassbridge.protocol.errors import MessageDecodeError
from glassbridge.protocol.messages import decode, encode, enum_name, enum_value, pb

__all__ = [
    # the client
    "EVENT_QUEUE",
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
]

log = logging.getLogger(__name__)

#: Audio of the MCU link: PCM16 mono at 16 kHz (32,000 bytes/s, a third of the UART at 921600 baud).
SAMPLE_RATE = 16000
#: Largest chunk of a bulk transfer: the `limit: 960` of TransferChunk.data, so one chunk fits one 1 KB frame.
TRANSFER_CHUNK = 960
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
    """What VersionMismatchError says: both sides' version ranges as their Hellos gave them, and which side to
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


# ---- the client ---------------------------------------------------------------------------------------


class Mcu:
    """The glasses' microcontroller over its UART. Create with `await Mcu.connect(port)`."""

    def __init__(self, transport: SerialTransport, *, request_timeout: float = 3.0, link_patience: float = 15.0,
                 stall_timeout: float = DEFAULT_STALL_TIMEOUT):
        """request_timeout: seconds an answer may take while the link is up; link_patience: how much longer while
        it is down; stall_timeout: seconds a transfer may go without the MCU confirming progress. Each a finite
        number above 0 (ValueError otherwise)."""
        check_positive("request_timeout", request_timeout)
        check_positive("link_patience", link_patience)
        check_positive("stall_timeout", stall_timeout)
        self._transport = transport
        self.request_timeout = request_timeout
        self.link_patience = link_patience
        self.stall_timeout = stall_timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._events: Broadcaster[McuEvent] = Broadcaster(EVENT_QUEUE)
        self._mic: asyncio.Queue[Any] | None = None
        self._transfer_status: dict[int, asyncio.Queue[Any]] = {}
        self._up = asyncio.Event()
        self._down_since: float | None = time.monotonic()
        self._version_error: VersionMismatchError | None = None
        self._reboots = 0
        self._dispatcher = asyncio.create_task(self._dispatch(), name="glassbridge-mcu-dispatch")

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
        NotConnectedError, VersionMismatchError; ValueError for a baudrate or a time that is not a finite number
        above 0. stall_timeout: how long sends wait for room and transfers for progress while nothing gets through
        before they fail with an error naming the line's losses."""
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

    async def __aenter__(self) -> Mcu:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._dispatcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._dispatcher
        await self._transport.close()
        self._fail_pending(McuError("the MCU client was closed"))

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    @property
    def link(self) -> Link:
        return self._transport.link

    def link_info(self) -> dict[str, Any]:
        """The link's counters (retransmissions, CRC errors, round-trip time) as a dict."""
        return asdict(self.link.stats)

    async def wait_connected(self, timeout: float) -> None:
        """Waits for the handshake; the error says what was seen on the wire meanwhile."""
        check_positive("timeout", timeout)
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except asyncio.TimeoutError:
            if self._version_error is not None:
                raise self._version_error from None
            s = self.link_info()
            raise NotConnectedError(
                f"no handshake with the MCU on {self._transport.port} within {timeout:g} s: "
                f"{s.get('bytes_rx', 0)} bytes received ({s.get('crc_errors', 0)} frames with a bad CRC, "
                f"{s.get('framing_errors', 0)} malformed). Is the firmware running, and is the baud "
                f"{self._transport.baudrate} on both ends?"
            ) from None
        if self._version_error is not None:
            raise self._version_error

    # ---- events -----------------------------------------------------------------------------------------

    def events(self) -> EventStream[McuEvent]:
        """Buttons, gestures, battery changes and link state, live, from this call on (nothing arriving before the
        first `async for` step is missed) until `aclose()`. Bounded: a consumer more than EVENT_QUEUE events
        behind loses the oldest (counted in `events_dropped`)."""
        return self._events.subscribe()

    @property
    def events_dropped(self) -> int:
        return self._events.dropped

    def _publish(self, event: McuEvent) -> None:
        self._events.publish(event)

    def _fail_pending(self, error: McuError) -> None:
        pending, self._pending = self._pending, {}
        for _what, future in pending.values():
            if not future.done():
                future.set_exception(error)

    async def _dispatch(self) -> None:
        events = self._transport.events
        while True:
            event = await events.get()
            if isinstance(event, MessageReceived):
                self._on_message(event.channel, event.data)
            elif isinstance(event, LinkUp):
                self._version_error = None  # a compatible peer (an updated firmware): the mismatch is over
                self._up.set()
                self._down_since = None
                self._publish(McuConnected(event.peer.firmware_version, event.peer.boot_counter))
            elif isinstance(event, LinkDown):
                self._up.clear()
                self._down_since = time.monotonic()
                self._publish(McuDisconnected("nothing heard from the MCU for the link timeout"))
            elif isinstance(event, PeerReset):
                self._reboots += 1
                self._fail_pending(
                    McuRebootedError(
                        f"the MCU rebooted (boot counter {event.peer.boot_counter}); "
                        f"{event.dropped} unacknowledged messages were dropped"
                    )
                )
                if self._mic is not None:
                    self._mic.put_nowait(_Gap())
                for queue in self._transfer_status.values():
                    queue.put_nowait(_Gap())
                self._publish(McuRebooted(event.peer.boot_counter, event.dropped))
            elif isinstance(event, VersionMismatch):
                self._version_error = VersionMismatchError(
                    version_mismatch_message(event.peer, self.link.min_protocol_version, self.link.protocol_version)
                )
                self._fail_pending(self._version_error)
                self._up.set()  # wake wait_connected, which raises the version error
            elif isinstance(event, PortLost):
                self._publish(McuDisconnected(f"serial port {event.port} gone: {event.reason}"))
            elif isinstance(event, PortBack):
                log.info("serial port %s back; waiting for the handshake", event.port)

    def _on_message(self, channel: int, data: bytes) -> None:
        try:
            msg = decode(data)
        except MessageDecodeError as exc:
            # The link's CRC passed, so this is a firmware bug or a newer firmware: say so, drop nothing silently.
            log.error("undecodable message from the MCU on channel %d (%d bytes): %s", channel, len(data), exc)
            return
        body = msg.WhichOneof("body")
        if msg.request_id and msg.request_id in self._pending:
            _what, future = self._pending.pop(msg.request_id)
            if not future.done():
                future.set_result(msg)
            return
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
        elif body == "transfer_status":
            queue = self._transfer_status.get(msg.transfer_status.transfer_id)
            if queue is not None:
                queue.put_nowait(msg.transfer_status)
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
        elif body == "result" and msg.result.code:
            log.warning(
                "the MCU reports %s: %s",
                enum_name(pb.ErrorCode, msg.result.code, "ERROR_CODE_"),
                msg.result.message,
            )
        else:
            log.debug("unhandled message from the MCU: %s", body)

    # ---- requests ---------------------------------------------------------------------------------------

    async def _send(self, msg: Any, channel: int = Channel.CONTROL) -> None:
        if self._version_error is not None:
            raise self._version_error
        await self._transport.send(channel, encode(msg))

    async def _request(self, what: str, body: str, value: Any, channel: int = Channel.CONTROL) -> Any:
        """Sends one request and waits for the message that echoes its request_id.

        The link retransmits on its own; this waits `request_timeout` while the link is up, and up to
        `link_patience` more while it is down (a pulled cable), then raises with what it was waiting for.
        """
        rid = next(self._ids) & 0xFFFFFFFF or next(self._ids)
        msg = pb.Message(request_id=rid)
        getattr(msg, body).CopyFrom(value)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending[rid] = (what, future)
        stats_before = self.link_info()
        started = time.monotonic()
        try:
            await self._send(msg, channel)
            deadline = started + self.request_timeout
            while True:
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    with contextlib.suppress(asyncio.TimeoutError):
                        return self._check(what, await asyncio.wait_for(asyncio.shield(future), remaining))
                    continue
                if self._down_since is not None and time.monotonic() - self._down_since < self.link_patience:
                    deadline = time.monotonic() + 0.1  # link down: keep waiting while patience lasts
                    continue
                stats = self.link_info()
                seen = line_report(self.link, stats_before)
                if self._down_since is not None:
                    raise LinkLostError(
                        f"waiting for the answer to {what} (request {rid}): the link to the MCU has been down for "
                        f"{time.monotonic() - self._down_since:.1f} s (meanwhile {seen}); "
                        f"check the cable or port {self._transport.port}"
                    )
                damaged = sum(stats.get(k, 0) - stats_before.get(k, 0)
                              for k in ("retransmits", "crc_errors", "framing_errors"))
                raise LinkLostError(
                    f"waiting for the answer to {what} (request {rid}): none after {time.monotonic() - started:.1f} s "
                    f"although the link is up (meanwhile {seen}): "
                    + ("the line loses frames: check the wiring, noise, the baud" if damaged
                       else f"the firmware may not handle {body}")
                )
        finally:
            self._pending.pop(rid, None)

    def _check(self, what: str, answer: Any) -> Any:
        if answer.WhichOneof("body") == "result" and answer.result.code != pb.ERROR_CODE_OK:
            code = answer.result.code
            raise RequestFailedError(what, code, enum_name(pb.ErrorCode, code, "ERROR_CODE_"), answer.result.message)
        return answer

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
        cid = card_id or next(self._ids)
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
            await self._send(pb.Message(speaker_audio=frame), Channel.AUDIO)

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
            if self.connected and self._version_error is None:
                with contextlib.suppress(McuError):
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
        """Sends `data` to the MCU, which verifies its SHA-256. Survives link loss and MCU reboots: after either,
        it asks the MCU where the transfer stands (TransferQuery) and resumes from the confirmed offset (or from
        the start when the MCU has forgotten it).

        It always ends: VERIFIED returns (at once when the MCU already holds the whole transfer, e.g. the same
        transfer_id sent again). TransferError when the MCU refuses it (FAILED, a size it cannot take), reports an
        offset beyond the size, or confirms no progress for `stall_timeout` seconds (the message names the line's
        losses); LinkStalledError when nothing gets through at all; NotConnectedError when the link stays down."""
        tid = transfer_id or (secrets.randbits(31) | 1)
        digest = hashlib.sha256(data).digest()
        begin = pb.TransferBegin(
            transfer_id=tid, kind=enum_value(pb.TransferKind, kind, "TRANSFER_KIND_"), size=len(data),
            sha256=digest, name=name,
        )
        what = f"transfer {name or tid} ({len(data)} bytes)"
        statuses: asyncio.Queue[Any] = asyncio.Queue()
        self._transfer_status[tid] = statuses
        started = time.monotonic()
        resumed: list[int] = []
        watch = _ProgressWatch(self, what, len(data))

        def report() -> TransferReport:
            return TransferReport(tid, len(data), digest.hex(), time.monotonic() - started, len(resumed), resumed)

        try:
            status = (await self._request(f"TransferBegin({name or tid})", "transfer_begin", begin)).transfer_status
            while True:
                if status.state == pb.TRANSFER_STATE_UNKNOWN and not status.error:
                    # The MCU holds nothing of it (it rebooted): start again.
                    watch.check()
                    status = (await self._request(f"TransferBegin({name or tid}) again", "transfer_begin",
                                                  begin)).transfer_status
                    continue
                offset = self._transfer_offset(status, what, len(data))
                watch.seen(offset)
                if status.state == pb.TRANSFER_STATE_VERIFIED:
                    if progress is not None:
                        progress(len(data), len(data))
                    return report()
                try:
                    if await self._send_chunks(tid, what, data, offset, statuses, progress, watch):
                        return report()
                except (McuRebootedError, LinkLostError) as exc:
                    log.info("transfer %d interrupted (%s); asking the MCU where it stands", tid, exc)
                watch.check()
                await self.wait_connected(self.link_patience)
                while not statuses.empty():
                    statuses.get_nowait()
                query = await self._request(f"TransferQuery({tid})", "transfer_query", pb.TransferQuery(transfer_id=tid))
                status = query.transfer_status
                resumed.append(int(status.offset))
        finally:
            self._transfer_status.pop(tid, None)

    def _transfer_offset(self, status: Any, what: str, size: int) -> int:
        """The confirmed offset of a TransferStatus; TransferError for a refusal or an impossible answer."""
        if status.state == pb.TRANSFER_STATE_FAILED or (status.state == pb.TRANSFER_STATE_UNKNOWN and status.error):
            raise TransferError(
                f"the MCU refused {what}: {enum_name(pb.ErrorCode, status.error, 'ERROR_CODE_')}"
            )
        if status.offset > size:
            raise TransferError(
                f"the MCU reports offset {status.offset} for {what}, beyond its size: a firmware fault"
            )
        if status.state not in (pb.TRANSFER_STATE_RECEIVING, pb.TRANSFER_STATE_VERIFIED,
                                pb.TRANSFER_STATE_UNKNOWN):
            raise TransferError(f"the MCU answered {what} with state {status.state}, which this glassbridge "
                                "does not know")
        return int(status.offset)

    async def _send_chunks(
        self,
        tid: int,
        what: str,
        data: bytes,
        offset: int,
        statuses: asyncio.Queue[Any],
        progress: Callable[[int, int], None] | None,
        watch: _ProgressWatch,
    ) -> bool:
        """Queues every chunk from `offset`, then waits for the MCU's verdict. False: interrupted, resume."""

        def take(item: Any) -> bool | None:
            """True: verified; False: resume; None: go on."""
            if isinstance(item, _Gap) or item.state == pb.TRANSFER_STATE_UNKNOWN:
                return False  # a reboot; the MCU forgot it (NO_SUCH_TRANSFER): ask, then start again
            confirmed = self._transfer_offset(item, what, len(data))
            watch.seen(confirmed)
            if progress is not None:
                progress(confirmed, len(data))
            if item.state == pb.TRANSFER_STATE_VERIFIED:
                return True
            if item.error:
                return False  # the MCU lost its place (OFFSET_MISMATCH): resume where it says
            return None

        for start in range(offset, len(data), TRANSFER_CHUNK):
            chunk = pb.TransferChunk(transfer_id=tid, offset=start, data=data[start : start + TRANSFER_CHUNK])
            await self._send(pb.Message(transfer_chunk=chunk), Channel.BULK)
            while not statuses.empty():
                verdict = take(statuses.get_nowait())
                if verdict is not None:
                    return verdict
            watch.check()
        while True:
            wait = self.request_timeout + self.link_patience
            try:
                item = await asyncio.wait_for(statuses.get(), min(wait, max(0.1, watch.left())))
            except asyncio.TimeoutError:
                watch.check()
                raise LinkLostError(
                    f"waiting for the MCU to verify {what}: no TransferStatus for {wait:g} s"
                ) from None
            verdict = take(item)
            if verdict is not None:
                return verdict


class _ProgressWatch:
    """A transfer's progress: the largest offset the MCU confirmed and when it grew. check() raises TransferError
    once `stall_timeout` passes without growth, naming what the line did since."""

    def __init__(self, mcu: Mcu, what: str, size: int) -> None:
        self.mcu = mcu
        self.what = what
        self.size = size
        self.best = -1
        self.at = time.monotonic()
        self.stats = mcu.link_info()

    def seen(self, offset: int) -> None:
        if offset > self.best:
            self.best = offset
            self.at = time.monotonic()
            self.stats = self.mcu.link_info()

    def left(self) -> float:
        return self.mcu.stall_timeout - (time.monotonic() - self.at)

    def check(self) -> None:
        if self.left() > 0:
            return
        idle = time.monotonic() - self.at
        raise TransferError(
            f"{self.what}: no progress for {idle:.1f} s, the MCU confirmed {max(self.best, 0)} of {self.size} bytes; "
            f"meanwhile {line_report(self.mcu.link, self.stats)}"
        )
