"""Model self-test: does this board's LiteRT compute what the reference kernels compute?

LiteRT's default kernels (XNNPACK) are chosen per CPU at run time, so a board can run code no test machine ran. One
did: under qemu's `max` CPU (SVE, SME) XNNPACK's int8 kernels gave emotion logits off by up to 182 LSB (a smiling
astronaut "sad") and a wake word that never fired, with no error anywhere. LiteRT's reference kernels
(``BUILTIN_REF``) are plain C++ and gave bit-identical int8 results on x86_64 and aarch64.

So every model the product uses has, in ``selftest_data/`` (shipped in the wheel), a stored input and the output
the reference kernels compute for it, with the sha256 of the model file it was computed with and a tolerance:

* int8 / uint8 outputs: at most N LSB (the default kernels round some operations differently from the reference
  ones: the emotion model by up to 4 LSB with XNNPACK on x86_64 and Neoverse-N1, 9 without XNNPACK on aarch64; the
  streaming wake word by 11; XNNPACK under qemu's SVE/SME CPU by 208 and 254);
* float32 outputs: ``|got - ref| <= atol + rtol * |ref|`` (the float face detectors differ by ~1.4e-4 between
  XNNPACK and the reference kernels, and the reference kernels by ~1.2e-4 between x86_64 and aarch64).

`run_self_test` runs each model with the resolver the product uses ("default"); outside the tolerance it says so,
names the CPU features, then tries LiteRT's optimised kernels without XNNPACK ("builtin") and the reference kernels
("reference"), and records the first that agrees with `runtime.set_preferred_resolver`, so that every later
`TfliteModel.from_manifest` of that model uses it. `glassbridge info --self-test` prints the result; the assistant
runs it once at start-up (`self_test_once`).

Inputs: the face detectors get a 64x64 RGB face (the astronaut test image) repeated to their input size and scaled
to [-1, 1]; the emotion model four 64x64 int8 crops (the astronaut, wider, the camera image's face, seeded noise);
okay_nabu the quantised features of an espeak-ng "okay nabu", 69 streaming steps in one fresh interpreter. Large
outputs are compared on a stored subset (a stride sample plus the largest values) to keep the data small.

``python -m glassbridge.models.selftest --regenerate`` recomputes the references with the reference kernels; it
refuses to overwrite references the current ones disagree with (a LiteRT or model change) unless ``--force``.
``--new-inputs IMAGES_DIR WAKE_WAV`` also remakes the inputs (the test images and espeak-ng's okay_nabu.wav from
``python -m glassbridge.audio.speech_samples``).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import logging
import platform
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from glassbridge.models.registry import ModelError, model_info, model_path
from glassbridge.models.runtime import Resolver, TfliteModel, reset_preferred_resolvers, set_preferred_resolver

__all__ = [
    "DATA_DIR",
    "FALLBACKS",
    "PRODUCT_MODELS",
    "Attempt",
    "ModelCheck",
    "Reference",
    "SelfTestReport",
    "Tolerance",
    "cpu_features",
    "last_report",
    "load_references",
    "regenerate",
    "reset",
    "run_self_test",
    "self_test_once",
]

log = logging.getLogger(__name__)

#: The models the product runs (the quantised fer model is only a test reference, never run by the product).
PRODUCT_MODELS = ("blazeface_full_range_sparse", "blazeface_short_range", "emotion_fer_int8", "okay_nabu")
#: Tried in this order when the default kernels disagree: optimised without XNNPACK (fast), then reference (slow).
FALLBACKS: tuple[Resolver, ...] = ("builtin", "reference")
DATA_DIR = Path(__file__).resolve().parent / "selftest_data"
INDEX = "index.json"
SCHEMA = 1

Status = Literal["ok", "fallback", "failed", "skipped"]
#: runner(model id, verified path, resolver, inputs (steps first)) -> one array per output, steps first.
Runner = Callable[[str, Path, Resolver, np.ndarray], list[np.ndarray]]


# ---------------------------------------------------------------------------------------------------------------
# Stored references


@dataclass(frozen=True)
class Tolerance:
    """Integer outputs: at most `lsb` apart. Float outputs: |got - ref| <= atol + rtol * |ref|."""

    lsb: int = 0
    atol: float = 0.0
    rtol: float = 0.0

    def describe(self, integer: bool) -> str:
        return f"{self.lsb} LSB" if integer else f"{self.atol:g} + {self.rtol:g}*|ref|"

    def to_json(self) -> dict[str, Any]:
        return {"lsb": self.lsb, "atol": self.atol, "rtol": self.rtol}


# Chosen from measurements (module docstring): several times what healthy kernels differ by, far below a broken one.
TOLERANCES: Mapping[str, Tolerance] = {
    "blazeface_full_range_sparse": Tolerance(atol=2e-3, rtol=1e-5),
    "blazeface_short_range": Tolerance(atol=2e-3, rtol=1e-5),
    "emotion_fer_int8": Tolerance(lsb=16),
    "okay_nabu": Tolerance(lsb=24),
}


@dataclass(frozen=True)
class Reference:
    """One model's stored input and reference outputs (selftest_data/<id>.npz, described in index.json)."""

    model_id: str
    sha256: str  # of the model file the outputs were computed with
    tolerance: Tolerance
    stateful: bool  # steps run in order in one interpreter (a streaming model); else each step is independent
    encoding: str  # "raw": the stored input is the tensor; "pixels": uint8 RGB, repeated and scaled to [-1, 1]
    repeat: int
    stored_input: np.ndarray
    outputs: tuple[np.ndarray, ...]  # per output: (steps, n) the stored values
    selections: tuple[np.ndarray | None, ...]  # per output: flat indices of the stored values, None for all
    description: str = ""

    def inputs(self) -> np.ndarray:
        """The model's input tensors, steps first."""
        if self.encoding == "raw":
            return self.stored_input
        if self.encoding == "pixels":
            px = np.repeat(np.repeat(self.stored_input, self.repeat, axis=2), self.repeat, axis=3)
            return px.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1.0)
        raise ValueError(f"{self.model_id}: unknown input encoding {self.encoding!r}")

    def select(self, outputs: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The values of fresh outputs (steps first) that the references store."""
        steps = self.stored_input.shape[0]
        picked = []
        for out, sel in zip(outputs, self.selections):
            flat = np.asarray(out).reshape(steps, -1)
            picked.append(flat if sel is None else flat[:, sel])
        return picked


def load_references(folder: Path | None = None) -> dict[str, Reference]:
    """Every stored reference, by model id (an empty dict when the folder has no index)."""
    folder = DATA_DIR if folder is None else folder
    try:
        index = json.loads((folder / INDEX).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    refs: dict[str, Reference] = {}
    for model_id, entry in index["models"].items():
        with np.load(folder / entry["file"]) as data:
            n = int(entry["outputs"])
            refs[model_id] = Reference(
                model_id=model_id, sha256=str(entry["sha256"]), tolerance=Tolerance(**entry["tolerance"]),
                stateful=bool(entry["stateful"]), encoding=str(entry["input"]["encoding"]),
                repeat=int(entry["input"].get("repeat", 1)), stored_input=data["input"],
                outputs=tuple(data[f"output_{k}"] for k in range(n)),
                selections=tuple(data[f"select_{k}"] if f"select_{k}" in data.files else None for k in range(n)),
                description=str(entry.get("description", "")),
            )
    return refs


# ---------------------------------------------------------------------------------------------------------------
# Result types


@dataclass(frozen=True)
class Attempt:
    """One resolver run against the references: the largest deviation (LSB for integer outputs, absolute for
    float) and whether it is within the tolerance; `error` when LiteRT failed."""

    resolver: Resolver
    deviation: float | None
    within: bool
    seconds: float
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"resolver": self.resolver, "deviation": self.deviation, "within": self.within,
                "seconds": round(self.seconds, 4), "error": self.error}


@dataclass(frozen=True)
class ModelCheck:
    """The verdict for one model. status: "ok" (default kernels agree), "fallback" (they do not, `resolver` does),
    "failed" (nothing agrees), "skipped" (model missing, or references for another file: not compared)."""

    model_id: str
    status: Status
    resolver: Resolver | None  # what the product uses for this model now; None when skipped
    unit: str  # "LSB" or "abs"
    tolerance: str
    attempts: tuple[Attempt, ...] = ()
    message: str = ""

    @property
    def deviation(self) -> float | None:
        """The default kernels' largest deviation."""
        return self.attempts[0].deviation if self.attempts else None

    @property
    def seconds(self) -> float:
        return sum(a.seconds for a in self.attempts)

    def line(self) -> str:
        """One line for a person: "emotion_fer_int8: ok (max deviation 0 LSB, tolerance 8 LSB)"."""
        if self.status in ("skipped",):
            return f"{self.model_id}: skipped ({self.message})"
        dev = self.deviation
        shown = "error" if dev is None else f"{dev:g} {self.unit}"
        if self.status == "ok":
            return f"{self.model_id}: ok (max deviation {shown}, tolerance {self.tolerance})"
        if self.status == "fallback":
            return (f"{self.model_id}: default kernels deviate by {shown} (tolerance {self.tolerance}) -> using "
                    f"{self.resolver} kernels")
        tried = ", ".join(f"{a.resolver} {'error' if a.deviation is None else f'{a.deviation:g}'}"
                          for a in self.attempts)
        return f"{self.model_id}: FAILED even with reference kernels (deviations: {tried}; tolerance {self.tolerance})"

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model_id, "status": self.status, "resolver": self.resolver, "unit": self.unit,
                "deviation": self.deviation, "tolerance": self.tolerance, "message": self.message,
                "seconds": round(self.seconds, 4), "attempts": [a.to_json() for a in self.attempts]}


