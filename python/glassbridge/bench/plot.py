"""Charts of `glassbridge bench preprocess` results: speed-up over OpenCV convert-then-resize, per case.

matplotlib is imported lazily with the Agg backend (no display needed; the `bench` extra provides it).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

# Bars in this order when present; "ours[...]" per-ISA bars come right after "ours".
_ORDER = ("ours", "opencv_fast", "libyuv", "numpy")
_COLOURS = {
    "ours": "#1b7837", "opencv_fast": "#d6604d", "libyuv": "#4393c3", "numpy": "#999999",
    "ours[ref]": "#a6dba0", "ours[sse41]": "#5aae61", "ours[avx2]": "#00441b", "ours[neon]": "#00441b",
}


_ISA_RANK = {"ref": 0, "sse41": 1, "avx2": 2, "neon": 2}


def save_figure(fig: Any, path: str | Path, *, dpi: int = 120) -> Path:
    """Writes `fig` as PNG to `path` (folders made) and closes it; returns the path."""
    import matplotlib.pyplot as plt

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out


def _contender_order(names: list[str]) -> list[str]:
    isas = sorted((n for n in names if n.startswith("ours[")), key=lambda n: _ISA_RANK.get(n[5:-1], 9))
    ordered = ["ours", *isas] + [n for n in _ORDER[1:] if n in names]
    return [n for n in ordered if n in names]


def _short_case(name: str) -> str:
    """'nv12_1920x1080_crop_to_64x64_gray_int8' -> 'NV12 1920x1080 crop\n→ 64x64 gray int8'."""
    src, _, dst = name.partition("_to_")
    src = src.replace("nv12_", "NV12 ").replace("rgb888_", "RGB ").replace("_", " ")
    return f"{src}\n→ {dst.replace('_', ' ')}"


def plot_speedups(doc: dict[str, Any], path: str | Path) -> Path:
    """Write a PNG: one panel per variant (cache-hot, DRAM-cold), grouped bars of OpenCV time / contender time.

    The x labels carry the accuracy of ours and of OpenCV's fast path in output steps, so a fast but wrong bar
    cannot be read without its error.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = doc["cases"]
    variants = [v for v in ("hot", "cold") if any(r["variant"] == v for r in results)]
    if not variants:
        raise ValueError("no benchmark results to plot")
    import matplotlib.ticker  # noqa: F401 - used through matplotlib.ticker below

    fig, axes = plt.subplots(len(variants), 1, figsize=(12, 4.3 * len(variants)), squeeze=False)
    for ax, variant in zip(axes[:, 0], variants):
        rows = [r for r in results if r["variant"] == variant]
        names = _contender_order(sorted({n for r in rows for n in r["contenders"] if n != "opencv"}))
        width = 0.8 / max(len(names), 1)
        all_vals: list[float] = []
        for k, name in enumerate(names):
            xs, vals = [], []
            for i, r in enumerate(rows):
                s = r["speedup_vs_opencv"].get(name)
                if s is not None:
                    xs.append(i - 0.4 + width * (k + 0.5))
                    vals.append(s)
            all_vals += vals
            bars = ax.bar(xs, vals, width, label=name, color=_COLOURS.get(name, None), edgecolor="white",
                          linewidth=0.4)
            if name == "ours":
                for b, v in zip(bars, vals):
                    ax.annotate(f"{v:.1f}x", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom",
                                fontsize=7, xytext=(0, 1), textcoords="offset points")
        ax.axhline(1.0, color="black", linewidth=0.8, label="OpenCV convert+resize (1x)")
        if all_vals and max(all_vals) / max(min(all_vals), 1e-9) > 8:
            ax.set_yscale("log")
            lo = min(0.5, 10 ** math.floor(math.log10(min(all_vals))))
            ax.set_ylim(lo, max(all_vals) * 1.8)
            ticks = [t for t in (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100) if lo <= t <= max(all_vals) * 1.8]
            ax.set_yticks(ticks)
            ax.yaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}x"))
        labels = []
        for r in rows:
            acc = f"max error: ours {_fmt_steps(r.get('max_abs_diff_vs_float_reference'))}"
            acc += f", OpenCV {_fmt_steps(r.get('opencv_max_abs_diff'))}"
            if r.get("opencv_fast_max_abs_diff") is not None:
                acc += f",\nOpenCV fast {_fmt_steps(r['opencv_fast_max_abs_diff'])} steps"
            else:
                acc += " steps"
            labels.append(f"{_short_case(r['name'])}\n{acc}")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_xlim(-0.5, len(rows) - 0.5)
        ax.set_ylabel("speed-up vs OpenCV (×)")
        title = "cache-hot (same frame)" if variant == "hot" else "DRAM-cold (pool of frames larger than the caches)"
        ax.set_title(f"{title}: OpenCV time / contender time, single thread, median", fontsize=9)
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), framealpha=0.9)
    m = doc.get("machine", {})
    fig.suptitle(f"glassbridge preprocess benchmark — {m.get('cpu_model', '?')}, ISA {doc.get('isa', '?')}",
                 fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=90)


def _fmt_steps(v: float | None) -> str:
    if v is None:
        return "?"
    return f"{v:.0f}" if v >= 10 else f"{v:.2g}"


