"""What an outsider tries against the companion (issue 11), with bumble centrals as the glasses and the attacker.

Everything between the devices is real bumble SMP and ATT on a LocalLink (see test_companion.py). The attacks:
pairing when nobody compares, typing other digits, stealing a bond by handing over the bonded glasses' identity
address or IRK or by connecting from their address, and ATT Read Multiple on protected attributes. References are
outside the code under test: what the attacker's own stack received (SMP and ATT errors, notifications), the key
file as bumble wrote it, and the real glasses' ability to reconnect with the keys they hold.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

pytest.importorskip("bumble")

from bumble.att import (  # noqa: E402
    ATT_Error_Response,
    ATT_Read_Multiple_Request,
    ATT_Read_Multiple_Variable_Request,
)
from bumble.core import ProtocolError  # noqa: E402
from bumble.hci import Address  # noqa: E402

from tests.integration.test_companion import (  # noqa: E402
    ATT_INSUFFICIENT_ENCRYPTION,
    GLASSES,
    Glasses,
    Person,
    bonded_glasses,
    rig,
    run,
    until,
)

STRANGER = "E1:E2:E3:E4:E5:E6"


def ltk_of(state: Path, identity: str) -> str | None:
    """The bond's LTK as bumble stored it in keys.json (None when there is no bond)."""
    db = json.loads((state / "keys.json").read_text())
    for namespace in db.values():
        entry = namespace.get(identity)
        if entry is not None:
            return str(entry["ltk"]["value"])
    return None


async def pair_fails(g: Glasses) -> None:
    assert g.connection is not None
    with pytest.raises((ProtocolError, asyncio.CancelledError, ConnectionError)):
        await g.connection.pair()


