"""`glassbridge photo`: write exactly the photo the assistant would send to the phone, to check what leaves."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HELP = "write exactly the photo the assistant would send to the phone (size, quality, faces blurred)"

DESCRIPTION = """\
Make the photo the assistant sends to the phone from IMAGE, with the same code and the same settings, and write
its bytes to OUT: the same size ([camera] width, height), JPEG quality ([camera] quality) and face blurring
([privacy] blur_faces, on by default). The glasses' perception (BlazeFace full range, as the assistant runs it)
finds the faces in the full image; each one is pixelated in the scaled photo, its box grown over hair and ears.
So anyone can see what leaves their glasses: run `glassbridge see OUT.jpg` on the result.

The bytes equal the assistant's for the same frame and settings (one function makes both,
glassbridge.assistant.photo.make_photo). The camera's own frames are NV12: a PNG or JPEG read here is RGB, so
the scaled pixels can differ from a camera frame of the same scene by the chroma subsampling, nothing else.
--low-battery applies the [camera] low_battery_* size and quality, as the assistant does on low battery
([power] low_smaller_frames). A face the detector misses is not blurred: the limit is the detector's.

--task read-text makes the photo of "what does this sign say?" (the capture button's tap): with [camera]
text_mode = "crop" (the default) that is the centre of the frame, half its width and height, at a higher
resolution, in no more bytes than the whole-frame photo would take (budget_bytes); with "whole" it is the
whole-frame photo, as for any other question. Faces are blurred in the crop as in the whole photo.

Output: one line on stdout (size, bytes, quality, faces found and blurred, what blurring cost), or with --json
  {"path": OUT, "bytes": n, "width": w, "height": h, "quality": q, "faces_found": n, "faces_blurred": n,
   "blur_faces": true, "blur_ms": t, "low_battery": false, "task": "describe" | "read-text",
   "text_mode": null | "crop" | "whole", "crop": null | [x, y, w, h] (frame pixels), "budget_bytes": null | n}
exit status: 0 on success, 1 when the image or the settings cannot be read, 2 on a usage error."""

EPILOG = """\
examples:
  glassbridge photo me.jpg --out sent.jpg              the photo the phone would get
  glassbridge photo me.jpg --out sent.jpg --json       ... and what was done, as JSON
  glassbridge photo me.jpg --out small.jpg --low-battery
  glassbridge photo sign.jpg --out sign.jpg --task read-text   what reading a sign sends (text mode)
  glassbridge photo me.jpg --out sent.jpg --config glasses.toml && glassbridge see sent.jpg"""


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser("photo", help=HELP, description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("image", metavar="IMAGE", type=Path, help="the image (JPEG, PNG, ...) standing for a frame")
    parser.add_argument("--out", metavar="OUT.jpg", type=Path, required=True,
                        help="where the JPEG bytes go (written exactly as they would be sent)")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="settings (TOML; default: $GLASSBRIDGE_CONFIG, else the user config, as `run` reads)")
    parser.add_argument("--low-battery", action="store_true",
                        help="use the [camera] low_battery_* size and quality (when [power] low_smaller_frames)")
    parser.add_argument("--task", choices=("describe", "read-text"), default="describe",
                        help="the question the photo is for: describe (a main tap, a spoken question; default) or "
                             "read-text (a sign: text mode, [camera] text_mode)")
    parser.add_argument("--json", action="store_true", help="print JSON on stdout instead of a line of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from glassbridge.assistant.perception import FacePerceiver
    from glassbridge.assistant.photo import make_photo, make_text_photo
    from glassbridge.camera.files import read_image
    from glassbridge.cli.config import load_checked_settings

    settings = load_checked_settings(args.config)
    frame = read_image(args.image)
    camera, power = settings.camera, settings.power
    low = bool(args.low_battery and power.low_smaller_frames)
    width, height, quality = ((camera.low_battery_width, camera.low_battery_height, camera.low_battery_quality)
                              if low else (camera.width, camera.height, camera.quality))
    local = FacePerceiver().perceive(frame, emotions=False)
    text_mode = camera.text_mode if args.task == "read-text" else None
    make = make_text_photo if text_mode == "crop" else make_photo
    photo = make(frame, [f.box for f in local.faces], max_width=width, max_height=height, quality=quality,
                 blur_faces=settings.privacy.blur_faces)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(photo.jpeg)
    doc = {"path": str(args.out), "bytes": len(photo.jpeg), "width": photo.size[0], "height": photo.size[1],
           "quality": photo.quality, "faces_found": photo.faces_found, "faces_blurred": photo.faces_blurred,
           "blur_faces": settings.privacy.blur_faces, "blur_ms": round(photo.blur_s * 1000, 3),
           "low_battery": low, "task": args.task, "text_mode": text_mode,
           "crop": list(photo.crop) if photo.crop else None, "budget_bytes": photo.budget}
    if args.json:
        sys.stdout.write(json.dumps(doc) + "\n")
    else:
        blur = (f"{photo.faces_blurred} of {photo.faces_found} face(s) blurred ({doc['blur_ms']} ms)"
                if settings.privacy.blur_faces else f"{photo.faces_found} face(s) found, NOT blurred "
                "([privacy] blur_faces = false)")
        if text_mode is None:
            part = ""
        elif photo.crop is None:
            part = (" (whole frame: [camera] text_mode = \"whole\")" if text_mode == "whole" else
                    f" (whole frame: no crop fitted in its {photo.budget} bytes)")
        else:
            x, y, w, h = photo.crop
            part = f" (text mode: the frame's {w}x{h} centre at ({x}, {y}), budget {photo.budget} bytes)"
        sys.stdout.write(f"{args.out}: {photo.size[0]}x{photo.size[1]}, {len(photo.jpeg)} bytes, quality "
                         f"{photo.quality}{part}; {blur}\n")
    return 0
