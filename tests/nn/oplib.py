"""One-op .tflite models for testing gbnn against TFLite Micro, written with the `tflite` package's builder functions.

The API is two names:

* ``T(shape, dtype="int8", scale=..., zero_point=..., quantized_dimension=0, data=None)`` describes a tensor. A
  tensor with ``data`` is a constant (its bytes go into the model); one without is an activation. ``scale=None``
  leaves the tensor unquantised; a sequence of scales (with a zero point per scale, or one for all) makes it
  per-channel along ``quantized_dimension``.
* ``one_op_model(op, inputs, outputs, **options)`` returns the model bytes: one subgraph, one operator ``op`` (the
  schema's name, e.g. ``"CONV_2D"``), the non-constant inputs as the model's inputs in order, ``outputs`` as its
  outputs. ``None`` in ``inputs`` is an omitted optional input (index -1). ``options`` are the op's builtin options
  in snake case, with enum values by name:

  ===================  =====================================================================================
  CONV_2D              padding ("SAME"/"VALID"), stride_h, stride_w, dilation_h, dilation_w, activation
  DEPTHWISE_CONV_2D    the same and depth_multiplier
  FULLY_CONNECTED      activation, keep_num_dims
  ADD                  activation
  MEAN                 keep_dims
  SOFTMAX              beta
  MAX_POOL_2D          padding, stride_h, stride_w, filter_h, filter_w, activation
  LOGISTIC, QUANTIZE   (none)
  ===================  =====================================================================================

  ``activation`` is "NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH" or "SIGN_BIT". Other ops in ``OPS`` (used by
  the core's tests) take no options here; add a writer to ``_OPTIONS`` for them.

Constant buffers are 16-byte aligned in the flatbuffer, as TFLM and gbnn expect for constants used in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import flatbuffers  # type: ignore[import-untyped]
import numpy as np
import numpy.typing as npt
import tflite  # type: ignore[import-untyped]

# The schema's BuiltinOperator and BuiltinOptions values, by op name: (operator code, options union type).
OPS: dict[str, tuple[int, int]] = {
    "ADD": (0, 11),
    "CONCATENATION": (2, 10),
    "CONV_2D": (3, 1),
    "DEPTHWISE_CONV_2D": (4, 2),
    "FULLY_CONNECTED": (9, 8),
    "LOGISTIC": (14, 0),
    "MAX_POOL_2D": (17, 5),
    "RESHAPE": (22, 17),
    "SOFTMAX": (25, 9),
    "MEAN": (40, 27),
    "STRIDED_SLICE": (45, 32),
    "QUANTIZE": (114, 0),
}

_DTYPES: dict[str, tuple[int, type[np.generic]]] = {
    "float32": (0, np.float32),
    "int32": (2, np.int32),
    "uint8": (3, np.uint8),
    "int64": (4, np.int64),
    "int16": (7, np.int16),
    "int8": (9, np.int8),
}

_ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3, "TANH": 4, "SIGN_BIT": 5}
_PADDINGS = {"SAME": 0, "VALID": 1}


@dataclasses.dataclass(frozen=True)
class T:
    """A tensor of a one-op model (see the module's docstring)."""

    shape: tuple[int, ...]
    dtype: str = "int8"
    scale: float | Sequence[float] | None = None
    zero_point: int | Sequence[int] = 0
    quantized_dimension: int = 0
    data: npt.NDArray[Any] | None = None

    @property
    def np_dtype(self) -> type[np.generic]:
        return _DTYPES[self.dtype][1]


def _act(options: dict[str, Any]) -> int:
    return _ACTIVATIONS[options.get("activation", "NONE")]


def _conv_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.Conv2DOptionsStart(b)
    tflite.Conv2DOptionsAddPadding(b, _PADDINGS[o.get("padding", "SAME")])
    tflite.Conv2DOptionsAddStrideW(b, o.get("stride_w", 1))
    tflite.Conv2DOptionsAddStrideH(b, o.get("stride_h", 1))
    tflite.Conv2DOptionsAddFusedActivationFunction(b, _act(o))
    tflite.Conv2DOptionsAddDilationWFactor(b, o.get("dilation_w", 1))
    tflite.Conv2DOptionsAddDilationHFactor(b, o.get("dilation_h", 1))
    return int(tflite.Conv2DOptionsEnd(b))


def _depthwise_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.DepthwiseConv2DOptionsStart(b)
    tflite.DepthwiseConv2DOptionsAddPadding(b, _PADDINGS[o.get("padding", "SAME")])
    tflite.DepthwiseConv2DOptionsAddStrideW(b, o.get("stride_w", 1))
    tflite.DepthwiseConv2DOptionsAddStrideH(b, o.get("stride_h", 1))
    tflite.DepthwiseConv2DOptionsAddDepthMultiplier(b, o.get("depth_multiplier", 1))
    tflite.DepthwiseConv2DOptionsAddFusedActivationFunction(b, _act(o))
    tflite.DepthwiseConv2DOptionsAddDilationWFactor(b, o.get("dilation_w", 1))
    tflite.DepthwiseConv2DOptionsAddDilationHFactor(b, o.get("dilation_h", 1))
    return int(tflite.DepthwiseConv2DOptionsEnd(b))


def _fc_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.FullyConnectedOptionsStart(b)
    tflite.FullyConnectedOptionsAddFusedActivationFunction(b, _act(o))
    tflite.FullyConnectedOptionsAddKeepNumDims(b, bool(o.get("keep_num_dims", False)))
    return int(tflite.FullyConnectedOptionsEnd(b))


def _add_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.AddOptionsStart(b)
    tflite.AddOptionsAddFusedActivationFunction(b, _act(o))
    return int(tflite.AddOptionsEnd(b))


def _reducer_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.ReducerOptionsStart(b)
    tflite.ReducerOptionsAddKeepDims(b, bool(o.get("keep_dims", False)))
    return int(tflite.ReducerOptionsEnd(b))


def _softmax_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.SoftmaxOptionsStart(b)
    tflite.SoftmaxOptionsAddBeta(b, float(o.get("beta", 1.0)))
    return int(tflite.SoftmaxOptionsEnd(b))


def _pool_options(b: flatbuffers.Builder, o: dict[str, Any]) -> int:
    tflite.Pool2DOptionsStart(b)
    tflite.Pool2DOptionsAddPadding(b, _PADDINGS[o.get("padding", "SAME")])
    tflite.Pool2DOptionsAddStrideW(b, o.get("stride_w", 1))
    tflite.Pool2DOptionsAddStrideH(b, o.get("stride_h", 1))
    tflite.Pool2DOptionsAddFilterWidth(b, o.get("filter_w", 1))
    tflite.Pool2DOptionsAddFilterHeight(b, o.get("filter_h", 1))
    tflite.Pool2DOptionsAddFusedActivationFunction(b, _act(o))
    return int(tflite.Pool2DOptionsEnd(b))


_OPTIONS: dict[str, Callable[[flatbuffers.Builder, dict[str, Any]], int]] = {
    "CONV_2D": _conv_options,
    "DEPTHWISE_CONV_2D": _depthwise_options,
    "FULLY_CONNECTED": _fc_options,
    "ADD": _add_options,
    "MEAN": _reducer_options,
    "SOFTMAX": _softmax_options,
    "MAX_POOL_2D": _pool_options,
}


def _int_vector(b: flatbuffers.Builder, values: Sequence[int]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependInt32(int(v))
    return int(b.EndVector())


def _quantization(b: flatbuffers.Builder, t: T) -> int | None:
    if t.scale is None:
        return None
    scales = [float(t.scale)] if isinstance(t.scale, (int, float)) else [float(s) for s in t.scale]
    zps = [int(t.zero_point)] * len(scales) if isinstance(t.zero_point, int) else [int(z) for z in t.zero_point]
    b.StartVector(4, len(scales), 4)
    for s in reversed(scales):
        b.PrependFloat32(s)
    scale_vec = b.EndVector()
    b.StartVector(8, len(zps), 8)
    for z in reversed(zps):
        b.PrependInt64(z)
    zp_vec = b.EndVector()
    tflite.QuantizationParametersStart(b)
    tflite.QuantizationParametersAddScale(b, scale_vec)
    tflite.QuantizationParametersAddZeroPoint(b, zp_vec)
    tflite.QuantizationParametersAddQuantizedDimension(b, t.quantized_dimension)
    return int(tflite.QuantizationParametersEnd(b))


def one_op_model(op: str, inputs: Sequence[T | None], outputs: Sequence[T], **options: Any) -> bytes:
    """The model bytes of one `op` node reading `inputs` and writing `outputs` (see the module's docstring)."""
    code, options_type = OPS[op]
    b = flatbuffers.Builder(4096)
    tensors: list[T] = [t for t in inputs if t is not None] + list(outputs)

    # Buffers: 0 is the empty sentinel; each constant gets its own.
    buffer_of: list[int] = []
    buffer_offsets = []
    tflite.BufferStart(b)
    buffer_offsets.append(tflite.BufferEnd(b))
    for t in tensors:
        if t.data is None:
            buffer_of.append(0)
            continue
        raw = np.ascontiguousarray(np.asarray(t.data, dtype=t.np_dtype)).tobytes()
        b.StartVector(1, len(raw), 16)
        b.head = b.head - len(raw)
        b.Bytes[b.head:b.head + len(raw)] = raw
        data_vec = b.EndVector()
        tflite.BufferStart(b)
        tflite.BufferAddData(b, data_vec)
        buffer_of.append(len(buffer_offsets))
        buffer_offsets.append(tflite.BufferEnd(b))

    tensor_offsets = []
    for i, t in enumerate(tensors):
        shape = _int_vector(b, t.shape)
        quant = _quantization(b, t)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, shape)
        tflite.TensorAddType(b, _DTYPES[t.dtype][0])
        tflite.TensorAddBuffer(b, buffer_of[i])
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        tensor_offsets.append(tflite.TensorEnd(b))

    # Tensor indices: inputs first (skipping omitted ones), then outputs.
    index_of_input: list[int] = []
    next_index = 0
    for maybe in inputs:
        if maybe is None:
            index_of_input.append(-1)
        else:
            index_of_input.append(next_index)
            next_index += 1
    output_indices = list(range(next_index, next_index + len(outputs)))
    graph_inputs = [index_of_input[k] for k, t in enumerate(inputs) if t is not None and t.data is None]

    writer = _OPTIONS.get(op)
    opts = writer(b, options) if writer is not None else None
    op_inputs = _int_vector(b, index_of_input)
    op_outputs = _int_vector(b, output_indices)
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, op_inputs)
    tflite.OperatorAddOutputs(b, op_outputs)
    if opts is not None:
        tflite.OperatorAddBuiltinOptionsType(b, options_type)
        tflite.OperatorAddBuiltinOptions(b, opts)
    operator = tflite.OperatorEnd(b)

    tflite.SubGraphStartTensorsVector(b, len(tensor_offsets))
    for off in reversed(tensor_offsets):
        b.PrependUOffsetTRelative(off)
    tensors_vec = b.EndVector()
    tflite.SubGraphStartOperatorsVector(b, 1)
    b.PrependUOffsetTRelative(operator)
    operators_vec = b.EndVector()
    sg_inputs = _int_vector(b, graph_inputs)
    sg_outputs = _int_vector(b, output_indices)
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensors_vec)
    tflite.SubGraphAddInputs(b, sg_inputs)
    tflite.SubGraphAddOutputs(b, sg_outputs)
    tflite.SubGraphAddOperators(b, operators_vec)
    subgraph = tflite.SubGraphEnd(b)

    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
    tflite.OperatorCodeAddBuiltinCode(b, code)
    tflite.OperatorCodeAddVersion(b, 1)
    opcode = tflite.OperatorCodeEnd(b)

    tflite.ModelStartOperatorCodesVector(b, 1)
    b.PrependUOffsetTRelative(opcode)
    opcodes_vec = b.EndVector()
    tflite.ModelStartSubgraphsVector(b, 1)
    b.PrependUOffsetTRelative(subgraph)
    subgraphs_vec = b.EndVector()
    tflite.ModelStartBuffersVector(b, len(buffer_offsets))
    for off in reversed(buffer_offsets):
        b.PrependUOffsetTRelative(off)
    buffers_vec = b.EndVector()
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, opcodes_vec)
    tflite.ModelAddSubgraphs(b, subgraphs_vec)
    tflite.ModelAddBuffers(b, buffers_vec)
    model = tflite.ModelEnd(b)
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


def input_specs(inputs: Sequence[T | None]) -> list[T]:
    """The model's inputs among an op's `inputs` (the non-constant ones, in order): what to feed it."""
    return [t for t in inputs if t is not None and t.data is None]
