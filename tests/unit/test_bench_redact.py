"""`glassbridge bench redact --quick`: the JSON is complete and its figures agree with each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glassbridge.cli.main import main


def test_bench_redact_quick(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "redact.json"
    assert main(["bench", "redact", "--quick", "--rounds", "5", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["schema"] == "glassbridge.bench.redact/1" and doc["rounds"] == 5 and doc["quick"]
    assert doc["upload"] == [480, 360] and doc["faces"] == 1
    x0, y0, x1, y1 = doc["boxes"][0]
    assert doc["blurred_pixels"] == (x1 - x0) * (y1 - y0) > 0
    assert set(doc["contenders"]) == {"glassbridge", "opencv", "numpy", "photo_pass", "photo_no_blur"}
    assert all(c["n"] == 5 for c in doc["contenders"].values())
    assert doc["blur_ms"] == doc["contenders"]["glassbridge"]["median_ms"] > 0
    assert doc["meets_target"] == (doc["blur_ms"] < doc["target_ms"] == 0.5)
    assert doc["numpy_equal"] is True  # numpy's block means, written apart, give the kernel's bytes
    assert "face blur" in capsys.readouterr().out
