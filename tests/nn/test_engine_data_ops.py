"""gbnn's data-movement ops (the core's: STRIDED_SLICE, CONCATENATION, SPLIT_V, RESHAPE) on random one-op models,
against TFLite Micro (tests/nn/oracles.py's worker), LiteRT's reference kernels (BUILTIN_REF) and numpy's slicing.

Each case is a model whose output shapes are numpy's for the same slicing / concatenation / split, so a shape the
engine and an oracle compute differently shows up as a refusal on one side only. The rule checked, per case and per
oracle: gbnn opens the model exactly when the oracle runs it (a crash of TFLM excepted), and then every output is
equal to the oracle's, byte for byte, and to numpy's. The oracles: on x86_64 TFLM AND BUILTIN_REF (so these runs
also show that BUILTIN_REF equals TFLM on every case, refusals included); where tflite-micro has no wheel (aarch64,
`make test-arm64`) BUILTIN_REF alone. Variants gbnn refuses by design (TFLM's own limits: int8 inputs quantised
unlike the output, rank 5 slices, ellipsis / new-axis masks) are checked to be refused by name. Element types: int8
(quantised), int16 (zero point 0), int32 and float32. Then 200 random graphs of these ops (1-D int8 tensors) check
the planner: the arena shared by lifetime gives numpy's and the oracles' outputs. Run time: about 4 s on x86_64.
"""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

import flatbuffers  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import pytest

from glassbridge.nn.engine import EngineError, Int8Model
from tests.nn import oplib, oracles

tflite = pytest.importorskip("tflite")

Array = npt.NDArray[Any]
T = oplib.T

# Options writers for the core's ops (oplib writes the arithmetic ops' own).
oplib.OPS.setdefault("SPLIT_V", (102, 79))


def _concat_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.ConcatenationOptionsStart(b)
    tflite.ConcatenationOptionsAddAxis(b, int(o.get("axis", 0)))
    tflite.ConcatenationOptionsAddFusedActivationFunction(b, 0)
    return int(tflite.ConcatenationOptionsEnd(b))


def _slice_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.StridedSliceOptionsStart(b)
    tflite.StridedSliceOptionsAddBeginMask(b, int(o.get("begin_mask", 0)))
    tflite.StridedSliceOptionsAddEndMask(b, int(o.get("end_mask", 0)))
    tflite.StridedSliceOptionsAddEllipsisMask(b, int(o.get("ellipsis_mask", 0)))
    tflite.StridedSliceOptionsAddNewAxisMask(b, int(o.get("new_axis_mask", 0)))
    tflite.StridedSliceOptionsAddShrinkAxisMask(b, int(o.get("shrink_axis_mask", 0)))
    return int(tflite.StridedSliceOptionsEnd(b))


def _split_v_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.SplitVOptionsStart(b)
    tflite.SplitVOptionsAddNumSplits(b, int(o["num_splits"]))
    return int(tflite.SplitVOptionsEnd(b))


def _reshape_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    # new_shape, as the converter writes it: LiteRT reads it when there is no shape input (TFLM and gbnn take the
    # output tensor's shape and read neither).
    new_shape = [int(v) for v in o.get("new_shape", ())]
    vec = None
    if new_shape:
        tflite.ReshapeOptionsStartNewShapeVector(b, len(new_shape))
        for v in reversed(new_shape):
            b.PrependInt32(v)
        vec = b.EndVector()
    tflite.ReshapeOptionsStart(b)
    if vec is not None:
        tflite.ReshapeOptionsAddNewShape(b, vec)
    return int(tflite.ReshapeOptionsEnd(b))


_WRITERS: dict[str, Callable[[flatbuffers.Builder, dict[str, Any]], int]] = {
    "CONCATENATION": _concat_options, "STRIDED_SLICE": _slice_options, "SPLIT_V": _split_v_options,
    "RESHAPE": _reshape_options}
