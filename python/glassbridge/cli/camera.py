"""`glassbridge camera`: list frame sources and grab frames from one, with a PNG preview."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from glassbridge.cli._args import float_in, positive_int

HELP = "list frame sources; grab frames and save a PNG preview"

DESCRIPTION = """\
Frame sources: the moving test pattern (always there), image/raw/video files, and V4L2 cameras (/dev/videoN)
on a dev kit or laptop.

  camera list   what can be opened here: the pattern, each V4L2 capture device with its formats, whether video
                files can be read (PyAV). Text on stdout, or JSON with --json.
  camera grab   read --frames frames from a source, print one line per frame (sequence, format, size, row
                strides, timestamp) on stdout (JSON with --json), and save the last one as a PNG (--out).
                The PNG is converted with glassbridge's exact BT.601 decoder, so it shows what the camera sent."""

EPILOG = """\
sources (--source):
  pattern                 the moving test pattern (default), --size and --format apply
  file:PATH               an image (or a folder of them), a raw dump (.nv12, .yuyv, ...: needs --size) or a video
  v4l2:/dev/videoN        a camera; same as --device /dev/videoN

examples:
  glassbridge camera list
  glassbridge camera grab                                          pattern frame -> grab.png
  glassbridge camera grab --device /dev/video0 --frames 30 --out grab.png
  glassbridge camera grab --device /dev/video0 --format YUYV --size 1280x720     a UVC webcam
  glassbridge camera grab --source file:capture.nv12 --size 1920x1080 --frames 5
  glassbridge camera grab --device /dev/video0 --frames 300 --faces --json     faces and expressions, live"""


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 1920x1080, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return w, h


