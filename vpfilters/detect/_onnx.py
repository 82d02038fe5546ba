"""onnxruntime sessions with deliberate thread counts, and the image preparation runners share."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from vpfilters.errors import FormatError, ModelError, ParameterError

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def default_threads() -> int:
    """``$VPF_THREADS`` if set, else 2 (the project's machines have 2 cores), capped by CPUs."""
    env = os.environ.get("VPF_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            raise ParameterError(f"VPF_THREADS must be an integer, got {env!r}",
                                 parameter="VPF_THREADS") from None
        if n < 1:
            raise ParameterError(f"VPF_THREADS must be >= 1, got {n}", parameter="VPF_THREADS")
        return n
    return max(1, min(2, os.cpu_count() or 1))


def model_path(name_or_path) -> Path:
    """A bundled model file name (``"yunet_s_dynamic.onnx"``) or an explicit path, checked."""
    p = Path(name_or_path)
    if not p.is_absolute() and not p.exists():
        p = MODELS_DIR / p
    if not p.is_file():
        raise ModelError(f"model file not found: {name_or_path} (bundled models live in "
                         f"{MODELS_DIR})", file=p)
    return p


def providers(device: str = "auto") -> list[str]:
    """Execution providers: CUDA first when onnxruntime-gpu sees a device (``device="auto"``)."""
    import onnxruntime as ort

    have = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in have:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise ModelError(f"device='cuda' asked for but onnxruntime offers only {have}",
                         parameter="device")
    return ["CPUExecutionProvider"]


@functools.lru_cache(maxsize=16)
def _session(path: str, threads: int, device: str, spinning: bool):
    try:
        import onnxruntime as ort
    except ImportError as e:  # pragma: no cover - onnxruntime is a dependency of detection
        raise ModelError("detection needs onnxruntime (pip install onnxruntime)") from e
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    # Busy-waiting worker threads steal the cores that decoding and encoding need in a pipeline.
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    try:
        return ort.InferenceSession(path, sess_options=so, providers=providers(device))
    except Exception as e:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"cannot load ONNX model: {e}", file=path) from e


def session(name_or_path, *, threads: int | None = None, device: str = "auto",
            spinning: bool = False):
    """A cached ``onnxruntime.InferenceSession`` with ``threads`` intra-op threads (1 inter-op)."""
    threads = default_threads() if threads is None else int(threads)
    if threads < 1:
        raise ParameterError(f"threads must be >= 1, got {threads}", parameter="threads")
    return _session(str(model_path(name_or_path)), threads, device, bool(spinning))


def run(sess, feeds: dict, what: str) -> list[np.ndarray]:
    """``sess.run`` with failures turned into :class:`ModelError` (so callers can fail closed)."""
    try:
        return sess.run(None, feeds)
    except Exception as e:
        raise ModelError(f"{what}: inference failed: {e}") from e


# -- images -------------------------------------------------------------------------------------

def as_rgb(image) -> np.ndarray:
    """(H, W, 3) uint8 RGB from an RGB/gray array or a :class:`~vpfilters.core.frame.Frame`.

    ``uint16`` arrays are taken as 16-bit; Frames use their bit depth, matrix and range.
    """
    from vpfilters.core.frame import Frame

    if isinstance(image, Frame):
        return frame_to_rgb(image)
    arr = np.asarray(image)
    if arr.dtype == np.uint16:
        arr = (arr >> 8).astype(np.uint8)
    elif arr.dtype != np.uint8:
        raise FormatError(f"image must be uint8 (or uint16), got {arr.dtype}", parameter="image")
    if arr.ndim == 2:
        return np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim == 3 and arr.shape[2] == 4:
        return np.ascontiguousarray(arr[:, :, :3])
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise FormatError(f"image must be (H, W, 3) RGB or (H, W) gray, got shape {arr.shape}",
                          parameter="image")
    return arr


def frame_to_rgb(frame, size: tuple[int, int] | None = None) -> np.ndarray:
    """RGB uint8 picture of a Frame, optionally resized to ``size = (width, height)`` first.

    Resizing the planes before the colour conversion keeps a 1080p frame cheap to analyse at
    640 px. YUV uses the frame's matrix (BT.601/709) and range.
    """
    import cv2

    w, h = (frame.width, frame.height) if size is None else (int(size[0]), int(size[1]))
    shift = frame.bits - 8

    def plane(i):
        p = frame.planes[i]
        if shift:
            p = (p >> shift).astype(np.uint8)
        if p.shape != (h, w):
            interp = cv2.INTER_AREA if p.shape[1] > w else cv2.INTER_LINEAR
            p = cv2.resize(p, (w, h), interpolation=interp)
        return p

    if frame.family == "gray":
        y = plane(0)
        return np.repeat(y[:, :, None], 3, axis=2)
    if frame.family == "rgb":
        return np.dstack([plane(0), plane(1), plane(2)])
    y, u, v = (plane(i).astype(np.float32) for i in range(3))
    kr, kb = (0.2126, 0.0722) if frame.matrix == "bt709" else (0.299, 0.114)
    if frame.full_range:
        yn, un, vn = y / 255.0, (u - 128) / 255.0, (v - 128) / 255.0
    else:
        yn, un, vn = (y - 16) / 219.0, (u - 128) / 224.0, (v - 128) / 224.0
    kg = 1 - kr - kb
    r = yn + 2 * (1 - kr) * vn
    b = yn + 2 * (1 - kb) * un
    g = (yn - kr * r - kb * b) / kg
    rgb = np.dstack([r, g, b]) * 255.0 + 0.5
    return np.clip(rgb, 0, 255).astype(np.uint8)


def image_size(image) -> tuple[int, int]:
    """(width, height) of an array or Frame."""
    from vpfilters.core.frame import Frame

    if isinstance(image, Frame):
        return image.width, image.height
    a = np.asarray(image)
    return a.shape[1], a.shape[0]


def resized_rgb(image, scale: float) -> np.ndarray:
    """RGB uint8 of ``image`` resized by ``scale`` (rounded to whole pixels, at least 1)."""
    import cv2

    from vpfilters.core.frame import Frame

    w, h = image_size(image)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    if isinstance(image, Frame):
        return frame_to_rgb(image, (nw, nh))
    rgb = as_rgb(image)
    if (nw, nh) == (w, h):
        return rgb
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(rgb, (nw, nh), interpolation=interp)


def pad_to_multiple(img: np.ndarray, multiple: int, value: int = 0) -> np.ndarray:
    """Pad an (H, W, C) image at the bottom and right so that H and W are multiples."""
    h, w = img.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return img
    out = np.full((h + ph, w + pw, img.shape[2]), value, img.dtype)
    out[:h, :w] = img
    return out
