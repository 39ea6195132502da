"""`glassbridge bench int8`: the gbnn engine and the wake word on the MCU, measured (issue 15).

Five parts, one JSON document:

1. ``mcu_cost``: instructions on the Cortex-M4F. firmware/bench/wake_bench.c (wake-bench.elf, built with the
   mps2_an386 firmware from the same library, flags and embedded model as glassbridge-fw) runs N 10 ms steps of
   real audio (espeak-ng's "okay nabu, what am I looking at", read by semihosting) under qemu-system-arm with
   QEMU's instruction-counting TCG plugin (scripts/arm64/insn-plugin.sh builds it once). Each mode runs twice, with
   N1 and N2: (I2 - I1) / (N2 - N1) is one step (or invoke), boot and set-up cancelled out. Modes: the whole step
   as the firmware runs it (gb_wake_step: the frontend every step, the model every third), the frontend alone, the
   model's invoke alone. The share of a 64 MHz core assumes one instruction per cycle (QEMU counts instructions,
   not cycles: the M4F's loads, multiplies and taken branches cost more, its DSP instructions no more).
2. ``memory``: gbnn_arena_used measured on the M4 (printed by the bench image), the firmware's text/data/bss
   with and without the wake word (glassbridge-fw.elf and glassbridge-fw-nowake.elf of the same build), and from
   the .map what the nn objects and the embedded model take.
3. ``detections``: the host firmware listening (Mcu.listen_for_wake_word) while it plays each espeak-ng WAV as
   its microphone (`mic play`), against glassbridge.audio.WakeWord (pymicro-features + LiteRT) on the same
   samples: the detections must be the same samples (tests/firmware/test_wake_mcu.py's method).
4. ``uart``: bytes the SoC's link received from the MCU while the MCU listened to noise (`mic loop`) for a
   measured span, against the same span with the microphone streamed to the SoC (the SoC-side detector's input),
   both extrapolated to an hour.
5. ``soc``: glassbridge.bench.int8 (gbnn against LiteRT with one thread, callgrind).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from glassbridge.audio import SAMPLE_RATE, WakeWord
from glassbridge.audio.speech_samples import make_pcm
from glassbridge.audio.wav import write_wav
from glassbridge.bench.int8 import SocSettings, callgrind_per_invoke, time_models
from glassbridge.bench.machine import machine_info
from glassbridge.mcu.client import Mcu
from glassbridge.mcu.events import WakeWordHeard
from glassbridge_rig.runner import FirmwareRunner, board, build_firmware, prebuilt_image, repo_root

CORE_HZ = 64_000_000
STEP_MS = 10
TARGET_SHARE = 0.25
QEMU_TIMEOUT_S = 120

_NN_OBJECT = re.compile(r"\((?:core|frontend|frontend_tables|names|op_[a-z_]+|ops_[a-z_]+|plan|quant|reader|"
                        r"kernels[a-z0-9_]*)\.c\.obj\)$")
_MODEL_OBJECT = re.compile(r"\(wake_model\.c\.obj\)$")


@dataclass
class Int8BenchSettings:
    phrases: tuple[str, ...] = ("wake_and_ask.wav", "okay_nabu.wav", "meeting.wav", "question_look.wav",
                                "noise.wav", "silence.wav")
    steps: tuple[int, int] = (150, 450)    # within the 4.96 s of wake_and_ask.wav: no wrap-round
    invokes: tuple[int, int] = (50, 150)
    idle_seconds: float = 60.0
    soc: SocSettings = field(default_factory=SocSettings)
    workdir: Path | None = None

    @classmethod
    def quick_settings(cls) -> Int8BenchSettings:
        return cls(phrases=("wake_and_ask.wav", "noise.wav"), idle_seconds=5.0, soc=SocSettings.quick_settings())


# -- 1. instructions on the Cortex-M4F -------------------------------------------------------------------------

def insn_plugin(root: Path) -> Path:
    """QEMU's libinsn.so (scripts/arm64/insn-plugin.sh builds it once from Debian's QEMU source package)."""
    script = root / "scripts" / "arm64" / "insn-plugin.sh"
    proc = subprocess.run([str(script)], capture_output=True, text=True, timeout=1800, check=False)
    path = Path(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None
    if proc.returncode != 0 or path is None or not path.is_file():
        raise RuntimeError(f"QEMU's instruction-count plugin is not available ({script} exited {proc.returncode}): "
                           f"{proc.stderr.strip()[-400:]}")
    return path


def run_bench_image(elf: Path, plugin: Path, mode: str, n: int, pcm_file: Path, log: Path) -> dict[str, Any]:
    """One run of wake-bench.elf: its report line's fields and the plugin's instruction count."""
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        raise RuntimeError("qemu-system-arm is not installed (scripts/system-packages.sh firmware)")
    log.unlink(missing_ok=True)
    cmd = [qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "null",
           "-semihosting-config", f"enable=on,target=native,arg=wake_bench,arg={mode},arg={n},arg={pcm_file}",
           "-kernel", str(elf), "-plugin", f"{plugin},inline=on", "-d", "plugin", "-D", str(log)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=QEMU_TIMEOUT_S, check=False)
    # Semihosting's console output reaches QEMU's stderr with -nographic.
    line = next((ln for ln in (proc.stdout + proc.stderr).splitlines() if ln.startswith("wake_bench ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wake-bench.elf {mode} {n} failed (exit {proc.returncode}): "
                           f"{(proc.stdout + proc.stderr).strip()[-400:]}")
    fields: dict[str, Any] = dict(kv.split("=", 1) for kv in line.split()[1:])
    m = re.search(r"insns: (\d+)", log.read_text())
    if m is None:
        raise RuntimeError(f"no instruction count in {log}: {log.read_text()[-200:]}")
    fields["insns"] = int(m.group(1))
    return fields


def mcu_cost(settings: Int8BenchSettings, elf: Path, plugin: Path, pcm_file: Path, work: Path,
             progress: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {"image": str(elf), "method": "(I(N2) - I(N1)) / (N2 - N1), QEMU TCG insn plugin"}
    plans = {"step": settings.steps, "frontend": settings.steps, "invoke": settings.invokes}
    for mode, (n1, n2) in plans.items():
        progress(f"MCU: {mode} x {n1} and x {n2} under qemu-system-arm")
        a = run_bench_image(elf, plugin, mode, n1, pcm_file, work / f"insn-{mode}-{n1}.log")
        b = run_bench_image(elf, plugin, mode, n2, pcm_file, work / f"insn-{mode}-{n2}.log")
        per = (b["insns"] - a["insns"]) / (n2 - n1)
        out[mode] = {"n": [n1, n2], "insns": [a["insns"], b["insns"]], "per_unit": per,
                     "invokes": [int(a["invokes"]), int(b["invokes"])],
                     "detected_samples": b["detected_samples"]}
        out["report"] = b
    step = out["step"]["per_unit"]
    budget = CORE_HZ * STEP_MS / 1000
    out["instructions_per_step"] = step
    out["share_of_64mhz"] = step / budget
    out["target_share"] = TARGET_SHARE
    out["frontend_per_step"] = out["frontend"]["per_unit"]
    out["invoke"]["per_step"] = out["invoke"]["per_unit"] / int(out["report"]["frames_per_invoke"])
    out["arena_used_m4"] = int(out["report"]["arena_used"])
    return out


# -- 2. sizes ---------------------------------------------------------------------------------------------------

def elf_size(elf: Path) -> dict[str, int]:
    tool = shutil.which("arm-none-eabi-size")
    if tool is None:
        raise RuntimeError("arm-none-eabi-size is not installed (scripts/system-packages.sh firmware)")
    lines = subprocess.run([tool, str(elf)], capture_output=True, text=True, check=True).stdout.splitlines()
    text, data, bss = (int(v) for v in lines[1].split()[:3])
    return {"text": text, "data": data, "bss": bss}


def map_contributions(map_file: Path) -> dict[str, Any]:
    """Bytes the nn objects and the embedded model put into flash (text + rodata) and RAM (data, bss), from the
    linker's map (only the sections kept: "Linker script and memory map" on, not the discarded ones)."""
    sums = {"nn": {"flash": 0, "data": 0, "bss": 0}, "model": {"flash": 0, "data": 0, "bss": 0}}
    per_object: dict[str, int] = {}
    kept = False
    pending: str | None = None
    entry = re.compile(r"^\s*(\.\S+)?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)$")
    for raw in map_file.read_text(errors="replace").splitlines():
        if raw.startswith("Linker script and memory map"):
            kept = True
            continue
        if not kept:
            continue
        m = entry.match(raw)
        if m is None:
            single = raw.strip()
            pending = single if single.startswith(".") and " " not in single else None
            continue
        section = m.group(1) or pending or ""
        pending = None
        obj = m.group(3)
        what = "nn" if _NN_OBJECT.search(obj) else "model" if _MODEL_OBJECT.search(obj) else None
        if what is None:
            continue
        size = int(m.group(2), 16)
        if section.startswith((".text", ".rodata")):
            sums[what]["flash"] += size
            name = obj[obj.rindex("(") + 1:-len(".obj)")]
            per_object[name] = per_object.get(name, 0) + size
        elif section.startswith(".data"):
            sums[what]["data"] += size
        elif section.startswith((".bss", "COMMON")):
            sums[what]["bss"] += size
    out: dict[str, Any] = dict(sums)
    out["flash_by_object"] = dict(sorted(per_object.items(), key=lambda kv: -kv[1]))
    return out