def test_a_pairing_nobody_compares_is_refused_when_the_prompt_times_out(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone", pairing_timeout=0.5) as (link, companion):
            g = Glasses(link)  # says yes to anything: a stranger's device
            await g.start()
            await g.connect()
            pairing = asyncio.ensure_future(g.connection.pair())  # type: ignore[union-attr]
            await until(lambda: bool(companion.pending_pairings()), "the prompt on the phone")
            (shown,) = companion.pending_pairings()
            # The prompt names who asks and shows the phone's digits: the ones the stranger's stack computed.
            assert shown["peer"] == GLASSES and shown["name"] == "glasses"
            assert shown["digits"] == f"{g.delegate.numbers[0]:06d}" and 0 < shown["expires_in_s"] <= 0.5
            t0 = time.monotonic()
            with pytest.raises(ProtocolError):
                await pairing
            assert time.monotonic() - t0 < 2.0
            record = companion.status()["pairings"][-1]
            assert record["accepted"] is False and "nobody compared" in record["reason"]
            assert companion.status()["bonded"] == [] and companion.pending_pairings() == []
            await g.close()

    run(body())


def test_other_digits_typed_on_the_phone_refuse_the_pairing(tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            g = Glasses(link)
            await g.start()
            await g.connect()
            pairing = asyncio.ensure_future(g.connection.pair())  # type: ignore[union-attr]
            await until(lambda: bool(companion.pending_pairings()), "the prompt on the phone")
            wrong = (g.delegate.numbers[0] + 1) % 1_000_000
            answer = companion.answer_pairing(wrong)
            assert answer["ok"] is False and answer["accepted"] is False and f"{wrong:06d}" in answer["error"]
            with pytest.raises(ProtocolError):
                await pairing
            assert companion.status()["bonded"] == []
            with pytest.raises(ValueError, match="six digits"):
                companion.answer_pairing("12345")
            with pytest.raises(ValueError, match="no pairing waits"):
                companion.answer_pairing(123456)
            await g.close()

    run(body())


@pytest.mark.parametrize("theft", ["identity-address", "irk", "on-air-address"])
def test_a_stranger_cannot_take_over_the_bond_of_the_glasses(tmp_path: Path, theft: str) -> None:
    """The wearer even confirms the stranger's digits (fooled, or thinking the glasses re-pair): the pairing is
    still refused, because it would replace a bond. The glasses keep their keys, their link session and their
    notifications; only after the owner forgets the bond can someone pair under that identity."""

    async def body() -> None:
        state = tmp_path / "phone"
        async with rig(state) as (link, companion):
            g = await bonded_glasses(link)
            ltk = ltk_of(state, GLASSES)
            assert ltk is not None
            if theft == "on-air-address":
                await g.disconnect()  # the glasses out of range; the stranger takes their address on the air
                stranger = Glasses(link, GLASSES)
            else:
                stranger = Glasses(link, STRANGER)
            await stranger.start()
            # After power-on (which puts the static address on the air): the stranger connects from its own
            # address and hands over the glasses' identity address, or their IRK, when keys are distributed.
            if theft == "identity-address":
                stranger.device.static_address = Address(GLASSES, Address.RANDOM_DEVICE_ADDRESS)
            elif theft == "irk":
                stranger.device.irk = g.device.irk
            try:
                await stranger.connect()
                stranger.watch_all()
                pairing = asyncio.ensure_future(stranger.connection.pair())  # type: ignore[union-attr]
                end = time.monotonic() + 5
                while not pairing.done():  # the fooled wearer confirms whatever the phone asks
                    if companion.pending_pairings():
                        companion.answer_pairing(companion.pending_pairings()[0]["digits"])
                    assert time.monotonic() < end, "the stranger's pairing neither failed nor ended"
                    await asyncio.sleep(0.005)
                # The stranger's stack may count its pairing done (it sent its own keys last), but the companion
                # refused it and drops the connection that the pairing encrypted (awaited below).
                refused = companion.status()["pairings"][-1]
                assert refused["accepted"] is False and GLASSES in refused["reason"], refused
                assert ltk_of(state, GLASSES) == ltk  # the glasses' keys untouched
                assert companion.status()["bonded"] == [GLASSES]
                await until(lambda: stranger.connection is None or not stranger.connection.is_encrypted,
                            "the stranger's encrypted connection to go")
                if theft == "on-air-address":
                    await stranger.disconnect()
                    await stranger.device.power_off()
                    await g.connect()
                    await g.connection.encrypt()  # type: ignore[union-attr]  # with the keys they hold
                    await g.read_info()
                    await g.subscribe()
                # The glasses still hear the phone; the stranger hears nothing.
                answer = await companion.command({"cmd": "notify", "kind": "MESSAGE", "title": "Ana", "text": "hi"})
                assert answer["ok"], answer
                await g.answer(lambda m: m.WhichOneof("body") == "notification", "the notification on the glasses")
                assert stranger.raw_notifications == []
                # The owner forgets the bond: from then on the identity is free to pair (and the old session gone).
                assert (await companion.command({"cmd": "forget", "identity": GLASSES}))["ok"]
                assert ltk_of(state, GLASSES) is None and companion.status()["bonded"] == []
                assert GLASSES not in companion.sessions
            finally:
                await stranger.close()
                await g.close()

    run(body())


def test_a_new_bond_under_the_same_identity_never_inherits_the_old_link_session(tmp_path: Path) -> None:
    """After forget, whoever pairs as that identity starts a new link session: what was queued for the old bond
    (a payment prompt, a message) is never delivered to the new one."""

    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            g = await bonded_glasses(link)
            old = companion.sessions[GLASSES]
            await g.disconnect()
            answer = await companion.command({"cmd": "notify", "kind": "MESSAGE", "title": "secret", "text": "4711"})
            assert answer["ok"] is False  # nobody attached: nothing is queued for the departed glasses
            old.send(1, b"\x08\x01")  # something queued for the old bond while they are away
            assert (await companion.command({"cmd": "forget", "identity": GLASSES}))["ok"]
            await g.close()
            again = await bonded_glasses(link)  # same identity, new keys
            try:
                new = companion.sessions[GLASSES]
                assert new is not old and new.bond and new.bond != old.bond
                assert all(m.WhichOneof("body") != "notification" for _, m in again.messages)
            finally:
                await again.close()

    run(body())


@pytest.mark.parametrize("request_class", [ATT_Read_Multiple_Request, ATT_Read_Multiple_Variable_Request])
def test_read_multiple_on_protected_attributes_gets_an_error_response(tmp_path: Path, request_class: type) -> None:
    async def body() -> None:
        async with rig(tmp_path / "phone") as (link, companion):
            intruder = Glasses(link, STRANGER)
            await intruder.start()
            try:
                await intruder.connect()
                assert intruder.peer is not None and intruder.cccd is not None
                handles = [intruder.info.handle, intruder.cccd.handle]
                client = intruder.peer.gatt_client
                response = await asyncio.wait_for(
                    client.send_request(request_class(set_of_handles=handles)), 3)
                assert isinstance(response, ATT_Error_Response), response
                assert response.error_code == ATT_INSUFFICIENT_ENCRYPTION
                assert response.attribute_handle_in_error == intruder.info.handle
                # The bearer is not stuck: the next request is answered too.
                with pytest.raises(Exception):
                    await asyncio.wait_for(intruder.read_info(), 3)
            finally:
                await intruder.close()

    run(body())


@pytest.mark.parametrize("typed", ["same", "other", ""])
def test_the_terminal_prompt_accepts_only_the_digits_the_glasses_show(tmp_path: Path, typed: str) -> None:
    """`glassbridge companion` on a terminal: the person types what the glasses show (Enter alone refuses)."""
    asked: list[dict[str, object]] = []

    async def body() -> None:
        glasses: list[Glasses] = []

        async def person_at_the_terminal(pending: object) -> str:
            asked.append(pending.to_dict())  # type: ignore[attr-defined]
            shown = glasses[0].delegate.numbers[-1]
            return {"same": f"{shown:06d}\n", "other": f"{(shown + 7) % 1_000_000:06d}\n", "": "\n"}[typed]

        async with rig(tmp_path / "phone", ask=person_at_the_terminal) as (link, companion):
            g = Glasses(link)
            glasses.append(g)
            await g.start()
            await g.connect()
            if typed == "same":
                await g.connection.pair()  # type: ignore[union-attr]
                assert companion.status()["bonded"] == [GLASSES]
            else:
                with pytest.raises(ProtocolError):
                    await g.connection.pair()  # type: ignore[union-attr]
                assert companion.status()["bonded"] == []
            assert asked[0]["peer"] == GLASSES and asked[0]["name"] == "glasses"
            await g.close()

    run(body())
