"""Random one-op models across every variant gbnn's arithmetic ops implement, for tests/nn/test_ops_random.py.

``random_case(op, rng)`` returns a ``Case``: the model bytes (tests/nn/oplib.py), a few invocations of random
inputs, and a short description of the variant (for failure messages). Shapes, strides, padding, dilation,
activations, scales over several orders of magnitude, zero points at the extremes, per-channel scales, broadcast
shapes and axes are all drawn from ``rng``; the output scale is drawn around the one that keeps the output in
range, so that outputs are neither all saturated nor all zero (and some cases are, on purpose, far off).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from tests.nn.oplib import T, input_specs, one_op_model

Rng = np.random.Generator
Array = npt.NDArray[Any]

ACTIVATIONS = ["NONE", "RELU", "RELU6", "RELU_N1_TO_1"]


@dataclasses.dataclass
class Case:
    op: str
    model: bytes
    invocations: list[list[Array]]
    variant: str


def _zero_point(rng: Rng) -> int:
    r = rng.random()
    if r < 0.15:
        return -128
    if r < 0.25:
        return 127
    if r < 0.4:
        return 0
    return int(rng.integers(-128, 128))


def _log_uniform(rng: Rng, lo: float, hi: float) -> float:
    return float(np.float32(10.0 ** rng.uniform(lo, hi)))


def _int8(rng: Rng, shape: tuple[int, ...]) -> Array:
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def _inputs(rng: Rng, specs: list[T], n: int) -> list[list[Array]]:
    out: list[list[Array]] = []
    for _ in range(n):
        row: list[Array] = []
        for t in specs:
            if t.dtype == "float32":
                s = float(t.scale) if isinstance(t.scale, float) else 0.05
                row.append((rng.normal(0.0, 60.0, size=t.shape) * s).astype(np.float32))
            else:
                row.append(_int8(rng, t.shape))
        out.append(row)
    return out


def _out_size(padding: str, size: int, k: int, stride: int, dil: int) -> int:
    eff = (k - 1) * dil + 1
    return (size + stride - 1) // stride if padding == "SAME" else (size + stride - eff) // stride


def _window(rng: Rng, dilate: bool) -> tuple[str, int, int, int, int, int, int, int, int]:
    """padding, in_h, in_w, k_h, k_w, stride_h, stride_w, dil_h, dil_w with at least one output pixel."""
    while True:
        padding = "SAME" if rng.random() < 0.5 else "VALID"
        in_h, in_w = int(rng.integers(1, 10)), int(rng.integers(1, 10))
        k_h, k_w = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        s_h, s_w = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        d_h = int(rng.integers(1, 4)) if dilate and rng.random() < 0.3 else 1
        d_w = int(rng.integers(1, 4)) if dilate and rng.random() < 0.3 else 1
        if _out_size(padding, in_h, k_h, s_h, d_h) >= 1 and _out_size(padding, in_w, k_w, s_w, d_w) >= 1:
            return padding, in_h, in_w, k_h, k_w, s_h, s_w, d_h, d_w


def _filter_scales(rng: Rng, n: int, per_channel: bool) -> float | list[float]:
    base = rng.uniform(-3.5, -0.5)
    if not per_channel:
        return float(np.float32(10.0 ** base))
    return [float(np.float32(10.0 ** (base + rng.uniform(-1.0, 1.0)))) for _ in range(n)]


def _output_scale(rng: Rng, in_scale: float, f_scale: float, terms: int) -> float:
    """An output scale near the accumulator's typical magnitude, sometimes far from it."""
    typical = in_scale * f_scale * 60.0 * 70.0 * np.sqrt(max(terms, 1)) / 64.0
    spread = 2.5 if rng.random() < 0.1 else 0.7
    return float(np.float32(typical * 10.0 ** rng.uniform(-spread, spread)))


def _bias(rng: Rng, n: int, in_scale: float, f_scales: float | list[float], terms: int) -> tuple[Array, list[float]]:
    """int32 bias values of a typical accumulator's size, and their scales (input scale x filter scale)."""
    scales = [f_scales] * n if isinstance(f_scales, float) else f_scales
    mag = 60.0 * 70.0 * np.sqrt(max(terms, 1))
    values = np.array([int(rng.normal(0.0, mag)) for _ in range(n)], dtype=np.int32)
    return values, [float(np.float32(in_scale * s)) for s in scales]


