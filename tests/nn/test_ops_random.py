"""gbnn's arithmetic ops against TFLite Micro, bit for bit, on thousands of random one-op models.

Every variant the ops implement (tests/nn/opcases.py: shapes, strides, SAME/VALID, dilation, fused activations,
per-channel and per-tensor filters, optional bias, depth multipliers, broadcast ADD, MEAN over any axes with
keep_dims both ways, SOFTMAX beta with int8 and int16 outputs, LOGISTIC, MAX_POOL_2D, QUANTIZE from float32 and
between int8 / uint8 / int16 / int32, scales over several orders of magnitude, zero points at the extremes) is
drawn at random; each model runs a few random inputs through TFLM (subprocess workers, batched:
tests/nn/oracles.py) and through gbnn (glassbridge.nn.Int8Model). Every output must be equal, 0 LSB. LiteRT's
BUILTIN_REF kernels are compared too, and must equal TFLM except where they are known to differ
(``LITERT_KNOWN``): there TFLM is the oracle.

Kernel sets: CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED run through every kernel set this machine has
(``glassbridge.nn.engine.ISAS``: ref, sse41, avx2 on x86-64; neon on AArch64), each compared with TFLM on its own;
``GBNN_ISAS=ref,avx2`` limits the sets. The other ops have no kernel sets and run once.

Size: GBNN_RANDOM_CASES models in all (default 2700, about 6 s here), seed GBNN_RANDOM_SEED (default fixed).
A longer run: ``GBNN_RANDOM_CASES=30000 GBNN_RANDOM_SEED=7 .venv/bin/pytest tests/nn/test_ops_random.py``.
"""

from __future__ import annotations

import os
import platform
from typing import Any

import numpy as np
import pytest

from tests.nn.opcases import GENERATORS, Case
from tests.nn.oplib import T, one_op_model
from tests.nn.oracles import Outcome, litert_available, run_litert_ref, run_tflm, tflm_available

if not tflm_available():
    pytest.skip("TFLite Micro's Python runtime (tflite-micro, x86_64 only) is not installed", allow_module_level=True)

from glassbridge.nn.engine import ISAS, EngineError, Int8Model, default_isa, isa_available  # noqa: E402

CASES = int(os.environ.get("GBNN_RANDOM_CASES", "2700"))
SEED = int(os.environ.get("GBNN_RANDOM_SEED", "20261207"))

# The ops whose inner loops come in kernel sets (nn/src/kernels*.c), and the sets to run them on.
KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
_ASKED = [name for name in os.environ.get("GBNN_ISAS", ",".join(ISAS)).split(",") if name]
SETS = [name for name in _ASKED if isa_available(name)]

_NONZERO_FILTER_ZP = ("filter_zp=-", *(f"filter_zp={z}" for z in range(1, 21)))

# Where LiteRT's BUILTIN_REF kernels are known not to equal TFLM's (measured on 30,000 random models). TFLM is
# the oracle there; everywhere else the three must agree.
LITERT_KNOWN: dict[str, tuple[str, ...]] = {
    # FULLY_CONNECTED: ~4% of random models differ by 1 LSB, per-tensor (TFLM multiplies input x filter scale in
    # float before widening to double, LiteRT in double: the multipliers differ in their last bits) and per-channel.
    "FULLY_CONNECTED": ("fc ",),
    # LOGISTIC: LiteRT's int8 kernel rounds the real logistic (a float table), TFLM evaluates gemmlowp's fixed-point
    # one: ~0.2% of random models differ by 1 LSB near halfway values, and with an input scale of 4 or more (TFLM's
    # input radius below 2: every input but the zero point saturates) by up to 3.
    "LOGISTIC": ("logistic ",),
    # CONV_2D: LiteRT refuses some models without a bias, and a filter zero point other than 0 (which TFLM's
    # per-channel kernel ignores, and so does gbnn); DEPTHWISE_CONV_2D the same zero points.
    "CONV_2D": ("bias=False", *_NONZERO_FILTER_ZP),
    "DEPTHWISE_CONV_2D": _NONZERO_FILTER_ZP,
    # QUANTIZE: LiteRT refuses int8 -> int32 and int16 -> int16 with a zero point other than 0.
    "QUANTIZE": ("int8->int32", "int16->int16"),
}


def _engine(case: Case, isa: str | None = None) -> Outcome:
    try:
        model = Int8Model.from_bytes(case.model, isa=isa)
    except EngineError as e:
        return Outcome(error=str(e))
    return Outcome(outputs=[model.run(*inputs) for inputs in case.invocations])


