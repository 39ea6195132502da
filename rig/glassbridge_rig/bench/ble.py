"""`glassbridge bench ble`: a 200 KB photo upload from the glasses to the phone over the simulated BLE radio.

Every part is the real one: glassbridge.phone (the C link engine, profile "packet") drives bleak's unmodified
BlueZ backend, which talks D-Bus to the rig's BlueZ facade, whose bumble host sends real ATT over a TimedLink
(glassbridge_rig.ble_timing: connection interval 15 ms, LL payload 251, LE 2M; the rig's radio model) to
`glassbridge companion` (its own link implementation, PyLink), which verifies the transfer's SHA-256.

Cases: ATT MTU 185, 247 and 517 (the companion's --mtu; the glasses always ask for 517), each clean and with
forced disconnects (rig ctl `drop`, spread evenly over the bytes the glasses write; the glasses reconnect by
themselves with the product's default ReconnectPolicy and the upload resumes). The drops come two ways:
detected at once (both ends learn of the loss when it happens: the link's own figure, `..._3drops`), and, for
glassbridge in the full run, each noticed only after the radio's supervision timeout, 720 ms and 4 s
(`..._3drops_sto720ms`, `..._3drops_sto4000ms`: nothing crosses and nobody knows for that long, as on a phone,
which picks 0.7-6 s). Each case's `supervision_timeout_ms` and `drop_detection` say which. Contenders, on the
same rig:

- glassbridge: frames as ATT write commands (write without response, through BlueZ's AcquireWrite socket), the
  link's window of 32 frames with selective acknowledgements coming back as notifications.
- baseline_write_with_response: what the open glasses SDKs do, every chunk acknowledged before the next. The very
  same frames, each written with an ATT write request (bleak `write_gatt_char(response=True)`, a WriteValue on
  D-Bus) and awaited before the next one is written: the link's window never holds more than the frame being
  written, and the ATT write response is the per-chunk acknowledgement. (The other per-chunk baseline the parts
  allow, the link with a one-frame window over write commands, as `bench link`'s stop_and_wait, waited for the
  link's own delayed acknowledgement before SPEC.md 6.3 had a receiver acknowledge every frame at once with a
  window of 1: about 3 connection intervals per frame instead of 2, 0.032 of the ceiling against 0.049 at MTU
  247. The SDKs acknowledge at the ATT level, as this baseline does.)

What is measured, and where from (never from the code under test alone):

- payload_efficiency: the upload's bytes over the ATT value bytes the glasses put on the air (write commands and
  requests, retransmissions, link headers, acknowledgements and heartbeats included), from the rig's counters.
- goodput_fraction_of_model_ceiling: payload bytes per second from TransferBegin to VERIFIED (the phone's
  UploadReport), over BleTiming.best_write_ceiling(mtu): the most ATT value bytes per second write commands can
  carry under the same radio rules, with the best value size at that MTU (at 517: 495 bytes, two whole LL PDUs). Wall-clock time, so a loaded machine lowers it.
- reverse_pdus: every ATT PDU the phone sent the glasses during the upload (write responses, link
  acknowledgements and TransferStatus notifications, and after a reconnection the discovery answers), rig counters.
- lost / duplicated: from the companion's own transfer record: VERIFIED with the right SHA-256 means nothing lost
  (else size - offset); bytes_received - size is what reached the application twice (resent after a restart).

Each contender runs `runs` times per case, interleaved run by run (their order alternating), after a warm-up
upload on every rig; medians are reported. The baseline's time is set by the radio model (about two connection
events per write), not by the machine, so by default it runs fewer times than glassbridge (`baseline_runs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glassbridge.bench.machine import machine_info
from glassbridge_rig.ble_airtime import BleTiming

__all__ = ["BASELINE", "CONTENDERS", "BleBenchSettings", "run_ble_benchmark", "case_name"]

log = logging.getLogger(__name__)

BASELINE = "baseline_write_with_response"
CONTENDERS = ("glassbridge", BASELINE)
#: Issue 4's targets: payload efficiency per MTU, goodput as a fraction of the model's ceiling.
EFFICIENCY_TARGETS = {185: 0.93, 247: 0.95, 517: 0.95}
GOODPUT_TARGET = 0.8


@dataclass
class BleBenchSettings:
    upload_bytes: int = 200 * 1024
    mtus: tuple[int, ...] = (185, 247, 517)
    disconnects: tuple[int, ...] = (0, 3)
    runs: int = 3
    baseline_runs: int = 1
    contenders: tuple[str, ...] = CONTENDERS
    timing: BleTiming = field(default_factory=lambda: BleTiming(connection_interval_ms=15, ll_payload=251,
                                                                   phy_mbps=2))
    #: Supervision timeout of the forced disconnects of the main drop cases: 0 = both ends learn of the loss at
    #: once, so a drop costs the reconnection itself: the link's own figure.
    drop_silence_ms: float = 0.0
    #: The radio's supervision timeouts, each a further drop case (glassbridge only: the silence is the radio's,
    #: the same for any protocol above it): a real link loss is noticed only when nothing has been heard for this
    #: long, 0.7-6 s on phones (720 ms is the shortest Android and iOS pick, 4 s a common one; the Core spec
    #: allows 100 ms to 32 s). What a wearer sees after a drop, on top of the link's own figure.
    supervision_timeouts_ms: tuple[float, ...] = (720.0, 4000.0)
    warmup_bytes: int = 8 * 1024
    upload_timeout_s: float = 180.0
    workdir: Path | None = None  # rigs' logs and state; None = a temporary folder, removed afterwards

    @classmethod
    def quick_settings(cls) -> BleBenchSettings:
        """Under half a minute: MTU 247 only, 48 KB, one run, one forced disconnect detected at once (a smoke run,
        not figures; the supervision-timeout cases, seconds of silence each, are for the full run)."""
        return cls(upload_bytes=48 * 1024, mtus=(247,), disconnects=(0, 1), runs=1, baseline_runs=1,
                   warmup_bytes=4 * 1024, supervision_timeouts_ms=())

    def validate(self) -> None:
        if self.upload_bytes < 1024:
            raise ValueError(f"upload_bytes={self.upload_bytes}: upload at least 1 KB")
        if self.runs < 1 or self.baseline_runs < 0:
            raise ValueError(f"runs={self.runs}, baseline_runs={self.baseline_runs}: need runs >= 1, baseline >= 0")
        unknown = set(self.contenders) - set(CONTENDERS)
        if unknown:
            raise ValueError(f"unknown contender(s) {sorted(unknown)}: use {', '.join(CONTENDERS)}")
        for mtu in self.mtus:
            if not 131 <= mtu <= 517:
                raise ValueError(f"ATT MTU {mtu}: the glassbridge link runs on 131 to 517")
        for ms in (self.drop_silence_ms, *self.supervision_timeouts_ms):
            if not 0 <= ms <= 32000:
                raise ValueError(f"supervision timeout {ms:g} ms: the radio allows 100 ms to 32 s (0: detected at once)")


def case_name(contender: str, mtu: int, disconnects: int, supervision_ms: float = 0.0) -> str:
    """`glassbridge_mtu247_3drops`: drops detected at once (the link's own figure); `..._3drops_sto720ms`: each
    drop noticed only after a radio supervision timeout of 720 ms."""
    name = f"{contender}_mtu{mtu}_{'clean' if disconnects == 0 else f'{disconnects}drops'}"
    return f"{name}_sto{supervision_ms:g}ms" if disconnects and supervision_ms else name


def drop_detection(disconnects: int, supervision_ms: float) -> str:
    """What a case's drops measure, for the JSON and the report."""
    if not disconnects:
        return "no drop"
    if not supervision_ms:
        return "instant: both ends learn of the loss at once (the link's own figure)"
    return (f"radio supervision timeout {supervision_ms:g} ms: nothing is heard for that long before either end "
            "learns of the loss (what a wearer sees; phones use 0.7-6 s)")


# ---- one upload --------------------------------------------------------------------------------------------


def _sum_counters(connections: list[dict[str, Any]], direction: str) -> dict[str, Any]:
    """Counters of one direction summed over every connection of the upload (those a drop closed included)."""
    total: dict[str, Any] = {"att_pdus": {}, "att_value_bytes": 0, "ll_data_pdus": 0, "ll_empty_pdus": 0,
                             "dropped_pdus": 0, "l2cap_bytes": 0}
    for conn in connections:
        counters = conn[direction]
        for key in ("att_value_bytes", "ll_data_pdus", "ll_empty_pdus", "dropped_pdus", "l2cap_bytes"):
            total[key] += int(counters.get(key, 0))
        for name, n in counters.get("att_pdus", {}).items():
            total["att_pdus"][name] = total["att_pdus"].get(name, 0) + int(n)
    return total


def _companion_link_counters(status: dict[str, Any]) -> dict[str, int]:
    """The companion's link counters summed over its links (one per glasses identity)."""
    total: dict[str, int] = {}
    for link in status.get("links", {}).values():
        for key, value in link.get("stats", {}).items():
            if isinstance(value, int):
                total[key] = total.get(key, 0) + value
    return total


async def _wait_until(predicate: Callable[[], bool], timeout: float) -> None:
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise RuntimeError(f"the glasses' link did not change state within {timeout:g} s")
        await asyncio.sleep(0.01)


async def _watch_states(phone: Any, states: list[tuple[float, str]]) -> None:
    """Records when the glasses' connection state changes (scanning, connecting, connected, up, disconnected)."""
    from glassbridge.phone import ConnectionChanged

    async for event in phone.events():
        if isinstance(event, ConnectionChanged):
            states.append((time.monotonic(), event.state))


#: Where a reconnection's time goes, from the drop: the glasses notice it ("disconnected"), find the phone again
#: ("connecting": the scan is over), then connect, encrypt with the bond's key, exchange the MTU, discover the
#: service, read info and subscribe until the link carries messages again ("up"; the link session usually stays
#: UP across a short drop, so "connected" is folded into "up").
_PHASES = (("detect_s", ("disconnected",)), ("scan_s", ("connecting",)), ("connect_to_up_s", ("up",)))


def _reconnect_phases(drop_times: list[float], states: list[tuple[float, str]]) -> dict[str, float]:
    """Mean seconds of each phase of the reconnections after the drops (see _PHASES)."""
    sums = dict.fromkeys((name for name, _ in _PHASES), 0.0)
    counted = 0
    for i, dropped in enumerate(drop_times):
        end = drop_times[i + 1] if i + 1 < len(drop_times) else float("inf")
        after = [(t, st) for t, st in states if dropped <= t < end]
        t0, found = dropped, {}
        for name, ends in _PHASES:
            hit = next((t for t, st in after if st in ends and t >= t0), None)
            if hit is None:
                break
            found[name] = hit - t0
            t0 = hit
        if len(found) == len(_PHASES):
            counted += 1
            for name, value in found.items():
                sums[name] += value
    return {f"reconnect_{name}": (v / counted if counted else 0.0) for name, v in sums.items()}


async def _open_phone(store: Any, contender: str) -> Any:
    """A Phone on the bonded companion, its transport set up for the contender before the first connection."""
    from glassbridge.phone import Phone, ReconnectPolicy

    bond = store.load()
    if bond is None:
        raise RuntimeError(f"no bond in {store.path}: pairing with the rig's companion failed")
    phone = Phone(bond, bonds=store, policy=ReconnectPolicy())
    if contender == BASELINE:
        # Every frame a write request, awaited: BleLink._write awaits write_gatt_char(response=True) before it
        # polls the next frame. No AcquireWrite socket (that path only carries write commands).
        phone.transport.write_with_response = True
        phone.transport.use_write_socket = False
    phone.transport.start()
    phone.central.start()
    return phone


async def _upload_once(rig: Any, store: Any, contender: str, size: int, disconnects: int,
                       settings: BleBenchSettings, seed: int, silence_ms: float | None = None) -> dict[str, Any]:
    """One upload with `disconnects` forced drops, each noticed after `silence_ms` (the radio's supervision
    timeout; default settings.drop_silence_ms); the figures of one run of one case."""
    silence = settings.drop_silence_ms if silence_ms is None else silence_ms
    data = os.urandom(size)  # incompressible (a JPEG is too); the companion verifies its SHA-256
    phone = await _open_phone(store, contender)
    drops = 0
    reconnect_seconds: list[float] = []
    drop_times: list[float] = []
    states: list[tuple[float, str]] = []
    watcher = asyncio.create_task(_watch_states(phone, states))
    try:
        await phone.wait_until_up(30)
        await asyncio.to_thread(rig.ctl, {"cmd": "reset-counters"})
        before = _companion_link_counters(await asyncio.to_thread(rig.companion_ctl, {"cmd": "status"}))
        upload = asyncio.create_task(phone.upload_report("photo", data, f"bench-{seed}.jpg"))
        # Drop when the glasses have written (k / (n + 1)) of the upload's bytes, k = 1..n, each after the
        # previous reconnection brought the link up again: the drops land while data is flowing.
        for k in range(1, disconnects + 1):
            threshold = size * k / (disconnects + 1)
            while not upload.done():
                if phone.up:
                    status = await asyncio.to_thread(rig.ctl, {"cmd": "status"})
                    if _sum_counters(status["connections"], "c2p")["att_value_bytes"] >= threshold:
                        break
                await asyncio.sleep(0.02)
            if upload.done():
                break
            answer = await asyncio.to_thread(rig.ctl, {"cmd": "drop", "silence_ms": silence})
            if not answer.get("ok") or not answer.get("dropped"):
                raise RuntimeError(f"rig ctl drop did not drop a connection: {answer}")
            dropped_at = time.monotonic()
            drop_times.append(dropped_at)
            drops += 1
            # The glasses notice the loss (the supervision timeout), then reconnect by themselves.
            await _wait_until(lambda: not phone.up or upload.done(), 10.0 + silence / 1000.0)
            await _wait_until(lambda: phone.up or upload.done(), settings.upload_timeout_s)
            if phone.up:
                reconnect_seconds.append(time.monotonic() - dropped_at)
        report = await asyncio.wait_for(upload, settings.upload_timeout_s)
        link = (await phone.status()).link
        connections_seen = phone.central.connections
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await phone.close()
    status = await asyncio.to_thread(rig.ctl, {"cmd": "status"})
    companion = await asyncio.to_thread(rig.companion_ctl, {"cmd": "status"})
    after = _companion_link_counters(companion)
    record = [t for t in companion.get("transfers", []) if t.get("id") == report.transfer_id]
    c2p = _sum_counters(status["connections"], "c2p")
    p2c = _sum_counters(status["connections"], "p2c")
    expected_sha = hashlib.sha256(data).hexdigest()
    if record:
        t = record[0]
        ok = t["state"] == "verified" and t["sha256"] == expected_sha and t["offset"] == size
        lost = 0 if ok else size - int(t["offset"])
        duplicated = int(t["bytes_received"]) - size
        companion_state = t["state"]
    else:
        lost, duplicated, companion_state = size, 0, "missing"
    events = sum(int(c.get("events", 0)) for c in status["connections"])
    return {
        "seconds": report.seconds,
        "goodput_bytes_per_s": size / report.seconds,
        "payload_efficiency": size / c2p["att_value_bytes"] if c2p["att_value_bytes"] else 0.0,
        "att_value_bytes": float(c2p["att_value_bytes"]),
        "forward_att_pdus": float(sum(c2p["att_pdus"].values())),
        "reverse_pdus": float(sum(p2c["att_pdus"].values())),
        "reverse_by_kind": p2c["att_pdus"],
        "forward_by_kind": c2p["att_pdus"],
        "radio_events": float(events),
        "radio_seconds": events * settings.timing.connection_interval_ms / 1000.0,
        "dropped_pdus": float(c2p["dropped_pdus"] + p2c["dropped_pdus"]),
        "disconnects": float(drops),
        "connections": float(connections_seen),
        "upload_restarts": float(report.restarts),
        "resent_bytes_sent": float(report.bytes_sent - size),
        "retransmits": float(link.get("retransmits", 0)),
        "frames_tx": float(link.get("frames_tx", 0)),
        "data_frames_tx": float(link.get("data_frames_tx", 0)),
        "acks_tx": float(link.get("acks_tx", 0)),
        "writes_failed": float(link.get("writes_failed", 0)),
        "peer_frames_rx": float(after.get("frames_rx", 0) - before.get("frames_rx", 0)),
        "peer_out_of_order": float(after.get("out_of_order", 0) - before.get("out_of_order", 0)),
        # Frames the companion's link received twice: retransmissions that were not needed.
        "peer_duplicate_frames": float(after.get("duplicates", 0) - before.get("duplicates", 0)),
        "reconnect_seconds": statistics.mean(reconnect_seconds) if reconnect_seconds else 0.0,
        **_reconnect_phases(drop_times, states),
        "lost": float(lost),
        "duplicated": float(duplicated),
        "companion_state": companion_state,
        "contender": contender,
        "disconnects_planned": disconnects,
        "supervision_timeout_ms": silence if disconnects else 0.0,
    }


# ---- one rig (one MTU) ---------------------------------------------------------------------------------------


Progress = Callable[[str], None]


async def _mtu_session(rig: Any, workdir: Path, mtu: int, settings: BleBenchSettings, say: Progress,
                       results: dict[str, list[dict[str, Any]]]) -> None:
    from glassbridge.phone import BondStore, pair_phone
    from glassbridge_rig.person import RigWearer

    store = BondStore(workdir / "bond.json")
    say(f"MTU {mtu}: pairing with the companion")
    await pair_phone(store, RigWearer(rig.companion_ctl), name=rig.companion_name, scan_timeout=10.0)
    for contender in settings.contenders:  # warm-up: first connection, imports, BlueZ's caches
        say(f"MTU {mtu}: warm-up, {contender}")
        await _upload_once(rig, store, contender, settings.warmup_bytes, 0, settings, 0)
    for run in range(settings.runs):
        order = list(settings.contenders) if run % 2 == 0 else list(reversed(settings.contenders))
        for contender in order:
            if contender == BASELINE and run >= settings.baseline_runs:
                continue
            cases = [(d, settings.drop_silence_ms) for d in settings.disconnects]
            if contender == "glassbridge":
                cases += [(d, ms) for d in settings.disconnects if d for ms in settings.supervision_timeouts_ms
                          if ms != settings.drop_silence_ms]
            for disconnects, silence in cases:
                name = case_name(contender, mtu, disconnects, silence)
                say(f"MTU {mtu}, run {run + 1}/{settings.runs}: {name}")
                r = await _upload_once(rig, store, contender, settings.upload_bytes, disconnects, settings, run + 1,
                                       silence)
                r["run"] = run + 1
                r["mtu"] = mtu
                results.setdefault(name, []).append(r)


def _summarise(name: str, runs: list[dict[str, Any]], settings: BleBenchSettings) -> dict[str, Any]:
    first = runs[0]
    contender, mtu = str(first["contender"]), int(first["mtu"])
    planned, supervision = int(first["disconnects_planned"]), float(first["supervision_timeout_ms"])
    ceiling, best_value = settings.timing.best_write_ceiling(mtu)

    def med(key: str) -> float:
        return float(statistics.median(float(r[key]) for r in runs))

    goodputs = [r["goodput_bytes_per_s"] / ceiling for r in runs]
    # The link's own share: the upload's time minus the time the glasses spent reconnecting.
    net = [r["goodput_bytes_per_s"] * r["seconds"] / max(1e-9, r["seconds"] - r["reconnect_seconds"] * r["disconnects"])
           / ceiling for r in runs]
    return {
        "name": name,
        "contender": contender,
        "mtu": mtu,
        "disconnects_planned": planned,
        # 0: drops detected at once, the link's own figure; else each drop noticed after this radio supervision
        # timeout (what a wearer sees). `drop_detection` says it in words.
        "supervision_timeout_ms": supervision,
        "drop_detection": drop_detection(planned, supervision),
        "runs": len(runs),
        "payload_efficiency": round(med("payload_efficiency"), 4),
        "goodput_fraction_of_model_ceiling": round(float(statistics.median(goodputs)), 4),
        "goodput_fraction_excluding_reconnections": round(float(statistics.median(net)), 4),
        "reverse_pdus": int(med("reverse_pdus")),
        "lost": int(max(r["lost"] for r in runs)),  # the worst run: one lost byte anywhere is a failure
        "duplicated": int(max(r["duplicated"] for r in runs)),
        "seconds": round(med("seconds"), 3),
        "goodput_bytes_per_s": round(med("goodput_bytes_per_s"), 1),
        "model_ceiling_bytes_per_s": round(ceiling, 1),
        "model_ceiling_value_bytes": best_value,
        "disconnects": int(med("disconnects")),
        "forward_att_pdus": int(med("forward_att_pdus")),
        "att_value_bytes": int(med("att_value_bytes")),
        "radio_events": int(med("radio_events")),
        "radio_seconds": round(med("radio_seconds"), 3),
        "retransmits": int(med("retransmits")),
        "peer_duplicate_frames": int(med("peer_duplicate_frames")),
        "reconnect_seconds": round(med("reconnect_seconds"), 3),
        "reconnect_phases_s": {name: round(med(f"reconnect_{name}"), 3) for name, _ in _PHASES},
        "upload_restarts": int(med("upload_restarts")),
        "reconnections": int(med("connections")) - 1,
        "reverse_by_kind": first["reverse_by_kind"],
        "forward_by_kind": first["forward_by_kind"],
        "per_run": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                     if k not in ("reverse_by_kind", "forward_by_kind", "contender", "mtu", "disconnects_planned",
                                  "supervision_timeout_ms")} for r in runs],
    }