@dataclass(frozen=True)
class SelfTestReport:
    """Every model's verdict and the machine it ran on."""

    checks: tuple[ModelCheck, ...]
    machine: str
    cpu_features: tuple[str, ...]
    litert: str | None
    seconds: float
    applied: bool = field(default=False)  # the fallbacks were recorded for TfliteModel.from_manifest

    @property
    def ok(self) -> bool:
        """No model failed both ways (skipped models do not count)."""
        return not self.failed

    @property
    def failed(self) -> list[str]:
        return [c.model_id for c in self.checks if c.status == "failed"]

    @property
    def fell_back(self) -> list[str]:
        return [c.model_id for c in self.checks if c.status == "fallback"]

    def to_json(self) -> dict[str, Any]:
        return {"schema": "glassbridge.selftest/1", "ok": self.ok, "machine": self.machine,
                "cpu_features": list(self.cpu_features), "litert": self.litert, "seconds": round(self.seconds, 4),
                "fell_back": self.fell_back, "failed": self.failed, "models": [c.to_json() for c in self.checks]}


# ---------------------------------------------------------------------------------------------------------------
# Running


# aarch64 vector extensions by (auxv entry, bit): AT_HWCAP (16) and AT_HWCAP2 (26), as Linux's asm/hwcap.h. They
# decide which kernels XNNPACK picks, and an emulator's /proc/cpuinfo may not list them.
_AARCH64_HWCAPS = {"sve": (16, 22), "sve2": (26, 1), "sme": (26, 23), "sme2": (26, 37)}


