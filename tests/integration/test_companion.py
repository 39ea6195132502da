"""The companion (glassbridge_companion) against a bumble "glasses" central on a plain bumble LocalLink.

Everything between the two devices is real: advertising, connection, ATT (MTU exchange, discovery, reads, write
without response to uplink, notifications from downlink), SMP (LE Secure Connections numeric comparison, bonding,
re-encryption with the stored key) in bumble on both ends. The glasses run the C link engine
(glassbridge.protocol.link.Link, profile "packet"), the companion its own pure-Python PyLink: every exchange here
is between two independent implementations of SPEC.md. References are independent of the code under test: the
numbers both SMP delegates were shown, ATT error codes as the central received them, Python's protobuf, hashlib,
AES (cryptography) for the resolvable private address, Pillow for the photo.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

pytest.importorskip("bumble")

from bumble.att import ATT_Error  # noqa: E402
from bumble.controller import Controller  # noqa: E402
from bumble.core import UUID, AdvertisingData, ProtocolError  # noqa: E402
from bumble.device import Connection, Device, Peer  # noqa: E402
from bumble.gatt import GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR  # noqa: E402
from bumble.hci import Address  # noqa: E402
from bumble.link import LocalLink  # noqa: E402
from bumble.pairing import PairingConfig, PairingDelegate  # noqa: E402
from bumble.transport.common import AsyncPipeSink  # noqa: E402
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402

from glassbridge_companion.companion import Companion  # noqa: E402
from glassbridge_companion.ctl import CtlServer, ctl_request  # noqa: E402
from glassbridge.protocol import gatt  # noqa: E402
from glassbridge.protocol.link import Link, LinkEvent, LinkUp, MessageReceived, PeerReset, Role  # noqa: E402
from glassbridge.protocol.messages import decode, encode, pb  # noqa: E402

T = TypeVar("T")
IO = PairingDelegate.IoCapability
ATT_INSUFFICIENT_AUTHENTICATION, ATT_INSUFFICIENT_ENCRYPTION = 0x05, 0x0F
SECURITY_ERRORS = (ATT_INSUFFICIENT_AUTHENTICATION, ATT_INSUFFICIENT_ENCRYPTION)
GLASSES = "F5:F4:F3:F2:F1:F0"
STRANGER_KB = "E7:E6:E5:E4:E3:E2"


def run(coro: Awaitable[T], timeout: float = 20.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


def ms() -> int:
    return time.monotonic_ns() // 1_000_000


async def until(predicate: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


def rpa_resolves(address: str, irk: bytes) -> bool:
    """Core Vol 3 Part H 2.2.2 ah(): hash = AES-128(IRK, 0^104 || prand) mod 2^24, big-endian (IRK as sent by
    SMP is little-endian, hence reversed). Written from the spec, independent of bumble's own resolver."""
    raw = bytes.fromhex(address.replace(":", ""))
    prand, hash_ = raw[:3], raw[3:]
    if prand[0] >> 6 != 0b01:
        return False
    enc = Cipher(algorithms.AES(irk[::-1]), modes.ECB()).encryptor()
    return (enc.update(bytes(13) + prand) + enc.finalize())[-3:] == hash_


# ---- the person holding both devices, and the glasses: a bumble central driving the C link engine --------------


class Person:
    """Types the digits the glasses show into the companion's prompt (in process, or over its ctl socket)."""

    def __init__(self, companion: Companion | None = None, ctl: Path | None = None) -> None:
        self.companion, self.ctl = companion, ctl

    async def phone_shows_a_pairing(self) -> bool:
        if self.companion is not None:
            return bool(self.companion.pending_pairings())
        return bool((await ctl_request(self.ctl, {"cmd": "pairing"}))["pending"])

    async def type_on_phone(self, digits: int) -> None:
        if self.companion is not None:
            answer = self.companion.answer_pairing(digits)
        else:
            answer = await ctl_request(self.ctl, {"cmd": "pair-confirm", "digits": f"{digits:06d}"})
        assert answer["ok"], answer



class GlassesDelegate(PairingDelegate):
    def __init__(self, io_capability: int, accept: bool) -> None:
        super().__init__(io_capability=io_capability)  # type: ignore[arg-type]
        self.numbers: list[int] = []
        self.accept = accept

    async def compare_numbers(self, number: int, digits: int) -> bool:
        self.numbers.append(number)
        return self.accept

    async def confirm(self, auto: bool = False) -> bool:
        return True  # a Just Works central says yes to everything: the companion must not


