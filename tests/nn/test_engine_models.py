"""gbnn on the project's real models, bit for bit against TFLite Micro and LiteRT's reference kernels.

The oracles: on x86_64, TFLite Micro (tflite-micro, x86_64 wheels only; in a subprocess) AND LiteRT's BUILTIN_REF
kernels (in process, never its default or XNNPACK kernels), which these tests thereby show equal to TFLM on these
models and inputs; on aarch64 (`make test-arm64`, scripts/arm64) BUILTIN_REF alone, on the same inputs.

* okay_nabu (the streaming wake word: resource variables, CALL_ONCE, CONCATENATION / STRIDED_SLICE / SPLIT_V,
  RESHAPE and the arithmetic ops) streamed over 400 random int8 inputs and 164 invokes of real speech features: every
  output AND every tensor (gbnn and the oracles with all tensors preserved) equal to the oracles'; after reset() the
  same inputs give the same outputs again, as TFLM's reset does and as a fresh BUILTIN_REF interpreter gives them.
* emotion_fer_int8 over a thousand random inputs against TFLM (one subprocess) and the first EMOTION_REF_STEPS of
  them against BUILTIN_REF, and over real faces (the astronaut test image cropped around her face, through
  glassbridge's own preprocessing, as glassbridge.vision.emotion feeds it), every tensor.
* Refusals and corrupt models: an op gbnn lacks is refused by its schema name when the model is opened; truncated
  and byte-flipped models raise EngineError, never crash (the C test nn/tests/test_core.c does thousands of these
  under ASan).

Run time: about 35 s on a loaded 2-core machine, nearly all of it TFLM and gbnn running emotion_fer_int8 a thousand
times; on aarch64 (no TFLM: the BUILTIN_REF steps alone) about 15 s under qemu-user on Neoverse-N1.
"""

from __future__ import annotations

import pickle
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from glassbridge.nn.engine import EngineError, Int8Model
from tests.nn import oracles

Array = npt.NDArray[Any]

ROOT = Path(__file__).resolve().parents[2]
OKAY_NABU = ROOT / "models" / "cache" / "okay_nabu.tflite"
EMOTION = ROOT / "models" / "emotion_fer_int8.tflite"
RESOURCE = 13  # the schema's TensorType.RESOURCE: a handle, no data to compare

# TFLM where it has wheels (x86_64: required there, so that BUILTIN_REF is shown equal to it); BUILTIN_REF everywhere.
TFLM_HERE = platform.machine() == "x86_64"
needs_the_oracles = pytest.mark.skipif(
    not oracles.litert_available() or (TFLM_HERE and not oracles.tflm_available()),
    reason="LiteRT (ai_edge_litert) and, on x86_64, tflite-micro are the oracles; one is not installed")
# How many of emotion's random inputs BUILTIN_REF runs (TFLM runs all 1000; the reference kernels' convolutions are
# slow under qemu's emulation, and parity with x86_64's gbnn covers more inputs: tests/arm64/parity.py).
EMOTION_REF_STEPS = 32

# TFLM in a subprocess (it can abort on a model it dislikes): runs the steps, resets before step `reset_at`, returns
# every step's outputs and, for the steps in `tensor_steps`, the tensors `tensor_ids` of subgraph 0.
_TFLM_WORKER = r"""
import pickle, sys
import numpy as np
from tflite_micro import runtime
model, steps, n_outputs, tensor_ids, tensor_steps, reset_at = pickle.load(sys.stdin.buffer)
config = (runtime.InterpreterConfig.kPreserveAllTensors if tensor_ids
          else runtime.InterpreterConfig.kAllocationRecording)
it = runtime.Interpreter.from_bytes(model, arena_size=1 << 21, intrepreter_config=config)
outputs, tensors = [], []
for k, inputs in enumerate(steps):
    if k == reset_at:
        it.reset()
    for i, x in enumerate(inputs):
        it.set_input(x, i)
    it.invoke()
    outputs.append([np.array(it.get_output(j)) for j in range(n_outputs)])
    if k in tensor_steps:
        tensors.append({i: np.array(it.GetTensor(i, 0)["tensor_data"]) for i in tensor_ids})
pickle.dump((outputs, tensors), sys.stdout.buffer)
"""


