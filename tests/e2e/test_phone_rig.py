"""glassbridge.phone end to end through the simulated BLE rig: bleak's unmodified BlueZ backend talking D-Bus to
the rig's BlueZ (real ATT and SMP on a timed LocalLink), the companion process (its own link implementation,
PyLink) on the other side.

What is independent here: the companion reports over its ctl socket what IT saw (the number it compared, the
transfer it verified with its own SHA-256, every TransferData byte that arrived, its connections' MTU and
security); the rig reports what crossed the radio (connections, the impostor's connections and writes). The
glasses' side is checked against those, never against itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from glassbridge.phone import (
    BondStore,
    CaptionLine,
    NotificationEvent,
    PairingAgent,
    PairingRefused,
    Phone,
    ReconnectPolicy,
    pair_phone,
)
from glassbridge.protocol.gatt import LINK_SETTINGS
from glassbridge_rig.ble_rig import BleRig
from glassbridge_rig.ble_timing import BleTiming
from glassbridge_rig.person import RigWearer, confirm_on_phone
from tests.e2e.conftest import card_reference, pair_on_the_command_line

T = TypeVar("T")

pytestmark = pytest.mark.skipif(not Path("/usr/bin/dbus-daemon").exists(), reason="dbus-daemon not installed")

#: Fast reconnection for tests: the rig's radio comes back at once, so waiting long between attempts only costs.
POLICY = ReconnectPolicy(first_delay=0.1, max_delay=0.5, scan_timeout=5.0, connect_timeout=10.0)


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@pytest.fixture
def rig_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., BleRig]]:
    """Starts rigs (ended by pid at the end of the test) and points bleak at their bus."""
    rigs: list[BleRig] = []

    def start(**kwargs: Any) -> BleRig:
        rig = BleRig(tmp_path / f"rig{len(rigs)}", **kwargs)
        rigs.append(rig)
        rig.start()
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", rig.bus_address)
        return rig

    try:
        yield start
    finally:
        for rig in rigs:
            rig.stop()


async def ctl(rig: BleRig, request: dict[str, Any]) -> dict[str, Any]:
    return await asyncio.to_thread(rig.ctl, request)


async def companion(rig: BleRig, request: dict[str, Any] | None = None) -> dict[str, Any]:
    return await asyncio.to_thread(rig.companion_ctl, request or {"cmd": "status"})


class RefusingWearer:
    """The person says no on both screens (the glasses' prompt and the phone's)."""

    def __init__(self, rig: BleRig) -> None:
        self.rig = rig

    async def confirm(self, code: int, device_name: str) -> bool:
        await asyncio.to_thread(self.rig.companion_ctl, {"cmd": "pair-refuse"})
        return False


async def _pair(rig: BleRig, store: BondStore, accept: bool = True) -> tuple[Any, PairingAgent]:
    """Pairs as the person on the rig does: compares both screens and answers both (sim.person)."""
    agents: list[PairingAgent] = []
    ui = RigWearer(rig.companion_ctl) if accept else RefusingWearer(rig)
    bond = await pair_phone(store, ui, name=rig.companion_name, agent_out=agents, scan_timeout=5.0)
    return bond, agents[0]


async def _next(events: Any, kind: type) -> Any:
    async for event in events:
        if isinstance(event, kind):
            return event
    raise AssertionError("the event stream ended")


async def _wait(predicate: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    end = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)


def test_numeric_comparison_pairing_and_bond_survive_restarts(rig_factory: Callable[..., BleRig],
                                                               tmp_path: Path) -> None:
    rig = rig_factory()
    store = BondStore(tmp_path / "bond.json")

    async def pair_then_connect() -> None:
        bond, agent = await _pair(rig, store)
        seen = (await companion(rig))["pairings"]
        # The six digits our agent showed are the ones the phone computed from its own SMP state.
        assert [c.code for c in agent.comparisons] == [p["number"] for p in seen] and len(seen) == 1
        assert seen[0]["accepted"] is True and seen[0]["method"] == "numeric_comparison"
        assert bond.address == rig.companion_identity  # the identity, not the rotating private address
        assert store.load() == bond
        phone = await Phone.open(bonds=store, policy=POLICY)
        async with phone:
            await phone.wait_until_up(20)
            conns = (await companion(rig))["connections"]
            assert len(conns) == 1 and conns[0]["encrypted"] and conns[0]["authenticated"]

    run(pair_then_connect())

    for restart in (rig.restart_bluez, rig.restart_companion):
        restart()

        async def reconnect() -> None:
            phone = await Phone.open(bonds=BondStore(tmp_path / "bond.json"), policy=POLICY)
            async with phone:
                await phone.wait_until_up(20)
                status = await companion(rig)
                assert len(status["pairings"]) == 0  # a fresh companion process: no pairing happened again
                assert status["connections"][0]["authenticated"]
                st = await phone.status()
                assert st.connected and st.link_state == "up" and st.mtu == 517

        run(reconnect())


def test_pairing_refused_by_the_phone_or_by_the_wearer(rig_factory: Callable[..., BleRig], tmp_path: Path) -> None:
    rig = rig_factory(companion_args=["--confirm", "refuse"])
    store = BondStore(tmp_path / "bond.json")

    async def body() -> None:
        with pytest.raises(PairingRefused) as by_phone:
            await _pair(rig, store, accept=True)
        assert by_phone.value.by == "phone" and "phone pair" in str(by_phone.value)
        assert (await companion(rig))["pairings"][-1]["accepted"] is False
        await companion(rig, {"cmd": "confirm", "policy": "ask"})
        with pytest.raises(PairingRefused) as by_wearer:
            await _pair(rig, store, accept=False)
        assert by_wearer.value.by == "wearer" and "refused the pairing on the glasses" in str(by_wearer.value)
        assert store.load() is None  # nothing bonded either time

    run(body())


def test_impostor_is_refused_and_never_connected_to(rig_factory: Callable[..., BleRig], tmp_path: Path) -> None:
    rig = rig_factory()
    store = BondStore(tmp_path / "bond.json")

    async def body() -> None:
        await _pair(rig, store)
        impostor = (await ctl(rig, {"cmd": "impostor", "on": True}))["impostor"]
        phone = await Phone.open(bonds=store, policy=POLICY)
        async with phone:
            await phone.wait_until_up(20)
            # The companion goes away for a moment: the glasses scan while only the impostor advertises the
            # service (under the companion's name).
            await asyncio.to_thread(rig.restart_companion, crash=True)

            async def refused() -> bool:
                return impostor["address"] in (await phone.status()).refused

            await _wait(refused, 15, "the impostor to be seen and refused")
            await phone.wait_until_up(20)  # and the real phone is back
            assert (await phone.status()).refused == {impostor["address"]: impostor["name"]}
        after = (await ctl(rig, {"cmd": "status"}))["impostor"]
        assert after["on"] and after["connections"] == 0 and after["writes"] == 0

    run(body())


def test_impostor_with_the_phone_identity_gets_no_link(rig_factory: Callable[..., BleRig], tmp_path: Path) -> None:
    """An impostor advertising from the bonded phone's identity address: BlueZ connects (it cannot know before
    encrypting), encryption with the bond's key fails, and the glasses write nothing and run no link with it."""
    rig = rig_factory()
    store = BondStore(tmp_path / "bond.json")

    async def body() -> None:
        await _pair(rig, store)
        await ctl(rig, {"cmd": "impostor", "on": True, "mode": "identity", "address": rig.companion_identity})
        assert rig.companion_process is not None
        rig.companion_process.kill()  # only the impostor advertises now
        rig.companion_process.stop()
        rig.companion_process = None
        phone = await Phone.open(bonds=store, policy=POLICY)
        async with phone:
            async def tried() -> bool:
                return phone.central.failures >= 2

            await _wait(tried, 20, "connection attempts to the impostor")
            assert phone.state != "up" and "key-missing" in str(phone.central.last_error)
            impostor = (await ctl(rig, {"cmd": "status"}))["impostor"]
            assert impostor["connections"] >= 1 and impostor["writes"] == 0
            assert phone.transport.link is None  # no link was even created: no frame went to it or came from it
            await asyncio.to_thread(rig._start_companion)  # the real phone is back: it is the one we link with
            await phone.wait_until_up(20)
            assert (await companion(rig))["connections"][0]["authenticated"]
        assert (await ctl(rig, {"cmd": "status"}))["impostor"]["writes"] == 0

    run(body())


