"""`glassbridge bench aliasing`: the scenes are what the benchmark says they are (faces where the annotations put
them, NV12 as convert encodes it, shifts that move the content), and the quick run's JSON is complete and sane."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from glassbridge.cli.main import main

pytest.importorskip("cv2")
pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def scene():  # type: ignore[no-untyped-def]
    from glassbridge.bench.aliasing import make_scene

    return make_scene(0, 1920, 1080, seed=0, noise=3.0)


def test_scene_nv12_is_converts_encoding_of_the_shifted_image(scene) -> None:  # type: ignore[no-untyped-def]
    from glassbridge.camera.convert import frame_from_rgb
    from glassbridge.camera.frame import PixelFormat, YuvRange

    for dx, dy in ((0, 0), (3, 0), (1, 5), (5, 4)):
        fast = scene.frame(dx, dy)
        ref = frame_from_rgb(np.ascontiguousarray(scene.crop(dx, dy)), PixelFormat.NV12, yuv_range=YuvRange.LIMITED)
        assert (fast.width, fast.height) == (1920, 1080)
        for a, b in zip(fast.planes, ref.planes):
            np.testing.assert_array_equal(a, b)


def test_a_shift_moves_the_content_right_and_down(scene) -> None:  # type: ignore[no-untyped-def]
    base = scene.crop(0, 0)
    moved = scene.crop(2, 5)
    np.testing.assert_array_equal(moved[5:, 2:], base[:-5, :-2])
    assert not np.array_equal(moved, base)


def test_scenes_are_deterministic_and_seeded() -> None:
    from glassbridge.bench.aliasing import make_scene

    a, b = make_scene(1, 1280, 720, seed=7, noise=3.0), make_scene(1, 1280, 720, seed=7, noise=3.0)
    np.testing.assert_array_equal(a.canvas, b.canvas)
    assert a.faces == b.faces
    c = make_scene(1, 1280, 720, seed=8, noise=3.0)
    assert not np.array_equal(a.canvas, c.canvas)


def test_noise_has_the_stated_sigma() -> None:
    """The same scene with and without noise differs by Gaussian noise of sigma 3 (rounded to 8 bits)."""
    from glassbridge.bench.aliasing import make_scene

    noisy, clean = make_scene(2, 1280, 720, seed=1, noise=3.0), make_scene(2, 1280, 720, seed=1, noise=0.0)
    diff = noisy.canvas.astype(np.float64) - clean.canvas.astype(np.float64)
    inside = (clean.canvas > 12) & (clean.canvas < 243)  # away from the clipping at 0 and 255
    assert abs(diff[inside].std() - 3.0) < 0.1  # rounding adds 1/12 of a level's variance
    assert abs(diff[inside].mean()) < 0.05


def test_faces_are_placed_where_their_boxes_say(scene) -> None:  # type: ignore[no-untyped-def]
    """OpenCV's pipeline (the independent reference) finds the scene's large faces at their annotated boxes; the
    boxes move with the shift; every face is in its size bucket and inside the frame at every shift."""
    from glassbridge.bench.aliasing import BUCKETS, MAX_SHIFT, face_score, make_pipeline

    widths = {name: (lo, hi) for name, lo, hi in BUCKETS}
    assert sorted(f.bucket for f in scene.faces) == sorted(widths)  # one face per bucket in a 1080p scene
    for f in scene.faces:
        lo, hi = widths[f.bucket]
        assert lo <= round(f.width) <= hi
        x0, y0, x1, y1 = f.at(MAX_SHIFT, MAX_SHIFT)
        assert f.box[0] >= 0 and f.box[1] >= 0 and x1 <= 1920 and y1 <= 1080
    run = make_pipeline("opencv_area", "full_range")
    large = max(scene.faces, key=lambda f: f.width)
    for dx, dy in ((0, 0), (5, 3)):
        dets = run(scene.frame(dx, dy))
        assert face_score(dets, large.at(dx, dy)) >= 0.8
        # ... and not at a box moved by a face width
        w = large.width
        assert face_score(dets, tuple(v + w for v in large.at(dx, dy))) == 0.0


def test_bad_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from glassbridge.bench.aliasing import check_shift, make_pipeline, make_scene

    assert main(["bench", "aliasing", "--scenes", "0"]) == 2
    assert "--scenes: must be at least 1" in capsys.readouterr().err
    assert main(["bench", "aliasing", "--quick", "--plot", str(tmp_path / "chart.svg")]) == 2
    assert "PNG" in capsys.readouterr().err
    with pytest.raises(ValueError, match="outside 0..5"):
        check_shift(6, 0)
    with pytest.raises(ValueError, match="unknown pipeline"):
        make_pipeline("nearest", "full_range")
    with pytest.raises(ValueError, match="no face layout"):
        make_scene(0, 640, 480, seed=0, noise=3.0)


def test_quick_run_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out, png = tmp_path / "aliasing.json", tmp_path / "aliasing.png"
    assert main(["bench", "aliasing", "--quick", "--json", str(out), "--plot", str(png)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "glassbridge.bench.aliasing/1" and doc["quick"] is True
    assert doc["pipelines"] == ["bilinear", "area", "opencv_area"]
    assert set(doc["models"]) == {"full_range", "short_range"}
    assert [s["size"] for s in doc["scenes"]] == [[1920, 1080], [1280, 720]]
    n_shifts = len(doc["shifts"])
    assert n_shifts == 7 and [0, 0] in doc["shifts"]
    assert all(0 <= dx <= 5 and 0 <= dy <= 5 for dx, dy in doc["shifts"])
    n_faces = sum(s["faces"] for s in doc["scenes"])
    for model, md in doc["models"].items():
        assert md["in_range_faces"] >= 1, model
        for name, pd in md["pipelines"].items():
            assert len(pd["faces"]) == n_faces and pd["frames"] == 2 * n_shifts
            for f in pd["faces"]:
                assert len(f["scores"]) == n_shifts and all(0.0 <= s <= 1.0 for s in f["scores"])
                assert f["swing"] == pytest.approx(max(f["scores"]) - min(f["scores"]), abs=1e-3)
                assert 0.0 <= f["swing"] <= 1.0
            stats = pd["swing"]
            assert stats["n"] == md["in_range_faces"] and 0.0 <= stats["median"] <= stats["max"] <= 1.0
            placed = 0
            for bucket, r in pd["recall_by_bucket"].items():
                assert 0 <= r["found"] <= r["placed"] and r["recall"] == pytest.approx(r["found"] / r["placed"])
                placed += r["placed"]
            assert placed == n_faces * n_shifts
    # The scenes really contain detectable faces: on the unshifted frames, every pipeline finds the largest face
    # of each scene with the full-range model.
    for name, pd in doc["models"]["full_range"]["pipelines"].items():
        by_scene: dict[str, list[dict[str, Any]]] = {}
        for f in pd["faces"]:
            by_scene.setdefault(f["scene"], []).append(f)
        for scene_name, faces in by_scene.items():
            largest = max(faces, key=lambda f: f["width"])
            assert largest["scores"][doc["shifts"].index([0, 0])] >= 0.5, (name, scene_name, largest)
    assert set(doc["verdict"]) == {"full_range", "short_range"}
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "swing" in capsys.readouterr().out