def conv_2d(rng: Rng) -> Case:
    padding, in_h, in_w, k_h, k_w, s_h, s_w, d_h, d_w = _window(rng, dilate=True)
    batches = int(rng.integers(1, 3))
    groups = int(rng.integers(2, 4)) if rng.random() < 0.1 else 1
    f_d = int(rng.integers(1, 7)) if rng.random() < 0.95 else int(rng.integers(32, 257))  # some long accumulations
    c_in = f_d * groups
    c_out = groups * int(rng.integers(1, 5))
    per_channel = rng.random() < 0.7
    in_scale = _log_uniform(rng, -3, 0)
    f_scales = _filter_scales(rng, c_out, per_channel)
    f_mean = float(np.mean(f_scales))
    act = str(rng.choice(ACTIVATIONS))
    terms = k_h * k_w * f_d
    out_scale = _output_scale(rng, in_scale, f_mean, terms)
    weights = rng.integers(-127, 128, size=(c_out, k_h, k_w, f_d), dtype=np.int8)
    x = T((batches, in_h, in_w, c_in), scale=in_scale, zero_point=_zero_point(rng))
    f_zp = int(rng.integers(-20, 21)) if rng.random() < 0.05 else 0  # TFLM ignores a filter's zero point here
    w = T(weights.shape, scale=f_scales, zero_point=f_zp, quantized_dimension=0, data=weights)
    bias: T | None = None
    if rng.random() < 0.8:
        values, b_scales = _bias(rng, c_out, in_scale, f_scales, terms)
        bias = T((c_out,), "int32", scale=b_scales, zero_point=0, data=values)
    out_h = _out_size(padding, in_h, k_h, s_h, d_h)
    out_w = _out_size(padding, in_w, k_w, s_w, d_w)
    y = T((batches, out_h, out_w, c_out), scale=out_scale, zero_point=_zero_point(rng))
    inputs: list[T | None] = [x, w, bias] if bias is not None or rng.random() < 0.5 else [x, w]
    model = one_op_model("CONV_2D", inputs, [y], padding=padding, stride_h=s_h, stride_w=s_w, dilation_h=d_h,
                         dilation_w=d_w, activation=act)
    variant = (f"conv {x.shape}x{w.shape} {padding} s{s_h},{s_w} d{d_h},{d_w} {act} groups={groups} "
               f"per_channel={per_channel} bias={bias is not None} filter_zp={f_zp}")
    return Case("CONV_2D", model, _inputs(rng, input_specs(inputs), 3), variant)


def depthwise_conv_2d(rng: Rng) -> Case:
    padding, in_h, in_w, k_h, k_w, s_h, s_w, d_h, d_w = _window(rng, dilate=True)
    batches = int(rng.integers(1, 3))
    c_in = int(rng.integers(1, 9)) if rng.random() < 0.9 else int(rng.integers(60, 141))  # past 64-channel blocks
    mult = int(rng.integers(1, 4)) if rng.random() < 0.4 else 1
    c_out = c_in * mult
    per_channel = rng.random() < 0.7
    in_scale = _log_uniform(rng, -3, 0)
    f_scales = _filter_scales(rng, c_out, per_channel)
    act = str(rng.choice(ACTIVATIONS))
    terms = k_h * k_w
    out_scale = _output_scale(rng, in_scale, float(np.mean(f_scales)), terms)
    weights = rng.integers(-127, 128, size=(1, k_h, k_w, c_out), dtype=np.int8)
    x = T((batches, in_h, in_w, c_in), scale=in_scale, zero_point=_zero_point(rng))
    f_zp = int(rng.integers(-20, 21)) if rng.random() < 0.05 else 0  # TFLM ignores a filter's zero point here
    w = T(weights.shape, scale=f_scales, zero_point=f_zp, quantized_dimension=3, data=weights)
    bias: T | None = None
    if rng.random() < 0.8:
        values, b_scales = _bias(rng, c_out, in_scale, f_scales, terms)
        bias = T((c_out,), "int32", scale=b_scales, zero_point=0, data=values)
    out_h = _out_size(padding, in_h, k_h, s_h, d_h)
    out_w = _out_size(padding, in_w, k_w, s_w, d_w)
    y = T((batches, out_h, out_w, c_out), scale=out_scale, zero_point=_zero_point(rng))
    inputs: list[T | None] = [x, w, bias] if bias is not None else [x, w]  # TFLM crashes on an omitted (-1) bias
    model = one_op_model("DEPTHWISE_CONV_2D", inputs, [y], padding=padding, stride_h=s_h, stride_w=s_w,
                         dilation_h=d_h, dilation_w=d_w, depth_multiplier=mult, activation=act)
    variant = (f"depthwise {x.shape}x{w.shape} {padding} s{s_h},{s_w} d{d_h},{d_w} m{mult} {act} "
               f"per_channel={per_channel} bias={bias is not None} filter_zp={f_zp}")
    return Case("DEPTHWISE_CONV_2D", model, _inputs(rng, input_specs(inputs), 3), variant)


