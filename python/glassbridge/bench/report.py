"""Console output of the benchmarks: a rich progress bar while timing, tables of the results after."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class RichReporter:
    """Progress over the rounds of each case/variant, and warnings printed above the bar."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress: Progress | None = None
        self._task: Any = None

    def start(self, label: str, total: int) -> None:
        if not self.console.is_terminal:  # a log file gets one line per step, not bar redraws
            self.console.print(f"timing {escape(label)} ({total} rounds)")
            return
        self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=self.console, transient=True)
        self._progress.start()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, rounds: int = 1) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, rounds)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def warn(self, message: str) -> None:
        self.console.print(f"[bold red]warning:[/] {escape(message)}")


def _ms(v: float | None) -> str:
    return "—" if v is None else f"{v:.3f}"


def _x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


def _steps(v: float | None) -> str:
    if v is None:
        return "—"
    return f"{v:.0f}" if v >= 10 else f"{v:.2g}"


def preprocess_tables(doc: dict[str, Any]) -> list[Table]:
    """One table per variant: median ms per contender, speed-ups over OpenCV, accuracy in output steps."""
    tables = []
    for variant in ("hot", "cold"):
        rows = [r for r in doc["cases"] if r["variant"] == variant]
        if not rows:
            continue
        isas = [i for i in doc["machine"].get("available_isas", []) if any(i in r["isa_ms"] for r in rows)]
        t = Table(title=f"preprocess, {'cache-hot' if variant == 'hot' else 'DRAM-cold'}: median ms "
                        f"(speed-up = OpenCV convert+resize / contender); accuracy in output steps",
                  title_justify="left")
        t.add_column("case")
        t.add_column(f"ours ({doc['isa']})", justify="right")
        for isa in isas:
            t.add_column(isa, justify="right")
        for col in ("opencv", "opencv fast", "numpy", "libyuv", "ours vs opencv", "ours vs fast",
                    "diff ours/cv/fast"):
            t.add_column(col, justify="right")
        for r in rows:
            s = r["speedup_vs_opencv"]
            vs_fast = None
            if r["opencv_fast_ms"] and r["ours_ms"]:
                vs_fast = r["opencv_fast_ms"] / r["ours_ms"]
            flagged = [n for n, c in r["contenders"].items() if c["within_tolerance"] is False]
            name = r["name"] + (f" [red](out of tolerance: {escape(', '.join(flagged))})[/]" if flagged else "")
            t.add_row(
                name, _ms(r["ours_ms"]), *[_ms(r["isa_ms"].get(i)) for i in isas], _ms(r["opencv_ms"]),
                _ms(r["opencv_fast_ms"]), _ms(r["numpy_ms"]), _ms(r["libyuv_ms"]), _x(s.get("ours")), _x(vs_fast),
                f"{_steps(r['max_abs_diff_vs_float_reference'])}/{_steps(r['opencv_max_abs_diff'])}/"
                f"{_steps(r['opencv_fast_max_abs_diff'])}",
            )
        tables.append(t)
    return tables


def vision_tables(doc: dict[str, Any]) -> list[Table]:
    tables = []
    t = Table(title="vision pipeline vs invoke alone (median ms, single thread)", title_justify="left")
    for col in ("stage", "variant", "stage ms", "invoke ms", "overhead", "target"):
        t.add_column(col, justify="right" if col not in ("stage", "variant") else "left")
    for r in doc["pipelines"]:
        ok = r["overhead_pct"] <= r["target_overhead_pct"]
        t.add_row(escape(r["name"]), r["variant"], _ms(r["pipeline_ms"]), _ms(r["invoke_ms"]),
                  f"[{'green' if ok else 'red'}]{r['overhead_pct']:.1f}%[/]", f"≤{r['target_overhead_pct']:.0f}%")
    tables.append(t)
    m = Table(title="model invoke latency (median ms)", title_justify="left")
    for col in ("model", "1 thread", "2 threads"):
        m.add_column(col, justify="right" if col != "model" else "left")
    for r in doc["models"]:
        m.add_row(r["name"], _ms(r["invoke_ms"].get("1")), _ms(r["invoke_ms"].get("2")))
    tables.append(m)
    return tables


# --- Markdown, for docs/benchmarks.md: `python -m glassbridge.bench.report bench-out/*.json` ------------------


def link_table(doc: dict[str, Any]) -> Table:
    """`bench link`: one row per case, goodput as a fraction of the line rate, losses, round trips."""
    rate = doc["settings"]["line_rate_bytes_per_s"]
    t = Table(title=f"MCU link at {doc['settings']['baud']} baud (line rate {rate:,.0f} B/s), "
                    f"board {doc['settings']['board']}, median of {doc['settings']['runs']} runs")
    for col in ("case", "goodput / line rate", "B/s", "lost", "dup", "retransmits", "rtt ms"):
        t.add_column(col, justify="left" if col == "case" else "right")
    for c in doc["cases"]:
        g = c.get("goodput_fraction_of_line_rate")
        t.add_row(c["name"], "-" if g is None else f"{g:.3f}", f"{c.get('goodput_bytes_per_s', 0):,.0f}",
                  str(c["lost"]), str(c["duplicated"]), f"{c.get('median_retransmits', 0):.0f}",
                  f"{c['median_rtt_ms']:.2f}" if "median_rtt_ms" in c else "-")
    return t