def plot_link(doc: dict[str, Any], path: str | Path) -> Path:
    """`bench link --plot`: transfer goodput (fraction of the line rate) per contender, clean and with faults,
    with the targets drawn in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = [c for c in doc["cases"] if c["name"].startswith("transfer_")]
    names = [c["name"].removeprefix("transfer_") for c in cases]
    values = [c.get("goodput_fraction_of_line_rate", 0.0) for c in cases]
    colours = ["#2b6cb0" if n.startswith("glassbridge") else "#a0aec0" for n in names]
    fig, ax = plt.subplots(figsize=(7.5, 0.6 * len(cases) + 1.6))
    ax.barh(range(len(cases)), values, color=colours)
    for i, v in enumerate(values):
        ax.text(v + 0.01, i, f"{v:.3f}", va="center", fontsize=9)
    ax.set_yticks(range(len(cases)), names, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.08)
    for target, label, style in ((0.93, "target, clean line: 0.93", "--"), (0.85, "target, byte error rate 1e-4: 0.85", ":")):
        ax.axvline(target, color="#c53030", linestyle=style, linewidth=1.0, label=label)
    ax.legend(loc="lower left", fontsize=8, framealpha=0.9)
    s = doc["settings"]
    ax.set_xlabel(f"goodput / line rate ({s['baud']} baud 8N1 = {s['line_rate_bytes_per_s']:,.0f} B/s)")
    ax.set_title(f"{s['transfer_bytes'] // 1024} KB transfer to the MCU ({s['board']} firmware), "
                 f"median of {s['runs']} seeded runs", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path, dpi=120)


def plot_ble(doc: dict[str, Any], path: str | Path) -> Path:
    """`bench ble --plot`: payload efficiency and goodput / model ceiling per ATT MTU, grouped bars for glassbridge
    and the write-with-response baseline, clean and with forced disconnects; issue 4's targets drawn in."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = doc["cases"]
    mtus = sorted({c["mtu"] for c in cases})
    # (contender, disconnects_planned, supervision timeout) in a fixed order: ours first, clean before drops, drops
    # detected at once (the link's own figure) before those noticed after the radio's supervision timeout.
    series: list[tuple[str, int, float]] = []
    for c in sorted(cases, key=lambda c: (c["contender"] != "glassbridge", c["disconnects_planned"],
                                          c.get("supervision_timeout_ms", 0))):
        key3 = (c["contender"], c["disconnects_planned"], float(c.get("supervision_timeout_ms", 0)))
        if key3 not in series:
            series.append(key3)
    colours = {("glassbridge", False): "#2b6cb0", ("glassbridge", True): "#90cdf4",
               ("baseline", False): "#718096", ("baseline", True): "#cbd5e0"}
    supervision_colours = ["#f6ad55", "#dd6b20", "#9c4221"]  # glassbridge's drops behind a supervision timeout
    by_key = {(c["contender"], c["disconnects_planned"], float(c.get("supervision_timeout_ms", 0)), c["mtu"]): c
              for c in cases}
    timeouts = sorted({sto for _, _, sto in series if sto})
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.0))
    width = 0.8 / max(1, len(series))
    panels = (("payload_efficiency", "payload efficiency\n(upload bytes / ATT value bytes written)"),
              ("goodput_fraction_of_model_ceiling", "goodput / model ceiling\n(write without response, same MTU)"))
    for ax, (key, label) in zip(axes, panels):
        for i, (contender, drops, sto) in enumerate(series):
            xs, values = [], []
            for j, mtu in enumerate(mtus):
                c = by_key.get((contender, drops, sto, mtu))
                if c is not None:
                    xs.append(j + (i - (len(series) - 1) / 2) * width)
                    values.append(c[key])
            kind = "glassbridge" if contender == "glassbridge" else "baseline"
            name = f"{contender}, {'clean' if drops == 0 else f'{drops} drops'}"
            if drops:
                name += f", supervision {sto / 1000:g} s" if sto else ", detected at once"
            colour = (supervision_colours[timeouts.index(sto) % len(supervision_colours)] if sto
                      else colours[(kind, drops > 0)])
            bars = ax.bar(xs, values, width * 0.95, color=colour, label=name,
                          edgecolor="#2d3748" if kind == "glassbridge" else "#a0aec0", linewidth=0.5)
            ax.bar_label(bars, fmt="%.3f", padding=2, fontsize=6.5, rotation=90)
        for j, mtu in enumerate(mtus):
            target = (doc["targets"]["payload_efficiency"].get(str(mtu)) if key == "payload_efficiency"
                      else doc["targets"]["goodput_fraction_of_model_ceiling"])
            if target is not None:
                ax.hlines(target, j - 0.45, j + 0.45, color="#c53030", linestyle="--", linewidth=1.0,
                          label="target (issue 4)" if j == 0 else None)
        ax.set_xticks(range(len(mtus)), [f"ATT MTU {m}" for m in mtus])
        if key == "payload_efficiency":
            # Efficiencies sit between 0.85 and 0.98: from 0 the targets could not be told apart. Said on the axis.
            low = min([0.85] + [c[key] - 0.03 for c in cases])
            ax.set_ylim(max(0.0, math.floor(low * 20) / 20), 1.0)
            label += f"; axis from {ax.get_ylim()[0]:.2f}"
        else:
            ax.set_ylim(0, 1.1)
        ax.set_ylabel(label, fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8, framealpha=0.95)
    s = doc["settings"]
    t = s["timing"]
    fig.suptitle(f"{s['upload_bytes'] // 1024} KB photo upload, glasses -> phone, BLE rig: interval "
                 f"{t['connection_interval_ms']:g} ms, LL payload {t['ll_payload']}, LE {t['phy_mbps']}M; "
                 f"median of {s['runs']} runs (baseline {s['baseline_runs']})", fontsize=10)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return save_figure(fig, path, dpi=110)