def memory(fw_dir: Path, mcu: dict[str, Any]) -> dict[str, Any]:
    with_wake = fw_dir / "glassbridge-fw.elf"
    without = fw_dir / "glassbridge-fw-nowake.elf"
    a, b = elf_size(with_wake), elf_size(without)
    out: dict[str, Any] = {
        "arena_used_m4": mcu["arena_used_m4"], "arena_static": int(mcu["report"]["arena_static"]),
        "wake_state": int(mcu["report"]["wake_state"]), "frontend_state": int(mcu["report"]["frontend_state"]),
        "quantizer": int(mcu["report"]["quantizer"]),
        "firmware_with_wake": a, "firmware_without_wake": b,
        "wake_adds": {k: a[k] - b[k] for k in a},
    }
    map_file = with_wake.with_suffix(".elf.map")
    if map_file.is_file():
        out["map"] = map_contributions(map_file)
    return out


# -- 3 and 4. the host firmware: detections and UART bytes -------------------------------------------------------

async def _listen(wav: Path, seconds: float) -> list[int]:
    async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
        if not mcu.listens_for_wake_word:
            raise RuntimeError("the host firmware does not declare CAPABILITY_WAKE_WORD (built without GB_WAKE_WORD?)")
        events = mcu.events()
        reply = await fw.control(f"mic play {wav}")
        if not reply.startswith("mic play samples="):
            raise RuntimeError(f"mic play {wav}: {reply}")
        await mcu.listen_for_wake_word()
        heard: list[int] = []
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        try:
            while (left := end - loop.time()) > 0:
                try:
                    event = await asyncio.wait_for(events.next(), left)
                except asyncio.TimeoutError:
                    break
                if isinstance(event, WakeWordHeard):
                    heard.append(event.heard_sample)
                    await mcu.wake_stream(event).aclose()  # the stream is not what this measures
            if (await mcu.status()).wake_late_steps:
                raise RuntimeError("the host firmware fell behind the microphone (wake_late_steps > 0)")
            await mcu.listen_for_wake_word(False)
        finally:
            await events.aclose()
        return heard


