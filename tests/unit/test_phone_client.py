"""Phone's own logic without a radio: message routing to events and requests, the bounded event queue, the
reconnect backoff. Messages are real protobuf bytes, as the link would deliver them."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from glassbridge.phone.bonds import Bond
from glassbridge.phone.central import ReconnectPolicy
from glassbridge.phone.client import EVENT_QUEUE, Phone
from glassbridge.phone.events import CaptionLine, Card, NotificationEvent
from glassbridge.protocol.errors import PeerRestarted, RequestFailed
from glassbridge.protocol.link import Channel, MessageReceived, PeerInfo, PeerReset, Role
from glassbridge.protocol.messages import encode, pb


def _deliver(phone: Phone, msg: pb.Message, channel: int = Channel.CONTROL) -> None:
    phone._on_transport_event(MessageReceived(channel, encode(msg)))


def test_phone_messages_become_typed_events_and_a_slow_consumer_loses_the_oldest() -> None:
    async def body() -> None:
        phone = Phone(Bond(address="AA:BB:CC:DD:EE:FF"))
        events = phone.events()
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0)
        _deliver(phone, pb.Message(notification=pb.Notification(
            notification_id=3, kind=pb.NOTIFICATION_KIND_CALL, app="phone", title="Mum", icon=pb.ICON_INFO)))
        note = await first
        assert note == NotificationEvent(3, "call", "phone", "Mum", "", "info")
        _deliver(phone, pb.Message(caption=pb.Caption(stream_id=9, kind=pb.CAPTION_KIND_TRANSLATION, text="hola",
                                                      final=True, language="es")))
        _deliver(phone, pb.Message(card=pb.DisplayCard(card_id=4, kind=pb.CARD_KIND_NAVIGATION,
                                                       icon=pb.ICON_ARROW_LEFT, title="Left")))
        assert await events.__anext__() == CaptionLine(9, "translation", "hola", True, "es")
        assert await events.__anext__() == Card(4, "navigation", "arrow_left", "Left", "", 0)
        for i in range(EVENT_QUEUE + 10):
            _deliver(phone, pb.Message(notification=pb.Notification(notification_id=i + 100)))
        assert phone.events_dropped == 10
        oldest_kept = await events.__anext__()
        assert isinstance(oldest_kept, NotificationEvent) and oldest_kept.notification_id == 110
        # Bytes that are not a Message (a companion bug) are logged and dropped: no event, no crash.
        phone._on_transport_event(MessageReceived(Channel.CONTROL, b"\xff\xff not protobuf"))
        _deliver(phone, pb.Message(notification=pb.Notification(notification_id=7)))
        for _ in range(EVENT_QUEUE - 1):
            await events.__anext__()
        last = await events.__anext__()
        assert isinstance(last, NotificationEvent) and last.notification_id == 7
        await events.aclose()
        await phone.transport.close()

    asyncio.run(asyncio.wait_for(body(), 5))


def test_answers_reach_their_request_and_errors_name_what_was_awaited() -> None:
    async def body() -> None:
        phone = Phone(Bond(address="AA:BB:CC:DD:EE:FF"), request_timeout=0.2, link_patience=0.0)
        sent: list[pb.Message] = []

        async def fake_send(msg: pb.Message, channel: int = Channel.CONTROL) -> None:
            sent.append(msg)

        phone._link.send = fake_send  # type: ignore[method-assign]
        phone._link.set_up(True)  # pretend the link is up
        task = asyncio.ensure_future(phone.request("Status", pb.Message(status_request=pb.StatusRequest())))
        await asyncio.sleep(0.01)
        _deliver(phone, pb.Message(request_id=sent[0].request_id + 1000, result=pb.Result()))  # someone else's
        _deliver(phone, pb.Message(request_id=sent[0].request_id, result=pb.Result(
            code=pb.ERROR_CODE_BUSY, message="later")))
        try:
            await task
            raise AssertionError("no error")
        except RequestFailed as exc:
            assert exc.code_name == "busy" and "Status" in str(exc) and "later" in str(exc)
        # A restart of the phone's link fails what was in flight, saying so.
        task = asyncio.ensure_future(phone.request("Ping", pb.Message(status_request=pb.StatusRequest())))
        await asyncio.sleep(0.01)
        peer = PeerInfo(1, 1, 5, 0, 512, 32, 16448, 0, Role.PHONE, "")
        phone._on_transport_event(PeerReset(peer, 2))
        try:
            await task
            raise AssertionError("no error")
        except PeerRestarted as exc:
            assert "2 unacknowledged messages" in str(exc) and exc.peer == "phone"
        await phone.transport.close()

    asyncio.run(asyncio.wait_for(body(), 5))


def test_backoff_grows_is_capped_and_jittered() -> None:
    random.seed(4)
    policy = ReconnectPolicy(first_delay=0.25, max_delay=4.0, factor=2.0, jitter=0.5)
    for failures, base in ((1, 0.25), (2, 0.5), (3, 1.0), (5, 4.0), (30, 4.0)):
        delays: list[Any] = [policy.delay(failures) for _ in range(200)]
        assert all(base * 0.5 <= d <= base for d in delays)
        assert max(delays) - min(delays) > base * 0.3  # really jittered: two glasses do not retry in lockstep


def test_assistant_loop_requests_carry_what_the_proto_says() -> None:
    """The loop's requests: captions, audio packets, media, a notification response, a question with perception.
    Checked on the decoded protobuf (Python's runtime), answered as the companion would."""

    async def body() -> None:
        phone = Phone(Bond(address="AA:BB:CC:DD:EE:FF"), request_timeout=0.5, link_patience=0.0)
        sent: list[tuple[int, pb.Message]] = []

        async def fake_send(msg: pb.Message, channel: int = Channel.CONTROL) -> None:
            copy = pb.Message()
            copy.ParseFromString(encode(msg))  # what would go on the wire (limits checked)
            sent.append((channel, copy))

        async def answer(result: pb.Result, *, skip: int = 0) -> None:
            while len(sent) <= skip:
                await asyncio.sleep(0.001)
            _deliver(phone, pb.Message(request_id=sent[-1][1].request_id, result=result))

        phone._link.send = fake_send  # type: ignore[method-assign]
        phone._link.set_up(True)

        task = asyncio.ensure_future(phone.start_captions(5, "translation", language="fr"))
        await answer(pb.Result(code=pb.ERROR_CODE_NOT_SUPPORTED, message="translation needs the online brain"))
        try:
            await task
            raise AssertionError("no error")
        except RequestFailed as exc:
            assert exc.code_name == "not_supported" and "online brain" in str(exc)
        channel, msg = sent[-1]
        assert channel == Channel.CONTROL and msg.caption_control.stream_id == 5 and msg.caption_control.start
        assert msg.caption_control.kind == pb.CAPTION_KIND_TRANSLATION and msg.caption_control.language == "fr"

        await phone.send_audio_packet(5, 640, b"\x01\x02\x03", gap_before=True)
        channel, msg = sent[-1]
        assert channel == Channel.AUDIO and msg.request_id == 0
        p = msg.audio_packet
        assert (p.stream_id, p.first_sample, p.gap_before, p.codec, p.frame_samples, p.sample_rate, p.data) == (
            5, 640, True, pb.AUDIO_CODEC_OPUS, 320, 16000, b"\x01\x02\x03")

        task = asyncio.ensure_future(phone.media("play_pause"))
        await answer(pb.Result(), skip=len(sent))
        await task
        assert sent[-1][1].media_command.action == pb.MEDIA_ACTION_PLAY_PAUSE
        try:
            await phone.media("rewind")
            raise AssertionError("no error")
        except ValueError as exc:
            assert "play_pause" in str(exc) and "end_call" in str(exc)

        task2 = asyncio.ensure_future(phone.respond(42, confirm=True))
        await answer(pb.Result(message="paid 23.50 EUR to Cafe Lumen"), skip=len(sent))
        assert await task2 == "paid 23.50 EUR to Cafe Lumen"
        assert sent[-1][1].notification_response.notification_id == 42
        assert sent[-1][1].notification_response.response == pb.RESPONSE_CONFIRM

        perception = pb.Perception(faces=[pb.Face(x=0.4, y=0.2, width=0.2, height=0.3, score=0.9)],
                                   image_width=640, image_height=480, emotions_withheld=True,
                                   summary="one person ahead")
        before = len(sent)
        asking = asyncio.ensure_future(phone.ask("what am I looking at?", perception=perception, queued_ms=4000))
        while len(sent) <= before:
            await asyncio.sleep(0.001)
        rid = sent[-1][1].request_id
        _deliver(phone, pb.Message(request_id=rid, assistant_answer=pb.AssistantAnswer(text="A person.", final=True,
                                                                                       source="offline")))
        answer_ = await asking
        assert answer_.text == "A person." and answer_.source == "offline"
        req = sent[-1][1].assistant_request
        assert req.queued_ms == 4000 and req.perception == perception and req.text == "what am I looking at?"

        # A notification that waits for the wearer's answer says so.
        events = phone.events()
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0)
        _deliver(phone, pb.Message(notification=pb.Notification(
            notification_id=42, kind=pb.NOTIFICATION_KIND_PAYMENT, app="Wallet", title="Pay 23.50 EUR",
            text="Cafe Lumen", icon=pb.ICON_PAY, needs_response=True, timeout_ms=20000)))
        assert await first == NotificationEvent(42, "payment", "Wallet", "Pay 23.50 EUR", "Cafe Lumen", "pay",
                                                True, 20000)
        await events.aclose()
        await phone.transport.close()

    asyncio.run(asyncio.wait_for(body(), 5))


