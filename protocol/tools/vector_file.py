"""Reads protocol/vectors/*.txt (format in protocol/vectors/README.md): one record per line, `key=value` tokens,
`#` starts a comment. Shared by the fuzz-corpus generator and the Python conformance tests."""

from __future__ import annotations

from pathlib import Path


def records(path: Path) -> list[dict[str, str]]:
    out = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append({key: value for key, _, value in (tok.partition("=") for tok in line.split())})
    return out
