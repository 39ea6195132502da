#!/usr/bin/env python3
"""Regenerate everything derived from protocol/glassbridge.proto (the `make proto` recipe).

- python/glassbridge/protocol/glassbridge_pb2.py and .pyi: protoc's Python gencode (protoc 34 -> gencode
  7.34, any protobuf 7.x runtime >= 7.34). The only edit: the classes are registered under their importable
  name ``glassbridge.protocol.glassbridge_pb2`` instead of the bare ``glassbridge_pb2`` protoc derives from the
  file name (pickling and reprs then name a module that exists). The .proto imports nothing, so the module
  has no imports to rewrite.
- python/glassbridge/protocol/glassbridge_limits.py: the `limit:` comments as data, for
  glassbridge.protocol.messages.check_limits (an installed wheel does not carry the .proto).
- protocol/c/include/glassbridge/messages.h and protocol/c/src/messages.c: protocol/tools/gen_c.py.
- protocol/vectors/messages.txt and the fuzzer seeds protocol/c/fuzz/corpus_messages/:
  protocol/tools/make_message_vectors.py (runs after the pb2 it uses).
- protocol/vectors/app_transcripts.txt: protocol/tools/make_app_vectors.py (the same pb2).

Usage: ``python protocol/tools/gen_all.py [--root DIR]``; with --root the files go under DIR (the up-to-date
test regenerates into a temporary directory and compares).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
REPO = TOOLS.parents[1]
sys.path.insert(0, str(TOOLS))

import gen_c  # noqa: E402  (a sibling script, not an installed package)

PB2_DIR = Path("python/glassbridge/protocol")
PB2_MODULE = "glassbridge.protocol.glassbridge_pb2"
PB2_NOTE = "# Edited by protocol/tools/gen_all.py: classes registered under their importable module name.\n"


def generate_pb2(proto: Path = gen_c.PROTO) -> dict[Path, str]:
    """protoc's glassbridge_pb2.py and .pyi as {relative path: text}."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [gen_c.find_protoc(), f"-I{proto.parent}", f"--python_out={tmp}", f"--pyi_out={tmp}", proto.name],
            check=True,
            cwd=proto.parent,
        )
        py = (Path(tmp) / "glassbridge_pb2.py").read_text()
        pyi = (Path(tmp) / "glassbridge_pb2.pyi").read_text()
    before = "_builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, 'glassbridge_pb2', _globals)"
    if before not in py:
        raise gen_c.GenError("protoc's Python output changed shape: update generate_pb2 in gen_all.py")
    py = py.replace(before, before.replace("'glassbridge_pb2'", f"'{PB2_MODULE}'"))
    py = py.replace('"""Generated protocol buffer code."""\n', '"""Generated protocol buffer code."""\n' + PB2_NOTE, 1)
    return {PB2_DIR / "glassbridge_pb2.py": py, PB2_DIR / "glassbridge_pb2.pyi": pyi}


def generate_limits(proto: Path = gen_c.PROTO) -> dict[Path, str]:
    """The `limit:` of every string and bytes field, keyed by the field's full protobuf name."""
    fd = gen_c.load_descriptor(proto)
    _, messages = gen_c.parse(fd)
    lines = [
        '"""' + gen_c.BANNER.replace("gen_c.py", "gen_all.py") + ".",
        "",
        "The `limit:` comment of every string and bytes field (bytes; UTF-8 bytes for strings): the MCU's buffers; of repeated",
        "fields (phone link only): entries.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "LIMITS: dict[str, int] = {",
    ]
    for m in messages:
        for f in m.fields:
            if f.limit is not None:
                lines.append(f'    "{fd.package}.{m.name}.{f.name}": {f.limit},')
        for name, limit in m.repeated_limits.items():  # entries, not bytes (phone-link messages)
            lines.append(f'    "{fd.package}.{m.name}.{name}": {limit},')
    lines += ["}", ""]
    return {PB2_DIR / "glassbridge_limits.py": "\n".join(lines)}


def write(files: dict[Path, str], root: Path) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="write the files under this directory")
    args = parser.parse_args(argv)
    try:
        write(generate_pb2(), args.root)
        write(generate_limits(), args.root)
        write(gen_c.generate(), args.root)
    except gen_c.GenError as exc:
        print(f"gen_all.py: {exc}", file=sys.stderr)
        return 1
    # The vectors come from the committed pb2 of the repository (the one just written when --root is REPO).
    import make_message_vectors  # noqa: E402, PLC0415

    write({make_message_vectors.OUT: make_message_vectors.render()}, args.root)
    make_message_vectors.write_corpus(args.root)
    import make_app_vectors  # noqa: E402, PLC0415  (the MCU link's application transcripts, from the same pb2)

    write({make_app_vectors.OUT: make_app_vectors.render()}, args.root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
