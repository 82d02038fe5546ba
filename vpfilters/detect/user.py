"""User-supplied ONNX detectors, by path, with the output layout named.

Layouts (the first output tensor, batch 1):

``"yolov5"``
    ``[1, N, 5 + C]`` decoded rows ``cx, cy, w, h, objectness, C class scores`` in input pixels
    (YOLOv5/YOLOv7 exports, YOLOX exported with ``decode_in_inference``). Input RGB 0..1,
    centred letterbox padded with 114.
``"yolox"``
    ``[1, N, 5 + C]`` raw YOLOX rows: ``x, y`` offsets and log ``w, h`` on the stride 8/16/32
    grids, then objectness and class scores (the default YOLOX ONNX export). Input BGR 0..255,
    top-left letterbox padded with 114.
``"yolov8"``
    ``[1, 4 + C, N]`` decoded ``cx, cy, w, h`` and C class scores, no objectness (YOLOv8/v11
    exports). Input RGB 0..1, centred letterbox padded with 114.

The input size is read from the model when it is static, else given as ``input_size``. Class
names come from ``classes``, else the model's ``names`` metadata (Ultralytics writes it), else
``class0``, ``class1``...
"""

from __future__ import annotations

import ast

import numpy as np

from vpfilters.detect import _onnx
from vpfilters.detect._base import Detections, Detector
from vpfilters.detect.nms import batched_nms
from vpfilters.detect.people import decode_yolox_grid
from vpfilters.errors import ModelError, ParameterError

__all__ = ["LAYOUTS", "OnnxDetector"]

#: layout -> (channel order, scale to 0..1, letterbox placement)
LAYOUTS = {
    "yolov5": ("rgb", True, "center"),
    "yolox": ("bgr", False, "topleft"),
    "yolov8": ("rgb", True, "center"),
}