class Glasses:
    """The glasses' side as SPEC 16.4 orders it: connect, MTU, encrypt, read info, subscribe, then frames."""

    def __init__(self, link: LocalLink, address: str = GLASSES, *, io: int = IO.DISPLAY_OUTPUT_AND_YES_NO_INPUT,
                 accept: bool = True, sc: bool = True) -> None:
        self.controller = Controller(f"glasses-{address}", link=link)
        self.device = Device.with_hci("glasses", Address(address), self.controller, AsyncPipeSink(self.controller))
        self.device.irk = secrets.token_bytes(16)  # as BlueZ makes it (bumble's default is 16 zero bytes)
        self.delegate = GlassesDelegate(io, accept)
        self.device.pairing_config_factory = lambda _c: PairingConfig(
            sc=sc, mitm=io != IO.NO_OUTPUT_NO_INPUT, bonding=True, delegate=self.delegate)
        self.connection: Connection | None = None
        self.peer: Peer | None = None
        self.link: Link | None = None
        self.subscribed = False
        self.messages: list[tuple[int, pb.Message]] = []
        self.link_events: list[LinkEvent] = []
        self.notification_sizes: list[int] = []
        self.raw_notifications: list[bytes] = []  # every ATT notification, whatever the CCCD (see watch_all)
        self._wake = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self._closing = False

    async def start(self) -> None:
        await self.device.power_on()

    async def find_companion(self, timeout: float = 3.0, exclude: set[str] | None = None) -> Address:
        found: asyncio.Future[Address] = asyncio.get_running_loop().create_future()
        want = UUID(gatt.SERVICE_UUID)

        def on_adv(adv: Any) -> None:
            uuids = adv.data.get(AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS) or []
            if want in uuids and str(adv.address) not in (exclude or set()) and not found.done():
                found.set_result(adv.address)

        self.device.on("advertisement", on_adv)
        await self.device.start_scanning()
        try:
            return await asyncio.wait_for(found, timeout)
        finally:
            self.device.remove_listener("advertisement", on_adv)
            await self.device.stop_scanning()

    async def connect(self, mtu: int = 517, address: Address | None = None) -> Connection:
        address = address or await self.find_companion()
        self.connection = conn = await self.device.connect(address)
        conn.on("disconnection", lambda _reason: self._gone(conn))
        self.peer = Peer(conn)
        await self.peer.request_mtu(mtu)
        await self.peer.discover_services()
        await self.peer.discover_characteristics()
        self.up = self.peer.get_characteristics_by_uuid(gatt.UPLINK_UUID)[0]
        self.down = self.peer.get_characteristics_by_uuid(gatt.DOWNLINK_UUID)[0]
        self.info = self.peer.get_characteristics_by_uuid(gatt.INFO_UUID)[0]
        await self.peer.discover_descriptors(self.down)
        self.cccd = self.down.get_descriptor(GATT_CLIENT_CHARACTERISTIC_CONFIGURATION_DESCRIPTOR)
        return conn

    async def pair(self, person: Person) -> None:
        """Pairs as a person does: the glasses' delegate says yes (it was shown the digits), and the person types
        those digits into the companion's prompt, which accepts only its own."""
        assert self.connection is not None
        pairing = asyncio.ensure_future(self.connection.pair())
        try:
            end = time.monotonic() + 5
            while not pairing.done() and not (self.delegate.numbers and await person.phone_shows_a_pairing()):
                if time.monotonic() > end:
                    raise AssertionError("the digits never showed on both screens")
                await asyncio.sleep(0.005)
            if not pairing.done():
                await person.type_on_phone(self.delegate.numbers[-1])
            await pairing
        finally:
            if not pairing.done():
                pairing.cancel()

    def watch_all(self) -> None:
        """Record every notification PDU this central receives, subscribed or not."""
        assert self.connection is not None
        client = self.peer.gatt_client  # type: ignore[union-attr]
        original = client.on_att_handle_value_notification

        def spy(notification: Any) -> None:
            self.raw_notifications.append(bytes(notification.attribute_value))
            original(notification)

        client.on_att_handle_value_notification = spy

    def _gone(self, conn: Connection) -> None:
        if self.connection is conn:
            self.connection, self.peer, self.subscribed = None, None, False

    async def read_info(self) -> gatt.ServiceInfoData:
        assert self.peer is not None
        return gatt.decode_service_info(await self.peer.read_value(self.info))

    async def subscribe(self) -> None:
        assert self.peer is not None
        await self.peer.subscribe(self.down, self._on_notification)
        self.subscribed = True
        self._wake.set()

    def _on_notification(self, value: bytes) -> None:
        self.notification_sizes.append(len(value))
        if self.link is not None:
            self.link.receive(bytes(value), ms())
            self._wake.set()

    def start_link(self, max_frame: int | None = None) -> Link:
        """A new glasses link session (the C engine); a second call is a glasses restart."""
        assert self.connection is not None
        self.link = Link(profile="packet", role=Role.SOC, max_frame=max_frame or
                         gatt.frame_limit(self.connection.att_mtu), **gatt.LINK_SETTINGS)
        if self._driver is None:
            self._driver = asyncio.get_running_loop().create_task(self._drive())
        self._wake.set()
        return self.link

    async def _drive(self) -> None:
        while not self._closing:  # a flag: Python 3.11's wait_for may swallow a cancellation
            self._wake.clear()
            link, now = self.link, ms()
            if link is not None and self.subscribed and self.peer is not None:
                while (frame := link.poll_tx(now)) is not None:
                    try:
                        await self.peer.write_value(self.up, frame, with_response=False)
                    except Exception:  # disconnected under our feet: the link resends what matters
                        break
            if link is not None:
                for event in link.poll_events():
                    if isinstance(event, MessageReceived):
                        self.messages.append((event.channel, decode(event.data)))
                    else:
                        self.link_events.append(event)
            timeout = None
            if link is not None and self.subscribed:
                timeout = max(1, link.next_deadline(now) - now) / 1000
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def send(self, channel: int, msg: pb.Message) -> None:
        assert self.link is not None
        self.link.send(channel, encode(msg), ms())
        self._wake.set()

    async def answer(self, predicate: Callable[[pb.Message], bool], what: str, timeout: float = 5.0) -> pb.Message:
        seen = 0

        def find() -> pb.Message | None:
            nonlocal seen
            for _, msg in self.messages[seen:]:
                if predicate(msg):
                    return msg
            return None

        await until(lambda: find() is not None, what, timeout)
        found = find()
        assert found is not None
        return found

    async def wait_up(self) -> None:
        await until(lambda: any(isinstance(e, LinkUp) for e in self.link_events), "glasses link UP")

    async def disconnect(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                await self.connection.disconnect()
        await until(lambda: self.connection is None, "disconnection")

    async def close(self) -> None:
        if self._driver is not None:
            self._closing = True
            self._wake.set()
            self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)
        await self.disconnect()
        await self.device.power_off()