def detections(settings: Int8BenchSettings, work: Path, progress: Callable[[str], None]) -> list[dict[str, Any]]:
    out = []
    for name in settings.phrases:
        pcm = np.concatenate([np.frombuffer(make_pcm(name), dtype="<i2"), np.zeros(SAMPLE_RATE, dtype=np.int16)])
        wav = work / name
        wav.write_bytes(write_wav(pcm.astype("<i2").tobytes()))
        soc = [d.sample for d in WakeWord().feed(pcm.astype("<i2").tobytes())]
        progress(f"detections: {name} ({len(pcm) / SAMPLE_RATE:.1f} s) on the host firmware")
        mcu = asyncio.run(_listen(wav, len(pcm) / SAMPLE_RATE + 2.0))
        out.append({"phrase": name, "seconds": len(pcm) / SAMPLE_RATE, "soc_samples": soc, "mcu_samples": mcu,
                    "identical": soc == mcu})
    return out


async def _uart(noise_wav: Path, seconds: float, progress: Callable[[str], None]) -> dict[str, Any]:
    async with FirmwareRunner("host") as fw, await Mcu.connect(fw.port, timeout=10) as mcu:
        reply = await fw.control(f"mic loop {noise_wav}")
        if not reply.startswith("mic loop"):
            raise RuntimeError(f"mic loop: {reply}")
        result: dict[str, Any] = {}
        progress(f"UART: the MCU listens to noise for {seconds:.0f} s")
        await mcu.listen_for_wake_word()
        before, t0 = mcu.link_info(), time.monotonic()
        await asyncio.sleep(seconds)
        after, t1 = mcu.link_info(), time.monotonic()
        await mcu.listen_for_wake_word(False)
        result["mcu_listens"] = _rate(before, after, t1 - t0)
        progress(f"UART: the MCU streams the microphone for {seconds:.0f} s")
        stream = mcu.microphone()
        first = await asyncio.wait_for(stream.__anext__(), 10)  # streaming has begun
        audio = len(first.pcm)
        before, t0 = mcu.link_info(), time.monotonic()
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        try:
            while loop.time() < end:
                chunk = await asyncio.wait_for(stream.__anext__(), 10)
                audio += len(chunk.pcm)
        finally:
            after, t1 = mcu.link_info(), time.monotonic()
            await stream.aclose()
        result["soc_streaming"] = _rate(before, after, t1 - t0)
        ratio = result["soc_streaming"]["bytes_per_hour"] / max(1.0, result["mcu_listens"]["bytes_per_hour"])
        result["streaming_over_listening"] = ratio
        return result


