"""The arithmetic of the BLE timing model: connection events, LL PDUs, airtime, and what crossed the air.

Pure: no bumble, no event loop, no I/O; plain dataclasses and functions a unit test can check against the Core
spec by hand. `glassbridge_rig.ble_timing` applies these rules to bumble's LocalLink and Controller (TimedLink,
TimedController); it is apart from them so that whatever only needs the numbers (the `BleRig` harness, which
passes a BleTiming to the rig process as JSON; the benchmarks, which measure goodput against the ceiling) does
not import bumble, and so that the rules can be read without the scheduler around them.

The rules (Core spec Vol 6 Part B):

- Each connection has anchor points every `connection_interval_ms`, on a grid that starts 1.25 ms after the
  CONNECT_IND (the smallest transmit window offset; `FIRST_ANCHOR_S`, `next_anchor`).
- In an event the central and the peripheral alternate: central PDU, T_IFS (150 us), peripheral PDU, T_IFS, ...
  A side with nothing queued sends an empty PDU. Each LL data PDU carries at most `ll_payload` bytes of L2CAP
  (27 without the data length extension, 251 with it): an L2CAP PDU longer than that is fragmented
  (`BleTiming.fragments`).
- Airtime of a PDU = (preamble + access address 4 + LL header 2 + payload + MIC 4 + CRC 3) bytes * 8 / PHY rate,
  with a preamble of 1 byte on LE 1M and 2 bytes on LE 2M; the MIC only once the link is encrypted and only on
  PDUs with a payload (2.1 and 2.4; `BleTiming.pdu_airtime_us`).
- The event goes on while either side has more data (the MD bit), for at most `max_pdus_per_event` PDUs each
  way when set, and only while the next exchange ends within the event length (default: the whole interval
  minus `event_guard_ms`; `BleTiming.exchange_fits`).

`BleTiming.write_without_response_ceiling(att_mtu)`: the most ATT value bytes per second a stream of write
commands can carry under these rules (what a benchmark's goodput is measured against). `DirectionCounters` and
`PduRecord` are what the link counts and traces, with the L2CAP/ATT parsing that feeds them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ATT_CID",
    "ATT_OPCODES",
    "ATT_WRITE_HEADER",
    "FIRST_ANCHOR_S",
    "L2CAP_HEADER",
    "MIC_BYTES",
    "T_IFS_US",
    "BleTiming",
    "DirectionCounters",
    "PduRecord",
    "control_pdu_size",
    "next_anchor",
]

#: Inter-frame space between two PDUs of a connection event (Core spec Vol 6 Part B 4.1.1).
T_IFS_US = 150.0
#: From the CONNECT_IND to the first anchor: the smallest transmit window offset, 1.25 ms (seconds).
FIRST_ANCHOR_S = 0.00125
#: Access address (4) + LL data PDU header (2) + CRC (3): bytes every PDU carries besides preamble and payload.
_LL_FIXED_BYTES = 4 + 2 + 3
#: Message integrity check added to every non-empty PDU of an encrypted connection.
MIC_BYTES = 4
#: L2CAP basic header: length (2) + channel id (2).
L2CAP_HEADER = 4
#: ATT write command / write request / notification: opcode (1) + handle (2) before the value.
ATT_WRITE_HEADER = 3
#: L2CAP channel ids of ATT and SMP (Core spec Vol 3 Part A 2.1).
ATT_CID = 0x0004
_SMP_CID = 0x0006

#: ATT opcodes by name (Core spec Vol 3 Part F 3.4.8), for the counters.
ATT_OPCODES: dict[int, str] = {
    0x01: "error_response",
    0x02: "exchange_mtu_request",
    0x03: "exchange_mtu_response",
    0x04: "find_information_request",
    0x05: "find_information_response",
    0x06: "find_by_type_value_request",
    0x07: "find_by_type_value_response",
    0x08: "read_by_type_request",
    0x09: "read_by_type_response",
    0x0A: "read_request",
    0x0B: "read_response",
    0x0C: "read_blob_request",
    0x0D: "read_blob_response",
    0x0E: "read_multiple_request",
    0x0F: "read_multiple_response",
    0x10: "read_by_group_type_request",
    0x11: "read_by_group_type_response",
    0x12: "write_request",
    0x13: "write_response",
    0x16: "prepare_write_request",
    0x17: "prepare_write_response",
    0x18: "execute_write_request",
    0x19: "execute_write_response",
    0x1B: "notification",
    0x1D: "indication",
    0x1E: "confirmation",
    0x52: "write_command",
    0xD2: "signed_write_command",
}
#: Opcodes whose PDU is opcode + handle + value: their value bytes are counted (what an application moves).
_VALUE_OPCODES = {0x12: 0, 0x52: 0, 0x1B: 0, 0x1D: 0, 0xD2: 12}  # signed write: 12-byte signature after the value


@dataclass
class BleTiming:
    """The radio parameters of the model (see the module docstring for the rules they feed).

    connection_interval_ms: time between anchors, 7.5 ms to 4 s (Core spec: a multiple of 1.25 ms; any value is
        accepted here so that a sweep can use round numbers).
    ll_payload: largest L2CAP fragment per LL PDU: 27 (no data length extension) up to 251.
    phy_mbps: 1 (LE 1M) or 2 (LE 2M).
    event_length_ms: how long an event may last; None = the whole interval minus `event_guard_ms`.
    event_guard_ms: time kept free before the next anchor when event_length_ms is None.
    max_pdus_per_event: cap on the PDUs each side sends in one event (phones often have one), None = no cap.
    """

    connection_interval_ms: float = 15.0
    ll_payload: int = 251
    phy_mbps: int = 2
    event_length_ms: float | None = None
    event_guard_ms: float = 0.15
    max_pdus_per_event: int | None = None

    def __post_init__(self) -> None:
        if not 7.5 <= self.connection_interval_ms <= 4000.0:
            raise ValueError(f"connection_interval_ms={self.connection_interval_ms}: BLE allows 7.5 to 4000 ms")
        if not 27 <= self.ll_payload <= 251:
            raise ValueError(f"ll_payload={self.ll_payload}: an LL data PDU carries 27 to 251 bytes "
                             "(27 without the data length extension)")
        if self.phy_mbps not in (1, 2):
            raise ValueError(f"phy_mbps={self.phy_mbps}: the modelled PHYs are LE 1M (1) and LE 2M (2)")
        if self.event_guard_ms < 0:
            raise ValueError(f"event_guard_ms={self.event_guard_ms} must be >= 0")
        if self.event_length_ms is not None and not 0 < self.event_length_ms <= self.connection_interval_ms:
            raise ValueError(f"event_length_ms={self.event_length_ms} must be > 0 and <= the connection interval "
                             f"({self.connection_interval_ms} ms)")
        if self.max_pdus_per_event is not None and self.max_pdus_per_event < 1:
            raise ValueError(f"max_pdus_per_event={self.max_pdus_per_event} must be >= 1 (or None for no cap)")

    # ---- the rules -----------------------------------------------------------------------------------

    @property
    def event_length_us(self) -> float:
        """How long one event may last, in microseconds."""
        if self.event_length_ms is not None:
            return self.event_length_ms * 1000.0
        return max(0.0, (self.connection_interval_ms - self.event_guard_ms) * 1000.0)

    @property
    def interval_us(self) -> float:
        return self.connection_interval_ms * 1000.0

    def pdu_airtime_us(self, payload: int, *, encrypted: bool) -> float:
        """Time on air of one LL data PDU with `payload` bytes (0 = an empty PDU)."""
        preamble = 1 if self.phy_mbps == 1 else 2
        mic = MIC_BYTES if encrypted and payload > 0 else 0
        return (preamble + _LL_FIXED_BYTES + payload + mic) * 8.0 / self.phy_mbps

    def fragments(self, l2cap_length: int) -> list[int]:
        """LL payload sizes an L2CAP PDU of `l2cap_length` bytes (header included) is cut into."""
        if l2cap_length <= 0:
            raise ValueError(f"an L2CAP PDU has at least its 4-byte header, got {l2cap_length} bytes")
        full, rest = divmod(l2cap_length, self.ll_payload)
        return [self.ll_payload] * full + ([rest] if rest else [])

    def exchange_fits(self, offset_us: float, central: int, peripheral: int, *, encrypted: bool) -> bool:
        """Whether an exchange starting `offset_us` after the anchor, with these payloads, ends within the event."""
        end = (offset_us + self.pdu_airtime_us(central, encrypted=encrypted) + T_IFS_US
               + self.pdu_airtime_us(peripheral, encrypted=encrypted))
        return end <= self.event_length_us

    def write_without_response_ceiling(self, att_mtu: int, *, encrypted: bool = True,
                                       value_size: int | None = None) -> float:
        """Most ATT value bytes per second that write commands (central -> peripheral) carry under the model.

        Each write carries `value_size` (default: the largest, min(att_mtu - 3, 512)) value bytes in an L2CAP PDU
        of value + 3 + 4 bytes, cut into LL
        fragments; the central sends them back to back while the peripheral answers with empty PDUs, and every
        event runs as the rules allow. The fragment a steady stream starts each event with is periodic, so one
        period gives the exact long-run rate (value bytes over the period's events times the interval).
        """
        if att_mtu < 23:
            raise ValueError(f"att_mtu={att_mtu}: the ATT_MTU of LE is at least 23")
        largest = min(att_mtu - ATT_WRITE_HEADER, 512)
        value = largest if value_size is None else value_size
        if not 1 <= value <= largest:
            raise ValueError(f"value_size={value_size}: a write at ATT_MTU {att_mtu} carries 1..{largest} bytes")
        frags = self.fragments(value + ATT_WRITE_HEADER + L2CAP_HEADER)
        start = 0  # index of the fragment the next event begins with
        seen: dict[int, tuple[int, int]] = {}  # fragment index at an event start -> (events, writes) so far
        events = writes = 0
        while start not in seen:
            seen[start] = (events, writes)
            offset = 0.0
            sent = 0
            index = start
            while True:
                # The central's PDU, then the peripheral's empty answer, then T_IFS before the next exchange.
                offset += (self.pdu_airtime_us(frags[index], encrypted=encrypted) + T_IFS_US
                           + self.pdu_airtime_us(0, encrypted=encrypted) + T_IFS_US)
                sent += 1
                if index == len(frags) - 1:
                    writes += 1
                index = (index + 1) % len(frags)
                if self.max_pdus_per_event is not None and sent >= self.max_pdus_per_event:
                    break
                if not self.exchange_fits(offset, frags[index], 0, encrypted=encrypted):
                    break
            events += 1
            start = index
        events0, writes0 = seen[start]
        period_events, period_writes = events - events0, writes - writes0
        return period_writes * value / (period_events * self.connection_interval_ms / 1000.0)

    def best_write_ceiling(self, att_mtu: int, *, encrypted: bool = True) -> tuple[float, int]:
        """The ceiling of write commands at this ATT_MTU with the best value size, and that size.

        Besides the largest value, the candidates are the sizes whose L2CAP PDU fills whole LL PDUs
        (k x ll_payload - 7): a value one byte longer than such a size costs a whole extra exchange for its runt.
        """
        largest = min(att_mtu - ATT_WRITE_HEADER, 512)
        sizes = {largest} | {k * self.ll_payload - ATT_WRITE_HEADER - L2CAP_HEADER
                             for k in range(1, largest // self.ll_payload + 2)}
        best = max((self.write_without_response_ceiling(att_mtu, encrypted=encrypted, value_size=v), v)
                   for v in sizes if 1 <= v <= largest)
        return best

    # ---- (de)serialisation for the ctl socket and the command line -----------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BleTiming:
        """A BleTiming from a dict of its fields; an unknown key is an error naming the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown timing field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**data)

    def replace(self, **changes: Any) -> BleTiming:
        return BleTiming.from_dict({**self.to_dict(), **changes})