def _pixel_format(text: str) -> Any:
    from glassbridge.camera.frame import PixelFormat

    try:
        return PixelFormat[text.upper()]
    except KeyError:
        names = ", ".join(f.name for f in PixelFormat)
        raise argparse.ArgumentTypeError(f"unknown pixel format {text!r}; use one of {names}") from None


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "camera", help=HELP, description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="<action>", title="actions")

    lister = actions.add_parser("list", help="list the frame sources available here",
                                description="List the test pattern, V4L2 capture devices and video support.")
    lister.add_argument("--json", action="store_true", help="print JSON on stdout")

    grab = actions.add_parser(
        "grab", help="grab frames and save the last as a PNG", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    grab.add_argument("--source", default="pattern", metavar="SOURCE",
                      help="pattern (default), file:PATH or v4l2:/dev/videoN")
    grab.add_argument("--device", metavar="/dev/videoN", help="a V4L2 camera (same as --source v4l2:/dev/videoN)")
    grab.add_argument("--size", type=_size, metavar="WxH",
                      help="frame size for the pattern and cameras (default 1920x1080) and raw files")
    grab.add_argument("--format", type=_pixel_format, metavar="FMT",
                      help="pixel format: NV12 (default for pattern and cameras), YUYV, I420, RGB888, ...")
    grab.add_argument("--fps", type=float_in(0.0, 1000.0, low_open=True), default=30.0,
                      help="frame rate to ask for, more than 0 (default 30)")
    grab.add_argument("--frames", type=positive_int, default=1, metavar="N", help="frames to grab (default 1)")
    grab.add_argument("--out", default="grab.png", metavar="PNG",
                      help="where the preview of the last frame goes (default grab.png; '-' for none)")
    grab.add_argument("--json", action="store_true", help="print JSON on stdout")
    grab.add_argument("--faces", action="store_true",
                      help="run the face pipeline of `glassbridge see` on every frame, straight from the camera's "
                           "own format (NV12, YUYV, ...): faces, expressions (a developer's tool: expression "
                           "recognition runs by default here, opt-in in the assistant) and the time each frame took")
    grab.add_argument("--no-emotion", action="store_true", help="with --faces: find faces only")
    parser.set_defaults(func=run, print_help=parser.print_help)


def run(args: argparse.Namespace) -> int:
    """Dispatch to the action; without one, the help goes to stderr and the exit status is 2 (a usage error)."""
    if args.action == "list":
        return run_list(args)
    if args.action == "grab":
        return run_grab(args)
    args.print_help(sys.stderr)
    return 2


def run_list(args: argparse.Namespace) -> int:
    import importlib.util

    from glassbridge.camera.v4l2 import list_devices

    linuxpy = importlib.util.find_spec("linuxpy") is not None
    video = importlib.util.find_spec("av") is not None
    devices = list_devices()
    if args.json:
        print(json.dumps({
            "pattern": True,
            "v4l2": [d.__dict__ for d in devices],
            "linuxpy": linuxpy,
            "video_files": video,
        }, indent=2))
        return 0
    print("pattern           moving test pattern, any size and format (--source pattern)")
    if not linuxpy:
        print("v4l2              unavailable: pip install 'glassbridge[v4l2]' (linuxpy)")
    elif not devices:
        print("v4l2              no capture devices (/dev/video* absent)")
    for d in devices:
        detail = f"error: {d.error}" if d.error else f"{d.card} ({d.driver}), formats {' '.join(d.formats) or '?'}"
        print(f"{d.path:<17} {detail}")
    print("file:PATH         images, raw dumps (.nv12, .yuyv, ...), "
          + ("videos (PyAV)" if video else "videos need PyAV: pip install 'glassbridge[video]'"))
    return 0


def open_source(args: argparse.Namespace) -> Any:
    """The FrameSource that --source/--device/--size/--format/--fps describe."""
    from glassbridge.camera.files import open_file_source
    from glassbridge.camera.frame import PixelFormat
    from glassbridge.camera.pattern import TestPatternSource
    from glassbridge.camera.v4l2 import V4l2Source

    spec = f"v4l2:{args.device}" if args.device else args.source
    kind, _, rest = spec.partition(":")
    if kind == "pattern" and not rest:
        w, h = args.size or (1920, 1080)
        return TestPatternSource(w, h, args.format or PixelFormat.NV12, fps=args.fps)
    if kind == "file" and rest:
        return open_file_source(rest, size=args.size, format=args.format, fps=args.fps)
    if kind == "v4l2" and rest:
        w, h = args.size or (1920, 1080)
        return V4l2Source(rest, w, h, args.format or PixelFormat.NV12, fps=args.fps)
    raise ValueError(f"unknown source {spec!r}: use pattern, file:PATH or v4l2:/dev/videoN")


def run_grab(args: argparse.Namespace) -> int:
    from glassbridge.camera.convert import frame_to_rgb
    from glassbridge.cli.see import _describe, annotate, face_json

    if args.frames < 1:
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    records: list[dict[str, Any]] = []
    last = None
    last_faces: list[dict[str, Any]] = []
    pipeline = None
    if getattr(args, "faces", False):
        from glassbridge.vision import FacePipeline

        pipeline = FacePipeline(emotions=not args.no_emotion)
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    with open_source(args) as source:
        for frame in source.frames(max_frames=args.frames):
            record = {
                "sequence": frame.sequence,
                "format": frame.format.name,
                "width": frame.width,
                "height": frame.height,
                "strides": list(frame.strides),
                "timestamp_ns": frame.timestamp_ns,
                "range": frame.range.name.lower(),
            }
            if pipeline is not None:
                # The frame is used in place, before the source reuses its buffer.
                started = time.perf_counter()
                last_faces = [face_json(f) for f in pipeline.run(frame)]
                record["pipeline_ms"] = round((time.perf_counter() - started) * 1e3, 3)
                record["faces"] = last_faces
            records.append(record)
            if not args.json:
                print(f"frame {frame.sequence}: {frame.format.name} {frame.width}x{frame.height} "
                      f"strides {list(frame.strides)} t={frame.timestamp_ns / 1e9:.6f} s")
                if pipeline is not None:
                    print(f"  {len(last_faces)} face(s) in {record['pipeline_ms']:.1f} ms")
                    for i, face in enumerate(last_faces, 1):
                        console.print(_describe(face, i))  # rich markup: the expression in its colour
            last = frame
        # Converted before the source closes: a camera frame's buffer is only valid until then.
        preview = None
        if last is not None and args.out != "-":
            preview = Path(args.out)
            from PIL import Image

            preview.parent.mkdir(parents=True, exist_ok=True)
            if pipeline is not None:
                annotate(frame_to_rgb(last), last_faces, preview)
            else:
                Image.fromarray(frame_to_rgb(last)).save(preview, format="PNG")
        name = source.name
    if not records:
        raise ValueError(f"{name}: delivered no frames")
    if args.json:
        print(json.dumps({"source": name, "frames": records, "preview": str(preview) if preview else None},
                         indent=2))
    elif preview is not None:
        print(f"preview of frame {records[-1]['sequence']}: {preview}", file=sys.stderr)
    return 0
