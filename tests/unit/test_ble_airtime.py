"""The timing model's arithmetic (glassbridge_rig.ble_airtime) alone, without bumble or an event loop: the figures
are worked out here from the Core spec's rules (the model on a live link is tests/integration/test_ble_timing.py)."""

from __future__ import annotations

import pytest

from glassbridge_rig.ble_airtime import BleTiming, DirectionCounters, control_pdu_size, next_anchor


def test_pdu_airtime_counts_preamble_access_address_header_mic_and_crc() -> None:
    # LE 1M: 1-byte preamble; empty PDU = 1 + 4 + 2 + 3 bytes = 80 bits = 80 us.
    assert BleTiming(phy_mbps=1).pdu_airtime_us(0, encrypted=True) == 80.0
    # LE 2M: 2-byte preamble; 251 bytes with a MIC = (2 + 4 + 2 + 251 + 4 + 3) * 8 / 2 us.
    assert BleTiming(phy_mbps=2).pdu_airtime_us(251, encrypted=True) == 1064.0
    assert BleTiming(phy_mbps=2).pdu_airtime_us(251, encrypted=False) == 1048.0


def test_l2cap_pdus_are_cut_to_the_ll_payload() -> None:
    assert BleTiming(ll_payload=251).fragments(300) == [251, 49]
    assert BleTiming(ll_payload=27).fragments(100) == [27, 27, 27, 19]
    assert BleTiming(ll_payload=27).fragments(54) == [27, 27]
    with pytest.raises(ValueError):
        BleTiming().fragments(0)


def test_an_exchange_fits_only_if_it_ends_within_the_event() -> None:
    timing = BleTiming(connection_interval_ms=7.5, phy_mbps=1)  # event: 7500 - 150 us
    exchange = 80.0 + 150.0 + 80.0  # two empty PDUs and T_IFS between them
    assert timing.exchange_fits(7350.0 - exchange, 0, 0, encrypted=False)
    assert not timing.exchange_fits(7350.0 - exchange + 1.0, 0, 0, encrypted=False)


def test_the_next_anchor_is_on_the_grid_and_never_the_base() -> None:
    assert next_anchor(1.0, 1.0, 0.015) == pytest.approx(1.015)
    assert next_anchor(1.0, 1.015, 0.015) == pytest.approx(1.015)
    assert next_anchor(1.0, 1.0151, 0.015) == pytest.approx(1.030)
    assert next_anchor(1.0, 0.5, 0.015) == pytest.approx(1.015)


def test_counters_read_att_and_smp_from_the_l2cap_header() -> None:
    counters = DirectionCounters()
    value = bytes(10)
    write_command = (3 + len(value)).to_bytes(2, "little") + b"\x04\x00" + b"\x52\x2a\x00" + value
    counters.count_l2cap(write_command)
    counters.count_l2cap((2).to_bytes(2, "little") + b"\x06\x00" + b"\x01\x03")  # SMP Pairing Request (cut)
    assert counters.l2cap_pdus == 2 and counters.l2cap_bytes == len(write_command) + 6
    assert counters.att_pdus == {"write_command": 1} and counters.att_value_bytes == 10
    assert counters.smp_pdus == 1


def test_control_pdu_sizes_and_timing_round_trip() -> None:
    assert control_pdu_size("EncReq") == 23 and control_pdu_size("TerminateInd") == 2
    assert control_pdu_size("SomethingNew") == 9
    timing = BleTiming(connection_interval_ms=30.0, ll_payload=27)
    assert BleTiming.from_dict(timing.to_dict()) == timing
    assert timing.replace(phy_mbps=1).phy_mbps == 1
    with pytest.raises(ValueError, match="unknown timing field"):
        BleTiming.from_dict({"interval": 15})