def _targets(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 4's targets, checked on glassbridge's clean cases (drops add the reconnection time, see the report)."""
    out: dict[str, Any] = {"payload_efficiency": {str(m): t for m, t in EFFICIENCY_TARGETS.items()},
                           "goodput_fraction_of_model_ceiling": GOODPUT_TARGET, "met": {}}
    for c in cases:
        if c["contender"] != "glassbridge":
            continue
        eff_target = EFFICIENCY_TARGETS.get(c["mtu"])
        out["met"][c["name"]] = {
            "payload_efficiency": None if eff_target is None else c["payload_efficiency"] >= eff_target,
            "goodput": c["goodput_fraction_of_model_ceiling"] >= GOODPUT_TARGET,
        }
    return out


def run_ble_benchmark(settings: BleBenchSettings, progress: Progress | None = None) -> dict[str, Any]:
    """Run every case (one rig per MTU, each with its own event loop: bleak's BlueZ manager is per loop and per
    bus) and return the JSON document."""
    from glassbridge_rig.ble_rig import BleRig
    from glassbridge.lifetime import run_dir

    settings.validate()
    if not Path("/usr/bin/dbus-daemon").exists() and shutil.which("dbus-daemon") is None:
        raise RuntimeError("the BLE rig needs dbus-daemon (apt-get install dbus)")
    say = progress or (lambda _s: None)
    own = settings.workdir is None
    # run_dir: marked with our pid, so a killed run's folder is reclaimed by the next benchmark that starts.
    root = run_dir("gb-bench-ble-") if own else Path(settings.workdir)  # type: ignore[arg-type]
    results: dict[str, list[dict[str, Any]]] = {}
    started = time.monotonic()
    try:
        for mtu in settings.mtus:
            workdir = root / f"mtu{mtu}"
            shutil.rmtree(workdir, ignore_errors=True)
            say(f"MTU {mtu}: starting the rig")
            with BleRig(workdir, timing=settings.timing, mtu=mtu) as rig, rig.system_bus():
                asyncio.run(_mtu_session(rig, workdir, mtu, settings, say, results))
    finally:
        if own:
            shutil.rmtree(root, ignore_errors=True)
    cases = [_summarise(name, runs, settings) for name, runs in results.items()]
    cases.sort(key=lambda c: (c["mtu"], c["disconnects_planned"], c["supervision_timeout_ms"],
                              c["contender"] != "glassbridge"))
    return {
        "benchmark": "ble",
        "schema": "glassbridge.bench.ble/1",
        "settings": {
            "upload_bytes": settings.upload_bytes, "kind": "TRANSFER_KIND_PHOTO", "mtus": list(settings.mtus),
            "disconnects": list(settings.disconnects), "runs": settings.runs,
            "baseline_runs": min(settings.baseline_runs, settings.runs), "contenders": list(settings.contenders),
            "timing": settings.timing.to_dict(), "drop_silence_ms": settings.drop_silence_ms,
            "supervision_timeouts_ms": [ms for ms in settings.supervision_timeouts_ms
                                        if ms != settings.drop_silence_ms],
            "reconnect_policy": "ReconnectPolicy() (the product's default)",
            "model_ceiling_bytes_per_s": {str(m): round(settings.timing.best_write_ceiling(m)[0], 1)
                                          for m in settings.mtus},
        },
        "targets": _targets(cases),
        "cases": cases,
        "wall_seconds": round(time.monotonic() - started, 1),
        "machine": machine_info({"load_average": list(os.getloadavg())}),
    }
