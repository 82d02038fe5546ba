"""Detectors of private content (faces, licence plates, people) and the registry protectors use.

Typical use (a protector, once per analysed frame)::

    from vpfilters.detect import detect_regions
    regions = detect_regions(frame, "face+plate", mode="fast")   # padded, clipped Regions

``frame`` may be a :class:`~vpfilters.core.frame.Frame` (any YUV/gray/RGB format; converted to RGB
at the detection resolution only) or an (H, W, 3) uint8 RGB array. Boxes are in luma pixels.
Detector failures raise :class:`~vpfilters.errors.ModelError`; callers decide how to fail closed.
"""

from __future__ import annotations

import threading
from typing import Callable

import numpy as np

from vpfilters.core.region import Region
from vpfilters.detect._base import Detections, Detector
from vpfilters.detect._onnx import image_size
from vpfilters.errors import ParameterError

__all__ = ["TARGETS", "Detections", "Detector", "detect", "detect_regions", "get_detector",
           "parse_targets", "register_detector"]


def _face(**kw) -> Detector:
    from vpfilters.detect.faces import FaceDetector

    return FaceDetector(**kw)


def _person(**kw) -> Detector:
    from vpfilters.detect.people import PersonDetector

    return PersonDetector(**kw)


def _plate(**kw) -> Detector:
    from vpfilters.detect.plates import PlateDetector

    return PlateDetector(**kw)


_FACTORIES: dict[str, Callable[..., Detector]] = {"face": _face, "person": _person,
                                                  "plate": _plate}
#: The built-in target names of ``targets=`` (``face+plate+person``).
TARGETS = ("face", "plate", "person")

_cache: dict[tuple, Detector] = {}
_lock = threading.Lock()


def register_detector(name: str, factory: Callable[..., Detector]) -> None:
    """Make ``name`` usable as a target; ``factory(**options)`` returns a :class:`Detector`.

    For a user ONNX model::

        from vpfilters.detect.user import OnnxDetector
        register_detector("logo", lambda **kw: OnnxDetector("logo.onnx", "yolov8", **kw))
    """
    if not name or "+" in name or not name.replace("_", "").isalnum():
        raise ParameterError(f"detector name must be alphanumeric (no '+'), got {name!r}",
                             parameter="name")
    with _lock:
        _FACTORIES[name] = factory
        for key in [k for k in _cache if k[0] == name]:
            del _cache[key]


def parse_targets(targets) -> tuple[str, ...]:
    """``"face+plate"`` or a sequence of names -> a tuple of known target names (order kept)."""
    names = targets.split("+") if isinstance(targets, str) else list(targets)
    names = [n.strip() for n in names if n.strip()]
    unknown = [n for n in names if n not in _FACTORIES]
    if unknown or not names:
        raise ParameterError(f"unknown detection targets {unknown or targets!r}; known: "
                             f"{'+'.join(_FACTORIES)}", parameter="targets")
    return tuple(dict.fromkeys(names))


def get_detector(name: str, **options) -> Detector:
    """The detector for target ``name`` built with ``options`` (cached; one per option set).

    Options of the built-ins: ``mode`` (``"fast"``/``"thorough"``, faces and plates),
    ``threshold``, ``threads``, ``device`` and detector-specific ones (see
    :class:`~vpfilters.detect.faces.FaceDetector`,
    :class:`~vpfilters.detect.people.PersonDetector`).
    """
    parse_targets([name])
    key = (name, tuple(sorted((k, repr(v)) for k, v in options.items())))
    with _lock:
        det = _cache.get(key)
        if det is None:
            det = _cache[key] = _FACTORIES[name](**options)
        return det


def _options_for(name: str, mode: str | None, threads, device, options=None) -> dict:
    opts = dict((options or {}).get(name, {}))
    if mode is not None and name in ("face", "plate", "person"):
        opts["mode"] = mode
    if threads is not None:
        opts["threads"] = threads
    if device is not None:
        opts["device"] = device
    return opts


def detect(image, targets="face", *, mode: str | None = None, threshold=None,
           threads: int | None = None, device: str | None = None,
           options: dict | None = None) -> Detections:
    """Detect ``targets`` (``"face+plate+person"`` or a sequence) in one picture.

    ``threshold`` is one float for all targets or a ``{target: float}`` dict; by default each
    detector's tuned threshold. ``mode`` (``"fast"`` or ``"thorough"``, default thorough) applies to
    faces, plates and people. ``options`` gives further constructor options per target, e.g.
    ``{"face": {"width": 960}}`` (the detection width of fast mode). Labels of the result are
    the target names.
    """
    parts = []
    for name in parse_targets(targets):
        det = get_detector(name, **_options_for(name, mode, threads, device, options))
        thr = threshold.get(name) if isinstance(threshold, dict) else threshold
        found = det(image, threshold=thr)
        found.labels = np.full(len(found), name)
        parts.append(found)
    return Detections.concat(parts)


def detect_regions(image, targets="face", *, mode: str | None = None, threshold=None,
                   pad=None, threads: int | None = None, device: str | None = None,
                   options: dict | None = None) -> list[Region]:
    """:func:`detect`, then each box grown by its detector's tuned padding (or ``pad``: a float,
    or a ``{target: float}`` dict; a fraction of the box size per side if < 1, else pixels) and
    clipped to the picture."""
    w, h = image_size(image)
    out: list[Region] = []
    for name in parse_targets(targets):
        det = get_detector(name, **_options_for(name, mode, threads, device, options))
        thr = threshold.get(name) if isinstance(threshold, dict) else threshold
        p = pad.get(name) if isinstance(pad, dict) else pad
        p = getattr(det, "pad", 0.0) if p is None else float(p)
        found = det(image, threshold=thr)
        found.labels = np.full(len(found), name)
        out.extend(found.regions(pad=p, width=w, height=h))
    return out
