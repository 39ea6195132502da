"""The `glassbridge` command: help that teaches, JSON that parses, one-line errors, and `see` on the astronaut."""

from __future__ import annotations

import re

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

import glassbridge
from glassbridge.cli import main as cli_main
from glassbridge.cli.main import BUILTIN, available_commands, main

# The source checkout installs all three parts (`make setup`): the glasses' commands and the companion's and
# the rig's, which come through entry points.
SUBCOMMANDS = tuple(available_commands())
MY_SUBCOMMANDS = ("see", "camera", "models", "info")  # the bench module has its own tests



def load_rgb(path: Path, *, exif_transpose: bool = False) -> np.ndarray:
    """An image file's pixels through Pillow (the independent reader), file closed afterwards."""
    with Image.open(path) as img:
        return np.asarray((ImageOps.exif_transpose(img) if exif_transpose else img).convert("RGB"))

def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def models_ready() -> str | None:
    """None when the face models and the astronaut image are present and intact, else why not."""
    from glassbridge.models.registry import ModelError, model_path, test_image_path

    try:
        test_image_path("astronaut")
        for model in ("blazeface_full_range_sparse", "emotion_fer_int8"):
            model_path(model)
    except ModelError as exc:
        return f"models not fetched yet (run `make setup`): {exc}"
    return None


needs_models = pytest.mark.skipif(models_ready() is not None, reason=str(models_ready()))


def astronaut() -> Path:
    from glassbridge.models.registry import test_image_path

    return test_image_path("astronaut")


def assert_one_line_error(code: int, err: str, *must_contain: str) -> None:
    assert code != 0
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for text in must_contain:
        assert text in lines[0], lines[0]


# ---------------------------------------------------------------------------------------------------------------
# Help and version