class OnnxDetector(Detector):
    """A detector from a user's ONNX file.

    Parameters
    ----------
    path : str or Path
        The ``.onnx`` file.
    layout : ``"yolov5"``, ``"yolox"`` or ``"yolov8"``
        The output layout (see the module docstring).
    classes : sequence of str, optional
        Class names in output order.
    keep : sequence of str, optional
        Only return these classes.
    input_size : int or (height, width), optional
        Needed when the model's input shape is dynamic.
    channels, normalize, placement : optional
        Override the layout's preprocessing: ``"rgb"|"bgr"``, scale to 0..1,
        ``"center"|"topleft"``.
    threshold, nms_iou : float
        Default score threshold; per-class NMS IoU.
    """

    def __init__(self, path, layout: str, *, classes=None, keep=None, input_size=None,
                 channels: str | None = None, normalize: bool | None = None,
                 placement: str | None = None, threshold: float = 0.3, nms_iou: float = 0.45,
                 threads: int | None = None, device: str = "auto"):
        if layout not in LAYOUTS:
            raise ParameterError(f"OnnxDetector: layout must be one of {', '.join(LAYOUTS)}, "
                                 f"got {layout!r}", parameter="layout")
        self.layout = layout
        ch, norm, place = LAYOUTS[layout]
        self.channels = ch if channels is None else channels
        self.normalize = norm if normalize is None else bool(normalize)
        self.placement = place if placement is None else placement
        if self.channels not in ("rgb", "bgr"):
            raise ParameterError(f"OnnxDetector: channels must be 'rgb' or 'bgr', got "
                                 f"{self.channels!r}", parameter="channels")
        if self.placement not in ("center", "topleft"):
            raise ParameterError(f"OnnxDetector: placement must be 'center' or 'topleft', got "
                                 f"{self.placement!r}", parameter="placement")
        self.path = _onnx.model_path(path)
        self.sess = _onnx.session(self.path, threads=threads, device=device)
        inp = self.sess.get_inputs()[0]
        self.input_name = inp.name
        self.input_hw = self._input_hw(inp.shape, input_size)
        self.threshold = float(threshold)
        self.nms_iou = float(nms_iou)
        self.class_names = self._class_names(classes)
        self.labels = tuple(self.class_names)
        self.keep = None
        if keep is not None:
            unknown = [k for k in keep if k not in self.class_names]
            if unknown:
                raise ParameterError(f"OnnxDetector: classes {unknown} not in the model's "
                                     f"{self.class_names}", parameter="keep")
            self.keep = np.asarray([self.class_names.index(k) for k in keep])
            self.labels = tuple(keep)

    def __repr__(self) -> str:
        return f"OnnxDetector({str(self.path)!r}, layout={self.layout!r})"

    def _input_hw(self, shape, input_size) -> tuple[int, int]:
        if input_size is not None:
            if isinstance(input_size, int):
                return int(input_size), int(input_size)
            return int(input_size[0]), int(input_size[1])
        if len(shape) == 4 and all(isinstance(d, int) and d > 0 for d in shape[2:]):
            return int(shape[2]), int(shape[3])
        raise ParameterError(f"{self.path.name}: the model's input shape {shape} is dynamic; "
                             f"give input_size", parameter="input_size")

    def _class_names(self, classes) -> list[str]:
        n = self._n_classes()
        if classes is None:
            meta = self.sess.get_modelmeta().custom_metadata_map.get("names")
            if meta:
                try:
                    names = ast.literal_eval(meta)
                    classes = [names[k] for k in sorted(names)] if isinstance(names, dict) \
                        else list(names)
                except (ValueError, SyntaxError):
                    classes = None
        if classes is None:
            return [f"class{i}" for i in range(n)] if n else []
        classes = [str(c) for c in classes]
        if n and len(classes) != n:
            raise ParameterError(f"{self.path.name}: {len(classes)} class names for a model with "
                                 f"{n} classes", parameter="classes")
        return classes

    def _n_classes(self) -> int | None:
        shape = self.sess.get_outputs()[0].shape
        if len(shape) != 3:
            raise ModelError(f"{self.path.name}: first output has shape {shape}; layout "
                             f"{self.layout} needs a 3-D [1, N, 5+C] or [1, 4+C, N] tensor")
        d = shape[1] if self.layout == "yolov8" else shape[2]
        if not isinstance(d, int):
            return None
        return d - (4 if self.layout == "yolov8" else 5)

    def _prepare(self, image) -> tuple[np.ndarray, tuple[float, float], tuple[int, int]]:
        th, tw = self.input_hw
        w, h = _onnx.image_size(image)
        r = min(th / h, tw / w)
        rgb = _onnx.resized_rgb(image, r)
        nh, nw = rgb.shape[:2]
        canvas = np.full((th, tw, 3), 114, np.uint8)
        ox, oy = ((tw - nw) // 2, (th - nh) // 2) if self.placement == "center" else (0, 0)
        canvas[oy:oy + nh, ox:ox + nw] = rgb[:th, :tw]
        if self.channels == "bgr":
            canvas = canvas[:, :, ::-1]
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)
        if self.normalize:
            blob *= 1.0 / 255.0
        return np.ascontiguousarray(blob), (nw / w, nh / h), (ox, oy)

    def detect(self, image, threshold: float) -> Detections:
        w, h = _onnx.image_size(image)
        blob, (rx, ry), (ox, oy) = self._prepare(image)
        out = _onnx.run(self.sess, {self.input_name: blob}, self.path.name)[0]
        if out.ndim != 3 or out.shape[0] != 1:
            raise ModelError(f"{self.path.name}: output shape {out.shape}, expected batch 1 and "
                             f"3 dimensions for layout {self.layout}")
        if self.layout == "yolov8":
            rows = out[0].T
            xywh, cls = rows[:, :4], rows[:, 4:]
        else:
            rows = out[0]
            if self.layout == "yolox":
                rows = decode_yolox_grid(rows, self.input_hw)
            xywh, cls = rows[:, :4], rows[:, 5:] * rows[:, 4:5]
        if self.keep is not None:
            cls, names = cls[:, self.keep], np.asarray(self.labels)
        else:
            names = np.asarray(self.class_names or [f"class{i}" for i in range(cls.shape[1])])
        r_idx, c_idx = np.nonzero(cls >= threshold)
        if r_idx.size == 0:
            return Detections()
        scores = cls[r_idx, c_idx]
        cx, cy, bw, bh = (xywh[r_idx, k] for k in range(4))
        boxes = np.stack([(cx - bw / 2 - ox) / rx, (cy - bh / 2 - oy) / ry,
                          (cx + bw / 2 - ox) / rx, (cy + bh / 2 - oy) / ry], 1)
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, w)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, h)
        keep = batched_nms(boxes, scores, c_idx, self.nms_iou)
        return Detections(boxes[keep], scores[keep], names[c_idx[keep]])
