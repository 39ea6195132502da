"""The type stub of the compiled module (python/glassbridge/_native.pyi) matches the module itself.

pybind11 functions carry no inspect.signature, so mypy's stubtest can only check that names exist. This test reads
the signature pybind11 writes on the first line of every docstring and compares it with the stub's: the same
functions, classes, methods and properties, and for each function the same parameter names, kinds and defaults.
A binding that gains, loses or renames an argument fails here until `make stubs` regenerates the stub.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import glassbridge
from glassbridge import _native

STUB = Path(glassbridge.__file__).with_name("_native.pyi")


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


def _stub_tree() -> dict[str, ast.AST]:
    tree = ast.parse(STUB.read_text())
    out: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = node
        elif isinstance(node, ast.ClassDef):
            out[node.name] = node
            for member in node.body:
                if isinstance(member, ast.FunctionDef):
                    out[f"{node.name}.{member.name}"] = member
    return out


def _runtime_tree() -> dict[str, object]:
    out: dict[str, object] = {}
    for name, obj in vars(_native).items():
        if name.startswith("_"):
            continue
        if inspect.isclass(obj):
            out[name] = obj
            for member, value in vars(obj).items():
                if not member.startswith("_") or member == "__init__":
                    out[f"{name}.{member}"] = value
        elif callable(obj):
            out[name] = obj
    return out


def test_stub_names_match_module() -> None:
    assert sorted(_stub_tree()) == sorted(_runtime_tree())


@pytest.mark.parametrize("qualname", sorted(k for k, v in _runtime_tree().items() if not isinstance(v, (type, property))))
def test_stub_signature_matches_module(qualname: str) -> None:
    stub = _stub_tree()[qualname]
    assert isinstance(stub, ast.FunctionDef)
    assert _params(stub) == _runtime_signature(_runtime_tree()[qualname], qualname.split(".")[-1])
