"""`glassbridge bench redact`: what blurring the faces costs in the photo pass, on a 480x360 upload.

The frame: scikit-image's astronaut (one person), its top 512x384 in NV12 (a 4:3 sensor frame), so the photo is
exactly the [camera] default 480x360. The face comes from the glasses' own detector, grown as the assistant grows
it (glassbridge.vision.redact). Contenders, interleaved round by round on one thread, medians reported:

  glassbridge   the native kernel (cpp/src/kernels/redact.cpp) on the upload image: what the assistant runs
  opencv        the usual OpenCV idiom on the same box: resize down INTER_AREA, back up INTER_NEAREST (blocks of
                the same count; not bit-exact at the cut edge blocks, where INTER_AREA weighs fractional pixels)
  numpy         block means with np.add.reduceat over the same blocks (bit-exact with the kernel)
  photo_pass    make_photo whole: preprocess 512x384 NV12 -> 480x360 RGB, blur, JPEG quality 75
  photo_no_blur make_photo with blur_faces off: the pass without the blur, for the blur's share of it

Cache-hot (the same buffers each call): the boxes are a few thousand pixels, they live in L1/L2 in use too.
Target: the blur under 0.5 ms on the upload.
"""

from __future__ import annotations

from collections.abc import Iterator

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from glassbridge.bench import machine
from glassbridge.bench.harness import Contender, SameItem, run_interleaved

SCHEMA = "glassbridge.bench.redact/1"
TARGET_MS = 0.5


@dataclass
class RedactSettings:
    rounds: int = 300
    seed: int = 0
    quick: bool = False

    @classmethod
    def quick_settings(cls) -> RedactSettings:
        return cls(rounds=20, quick=True)


def _blocks(image: npt.NDArray[np.uint8], boxes: npt.NDArray[np.int32], max_blocks: int,
            min_block: int) -> Iterator[tuple[npt.NDArray[np.uint8], int]]:
    """Each box clamped to the image and not empty: its view of `image` and its block size (the kernel's rule,
    glassbridge/redact.h), for the contenders below."""
    h, w = image.shape[:2]
    for x0, y0, x1, y1 in boxes.tolist():
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 > x0 and y1 > y0:
            yield image[y0:y1, x0:x1], max(min_block, math.ceil(max(x1 - x0, y1 - y0) / max_blocks))


