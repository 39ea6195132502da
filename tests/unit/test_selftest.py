"""The model self-test (glassbridge.models.selftest): stored references that a fresh reference-kernel run
reproduces, wrong default kernels detected and replaced by kernels that agree, the fallback used by
TfliteModel.from_manifest, `glassbridge info --self-test` (text, JSON, exit status) and the assistant's start-up
check."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from glassbridge.cli.main import main
from glassbridge.models import runtime, selftest
from glassbridge.models.registry import ModelError, model_path
from glassbridge.models.runtime import Resolver, TfliteModel, preferred_resolver
from glassbridge.models.selftest import PRODUCT_MODELS, Reference, load_references, run_model, run_self_test


def _missing() -> str | None:
    try:
        for model in PRODUCT_MODELS:
            model_path(model)
    except ModelError as exc:
        return f"models not fetched yet (run `make setup`): {exc}"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[None]:
    """No self-test verdict or recorded fallback leaks into or out of a test."""
    selftest.reset()
    yield
    selftest.reset()


def corrupting(*bad: Resolver, lsb: int = 100, scale: float = 1.3) -> selftest.Runner:
    """The real runner, with the outputs of the `bad` resolvers perturbed as a broken kernel would."""

    def runner(model_id: str, path: Path, resolver: Resolver, inputs: np.ndarray) -> list[np.ndarray]:
        outputs = run_model(model_id, path, resolver, inputs)
        if resolver not in bad:
            return outputs
        return [(o.astype(np.int64) + lsb).clip(np.iinfo(o.dtype).min, np.iinfo(o.dtype).max).astype(o.dtype)
                if np.issubdtype(o.dtype, np.integer) else o * np.float32(scale) + np.float32(0.5) for o in outputs]

    return runner


# ---------------------------------------------------------------------------------------------------------------
# The stored references


def test_every_product_model_has_references_for_the_pinned_file() -> None:
    from glassbridge.models.registry import model_info

    refs = load_references()
    assert set(refs) == set(PRODUCT_MODELS)
    for model_id, ref in refs.items():
        assert ref.sha256 == model_info(model_id).sha256
        assert ref.stored_input.nbytes <= 64 * 1024, "stored inputs stay small (they ship in the wheel)"


def _independent_inputs(index_entry: dict[str, Any], stored: np.ndarray) -> np.ndarray:
    """The model input from the stored one, written out again here (not Reference.inputs)."""
    encoding = index_entry["input"]
    if encoding["encoding"] == "raw":
        return stored
    k = encoding["repeat"]
    big = stored.repeat(k, axis=-2).repeat(k, axis=-3)
    return (big.astype(np.float32) * np.float32(1 / 127.5) - np.float32(1)).astype(np.float32)


@pytest.mark.parametrize("model_id", PRODUCT_MODELS)
def test_stored_references_match_a_fresh_reference_kernel_run(model_id: str) -> None:
    """LiteRT's Interpreter with BUILTIN_REF, driven here directly: int8 outputs identical, float within what the
    reference kernels differ by between x86_64 and aarch64 (~1.2e-4)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    index = json.loads((selftest.DATA_DIR / "index.json").read_text())["models"][model_id]
    with np.load(selftest.DATA_DIR / index["file"]) as data:
        stored = {k: data[k] for k in data.files}
    inputs = _independent_inputs(index, stored["input"])
    interp = Interpreter(model_path=str(model_path(model_id)), num_threads=1,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    steps = []
    for x in inputs:  # a streaming model keeps its state from step to step in this one interpreter
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        steps.append([interp.get_tensor(d["index"]).reshape(-1) for d in interp.get_output_details()])
    for k in range(index["outputs"]):
        fresh = np.stack([s[k] for s in steps])
        if f"select_{k}" in stored:
            fresh = fresh[:, stored[f"select_{k}"]]
        ref = stored[f"output_{k}"]
        assert fresh.dtype == ref.dtype and fresh.shape == ref.shape
        if np.issubdtype(ref.dtype, np.integer):
            np.testing.assert_array_equal(fresh, ref)
        else:
            np.testing.assert_allclose(fresh, ref, rtol=0, atol=5e-4)


def test_the_references_are_meaningful() -> None:
    """Inputs that exercise the models: a face the detectors find, a happy astronaut, a wake word that fires."""
    refs = load_references()
    for detector in ("blazeface_full_range_sparse", "blazeface_short_range"):
        assert refs[detector].outputs[1].max() > 0.0  # a face score logit above 0: sigmoid > 0.5
    emotion = refs["emotion_fer_int8"].outputs[0]
    assert int(np.argmax(emotion[0])) == 3  # "happy"
    assert len({int(np.argmax(row)) for row in emotion}) >= 2
    wake = refs["okay_nabu"].outputs[0].reshape(-1)
    assert wake.max() >= 0.85 * 256 and wake[:10].max() < 10


def test_on_this_machine_every_model_is_ok_with_the_default_kernels() -> None:
    report = run_self_test()
    assert report.ok and not report.fell_back
    assert [c.status for c in report.checks] == ["ok"] * len(PRODUCT_MODELS)
    assert all(c.resolver == "default" for c in report.checks)
    assert all(preferred_resolver(m) == "default" for m in PRODUCT_MODELS)


# ---------------------------------------------------------------------------------------------------------------
# Wrong kernels


def test_wrong_default_kernels_are_detected_and_the_fallback_is_used_by_tflite_model(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="glassbridge.models.selftest"):
        report = run_self_test(["emotion_fer_int8", "okay_nabu"], runner=corrupting("default"))
    emotion = report.checks[0]
    assert emotion.status == "fallback" and emotion.resolver == "builtin"
    assert emotion.deviation is not None and 90 <= emotion.deviation <= 110 and emotion.unit == "LSB"
    assert [a.resolver for a in emotion.attempts] == ["default", "builtin"]
    assert f"deviate by {emotion.deviation:g} LSB" in emotion.line() and "using builtin kernels" in emotion.line()
    assert report.fell_back == ["emotion_fer_int8", "okay_nabu"] and report.ok
    # The log names the model, the deviation and the CPU features.
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "emotion_fer_int8" in warned and f"{emotion.deviation:g} LSB" in warned and "CPU features" in warned
    # The product now builds these models with the kernels that agree; the others are untouched.
    assert preferred_resolver("emotion_fer_int8") == "builtin"
    model = TfliteModel.from_manifest("emotion_fer_int8")
    assert model.resolver == "builtin" and "resolver='builtin'" in repr(model)
    assert TfliteModel.from_manifest("blazeface_short_range").resolver == "default"
    assert TfliteModel.from_manifest("emotion_fer_int8", resolver="reference").resolver == "reference"
    # reset() forgets it.
    selftest.reset()
    assert preferred_resolver("emotion_fer_int8") == "default" and selftest.last_report() is None


def test_a_float_model_with_wrong_default_and_builtin_kernels_falls_back_to_the_reference_kernels() -> None:
    report = run_self_test(["blazeface_short_range"], runner=corrupting("default", "builtin"))
    (check,) = report.checks
    assert check.status == "fallback" and check.resolver == "reference" and check.unit == "abs"
    assert check.deviation is not None and check.deviation > 0.4
    assert [a.within for a in check.attempts] == [False, False, True]
    assert preferred_resolver("blazeface_short_range") == "reference"


def test_a_model_wrong_with_every_kernel_fails_and_keeps_the_default() -> None:
    report = run_self_test(["emotion_fer_int8"], runner=corrupting("default", "builtin", "reference"))
    (check,) = report.checks
    assert check.status == "failed" and not report.ok and report.failed == ["emotion_fer_int8"]
    assert "FAILED even with reference kernels" in check.line()
    assert preferred_resolver("emotion_fer_int8") == "default"


def test_deviations_are_measured_against_the_tolerance() -> None:
    """The same default-kernel outputs shifted by a few LSB: ok while every value stays within the tolerance."""
    ref = load_references()["emotion_fer_int8"]
    base = run_self_test(["emotion_fer_int8"], apply=False).checks[0].deviation
    assert base is not None and base < ref.tolerance.lsb
    shifted = run_self_test(["emotion_fer_int8"], apply=False, runner=corrupting("default", lsb=1)).checks[0]
    assert shifted.status == "ok" and shifted.deviation is not None and shifted.deviation <= base + 1
    far = run_self_test(["emotion_fer_int8"], apply=False, runner=corrupting("default", lsb=40)).checks[0]
    assert far.status == "fallback" and preferred_resolver("emotion_fer_int8") == "default"  # apply=False


def test_a_perturbed_interpreter_on_the_real_path_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """No runner given: the real TfliteModel, whose default-kernel outputs are perturbed underneath."""
    real = TfliteModel._read_outputs

    def perturbed(self: TfliteModel, dequantize: bool) -> list[np.ndarray]:
        outs = real(self, dequantize)
        if self.resolver == "default":
            outs = [(o.astype(np.int16) + 60).clip(-128, 127).astype(o.dtype) if o.dtype == np.int8 else o
                    for o in outs]
        return outs

    monkeypatch.setattr(TfliteModel, "_read_outputs", perturbed)
    report = run_self_test(["emotion_fer_int8"])
    deviation = report.checks[0].deviation
    assert report.checks[0].status == "fallback" and deviation is not None and 50 <= deviation <= 70
    assert TfliteModel.from_manifest("emotion_fer_int8").resolver == "builtin"


def test_references_for_another_model_file_are_not_compared() -> None:
    refs = dict(load_references())
    refs["emotion_fer_int8"] = dataclasses.replace(refs["emotion_fer_int8"], sha256="0" * 64)
    calls: list[str] = []

    def runner(model_id: str, path: Path, resolver: Resolver, inputs: np.ndarray) -> list[np.ndarray]:
        calls.append(model_id)
        return run_model(model_id, path, resolver, inputs)

    report = run_self_test(["emotion_fer_int8", "okay_nabu"], runner=runner, references=refs)
    check = report.checks[0]
    assert check.status == "skipped" and "references are for another file" in check.message
    assert "references are for another file" in check.line()
    assert calls == ["okay_nabu"] and report.ok
    assert preferred_resolver("emotion_fer_int8") == "default"


def test_a_model_without_references_is_skipped() -> None:
    report = run_self_test(["fer_emotion_quantized"])
    assert report.checks[0].status == "skipped" and report.ok


def test_cpu_features_come_from_proc_cpuinfo(tmp_path: Path) -> None:
    arm = tmp_path / "cpuinfo"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: fp asimd evtstrm sve sme\n")
    assert selftest.cpu_features(arm) == ("fp", "asimd", "evtstrm", "sve", "sme")
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert selftest.cpu_features(x86) == ("fpu", "sse2", "avx2")
    assert selftest.cpu_features(tmp_path / "absent") == ()
    # aarch64: SVE and SME from the auxiliary vector (AT_HWCAP bit 22, AT_HWCAP2 bit 23) when cpuinfo lacks them.
    auxv = tmp_path / "auxv"
    auxv.write_bytes(np.array([6, 4096, 16, (1 << 22) | 3, 26, 1 << 23, 0, 0], dtype=np.uint64).tobytes())
    assert selftest.cpu_features(arm, auxv) == ("fp", "asimd", "evtstrm", "sve", "sme")
    assert selftest.cpu_features(tmp_path / "absent", auxv) == ("sve", "sme")


# ---------------------------------------------------------------------------------------------------------------
# Regenerating


def test_regenerate_reproduces_the_references_and_refuses_to_overwrite_disagreeing_ones(tmp_path: Path) -> None:
    folder = tmp_path / "refs"
    shutil.copytree(selftest.DATA_DIR, folder)
    before = load_references(folder)
    assert selftest.regenerate(folder, models=["emotion_fer_int8", "okay_nabu"]) == ["emotion_fer_int8", "okay_nabu"]
    after = load_references(folder)
    for model_id in ("emotion_fer_int8", "okay_nabu"):
        np.testing.assert_array_equal(after[model_id].outputs[0], before[model_id].outputs[0])
    # Stored outputs that a fresh reference run disagrees with: refused, the file untouched, unless forced.
    npz = folder / "emotion_fer_int8.npz"
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["output_0"] = (arrays["output_0"].astype(np.int16) + 50).clip(-128, 127).astype(np.int8)
    np.savez_compressed(npz, **arrays)
    stamp = npz.read_bytes()
    with pytest.raises(ValueError, match="refusing to overwrite.*emotion_fer_int8"):
        selftest.regenerate(folder, models=["emotion_fer_int8"])
    assert npz.read_bytes() == stamp
    selftest.regenerate(folder, models=["emotion_fer_int8"], force=True)
    np.testing.assert_array_equal(load_references(folder)["emotion_fer_int8"].outputs[0],
                                  before["emotion_fer_int8"].outputs[0])


# ---------------------------------------------------------------------------------------------------------------
# glassbridge info --self-test


def test_info_self_test_prints_a_line_per_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--self-test"]) == 0
    out = capsys.readouterr().out
    for model_id in PRODUCT_MODELS:
        assert f"{model_id}: ok" in out


def test_info_self_test_json_and_exit_status(capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["info", "--self-test", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["schema"] == "glassbridge.selftest/1" and data["ok"] is True
    assert [m["model"] for m in data["models"]] == list(PRODUCT_MODELS)
    assert {m["status"] for m in data["models"]} == {"ok"} and data["machine"]
    assert isinstance(data["cpu_features"], list)
    first = data["models"][0]
    assert first["attempts"][0]["resolver"] == "default" and first["attempts"][0]["within"] is True

    # Default kernels wrong for the emotion model: it falls back, exit status 0.
    selftest.reset()
    monkeypatch.setattr(selftest, "run_model", corrupting("default"))
    assert main(["info", "--self-test", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["fell_back"]) == set(PRODUCT_MODELS) and data["failed"] == []
    assert {m["resolver"] for m in data["models"]} == {"builtin"}
    assert main(["info", "--self-test"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"emotion_fer_int8: default kernels deviate by \d+ LSB \(tolerance 16 LSB\) -> using builtin "
                     r"kernels", out) and "CPU features:" in out

    # Every kernel wrong: exit status 1, and the text says so.
    every = corrupting("default", "builtin", "reference")
    monkeypatch.setattr(selftest, "run_model", every)
    assert main(["info", "--self-test", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["failed"] == list(PRODUCT_MODELS)
    assert main(["info", "--self-test"]) == 1
    assert "FAILED even with reference kernels" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------------------------
# The assistant's start-up


def test_start_up_check_warns_naming_the_models_that_fell_back(caplog: pytest.LogCaptureFixture,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from glassbridge.app import PERCEPTION_MODELS, check_models

    monkeypatch.setattr(selftest, "run_model", corrupting("default"))
    with caplog.at_level(logging.INFO, logger="glassbridge.app"):
        report = check_models(["emotion_fer_int8"])
    assert report is not None and report.fell_back == ["emotion_fer_int8"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("emotion_fer_int8" in w and "using builtin kernels" in w for w in warnings)
    assert any("emotion_fer_int8 fell back" in w for w in warnings)
    assert runtime.preferred_resolver("emotion_fer_int8") == "builtin"
    # Once per process: a second call returns the same report without running anything.
    assert check_models(list(PERCEPTION_MODELS)) is report
    assert check_models([]) is None


def test_build_assistant_checks_the_models_it_builds_before_building_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import glassbridge.app as app
    from glassbridge.assistant.config import Settings, WakeWordSettings

    checked: list[list[str]] = []
    monkeypatch.setattr(app, "check_models", lambda models: checked.append(list(models)))

    class Stop(Exception):
        pass

    def no_perceiver(*args: Any, **kwargs: Any) -> None:
        assert checked, "the self-test runs before any model is built"
        raise Stop

    monkeypatch.setattr("glassbridge.assistant.perception.FacePerceiver", no_perceiver)
    with pytest.raises(Stop):
        app.build_assistant(Settings(wake_word=WakeWordSettings(enabled=True)), None, None, None)
    assert checked == [["blazeface_full_range_sparse", "emotion_fer_int8", "okay_nabu"]]
    checked.clear()
    with pytest.raises(Stop):
        app.build_assistant(Settings(), None, None, None)
    assert checked == [["blazeface_full_range_sparse", "emotion_fer_int8"]]
