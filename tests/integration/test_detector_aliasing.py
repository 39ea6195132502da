"""The face detector does not alias: on a fixed seeded set of scenes (glassbridge.bench.aliasing: faces over real
backgrounds, sensor noise sigma 3, NV12, every shift of 0-5 px in x and y), the kernel's area mode keeps the
score swing of confidently found faces within issue 16's 0.08 while the 2x2 bilinear taps do not, it finds small
faces at least as often as bilinear, and it behaves as OpenCV's cvtColor + INTER_AREA pipeline, the independent
reference (the same detector on OpenCV's small image).

The set: seed 0, three 1920x1080 scenes and one 1280x720 (16 faces, 24-450 px wide), 36 shifts, both models.
Measured on x86 (AVX2), 2026-12-07, confident faces = those OpenCV's pipeline scores >= 0.8 on average:
  full_range   confident swing max: bilinear 0.117, area 0.052, opencv 0.048; recall 61-150 px: 0.16, 0.24, 0.24
  short_range  confident swing max: bilinear 0.162, area 0.034, opencv 0.037; recall 151-300 px: 0.90, 1.00, 1.00
The thresholds below keep margins over those figures for other machines (another ISA, another XNNPACK path).
~13 s on the development VM.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("cv2")
pytest.importorskip("matplotlib")

TARGET = 0.08
# area against OpenCV's pipeline, measured: medians within 0.004, maxima within 0.011, recall identical.
REFERENCE_MEDIAN_TOL = 0.015
REFERENCE_MAX_TOL = 0.03
REFERENCE_RECALL_TOL = 0.03


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    from glassbridge.bench.aliasing import AliasingSettings, run_aliasing_benchmark

    settings = AliasingSettings(seed=0, scenes_1080=3, scenes_720=1)
    result: dict[str, Any] = run_aliasing_benchmark(settings)
    for model, md in result["models"].items():
        for name, pd in md["pipelines"].items():
            conf, rec = pd["swing_confident"], pd["recall_by_bucket"]
            print(f"{model} {name}: swing max {pd['swing']['max']:.3f} median {pd['swing']['median']:.3f}, "
                  f"confident ({conf['n']}) max {conf['max']:.3f} median {conf['median']:.3f}; recall "
                  + ", ".join(f"{b} {r['recall']:.2f}" for b, r in rec.items()))
    return result


@pytest.mark.parametrize("model", ["full_range", "short_range"])
def test_area_keeps_the_swing_within_target_and_below_bilinear(doc: dict[str, Any], model: str) -> None:
    md = doc["models"][model]
    assert len(doc["shifts"]) == 36 and md["confident_faces"] >= 3
    bil, area = md["pipelines"]["bilinear"], md["pipelines"]["area"]
    # The set shows the aliasing: bilinear's worst confident face swings past the target ...
    assert bil["swing_confident"]["max"] > TARGET
    # ... area's does not, and area swings less than bilinear on the faces in range too.
    assert area["swing_confident"]["max"] <= TARGET
    assert area["swing_confident"]["max"] < bil["swing_confident"]["max"]
    assert area["swing"]["median"] < bil["swing"]["median"]
    assert area["swing"]["max"] <= bil["swing"]["max"]


@pytest.mark.parametrize("model", ["full_range", "short_range"])
def test_area_finds_small_faces_no_less_than_bilinear(doc: dict[str, Any], model: str) -> None:
    pipes = doc["models"][model]["pipelines"]
    for bucket in ("24-60", "61-150"):
        assert pipes["area"]["recall_by_bucket"][bucket]["recall"] >= pipes["bilinear"]["recall_by_bucket"][bucket]["recall"]
    # The large faces are found at every shift by every pipeline.
    for p in pipes.values():
        assert p["recall_by_bucket"]["301-450"]["recall"] == 1.0


@pytest.mark.parametrize("model", ["full_range", "short_range"])
def test_area_matches_the_opencv_inter_area_pipeline(doc: dict[str, Any], model: str) -> None:
    pipes = doc["models"][model]["pipelines"]
    area, ref = pipes["area"], pipes["opencv_area"]
    for key in ("swing", "swing_confident"):
        assert abs(area[key]["median"] - ref[key]["median"]) <= REFERENCE_MEDIAN_TOL, key
        assert abs(area[key]["max"] - ref[key]["max"]) <= REFERENCE_MAX_TOL, key
    for bucket, r in area["recall_by_bucket"].items():
        assert abs(r["recall"] - ref["recall_by_bucket"][bucket]["recall"]) <= REFERENCE_RECALL_TOL, bucket


def test_the_detector_defaults_to_area() -> None:
    """The default FaceDetector (and so FacePipeline and the assistant's perception) reads the frame through the
    area mode: its detections on a scene frame equal the explicit area detector's, not bilinear's."""
    from glassbridge.bench.aliasing import make_scene
    from glassbridge.vision import FaceDetector

    frame = make_scene(0, 1920, 1080, seed=0, noise=3.0).frame(3, 1)
    default = [(d.box, d.score) for d in FaceDetector().detect(frame)]
    area = [(d.box, d.score) for d in FaceDetector(interpolation="area").detect(frame)]
    bilinear = [(d.box, d.score) for d in FaceDetector(interpolation="bilinear").detect(frame)]
    assert default and default == area != bilinear