@contextlib.asynccontextmanager
async def rig(state: Path, **options: Any) -> AsyncIterator[tuple[LocalLink, Companion]]:
    link = LocalLink()
    async with companion_on(link, state, **options) as companion:
        link.person = Person(companion)  # type: ignore[attr-defined]  # who answers bonded_glasses' pairing
        yield link, companion


@contextlib.asynccontextmanager
async def companion_on(link: LocalLink, state: Path, **options: Any) -> AsyncIterator[Companion]:
    controller = Controller("phone", link=link)
    companion = Companion(state, rpa_timeout=options.pop("rpa_timeout", 0), **options)
    await companion.start(controller, AsyncPipeSink(controller))
    try:
        yield companion
    finally:
        await companion.stop()
        link.remove_controller(controller)


async def bonded_glasses(link: LocalLink, mtu: int = 517, **kw: Any) -> Glasses:
    """Glasses that paired (numeric comparison), read info, subscribed and whose link is UP."""
    g = Glasses(link, **kw)
    await g.start()
    await g.connect(mtu)
    await g.pair(link.person)  # type: ignore[attr-defined]
    await g.read_info()
    await g.subscribe()
    g.start_link()
    await g.wait_up()
    return g


def photo_jpeg(width: int = 320, height: int = 240) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (width, height), (30, 60, 190))  # a blue picture with a little noise
    noise = Image.effect_noise((width, height), 20).convert("RGB")
    img = Image.blend(img, noise, 0.15)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    return out.getvalue()


def send_transfer(g: Glasses, transfer_id: int, data: bytes, start: int = 0, chunk: int = 8000,
                  kind: int = pb.TRANSFER_KIND_PHOTO, begin: bool = True) -> None:
    if begin:
        g.send(3, pb.Message(request_id=transfer_id, transfer_begin=pb.TransferBegin(
            transfer_id=transfer_id, kind=kind, size=len(data), sha256=hashlib.sha256(data).digest(),
            name="photo.jpg")))
    for off in range(start, len(data), chunk):
        g.send(3, pb.Message(transfer_data=pb.TransferData(transfer_id=transfer_id, offset=off,
                                                           data=data[off:off + chunk])))


def status_of(g: Glasses, transfer_id: int, state: int | None = None, min_offset: int = 0) -> Callable[[pb.Message],
                                                                                                      bool]:
    def match(m: pb.Message) -> bool:
        s = m.transfer_status
        return (m.WhichOneof("body") == "transfer_status" and s.transfer_id == transfer_id
                and (state is None or s.state == state) and s.offset >= min_offset)

    return match


# ---- pairing and access control ------------------------------------------------------------------------------