# ---- anchors and control PDUs ------------------------------------------------------------------------------


def next_anchor(anchor_base: float, now: float, interval_s: float) -> float:
    """The first anchor of the grid `anchor_base + k * interval_s` (k >= 1) at or after `now` (seconds).

    `now` on an anchor up to rounding (1e-9 of an interval) gets that anchor, not the one after it.
    """
    k = max(1, math.ceil((now - anchor_base) / interval_s - 1e-9))
    return anchor_base + k * interval_s


#: Payload bytes of LL control PDUs by bumble's class name (opcode + CtrData, Core spec Vol 6 Part B 2.4.2).
_CONTROL_SIZES = {"TerminateInd": 2, "EncReq": 23, "EncRsp": 13, "StartEncReq": 1, "StartEncRsp": 1,
                  "RejectExtInd": 3, "FeatureReq": 9, "FeatureRsp": 9, "PeripheralFeatureReq": 9, "VersionInd": 6,
                  "ConnectionUpdateInd": 12, "LengthReq": 9, "LengthRsp": 9}


def control_pdu_size(name: str) -> int:
    """Payload bytes of the LL control PDU `name` (e.g. "EncReq"); 9 for one not listed."""
    return _CONTROL_SIZES.get(name, 9)


# ---- counters -------------------------------------------------------------------------------------------


