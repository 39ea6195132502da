"""Independent float64 numpy reference for BlazeFace postprocessing: anchors, decoding, weighted NMS.

Written from MediaPipe's documented behaviour (the face detection graphs' options for SsdAnchorsCalculator,
TensorsToDetectionsCalculator and NonMaxSuppressionCalculator), not from glassbridge's code: it builds the anchor
grid with numpy meshgrids instead of loops, decodes all boxes at once in float64, and runs NMS on Python lists.
Tests compare the C++ path (glassbridge.vision._kernels.SsdFaceDecoder) and glassbridge.vision.anchors against it.

The one rule where glassbridge deliberately differs from MediaPipe is written here too: the leader of a cluster
always belongs to it (MediaPipe ends the loop when a zero-area leader does not overlap itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SCALE = 0.1484375
MAX_SCALE = 0.75


def anchors(input_size: int, strides: list[int], interpolated_ratio: float) -> np.ndarray:
    """(N, 4) float64 [x_center, y_center, 1, 1] for a square BlazeFace input (aspect ratio 1.0, fixed size).

    Layers sharing a stride share a grid; each contributes one anchor per cell plus one interpolated anchor when
    interpolated_ratio > 0. With a fixed anchor size the scales do not matter: only the count per cell does.
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        per_cell = (j - i) * (2 if interpolated_ratio > 0 else 1)
        cells = -(-input_size // strides[i])  # ceil
        centres = (np.arange(cells, dtype=np.float64) + 0.5) / cells
        yy, xx = np.meshgrid(centres, centres, indexing="ij")  # row-major: y outer, x inner
        grid = np.stack([xx.ravel(), yy.ravel()], axis=1)
        grid = np.repeat(grid, per_cell, axis=0)
        out.append(np.concatenate([grid, np.ones_like(grid)], axis=1))
        i = j
    return np.concatenate(out, axis=0)


@dataclass
class RefDetection:
    box: np.ndarray  # [xmin, ymin, xmax, ymax] float64, normalised to the model input
    score: float
    keypoints: np.ndarray  # (K, 2) float64
    index: int  # anchor (or input row) of the detection / of the cluster's leader


def decode(
    raw_boxes: np.ndarray,
    logits: np.ndarray,
    anchor_table: np.ndarray,
    scale: float,
    min_score: float,
    clip: float = 100.0,
    num_keypoints: int = 6,
) -> list[RefDetection]:
    """MediaPipe's XYWH decoding (reverse_output_order) with sigmoid scores, in float64, in anchor order."""
    r = np.asarray(raw_boxes, dtype=np.float64).reshape(len(anchor_table), -1)
    s = np.asarray(logits, dtype=np.float64).reshape(-1)
    a = np.asarray(anchor_table, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        score = 1.0 / (1.0 + np.exp(-np.clip(s, -clip, clip)))
    cx = r[:, 0] / scale * a[:, 2] + a[:, 0]
    cy = r[:, 1] / scale * a[:, 3] + a[:, 1]
    w = r[:, 2] / scale * a[:, 2]
    h = r[:, 3] / scale * a[:, 3]
    kx = r[:, 4 : 4 + 2 * num_keypoints : 2] / scale * a[:, 2:3] + a[:, 0:1]
    ky = r[:, 5 : 5 + 2 * num_keypoints : 2] / scale * a[:, 3:4] + a[:, 1:2]
    keep = (score >= min_score) & (w >= 0) & (h >= 0)  # NaN compares False: dropped
    out = []
    for i in np.flatnonzero(keep):
        box = np.array([cx[i] - w[i] / 2, cy[i] - h[i] / 2, cx[i] + w[i] / 2, cy[i] + h[i] / 2])
        out.append(RefDetection(box, float(score[i]), np.stack([kx[i], ky[i]], axis=1), int(i)))
    return out


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two [xmin, ymin, xmax, ymax] boxes; 0 when the union has no area."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def weighted_nms(dets: list[RefDetection], iou_threshold: float, max_detections: int = 100) -> list[RefDetection]:
    """MediaPipe's WEIGHTED non-maximum suppression.

    Repeatedly: the best remaining detection (ties: the earlier one) leads; every remaining detection whose IoU
    with the leader exceeds the threshold (the leader itself included) is removed into its cluster; the output
    has the leader's score and the score-weighted mean box and keypoints of the cluster.
    """
    pool = sorted(dets, key=lambda d: (-d.score, d.index))
    out: list[RefDetection] = []
    while pool and len(out) < max_detections:
        leader = pool[0]
        cluster = [leader] + [d for d in pool[1:] if iou(d.box, leader.box) > iou_threshold]
        pool = [d for d in pool[1:] if not iou(d.box, leader.box) > iou_threshold]
        weights = np.array([d.score for d in cluster])
        total = weights.sum()
        if total > 0:
            box = sum(d.box * d.score for d in cluster) / total
            kps = sum(d.keypoints * d.score for d in cluster) / total
        else:
            box, kps = leader.box, leader.keypoints
        out.append(RefDetection(np.asarray(box), leader.score, np.asarray(kps), leader.index))
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis in float64."""
    x = np.asarray(x, dtype=np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
