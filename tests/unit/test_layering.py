"""The layer rules of the three packages, checked by import-linter (contracts in pyproject.toml,
[tool.importlinter]; docs/architecture.md "Layers" gives the reasons):

- glassbridge: cli -> bench -> app -> assistant -> mcu | phone | vision | audio -> camera | protocol | models ->
  the small shared modules; siblings joined by `|` are independent of each other;
- nothing imports the rig; the glasses' package imports neither the companion nor bumble, pocketsphinx or openai;
- the assistant takes its devices as ports (the events and errors modules of mcu and phone, never their clients);
- no import cycle between the siblings of any package, at any depth.

Every import counts, wherever it is: at the top, under `if TYPE_CHECKING:` (exclude_type_checking_imports is
off), inside a function; indirect imports too. The second test shows the same checks failing on a small package
that breaks each rule, so a kept contract means something.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *extra], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"})


def test_the_layer_contracts_are_kept() -> None:
    done = subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout and " broken" in done.stdout, done.stdout
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert done.stdout.count(" KEPT") == len(contracts) >= 6, done.stdout  # every contract was checked


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_contracts_fail_on_a_package_that_breaks_them(tmp_path: Path) -> None:
    """A bottom layer importing the top under TYPE_CHECKING, an import of the forbidden rig inside a function, and
    a cycle between two siblings: each contract reports its own violation."""
    _write(tmp_path, {
        "fake/__init__.py": "",
        "fake/cli/__init__.py": "",
        "fake/cli/main.py": "import fake.protocol.link\n",
        "fake/protocol/__init__.py": "",
        "fake/protocol/link.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import fake.cli.main\n",
        "fake/vision/__init__.py": "",
        "fake/vision/a.py": "def f():\n    import fake_rig.sim\n",
        "fake/vision/b.py": "import fake.vision.c\n",
        "fake/vision/c.py": "import fake.vision.b\n",
        "fake_rig/__init__.py": "",
        "fake_rig/sim.py": "",
        ".importlinter": """\
            [importlinter]
            root_packages =
                fake
                fake_rig
            exclude_type_checking_imports = False

            [importlinter:contract:layers]
            name = layers
            type = layers
            containers = fake
            layers =
                cli
                vision
                protocol

            [importlinter:contract:rig]
            name = no rig
            type = forbidden
            source_modules = fake
            forbidden_modules = fake_rig

            [importlinter:contract:cycles]
            name = no cycles
            type = acyclic_siblings
            ancestors = fake
            """,
    })
    done = _lint(tmp_path, "--config", str(tmp_path / ".importlinter"))
    assert done.returncode == 1, done.stdout + done.stderr
    out = " ".join(done.stdout.split())
    assert "layers BROKEN" in out and "no rig BROKEN" in out and "no cycles BROKEN" in out, done.stdout
    assert "fake.protocol is not allowed to import fake.cli" in out, done.stdout
    assert "fake.vision.a -> fake_rig.sim" in out, done.stdout