def _rate(before: dict[str, Any], after: dict[str, Any], seconds: float) -> dict[str, Any]:
    keys: tuple[str, ...] = ("bytes_rx", "frames_rx")
    got: dict[str, int] = {k: int(after[k]) - int(before[k]) for k in keys if k in after and k in before}
    return {"seconds": seconds, **got, "bytes_per_hour": got.get("bytes_rx", 0) * 3600.0 / seconds}


def uart_bytes(settings: Int8BenchSettings, work: Path, progress: Callable[[str], None]) -> dict[str, Any]:
    noise = work / "idle-noise.wav"
    noise.write_bytes(write_wav(make_pcm("noise.wav")))
    out = asyncio.run(_uart(noise, settings.idle_seconds, progress))
    out["source"] = "noise.wav looped (mic loop); bytes the SoC's link received (Mcu.link_info bytes_rx)"
    return out


# -- all of it ---------------------------------------------------------------------------------------------------

def _fw_dir(name: str) -> Path:
    b = board(name)
    image = prebuilt_image(b)
    return (image if image is not None else build_firmware(b)).parent


def run_int8_benchmark(settings: Int8BenchSettings, progress: Callable[[str], None]) -> dict[str, Any]:
    t0 = time.monotonic()
    root = repo_root()
    with tempfile.TemporaryDirectory(prefix="gb-bench-int8-") as tmp:
        work = settings.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        progress("building the firmware (mps2-an386 and host)")
        m4_dir = _fw_dir("mps2-an386")
        _fw_dir("host")
        elf = m4_dir / "wake-bench.elf"
        if not elf.is_file():
            raise RuntimeError(f"{elf} is missing: the mps2_an386 build has no bench image (GB_WAKE_WORD off?)")
        progress("QEMU's instruction-count plugin")
        plugin = insn_plugin(root)
        pcm_file = work / "wake_and_ask.pcm"
        pcm_file.write_bytes(make_pcm("wake_and_ask.wav"))
        mcu = mcu_cost(settings, elf, plugin, pcm_file, work, progress)
        mem = memory(m4_dir, mcu)
        found = detections(settings, work, progress)
        uart = uart_bytes(settings, work, progress)
        soc: dict[str, Any] = {"timing": time_models(settings.soc, progress)}
        if settings.soc.callgrind:
            soc["callgrind"] = callgrind_per_invoke(settings.soc, progress)
    return {
        "schema": "glassbridge.bench.int8/1",
        "benchmark": "int8",
        "settings": {"phrases": list(settings.phrases), "steps": list(settings.steps),
                     "invokes": list(settings.invokes), "idle_seconds": settings.idle_seconds,
                     "soc_rounds": settings.soc.rounds},
        "mcu_cost": mcu, "memory": mem, "detections": found,
        "detections_identical": all(d["identical"] for d in found), "uart": uart, "soc": soc,
        "machine": machine_info({"qemu_plugin": str(plugin), "pid": os.getpid()}),
        "wall_seconds": time.monotonic() - t0,
    }


# -- the report --------------------------------------------------------------------------------------------------

