"""ATT errors through the BlueZ facade, judged by bleak's own parser of BlueZ errors (assert_gatt_reply).

BlueZ turns an ATT Error Response into a D-Bus error (src/gatt-client.c create_gatt_dbus_error) and bleak turns
that back into BleakGATTProtocolError(code): if the facade names the error as BlueZ does, bleak recovers the
peer's ATT code. Security errors are the exception on purpose: BlueZ reports them as NotPermitted "Not paired"
(after trying to raise security), which bleak leaves a BleakDBusError.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bleak import BleakClient, BleakScanner
from bleak.backends.bluezdbus.utils import assert_gatt_reply
from bleak.exc import BleakDBusError, BleakGATTProtocolError
from bumble import att
from dbus_fast import Message

from glassbridge_rig.bluez.errors import att_error
from glassbridge_rig.dbus import PrivateBus
from tests.integration.bluez_rig import FAIL, PHONE_NAME, bus, close_bleak_manager, rig  # noqa: F401 (bus: fixture)

SECURITY = {0x05, 0x0C, 0x0F}


def _as_reply(code: int) -> Message:
    call = Message(destination="org.bluez", path="/x", interface="org.bluez.GattCharacteristic1", member="ReadValue",
                   serial=1, sender=":1.1")
    return att_error(code)._as_message(call)


@pytest.mark.parametrize("code", [int(c) for c in att.ErrorCode] + [0x80, 0x9F])
def test_every_att_error_reaches_bleak_with_its_code(code: int) -> None:
    with pytest.raises((BleakGATTProtocolError, BleakDBusError)) as err:
        assert_gatt_reply(_as_reply(code))
    if code in SECURITY:
        assert isinstance(err.value, BleakDBusError)
        assert err.value.dbus_error == "org.bluez.Error.NotPermitted" and err.value.dbus_error_details == "Not paired"
    else:
        assert isinstance(err.value, BleakGATTProtocolError)
        assert err.value.code == code


def test_peer_att_errors_over_the_air(bus: PrivateBus, tmp_path: Path) -> None:
    async def body() -> None:
        async with rig(bus.address, tmp_path / "bluez") as r:
            device = await BleakScanner.find_device_by_name(PHONE_NAME, timeout=3)
            assert device is not None
            async with BleakClient(device, timeout=10) as client:
                for code in (0x02, 0x03, 0x07, 0x08, 0x0D, 0x0E, 0x13, 0x80, 0xFD):
                    r.phone.fail_with = code
                    with pytest.raises(BleakGATTProtocolError) as err:
                        await client.read_gatt_char(FAIL)
                    assert err.value.code == code
                    with pytest.raises(BleakGATTProtocolError) as err:
                        await client.write_gatt_char(FAIL, b"v", response=True)
                    assert err.value.code == code

    async def main() -> None:
        try:
            await asyncio.wait_for(body(), 20)
        finally:
            await close_bleak_manager()

    asyncio.run(main())
