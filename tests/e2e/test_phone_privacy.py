"""The glasses follow the phone's rotating private address (SPEC.md 16.2), end to end through the rig.

The companion advertises from a resolvable private address that changes every --rpa-timeout seconds. After a
rotation the glasses must still find and connect to it, knowing it only by the identity they bonded with (BlueZ
resolves the new address with the phone's IRK). The facts come from the companion's own status (which address it
advertises from, who is connected and how securely), not from the glasses' side.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from glassbridge.phone import BondStore, Phone, ReconnectPolicy, pair_phone
from glassbridge_rig.person import RigWearer
from glassbridge_rig.ble_rig import BleRig

pytestmark = pytest.mark.skipif(not Path("/usr/bin/dbus-daemon").exists(), reason="dbus-daemon not installed")

POLICY = ReconnectPolicy(first_delay=0.1, max_delay=0.5, scan_timeout=5.0, connect_timeout=10.0)


def test_reconnection_after_the_phone_rotated_its_private_address(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with BleRig(tmp_path / "rig", companion_args=["--rpa-timeout", "1"]) as rig:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", rig.bus_address)

        def status() -> dict[str, Any]:
            return rig.companion_ctl({"cmd": "status"})

        async def body() -> tuple[str, str]:
            store = BondStore(tmp_path / "bond.json")
            bond = await pair_phone(store, RigWearer(rig.companion_ctl), name=rig.companion_name, scan_timeout=5.0)
            assert bond.address == rig.companion_identity  # bonded with the identity, not an RPA
            first = (await asyncio.to_thread(status))["address"]
            assert first != rig.companion_identity  # it advertises from a private address
            # Out of range for a while: no connection, and the phone's address changes meanwhile.
            deadline = time.monotonic() + 10
            while (now := (await asyncio.to_thread(status))["address"]) == first:
                assert time.monotonic() < deadline, "the companion never rotated its address"
                await asyncio.sleep(0.2)
            async with await Phone.open(bonds=store, policy=POLICY) as phone:
                await phone.wait_until_up(30)
                answer = await phone.ask("still you?")
                assert answer.text
            return first, now

        first, rotated = asyncio.run(asyncio.wait_for(body(), 90))
        st = status()
        assert first != rotated
        # The same bonded glasses talked to it over an authenticated link after the rotation.
        assert st["pairings"] and len(st["pairings"]) == 1  # no new pairing was needed
        assert any(link["state"] == "UP" or link["stats"]["messages_rx"] > 0 for link in st["links"].values())


def test_uplink_writes_failing_with_gatt_errors_lose_nothing(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The phone refuses 20 uplink writes with an ATT error (Unlikely Error 0x0E): for write commands ATT has no
    answer, so those frames simply never reach the phone's link; the glasses' link must resend them and the upload
    must arrive whole, verified by the phone's own SHA-256."""
    import hashlib
    import os

    with BleRig(tmp_path / "rig") as rig:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", rig.bus_address)
        data = os.urandom(150_000)  # ~1 s on the air: room to arm the failures mid-stream

        async def body() -> dict[str, Any]:
            store = BondStore(tmp_path / "bond.json")
            await pair_phone(store, RigWearer(rig.companion_ctl), name=rig.companion_name, scan_timeout=5.0)
            async with await Phone.open(bonds=store, policy=POLICY) as phone:
                await phone.wait_until_up(30)
                upload = asyncio.create_task(phone.upload("photo", data, "gatt-errors.jpg"))
                # Arm the failures once data is streaming, so the refused writes are the upload's data frames.
                deadline = time.monotonic() + 20
                while not any(t["bytes_received"] for t in (await asyncio.to_thread(
                        rig.companion_ctl, {"cmd": "status"}))["transfers"]):
                    assert time.monotonic() < deadline and not upload.done(), "no data reached the phone"
                    await asyncio.sleep(0.005)
                armed = await asyncio.to_thread(rig.companion_ctl, {"cmd": "fail-writes", "count": 20, "error": 14})
                assert armed["ok"], armed
                await upload
                return (await phone.status()).to_dict()

        glasses = asyncio.run(asyncio.wait_for(body(), 90))
        st = rig.companion_ctl({"cmd": "status"})
        [transfer] = st["transfers"]
        assert transfer["state"] == "verified" and transfer["sha256"] == hashlib.sha256(data).hexdigest()
        assert transfer["bytes_received"] == len(data)  # nothing reached the phone's application twice
        assert st["frames_dropped"] == 20  # the phone refused exactly the injected writes
        [phone_link] = st["links"].values()
        # Every frame the glasses wrote either reached the phone's link or was refused: none vanished unnoticed.
        assert glasses["link"]["frames_tx"] == phone_link["stats"]["frames_rx"] + 20
        assert glasses["link"]["retransmits"] >= 20  # and the glasses' link resent what was refused