def _same(a: list[list[Any]], b: list[list[Any]]) -> bool:
    return len(a) == len(b) and all(
        len(x) == len(y) and all(p.dtype == q.dtype and p.shape == q.shape and np.array_equal(p, q)
                                 for p, q in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True))


def _max_lsb(a: list[list[Any]], b: list[list[Any]]) -> str:
    try:
        return str(max(int(np.abs(p.astype(np.int64) - q.astype(np.int64)).max())
                       for x, y in zip(a, b, strict=True) for p, q in zip(x, y, strict=True)))
    except ValueError:
        return "shape"


@pytest.mark.parametrize("op", sorted(GENERATORS))
def test_random_models_match_tflm(op: str) -> None:
    assert SETS or op not in KERNEL_OPS, f"none of the kernel sets {_ASKED} is available here"
    rng = np.random.default_rng([SEED, sorted(GENERATORS).index(op)])
    cases = [GENERATORS[op](rng) for _ in range(max(1, CASES // len(GENERATORS)))]
    oracle = run_tflm([(c.model, c.invocations) for c in cases])
    problems: list[str] = []
    litert_checked = 0
    for case, want in zip(cases, oracle, strict=True):
        if not want.ok:  # the generators only build models TFLM runs
            problems.append(f"TFLM failed ({want.error}): {case.variant}")
            continue
        for isa in SETS if op in KERNEL_OPS else [None]:
            got = _engine(case, isa)
            if not got.ok:
                problems.append(f"gbnn ({isa or 'default'}) refused ({got.error}): {case.variant}")
            elif not _same(got.outputs, want.outputs):
                problems.append(f"gbnn ({isa or 'default'}) differs from TFLM by {_max_lsb(got.outputs, want.outputs)}"
                                f" LSB: {case.variant}")
        if litert_available():
            ref = run_litert_ref(case.model, case.invocations)
            agrees = ref.ok and _same(ref.outputs, want.outputs)
            known = LITERT_KNOWN.get(op, ())
            if not agrees and not any(k in case.variant for k in known):
                problems.append(f"LiteRT BUILTIN_REF differs from TFLM ({ref.error or 'outputs'}): {case.variant}")
            litert_checked += int(agrees)
    assert not problems, f"{len(problems)} of {len(cases)} {op} models:\n" + "\n".join(problems[:15])
    if litert_available():
        # The known exceptions are exceptions: most models of every op agree across the three.
        assert litert_checked >= len(cases) // 2, f"LiteRT agreed with TFLM on only {litert_checked}"


def test_kernel_sets_are_named_and_chosen() -> None:
    assert isa_available("ref") and isa_available(default_isa())
    # on x86-64 the build has the SSE4.1 set and every x86-64 CPU this runs on has SSE4.1
    if platform.machine() in ("x86_64", "AMD64"):
        assert isa_available("sse41")
        assert default_isa() in ("sse41", "avx2")
    if platform.machine() in ("aarch64", "arm64"):
        assert default_isa() == "neon"
    assert not isa_available("dsp")  # the Cortex-M4's, never a host's
    before = default_isa()
    case = GENERATORS["CONV_2D"](np.random.default_rng(5))
    with pytest.raises(ValueError, match="unknown kernel set"):
        Int8Model.from_bytes(case.model, isa="sse5")
    with pytest.raises(ValueError, match="not available"):
        Int8Model.from_bytes(case.model, isa="dsp")
    with pytest.raises(ValueError, match="unknown kernel set"):
        isa_available("mmx")
    # neither a refused choice nor a chosen one changes the default for later models
    Int8Model.from_bytes(case.model, isa="ref")
    assert default_isa() == before


# ---- refusals: what the ops do not implement is refused when the model is opened, naming the op ----

def _q(shape: tuple[int, ...], dtype: str = "int8", scale: float = 0.05, zp: int = 0) -> T:
    return T(shape, dtype, scale=scale, zero_point=zp)


_W = np.ones((2, 1, 1, 3), np.int8)
_REFUSED: list[tuple[str, bytes, str]] = [
    ("CONV_2D", one_op_model("CONV_2D", [_q((1, 4, 4, 3), "int16"), T(_W.shape, scale=0.1, data=_W)],
                             [_q((1, 4, 4, 2), "int16")]), "int16"),
    ("CONV_2D", one_op_model("CONV_2D", [_q((1, 4, 4, 3)), T(_W.shape, scale=0.1, data=_W)], [_q((1, 4, 4, 2))],
                             activation="TANH"), "TANH"),
    ("CONV_2D", one_op_model("CONV_2D", [_q((1, 4, 4, 3)), T(_W.shape, "float32", data=_W.astype(np.float32))],
                             [_q((1, 4, 4, 2))]), "hybrid"),
    ("DEPTHWISE_CONV_2D", one_op_model("DEPTHWISE_CONV_2D", [_q((1, 4, 4, 2)), T((1, 1, 1, 2), scale=0.1,
                                       quantized_dimension=3, data=np.ones((1, 1, 1, 2), np.int8)), None],
                                       [_q((1, 4, 4, 2))]), "omitted bias"),
    ("FULLY_CONNECTED", one_op_model("FULLY_CONNECTED", [_q((1, 3)), T((2, 3), scale=0.1,
                                     data=np.ones((2, 3), np.int8))], [_q((1, 2))], activation="SIGN_BIT"),
     "SIGN_BIT"),
    ("ADD", one_op_model("ADD", [_q((2, 3), "int16"), _q((2, 3), "int16")], [_q((2, 3), "int16")]), "int16"),
    ("ADD", one_op_model("ADD", [_q((2, 3)), _q((4, 3))], [_q((4, 3))]), "broadcast"),
    ("SOFTMAX", one_op_model("SOFTMAX", [_q((1, 5))], [_q((1, 5), scale=1.0 / 128, zp=-128)]), "1/256"),
    ("SOFTMAX", one_op_model("SOFTMAX", [_q((1, 5))], [_q((1, 5), "int16", scale=1.0 / 65536, zp=0)]),
     "int16 output must"),
    ("SOFTMAX", one_op_model("SOFTMAX", [_q((1, 5), "int16")], [_q((1, 5), "int16", scale=1.0 / 32768)]), "int16"),
    ("LOGISTIC", one_op_model("LOGISTIC", [_q((1, 5))], [_q((1, 5), scale=1.0 / 256, zp=0)]), "zero point"),
    ("MEAN", one_op_model("MEAN", [_q((2, 3)), T((1,), "int32")], [_q((2,))]), "constant"),
    ("MAX_POOL_2D", one_op_model("MAX_POOL_2D", [_q((1, 4, 4, 1))], [_q((1, 2, 2, 1), scale=0.1)], filter_h=2,
                                 filter_w=2, stride_h=2, stride_w=2), "quantisation differ"),
    ("QUANTIZE", one_op_model("QUANTIZE", [_q((4,), "uint8", zp=128)], [_q((4,), "int16")]), "from UINT8 to INT16"),
    ("QUANTIZE", one_op_model("QUANTIZE", [T((2, 2), "float32")], [T((2, 2), scale=[0.1, 0.2])]), "per-tensor"),
]


@pytest.mark.parametrize(("op", "model", "what"), _REFUSED, ids=[f"{op}-{what}" for op, _, what in _REFUSED])
def test_unimplemented_variants_are_refused_by_name(op: str, model: bytes, what: str) -> None:
    with pytest.raises(EngineError) as refused:
        Int8Model.from_bytes(model)
    message = str(refused.value)
    assert getattr(refused.value, "status", None) in ("GBNN_UNSUPPORTED", "GBNN_BAD_MODEL"), message
    assert op in message, message
    assert what.lower() in message.lower(), message


def test_a_tflm_crash_costs_one_case_not_the_batch() -> None:
    """TFLM segfaults on a DEPTHWISE_CONV_2D whose bias input is omitted (-1) (which is why gbnn refuses that form):
    the oracle reports that case as a crash and a fresh worker runs the rest."""
    x, y = _q((1, 4, 4, 2)), _q((1, 4, 4, 2))
    w = T((1, 1, 1, 2), scale=0.1, quantized_dimension=3, data=np.ones((1, 1, 1, 2), np.int8))
    good = one_op_model("DEPTHWISE_CONV_2D", [x, w], [y])
    crashing = one_op_model("DEPTHWISE_CONV_2D", [x, w, None], [y])
    inputs = [[np.arange(32, dtype=np.int8).reshape(1, 4, 4, 2)]]
    first, crashed, last = run_tflm([(good, inputs), (crashing, inputs), (good, inputs)])
    assert first.ok and last.ok and _same(first.outputs, last.outputs)
    assert crashed.crashed, f"TFLM no longer crashes on an omitted depthwise bias: {crashed}"