def fully_connected(rng: Rng) -> Case:
    depth = int(rng.integers(1, 65)) if rng.random() < 0.95 else int(rng.integers(256, 4097))
    units = int(rng.integers(1, 17))
    keep = rng.random() < 0.3
    lead = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(1, 3)))]
    in_shape = (*lead, depth)
    per_channel = rng.random() < 0.3
    in_scale = _log_uniform(rng, -3, 0)
    f_scales = _filter_scales(rng, units, per_channel)
    act = str(rng.choice(ACTIVATIONS))
    out_scale = _output_scale(rng, in_scale, float(np.mean(f_scales)), depth)
    weights = rng.integers(-127, 128, size=(units, depth), dtype=np.int8)
    x = T(in_shape, scale=in_scale, zero_point=_zero_point(rng))
    # A filter zero point: TFLM applies it per-tensor and ignores it per-channel (gbnn does the same).
    f_zp = int(rng.integers(-20, 21)) if rng.random() < (0.05 if per_channel else 0.15) else 0
    w = T(weights.shape, scale=f_scales, zero_point=f_zp, data=weights)
    bias: T | None = None
    if rng.random() < 0.8:
        values, b_scales = _bias(rng, units, in_scale, f_scales, depth)
        bias = T((units,), "int32", scale=b_scales if per_channel else b_scales[0], zero_point=0, data=values)
    out_shape = (*lead, units) if keep else (int(np.prod(lead)), units)
    y = T(out_shape, scale=out_scale, zero_point=_zero_point(rng))
    inputs: list[T | None] = [x, w, bias] if bias is not None or rng.random() < 0.5 else [x, w]
    model = one_op_model("FULLY_CONNECTED", inputs, [y], activation=act, keep_num_dims=keep)
    variant = (f"fc {in_shape}x{weights.shape} keep={keep} {act} per_channel={per_channel} "
               f"bias={bias is not None} filter_zp={f_zp}")
    return Case("FULLY_CONNECTED", model, _inputs(rng, input_specs(inputs), 3), variant)


def _broadcast_shapes(rng: Rng) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    rank = int(rng.integers(1, 6))
    out = [int(rng.integers(1, 6)) for _ in range(rank)]
    a = list(out)
    b = list(out)
    if rng.random() < 0.7:
        for i in range(rank):
            r = rng.random()
            if r < 0.3:
                a[i] = 1
            elif r < 0.6:
                b[i] = 1
        if rng.random() < 0.3:
            b = b[int(rng.integers(0, rank + 1)):]  # fewer dims: aligned at the trailing ones
        elif rng.random() < 0.3:
            a = a[int(rng.integers(0, rank + 1)):]
    full = [max(x, y) for x, y in zip([1] * (rank - len(a)) + a, [1] * (rank - len(b)) + b, strict=True)]
    return tuple(a), tuple(b), tuple(full)