def _aarch64_hwcaps(auxv: Path) -> list[str]:
    try:
        raw = auxv.read_bytes()
    except OSError:
        return []
    words = np.frombuffer(raw[: len(raw) // 16 * 16], dtype=np.uint64).reshape(-1, 2)
    entries = {int(k): int(v) for k, v in words}
    return [name for name, (key, bit) in _AARCH64_HWCAPS.items() if entries.get(key, 0) >> bit & 1]


def cpu_features(cpuinfo: Path = Path("/proc/cpuinfo"), auxv: Path | None = None) -> tuple[str, ...]:
    """The CPU's feature flags: /proc/cpuinfo's 'Features' (ARM) or 'flags' (x86) line, plus on aarch64 the vector
    extensions the kernel reports in the auxiliary vector (SVE, SME) if the line lacks them; () when unknown."""
    features: list[str] = []
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() in ("features", "flags"):
            features = value.split()
            break
    if auxv is None and platform.machine().lower() in ("aarch64", "arm64"):
        auxv = Path("/proc/self/auxv")
    if auxv is not None:
        features += [f for f in _aarch64_hwcaps(auxv) if f not in features]
    return tuple(features)


def _litert_version() -> str | None:
    try:
        return importlib.metadata.version("ai-edge-litert")
    except importlib.metadata.PackageNotFoundError:
        return None


def run_model(model_id: str, path: Path, resolver: Resolver, inputs: np.ndarray) -> list[np.ndarray]:
    """Run `inputs` (steps first) through one fresh TfliteModel with `resolver`: raw outputs, steps first."""
    model = TfliteModel(path, resolver=resolver, verified=True)
    steps = [model.run(x, dequantize=False) for x in inputs]
    return [np.stack([s[k] for s in steps]) for k in range(len(steps[0]))]


def _deviation(ref: Reference, outputs: Sequence[np.ndarray]) -> tuple[float, bool]:
    """Largest deviation from the references and whether every value is within the tolerance."""
    worst, within = 0.0, True
    got = ref.select(outputs)
    if len(got) != len(ref.outputs):
        return float("inf"), False
    for g, r in zip(got, ref.outputs):
        if g.shape != r.shape:
            return float("inf"), False
        if np.issubdtype(r.dtype, np.integer):
            d = np.abs(g.astype(np.int64) - r.astype(np.int64))
            worst = max(worst, float(d.max(initial=0)))
            within = within and bool((d <= ref.tolerance.lsb).all())
        else:
            gf, rf = g.astype(np.float64), r.astype(np.float64)
            d = np.abs(gf - rf)
            if not np.isfinite(gf).all():
                return float("inf"), False
            worst = max(worst, float(d.max(initial=0.0)))
            within = within and bool((d <= ref.tolerance.atol + ref.tolerance.rtol * np.abs(rf)).all())
    return worst, within


def _attempt(ref: Reference, path: Path, resolver: Resolver, runner: Runner) -> Attempt:
    started = time.perf_counter()
    try:
        outputs = runner(ref.model_id, path, resolver, ref.inputs())
    except (RuntimeError, ValueError) as exc:
        return Attempt(resolver, None, False, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    deviation, within = _deviation(ref, outputs)
    return Attempt(resolver, deviation, within, time.perf_counter() - started)


def check_model(model_id: str, ref: Reference | None, *, runner: Runner | None = None,
                machine: str = "", features: Sequence[str] = ()) -> ModelCheck:
    """Check one model against its reference (see the module docstring); records nothing. `runner` defaults to
    `run_model` (looked up when called)."""
    runner = run_model if runner is None else runner
    if ref is None:
        return ModelCheck(model_id, "skipped", None, "", "", message="no stored references for this model")
    integer = np.issubdtype(ref.outputs[0].dtype, np.integer)
    unit, tolerance = ("LSB" if integer else "abs"), ref.tolerance.describe(integer)
    try:
        info = model_info(model_id)
        if info.sha256 != ref.sha256:
            return ModelCheck(model_id, "skipped", None, unit, tolerance,
                              message=f"references are for another file (sha256 {ref.sha256[:12]}..., the manifest "
                                      f"pins {info.sha256[:12]}...): regenerate them with `python -m "
                                      "glassbridge.models.selftest --regenerate`")
        path = model_path(info)
    except ModelError as exc:
        return ModelCheck(model_id, "skipped", None, unit, tolerance, message=f"model unavailable: {exc.problem}")
    attempts = [_attempt(ref, path, "default", runner)]
    if attempts[0].within:
        return ModelCheck(model_id, "ok", "default", unit, tolerance, tuple(attempts))
    first = attempts[0]
    what = first.error or f"max deviation {first.deviation:g} {unit}, tolerance {tolerance}"
    # INFO: the callers report the verdict (info --self-test prints it, the assistant's start-up logs a warning).
    log.info("model self-test: %s with LiteRT's default kernels is outside its reference (%s) on %s, CPU "
                "features: %s; trying other kernels", model_id, what, machine or platform.machine(),
                " ".join(features) or "unknown")
    for resolver in FALLBACKS:
        attempt = _attempt(ref, path, resolver, runner)
        attempts.append(attempt)
        if attempt.within:
            return ModelCheck(model_id, "fallback", resolver, unit, tolerance, tuple(attempts),
                              message=f"default kernels: {what}; {resolver} kernels agree "
                                      f"(max deviation {attempt.deviation:g} {unit})")
    return ModelCheck(model_id, "failed", "default", unit, tolerance, tuple(attempts),
                      message=f"default kernels: {what}; no other kernels agree either")


def run_self_test(models: Sequence[str] | None = None, *, apply: bool = True, runner: Runner | None = None,
                  references: Mapping[str, Reference] | None = None) -> SelfTestReport:
    """Check `models` (default: PRODUCT_MODELS) against the stored references; with `apply`, record each verdict
    for TfliteModel.from_manifest (a fallback's resolver, or the default again)."""
    started = time.perf_counter()
    refs = load_references() if references is None else references
    machine, features = platform.machine(), cpu_features()
    checks = []
    for model_id in PRODUCT_MODELS if models is None else models:
        check = check_model(model_id, refs.get(model_id), runner=runner, machine=machine, features=features)
        if apply and check.status in ("ok", "fallback"):
            set_preferred_resolver(model_id, check.resolver)
        checks.append(check)
    report = SelfTestReport(tuple(checks), machine, features, _litert_version(), time.perf_counter() - started,
                            applied=apply)
    global _last
    _last = report
    return report


_last: SelfTestReport | None = None


def last_report() -> SelfTestReport | None:
    """The latest report of this process (None before any self-test)."""
    return _last


def self_test_once(models: Sequence[str] | None = None) -> SelfTestReport:
    """`run_self_test` (recording the fallbacks) the first time a process asks, the same report after (the
    assistant's start-up)."""
    return _last if _last is not None and _last.applied else run_self_test(models)


def reset() -> None:
    """Forget the latest report and every recorded fallback (tests)."""
    global _last
    _last = None
    reset_preferred_resolvers()


# ---------------------------------------------------------------------------------------------------------------
# Making the references


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _emotion_crop(image: Any, box: tuple[float, float, float, float], margin: float) -> np.ndarray:
    """A square grey 64x64 crop around `box`, quantised as the emotion model's input (fer's [-1, 1], 2/255)."""
    from PIL import Image

    x0, y0, x1, y1 = box
    side = int(round(max(x1 - x0, y1 - y0) * (1 + 2 * margin)))
    x, y = int(round((x0 + x1) / 2 - side / 2)), int(round((y0 + y1) / 2 - side / 2))
    grey = image.crop((x, y, x + side, y + side)).convert("L").resize((64, 64), Image.Resampling.BILINEAR)
    real = (np.asarray(grey, dtype=np.float32) / np.float32(255) - np.float32(0.5)) * np.float32(2)
    q = np.rint(real / np.float32(2 / 255) - 1)
    crop: np.ndarray = np.clip(q, -128, 127).astype(np.int8)
    return crop[np.newaxis, :, :, np.newaxis]


def make_inputs(images: Path, wake_wav: Path) -> dict[str, tuple[np.ndarray, dict[str, Any], str]]:
    """The stored inputs, made from the test images (astronaut.png, camera.png) and espeak-ng's okay_nabu.wav:
    model id -> (stored input, input encoding, description)."""
    import wave

    from PIL import Image
    from pymicro_features import MicroFrontend

    astronaut = Image.open(images / "astronaut.png").convert("RGB")
    camera = Image.open(images / "camera.png").convert("RGB")
    face = np.asarray(astronaut.crop((140, 35, 310, 205)).resize((64, 64), Image.Resampling.BILINEAR))
    pixels = face[np.newaxis, np.newaxis]  # (steps, 1, 64, 64, 3)
    out: dict[str, tuple[np.ndarray, dict[str, Any], str]] = {
        "blazeface_full_range_sparse": (pixels, {"encoding": "pixels", "repeat": 3},
                                        "astronaut face, 64x64 RGB repeated 3x to 192x192, scaled to [-1, 1]"),
        "blazeface_short_range": (pixels, {"encoding": "pixels", "repeat": 2},
                                  "astronaut face, 64x64 RGB repeated 2x to 128x128, scaled to [-1, 1]"),
    }
    noise = np.random.default_rng(13).integers(-128, 128, (1, 64, 64, 1)).astype(np.int8)
    emotion = np.stack([_emotion_crop(astronaut, (172, 67, 277, 172), 0.1),
                        _emotion_crop(astronaut, (172, 67, 277, 172), 0.4),
                        _emotion_crop(camera, (196, 121, 277, 202), 0.1), noise])
    out["emotion_fer_int8"] = (emotion, {"encoding": "raw"},
                               "grey face crops: astronaut, astronaut wider, camera, seeded noise")
    with wave.open(str(wake_wav), "rb") as w:
        pcm = w.readframes(w.getnframes())
    frontend, frames = MicroFrontend(), []
    for offset in range(0, len(pcm) - 319, 320):  # 10 ms of 16 kHz PCM16 per call
        result = frontend.process_samples(pcm[offset:offset + 320])
        if result.features:
            frames.append(result.features)
    info = model_info("okay_nabu").inputs[0]
    features = np.asarray(frames[: len(frames) // 3 * 3], dtype=np.float32).reshape(-1, 1, 3, 40)
    q = np.rint(features / np.float32(info.scale or 1.0) + (info.zero_point or 0))
    out["okay_nabu"] = (np.clip(q, -128, 127).astype(np.int8), {"encoding": "raw"},
                        "espeak-ng 'okay nabu' (glassbridge.audio.speech_samples), MicroFrontend features, "
                        "one streaming step per 30 ms")
    return out


def _selection(ref_out: np.ndarray, steps: int) -> np.ndarray | None:
    """Flat indices kept of a large output: every k-th value (<= 2048) and the 512 largest in magnitude."""
    flat = ref_out.reshape(steps, -1)
    n = flat.shape[1]
    if n <= 4096:
        return None
    stride = np.arange(0, n, -(-n // 2048))
    largest = np.argsort(-np.abs(flat.astype(np.float64)).max(axis=0), kind="stable")[:512]
    return np.unique(np.concatenate([stride, largest])).astype(np.int32)


def regenerate(folder: Path | None = None, *, force: bool = False, new_inputs: tuple[Path, Path] | None = None,
               models: Sequence[str] = PRODUCT_MODELS) -> list[str]:
    """Recompute the references with LiteRT's reference kernels and write them; return what changed.

    Refuses (ValueError) to overwrite references that the fresh ones disagree with (beyond the tolerance, or for
    another model file) unless `force`."""
    folder = DATA_DIR if folder is None else folder
    current = load_references(folder)
    made = make_inputs(*new_inputs) if new_inputs is not None else None
    entries: dict[str, Any] = {}
    arrays: dict[str, dict[str, np.ndarray]] = {}
    problems: list[str] = []
    for model_id in models:
        info = model_info(model_id)
        path = model_path(info)
        old = current.get(model_id)
        if made is not None:
            stored, encoding, description = made[model_id]
        elif old is not None:
            stored, description = old.stored_input, old.description
            encoding = {"encoding": old.encoding, **({"repeat": old.repeat} if old.encoding == "pixels" else {})}
        else:
            raise ValueError(f"{model_id}: no stored input; pass --new-inputs IMAGES_DIR WAKE_WAV")
        probe = Reference(model_id, info.sha256, TOLERANCES[model_id], model_id == "okay_nabu",
                          str(encoding["encoding"]), int(encoding.get("repeat", 1)), stored, (), ())
        outputs = run_model(model_id, path, "reference", probe.inputs())
        steps = stored.shape[0]
        selections = [_selection(o, steps) for o in outputs]
        kept = [o.reshape(steps, -1) if s is None else o.reshape(steps, -1)[:, s] for o, s in zip(outputs, selections)]
        if old is not None and made is None:
            if old.sha256 != info.sha256:
                problems.append(f"{model_id}: the stored references are for another file (sha256 {old.sha256[:12]})")
            else:
                deviation, within = _deviation(old, outputs)
                if not within:
                    problems.append(f"{model_id}: the stored references differ from a fresh reference run by "
                                    f"{deviation:g}")
        entries[model_id] = {"file": f"{model_id}.npz", "sha256": info.sha256, "outputs": len(outputs),
                             "stateful": model_id == "okay_nabu", "input": encoding,
                             "tolerance": TOLERANCES[model_id].to_json(), "steps": int(steps),
                             "description": description}
        arrays[model_id] = {"input": stored, **{f"output_{k}": v for k, v in enumerate(kept)},
                            **{f"select_{k}": s for k, s in enumerate(selections) if s is not None}}
    if problems and not force:
        raise ValueError("refusing to overwrite the references (use --force if the change is intended): "
                         + "; ".join(problems))
    folder.mkdir(parents=True, exist_ok=True)
    for model_id, data in arrays.items():
        np.savez_compressed(folder / f"{model_id}.npz", **data)  # type: ignore[arg-type]
    index = {"schema": SCHEMA, "resolver": "reference (LiteRT BUILTIN_REF)", "litert": _litert_version(),
             "made_on": platform.machine(), "models": entries}
    (folder / INDEX).write_text(json.dumps(index, indent=1) + "\n", encoding="utf-8")
    return list(arrays)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glassbridge.models.selftest", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--regenerate", action="store_true", help="recompute the references with reference kernels")
    parser.add_argument("--force", action="store_true", help="overwrite references that disagree")
    parser.add_argument("--new-inputs", nargs=2, type=Path, metavar=("IMAGES_DIR", "WAKE_WAV"),
                        help="with --regenerate: remake the inputs too")
    parser.add_argument("--json", action="store_true", help="print the self-test's result as JSON")
    args = parser.parse_args(argv)
    if args.regenerate:
        try:
            done = regenerate(force=args.force, new_inputs=tuple(args.new_inputs) if args.new_inputs else None)
        except (ValueError, ModelError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"references written to {DATA_DIR}: {', '.join(done)}")
        return 0
    report = run_self_test(apply=False)
    print(json.dumps(report.to_json(), indent=1) if args.json else "\n".join(c.line() for c in report.checks))
    return 0 if report.ok else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