def int8_tables(doc: dict[str, Any]) -> list[Any]:
    from rich.table import Table

    mcu, mem = doc["mcu_cost"], doc["memory"]
    t1 = Table(title="Cortex-M4F (QEMU mps2-an386, instructions; share of 64 MHz at 1 instruction per cycle)")
    for c in ("per 10 ms step", "instructions", "share"):
        t1.add_column(c, justify="right" if c != "per 10 ms step" else "left")
    budget = CORE_HZ * STEP_MS / 1000
    t1.add_row("the whole step (gb_wake_step)", f"{mcu['step']['per_unit']:,.0f}",
               f"{mcu['share_of_64mhz']:.1%} (target < {TARGET_SHARE:.0%})")
    t1.add_row("frontend + quantise", f"{mcu['frontend']['per_unit']:,.0f}",
               f"{mcu['frontend']['per_unit'] / budget:.1%}")
    t1.add_row(f"model invoke (every {mcu['report']['frames_per_invoke']} steps: {mcu['invoke']['per_unit']:,.0f})",
               f"{mcu['invoke']['per_step']:,.0f}", f"{mcu['invoke']['per_step'] / budget:.1%}")
    t2 = Table(title="memory on the Cortex-M4F (bytes)")
    t2.add_column("what")
    t2.add_column("bytes", justify="right")
    t2.add_row("gbnn_arena_used (okay_nabu, measured on the M4)", f"{mem['arena_used_m4']:,}")
    t2.add_row("static arena (GB_WAKE_ARENA)", f"{mem['arena_static']:,}")
    for label, key in (("firmware with the wake word", "firmware_with_wake"),
                       ("firmware without", "firmware_without_wake"), ("the wake word adds", "wake_adds")):
        s = mem[key]
        t2.add_row(f"{label}: text / data / bss", f"{s['text']:,} / {s['data']:,} / {s['bss']:,}")
    if "map" in mem:
        t2.add_row("nn objects: flash / data / bss",
                   f"{mem['map']['nn']['flash']:,} / {mem['map']['nn']['data']:,} / {mem['map']['nn']['bss']:,}")
        t2.add_row("embedded model: flash", f"{mem['map']['model']['flash']:,}")
    t3 = Table(title="detections: host firmware (MCU path) vs glassbridge.audio.WakeWord (SoC path), same samples")
    for c in ("phrase", "seconds", "SoC", "MCU", "identical"):
        t3.add_column(c)
    for d in doc["detections"]:
        t3.add_row(d["phrase"], f"{d['seconds']:.1f}", str(d["soc_samples"]), str(d["mcu_samples"]),
                   "yes" if d["identical"] else "[red]NO[/]")
    u = doc["uart"]
    t4 = Table(title="UART bytes from the MCU (noise at the microphone)")
    for c in ("path", "measured", "bytes", "per hour"):
        t4.add_column(c, justify="left" if c == "path" else "right")
    for label, key in (("MCU listens (wake word on the MCU)", "mcu_listens"),
                       ("MCU streams the microphone (SoC path)", "soc_streaming")):
        r = u[key]
        t4.add_row(label, f"{r['seconds']:.1f} s", f"{r.get('bytes_rx', 0):,}", _human(r["bytes_per_hour"]))
    t5 = Table(title="SoC: per invoke, gbnn vs LiteRT (1 thread), interleaved medians")
    for c in ("model", "gbnn", "LiteRT", "LiteRT / gbnn", "gbnn arena", "callgrind Ir / invoke"):
        t5.add_column(c, justify="left" if c == "model" else "right")
    cg = doc["soc"].get("callgrind", {})
    for r in doc["soc"]["timing"]:
        ir = cg.get(r["model"], {}).get("instructions_per_invoke")
        t5.add_row(r["model"], f"{r['gbnn']['median_ms'] * 1000:,.1f} us", f"{r['litert']['median_ms'] * 1000:,.1f} us",
                   f"{r['speedup_vs_litert']:.2f}x" if r["speedup_vs_litert"] else "-", f"{r['gbnn_arena_bytes']:,}",
                   f"{ir:,.0f}" if ir is not None else "-")
    return [t1, t2, t3, t4, t5]


def _human(n: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"


def plot_int8(doc: dict[str, Any], path: str | Path) -> Path:
    """Two panels: the M4's instructions per step (frontend, model share) against the 25% budget; UART bytes per
    hour of the two paths (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from glassbridge.bench.plot import save_figure

    mcu, u = doc["mcu_cost"], doc["uart"]
    budget = CORE_HZ * STEP_MS / 1000
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    fe, inv, step = mcu["frontend"]["per_unit"], mcu["invoke"]["per_step"], mcu["step"]["per_unit"]
    a.bar(["frontend", "model (1/3 invoke)", "whole step"], [fe, inv, step], color=["#4393c3", "#d6604d", "#1b7837"])
    a.axhline(budget * TARGET_SHARE, color="#999999", linestyle="--", label=f"{TARGET_SHARE:.0%} of 64 MHz")
    a.set_ylabel("instructions per 10 ms step")
    a.set_title(f"Cortex-M4F: {mcu['share_of_64mhz']:.1%} of a 64 MHz core")
    a.legend()
    rates = [max(1.0, u["mcu_listens"]["bytes_per_hour"]), u["soc_streaming"]["bytes_per_hour"]]
    b.bar(["wake word on the MCU", "microphone streamed"], rates, color=["#1b7837", "#999999"])
    b.set_yscale("log")
    b.set_ylabel("UART bytes per hour (MCU to SoC)")
    b.set_title("idle link")
    for i, r in enumerate(rates):
        b.text(i, r, _human(r), ha="center", va="bottom")
    fig.tight_layout()
    return save_figure(fig, path)