@dataclass
class DirectionCounters:
    """What crossed the air one way on one connection (only what was transmitted: dropped PDUs do not count)."""

    ll_data_pdus: int = 0
    ll_empty_pdus: int = 0
    ll_control_pdus: int = 0
    ll_payload_bytes: int = 0
    l2cap_pdus: int = 0
    l2cap_bytes: int = 0
    att_pdus: dict[str, int] = field(default_factory=dict)
    att_value_bytes: int = 0
    smp_pdus: int = 0
    dropped_pdus: int = 0

    def count_l2cap(self, pdu: bytes) -> None:
        self.l2cap_pdus += 1
        self.l2cap_bytes += len(pdu)
        if len(pdu) < L2CAP_HEADER + 1:
            return
        cid = int.from_bytes(pdu[2:4], "little")
        if cid == _SMP_CID:
            self.smp_pdus += 1
        if cid != ATT_CID:
            return
        opcode = pdu[L2CAP_HEADER]
        name = ATT_OPCODES.get(opcode, f"0x{opcode:02x}")
        self.att_pdus[name] = self.att_pdus.get(name, 0) + 1
        if opcode in _VALUE_OPCODES:
            value = len(pdu) - L2CAP_HEADER - ATT_WRITE_HEADER - _VALUE_OPCODES[opcode]
            self.att_value_bytes += max(0, value)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["att_pdus"] = dict(sorted(self.att_pdus.items()))
        return data


@dataclass(frozen=True)
class PduRecord:
    """One LL PDU on the air (kept when TimedLink(trace=True)): for tests that check the timeline."""

    connection: int
    event: int
    anchor: float  # loop time of the event's anchor, seconds
    start: float  # loop time the PDU starts, seconds
    end: float  # loop time the PDU ends (and is delivered), seconds
    direction: str  # "c2p" (central to peripheral) or "p2c"
    kind: str  # "data", "empty" or "control"
    payload: int  # LL payload bytes
    att_opcode: int | None  # the ATT opcode when this PDU completes an ATT PDU

