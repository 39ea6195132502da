"""`glassbridge bench link` runs end to end (a smoke run: small sizes, one run) and writes the documented JSON.

No speed is asserted here (speed claims live in the benchmark's own figures, docs/benchmarks.md); what is checked
is that every case ran through the real firmware, that nothing was lost or duplicated, and that each goodput is a
possible fraction of the line rate (a bug in the accounting would show up as more than the line can carry).
"""

from __future__ import annotations

import json
from pathlib import Path

from glassbridge_rig.bench.link import LinkBenchSettings, run_link_benchmark
from glassbridge.cli.main import main


def test_link_benchmark_smoke_run_reports_every_case() -> None:
    settings = LinkBenchSettings(transfer_bytes=24 * 1024, mic_seconds=0.3, roundtrips=3, runs=1)
    doc = run_link_benchmark(settings)
    names = {c["name"] for c in doc["cases"]}
    for contender in ("glassbridge", "stop_and_wait"):
        for faults in ("clean", "ber1e-4"):
            assert f"transfer_{contender}_{faults}" in names
            assert f"mic_{contender}_{faults}" in names
        assert f"roundtrip_{contender}_clean" in names
    for case in doc["cases"]:
        assert case["lost"] == 0 and case["duplicated"] == 0, case
        if "goodput_fraction_of_line_rate" in case:
            assert 0.0 < case["goodput_fraction_of_line_rate"] <= 1.0, case
    assert doc["settings"]["line_rate_bytes_per_s"] == 92160.0


def test_bench_link_cli_writes_json_and_a_chart(tmp_path: Path) -> None:
    out, chart = tmp_path / "link.json", tmp_path / "link.png"
    assert main(["bench", "link", "--quick", "--runs", "1", "--json", str(out), "--plot", str(chart)]) == 0
    doc = json.loads(out.read_text())
    assert {c["name"] for c in doc["cases"]} >= {"transfer_glassbridge_clean", "transfer_glassbridge_ber1e-4"}
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