def add(rng: Rng) -> Case:
    a_shape, b_shape, out_shape = _broadcast_shapes(rng)
    s1 = _log_uniform(rng, -3, 0)
    s2 = s1 * 10.0 ** rng.uniform(-1.5, 1.5) if rng.random() < 0.8 else s1
    s2 = float(np.float32(s2))
    out_scale = float(np.float32(max(s1, s2) * 10.0 ** rng.uniform(-0.5, 1.0)))
    act = str(rng.choice(ACTIVATIONS))
    x = T(a_shape, scale=s1, zero_point=_zero_point(rng))
    y = T(b_shape, scale=s2, zero_point=_zero_point(rng))
    z = T(out_shape, scale=out_scale, zero_point=_zero_point(rng))
    model = one_op_model("ADD", [x, y], [z], activation=act)
    return Case("ADD", model, _inputs(rng, [x, y], 3), f"add {a_shape}+{b_shape}->{out_shape} {act}")


def mean(rng: Rng) -> Case:
    rank = int(rng.integers(1, 5))
    shape = tuple(int(rng.integers(1, 7)) for _ in range(rank))
    if rank == 4 and rng.random() < 0.4:
        axes = [1, 2] if rng.random() < 0.5 else [2, 1]  # the pooling case real models use
    else:
        n_axes = int(rng.integers(1, rank + 1))
        axes = [int(a) for a in rng.choice(rank, size=n_axes, replace=False)]
        axes = [a - rank if rng.random() < 0.3 else a for a in axes]
        if rng.random() < 0.1:
            axes.append(axes[0])  # a duplicate
    keep = rng.random() < 0.5
    reduced = {a % rank for a in axes}
    out_shape = tuple(1 if i in reduced else d for i, d in enumerate(shape)) if keep else \
        tuple(d for i, d in enumerate(shape) if i not in reduced)
    in_scale = _log_uniform(rng, -3, 0)
    out_scale = float(np.float32(in_scale * 10.0 ** rng.uniform(-0.7, 0.7)))
    x = T(shape, scale=in_scale, zero_point=_zero_point(rng))
    ax = T((len(axes),), "int32", data=np.array(axes, dtype=np.int32))
    y = T(out_shape, scale=out_scale, zero_point=_zero_point(rng))
    model = one_op_model("MEAN", [x, ax], [y], keep_dims=keep)
    return Case("MEAN", model, _inputs(rng, [x], 3), f"mean {shape} axes={axes} keep={keep}")


def softmax(rng: Rng) -> Case:
    rank = int(rng.integers(1, 5))
    shape = [int(rng.integers(1, 5)) for _ in range(rank)]
    shape[-1] = int(rng.integers(1, 40)) if rng.random() < 0.8 else int(rng.integers(40, 300))
    beta = float(np.float32(rng.uniform(0.2, 2.0))) if rng.random() < 0.5 else 1.0
    while True:
        in_scale = _log_uniform(rng, -2.5, 0.5) if rng.random() < 0.95 else _log_uniform(rng, 1.0, 2.0)
        if beta * in_scale * 2 ** 26 > 2.0:
            break
    x = T(tuple(shape), scale=in_scale, zero_point=_zero_point(rng))
    int16 = rng.random() < 0.25
    y = T(tuple(shape), "int16", scale=1.0 / 65536.0, zero_point=-32768) if int16 else \
        T(tuple(shape), scale=1.0 / 256.0, zero_point=-128)
    model = one_op_model("SOFTMAX", [x], [y], beta=beta)
    variant = f"softmax {tuple(shape)} beta={beta:.3f} scale={in_scale:.3g} out={y.dtype}"
    return Case("SOFTMAX", model, _inputs(rng, [x], 3), variant)


def logistic(rng: Rng) -> Case:
    shape = tuple(int(rng.integers(1, 9)) for _ in range(int(rng.integers(1, 4))))
    scale = _log_uniform(rng, -3, 0.7)
    x = T(shape, scale=scale, zero_point=_zero_point(rng))
    y = T(shape, scale=1.0 / 256.0, zero_point=-128)
    model = one_op_model("LOGISTIC", [x], [y])
    wide = " radius<2" if scale >= 4.0 else ""  # TFLM saturates every input but the zero point
    return Case("LOGISTIC", model, _inputs(rng, [x], 3), f"logistic {shape} scale={scale}{wide}")


