"""What machine and software a benchmark ran on: enough for a reader to judge and repeat the figures."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

_VERSIONED = ("numpy", "opencv-python-headless", "ai-edge-litert", "matplotlib", "glassbridge")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    """The SIMD extensions that matter for the kernels (x86 from /proc/cpuinfo; aarch64 'asimd' is NEON)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
            break
    wanted = ("sse4_1", "sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "asimd", "asimddp")
    return [f for f in wanted if f in flags]


def _cache_sizes() -> dict[str, str]:
    out: dict[str, str] = {}
    base = Path("/sys/devices/system/cpu/cpu0/cache")
    for idx in sorted(base.glob("index*")):
        try:
            level = (idx / "level").read_text().strip()
            kind = (idx / "type").read_text().strip()
            size = (idx / "size").read_text().strip()
        except OSError:
            continue
        if kind == "Instruction":
            continue
        out[f"L{level}{'d' if kind == 'Data' else ''}"] = size
    return out


def last_level_cache_bytes() -> int | None:
    """Size of the largest cache level seen by this (possibly virtual) CPU, in bytes."""
    best = None
    for size in _cache_sizes().values():
        mult = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(size[-1:], 1)
        try:
            n = int(size.rstrip("KMG")) * mult
        except ValueError:
            continue
        best = n if best is None or n > best else best
    return best


MIB = 1024 * 1024
# DRAM-cold pools (the preprocessing and vision benchmarks): at least 256 MiB, and more than the last-level cache
# the (virtual) CPU reports, so a frame is evicted before it comes back; capped to keep memory use bounded.
MIN_COLD_POOL = 256 * MIB
MAX_COLD_POOL = 1024 * MIB
QUICK_COLD_POOL = 16 * MIB  # --quick: a smoke run, its cold figures say nothing about DRAM


def default_cold_pool_bytes() -> int:
    """The DRAM-cold frame pool's size: max(256 MiB, last-level cache + 64 MiB), at most 1 GiB."""
    llc = last_level_cache_bytes() or 0
    return int(min(MAX_COLD_POOL, max(MIN_COLD_POOL, llc + 64 * MIB)))


def _versions() -> dict[str, str | None]:
    v: dict[str, str | None] = {}
    for dist in _VERSIONED:
        try:
            v[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            v[dist] = None
    return v


def _git_commit() -> str | None:
    """The checkout's commit (and '+dirty' when modified), when running from a git work tree."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return rev + ("+dirty" if dirty else "")


def load_average() -> list[float] | None:
    """1, 5 and 15 minute load averages: a benchmark on a busy machine says so in its JSON."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """CPU, caches, OS, Python and package versions, plus whatever the caller adds (ISA in use, libyuv)."""
    info: dict[str, Any] = {
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_flags": _cpu_flags(),
        "caches": _cache_sizes(),
        "machine": platform.machine(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "versions": _versions(),
        "git_commit": _git_commit(),
        "load_average_at_start": load_average(),
    }
    if extra:
        info.update(extra)
    return info