def test_200kb_upload_survives_three_drops_without_loss_or_duplication(rig_factory: Callable[..., BleRig],
                                                                      tmp_path: Path) -> None:
    rig = rig_factory(timing=BleTiming(connection_interval_ms=15, ll_payload=251))
    store = BondStore(tmp_path / "bond.json")
    data = random.Random(200).randbytes(200 * 1024)

    async def body() -> None:
        await _pair(rig, store)
        phone = await Phone.open(bonds=store, policy=POLICY)
        async with phone:
            await phone.wait_until_up(20)
            progress: list[int] = []
            upload = asyncio.create_task(phone.upload_report("photo", data, "big.jpg",
                                                             progress=lambda o, n: progress.append(o)))
            drops = 0
            for fraction in (0.2, 0.45, 0.7):
                async def reached(f: float = fraction) -> bool:
                    return bool(progress) and progress[-1] >= f * len(data) or upload.done()

                await _wait(reached, 30, f"{fraction:.0%} of the upload")
                if upload.done():
                    break
                answer = await ctl(rig, {"cmd": "drop"})
                assert answer["ok"] and answer["dropped"] >= 1
                drops += 1
                await phone.wait_until_up(20)
            report = await asyncio.wait_for(upload, 40)
            assert drops == 3, "the upload finished before three drops could be injected"
            link = (await phone.status()).link
        t = [x for x in (await companion(rig))["transfers"] if x["id"] == report.transfer_id][0]
        assert t["state"] == "verified" and t["size"] == len(data) and t["offset"] == len(data)
        assert t["sha256"] == hashlib.sha256(data).hexdigest() == report.sha256
        assert phone.central.connections >= 4  # really reconnected after each drop
        # Resent data: within one link session the link retransmits frames, never messages, so the companion
        # sees every TransferData byte once. Messages are sent again only after a link restart (peer reset or a
        # new session), at most what the link held unacknowledged: its transmit queue (tx_queue_bytes).
        resent = t["bytes_received"] - len(data)
        assert 0 <= resent <= phone.peer_resets * LINK_SETTINGS["tx_queue_bytes"], (resent, phone.peer_resets)
        assert report.bytes_sent - len(data) == resent  # what the phone counted is exactly what we sent again
        assert link["framing_errors"] == 0 and link["link_downs"] + link["retransmits"] > 0  # the drops did bite

    run(body(), 80)