def link_markdown(doc: dict[str, Any]) -> str:
    rows = [[c["name"], f"{c.get('goodput_fraction_of_line_rate', 0):.3f}" if "goodput_fraction_of_line_rate" in c
             else "-", str(c["lost"]), str(c["duplicated"]),
             f"{c['median_rtt_ms']:.2f}" if "median_rtt_ms" in c else "-"] for c in doc["cases"]]
    return _md_table(["case", "goodput / line rate", "lost", "duplicated", "round trip ms"], rows)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in
                                                              range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def _acc(c: dict[str, Any]) -> str:
    mean = c.get("mean_abs_diff_steps")
    return _steps(c["max_abs_diff_steps"]) + ("" if mean is None else f" ({mean:.2g})")


def preprocess_markdown(doc: dict[str, Any]) -> str:
    """Per variant: median ms of every contender, speed-ups over OpenCV and accuracy, as Markdown tables."""
    out = []
    isas = doc["machine"].get("available_isas", [])
    for variant in ("hot", "cold"):
        rows = [r for r in doc["cases"] if r["variant"] == variant]
        if not rows:
            continue
        out.append(f"**{'Cache-hot' if variant == 'hot' else 'DRAM-cold'}** (median ms; p10-p90 of ours in "
                   "brackets; speed-up = OpenCV convert-then-resize / contender)\n")
        table = []
        for r in rows:
            o = r["contenders"]["ours"]
            vs_fast = r["opencv_fast_ms"] / r["ours_ms"] if r["opencv_fast_ms"] else None
            table.append([
                f"`{r['name']}`", f"**{r['ours_ms']:.3f}** ({o['p10_ms']:.3f}-{o['p90_ms']:.3f})",
                _ms(r["opencv_ms"]), _ms(r["opencv_fast_ms"]), _ms(r["numpy_ms"]), _ms(r["libyuv_ms"]),
                f"**{_x(r['speedup_vs_opencv'].get('ours'))}**", _x(vs_fast),
            ])
        out.append(_md_table(["case", f"ours ({doc['isa']})", "OpenCV", "OpenCV fast", "numpy", "libyuv",
                              "ours vs OpenCV", "ours vs OpenCV fast"], table))
        out.append("")
        isa_rows = [[f"`{r['name']}`", *[_ms(r["isa_ms"].get(i)) for i in isas]] for r in rows]
        out.append(f"Per ISA path ({variant}, median ms, each forced with `force_isa`):\n")
        out.append(_md_table(["case", *isas], isa_rows))
        out.append("")
    acc_rows = []
    for r in doc["cases"]:
        if r["variant"] != "hot":
            continue
        c = r["contenders"]
        acc_rows.append([f"`{r['name']}`", *[_acc(c[n]) if n in c else "—"
                                               for n in ("ours", "opencv", "opencv_fast", "numpy", "libyuv")]])
    out.append("**Accuracy**: max (mean) |output - float64 reference| in output steps (tolerances: ours 1, "
               "numpy 1, OpenCV 2, libyuv 6, OpenCV fast none)\n")
    out.append(_md_table(["case", "ours", "OpenCV", "OpenCV fast", "numpy", "libyuv"], acc_rows))
    return "\n".join(out) + "\n"


def vision_markdown(doc: dict[str, Any]) -> str:
    rows = [[r["name"], r["variant"], _ms(r["pipeline_ms"]), _ms(r["invoke_ms"]), f"{r['overhead_ms']:.3f}",
             f"**{r['overhead_pct']:.1f}%**", "yes" if r["meets_target"] else "**no**"] for r in doc["pipelines"]]
    out = [_md_table(["stage", "variant", "stage ms", "invoke alone ms", "overhead ms", "overhead", "<= 15%"], rows),
           "", _md_table(["model", "invoke, 1 thread (ms)", "invoke, 2 threads (ms)"],
                         [[f"`{m['name']}`", _ms(m["invoke_ms"].get("1")), _ms(m["invoke_ms"].get("2"))]
                          for m in doc["models"]])]
    return "\n".join(out) + "\n"


def callgrind_markdown(doc: dict[str, Any]) -> str:
    cases: dict[str, dict[str, int]] = {}
    names: list[str] = []
    for r in doc["results"]:
        cases.setdefault(r["case"], {})[r["contender"]] = r["ir_per_frame"]
        if r["contender"] not in names:
            names.append(r["contender"])
    rows = [[f"`{c}`", *[f"{v[n] / 1e6:.2f}" if n in v else "—" for n in names]] for c, v in cases.items()]
    return _md_table(["case (million instructions per frame)", *names], rows) + "\n"


