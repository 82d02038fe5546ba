"""People (and other COCO objects): the YOLOX-nano runner.

``yolox_nano.onnx`` (Apache-2.0, model card ``vpfilters/models/yolox_nano.md``) takes a 416x416
BGR 0..255 letterbox (top-left, pad 114) and returns 3549 raw rows of
``cx, cy, w, h, objectness, 80 class scores`` on the stride 8/16/32 grids.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vpfilters.detect import _onnx
from vpfilters.detect._base import Detections, Detector
from vpfilters.detect.nms import batched_nms
from vpfilters.errors import ParameterError

__all__ = ["COCO_CLASSES", "PersonDetector", "Yolox", "decode_yolox_grid", "letterbox"]

COCO_CLASSES = tuple(
    (Path(__file__).resolve().parents[1] / "models" / "coco.names").read_text().split("\n")[:80])


def letterbox(rgb: np.ndarray, size: int, *, value: int = 114,
              interpolation=None) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into a ``size`` x ``size`` canvas (top-left); returns
    (canvas, ratio) with ``canvas pixels = ratio * picture pixels``."""
    import cv2

    h, w = rgb.shape[:2]
    r = min(size / h, size / w)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    interp = interpolation if interpolation is not None else (
        cv2.INTER_AREA if r < 1 else cv2.INTER_LINEAR)
    out = np.full((size, size, rgb.shape[2]), value, np.uint8)
    out[:nh, :nw] = cv2.resize(rgb, (nw, nh), interpolation=interp) if (nw, nh) != (w, h) else rgb
    return out, r


def decode_yolox_grid(raw: np.ndarray, size_hw: tuple[int, int],
                      strides=(8, 16, 32)) -> np.ndarray:
    """Turn raw YOLOX rows (N, 4 + ...) into absolute ``cx, cy, w, h`` (in place on a copy)."""
    h, w = size_hw
    grids, mult = [], []
    for s in strides:
        gy, gx = np.mgrid[0:h // s, 0:w // s]
        grids.append(np.stack([gx.ravel(), gy.ravel()], 1))
        mult.append(np.full(((h // s) * (w // s), 1), s))
    grid = np.concatenate(grids).astype(np.float32)
    stride = np.concatenate(mult).astype(np.float32)
    if len(grid) != len(raw):
        raise ValueError(f"YOLOX output has {len(raw)} rows, the grid for {w}x{h} has {len(grid)}")
    out = raw.astype(np.float32, copy=True)
    out[:, :2] = (out[:, :2] + grid) * stride
    out[:, 2:4] = np.exp(out[:, 2:4]) * stride
    return out


class Yolox(Detector):
    """YOLOX-nano, COCO-80. Returns boxes of the classes in ``classes`` (names or ids).

    Parameters
    ----------
    classes : sequence of str, optional
        COCO class names to keep (default all 80).
    threshold : float
        Default score (objectness x class) threshold.
    nms_iou : float
        Per-class NMS IoU.
    """

    file = "yolox_nano.onnx"
    size = 416

    def __init__(self, classes=None, *, threshold: float = 0.3, nms_iou: float = 0.45,
                 threads: int | None = None, device: str = "auto", path=None):
        if classes is None:
            self.class_ids = np.arange(len(COCO_CLASSES))
        else:
            unknown = [c for c in classes if c not in COCO_CLASSES]
            if unknown:
                raise ParameterError(f"Yolox: unknown COCO classes {unknown}", parameter="classes")
            self.class_ids = np.asarray([COCO_CLASSES.index(c) for c in classes])
        self.labels = tuple(COCO_CLASSES[i] for i in self.class_ids)
        self.threshold = float(threshold)
        self.nms_iou = float(nms_iou)
        self.sess = _onnx.session(path or self.file, threads=threads, device=device)
        self.input_name = self.sess.get_inputs()[0].name

    def detect(self, image, threshold: float) -> Detections:
        w, h = _onnx.image_size(image)
        # analyse at most at the network size: a 1080p Frame is converted at 416 px directly
        r = min(self.size / h, self.size / w)
        rgb = _onnx.resized_rgb(image, r) if r < 1 else _onnx.as_rgb(image)
        canvas, ratio = letterbox(rgb, self.size)
        ratio = ratio * (rgb.shape[1] / w)
        blob = np.ascontiguousarray(canvas[:, :, ::-1].transpose(2, 0, 1)[None], np.float32)
        raw = _onnx.run(self.sess, {self.input_name: blob}, "yolox")[0][0]
        out = decode_yolox_grid(raw, (self.size, self.size))
        cls = out[:, 5:][:, self.class_ids] * out[:, 4:5]
        rows, cols = np.nonzero(cls >= threshold)
        if rows.size == 0:
            return Detections()
        scores = cls[rows, cols]
        cx, cy, bw, bh = out[rows, 0], out[rows, 1], out[rows, 2], out[rows, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1) / ratio
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        keep = batched_nms(boxes, scores, cols, self.nms_iou)
        labels = np.asarray(self.labels)[cols[keep]]
        return Detections(boxes[keep], scores[keep], labels)


class PersonDetector(Yolox):
    """People: YOLOX-nano restricted to the COCO ``person`` class, labelled ``"person"``.

    ``mode`` is accepted for symmetry with the face and plate detectors; both modes run the
    416 px letterbox once.
    """

    pad = 0.1

    def __init__(self, *, mode: str = "thorough", threshold: float = 0.15, **kw):
        if mode not in ("fast", "thorough"):
            raise ParameterError(f"PersonDetector: mode must be 'fast' or 'thorough', got "
                                 f"{mode!r}", parameter="mode")
        self.mode = mode
        super().__init__(("person",), threshold=threshold, **kw)