def test_numeric_comparison_both_sides_see_the_same_number_and_the_link_runs(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            g = await bonded_glasses(link, mtu=247)
            try:
                assert len(g.delegate.numbers) == 1
                pairing = companion.status()["pairings"][0]
                assert pairing["number"] == g.delegate.numbers[0] and pairing["accepted"] is True
                assert pairing["method"] == "numeric_comparison" and pairing["peer"] == GLASSES
                (conn,) = companion.status()["connections"]
                assert conn["encrypted"] and conn["authenticated"] and conn["mtu"] == 247
                info = await g.read_info()
                assert (info.protocol_version, info.max_frame) == (1, 244)
                assert info.capabilities & pb.CAPABILITY_ASSISTANT
                # The glasses' identity now knows the companion's identity address (distributed IRK + address).
                assert str(g.connection.peer_address) == companion.identity.address  # type: ignore[union-attr]

                # A question without photo: two answer parts, the last final, honest about being offline.
                g.send(1, pb.Message(request_id=7, assistant_request=pb.AssistantRequest(
                    task=pb.ASSISTANT_TASK_ASK, text="what time is it?")))
                final = await g.answer(lambda m: m.request_id == 7 and m.assistant_answer.final, "final answer")
                parts = [m.assistant_answer for _, m in g.messages if m.request_id == 7]
                assert len(parts) == 2 and not parts[0].final and all(p.offline for p in parts)
                text = "".join(p.text for p in parts)
                assert "offline" in text and "what time is it?" in text and final.assistant_answer.source == "offline"

                # A body this companion does not know (field 120 of a newer .proto), built byte by byte.
                unknown = bytes([0x08, 9]) + bytes([0xC0, 0x07, 0x01])
                assert g.link is not None
                g.link.send(1, unknown, ms())
                g._wake.set()
                res = await g.answer(lambda m: m.request_id == 9, "Result for the unknown body")
                assert res.result.code == pb.ERROR_CODE_UNKNOWN_MESSAGE
                # The same without a request_id is ignored (SPEC 16.5).
                g.link.send(1, bytes([0xC0, 0x07, 0x01]), ms())

                # Live microphone audio: a caption per second of audio, from the offline brain.
                pcm = (b"\x00\x10" * 320)
                for i in range(60):
                    g.send(2, pb.Message(mic_audio=pb.AudioFrame(sample_rate=16000, first_sample=i * 320, pcm=pcm,
                                                                 stream_id=5)))
                cap = await g.answer(lambda m: m.WhichOneof("body") == "caption", "a caption")
                assert cap.caption.stream_id == 5 and "offline" in cap.caption.text
                await until(lambda: companion.status()["unknown_messages"] == 2, "the unknown body counted")
                # Every link frame the companion sent fitted the connection's MTU.
                assert g.notification_sizes and max(g.notification_sizes) <= 247 - 3
                assert companion.status()["links"][GLASSES]["implementation"] == "pylink"
            finally:
                await g.close()

    run(body())


def test_refuse_policy_fails_the_pairing_and_grants_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone", confirm="refuse") as (link, companion):
            g = Glasses(link)
            await g.start()
            await g.connect()
            with pytest.raises(ProtocolError):
                await g.connection.pair()  # type: ignore[union-attr]
            # Refused at the request, before any digits (a KeyboardOnly central, to which the companion would
            # display a passkey, is refused the same way).
            (pairing,) = companion.status()["pairings"]
            assert pairing["accepted"] is False and "policy refuse" in pairing["reason"] and g.delegate.numbers == []
            assert companion.status()["bonded"] == []
            kb = Glasses(link, STRANGER_KB, io=IO.KEYBOARD_INPUT_ONLY)
            await kb.start()
            await kb.connect()
            with pytest.raises(ProtocolError):
                await kb.connection.pair()  # type: ignore[union-attr]
            assert companion.status()["bonded"] == [] and "policy refuse" in companion.status()["pairings"][-1]["reason"]
            await kb.close()
            with pytest.raises(ATT_Error) as err:
                await g.read_info()
            assert err.value.error_code in SECURITY_ERRORS
            await g.close()

    run(body())


def test_an_unpaired_central_can_neither_read_write_subscribe_nor_hear(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            g = await bonded_glasses(link)
            intruder = Glasses(link, "E1:E2:E3:E4:E5:E6")
            await intruder.start()
            try:
                await intruder.connect()
                intruder.watch_all()
                assert intruder.peer is not None and intruder.cccd is not None
                codes = []
                for attempt in (lambda: intruder.peer.read_value(intruder.info),  # type: ignore[union-attr]
                                lambda: intruder.peer.write_value(intruder.up, b"\x00" * 20,  # type: ignore
                                                                  with_response=True),
                                lambda: intruder.peer.write_value(intruder.cccd, b"\x01\x00",  # type: ignore
                                                                  with_response=True),
                                lambda: intruder.peer.read_value(intruder.cccd)):  # type: ignore[union-attr]
                    with pytest.raises(ATT_Error) as err:
                        await attempt()
                    codes.append(err.value.error_code)
                assert codes == [ATT_INSUFFICIENT_ENCRYPTION] * 4
                # Writes without response get no answer at all: they are dropped and counted, no link is made.
                dropped = companion.status()["frames_dropped"]
                for _ in range(3):
                    await intruder.peer.write_value(intruder.up, b"\x01" * 40, with_response=False)
                await until(lambda: companion.status()["frames_dropped"] == dropped + 3, "3 refused writes")
                assert list(companion.status()["links"]) == [GLASSES]
                # A notification for the bonded glasses reaches them, and nothing reaches the intruder.
                answer = await companion.command({"cmd": "notify", "kind": "MESSAGE", "app": "chat", "title": "Ana",
                                                  "text": "on my way"})
                assert answer["ok"] and answer["glasses"] == [GLASSES]
                note = await g.answer(lambda m: m.WhichOneof("body") == "notification", "the notification")
                assert (note.notification.title, note.notification.text) == ("Ana", "on my way")
                await asyncio.sleep(0.05)
                assert intruder.raw_notifications == []
                states = {c["identity"]: c for c in companion.status()["connections"]}
                assert states[GLASSES]["authenticated"] and not states["E1:E2:E3:E4:E5:E6"]["authenticated"]
            finally:
                await intruder.close()
                await g.close()

    run(body())


@pytest.mark.parametrize("case", ["just_works", "legacy"])
def test_unauthenticated_pairings_are_refused(tmp_path: Path, case: str) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            if case == "just_works":  # no display, no input: no MITM protection possible
                g = Glasses(link, io=IO.NO_OUTPUT_NO_INPUT)
            else:  # numeric-comparison-capable, but LE legacy pairing
                g = Glasses(link, sc=False)
            await g.start()
            await g.connect()
            with pytest.raises(ProtocolError) as err:
                await g.connection.pair()  # type: ignore[union-attr]
            assert err.value.error_code == 0x03  # SMP Authentication Requirements
            # Refused before anyone was asked: recorded with the reason, no digits, nothing bonded.
            (refused,) = companion.status()["pairings"]
            assert refused["accepted"] is False and refused["digits"] == "" and companion.status()["bonded"] == []
            assert ("JUST_WORKS" if case == "just_works" else "legacy pairing") in refused["reason"]
            assert not g.connection.is_encrypted  # type: ignore[union-attr]
            for attempt in (lambda: g.read_info(), lambda: g.subscribe()):
                with pytest.raises(ATT_Error) as att:
                    await attempt()
                assert att.value.error_code in SECURITY_ERRORS
            await g.close()

    run(body())


# ---- frames, transfers, the assistant -------------------------------------------------------------------------


@pytest.mark.parametrize("mtu", [185, 247, 517])
def test_frames_fit_the_mtu_and_a_photo_question_gets_an_offline_answer(tmp_path: Path, mtu: int) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone", mtu=mtu) as (link, companion):
            g = await bonded_glasses(link, mtu=517)  # asks 517; the companion accepts at most `mtu`
            try:
                assert g.connection is not None and g.connection.att_mtu == mtu
                assert (await g.read_info()).max_frame == min(mtu - 3, 495)
                jpeg = photo_jpeg()
                send_transfer(g, 11, jpeg)
                done = await g.answer(status_of(g, 11, pb.TRANSFER_STATE_VERIFIED), "photo VERIFIED")
                assert done.transfer_status.offset == len(jpeg)
                (t,) = companion.status()["transfers"]
                assert t["sha256"] == hashlib.sha256(jpeg).hexdigest() and t["bytes_received"] == len(jpeg)

                g.send(1, pb.Message(request_id=12, assistant_request=pb.AssistantRequest(
                    task=pb.ASSISTANT_TASK_DESCRIBE, text="what is this?", photo_transfer_id=11)))
                await g.answer(lambda m: m.request_id == 12 and m.assistant_answer.final, "answer")
                text = "".join(m.assistant_answer.text for _, m in g.messages if m.request_id == 12)
                assert "320x240" in text and "blue" in text and "offline" in text

                g.send(1, pb.Message(request_id=13, assistant_request=pb.AssistantRequest(
                    text="and this?", photo_transfer_id=99)))
                res = await g.answer(lambda m: m.request_id == 13, "Result NO_SUCH_TRANSFER")
                assert res.result.code == pb.ERROR_CODE_NO_SUCH_TRANSFER
                assert max(g.notification_sizes) <= mtu - 3
                stats = companion.status()["links"][GLASSES]["stats"]
                # TransferBegin + the TransferData messages + two AssistantRequests, each exactly once.
                assert stats["framing_errors"] == 0 and stats["messages_rx"] == 1 + -(-len(jpeg) // 8000) + 2
            finally:
                await g.close()

    run(body())


def test_a_cut_transfer_resumes_same_session_and_after_a_glasses_restart(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            g = await bonded_glasses(link, mtu=247)
            try:
                session = companion.status()["links"][GLASSES]["session"]
                data = secrets.token_bytes(96_000)

                async def cut_and_reconnect() -> None:
                    answer = await companion.command({"cmd": "disconnect"})
                    assert answer == {"ok": True, "disconnected": 1}
                    await until(lambda: g.connection is None, "glasses see the disconnection")
                    await g.connect(mtu=247)
                    await g.connection.encrypt()  # type: ignore[union-attr]  # the bond's key, no pairing
                    await g.read_info()
                    await g.subscribe()

                # 1. Same link session on both ends: the links resend what was unacknowledged, nothing more.
                send_transfer(g, 21, data)
                await g.answer(status_of(g, 21, min_offset=1), "some progress")
                await cut_and_reconnect()
                await g.answer(status_of(g, 21, pb.TRANSFER_STATE_VERIFIED), "VERIFIED after the cut", 10)
                t = next(t for t in companion.status()["transfers"] if t["id"] == 21)
                assert t["bytes_received"] == len(data)  # no TransferData delivered twice
                link_status = companion.status()["links"][GLASSES]
                assert link_status["session"] == session and link_status["stats"]["peer_resets"] == 0
                assert g.link is not None and g.link.stats.retransmits <= 2 * gatt.LINK_SETTINGS["window"]

                # 2. The glasses restart their link mid-transfer: TransferQuery finds the kept bytes.
                data2 = secrets.token_bytes(64_000)
                send_transfer(g, 22, data2)
                await g.answer(status_of(g, 22, min_offset=1), "progress of the second transfer")
                await cut_and_reconnect()
                g.start_link()  # a new glasses session: the companion sees a peer restart
                await until(lambda: any(isinstance(e, LinkUp) for e in g.link_events[-1:]), "new session UP")
                g.messages.clear()
                g.send(3, pb.Message(request_id=23, transfer_query=pb.TransferQuery(transfer_id=22)))
                where = await g.answer(lambda m: m.request_id == 23, "TransferStatus for the query")
                kept = where.transfer_status.offset
                assert where.transfer_status.state == pb.TRANSFER_STATE_RECEIVING and 0 < kept < len(data2)
                send_transfer(g, 22, data2, start=kept, begin=False)
                await g.answer(status_of(g, 22, pb.TRANSFER_STATE_VERIFIED), "VERIFIED after the restart", 10)
                t2 = next(t for t in companion.status()["transfers"] if t["id"] == 22)
                assert t2["bytes_received"] >= len(data2) and t2["offset"] == len(data2)
                link_status = companion.status()["links"][GLASSES]
                assert link_status["session"] == session and link_status["stats"]["peer_resets"] == 1
                assert link_status["peer_session"] == g.link.session
                assert any(e["event"] == "PeerReset" for e in companion.status()["link_events"])
            finally:
                await g.close()

    run(body(), timeout=30)


def test_a_smaller_mtu_on_reconnection_starts_a_new_link_session(tmp_path: Path) -> None:
    """SPEC 16.4: frames of the old session may not fit the new connection, so each end starts a new session."""
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            g = await bonded_glasses(link, mtu=517)
            try:
                first = companion.status()["links"][GLASSES]
                assert first["max_frame"] == 495
                await g.disconnect()
                await g.connect(mtu=185)
                await g.connection.encrypt()  # type: ignore[union-attr]
                await g.read_info()
                await g.subscribe()
                g.link_events.clear()
                g.start_link()  # the glasses' own check: 182-byte frames now, a new session
                await g.wait_up()
                now = companion.status()["links"][GLASSES]
                assert now["restarts"] == 1 and now["session"] != first["session"] and now["max_frame"] == 182
                g.send(1, pb.Message(request_id=61, assistant_request=pb.AssistantRequest(text="small frames?")))
                await g.answer(lambda m: m.request_id == 61 and m.assistant_answer.final, "answer at MTU 185")
                assert max(g.notification_sizes[-3:]) <= 182
            finally:
                await g.close()

    run(body())


def test_bonds_and_identity_survive_a_companion_restart_and_the_address_is_private(tmp_path: Path) -> None:
    async def body() -> None:
        link = LocalLink()
        state = tmp_path / "phone"
        async with companion_on(link, state, rpa_timeout=0.15) as first:
            identity, irk = first.identity.address, first.identity.irk
            g = Glasses(link)
            await g.start()
            seen = {str(await g.find_companion())}
            seen.add(str(await g.find_companion(exclude=seen)))  # rotated within a few timeouts
            assert all(rpa_resolves(a, irk) for a in seen) and identity not in seen
            # Slow the rotation down so the connection below does not race it (bumble's LocalLink controller never
            # answers a connection to an address that stopped advertising).
            assert first.server is not None
            first.server.rpa_timeout = 3600
            await asyncio.sleep(0.3)
            await g.connect()
            await g.pair(Person(first))
            await g.disconnect()
        assert first.status()["bonded"] == [GLASSES]

        async with companion_on(link, state) as second:
            assert (second.identity.address, second.identity.irk) == (identity, irk)
            assert second.status()["bonded"] == [GLASSES]
            address = await g.find_companion()
            assert str(address) not in seen and rpa_resolves(str(address), irk)
            await g.connect(address=address)
            assert str(g.connection.peer_address) == identity  # type: ignore[union-attr]  # resolved by the IRK
            await g.connection.encrypt()  # type: ignore[union-attr]
            info = await g.read_info()  # no new pairing needed
            assert info.protocol_version == 1 and second.status()["pairings"] == []
            await g.subscribe()
            g.start_link()
            await g.wait_up()
            await g.close()

    run(body())


def test_malformed_datagrams_are_counted_and_change_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            g = await bonded_glasses(link)
            try:
                before = companion.status()
                assert g.peer is not None
                for value in (b"", b"\x01", b"\x01\x02\x03", bytes(9)):
                    # SPEC 16.3: acknowledged at the ATT level even though the link discards the frame.
                    await g.peer.write_value(g.up, value, with_response=True)
                after = companion.status()
                errors = after["links"][GLASSES]["stats"]["framing_errors"]
                assert errors == before["links"][GLASSES]["stats"]["framing_errors"] + 4
                assert after["frames_dropped"] == before["frames_dropped"] + 4
                # A valid link message that is not a glassbridge Message: counted by the application.
                assert g.link is not None
                g.link.send(1, b"\xff\xff\xff\xff", ms())
                g._wake.set()
                await until(lambda: companion.status()["decode_errors"] == 1, "the decode error counted")
                g.send(1, pb.Message(request_id=31, assistant_request=pb.AssistantRequest(text="still there?")))
                await g.answer(lambda m: m.request_id == 31 and m.assistant_answer.final, "answer after garbage")
                assert companion.status()["links"][GLASSES]["state"] == "UP"
            finally:
                await g.close()

    run(body())


# ---- the control socket and the command line ---------------------------------------------------------------


def test_control_socket_commands(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            ctl = CtlServer(tmp_path / "ctl", companion.command)
            await ctl.start()
            try:
                path = tmp_path / "ctl"
                assert (await ctl_request(path, {"cmd": "notify", "title": "x"}))["ok"] is False  # nobody there
                g = await bonded_glasses(link)
                status = await ctl_request(path, {"cmd": "status"})
                assert status["ok"] and status["identity"] == companion.identity.address
                assert status["connections"][0]["authenticated"] is True
                assert status["links"][GLASSES]["state"] == "UP" and "frames_dropped" in status

                assert (await ctl_request(path, {"cmd": "fail-writes", "count": 2, "error": 14}))["ok"]
                assert g.peer is not None
                codes = []
                for _ in range(3):
                    try:
                        await g.peer.write_value(g.up, bytes(4), with_response=True)
                        codes.append(0)
                    except ATT_Error as exc:
                        codes.append(exc.error_code)
                assert codes == [14, 14, 0]

                assert (await ctl_request(path, {"cmd": "answer-delay", "ms": 300}))["ok"]
                t0 = time.monotonic()
                g.send(1, pb.Message(request_id=41, assistant_request=pb.AssistantRequest(text="slow?")))
                await g.answer(lambda m: m.request_id == 41, "delayed answer")
                assert time.monotonic() - t0 >= 0.3

                note = await ctl_request(path, {"cmd": "notify", "kind": "NAVIGATION", "icon": "ARROW_LEFT",
                                                "title": "Turn left", "text": "in 50 m"})
                assert note["ok"]
                got = await g.answer(lambda m: m.WhichOneof("body") == "notification", "navigation notification")
                assert got.notification.kind == pb.NOTIFICATION_KIND_NAVIGATION
                assert got.notification.icon == pb.ICON_ARROW_LEFT

                # Issue 5: a payment prompt (the brief's ctl form, icon in lower case), answered over the radio.
                pay = await ctl_request(path, {"cmd": "notify", "kind": "PAYMENT", "app": "Wallet",
                                               "title": "Cafe Lumen", "text": "Pay 23.50 EUR?", "icon": "pay",
                                               "needs_response": True, "timeout_ms": 15000})
                (nid,) = pay["notification_ids"]
                prompt = await g.answer(lambda m: m.notification.notification_id == nid, "the payment prompt")
                assert (prompt.notification.needs_response, prompt.notification.timeout_ms) == (True, 15000)
                g.send(1, pb.Message(request_id=42, notification_response=pb.NotificationResponse(
                    notification_id=nid, response=pb.RESPONSE_CONFIRM)))
                g.send(1, pb.Message(request_id=43, media_command=pb.MediaCommand(action=pb.MEDIA_ACTION_NEXT)))
                paid = await g.answer(lambda m: m.request_id == 42, "the payment outcome")
                assert paid.result.message == "paid 23.50 EUR to Cafe Lumen"
                assert (await g.answer(lambda m: m.request_id == 43, "media Result")).result.message == "next"
                status = await ctl_request(path, {"cmd": "status"})
                assert [(r["notification_id"], r["outcome"]) for r in status["responses"]] == [
                    (nid, "paid 23.50 EUR to Cafe Lumen")]
                assert [m["action"] for m in status["media"]] == ["next"]
                assert status["captions"] == [] and status["questions"] == []
                assert [a["request_id"] for a in status["answers"]] == [41]  # the delayed question above
                assert status["answers"][0]["parts"] == 2 and status["answers"][0]["brain_ms"] >= 0
                assert await ctl_request(path, {"cmd": "brain"}) == {"ok": True, "name": "offline", "online": False}
                bad_prompt = await ctl_request(path, {"cmd": "notify", "kind": "PAYMENT", "needs_response": "yes"})
                assert bad_prompt["ok"] is False and "needs_response must be true or false" in bad_prompt["error"]
                info = await g.read_info()
                assert info.capabilities & pb.CAPABILITY_MEDIA_CONTROL and info.capabilities & pb.CAPABILITY_PAYMENTS

                assert (await ctl_request(path, {"cmd": "confirm", "policy": "refuse"}))["confirm"] == "refuse"
                assert companion.confirm == "refuse"
                bad = [await ctl_request(path, r) for r in ({"cmd": "confirm", "policy": "maybe"},
                                                            {"cmd": "fly"}, {"cmd": "fail-writes", "count": -1})]
                assert all(b["ok"] is False and b["error"] for b in bad)
                reader, writer = await asyncio.open_unix_connection(str(path))
                writer.write(b"not json\n")
                assert b'"ok": false' in await reader.readline()
                writer.close()
                await writer.wait_closed()

                assert (await ctl_request(path, {"cmd": "disconnect"}))["disconnected"] == 1
                await until(lambda: g.connection is None, "disconnect by ctl")
                await g.close()
            finally:
                await ctl.stop()

    run(body())


@pytest.mark.parametrize("brain", ["offline", "openai"])
def test_command_line_companion_over_a_unix_hci_socket(tmp_path: Path, brain: str) -> None:
    """`glassbridge companion --transport unix:PATH` as the rig runs it: READY, pairing, frames, ctl, SIGTERM; with
    `--brain openai` against the local OpenAI-compatible stub (tests/integration/openai_stub.py)."""
    from bumble.transport import open_transport

    from tests.integration.openai_stub import OpenAIStub, Reply

    stub = OpenAIStub([Reply("Hello from the stub.")])

    async def body() -> None:
        sock, ctl, state = tmp_path / "phone.hci", tmp_path / "ctl", tmp_path / "state"
        link = LocalLink()
        transport = await open_transport(f"unix-server:{sock}")
        controller = Controller("phone", host_source=transport.source, host_sink=transport.sink, link=link)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "STUB_KEY": "sk-stub"}
        brain_args = ["--brain", "openai", "--base-url", stub.base_url, "--model", "stub-vl",
                      "--api-key-env", "STUB_KEY"] if brain == "openai" else []
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "glassbridge.cli.main", "companion", "--transport", f"unix:{sock}",
            "--state", str(state), "--ctl", str(ctl), "--json", "--mtu", "247", *brain_args,
            stdout=asyncio.subprocess.PIPE, env=env)
        g = None
        try:
            assert proc.stdout is not None
            ready = (await asyncio.wait_for(proc.stdout.readline(), 15)).decode().split()
            assert ready[0] == "READY" and ready[1] == (state / "identity.json").read_text().split('"')[3]
            link.person = Person(ctl=ctl)  # type: ignore[attr-defined]
            g = await bonded_glasses(link)
            request = json.loads(await asyncio.wait_for(proc.stdout.readline(), 5))
            assert request["event"] == "pairing-request" and request["digits"] == f"{g.delegate.numbers[0]:06d}"
            assert request["peer"] == GLASSES and request["name"] == "glasses"
            event = (await asyncio.wait_for(proc.stdout.readline(), 5)).decode()
            assert f'"number": {g.delegate.numbers[0]}' in event and '"accepted": true' in event
            status = await ctl_request(ctl, {"cmd": "status"})
            assert status["connections"][0]["mtu"] == 247 and status["links"][GLASSES]["state"] == "UP"
            g.send(1, pb.Message(request_id=51, assistant_request=pb.AssistantRequest(text="hi")))
            await g.answer(lambda m: m.request_id == 51 and m.assistant_answer.final, "answer from the process")
            text = "".join(m.assistant_answer.text for _, m in g.messages if m.request_id == 51)
            named = await ctl_request(ctl, {"cmd": "brain"})
            if brain == "openai":
                assert text == "Hello from the stub." and named["name"] == "openai:stub-vl" and named["online"]
                assert stub.requests[0].headers["authorization"] == "Bearer sk-stub"
                assert "sk-stub" not in json.dumps(await ctl_request(ctl, {"cmd": "status"}))
            else:
                assert "offline" in text and named["online"] is False
        finally:
            if g is not None:
                await g.close()
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            rc = await asyncio.wait_for(proc.wait(), 10)
            await transport.close()
            # bumble 0.0.236's unix-server transport leaves its listening socket open on close().
            transport.server.close()  # type: ignore[attr-defined]
            await transport.server.wait_closed()  # type: ignore[attr-defined]
            link.remove_controller(controller)
        assert rc == 0 and not ctl.exists()

    with stub:
        run(body(), timeout=30)


def test_command_line_exits_with_a_clear_error_when_the_controller_goes_away(tmp_path: Path) -> None:
    from bumble.transport import open_transport

    async def body() -> None:
        sock = tmp_path / "phone.hci"
        link = LocalLink()
        transport = await open_transport(f"unix-server:{sock}")
        controller = Controller("phone", host_source=transport.source, host_sink=transport.sink, link=link)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "glassbridge.cli.main", "companion", "--transport", f"unix:{sock}",
            "--state", str(tmp_path / "state"), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            env=env)
        try:
            assert proc.stdout is not None and proc.stderr is not None
            assert (await asyncio.wait_for(proc.stdout.readline(), 15)).startswith(b"READY ")
            transport.sink.transport.close()  # type: ignore[attr-defined]  # the rig's controller end goes away
            rc = await asyncio.wait_for(proc.wait(), 5)
            err = (await proc.stderr.read()).decode()
            assert rc == 1 and "controller went away" in err and "Traceback" not in err
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            await transport.close()
            transport.server.close()  # type: ignore[attr-defined]
            await transport.server.wait_closed()  # type: ignore[attr-defined]
            link.remove_controller(controller)

    run(body(), timeout=30)