def max_pool_2d(rng: Rng) -> Case:
    padding, in_h, in_w, k_h, k_w, s_h, s_w, _, _ = _window(rng, dilate=False)
    shape = (int(rng.integers(1, 3)), in_h, in_w, int(rng.integers(1, 9)))
    scale = _log_uniform(rng, -3, 0)
    zp = _zero_point(rng)
    act = str(rng.choice(ACTIVATIONS))
    x = T(shape, scale=scale, zero_point=zp)
    out = (shape[0], _out_size(padding, in_h, k_h, s_h, 1), _out_size(padding, in_w, k_w, s_w, 1), shape[3])
    y = T(out, scale=scale, zero_point=zp)
    model = one_op_model("MAX_POOL_2D", [x], [y], padding=padding, stride_h=s_h, stride_w=s_w, filter_h=k_h,
                         filter_w=k_w, activation=act)
    variant = f"maxpool {shape} k{k_h},{k_w} s{s_h},{s_w} {padding} {act}"
    return Case("MAX_POOL_2D", model, _inputs(rng, [x], 3), variant)


_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767), "int32": (-(2 ** 31), 2 ** 31 - 1)}
# TFLM's QUANTIZE pairs (quantize_common.cc): from float32, and the requantisations.
_QUANTIZE_PAIRS = [("float32", "int8"), ("float32", "int16"), ("int8", "int8"), ("int8", "uint8"), ("int8", "int16"),
                   ("int8", "int32"), ("uint8", "int8"), ("int16", "int8"), ("int16", "int16"), ("int16", "int32"),
                   ("int32", "int8"), ("int32", "int16")]


def _typed_zero_point(rng: Rng, dtype: str) -> int:
    lo, hi = _RANGES[dtype]
    if dtype == "int8":
        return _zero_point(rng)
    if dtype == "uint8":
        return int(rng.choice([0, 128, 255, int(rng.integers(0, 256))]))
    return int(rng.choice([0, lo if dtype == "int16" else 0, int(rng.integers(-300, 300))]))


def quantize(rng: Rng) -> Case:
    shape = tuple(int(rng.integers(1, 9)) for _ in range(int(rng.integers(1, 4))))
    src, dst = _QUANTIZE_PAIRS[int(rng.integers(0, len(_QUANTIZE_PAIRS)))] if rng.random() < 0.5 else \
        (("float32", "int8") if rng.random() < 0.5 else ("int8", "int8"))  # the common two, half of the time
    out_scale = _log_uniform(rng, -3, 0)
    y = T(shape, dst, scale=out_scale, zero_point=_typed_zero_point(rng, dst))
    if src == "float32":
        x = T(shape, "float32", scale=None)
        model = one_op_model("QUANTIZE", [x], [y])
        span = 80.0 if dst == "int8" else 20000.0
        invocations = []
        for _ in range(3):
            v = rng.normal(0.0, span, size=shape) * out_scale
            ties = (np.round(rng.normal(0.0, span, size=shape)) + 0.5) * out_scale  # halfway cases
            pick = rng.random(size=shape) < 0.3
            invocations.append([np.where(pick, ties, v).astype(np.float32)])
        return Case("QUANTIZE", model, invocations, f"quantize float32->{dst} {shape} scale={out_scale:.3g}")
    in_scale = float(np.float32(out_scale * 10.0 ** rng.uniform(-2, 2)))
    x = T(shape, src, scale=in_scale, zero_point=_typed_zero_point(rng, src))
    model = one_op_model("QUANTIZE", [x], [y])
    lo, hi = _RANGES[src]
    if src == "int32":
        lo, hi = -(2 ** 20), 2 ** 20  # away from int32 wrap-around, where TFLM's arithmetic overflows
    invocations = [[rng.integers(lo, hi, size=shape, endpoint=True).astype(x.np_dtype)] for _ in range(3)]
    return Case("QUANTIZE", model, invocations, f"requantize {src}->{dst} {shape} {in_scale:.3g}->{out_scale:.3g}")


GENERATORS: dict[str, Callable[[Rng], Case]] = {
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "FULLY_CONNECTED": fully_connected,
    "ADD": add,
    "MEAN": mean,
    "SOFTMAX": softmax,
    "LOGISTIC": logistic,
    "MAX_POOL_2D": max_pool_2d,
    "QUANTIZE": quantize,
}