for _name, _writer in _WRITERS.items():
    oplib._OPTIONS.setdefault(_name, _writer)

def qt(shape: tuple[int, ...], dtype: str = "int8") -> oplib.T:
    """A tensor of `dtype` as the cases use it: int8 quantised (scale 0.05, zero point -3), int16 quantised with a
    zero point of 0 (TFLM requires it), int32 and float32 unquantised."""
    dims = tuple(int(v) for v in shape)
    if dtype == "int8":
        return T(dims, scale=0.05, zero_point=-3)
    if dtype == "int16":
        return T(dims, "int16", scale=0.01, zero_point=0)
    return T(dims, dtype)


_DTYPES = ("int8", "int8", "int16", "int32", "float32")  # int8 (the engine's use) twice as often


def _values(rng: np.random.Generator, shape: tuple[int, ...] | list[int], dtype: str) -> Array:
    if dtype == "float32":
        return rng.standard_normal(size=tuple(shape)).astype(np.float32)
    info = np.iinfo(np.dtype(dtype))
    return rng.integers(max(info.min, -(1 << 20)), min(info.max, 1 << 20) + 1, size=tuple(shape)).astype(dtype)


def _shape(rng: np.random.Generator, rank: int) -> tuple[int, ...]:
    return tuple(int(v) for v in rng.integers(1, 6, size=rank))


def _slice_case(rng: np.random.Generator) -> tuple[bytes, list[Array], list[Array]] | None:
    rank = int(rng.integers(1, 5))
    shape = _shape(rng, rank)
    dtype = str(rng.choice(_DTYPES))
    x = _values(rng, shape, dtype)
    begin: list[int] = []
    end: list[int] = []
    strides: list[int] = []
    index: list[int | slice] = []
    bm = em = sm = 0
    for k, n in enumerate(shape):
        s = int(rng.choice([-3, -2, -1, 1, 1, 1, 2, 3]))
        b = int(rng.integers(-n - 1, n + 2))
        e = int(rng.integers(-n - 1, n + 2))
        shrink = rng.random() < 0.15 and -n <= b < n
        if shrink and s < 0:
            s = -s  # TFLM writes nothing for a shrunk axis with a negative stride: test_refused_variants
        begin.append(b)
        end.append(e)
        strides.append(s)
        if shrink:
            sm |= 1 << k
            index.append(b)
            continue
        if rng.random() < 0.25:
            bm |= 1 << k
        if rng.random() < 0.25:
            em |= 1 << k
        index.append(slice(None if bm >> k & 1 else b, None if em >> k & 1 else e, s))
    want = x[tuple(index)]
    if want.ndim == 0 or want.size == 0:
        return None  # TFLM runs some empty outputs and fails to allocate others; gbnn refuses them all
    inputs = [qt(shape, dtype), T((rank,), "int32", data=np.array(begin, np.int32)),
              T((rank,), "int32", data=np.array(end, np.int32)), T((rank,), "int32", data=np.array(strides, np.int32))]
    model = oplib.one_op_model("STRIDED_SLICE", inputs, [qt(want.shape, dtype)], begin_mask=bm, end_mask=em,
                               shrink_axis_mask=sm)
    return model, [x], [np.ascontiguousarray(want)]


def _concat_case(rng: np.random.Generator) -> tuple[bytes, list[Array], list[Array]]:
    rank = int(rng.integers(1, 5))
    base = _shape(rng, rank)
    axis = int(rng.integers(-rank, rank))
    dtype = str(rng.choice(_DTYPES))
    xs = []
    for _ in range(int(rng.integers(1, 5))):
        s = list(base)
        s[axis] = int(rng.integers(1, 5))
        xs.append(_values(rng, s, dtype))
    want = np.concatenate(xs, axis=axis)
    model = oplib.one_op_model("CONCATENATION", [qt(x.shape, dtype) for x in xs], [qt(want.shape, dtype)], axis=axis)
    return model, xs, [want]


