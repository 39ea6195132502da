"""The type stub of each compiled module matches the module itself: glassbridge/protocol/_link.pyi (the C link
engine), glassbridge/vision/_kernels.pyi (the image kernels), glassbridge/nn/_nn.pyi (the int8 engine and the audio
frontend) and glassbridge/_testing_native.pyi (what only the tests call), each beside its extension.

pybind11 functions carry no inspect.signature, so mypy's stubtest can only check that names exist. This test reads
the signature pybind11 writes on the first line of every docstring and compares it with the stub's: the same
functions, classes, methods and properties, and for each function the same parameter names, kinds and defaults.
A binding that gains, loses or renames an argument fails here until `make stubs` regenerates the stub. The
IntEnums a module exports (py::native_enum) are compared by their members' names and values.
"""

from __future__ import annotations

import ast
import enum
import importlib
import inspect
from pathlib import Path
from types import ModuleType

import pytest

import glassbridge

MODULES = ["glassbridge.protocol._link", "glassbridge.vision._kernels", "glassbridge.nn._nn",
           "glassbridge._testing_native"]


def _module(name: str) -> ModuleType:
    return importlib.import_module(name)


def _stub_path(name: str) -> Path:
    """The stub beside the extension in the source tree (python/glassbridge/...), where `make stubs` writes it."""
    return Path(glassbridge.__file__).parent.joinpath(*name.split(".")[1:]).with_suffix(".pyi")


def _params(fn: ast.FunctionDef) -> list[tuple[str, str, bool]]:
    a = fn.args
    out = [(p.arg, "positional", False) for p in a.posonlyargs + a.args]
    # Defaults align with the last positional parameters.
    for i in range(len(a.defaults)):
        name, kind, _ = out[len(out) - len(a.defaults) + i]
        out[len(out) - len(a.defaults) + i] = (name, kind, True)
    out += [(p.arg, "keyword", d is not None) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    return [p for p in out if p[0] != "self"]


def _runtime_signature(obj: object, name: str) -> list[tuple[str, str, bool]]:
    first = (inspect.getdoc(obj) or "").splitlines()[0]
    assert first.startswith(name + "("), f"{name}: no pybind11 signature line in its docstring: {first!r}"
    fn = ast.parse(f"def {first}: pass").body[0]
    assert isinstance(fn, ast.FunctionDef)
    return _params(fn)


def _stub_tree(name: str) -> dict[str, ast.AST]:
    tree = ast.parse(_stub_path(name).read_text())
    out: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            out[node.name] = node
            for member in node.body:
                if isinstance(member, ast.FunctionDef):
                    out[f"{node.name}.{member.name}"] = member
                elif isinstance(member, ast.Assign) and isinstance(member.targets[0], ast.Name):  # enum members
                    out[f"{node.name}.{member.targets[0].id}"] = member
    return out


def _runtime_tree(name: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for attr, obj in vars(_module(name)).items():
        if attr.startswith("_"):
            continue
        if inspect.isclass(obj):
            out[attr] = obj
            for member, value in vars(obj).items():
                if not member.startswith("_") or member == "__init__":
                    out[f"{attr}.{member}"] = value
        elif callable(obj):
            out[attr] = obj
    return out


@pytest.mark.parametrize("name", MODULES)
def test_stub_names_match_module(name: str) -> None:
    assert sorted(_stub_tree(name)) == sorted(_runtime_tree(name))


@pytest.mark.parametrize(
    ("name", "qualname"),
    [
        (name, qualname)
        for name in MODULES
        for qualname, value in sorted(_runtime_tree(name).items())
        if not isinstance(value, (type, property, enum.Enum))
    ],
)
def test_stub_signature_matches_module(name: str, qualname: str) -> None:
    stub = _stub_tree(name)[qualname]
    assert isinstance(stub, ast.FunctionDef)
    assert _params(stub) == _runtime_signature(_runtime_tree(name)[qualname], qualname.split(".")[-1])


@pytest.mark.parametrize("name", MODULES)
def test_stub_enum_values_match_module(name: str) -> None:
    runtime = {k: v.value for k, v in _runtime_tree(name).items() if isinstance(v, enum.Enum)}
    stub = {k: ast.literal_eval(v.value) for k, v in _stub_tree(name).items() if isinstance(v, ast.Assign)}
    assert stub == runtime


def test_stubs_sit_beside_their_extensions() -> None:
    """Each extension is a submodule of the package that uses it, and only the test-only one is at the top."""
    for name in MODULES:
        assert _stub_path(name).is_file(), f"{name}: no stub at {_stub_path(name)}: run `make stubs`"
    assert not (Path(glassbridge.__file__).parent / "_native.pyi").exists()