def test_top_level_help_lists_every_command_with_examples(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for name in SUBCOMMANDS:  # argparse puts a long name's help on the next line ("companion")
        assert re.search(rf"\n    {name}[ \n]", out), name
    assert "examples:" in out and "stdout" in out


def test_the_parts_add_their_commands_through_entry_points() -> None:
    commands = available_commands()
    assert set(BUILTIN) <= set(commands)
    assert commands["companion"] == "glassbridge_companion.cli"
    assert {commands[name] for name in ("sim", "demo", "firmware")} == {
        "glassbridge_rig.cli.sim", "glassbridge_rig.cli.demo", "glassbridge_rig.cli.firmware"}
    assert not any(module.startswith(("glassbridge_rig", "glassbridge_companion")) for name, module in commands.items()
                   if name in BUILTIN)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"glassbridge {glassbridge.__version__}"


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_subcommand_has_help(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = run_cli(capsys, name, "--help")
    assert code == 0 and f"usage: glassbridge {name}" in out
    if name in MY_SUBCOMMANDS:  # says what it does, shows an example, says where output goes
        assert "example" in out and "stdout" in out


@pytest.mark.parametrize(
    "argv", [("camera", "list"), ("camera", "grab"), ("models", "list"), ("models", "fetch"), ("models", "verify")]
)
def test_nested_actions_have_help(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    code, out, _ = run_cli(capsys, *argv, "--help")
    assert code == 0 and f"usage: glassbridge {' '.join(argv)}" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "see")[0] == 2  # no image
    assert run_cli(capsys, "camera", "grab", "--size", "big")[0] == 2
    assert run_cli(capsys, "nonsense")[0] == 2
    assert run_cli(capsys)[0] == 2  # no command: help on stderr
    assert run_cli(capsys, "camera")[0] == 2  # no action


def test_a_broken_subcommand_does_not_break_the_others(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An installed part whose module fails to import (a broken or half-removed distribution).
    commands = {**available_commands(), "doesnotexist": "glassbridge_nowhere.cli"}
    monkeypatch.setattr(cli_main, "available_commands", lambda: commands)
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0 and "doesnotexist" in out and "unavailable" in out
    code, out, _ = run_cli(capsys, "info", "--json")
    assert code == 0 and json.loads(out)["version"] == glassbridge.__version__
    code, _, err = run_cli(capsys, "doesnotexist")
    assert_one_line_error(code, err, "doesnotexist", "unavailable")


# ---------------------------------------------------------------------------------------------------------------
# see


@needs_models
def test_see_astronaut_json_gives_one_happy_face(capsys: pytest.CaptureFixture[str]) -> None:
    path = astronaut()
    code, out, _ = run_cli(capsys, "see", str(path), "--json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["faces"] and len(doc["faces"]) == 1
    face = doc["faces"][0]
    assert list(face) == ["box", "score", "emotion", "probabilities"]
    width, height = load_rgb(path).shape[1::-1]
    x0, y0, x1, y1 = face["box"]
    assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
    assert 0.5 < face["score"] <= 1
    assert face["emotion"] == "happy"
    probs = face["probabilities"]
    assert len(probs) == 7 and max(probs, key=probs.get) == "happy"
    assert sum(probs.values()) == pytest.approx(1.0, abs=0.01)


@needs_models
def test_see_text_output_and_annotated_png(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_png = tmp_path / "annotated.png"
    code, out, err = run_cli(capsys, "see", str(astronaut()), "--out", str(out_png), "--no-emotion")
    assert code == 0
    assert "1 face" in out and "face 1: box (" in out and "happy" not in out
    assert str(out_png) in err
    original = load_rgb(astronaut())
    annotated = load_rgb(out_png)
    assert annotated.shape == original.shape and (annotated != original).any()  # something was drawn


@needs_models
def test_see_several_images_with_one_unreadable(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    out_dir = tmp_path / "annotated"
    json_file = tmp_path / "faces.json"
    code, out, err = run_cli(capsys, "see", str(astronaut()), str(bad), "--json", "--out", str(out_dir),
                             "--json-out", str(json_file))
    assert code == 1
    doc = json.loads(out)
    assert json.loads(json_file.read_text()) == doc
    first, second = doc["images"]
    assert first["path"] == str(astronaut()) and len(first["faces"]) == 1
    assert second["path"] == str(bad) and str(bad) in second["error"]
    assert_one_line_error(code, err, str(bad))
    assert (out_dir / f"{astronaut().stem}.png").is_file()


def unreadable_files(tmp_path: Path) -> list[Path]:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("not a picture")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 50)
    return [tmp_path / "missing.png", tmp_path, empty, text, cut]


def test_see_unreadable_file_is_one_line_naming_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for path in unreadable_files(tmp_path):
        code, out, err = run_cli(capsys, "see", str(path), "--json")
        assert_one_line_error(code, err, "glassbridge see:", str(path))
        assert out == ""


def test_see_model_problem_is_one_line_naming_the_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from glassbridge.models.registry import model_info

    # A folder in $GLASSBRIDGE_MODEL_DIR wins over the fetched models, and a wrong file there is an error.
    bad_model = tmp_path / model_info("blazeface_full_range_sparse").file
    bad_model.write_bytes(b"<html>404 not found</html>")
    monkeypatch.setenv("GLASSBRIDGE_MODEL_DIR", str(tmp_path))
    image = tmp_path / "img.png"
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(image)
    code, _, err = run_cli(capsys, "see", str(image))
    assert_one_line_error(code, err, str(bad_model), "TFLite")


def test_see_unreadable_file_as_a_subprocess(tmp_path: Path) -> None:
    missing = tmp_path / "no such photo.jpg"
    proc = subprocess.run([sys.executable, "-m", "glassbridge.cli.main", "see", str(missing)],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout == ""
    assert_one_line_error(proc.returncode, proc.stderr, str(missing), "no such file")


# ---------------------------------------------------------------------------------------------------------------
# camera, models, info


def test_camera_grab_pattern_json_and_preview(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    preview = tmp_path / "grab.png"
    code, out, _ = run_cli(capsys, "camera", "grab", "--size", "320x240", "--format", "yuyv", "--frames", "3",
                           "--out", str(preview), "--json")
    assert code == 0
    doc = json.loads(out)
    assert [f["sequence"] for f in doc["frames"]] == [0, 1, 2]
    assert {(f["format"], f["width"], f["height"]) for f in doc["frames"]} == {("YUYV", 320, 240)}
    assert doc["preview"] == str(preview) and load_rgb(preview).shape == (240, 320, 3)


def test_camera_grab_from_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    rgb = np.random.default_rng(1).integers(0, 256, (24, 32, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(image)
    preview = tmp_path / "p.png"
    code, out, _ = run_cli(capsys, "camera", "grab", "--source", f"file:{image}", "--out", str(preview))
    assert code == 0 and "frame 0: RGB888 32x24" in out
    np.testing.assert_array_equal(load_rgb(preview), rgb)
    raw = tmp_path / "dump.gray"
    raw.write_bytes(bytes(range(64)) * 2)
    code, out, _ = run_cli(capsys, "camera", "grab", "--source", f"file:{raw}", "--size", "8x8", "--frames", "5",
                           "--out", "-", "--json")
    assert code == 0 and [f["sequence"] for f in json.loads(out)["frames"]] == [0, 1]  # the file has two


def test_camera_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, "camera", "grab", "--device", str(tmp_path / "video7"), "--out", "-")
    assert_one_line_error(code, err, "glassbridge camera:", "video7", "no such video device")
    code, _, err = run_cli(capsys, "camera", "grab", "--source", "webcam")
    assert_one_line_error(code, err, "unknown source")


def test_camera_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "camera", "list", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["pattern"] is True and isinstance(doc["v4l2"], list)
    code, out, _ = run_cli(capsys, "camera", "list")
    assert code == 0 and out.startswith("pattern")


def test_models_list_and_verify_json(capsys: pytest.CaptureFixture[str]) -> None:
    from glassbridge.models.registry import load_manifest

    manifest = load_manifest()
    code, out, _ = run_cli(capsys, "models", "--json")
    rows = json.loads(out)["files"]
    assert code == 0
    assert {r["id"] for r in rows if r["kind"] == "model"} == set(manifest.models)
    assert {r["id"] for r in rows if r["kind"] == "image"} == set(manifest.images)
    code, out, _ = run_cli(capsys, "models", "verify", "--json")
    doc = json.loads(out)
    assert doc["ok"] == all(r["ok"] for r in doc["files"]) and code == (0 if doc["ok"] else 1)


def test_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "info", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["version"] == glassbridge.__version__
    from glassbridge.vision.preprocess import available_isas, isa

    assert doc["native"]["active_isa"] == isa() and doc["native"]["available_isas"] == available_isas()
    assert doc["litert"] and isinstance(doc["models"], list)
    code, out, _ = run_cli(capsys, "info")
    assert code == 0 and "native kernels: active" in out


@needs_models
def test_camera_grab_faces_runs_the_pipeline_on_camera_frames(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`camera grab --faces` on NV12 frames, as a dev kit's camera delivers them (a raw dump stands in for V4L2):
    the astronaut, scaled 2x into a 1080p frame, is found where she was pasted and looks happy."""
    cv2 = pytest.importorskip("cv2")
    rgb = np.asarray(Image.open(astronaut()).convert("RGB").resize((1024, 1024), Image.BILINEAR))
    canvas = np.full((1080, 1920, 3), 90, np.uint8)
    canvas[28:1052, 448:1472] = rgb
    # NV12 from OpenCV's BT.601 I420 encoder (an independent encoder): interleave its U and V planes.
    i420 = cv2.cvtColor(canvas, cv2.COLOR_RGB2YUV_I420)
    u = i420[1080:1080 + 270].reshape(540, 960)
    v = i420[1080 + 270:].reshape(540, 960)
    nv12 = np.concatenate([i420[:1080].ravel(), np.stack([u, v], axis=-1).ravel()])
    raw = tmp_path / "camera.nv12"
    raw.write_bytes(nv12.tobytes() * 2)  # two frames
    preview = tmp_path / "faces.png"
    code, out, _ = run_cli(capsys, "camera", "grab", "--source", f"file:{raw}", "--size", "1920x1080",
                           "--frames", "2", "--faces", "--out", str(preview), "--json")
    assert code == 0
    frames = json.loads(out)["frames"]
    assert len(frames) == 2
    # The hand-annotated astronaut face (ASTRONAUT_FACE in tests/integration/test_faces.py, brow to chin) scaled
    # 2x and moved by the paste offset; the detector's box is a little larger (forehead), hence IoU > 0.6.
    expected = np.array([175.0, 80.0, 270.0, 172.0]) * 2 + np.array([448, 28, 448, 28])
    for frame in frames:
        assert frame["format"] == "NV12" and frame["pipeline_ms"] > 0
        assert len(frame["faces"]) == 1
        face = frame["faces"][0]
        box = np.array(face["box"])
        inter = np.clip(np.minimum(box[2:], expected[2:]) - np.maximum(box[:2], expected[:2]), 0, None).prod()
        union = np.prod(box[2:] - box[:2]) + np.prod(expected[2:] - expected[:2]) - inter
        assert inter / union > 0.6, (box, expected)
        assert face["emotion"] == "happy" and face["probabilities"]["happy"] > 0.9
    assert load_rgb(preview).shape == (1080, 1920, 3)