def _split_case(rng: np.random.Generator) -> tuple[bytes, list[Array], list[Array]]:
    rank = int(rng.integers(1, 5))
    shape = list(_shape(rng, rank))
    axis = int(rng.integers(-rank, rank))
    parts = [int(v) for v in rng.integers(1, 4, size=int(rng.integers(1, 5)))]
    shape[axis] = sum(parts)
    dtype = str(rng.choice(_DTYPES))
    x = _values(rng, shape, dtype)
    wants = np.split(x, np.cumsum(parts)[:-1], axis=axis)
    sizes = list(parts)
    if rng.random() < 0.3:
        sizes[int(rng.integers(0, len(sizes)))] = -1
    inputs = [qt(tuple(shape), dtype), T((len(sizes),), "int32", data=np.array(sizes, np.int32)),
              T((), "int32", data=np.array(axis, np.int32))]
    model = oplib.one_op_model("SPLIT_V", inputs, [qt(w.shape, dtype) for w in wants], num_splits=len(parts))
    return model, [x], [np.ascontiguousarray(w) for w in wants]


def _reshape_case(rng: np.random.Generator) -> tuple[bytes, list[Array], list[Array]]:
    shape = _shape(rng, int(rng.integers(1, 5)))
    dtype = str(rng.choice(_DTYPES))
    x = _values(rng, shape, dtype)
    flat = x.size
    divisors = [d for d in range(1, flat + 1) if flat % d == 0]
    d = int(rng.choice(divisors))
    new = (d, flat // d) if rng.random() < 0.5 else (1, flat)
    inputs: list[T | None] = [qt(shape, dtype)]
    options: dict[str, Any] = {"new_shape": new}
    if rng.random() < 0.5:
        inputs.append(T((len(new),), "int32", data=np.array(new, np.int32)))
        options = {}  # the shape input alone
    model = oplib.one_op_model("RESHAPE", inputs, [qt(new, dtype)], **options)
    return model, [x], [x.reshape(new)]


def _oracle_outcomes(cases: list[tuple[bytes, list[Array], list[Array]]]) -> dict[str, list[oracles.Outcome]]:
    """Each case through every oracle this machine has: TFLM (x86_64) and LiteRT BUILTIN_REF."""
    outcomes: dict[str, list[oracles.Outcome]] = {}
    if oracles.tflm_available():
        outcomes["TFLM"] = oracles.run_tflm([(model, [inputs]) for model, inputs, _ in cases])
    if oracles.litert_available():
        outcomes["BUILTIN_REF"] = [oracles.run_litert_ref(model, [inputs]) for model, inputs, _ in cases]
    return outcomes


def _run_cases(cases: list[tuple[bytes, list[Array], list[Array]]]) -> tuple[int, int]:
    """Each case through gbnn and every oracle; returns (cases all ran, cases all refused)."""
    outcomes = _oracle_outcomes(cases)
    ran = refused = 0
    for k, (model, inputs, want) in enumerate(cases):
        try:
            m = Int8Model.from_bytes(model)
        except EngineError as e:
            for name, results in outcomes.items():
                assert not results[k].ok, f"case {k}: gbnn refused what {name} runs: {e}"
            refused += 1
            continue
        got = m.run(*inputs)
        for name, results in outcomes.items():
            oracle = results[k]
            assert oracle.ok or oracle.crashed, f"case {k}: gbnn runs what {name} refuses ({oracle.error})"
            if not oracle.ok:  # a crash of TFLM: the other oracle and numpy
                continue
            for j, (g, t) in enumerate(zip(got, oracle.outputs[0], strict=True)):
                assert g.dtype == np.asarray(t).dtype and g.shape == np.asarray(t).shape, f"case {k} output {j}"
                assert g.tobytes() == np.asarray(t).tobytes(), f"case {k} output {j}: differs from {name}"
        for j, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g.dtype == w.dtype and g.shape == w.shape, f"case {k} output {j}"
            assert np.array_equal(g, w), f"case {k} output {j}: differs from numpy"
        ran += 1
    return ran, refused


_NO_ORACLE = "neither tflite-micro (x86_64 wheels only) nor LiteRT (ai_edge_litert) is installed"
needs_an_oracle = pytest.mark.skipif(not (oracles.tflm_available() or oracles.litert_available()), reason=_NO_ORACLE)


@needs_an_oracle
@pytest.mark.parametrize("make", [_slice_case, _concat_case, _split_case, _reshape_case],
                         ids=["strided_slice", "concatenation", "split_v", "reshape"])
def test_random_cases_match_the_oracles_and_numpy(make: Callable[[np.random.Generator], Any]) -> None:
    rng = np.random.default_rng(1515)
    cases: list[tuple[bytes, list[Array], list[Array]]] = []
    while len(cases) < 150:
        case = make(rng)
        if case is not None:
            cases.append(case)
    ran, refused = _run_cases(cases)
    assert ran >= 120, f"only {ran} of {len(cases)} ran ({refused} refused by all)"


def test_x86_64_has_both_oracles() -> None:
    # On x86_64 the cases above compare TFLM with BUILTIN_REF too: what lets aarch64 rely on BUILTIN_REF alone.
    if platform.machine() == "x86_64":
        assert oracles.tflm_available() and oracles.litert_available()
    else:
        assert oracles.litert_available(), "aarch64 checks gbnn against LiteRT BUILTIN_REF (ai_edge_litert)"


def _refusal(model: bytes, *words: str) -> None:
    with pytest.raises(EngineError) as e:
        Int8Model.from_bytes(model)
    assert getattr(e.value, "status") == "GBNN_UNSUPPORTED"
    for w in words:
        assert w in str(e.value)


def test_refused_variants_name_the_op() -> None:
    x = qt((2, 3))
    # TFLM's int8 concatenation does not rescale: an input quantised unlike the output is refused.
    _refusal(oplib.one_op_model("CONCATENATION", [x, T((2, 3), scale=0.1, zero_point=-3)], [qt((4, 3))], axis=0),
             "CONCATENATION", "quantisation")
    # Ellipsis masks (TFLM ignores them, so would compute something else) and rank-5 slices.
    idx = [T((2,), "int32", data=np.array(v, np.int32)) for v in ([0, 0], [2, 3], [1, 1])]
    _refusal(oplib.one_op_model("STRIDED_SLICE", [x, *idx], [qt((2, 3))], ellipsis_mask=1), "STRIDED_SLICE",
             "ellipsis")
    idx5 = [T((5,), "int32", data=np.array(v, np.int32)) for v in ([0] * 5, [1] * 5, [1] * 5)]
    _refusal(oplib.one_op_model("STRIDED_SLICE", [qt((1, 1, 1, 1, 1)), *idx5], [qt((1, 1, 1, 1, 1))]),
             "STRIDED_SLICE", "rank 5")
    # A shrunk axis with a negative stride: TFLM's loop never enters it and leaves the output unwritten.
    idx = [T((2,), "int32", data=np.array(v, np.int32)) for v in ([0, 1], [2, 2], [1, -1])]
    _refusal(oplib.one_op_model("STRIDED_SLICE", [x, *idx], [qt((2,))], shrink_axis_mask=2), "STRIDED_SLICE",
             "slices 0 elements")
    # An op gbnn lacks altogether.
    oplib.OPS.setdefault("TANH", (28, 0))
    _refusal(oplib.one_op_model("TANH", [x], [x]), "TANH (builtin 28)")


# ---- buffers outside the flatbuffer (the schema's newer Buffer.offset / Buffer.size form) ----

_PLACEHOLDER = 0x1122334455667788


def _external_constant_concat(const: Array, in_shape: tuple[int, ...], out_shape: tuple[int, ...], axis: int) -> bytes:
    """CONCATENATION of the input with a constant whose bytes follow the flatbuffer (Buffer.offset, Buffer.size)."""
    b = flatbuffers.Builder(1024)
    tflite.BufferStart(b)
    empty = tflite.BufferEnd(b)
    tflite.BufferStart(b)
    tflite.BufferAddOffset(b, _PLACEHOLDER)  # patched below once the flatbuffer's length is known
    tflite.BufferAddSize(b, const.nbytes)
    outside = tflite.BufferEnd(b)

    def ivec(values: tuple[int, ...] | list[int]) -> int:
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependInt32(int(v))
        return int(b.EndVector())

    def offsets(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return int(b.EndVector())

    tensors = []
    for shape, buffer in ((in_shape, 0), (tuple(const.shape), 1), (out_shape, 0)):
        dims = ivec(shape)
        b.StartVector(4, 1, 4)
        b.PrependFloat32(0.05)
        scales = b.EndVector()
        b.StartVector(8, 1, 8)
        b.PrependInt64(-3)
        zeros = b.EndVector()
        tflite.QuantizationParametersStart(b)
        tflite.QuantizationParametersAddScale(b, scales)
        tflite.QuantizationParametersAddZeroPoint(b, zeros)
        quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, dims)
        tflite.TensorAddType(b, 9)  # INT8
        tflite.TensorAddBuffer(b, buffer)
        tflite.TensorAddQuantization(b, quant)
        tensors.append(int(tflite.TensorEnd(b)))
    options = _concat_options(b, {"axis": axis})
    op_in, op_out = ivec([0, 1]), ivec([2])
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_in)
    tflite.OperatorAddOutputs(b, op_out)
    tflite.OperatorAddBuiltinOptionsType(b, 10)
    tflite.OperatorAddBuiltinOptions(b, options)
    operator = int(tflite.OperatorEnd(b))
    tensors_vec, operators_vec, sg_in, sg_out = offsets(tensors), offsets([operator]), ivec([0]), ivec([2])
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vec)
    tflite.SubGraphAddInputs(b, sg_in)
    tflite.SubGraphAddOutputs(b, sg_out)
    tflite.SubGraphAddOperators(b, operators_vec)
    subgraph = int(tflite.SubGraphEnd(b))
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, 2)
    tflite.OperatorCodeAddBuiltinCode(b, 2)
    tflite.OperatorCodeAddVersion(b, 1)
    code = int(tflite.OperatorCodeEnd(b))
    codes_vec, subgraphs_vec, buffers_vec = offsets([code]), offsets([subgraph]), offsets([int(empty), int(outside)])
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, subgraphs_vec)
    tflite.ModelAddBuffers(b, buffers_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    fb = bytearray(b.Output())
    at = fb.find(_PLACEHOLDER.to_bytes(8, "little"))
    assert at > 0
    offset = (len(fb) + 15) // 16 * 16
    fb[at:at + 8] = offset.to_bytes(8, "little")
    return bytes(fb) + bytes(offset - len(fb)) + const.tobytes()


@pytest.mark.skipif(not oracles.litert_available(), reason="LiteRT not installed")
def test_constants_outside_the_flatbuffer_match_litert_ref() -> None:
    # TFLM does not read Buffer.offset (it would take the constant for an activation): LiteRT's reference kernels,
    # which do, are the oracle here.
    rng = np.random.default_rng(8)
    const = rng.integers(-128, 128, size=(1, 4, 6), dtype=np.int8)
    model = _external_constant_concat(const, (1, 2, 6), (1, 6, 6), 1)
    x = rng.integers(-128, 128, size=(1, 2, 6), dtype=np.int8)
    ref = oracles.run_litert_ref(model, [[x]])
    assert ref.ok, ref.error
    got = Int8Model.from_bytes(model).run(x)[0]
    assert np.array_equal(got, ref.outputs[0][0]) and np.array_equal(got, np.concatenate([x, const], axis=1))
    # A buffer claiming bytes past the model's end is refused.
    with pytest.raises(EngineError, match="outside the model"):
        Int8Model.from_bytes(model[:-1])


# ---- the planner: random graphs of the data ops, tensors sharing the arena by lifetime ----

_CODES = {"CONCATENATION": (2, 10), "STRIDED_SLICE": (45, 32), "SPLIT_V": (102, 79)}


def _graph_model(n_inputs: int, tensors: list[tuple[int, Array | None]], ops: list[tuple[str, list[int], list[int],
                 dict[str, int]]], outputs: list[int]) -> bytes:
    """A one-subgraph model of 1-D tensors: `tensors` are (length, constant int32 data or None, int8 otherwise),
    the first `n_inputs` the model's inputs; `ops` are (op, inputs, outputs, options)."""
    b = flatbuffers.Builder(4096)

    def ivec(values: list[int]) -> int:
        b.StartVector(4, len(values), 4)
        for v in reversed(values):
            b.PrependInt32(int(v))
        return int(b.EndVector())

    def offsets(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return int(b.EndVector())

    buffers: list[int] = []
    tflite.BufferStart(b)
    buffers.append(int(tflite.BufferEnd(b)))
    buffer_of: list[int] = []
    for _, data in tensors:
        if data is None:
            buffer_of.append(0)
            continue
        raw = np.ascontiguousarray(data, dtype=np.int32).tobytes()
        b.StartVector(1, len(raw), 16)
        b.head = b.head - len(raw)
        b.Bytes[b.head:b.head + len(raw)] = raw
        vec = b.EndVector()
        tflite.BufferStart(b)
        tflite.BufferAddData(b, vec)
        buffer_of.append(len(buffers))
        buffers.append(int(tflite.BufferEnd(b)))
    tensor_tables = []
    for i, (length, data) in enumerate(tensors):
        shape = ivec([length])
        quant = None
        if data is None:
            b.StartVector(4, 1, 4)
            b.PrependFloat32(0.05)
            scales = b.EndVector()
            b.StartVector(8, 1, 8)
            b.PrependInt64(-3)
            zeros = b.EndVector()
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, scales)
            tflite.QuantizationParametersAddZeroPoint(b, zeros)
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, 9 if data is None else 2)
        tflite.TensorAddBuffer(b, buffer_of[i])
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        tensor_tables.append(int(tflite.TensorEnd(b)))
    names = sorted(_CODES)
    op_tables = []
    for name, ins, outs, options in ops:
        opts = _WRITERS[name](b, options)
        vin, vout = ivec(ins), ivec(outs)
        tflite.OperatorStart(b)
        tflite.OperatorAddOpcodeIndex(b, names.index(name))
        tflite.OperatorAddInputs(b, vin)
        tflite.OperatorAddOutputs(b, vout)
        tflite.OperatorAddBuiltinOptionsType(b, _CODES[name][1])
        tflite.OperatorAddBuiltinOptions(b, opts)
        op_tables.append(int(tflite.OperatorEnd(b)))
    tensors_vec, ops_vec = offsets(tensor_tables), offsets(op_tables)
    sg_in, sg_out = ivec(list(range(n_inputs))), ivec(outputs)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vec)
    tflite.SubGraphAddInputs(b, sg_in)
    tflite.SubGraphAddOutputs(b, sg_out)
    tflite.SubGraphAddOperators(b, ops_vec)
    subgraph = int(tflite.SubGraphEnd(b))
    codes = []
    for name in names:
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(_CODES[name][0], 127))
        tflite.OperatorCodeAddBuiltinCode(b, _CODES[name][0])
        tflite.OperatorCodeAddVersion(b, 1)
        codes.append(int(tflite.OperatorCodeEnd(b)))
    codes_vec, subgraphs_vec, buffers_vec = offsets(codes), offsets([subgraph]), offsets(buffers)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, subgraphs_vec)
    tflite.ModelAddBuffers(b, buffers_vec)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _graph_case(rng: np.random.Generator) -> tuple[bytes, list[Array], list[Array]]:
    """A random graph of 4 to 16 data ops over 1-D int8 tensors, its inputs and numpy's outputs."""
    n_inputs = int(rng.integers(1, 3))
    values: list[Array] = [rng.integers(-128, 128, size=int(rng.integers(2, 40)), dtype=np.int8)
                           for _ in range(n_inputs)]
    tensors: list[tuple[int, Array | None]] = [(len(v), None) for v in values]
    activations = list(range(n_inputs))  # tensor indices holding int8 values
    value_of: dict[int, Array] = dict(enumerate(values))
    ops: list[tuple[str, list[int], list[int], dict[str, int]]] = []

    def new(v: Array) -> int:
        tensors.append((len(v), None))
        value_of[len(tensors) - 1] = v
        activations.append(len(tensors) - 1)
        return len(tensors) - 1

    def const(v: list[int]) -> int:
        tensors.append((len(v), np.array(v, np.int32)))
        return len(tensors) - 1

    for _ in range(int(rng.integers(4, 17))):
        # Mostly recent tensors, so lifetimes are short and the arena is shared.
        pick = [activations[max(0, len(activations) - 1 - int(rng.integers(0, 4)))] for _ in range(2)]
        kind = rng.choice(["CONCATENATION", "STRIDED_SLICE", "SPLIT_V"])
        a = value_of[pick[0]]
        if kind == "CONCATENATION":
            out = np.concatenate([a, value_of[pick[1]]])
            ops.append(("CONCATENATION", [pick[0], pick[1]], [new(out)], {"axis": 0}))
        elif kind == "STRIDED_SLICE":
            n = len(a)
            s = int(rng.choice([1, 1, 2, -1, 3]))
            bgn, end = int(rng.integers(-n, n)), int(rng.integers(-n, n + 1))
            out = a[bgn:end:s]
            if len(out) == 0:
                continue
            ins = [pick[0], const([bgn]), const([end]), const([s])]
            ops.append(("STRIDED_SLICE", ins, [new(out)], {}))
        elif len(a) >= 2:
            cut = int(rng.integers(1, len(a)))
            ins = [pick[0], const([cut, len(a) - cut]), const([0])]
            ops.append(("SPLIT_V", ins, [new(a[:cut]), new(a[cut:])], {"num_splits": 2}))
    produced = [t for t in activations if t >= n_inputs] or activations[:1]
    outputs = sorted({int(t) for t in rng.choice(produced, size=min(3, len(produced)), replace=False)})
    model = _graph_model(n_inputs, tensors, ops, outputs)
    return model, values, [value_of[t] for t in outputs]


@needs_an_oracle
def test_random_graphs_share_the_arena_correctly() -> None:
    rng = np.random.default_rng(42)
    cases = [_graph_case(rng) for _ in range(200)]
    outcomes = _oracle_outcomes(cases)
    shared = 0
    for k, (model, inputs, want) in enumerate(cases):
        planned = Int8Model.from_bytes(model)
        preserved = Int8Model.from_bytes(model, preserve_all_tensors=True)
        got = planned.run(*inputs)
        for j, (g, w) in enumerate(zip(got, want, strict=True)):
            assert np.array_equal(g, w), f"graph {k} output {j}: differs from numpy"
        for name, results in outcomes.items():
            assert results[k].ok, f"graph {k}: {name}: {results[k].error}"
            for j, (g, t) in enumerate(zip(got, results[k].outputs[0], strict=True)):
                assert g.tobytes() == np.asarray(t).tobytes(), f"graph {k} output {j}: differs from {name}"
        for g, w in zip(preserved.run(*inputs), want, strict=True):
            assert np.array_equal(g, w)
        shared += planned.arena_bytes < preserved.arena_bytes
    assert shared > 150  # most graphs reuse space (so a wrong lifetime would show)