def _numpy_pixelate(image: npt.NDArray[np.uint8], boxes: npt.NDArray[np.int32], max_blocks: int,
                    min_block: int) -> None:
    for roi, b in _blocks(image, boxes, max_blocks, min_block):
        rh, rw = roi.shape[:2]
        ys, xs = np.arange(0, rh, b), np.arange(0, rw, b)
        hs, ws = np.diff(np.append(ys, rh)), np.diff(np.append(xs, rw))  # block heights and widths
        sums = np.add.reduceat(np.add.reduceat(roi.astype(np.uint32), ys, axis=0), xs, axis=1)
        counts = np.outer(hs, ws)[..., None]
        means = ((sums + counts // 2) // counts).astype(np.uint8)
        roi[...] = np.repeat(np.repeat(means, hs, axis=0), ws, axis=1)


def _opencv_pixelate(image: npt.NDArray[np.uint8], boxes: npt.NDArray[np.int32], max_blocks: int,
                     min_block: int) -> None:
    import cv2

    for roi, b in _blocks(image, boxes, max_blocks, min_block):
        rh, rw = roi.shape[:2]
        small = cv2.resize(roi, (math.ceil(rw / b), math.ceil(rh / b)), interpolation=cv2.INTER_AREA)
        roi[...] = cv2.resize(small, (rw, rh), interpolation=cv2.INTER_NEAREST)


def run_redact_benchmark(settings: RedactSettings, reporter: Any = None) -> dict[str, Any]:
    from glassbridge.assistant.perception import FacePerceiver
    from glassbridge.assistant.photo import fit_size, make_photo
    from glassbridge.camera.files import read_image
    from glassbridge.camera.frame import Frame, PixelFormat
    from glassbridge.models.registry import test_image_path
    from glassbridge.vision.preprocess import Normalization, isa, preprocess
    from glassbridge.vision.redact import PIXELATE_BLOCKS, PIXELATE_MIN_BLOCK, face_boxes_in, pixelate

    full = read_image(test_image_path("astronaut"), format=PixelFormat.NV12)
    y, uv = (np.asarray(p) for p in full.planes)
    frame = Frame(PixelFormat.NV12, 512, 384, (np.ascontiguousarray(y[:384]), np.ascontiguousarray(uv[:192])),
                  range=full.range)
    faces = [f.box for f in FacePerceiver().perceive(frame, emotions=False).faces]
    if not faces:
        raise RuntimeError("the detector found no face in the benchmark frame (check `glassbridge models verify`)")
    w, h = fit_size(frame.width, frame.height, 480, 360)
    upload = np.empty((h, w, 3), dtype=np.uint8)
    preprocess(frame, upload, channels="rgb", norm=Normalization.identity())
    boxes = face_boxes_in(faces, frame_size=(frame.width, frame.height), image_size=(w, h))
    work = upload.copy()

    # numpy's result must equal the kernel's (the same contract), else its time is not a fair comparison
    a, b = upload.copy(), upload.copy()
    pixelate(a, boxes)
    _numpy_pixelate(b, boxes, PIXELATE_BLOCKS, PIXELATE_MIN_BLOCK)
    numpy_equal = bool(np.array_equal(a, b))
    c = upload.copy()
    _opencv_pixelate(c, boxes, PIXELATE_BLOCKS, PIXELATE_MIN_BLOCK)
    opencv_max_diff = int(np.abs(a.astype(np.int16) - c.astype(np.int16)).max())

    contenders = [
        Contender("glassbridge", lambda _: pixelate(work, boxes), "native kernel, in place"),
        Contender("opencv", lambda _: _opencv_pixelate(work, boxes, PIXELATE_BLOCKS, PIXELATE_MIN_BLOCK),
                  "cv2.resize INTER_AREA down, INTER_NEAREST up"),
        Contender("numpy", lambda _: _numpy_pixelate(work, boxes, PIXELATE_BLOCKS, PIXELATE_MIN_BLOCK),
                  "np.add.reduceat block means"),
        Contender("photo_pass", lambda _: make_photo(frame, faces, max_width=480, max_height=360, quality=75),
                  "preprocess + blur + JPEG q75"),
        Contender("photo_no_blur", lambda _: make_photo(frame, faces, max_width=480, max_height=360, quality=75,
                                                        blur_faces=False), "preprocess + JPEG q75"),
    ]
    run = run_interleaved(contenders, SameItem(None), rounds=settings.rounds, seed=settings.seed, hot=True,
                          progress=reporter, label="face blur on a 480x360 upload")
    ours = run.stats["glassbridge"].median_ms
    area = int(sum((bx[2] - bx[0]) * (bx[3] - bx[1]) for bx in boxes.tolist()))
    notes = [f"numpy result {'equals' if numpy_equal else 'DIFFERS FROM'} the kernel's; OpenCV's differs by up to "
             f"{opencv_max_diff} (INTER_AREA at the cut edge blocks)"]
    if settings.quick:
        notes.append("quick run: few rounds; not figures to quote")
    return {
        "schema": SCHEMA,
        "quick": settings.quick,
        "rounds": settings.rounds,
        "seed": settings.seed,
        "upload": [w, h],
        "faces": len(faces),
        "boxes": boxes.tolist(),
        "blurred_pixels": area,
        "blocks": {"max_blocks": PIXELATE_BLOCKS, "min_block": PIXELATE_MIN_BLOCK},
        "contenders": {k: {**v.to_json(), "description": next(c.description for c in contenders if c.name == k)}
                       for k, v in run.stats.items()},
        "blur_ms": ours,
        "target_ms": TARGET_MS,
        "meets_target": ours < TARGET_MS,
        "blur_share_of_photo_pass": ours / run.stats["photo_pass"].median_ms,
        "numpy_equal": numpy_equal,
        "opencv_max_abs_diff": opencv_max_diff,
        "notes": notes,
        "machine": machine.machine_info({"isa": isa()}),
        "load_average_at_end": machine.load_average(),
    }


def redact_table(doc: dict[str, Any]) -> Any:
    from rich.table import Table

    t = Table(title=f"face blur on a {doc['upload'][0]}x{doc['upload'][1]} upload ({doc['faces']} face, "
                    f"{doc['blurred_pixels']} px), median of {doc['rounds']} interleaved rounds, single thread",
              title_justify="left")
    for col in ("contender", "median ms", "p10 ms", "p90 ms", "what"):
        t.add_column(col, justify="left" if col in ("contender", "what") else "right")
    for name, s in doc["contenders"].items():
        t.add_row(name, f"{s['median_ms']:.4f}", f"{s['p10_ms']:.4f}", f"{s['p90_ms']:.4f}", s["description"])
    ok = "met" if doc["meets_target"] else "NOT met"
    t.caption = (f"blur {doc['blur_ms']:.4f} ms, target < {doc['target_ms']} ms: {ok}; "
                 f"{doc['blur_share_of_photo_pass']:.1%} of the photo pass")
    return t