def test_question_is_queued_behind_its_photo_and_resent_if_the_phone_had_not_verified_it() -> None:
    """ask() queues the AssistantRequest as soon as the photo's bytes are queued (the link keeps order), and
    when the phone answers NO_SUCH_TRANSFER (the upload had to resume) it waits for the upload, then asks again."""

    async def body() -> None:
        phone = Phone(Bond(address="AA:BB:CC:DD:EE:FF"), request_timeout=0.5, link_patience=0.0)
        sent: list[pb.Message] = []
        upload_done = asyncio.Event()
        uploads: list[tuple[str, int | None, bool | None]] = []

        async def fake_send(msg: pb.Message, channel: int = Channel.CONTROL) -> None:
            sent.append(msg)

        async def fake_upload_report(kind: str, data: bytes, name: str = "", *, transfer_id: int | None = None,
                                     progress: Any = None, all_sent: asyncio.Event | None = None,
                                     fresh: bool | None = None) -> Any:
            uploads.append((kind, transfer_id, fresh))
            assert all_sent is not None
            all_sent.set()  # every byte queued...
            await upload_done.wait()  # ...but verified only later
            return None

        phone._link.send = fake_send  # type: ignore[method-assign]
        phone.upload_report = fake_upload_report  # type: ignore[method-assign]
        phone._link.set_up(True)
        asking = asyncio.ensure_future(phone.ask("what is this?", photo=b"\xff\xd8jpeg"))
        while not sent:
            await asyncio.sleep(0.001)
        first = sent[0]
        assert uploads == [("photo", first.assistant_request.photo_transfer_id, True)]
        assert not upload_done.is_set()  # the request went out before the upload finished
        _deliver(phone, pb.Message(request_id=first.request_id, result=pb.Result(
            code=pb.ERROR_CODE_NO_SUCH_TRANSFER, message="transfer not verified")))
        await asyncio.sleep(0.05)
        assert len(sent) == 1  # no second request while the upload is still going
        upload_done.set()
        while len(sent) < 2:
            await asyncio.sleep(0.001)
        second = sent[1]
        assert second.assistant_request == first.assistant_request and second.request_id != first.request_id
        _deliver(phone, pb.Message(request_id=second.request_id, assistant_answer=pb.AssistantAnswer(
            text="A jar.", final=True, source="offline")))
        answer = await asking
        assert answer.text == "A jar."
        await phone.transport.close()

    asyncio.run(asyncio.wait_for(body(), 5))
