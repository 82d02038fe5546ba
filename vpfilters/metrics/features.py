"""Feature extractors for KID: Inception-v3 pool features from a user's weights file, or a bundled
ONNX detector's backbone (indicative only).

An extractor is any callable ``images -> (N, D) float64`` with a ``name`` and an ``is_inception``
attribute; ``images`` is a sequence of (H, W, 3) uint8 RGB pictures (sizes may differ) or one
(N, H, W, 3) array. :func:`vpfilters.metrics.kid.kid` takes any of them.

Which one is used by default, and why
    T/AI 110.2 states its KID threshold on Inception-v3 features. The Inception weights are not
    bundled (nothing is downloaded at run time), so :func:`default_extractor` uses them only when
    the user names the file (``inception_weights=``, ``vpf eval --inception-weights``), in
    torchvision's format (``inception_v3_google-*.pth``). Otherwise it uses the backbone of the
    bundled YOLOX-nano detector (Apache-2.0, trained on COCO's 80 everyday classes, so its deep
    features describe general scenes rather than one object kind, unlike the face detectors): the
    last backbone stage (``dark5``, 256 channels at stride 32) is made a graph output with the
    ``onnx`` package and globally average-pooled. KID from it is marked *indicative*: the
    standard's threshold is compared only with Inception features.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from vpfilters.errors import FormatError, ModelError, ParameterError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "OnnxBackboneFeatures", "TorchFeatures",
           "as_image_list", "default_extractor", "inception_v3_features", "load_state_dict"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: bundled model -> (tensor name of the last backbone stage, its description)
BACKBONE_LAYERS = {"yolox_nano.onnx": ("886", "dark5 (CSPDarknet stage 5, 256 ch, stride 32)")}


def as_image_list(images, func: str = "features") -> list[np.ndarray]:
    """Check and list a batch of (H, W, 3) uint8 RGB pictures."""
    if isinstance(images, np.ndarray):
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4:
            raise FormatError(f"{func}: expected (N, H, W, 3) pictures, got shape {images.shape}",
                              parameter="images")
        images = list(images)
    out = list(images)
    if not out:
        raise FormatError(f"{func}: no pictures given", parameter="images")
    for k, im in enumerate(out):
        im = np.asarray(im)
        if im.ndim != 3 or im.shape[2] != 3 or im.dtype != np.uint8:
            raise FormatError(f"{func}: picture {k} must be (H, W, 3) uint8 RGB, got "
                              f"{im.dtype} {im.shape}", parameter="images")
        out[k] = im
    return out


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    if img.shape[:2] == (size, size):
        return img
    interp = cv2.INTER_AREA if min(img.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


# ------------------------------------------------------------------------------------ torch


def load_state_dict(path) -> dict:
    """A torch ``state_dict`` from ``path`` (a plain one, or under ``"state_dict"``/``"model"``;
    a ``module.`` prefix from DataParallel is dropped). Loaded with ``weights_only=True``."""
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"weights file not found: {path}", file=path, parameter="weights")
    try:
        import torch
    except ImportError as e:
        raise ModelError("reading a torch weights file needs torch (pip install torch, "
                         "or the 'train' extra)", file=path) from e
    try:
        sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises pickle/zip errors of many kinds for a bad file
        raise ModelError(f"cannot read torch weights: {type(e).__name__}: {e}", file=path) from e
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and isinstance(sd.get(key), dict):
            sd = sd[key]
    if not isinstance(sd, dict) or not sd:
        raise ModelError("weights file holds no state_dict", file=path)
    return {(k.removeprefix("module.")): v for k, v in sd.items()}


class TorchFeatures:
    """Features from a torch network whose weights come from a file.

    Parameters
    ----------
    weights : path
        A ``state_dict`` file for the network ``build()`` returns.
    build : callable
        ``build(state_dict) -> torch.nn.Module`` mapping a (N, 3, S, S) float batch to features
        (N, D) or (N, C, h, w), which are globally average-pooled.
    input_size : int
        Pictures are resized to ``input_size`` x ``input_size`` (bilinear / area).
    mean, std : RGB normalisation applied to 0..1 values.
    """

    def __init__(self, weights, build: Callable, *, input_size: int = 299,
                 mean=IMAGENET_MEAN, std=IMAGENET_STD, name: str | None = None,
                 is_inception: bool = False, batch: int = 16, threads: int | None = None):
        sd = load_state_dict(weights)  # checks the file first, then imports torch
        import torch

        model = build(sd)
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as e:
            raise ModelError(f"weights do not fit the network: {str(e).splitlines()[0]} "
                             f"({_key_diff(model.state_dict(), sd)})", file=weights) from None
        self.model = model.eval()
        self.input_size = int(input_size)
        self.mean = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
        self.batch = int(batch)
        self.threads = threads
        self.name = name or f"{type(model).__name__} ({Path(weights).name})"
        self.is_inception = is_inception
        self.weights = str(weights)
        self._torch = torch

    def __call__(self, images) -> np.ndarray:
        torch = self._torch
        imgs = as_image_list(images, self.name)
        out = []
        old = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(int(self.threads))
        try:
            with torch.inference_mode():
                for i in range(0, len(imgs), self.batch):
                    x = np.stack([_resize(im, self.input_size) for im in imgs[i:i + self.batch]])
                    x = (x.transpose(0, 3, 1, 2).astype(np.float32) / 255.0 - self.mean) / self.std
                    y = self.model(torch.from_numpy(np.ascontiguousarray(x)))
                    if isinstance(y, (tuple, list)):
                        y = y[0]
                    y = y.detach().double().numpy()
                    if y.ndim == 4:
                        y = y.mean(axis=(2, 3))
                    out.append(y.reshape(len(x), -1))
        finally:
            torch.set_num_threads(old)
        return np.concatenate(out)


def _key_diff(expected: dict, got: dict) -> str:
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} keys, e.g. {missing[0]!r}")
    if extra:
        parts.append(f"{len(extra)} unexpected keys, e.g. {extra[0]!r}")
    return "; ".join(parts) or "shape mismatch"


def inception_v3_features(weights, **kw) -> TorchFeatures:
    """Inception-v3 2048-d pool features from torchvision-format weights (the standard's KID).

    The network is torchvision's ``inception_v3`` with ``transform_input=True`` (as torchvision
    builds it for its ImageNet weights), ``fc`` replaced by identity; pictures are resized to
    299 x 299 and ImageNet-normalised.
    """
    def build(sd):
        try:
            from torchvision.models import inception_v3
        except ImportError as e:
            raise ModelError("Inception-v3 features need torchvision (pip install torchvision)",
                             file=weights) from e
        aux = any(k.startswith("AuxLogits.") for k in sd)
        n_cls = int(sd["fc.weight"].shape[0]) if "fc.weight" in sd else 1000
        net = inception_v3(weights=None, aux_logits=aux, transform_input=True,
                           init_weights=False, num_classes=n_cls)
        return _inception_pool(net)

    kw.setdefault("name", f"inception-v3 pool 2048-d ({Path(weights).name})")
    return TorchFeatures(weights, build, input_size=299, is_inception=True, **kw)


_INCEPTION_BLOCKS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                     "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                     "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b",
                     "Mixed_7c", "avgpool")


def _inception_pool(net):
    """torchvision Inception-v3 stopped at its 2048-d average pool; the state_dict keys stay
    those of the weights file (``fc`` and ``AuxLogits`` are loaded, then unused)."""
    import torch

    class InceptionPool(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            if self.inner.transform_input:
                x = self.inner._transform_input(x)
            for name in _INCEPTION_BLOCKS:
                x = getattr(self.inner, name)(x)
            return torch.flatten(x, 1)

        def load_state_dict(self, sd, strict=True):
            return self.inner.load_state_dict(sd, strict=strict)

        def state_dict(self, *a, **k):
            return self.inner.state_dict(*a, **k)

    return InceptionPool(net)


# ------------------------------------------------------------------------------------ onnx


class OnnxBackboneFeatures:
    """Globally average-pooled activations of one tensor inside an ONNX network.

    Parameters
    ----------
    model : path or bundled file name
        Default: the bundled ``yolox_nano.onnx``.
    layer : str, optional
        Name of the intermediate tensor to expose (added as a graph output with ``onnx``).
        Default for bundled models: their last backbone stage (:data:`BACKBONE_LAYERS`).
    input_size : int
        Pictures are resized to ``input_size`` x ``input_size`` (YOLOX-nano: 416).
    bgr, scale : the network's input convention (YOLOX: BGR 0..255, ``scale=1``).
    """

    is_inception = False

    def __init__(self, model="yolox_nano.onnx", layer: str | None = None, *,
                 input_size: int = 416, bgr: bool = True, scale: float = 1.0,
                 threads: int | None = None):
        import onnx
        import onnxruntime as ort

        from vpfilters.detect._onnx import default_threads, model_path

        path = model_path(model)
        if layer is None:
            if path.name not in BACKBONE_LAYERS:
                raise ParameterError(f"OnnxBackboneFeatures: give layer= for {path.name} "
                                     f"(known defaults: {', '.join(BACKBONE_LAYERS)})",
                                     parameter="layer")
            layer, where = BACKBONE_LAYERS[path.name]
        else:
            where = f"tensor {layer}"
        try:
            graph = onnx.load(str(path))
        except Exception as e:
            raise ModelError(f"cannot read ONNX model: {e}", file=path) from e
        names = {o for n in graph.graph.node for o in n.output}
        if layer not in names:
            raise ParameterError(f"OnnxBackboneFeatures: {path.name} has no tensor {layer!r}",
                                 parameter="layer")
        del graph.graph.output[:]
        graph.graph.output.append(onnx.helper.make_empty_tensor_value_info(layer))
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or default_threads()
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        try:
            self.sess = ort.InferenceSession(graph.SerializeToString(), sess_options=so,
                                             providers=["CPUExecutionProvider"])
        except Exception as e:
            raise ModelError(f"cannot run ONNX model with output {layer}: {e}", file=path) from e
        self.input_name = self.sess.get_inputs()[0].name
        self.layer, self.input_size, self.bgr, self.scale = layer, int(input_size), bgr, scale
        self.model = str(path)
        self.name = f"{path.stem} backbone {where}, global average pool (indicative)"

    def __call__(self, images) -> np.ndarray:
        imgs = as_image_list(images, "OnnxBackboneFeatures")
        out = []
        for im in imgs:
            x = _resize(im, self.input_size)
            if self.bgr:
                x = x[:, :, ::-1]
            blob = np.ascontiguousarray(x.transpose(2, 0, 1)[None], np.float32) * self.scale
            y = self.sess.run([self.layer], {self.input_name: blob})[0]
            out.append(y.reshape(y.shape[0], y.shape[1], -1).mean(axis=2)[0])
        return np.asarray(out, np.float64)


def default_extractor(inception_weights=None, *, threads: int | None = None):
    """Inception-v3 when ``inception_weights`` names a file, else the YOLOX-nano backbone."""
    if inception_weights:
        return inception_v3_features(inception_weights, threads=threads)
    return OnnxBackboneFeatures(threads=threads)
