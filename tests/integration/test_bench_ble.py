"""`glassbridge bench ble --quick` runs end to end through the BLE rig and writes the documented JSON and chart.

No speed is asserted (speed claims live in the benchmark's figures, docs/benchmarks.md). What is checked, against
what the rig's radio counters and the companion's own transfer record say: every case ran, nothing was lost, what
reached the phone's application twice is bounded by what the link can hold, each contender really used the ATT
operation it claims (write commands for glassbridge; write requests, each answered by a write response, for the
baseline), the forced disconnect happened and was recovered from, and every fraction is possible: efficiency can
never beat a frame's own header overhead ((frame - 10) / frame), goodput never the model's ceiling.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glassbridge_rig.bench.ble import BASELINE, BleBenchSettings, case_name, drop_detection
from glassbridge.cli.main import main
from glassbridge.protocol.gatt import LINK_SETTINGS, frame_limit

pytestmark = pytest.mark.skipif(not Path("/usr/bin/dbus-daemon").exists(), reason="dbus-daemon not installed")

_KEYS = {"name", "mtu", "payload_efficiency", "goodput_fraction_of_model_ceiling", "reverse_pdus", "lost",
         "duplicated", "seconds", "goodput_bytes_per_s", "disconnects", "runs"}


def test_bench_ble_quick_writes_json_and_chart(tmp_path: Path) -> None:
    out, chart = tmp_path / "ble.json", tmp_path / "ble.png"
    assert main(["bench", "ble", "--quick", "--json", str(out), "--plot", str(chart)]) == 0
    doc = json.loads(out.read_text())
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert doc["settings"]["mtus"] == [247] and doc["settings"]["timing"]["connection_interval_ms"] == 15
    assert doc["machine"]["cpu_count"] >= 1
    cases = {c["name"]: c for c in doc["cases"]}
    assert set(cases) == {f"{who}_mtu247_{faults}" for who in ("glassbridge", BASELINE)
                          for faults in ("clean", "1drops")}
    size = doc["settings"]["upload_bytes"]
    frame = frame_limit(247)
    for name, c in cases.items():
        assert _KEYS <= set(c), (name, _KEYS - set(c))
        assert c["mtu"] == 247
        assert c["lost"] == 0, c  # the companion verified the SHA-256 of every byte
        # Within one link session the link resends frames, never messages: the application sees each byte once,
        # unless the link restarted (at most its transmit queue per restart).
        assert 0 <= c["duplicated"] <= c["disconnects"] * LINK_SETTINGS["tx_queue_bytes"], c
        assert 0.0 < c["payload_efficiency"] <= (frame - 10) / frame, c  # a frame's header is always paid
        assert 0.0 < c["goodput_fraction_of_model_ceiling"] <= 1.0, c
        assert c["att_value_bytes"] >= size and c["reverse_pdus"] > 0, c
        assert c["disconnects"] == c["disconnects_planned"] == (0 if name.endswith("clean") else 1), c
        assert c["reconnections"] == c["disconnects"], c  # the glasses came back by themselves after the drop
        forward, reverse = c["forward_by_kind"], c["reverse_by_kind"]
        if c["contender"] == "glassbridge":
            assert forward.get("write_command", 0) > 0, c
            # No write requests but two CCCD writes after each reconnection: the application's subscribe and
            # BlueZ's own Service Changed registration (gatt-client's register_service_changed, every connection).
            assert forward.get("write_request", 0) == reverse.get("write_response", 0) <= 2 * c["disconnects"], c
        else:
            assert "write_command" not in forward, c
            # Every chunk acknowledged: one write response per write request. A drop may eat the last one. Under
            # qemu-user on Cortex-A53 the rig's counters have twice shown one response more than requests (214 /
            # 215 with a drop; 212 / 213 on a clean run, CI of 2026-12-07), never on x86_64 nor on Neoverse-N1: not
            # explained yet (leftover in the issue notes), so one either way is allowed besides one per drop. The
            # upload's own checks above (nothing lost, SHA-256 verified) are exact.
            assert abs(forward["write_request"] - reverse["write_response"]) <= 1 + c["disconnects"], c
            assert c["reverse_pdus"] > forward["write_request"], c  # write responses plus the link's own messages
    assert cases["glassbridge_mtu247_clean"]["duplicated"] == 0
    # Quick runs only drops detected at once (the link's own figure); the supervision-timeout cases are full-run.
    assert doc["settings"]["supervision_timeouts_ms"] == [] and doc["settings"]["drop_silence_ms"] == 0
    for name, c in cases.items():
        assert c["supervision_timeout_ms"] == 0, c
        assert c["drop_detection"] == ("no drop" if name.endswith("clean") else drop_detection(1, 0)), c


def test_supervision_timeout_cases_are_named_and_labelled_apart() -> None:
    """A drop noticed after the radio's supervision timeout is its own case, never mixed with the instant one."""
    from glassbridge.bench.report import _ble_faults

    assert case_name("glassbridge", 247, 3) == "glassbridge_mtu247_3drops"
    assert case_name("glassbridge", 247, 3, 720) == "glassbridge_mtu247_3drops_sto720ms"
    assert case_name("glassbridge", 247, 0, 720) == "glassbridge_mtu247_clean"
    assert "link's own figure" in drop_detection(3, 0) and "supervision timeout 4000 ms" in drop_detection(3, 4000)
    base = {"disconnects": 3, "disconnects_planned": 3}
    assert _ble_faults({**base, "supervision_timeout_ms": 0}) == "3/3 drops, instant"
    assert _ble_faults({**base, "supervision_timeout_ms": 720.0}) == "3/3 drops, supervision 720 ms"
    settings = BleBenchSettings()
    assert settings.drop_silence_ms == 0 and {720.0, 4000.0} <= set(settings.supervision_timeouts_ms)
    assert BleBenchSettings.quick_settings().supervision_timeouts_ms == ()
    with pytest.raises(ValueError, match="supervision timeout"):
        BleBenchSettings(supervision_timeouts_ms=(40000.0,)).validate()
