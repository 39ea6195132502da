"""`glassbridge bench int8 --quick` runs end to end and writes the documented JSON and chart.

No speed is asserted (the figures live in docs/benchmarks.md). What is checked are the benchmark's hard facts:
the QEMU instruction counts are present and consistent (the whole step costs more than the frontend alone and
the bench image really invoked the model every third step), the arena measured on the M4 is positive and fits
the firmware's static arena, the wake word makes the firmware bigger, the MCU's detections equal the SoC's on the
same samples (the phrase heard once, the noise never; on the host port and on the M4 under QEMU), and the idle link carries far fewer bytes than the
microphone stream it replaces.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from glassbridge.cli.main import main

pytestmark = [
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm is not installed"),
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed"),
]


def test_bench_int8_quick_writes_json_and_chart(tmp_path: Path) -> None:
    out, chart = tmp_path / "int8.json", tmp_path / "int8.png"
    assert main(["bench", "int8", "--quick", "--json", str(out), "--plot", str(chart)]) == 0
    doc = json.loads(out.read_text())
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert doc["benchmark"] == "int8" and doc["machine"]["cpu_count"] >= 1

    mcu = doc["mcu_cost"]
    for mode in ("step", "frontend", "invoke"):
        n1, n2 = mcu[mode]["n"]
        i1, i2 = mcu[mode]["insns"]
        assert 0 < n1 < n2 and 0 < i1 < i2, mcu[mode]  # QEMU's counts, more work more instructions
        assert mcu[mode]["per_unit"] == pytest.approx((i2 - i1) / (n2 - n1))
    # The step runs the frontend and a third of an invoke: more than the frontend alone, and the bench image
    # invoked the model once per three feature frames (the first two steps only fill the window).
    assert mcu["step"]["per_unit"] > mcu["frontend"]["per_unit"] > 0
    assert mcu["step"]["invokes"][1] == (mcu["step"]["n"][1] - 2) // 3
    assert mcu["share_of_64mhz"] == pytest.approx(mcu["step"]["per_unit"] / 640_000)

    mem = doc["memory"]
    assert 0 < mem["arena_used_m4"] <= mem["arena_static"]
    assert mem["wake_adds"]["text"] > mem["map"]["model"]["flash"] > 0  # the embedded model, at least
    assert mem["map"]["nn"]["flash"] > 0

    found = {d["phrase"]: d for d in doc["detections"]}
    assert set(found) == {"wake_and_ask.wav", "noise.wav"}
    assert doc["detections_identical"] and all(d["identical"] for d in found.values())
    assert len(found["wake_and_ask.wav"]["mcu_samples"]) == 1 and found["noise.wav"]["mcu_samples"] == []
    # The Cortex-M4F bench image ran the same phrase (without the second of quiet after it): on QEMU it heard it
    # at the same sample as the SoC.
    assert mcu["step"]["detected_samples"] == ",".join(str(x) for x in found["wake_and_ask.wav"]["soc_samples"])

    uart = doc["uart"]
    listening, streaming = uart["mcu_listens"], uart["soc_streaming"]
    assert streaming["bytes_rx"] >= 32_000 * streaming["seconds"] * 0.8  # 16 kHz PCM16 crossed the UART
    assert listening["bytes_per_hour"] * 50 < streaming["bytes_per_hour"], uart

    soc = {r["model"]: r for r in doc["soc"]["timing"]}
    assert set(soc) == {"okay_nabu", "emotion_fer_int8"}
    for r in soc.values():
        assert r["gbnn"]["median_ms"] > 0 and r["litert"]["median_ms"] > 0 and r["gbnn_arena_bytes"] > 0
