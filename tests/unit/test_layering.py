"""The assistant gets its devices as ports: it may import the MCU's and the phone's value types (their `events`
modules) and errors, never their clients or transports.

Every import statement counts, wherever it is: at the top, under `if TYPE_CHECKING:`, inside a function. The
modules are read with `ast`, nothing is imported. A `from glassbridge.mcu import client` names the module it
takes, so it is caught as well.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "glassbridge.assistant"
ROOT = Path(__file__).resolve().parents[2] / "python" / "glassbridge" / "assistant"

#: The modules of mcu and phone that assistant/ must not import: the clients and what carries their bytes.
FORBIDDEN = (
    "glassbridge.mcu.client",
    "glassbridge.mcu.transport",
    "glassbridge.phone.client",
    "glassbridge.phone.ble",
    "glassbridge.phone.central",
    "glassbridge.phone.upload",
)


def _module_name(path: Path) -> str:
    parts = [p for p in path.relative_to(ROOT).with_suffix("").parts if p != "__init__"]
    return ".".join([PACKAGE, *parts])


def _targets(source: str, me: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every module an import statement of module `me` may load, relative imports resolved."""
    out: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source, me)):
        if isinstance(node, ast.Import):
            out.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = me.split(".") if is_package else me.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.append((node.lineno, target))
            # `from glassbridge.mcu import client` imports the module glassbridge.mcu.client.
            out.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return out


def _forbidden(module: str) -> str | None:
    for bad in FORBIDDEN:
        if module == bad or module.startswith(bad + "."):
            return bad
    return None


def forbidden_imports() -> list[str]:
    found: list[str] = []
    for path in sorted(ROOT.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        for line, module in _targets(source, _module_name(path), path.name == "__init__.py"):
            bad = _forbidden(module)
            if bad is not None and f"{_module_name(path)} (line {line}) imports {bad}" not in found:
                found.append(f"{_module_name(path)} (line {line}) imports {bad}")
    return found


def test_modules_are_found() -> None:
    names = {_module_name(p) for p in ROOT.rglob("*.py")}
    assert {"glassbridge.assistant.ports", "glassbridge.assistant.context", "glassbridge.assistant.loop"} <= names


def test_assistant_imports_no_client_or_transport_of_mcu_or_phone() -> None:
    found = forbidden_imports()
    assert not found, "assistant/ must import only the events and errors modules of mcu and phone:\n" + "\n".join(
        found)


def test_the_check_sees_every_kind_of_import() -> None:
    """The scanner itself: top-level, TYPE_CHECKING, function-level, relative and `from package import module`
    imports are all reported; the events and errors modules are not."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from glassbridge.mcu.events import CardSpec\n"
        "from glassbridge.phone.errors import PhoneError\n"
        "from glassbridge.phone import events\n"
        "import glassbridge.mcu.transport\n"
        "if TYPE_CHECKING:\n"
        "    from glassbridge.phone.client import Phone\n"
        "def f():\n"
        "    from glassbridge.phone import ble\n"
        "    from glassbridge.mcu import client\n"
        "    from ..phone.upload import Upload\n"
    )
    found = {bad for _, m in _targets(source, "glassbridge.assistant.x") if (bad := _forbidden(m)) is not None}
    assert found == {"glassbridge.mcu.client", "glassbridge.mcu.transport", "glassbridge.phone.ble",
                     "glassbridge.phone.client", "glassbridge.phone.upload"}