def _tflm_start(model: bytes, steps: list[list[Array]], n_outputs: int, tensor_ids: list[int] | None = None,
                tensor_steps: set[int] | None = None, reset_at: int | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", _TFLM_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(pickle.dumps((model, steps, n_outputs, tensor_ids or [], tensor_steps or set(), reset_at)))
    proc.stdin.close()  # the worker reads all of it before it runs
    proc.stdin = None
    return proc


def _tflm_finish(proc: subprocess.Popen[bytes]) -> tuple[list[list[Array]], list[dict[int, Array]]]:
    out, err = proc.communicate()
    assert proc.returncode == 0, f"TFLM worker failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}"
    result: tuple[list[list[Array]], list[dict[int, Array]]] = pickle.loads(out)
    return result


def _litert_ref(model: bytes, steps: list[list[Array]], tensor_ids: list[int],
                tensor_steps: set[int]) -> tuple[list[list[Array]], list[dict[int, Array]]]:
    """LiteRT's reference kernels (BUILTIN_REF, never the default or XNNPACK ones), every tensor preserved."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=model, experimental_op_resolver_type=OpResolverType.BUILTIN_REF,
                     experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    ins, outs = it.get_input_details(), it.get_output_details()
    outputs: list[list[Array]] = []
    tensors: list[dict[int, Array]] = []
    for k, inputs in enumerate(steps):
        for d, x in zip(ins, inputs, strict=True):
            it.set_tensor(d["index"], x)
        it.invoke()
        outputs.append([np.array(it.get_tensor(d["index"])) for d in outs])
        if k in tensor_steps:
            tensors.append({i: np.array(it.get_tensor(i)) for i in tensor_ids})
    return outputs, tensors


def _gbnn(model: Int8Model, steps: list[list[Array]], tensor_ids: list[int] | None = None,
          tensor_steps: set[int] | None = None, reset_at: int | None = None
          ) -> tuple[list[list[Array]], list[dict[int, Array]]]:
    outputs: list[list[Array]] = []
    tensors: list[dict[int, Array]] = []
    for k, inputs in enumerate(steps):
        if k == reset_at:
            model.reset()
        outputs.append(model.run(*inputs))
        if tensor_ids and tensor_steps and k in tensor_steps:
            tensors.append({i: model.tensor(i) for i in tensor_ids})
    return outputs, tensors


def _assert_same_outputs(got: list[list[Array]], want: list[list[Array]], what: str) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        for j, (a, b) in enumerate(zip(g, w, strict=True)):
            assert a.dtype == b.dtype and a.shape == b.shape, f"{what}: step {k} output {j}: {a.dtype}{a.shape}"
            diff = np.abs(a.astype(np.int64) - b.astype(np.int64))
            assert np.array_equal(a, b), f"{what}: step {k} output {j} differs by up to {diff.max()} LSB"


def _assert_same_tensors(got: list[dict[int, Array]], want: list[dict[int, Array]], what: str) -> None:
    assert len(got) == len(want) and got
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g.keys() == w.keys()
        for i in g:
            a, b = g[i], w[i]
            assert a.size == b.size and a.dtype == b.dtype, (
                f"{what}: tensor {i}: {a.dtype}{a.shape} vs {b.dtype}{b.shape}")
            assert np.array_equal(a.reshape(-1), b.reshape(-1)), (
                f"{what}: sample {k} tensor {i} differs by up to "
                f"{np.abs(a.astype(np.int64).reshape(-1) - b.astype(np.int64).reshape(-1)).max()} LSB")


def _data_tensors(model: Int8Model) -> list[int]:
    """Subgraph 0's tensors that hold data (not resource handles)."""
    return [i for i in range(model.tensor_count) if model.tensor_details(i)["dtype"] is not None]


# ---- okay_nabu ----

def _speech_features(model: Int8Model) -> list[list[Array]]:
    """The wake word's inputs for real speech ("okay nabu", then a question), as glassbridge.audio.wakeword makes
    them: pymicro-features' frontend, quantised with the input's scale and zero point, 3 frames per invoke."""
    pytest.importorskip("pymicro_features")
    from pymicro_features import MicroFrontend

    from glassbridge.audio.speech_samples import make_pcm

    pcm = make_pcm("wake_and_ask.wav")
    frontend = MicroFrontend()
    frames: list[list[float]] = []
    for offset in range(0, len(pcm) - 319, 320):
        result = frontend.process_samples(pcm[offset:offset + 320])
        if result.features:
            frames.append(list(result.features))
    d = model.input_details()[0]
    scale, zero = d["quantization"]
    shape = tuple(int(v) for v in d["shape"])
    per_invoke = shape[1]
    steps: list[list[Array]] = []
    for k in range(0, len(frames) - per_invoke + 1, per_invoke):
        f = np.asarray(frames[k:k + per_invoke], dtype=np.float32)
        q = np.clip(np.rint(f / np.float32(scale) + zero), -128, 127).astype(np.int8)
        steps.append([q.reshape(shape)])
    return steps


@pytest.fixture(scope="module")
def okay_nabu_bytes() -> bytes:
    if not OKAY_NABU.exists():
        pytest.skip(f"{OKAY_NABU} not fetched (make models)")
    return OKAY_NABU.read_bytes()


@needs_the_oracles
def test_okay_nabu_streams_bit_exact_with_the_oracles(okay_nabu_bytes: bytes) -> None:
    model = Int8Model.from_bytes(okay_nabu_bytes, preserve_all_tensors=True)
    shape = tuple(int(v) for v in model.input_details()[0]["shape"])
    rng = np.random.default_rng(15)
    random_steps = [[rng.integers(-128, 128, size=shape, dtype=np.int8)] for _ in range(400)]
    steps = random_steps + _speech_features(model)
    assert len(steps) >= 500
    ids = _data_tensors(model)
    every = set(range(len(steps)))
    proc = _tflm_start(okay_nabu_bytes, steps, 1, ids, every) if TFLM_HERE else None
    got_out, got_tensors = _gbnn(model, steps, ids, every)
    ref_out, ref_tensors = _litert_ref(okay_nabu_bytes, steps, ids, every)
    if proc is not None:
        tflm_out, tflm_tensors = _tflm_finish(proc)
        _assert_same_outputs(got_out, tflm_out, "okay_nabu vs TFLM")
        _assert_same_tensors(got_tensors, tflm_tensors, "okay_nabu vs TFLM")
    _assert_same_outputs(got_out, ref_out, "okay_nabu vs LiteRT BUILTIN_REF")
    _assert_same_tensors(got_tensors, ref_tensors, "okay_nabu vs LiteRT BUILTIN_REF")
    # The test can fail: the wake word's output moves over these inputs (it is not a constant).
    assert len({int(o[0].reshape(-1)[0]) for o in got_out}) > 3


@needs_the_oracles
def test_okay_nabu_reset_replays_the_sequence(okay_nabu_bytes: bytes) -> None:
    planned = Int8Model.from_bytes(okay_nabu_bytes)  # the planned arena this time (tensors share space)
    seq = _speech_features(planned)[:60]
    steps = seq + seq
    proc = _tflm_start(okay_nabu_bytes, steps, 1, reset_at=len(seq)) if TFLM_HERE else None
    got, _ = _gbnn(planned, steps, reset_at=len(seq))
    # BUILTIN_REF has no reset of its resource variables: a fresh interpreter's outputs over the sequence are what
    # gbnn must give from its start and again after its reset (okay_nabu's init subgraph assigns the zero points
    # a reset restores, nn/README.md).
    fresh, _ = _litert_ref(okay_nabu_bytes, seq, [], set())
    _assert_same_outputs(got[:len(seq)], fresh, "okay_nabu vs a fresh LiteRT BUILTIN_REF")
    _assert_same_outputs(got[len(seq):], fresh, "okay_nabu after reset vs a fresh LiteRT BUILTIN_REF")
    if proc is not None:
        tflm, _ = _tflm_finish(proc)
        _assert_same_outputs(got, tflm, "okay_nabu with a reset vs TFLM")
    # Every tensor, the streaming state included, replays after a reset; without one the state carries over and
    # the first step's tensors differ (so the checks above can fail).
    preserved = Int8Model.from_bytes(okay_nabu_bytes, preserve_all_tensors=True)
    ids = _data_tensors(preserved)
    _, first = _gbnn(preserved, seq[:5], ids, set(range(5)))
    _, carried = _gbnn(preserved, seq[:5], ids, set(range(5)))
    preserved.reset()
    _, replayed = _gbnn(preserved, seq[:5], ids, set(range(5)))
    _assert_same_tensors(replayed, first, "okay_nabu tensors after reset")
    assert any(not np.array_equal(carried[0][i], first[0][i]) for i in ids)


def test_okay_nabu_arena_and_details(okay_nabu_bytes: bytes) -> None:
    model = Int8Model.from_bytes(okay_nabu_bytes)
    (inp,) = model.input_details()
    (out,) = model.output_details()
    assert inp["dtype"] is np.int8 and list(inp["shape"]) == [1, 3, 40]
    assert out["dtype"] is np.uint8 and list(out["shape"]) == [1, 1]
    assert inp["quantization"][1] == -128 and inp["quantization"][0] > 0
    # TFLM needs 25.9 KB for this model; gbnn's arena is of the same order (nn/README.md has both).
    assert 4_000 < model.arena_bytes < 40_000
    preserved = Int8Model.from_bytes(okay_nabu_bytes, preserve_all_tensors=True)
    assert preserved.arena_bytes > model.arena_bytes


# ---- emotion_fer_int8 ----

def _astronaut_faces(model: Int8Model) -> list[list[Array]]:
    """The astronaut's face cropped a few ways (shifts, margins), through glassbridge's preprocessing into the
    model's int8 input exactly as glassbridge.vision.emotion does."""
    from glassbridge.camera.files import read_image
    from glassbridge.models.registry import test_image_path
    from glassbridge.vision.emotion import face_crop
    from glassbridge.vision.preprocess import Normalization, preprocess

    frame = read_image(test_image_path("astronaut"))
    d = model.input_details()[0]
    scale, zero = d["quantization"]
    norm = Normalization.for_range(-1.0, 1.0, scale=scale, zero_point=zero)
    box = (170.0, 60.0, 260.0, 175.0)  # her face in the 512x512 image
    steps: list[list[Array]] = []
    for dx in (-12, 0, 12):
        for dy in (-10, 0, 10):
            for margin in (0.1, 0.25):
                b = (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy)
                out = np.zeros(tuple(int(v) for v in d["shape"]), dtype=np.int8)
                preprocess(frame, out, crop=face_crop(b, frame.width, frame.height, margin), channels="gray",
                           norm=norm)
                steps.append([out])
    return steps


@pytest.fixture(scope="module")
def emotion_bytes() -> bytes:
    return EMOTION.read_bytes()


@needs_the_oracles
def test_emotion_random_inputs_bit_exact(emotion_bytes: bytes) -> None:
    model = Int8Model.from_bytes(emotion_bytes)
    shape = tuple(int(v) for v in model.input_details()[0]["shape"])
    rng = np.random.default_rng(2026)
    steps: list[list[Array]] = []
    for k in range(1000):
        if k % 2:
            x = rng.integers(-128, 128, size=shape, dtype=np.int8)
        else:  # smooth images with a random contrast: less saturated than white noise
            lo, hi = sorted(rng.integers(-128, 128, size=2))
            yy, xx = np.mgrid[0:shape[1], 0:shape[2]]
            field = np.sin(xx / rng.uniform(3, 20) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(3, 20))
            x = np.clip(np.rint(lo + (hi - lo) * (field + 1) / 2), -128, 127).astype(np.int8).reshape(shape)
        steps.append([x])
    if TFLM_HERE:
        proc = _tflm_start(emotion_bytes, steps, 1)
        got, _ = _gbnn(model, steps)
        tflm, _ = _tflm_finish(proc)
        _assert_same_outputs(got, tflm, "emotion vs TFLM")
        assert len({tuple(o[0].reshape(-1)) for o in got}) > 100  # the outputs vary
    else:
        got, _ = _gbnn(model, steps[:EMOTION_REF_STEPS])
    ref, _ = _litert_ref(emotion_bytes, steps[:EMOTION_REF_STEPS], [], set())
    _assert_same_outputs(got[:EMOTION_REF_STEPS], ref, "emotion vs LiteRT BUILTIN_REF")
    assert len({tuple(o[0].reshape(-1)) for o in got[:EMOTION_REF_STEPS]}) > EMOTION_REF_STEPS // 2


@needs_the_oracles
def test_emotion_faces_every_tensor_bit_exact(emotion_bytes: bytes) -> None:
    model = Int8Model.from_bytes(emotion_bytes, preserve_all_tensors=True)
    faces = _astronaut_faces(model)
    rng = np.random.default_rng(3)
    shape = tuple(int(v) for v in model.input_details()[0]["shape"])
    steps = faces + [[rng.integers(-128, 128, size=shape, dtype=np.int8)] for _ in range(4)]
    ids = _data_tensors(model)
    every = set(range(len(steps)))
    proc = _tflm_start(emotion_bytes, steps, 1, ids, every) if TFLM_HERE else None
    got_out, got_tensors = _gbnn(model, steps, ids, every)
    ref_out, ref_tensors = _litert_ref(emotion_bytes, steps, ids, every)
    if proc is not None:
        tflm_out, tflm_tensors = _tflm_finish(proc)
        _assert_same_outputs(got_out, tflm_out, "emotion faces vs TFLM")
        _assert_same_tensors(got_tensors, tflm_tensors, "emotion faces vs TFLM")
    _assert_same_outputs(got_out, ref_out, "emotion faces vs LiteRT BUILTIN_REF")
    _assert_same_tensors(got_tensors, ref_tensors, "emotion faces vs LiteRT BUILTIN_REF")
    # Not all the same face class: the comparison covers more than one path through the softmax.
    assert len({int(np.argmax(o[0])) for o in got_out}) > 1


def test_emotion_planned_arena_equals_preserved(emotion_bytes: bytes) -> None:
    planned = Int8Model.from_bytes(emotion_bytes)
    preserved = Int8Model.from_bytes(emotion_bytes, preserve_all_tensors=True)
    # TFLM needs 146 KB; the activations alone peak at 129.6 KB (two 60x60x16 tensors and a 30x30x16 one live).
    assert 129_600 < planned.arena_bytes < 160_000 < preserved.arena_bytes
    rng = np.random.default_rng(5)
    shape = tuple(int(v) for v in planned.input_details()[0]["shape"])
    for _ in range(5):
        x = rng.integers(-128, 128, size=shape, dtype=np.int8)
        assert np.array_equal(planned.run(x)[0], preserved.run(x)[0])


def test_models_run_in_threads(emotion_bytes: bytes) -> None:
    # invoke() releases the GIL: two models in two threads give what they give one after the other.
    import threading

    rng = np.random.default_rng(9)
    xs = [rng.integers(-128, 128, size=(1, 64, 64, 1), dtype=np.int8) for _ in range(6)]
    serial = [Int8Model.from_bytes(emotion_bytes).run(x)[0] for x in xs]
    results: dict[int, list[Array]] = {}

    def work(k: int) -> None:
        m = Int8Model.from_bytes(emotion_bytes)
        results[k] = [m.run(x)[0] for x in xs]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        assert all(np.array_equal(a, b) for a, b in zip(results[k], serial, strict=True))


def test_explicit_arena_size(emotion_bytes: bytes) -> None:
    needed = Int8Model.from_bytes(emotion_bytes).arena_bytes
    assert Int8Model.from_bytes(emotion_bytes, arena_size=needed).arena_bytes == needed
    with pytest.raises(EngineError) as e:
        Int8Model.from_bytes(emotion_bytes, arena_size=needed - 16)
    assert getattr(e.value, "status") == "GBNN_ARENA_TOO_SMALL" and getattr(e.value, "arena_needed") == needed


def test_inputs_are_checked(emotion_bytes: bytes) -> None:
    model = Int8Model.from_bytes(emotion_bytes)
    with pytest.raises(ValueError, match="int8"):
        model.set_input(np.zeros((1, 64, 64, 1), dtype=np.uint8))
    with pytest.raises(ValueError, match="bytes"):
        model.set_input(np.zeros((1, 64, 63, 1), dtype=np.int8))
    with pytest.raises(IndexError):
        model.output(1)


# ---- refusals and corrupt models ----

def _patched_opcode(model: bytes, old: int, new: int) -> bytes:
    """`model` with every operator code `old` made `new` (both its fields: deprecated_builtin_code, builtin_code)."""
    import tflite  # type: ignore[import-untyped]

    data = bytearray(model)
    m = tflite.Model.GetRootAsModel(model, 0)
    patched = 0
    for i in range(m.OperatorCodesLength()):
        oc = m.OperatorCodes(i)
        if max(oc.DeprecatedBuiltinCode(), oc.BuiltinCode()) != old:
            continue
        tab = oc._tab
        dep, code = tab.Offset(4), tab.Offset(10)
        if dep:
            data[tab.Pos + dep] = min(new, 127)
        if code:
            data[tab.Pos + code:tab.Pos + code + 4] = new.to_bytes(4, "little")
        patched += 1
    assert patched
    return bytes(data)


@pytest.mark.parametrize(("path", "old"), [(EMOTION, 25), (OKAY_NABU, 14)], ids=["emotion-softmax", "nabu-logistic"])
def test_an_op_gbnn_lacks_is_refused_by_name(path: Path, old: int) -> None:
    if not path.exists():
        pytest.skip(f"{path} not fetched (make models)")
    bad = _patched_opcode(path.read_bytes(), old, 28)  # TANH: a real op, not one gbnn has
    with pytest.raises(EngineError) as e:
        Int8Model.from_bytes(bad)
    assert getattr(e.value, "status") == "GBNN_UNSUPPORTED"
    assert "TANH (builtin 28)" in str(e.value) and getattr(e.value, "node") >= 0


@pytest.mark.parametrize(("type_code", "name"), [(1, "FLOAT16"), (17, "INT4"), (5, "STRING")])
def test_a_tensor_type_gbnn_lacks_is_refused_by_name(emotion_bytes: bytes, type_code: int, name: str) -> None:
    import tflite

    data = bytearray(emotion_bytes)
    tab = tflite.Model.GetRootAsModel(emotion_bytes, 0).Subgraphs(0).Tensors(80)._tab  # the output
    field = tab.Offset(6)  # Tensor.type
    assert field
    data[tab.Pos + field] = type_code
    with pytest.raises(EngineError) as e:
        Int8Model.from_bytes(bytes(data))
    assert getattr(e.value, "status") == "GBNN_UNSUPPORTED" and f"has type {name}" in str(e.value)


def test_corrupt_models_raise_and_never_crash(emotion_bytes: bytes) -> None:
    rng = np.random.default_rng(11)
    for cut in [0, 4, 8, 100, len(emotion_bytes) // 2, len(emotion_bytes) - 1]:
        with pytest.raises(EngineError) as e:
            Int8Model.from_bytes(emotion_bytes[:cut])
        assert getattr(e.value, "status") in ("GBNN_BAD_MODEL", "GBNN_UNSUPPORTED")
    opened = refused = 0
    for _ in range(300):
        data = bytearray(emotion_bytes)
        for _ in range(int(rng.integers(1, 5))):
            at = int(rng.integers(0, 4096)) if rng.random() < 0.5 else int(rng.integers(0, len(data)))
            data[at] ^= int(rng.integers(1, 256))
        try:
            m = Int8Model.from_bytes(bytes(data))
        except EngineError as e:
            assert getattr(e, "status") in ("GBNN_BAD_MODEL", "GBNN_UNSUPPORTED") and getattr(e, "message")
            refused += 1
            continue
        opened += 1
        if opened <= 5:
            m.run(np.zeros(tuple(int(v) for v in m.input_details()[0]["shape"]), dtype=np.int8))
    assert refused > 0


def test_a_node_reading_what_nothing_wrote_yet_is_refused() -> None:
    """Found by nn/fuzz/fuzz_model.c: a MAX_POOL_2D whose input is its own output tensor (one byte of a one-op model
    changed). gbnn opened it, and its outputs were whatever the arena held before: each kernel set's run differed.
    An activation must be written (by an earlier node, or as a model input) before a node reads it."""
    import tflite  # type: ignore[import-untyped]  (the schema's own reader, to say what the bytes are)

    model = (ROOT / "nn" / "fuzz" / "corpus_model" / "regression_pool_reads_its_own_output.tflite").read_bytes()
    graph = tflite.Model.GetRootAsModel(model, 0).Subgraphs(0)
    op = graph.Operators(0)
    assert list(op.InputsAsNumpy()) == list(op.OutputsAsNumpy()) == [1] and list(graph.InputsAsNumpy()) == [0]
    with pytest.raises(EngineError, match="subgraph 0 tensor 1 is read before anything writes it") as e:
        Int8Model.from_bytes(model)
    assert getattr(e.value, "status") == "GBNN_BAD_MODEL"


def test_glassbridge_nn_imports_no_litert() -> None:
    code = ("import sys, glassbridge.nn, glassbridge.nn.engine; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('ai_edge_litert', 'tflite_runtime', 'tensorflow')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)