# --- `bench ble` ------------------------------------------------------------------------------------------------


def _ble_faults(c: dict[str, Any]) -> str:
    """clean; "3/3 drops, instant" (both ends learn of a drop at once: the link's own figure); "3/3 drops,
    supervision 720 ms" (each drop noticed only after the radio's supervision timeout: what a wearer sees)."""
    if c["disconnects_planned"] == 0:
        return "clean"
    ms = c.get("supervision_timeout_ms", 0)
    return f"{c['disconnects']}/{c['disconnects_planned']} drops, " + (f"supervision {ms:g} ms" if ms else "instant")


def ble_table(doc: dict[str, Any]) -> Table:
    """`bench ble`: one row per case (MTU, faults, contender); efficiency and goodput against issue 4's targets."""
    s = doc["settings"]
    t = Table(title=f"{s['upload_bytes'] // 1024} KB photo upload, glasses -> phone over the BLE rig "
                    f"(interval {s['timing']['connection_interval_ms']:g} ms, LL payload {s['timing']['ll_payload']}, "
                    f"LE {s['timing']['phy_mbps']}M), median of {s['runs']} runs (baseline {s['baseline_runs']})",
              title_justify="left")
    for col in ("case", "MTU", "faults", "payload eff.", "goodput / ceiling", "w/o reconnects", "KB/s",
                "ceiling KB/s", "s", "reverse PDUs", "lost", "dup", "retx", "reconnect s"):
        t.add_column(col, justify="left" if col in ("case", "faults") else "right")
    targets = doc["targets"]["payload_efficiency"]
    goodput_target = doc["targets"]["goodput_fraction_of_model_ceiling"]
    for c in doc["cases"]:
        ours = c["contender"] == "glassbridge"
        eff_t = targets.get(str(c["mtu"]))
        eff = f"{c['payload_efficiency']:.4f}"
        good = f"{c['goodput_fraction_of_model_ceiling']:.3f}"
        if ours and eff_t is not None:
            eff = f"[{'green' if c['payload_efficiency'] >= eff_t else 'red'}]{eff}[/]"
            good = f"[{'green' if c['goodput_fraction_of_model_ceiling'] >= goodput_target else 'red'}]{good}[/]"
        net = f"{c['goodput_fraction_excluding_reconnections']:.3f}" if c["disconnects"] else "-"
        t.add_row(c["contender"], str(c["mtu"]), _ble_faults(c), eff, good, net,
                  f"{c['goodput_bytes_per_s'] / 1000:.1f}", f"{c['model_ceiling_bytes_per_s'] / 1000:.1f}",
                  f"{c['seconds']:.2f}", str(c["reverse_pdus"]), str(c["lost"]), str(c["duplicated"]),
                  str(c["retransmits"]),
                  f"{c['reconnect_seconds']:.2f}" if c["disconnects"] else "-")
    return t


def ble_markdown(doc: dict[str, Any]) -> str:
    """The `bench ble` table for docs/benchmarks.md (targets: efficiency per MTU, goodput 0.8 of the ceiling)."""
    rows = []
    for c in doc["cases"]:
        rows.append([f"`{c['contender']}`", str(c["mtu"]), _ble_faults(c), f"{c['payload_efficiency']:.3f}",
                     f"{c['goodput_fraction_of_model_ceiling']:.3f}",
                     f"{c['goodput_fraction_excluding_reconnections']:.3f}" if c["disconnects"] else "-",
                     f"{c['goodput_bytes_per_s'] / 1000:.1f}",
                     f"{c['seconds']:.2f}", str(c["reverse_pdus"]), str(c["lost"]), str(c["duplicated"]),
                     str(c["retransmits"]), f"{c['reconnect_seconds']:.2f}" if c["disconnects"] else "-"])
    return _md_table(["contender", "ATT MTU", "faults", "payload efficiency", "goodput / model ceiling",
                      "goodput / ceiling without the reconnections", "KB/s",
                      "seconds", "reverse ATT PDUs", "lost", "duplicated", "retransmitted frames",
                      "reconnection s"], rows) + "\n"


def main(argv: list[str]) -> int:
    import json
    import sys
    from pathlib import Path

    if not argv:
        print("usage: python -m glassbridge.bench.report RESULT.json...", file=sys.stderr)
        return 2
    for name in argv:
        doc = json.loads(Path(name).read_text())
        schema = doc.get("schema", "")
        if schema.startswith("glassbridge.bench.preprocess"):
            print(preprocess_markdown(doc))
        elif schema.startswith("glassbridge.bench.vision"):
            print(vision_markdown(doc))
        elif schema.startswith("glassbridge.bench.callgrind"):
            print(callgrind_markdown(doc))
        elif schema.startswith(("glassbridge.bench.ble", "glassbridge_rig.bench.ble")):
            print(ble_markdown(doc))
        else:
            print(f"{name}: not a glassbridge benchmark result (schema {schema!r})", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