def test_smaller_mtu_after_a_reconnect_starts_a_new_session_and_the_upload_resumes(
        rig_factory: Callable[..., BleRig], tmp_path: Path) -> None:
    """SPEC.md 16.4: frames of the old session may not fit a connection with a smaller ATT_MTU, so the glasses
    start a new link session; the upload asks where it stands and completes (here the companion restarted too,
    so it answers UNKNOWN and the transfer starts again from 0)."""
    rig = rig_factory()
    store = BondStore(tmp_path / "bond.json")
    data = random.Random(185).randbytes(120 * 1024)

    async def body() -> None:
        await _pair(rig, store)
        phone = await Phone.open(bonds=store, policy=POLICY)
        async with phone:
            await phone.wait_until_up(20)
            assert phone.frame_payload() == 495 - 10  # SPEC.md 16.3: two whole LL PDUs of 251
            progress: list[int] = []
            upload = asyncio.create_task(phone.upload_report("photo", data, "p.jpg",
                                                             progress=lambda o, n: progress.append(o)))

            async def started() -> bool:
                return bool(progress) or upload.done()

            await _wait(started, 20, "the upload to make progress")
            rig.mtu = 185
            await asyncio.to_thread(rig.restart_companion, crash=True)
            report = await asyncio.wait_for(upload, 40)
            assert phone.transport.links_replaced == 1 and phone.frame_payload() == 185 - 3 - 10
            assert report.restarts >= 1
            status = await phone.status()
            assert status.mtu == 185 and status.link["links_replaced"] == 1
            assert phone.transport.link is not None and phone.transport.link.config["max_frame"] == 185 - 3
        t = (await companion(rig))["transfers"]
        assert [(x["state"], x["sha256"]) for x in t] == [("verified", hashlib.sha256(data).hexdigest())]

    run(body())


