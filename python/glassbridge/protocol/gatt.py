"""The phone link's GATT contract (SPEC.md section 16), as data: UUIDs, frame sizes, link settings, ServiceInfo.

The phone hosts the glassbridge service; the glasses (a BLE central, bleak) connect to it. One link frame of the
packet profile (SPEC.md 2.3) rides in each ATT value:

    glasses -> phone   UPLINK_UUID     write without response (data) or write (when the app wants an ATT ack)
    phone -> glasses   DOWNLINK_UUID   notify
    either             INFO_UUID       read: a protobuf ServiceInfo (what the companion speaks)

Every characteristic and the downlink's CCCD require an encrypted, authenticated link (LE Secure Connections,
numeric comparison): an unpaired central can neither read, write nor subscribe. No I/O here; both the glasses'
central (glassbridge.phone) and the companion (glassbridge_companion) build on these names.
"""

from __future__ import annotations

from dataclasses import dataclass

from glassbridge.protocol import glassbridge_pb2 as pb
from glassbridge.protocol.errors import MessageDecodeError

__all__ = [
    "ATT_MAX_VALUE",
    "DOWNLINK_UUID",
    "FRAME_CAP",
    "INFO_UUID",
    "LINK_SETTINGS",
    "MIN_ATT_MTU",
    "SERVICE_UUID",
    "UPLINK_UUID",
    "ServiceInfoData",
    "decode_service_info",
    "encode_service_info",
    "frame_limit",
]

_BASE = "-1514-441b-bde0-6eab03e96893"  # one random UUID, the first group numbering the attributes

#: The glassbridge service (primary), advertised by the companion.
SERVICE_UUID = f"ee700001{_BASE}"
#: Glasses -> phone frames: write without response, and write.
UPLINK_UUID = f"ee700002{_BASE}"
#: Phone -> glasses frames: notify.
DOWNLINK_UUID = f"ee700003{_BASE}"
#: ServiceInfo (protobuf): read.
INFO_UUID = f"ee700004{_BASE}"

#: An ATT attribute value holds at most 512 bytes (Core spec Vol 3 Part F 3.2.9), whatever the MTU.
ATT_MAX_VALUE = 512
#: The smallest ATT_MTU the link runs on: a frame must hold a Hello (128 bytes, SPEC.md 2.4) -> 131.
MIN_ATT_MTU = 131

#: Link settings both ends use on BLE (SPEC.md 16.4), passed to Link(**LINK_SETTINGS, max_frame=...).
#: A BLE connection event comes every 7.5-50 ms and carries a few packets each way, so acknowledgements are
#: delayed by about one connection interval, the window is the largest the SACK covers and messages are long
#: (a TransferData fills many frames and its protobuf overhead is paid once).
LINK_SETTINGS: dict[str, int] = {
    "window": 32,
    "max_message": 16384 + 64,
    "tx_queue_bytes": 262144,
    "heartbeat_ms": 1000,
    "link_timeout_ms": 6000,
    "ack_delay_ms": 20,
    "rto_initial_ms": 600,
    "rto_min_ms": 60,
    "rto_max_ms": 3000,
}


#: The largest frame either end declares: 495 + 3 (ATT) + 4 (L2CAP) = 502 bytes = two link-layer PDUs of 251
#: bytes, the data length extension's maximum. A 512-byte value would need a third PDU of 17 bytes, which costs a
#: whole exchange of the connection event (measured on the rig at MTU 517: 140 -> 156 KB/s with 495).
FRAME_CAP = 2 * 251 - 3 - 4


def frame_limit(att_mtu: int) -> int:
    """The largest frame on a connection with this ATT_MTU: min(ATT_MTU - 3, 495) (SPEC.md 16.3).

    A write or notification value is ATT_MTU - 3 bytes at most (and no attribute value exceeds 512); above that,
    frames stop at FRAME_CAP, which fills two whole link-layer PDUs. Raises ValueError for an ATT_MTU below
    MIN_ATT_MTU (131): the link cannot run there (BLE's default of 23 means the MTU exchange has not happened; on
    BlueZ acquire it first).
    """
    if att_mtu < MIN_ATT_MTU:
        raise ValueError(
            f"ATT_MTU {att_mtu} is too small for the glassbridge link (needs >= {MIN_ATT_MTU}: a frame must hold a "
            "Hello); 23 means the MTU exchange has not happened yet"
        )
    return min(att_mtu - 3, ATT_MAX_VALUE, FRAME_CAP)


@dataclass(frozen=True)
class ServiceInfoData:
    """The info characteristic's content (protobuf ServiceInfo), as plain data."""

    protocol_version: int
    min_protocol_version: int
    capabilities: int
    app_version: str
    max_frame: int


def encode_service_info(info: ServiceInfoData) -> bytes:
    """The info characteristic's value: a deterministic protobuf ServiceInfo."""
    msg = pb.ServiceInfo(
        protocol_version=info.protocol_version,
        min_protocol_version=info.min_protocol_version,
        capabilities=info.capabilities,
        app_version=info.app_version,
        max_frame=info.max_frame,
    )
    if len(info.app_version.encode()) > 31:
        raise ValueError(f"app_version {info.app_version!r} is longer than 31 bytes (ServiceInfo limit)")
    data: bytes = msg.SerializeToString(deterministic=True)
    return data


def decode_service_info(value: bytes) -> ServiceInfoData:
    """Parse the info characteristic; MessageDecodeError when the value is not a ServiceInfo."""
    msg = pb.ServiceInfo()
    try:
        msg.ParseFromString(bytes(value))
    except Exception as exc:  # protobuf's DecodeError, or a RuntimeWarning-class error on odd input
        raise MessageDecodeError(
            f"the info characteristic's {len(value)} bytes are not a glassbridge.v1.ServiceInfo ({exc})"
        ) from exc
    if len(msg.app_version.encode()) > 31:
        raise MessageDecodeError(f"ServiceInfo.app_version is {len(msg.app_version.encode())} bytes (limit 31)")
    return ServiceInfoData(
        msg.protocol_version, msg.min_protocol_version, msg.capabilities, msg.app_version, msg.max_frame
    )
