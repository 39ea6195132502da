"""The glasses' side of the phone link: a BLE central (bleak on BlueZ) that pairs once with the phone running
the companion (LE Secure Connections numeric comparison through glassbridge's own BlueZ Agent1), then connects
to that phone alone, reconnecting by itself, and a typed asyncio `Phone` client over the link engine.

    from glassbridge.phone import Phone, BondStore, TerminalPairingUI
    async with await Phone.open(bonds=BondStore(), pairing_ui=TerminalPairingUI()) as phone:
        await phone.wait_until_up(30)
        print((await phone.ask("What do you see?", photo=jpeg)).text)

Modules: errors (PhoneError and the phone's own kinds; what every peer's client raises is
glassbridge.protocol.errors), bonds (BondStore), agent (PairingAgent, PairingUI and its implementations), ble
(BleLink: the transport around the link engine), central (scan, pair_phone, Central: the reconnect loop), events
(the value types Phone returns and publishes, which import nothing of glassbridge), client (Phone: the phone's
face of glassbridge.protocol.client, which also sends its resumable uploads). This package never imports vision,
assistant, companion, sim or (at import time) mcu.
"""

from __future__ import annotations

from glassbridge.phone.agent import PairingAgent, PairingUI, TerminalPairingUI
from glassbridge.phone.bonds import Bond, BondStore
from glassbridge.phone.central import FoundPhone, ReconnectPolicy, pair_phone, remove_from_bluez, scan
from glassbridge.phone.client import Phone
from glassbridge.phone.errors import (
    BluetoothUnavailable,
    BondStoreError,
    NotBonded,
    PairingFailed,
    PairingRefused,
    PhoneError,
    UnknownDevice,
)
from glassbridge.phone.events import (
    Answer,
    AnswerPart,
    Card,
    CaptionLine,
    ConnectionChanged,
    NotificationEvent,
    PhoneEvent,
    PhoneStatus,
)

__all__ = [
    "Answer", "AnswerPart", "BluetoothUnavailable", "Bond", "BondStore", "BondStoreError", "Card", "CaptionLine",
    "ConnectionChanged", "FoundPhone", "NotBonded", "NotificationEvent", "PairingAgent", "PairingFailed",
    "PairingRefused", "PairingUI", "Phone", "PhoneError", "PhoneEvent", "PhoneStatus", "ReconnectPolicy",
    "TerminalPairingUI", "UnknownDevice", "pair_phone", "remove_from_bluez", "scan",
]