@pytest.mark.parametrize("mtu", [185, 247, 517])
def test_every_mtu_carries_uploads_and_answers(rig_factory: Callable[..., BleRig], tmp_path: Path, mtu: int) -> None:
    rig = rig_factory(mtu=mtu)
    store = BondStore(tmp_path / "bond.json")
    photo = random.Random(mtu).randbytes(30_000)

    async def body() -> None:
        await _pair(rig, store)
        phone = await Phone.open(bonds=store, policy=POLICY)
        async with phone:
            await phone.wait_until_up(20)
            status = await phone.status()
            assert status.mtu == mtu == (await companion(rig))["connections"][0]["mtu"]
            assert phone.frame_payload() == min(mtu - 3, 495) - 10
            answer = await phone.ask("what is this?", photo=photo, task="describe")
            assert answer.text and answer.parts >= 1
            transfers = (await companion(rig))["transfers"]
            assert [t["sha256"] for t in transfers] == [hashlib.sha256(photo).hexdigest()]
            assert transfers[0]["state"] == "verified" and transfers[0]["bytes_received"] == len(photo)
            # Phone -> glasses: a notification, and captions of streamed microphone audio.
            events = phone.events()
            sent = await companion(rig, {"cmd": "notify", "kind": "MESSAGE", "app": "chat", "title": "Ana",
                                         "text": "on my way"})
            assert sent["ok"], sent
            note = await asyncio.wait_for(_next(events, NotificationEvent), 10)
            assert (note.kind, note.app, note.title, note.text) == ("message", "chat", "Ana", "on my way")
            stream_id = await phone.stream_audio([bytes(1280)] * 60)  # 2.4 s of silence, 40 ms frames
            caption = await asyncio.wait_for(_next(events, CaptionLine), 10)
            assert caption.stream_id == stream_id
            await events.aclose()

    run(body())


def test_pairing_code_on_the_glasses_display_confirmed_with_a_nod(rig_factory: Callable[..., BleRig],
                                                                   tmp_path: Path) -> None:
    """The real MCU firmware (host port) shows the code; a nod injected through its control socket confirms."""
    from glassbridge.mcu.client import Mcu
    from glassbridge.app import McuPairingUI, pairing_title
    from glassbridge.protocol.messages import pb
    from glassbridge_rig.runner import FirmwareRunner

    rig = rig_factory()
    store = BondStore(tmp_path / "bond.json")
    dump = tmp_path / "display.pgm"

    async def body() -> tuple[int, str]:
        async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
            ui = McuPairingUI(mcu, timeout=20)
            pairing = asyncio.create_task(pair_phone(store, ui, name=rig.companion_name, scan_timeout=5.0))

            async def shown() -> bool:
                if pairing.done():
                    pairing.result()  # raise what went wrong
                return bool(ui.shown)

            await _wait(shown, 20, "the pairing card on the glasses' display")
            await fw.control(f"display dump {dump}")
            # The person types the digits on the glasses' display into the phone, then nods.
            await confirm_on_phone(rig.companion_ctl, ui.shown[0])
            await fw.control("gesture nod")
            bond = await asyncio.wait_for(pairing, 20)
            assert bond.address == rig.companion_identity
            return ui.shown[0], pairing_title(rig.companion_name)

    code, title = run(body())
    numbers = [p["number"] for p in rig.companion_ctl({"cmd": "status"})["pairings"]]
    assert numbers == [code]  # the digits on the glasses are the ones the phone compared
    ref = card_reference()
    assert ref.read_pgm(dump) == ref.render(pb.CARD_KIND_PAIRING, pb.ICON_BLUETOOTH, title, f"{code:06d}")
    assert store.load() is not None


def test_cli_pair_status_forget(rig_factory: Callable[..., BleRig], tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    rig = rig_factory()
    bond_file = tmp_path / "cli-bond.json"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "glassbridge.cli.main", "phone", *args, "--bond", str(bond_file)],
                              env=rig.env, capture_output=True, text=True, timeout=60)

    scan = cli("scan", "--timeout", "2", "--json")
    assert scan.returncode == 0, scan.stderr
    assert [p["name"] for p in json.loads(scan.stdout)] == [rig.companion_name]
    code, out, err = pair_on_the_command_line(
        ["-m", "glassbridge.cli.main", "phone", "pair", "--name", rig.companion_name, "--json", "--bond",
         str(bond_file)], rig.companion_ctl, env=rig.env)
    assert code == 0, err
    assert json.loads(out)["address"] == rig.companion_identity
    status = cli("status", "--connect", "--json")
    assert status.returncode == 0, status.stderr
    st = json.loads(status.stdout)
    assert st["bluez"]["Paired"] is True and st["link"]["state"] == "up" and st["link"]["mtu"] == 517
    forget = cli("forget")
    assert forget.returncode == 0 and rig.companion_identity in forget.stdout, forget.stderr
    again = cli("status")
    assert again.returncode == 1 and "phone pair" in again.stderr and len(again.stderr.strip().splitlines()) == 1
