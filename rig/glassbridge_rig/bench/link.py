"""`glassbridge bench link`: what the MCU link delivers through the emulated UART, against stop-and-wait.

Everything runs through the real parts: the firmware (host port by default, or the Cortex-M4F build under QEMU),
the link emulator charging 10 bit-times per byte at 921600 baud (92,160 bytes/s, the "line rate") and injecting
faults from a seed, and glassbridge's own `Mcu` client over pyserial. Cases:

- transfer: a 256 KB bulk transfer of incompressible bytes to the MCU, which checks its SHA-256 (so a lost,
  duplicated or corrupted byte would fail the run). Goodput = payload bytes / seconds from TransferBegin to the
  MCU's VERIFIED, as a fraction of the line rate.
- mic: the microphone stream from the MCU (16 kHz PCM16, 32,000 B/s): samples received vs the MCU's own sample
  counter; lost and duplicated samples are counted from `first_sample`.
- roundtrip: a small request (Status) and its answer, median latency.

Contenders: the glassbridge link (sliding window with selective acknowledgement) and a stop-and-wait baseline
(the same engine with a window of one frame: one frame in flight, wait for its acknowledgement; what the open
glasses SDKs do over their serial links). With a negotiated window of 1 both engines acknowledge every frame at
once (SPEC.md 6.3), as a real stop-and-wait receiver does: before that rule the baseline also waited the
receiver's 2 ms delayed acknowledgement per frame (0.712 of the line rate clean instead of 0.77). Each is run `runs` times with different fault seeds, interleaved
seed by seed (their order alternating), after a warm-up; medians are reported.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from glassbridge.bench.machine import machine_info

LINE_BAUD = 921600


@dataclass
class LinkBenchSettings:
    board: str = "host"
    baud: int = LINE_BAUD
    transfer_bytes: int = 256 * 1024
    mic_seconds: float = 3.0
    roundtrips: int = 50
    runs: int = 5
    ber: tuple[float, ...] = (0.0, 1e-4)
    seed: int = 1
    contenders: tuple[str, ...] = ("glassbridge", "stop_and_wait")

    @classmethod
    def quick_settings(cls) -> LinkBenchSettings:
        """Seconds, not minutes: a smoke run (one run each, 64 KB, 1 s of audio), not figures to quote."""
        return cls(transfer_bytes=64 * 1024, mic_seconds=1.0, roundtrips=10, runs=1)


#: The link options of each contender (everything else equal). window=1: one data frame in flight, each
#: acknowledged at once by the MCU (SPEC.md 6.3: no delayed acknowledgement with a window of 1).
CONTENDERS: dict[str, dict[str, Any]] = {
    "glassbridge": {"window": 16},
    "stop_and_wait": {"window": 1},
}


@dataclass
class RunResult:
    values: dict[str, float] = field(default_factory=dict)


def _fault_text(ber: float, seed: int) -> str | None:
    return f"ber={ber:g},seed={seed}" if ber > 0 else None


def _case_name(kind: str, contender: str, ber: float) -> str:
    faults = "clean" if ber == 0 else f"ber{ber:.0e}".replace("e-0", "e-")
    return f"{kind}_{contender}_{faults}"


async def _transfer_once(mcu: Any, size: int, seed: int) -> dict[str, float]:
    data = os.urandom(size)  # incompressible; content does not matter for timing, the MCU verifies it
    started = time.perf_counter()
    report = await mcu.transfer(data, name=f"bench-{seed}")
    seconds = time.perf_counter() - started
    stats = mcu.link_info()
    return {"seconds": seconds, "bytes": float(size), "restarts": float(report.restarts),
            "retransmits": float(stats.get("retransmits", 0)), "crc_errors": float(stats.get("crc_errors", 0))}


async def _mic_once(mcu: Any, seconds: float) -> dict[str, float]:
    received = 0
    lost = 0
    duplicated = 0
    expected_next: int | None = None
    first_at: float | None = None
    started = time.perf_counter()
    stream = mcu.microphone()
    try:
        async for chunk in stream:
            now = time.perf_counter()
            if first_at is None:
                first_at = now
            samples = len(chunk.pcm) // 2
            if expected_next is not None:
                if chunk.first_sample > expected_next:
                    lost += chunk.first_sample - expected_next
                elif chunk.first_sample < expected_next:
                    duplicated += expected_next - chunk.first_sample
            expected_next = chunk.first_sample + samples
            received += samples
            if now - first_at >= seconds:
                break
    finally:
        await stream.aclose()
    span = (time.perf_counter() - (first_at or started)) or 1e-9
    return {"seconds": span, "bytes": float(received * 2), "lost_samples": float(lost),
            "duplicated_samples": float(duplicated), "startup_s": (first_at or started) - started}


async def _roundtrip_once(mcu: Any, n: int) -> dict[str, float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await mcu.status()
        times.append(time.perf_counter() - t0)
    return {"rtt_ms": statistics.median(times) * 1e3, "rtt_p90_ms": sorted(times)[int(0.9 * (len(times) - 1))] * 1e3}


async def run_link_benchmark_async(settings: LinkBenchSettings, progress: Callable[[str], None] | None = None
                                   ) -> dict[str, Any]:
    from glassbridge.mcu.client import Mcu
    from glassbridge_rig.runner import FirmwareRunner

    line_rate = settings.baud / 10.0
    results: dict[str, list[dict[str, float]]] = {}
    say = progress or (lambda _s: None)
    # Warm-up: build/start the firmware once, a handshake and a small transfer (page cache, imports, JIT-free
    # but not cost-free first calls in the client).
    async with FirmwareRunner(settings.board, baud=settings.baud) as runner:
        async with await Mcu.connect(runner.port, baudrate=settings.baud, timeout=10.0) as mcu:
            await mcu.transfer(os.urandom(8 * 1024), name="warm-up")
    for run in range(settings.runs):
        seed = settings.seed + run
        order = list(settings.contenders) if run % 2 == 0 else list(reversed(settings.contenders))
        for ber in settings.ber:
            async with FirmwareRunner(settings.board, baud=settings.baud, faults=_fault_text(ber, seed)) as runner:
                for contender in order:
                    opts = CONTENDERS[contender]
                    say(f"run {run + 1}/{settings.runs}, {'clean' if ber == 0 else f'ber {ber:g}'}: {contender}")
                    async with await Mcu.connect(runner.port, baudrate=settings.baud, timeout=10.0,
                                                 **opts) as mcu:
                        r = await _transfer_once(mcu, settings.transfer_bytes, seed)
                        results.setdefault(_case_name("transfer", contender, ber), []).append(r)
                        r = await _mic_once(mcu, settings.mic_seconds)
                        results.setdefault(_case_name("mic", contender, ber), []).append(r)
                        if ber == 0:
                            r = await _roundtrip_once(mcu, settings.roundtrips)
                            results.setdefault(_case_name("roundtrip", contender, ber), []).append(r)
    cases = []
    for name, runs in results.items():
        case: dict[str, Any] = {"name": name, "runs": len(runs)}
        keys = runs[0].keys()
        med = {k: statistics.median(r[k] for r in runs) for k in keys}
        if "bytes" in med:
            goodputs = [r["bytes"] / r["seconds"] / line_rate for r in runs]
            case["goodput_fraction_of_line_rate"] = round(statistics.median(goodputs), 4)
            case["goodput_bytes_per_s"] = round(statistics.median(r["bytes"] / r["seconds"] for r in runs), 1)
        case["lost"] = int(sum(r.get("lost_samples", 0) for r in runs))
        case["duplicated"] = int(sum(r.get("duplicated_samples", 0) for r in runs))
        case.update({f"median_{k}": round(v, 4) for k, v in med.items()
                     if k not in ("lost_samples", "duplicated_samples")})
        cases.append(case)
    by_name = {c["name"]: c for c in cases}
    ratios = {}
    for ber in settings.ber:
        ours = by_name.get(_case_name("transfer", "glassbridge", ber))
        base = by_name.get(_case_name("transfer", "stop_and_wait", ber))
        if ours and base and base.get("goodput_fraction_of_line_rate"):
            ratios[_case_name("transfer", "glassbridge_vs_stop_and_wait", ber)] = round(
                ours["goodput_fraction_of_line_rate"] / base["goodput_fraction_of_line_rate"], 2)
    return {
        "benchmark": "link",
        "settings": {"board": settings.board, "baud": settings.baud, "line_rate_bytes_per_s": line_rate,
                     "transfer_bytes": settings.transfer_bytes, "mic_seconds": settings.mic_seconds,
                     "runs": settings.runs, "ber": list(settings.ber), "seed": settings.seed},
        "targets": {"transfer_glassbridge_clean": 0.93, "transfer_glassbridge_ber1e-4": 0.85},
        "cases": cases,
        "ratios": ratios,
        "machine": machine_info(),
    }


def run_link_benchmark(settings: LinkBenchSettings, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    return asyncio.run(run_link_benchmark_async(settings, progress))
