"""`glassbridge see`: find the faces in photos and say how each person looks."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from glassbridge.cli._args import positive_int

HELP = "find the faces in photos and say how each person looks"

DESCRIPTION = """\
Find the faces in one or more images (JPEG, PNG, ...) and estimate each person's facial expression: angry,
disgust, fear, happy, sad, surprise or neutral. Runs on this machine: BlazeFace finds the faces, a 7-class int8
classifier (trained on FER2013) reads each expression, both through LiteRT and the native preprocessing kernels.

Output: one line per face on stdout (box in source pixels, detector score, emotion and its probability), or
JSON with --json:
  one image:  {"faces": [{"box": [x0, y0, x1, y1], "score": s, "emotion": "happy", "probabilities": {...}}]}
  several:    {"images": [{"path": "a.jpg", "faces": [...]}, {"path": "b.png", "error": "..."}]}
Boxes are in the pixels of the upright image (a phone photo's EXIF rotation is applied first). Gray images deeper
than 8 bits are scaled, not clipped: 16-bit (PNG, TIFF, PGM) as round(v / 257), float TIFF from [0, 1] (or from
the image's own min..max when its values lie outside [0, 1]).
An image that cannot be read is reported on stderr in one line naming the file; the exit status is then 1.

A developer's tool: it runs expression recognition by default, where the assistant does so only when the wearer
opts in ([privacy] emotions). Emotion recognition judges an expression, not a feeling, and its training data
has known biases (see models/cards/). Use --no-emotion to find faces only."""

EPILOG = """\
examples:
  glassbridge see photo.jpg
  glassbridge see photo.jpg --out annotated.png          boxes and labels drawn on a copy of the photo
  glassbridge see a.jpg b.png --out annotated/ --json     one annotated PNG per image in annotated/, JSON on stdout
  glassbridge see group.jpg --detector short_range        faces close to the camera (selfies)
  glassbridge see tests/data/images/*.png --json-out faces.json"""

# One colour per expression for the annotated image (and the terminal).
EMOTION_COLOURS = {
    "angry": (230, 40, 40),
    "disgust": (120, 150, 30),
    "fear": (150, 70, 200),
    "happy": (40, 190, 70),
    "sad": (40, 110, 230),
    "surprise": (240, 190, 20),
    "neutral": (200, 200, 200),
}
NO_EMOTION_COLOUR = (0, 200, 255)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "see", help=HELP, description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files to look at")
    parser.add_argument("--out", metavar="PATH",
                        help="write an annotated PNG: a file for one image, a folder (created) for several")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout instead of text")
    parser.add_argument("--json-out", metavar="FILE", type=Path, help="also write the JSON to FILE")
    parser.add_argument("--detector", choices=("full_range", "short_range"), default="full_range",
                        help=_detector_help())
    parser.add_argument("--no-emotion", action="store_true", help="find faces only, do not estimate expressions")
    parser.add_argument("--threads", type=positive_int, default=1, metavar="N",
                        help="LiteRT threads per model (default 1)")
    parser.set_defaults(func=run)


DETECTOR_MODELS = {"full_range": "blazeface_full_range_sparse", "short_range": "blazeface_short_range"}


def detector_distances() -> dict[str, str]:
    """How far away the faces each detector is made for, as models/MANIFEST.toml states it (`distance`): the one
    statement the help and the docs repeat. Empty when the manifest cannot be read (the help then says so)."""
    try:
        from glassbridge.models.registry import load_manifest

        models = load_manifest().models
        return {name: str(models[model_id].extra["distance"]) for name, model_id in DETECTOR_MODELS.items()}
    except Exception:  # noqa: BLE001 - a broken manifest must not break `--help`; `see` itself reports it
        return {}


def _detector_help() -> str:
    distances = detector_distances()
    full = distances.get("full_range", "see models/MANIFEST.toml")
    short = distances.get("short_range", "see models/MANIFEST.toml")
    return (f"full_range (default): faces at {full}, as the glasses see them; short_range: large faces close to "
            f"the camera, {short}")


def face_json(face: Any) -> dict[str, Any]:
    """The JSON of one face, always exactly {"box", "score", "emotion", "probabilities"} (emotion null and
    probabilities empty with --no-emotion), from the pipeline's own FaceResult.to_json()."""
    data = face.to_json()
    return {
        "box": list(data["box"]),
        "score": data["score"],
        "emotion": data.get("emotion"),
        "probabilities": dict(data.get("probabilities") or {}),
    }


def _label(face: dict[str, Any]) -> str:
    if face["emotion"] is None:
        return f"face {face['score']:.2f}"
    p = face["probabilities"].get(face["emotion"])
    return f"{face['emotion']} {p:.2f}" if p is not None else str(face["emotion"])


def _describe(face: dict[str, Any], index: int) -> str:
    x0, y0, x1, y1 = (int(round(v)) for v in face["box"])
    text = f"  face {index}: box ({x0}, {y0})-({x1}, {y1})  score {face['score']:.2f}"
    if face["emotion"] is not None:
        text += f"  [bold]{_label(face)}[/bold]"
    return text


def annotate(rgb: Any, faces: list[dict[str, Any]], path: Path) -> None:
    """Draw each face's box and label on a copy of the image and save it as PNG."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    w, h = img.size
    line = max(2, round(min(w, h) / 200))
    size = max(12, round(min(w, h) / 28))
    try:
        font: Any = ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        font = ImageFont.load_default()
    for face in faces:
        x0, y0, x1, y1 = (float(v) for v in face["box"])
        colour = EMOTION_COLOURS.get(face["emotion"] or "", NO_EMOTION_COLOUR)
        draw.rectangle([x0, y0, x1, y1], outline=colour, width=line)
        label = _label(face)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        tw, th = right - left, bottom - top
        ty = y0 - th - 2 * line if y0 - th - 2 * line >= 0 else y1 + line  # above the box, or below at the top
        draw.rectangle([x0, ty, x0 + tw + 2 * line, ty + th + 2 * line], fill=colour)
        draw.text((x0 + line - left, ty + line - top), label, fill=(0, 0, 0), font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format="PNG")


def _out_paths(images: list[Path], out_arg: str | None) -> list[Path | None]:
    """Where each annotated image goes: --out itself for one image, unless it names a folder (existing, or
    written with a trailing slash); inside the folder --out for several."""
    if out_arg is None:
        return [None] * len(images)
    out = Path(out_arg)
    if len(images) == 1 and not out.is_dir() and not out_arg.endswith(("/", os.sep)):
        return [out]
    names: list[Path | None] = []
    seen: set[str] = set()
    for i, image in enumerate(images):
        name = f"{image.stem}.png"
        if name in seen:  # two inputs called photo.jpg in different folders
            name = f"{image.stem}-{i + 1}.png"
        seen.add(name)
        names.append(out / name)
    return names


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.markup import escape

    from glassbridge.camera.convert import rgb_view
    from glassbridge.camera.files import read_image
    from glassbridge.camera.source import CameraError

    images = [Path(p) for p in args.images]
    single = len(images) == 1
    outs = _out_paths(images, args.out)
    out = Console(highlight=False, soft_wrap=True)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    pipeline = None
    results: list[dict[str, Any]] = []
    failed = 0
    for image, out_path in zip(images, outs):
        try:
            frame = read_image(image)
        except CameraError as exc:
            if single:
                raise
            err.print(f"glassbridge see: {escape(str(exc))}")
            results.append({"path": str(image), "error": str(exc)})
            failed += 1
            continue
        if pipeline is None:  # loaded once, and only when there is something to look at
            from glassbridge.vision import FacePipeline

            pipeline = FacePipeline(detector=args.detector, emotions=not args.no_emotion, threads=args.threads)
        faces = [face_json(f) for f in pipeline.run(frame)]
        results.append({"path": str(image), "faces": faces})
        if not args.json:
            count = "no faces found" if not faces else f"{len(faces)} face{'s' if len(faces) > 1 else ''}"
            out.print(f"{escape(str(image))}: {count}")
            for i, face in enumerate(faces, 1):
                out.print(_describe(face, i))
        if out_path is not None:
            annotate(rgb_view(frame), faces, out_path)
            if not args.json:
                err.print(f"annotated image: {escape(str(out_path))}")
    document: dict[str, Any] = {"faces": results[0]["faces"]} if single else {"images": results}
    text = json.dumps(document, indent=2)
    if args.json:
        sys.stdout.write(text + "\n")
    if args.json_out is not None:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(text + "\n", encoding="utf-8")
    return 1 if failed else 0
