"""`glassbridge bench int8`: its options refused at parse time, and how it reads the nn objects' and the embedded
model's bytes from the linker's map: only the sections kept (not "Discarded input sections", nor the
archive-member list before them), a long section name on its own line with its address, size and object on the
next, flash (text, rodata) apart from data and bss."""

from __future__ import annotations

from pathlib import Path

import pytest

from glassbridge.cli.main import build_parser, main
from glassbridge_rig.bench.int8 import map_contributions

MAP = """\
Archive member included to satisfy reference by file (symbol)

libgb_fw_core.a(core.c.obj)   libgb_fw_core.a(wake.c.obj) (gbnn_open)

Discarded input sections

 .text          0x00000000       0x40 libgb_fw_core.a(core.c.obj)
 .rodata.unused
                0x00000000      0x100 libgb_fw_core.a(wake_model.c.obj)

Memory Configuration

Linker script and memory map

.text           0x00000400    0x27a00
 .text.gbnn_open
                0x00000400      0x1c4 libgb_fw_core.a(core.c.obj)
                0x00000400                gbnn_open
 .text.gb_op    0x000005c4       0x20 libgb_fw_core.a(op_conv.c.obj)
 .text.app      0x000005e4       0x10 libgb_fw_core.a(app.c.obj)
 *fill*         0x000005f4        0x4
 .rodata.gb_wake_model
                0x00000600    0x13bce libgb_fw_core.a(wake_model.c.obj)
 .rodata.kernels
                0x000141d0        0x8 libgb_fw_core.a(kernels_dsp.c.obj)
.data           0x20000000        0x8
 .data.x        0x20000000        0x4 libgb_fw_core.a(quant.c.obj)
.bss            0x20000010      0x100
 .bss.arena     0x20000010       0x80 libgb_fw_core.a(wake.c.obj)
 .bss.fe        0x20000090       0x20 libgb_fw_core.a(frontend.c.obj)
"""


def test_map_contributions_counts_kept_nn_and_model_sections(tmp_path: Path) -> None:
    path = tmp_path / "fw.elf.map"
    path.write_text(MAP)
    got = map_contributions(path)
    assert got["nn"] == {"flash": 0x1C4 + 0x20 + 0x8, "data": 4, "bss": 0x20}
    assert got["model"] == {"flash": 0x13BCE, "data": 0, "bss": 0}
    assert got["flash_by_object"] == {"wake_model.c": 0x13BCE, "core.c": 0x1C4, "op_conv.c": 0x20,
                                      "kernels_dsp.c": 8}


@pytest.mark.parametrize("argv", [("bench", "int8", "--idle-seconds", "0"), ("bench", "int8", "--idle-seconds", "nan"),
                                  ("bench", "int8", "--rounds", "0")], ids=" ".join)
def test_bad_numbers_are_argparse_errors(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser(only="bench").parse_args(list(argv))  # parsing only: nothing is started
    assert exit_.value.code == 2
    assert f"argument {argv[-2]}" in capsys.readouterr().err


def test_plot_must_be_a_png_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "int8", "--plot", "chart.txt"]) == 2
    assert "--plot writes a PNG" in capsys.readouterr().err
