"""Meta-task metrics for few-shot detection (cl. 5, 6.4): N-way K-shot episodes, mean AP, 95 % CI.

An *episode* draws ``n_way`` classes of an annotated set; for each class ``k_shot`` pictures that
show it form the labelled support set, and pictures outside every support set that show at least
one episode class form the query set. A few-shot detector adapts to the support set
(``adapt(episode, dataset)`` returns a ``picture index -> Detections`` callable); its VOC all-point
AP@0.5 is computed per episode class over the query pictures, averaged over the classes (the
episode's mAP), and the episode mAPs are summarised by their mean and a Student-t 95 % interval.

"K-shot" here counts pictures per class (each may hold several boxes of the class), the usual
reading in few-shot detection benchmarks; crowd boxes are ignored regions.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from vpfilters.errors import FormatError, InputError, ParameterError
from vpfilters.metrics.ap import average_precision, voc_ap

__all__ = ["COCO_ALIASES", "AnnotatedSet", "Episode", "MetaTaskResult", "YoloxEpisodeDetector",
           "episode_map", "mean_confidence_interval", "meta_task_map", "sample_episodes",
           "student_t_ppf"]


@dataclass
class AnnotatedSet:
    """Pictures with boxes, read from a folder's ``gt_boxes.json`` (``xyxy_pixels``)."""

    root: str
    files: list[str]
    boxes: list[np.ndarray]            # (n, 4) per picture
    labels: list[np.ndarray]           # (n,) str per picture
    crowd_boxes: list[np.ndarray] = field(default_factory=list)
    crowd_labels: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def load(cls, folder, max_images: int | None = None) -> AnnotatedSet:
        path = os.path.join(str(folder), "gt_boxes.json")
        if not os.path.isfile(path):
            raise InputError("not an annotated set: gt_boxes.json not found", file=folder)
        try:
            with open(path, encoding="utf-8") as fh:
                d = json.load(fh)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot read gt_boxes.json: {e}", file=path) from None
        items = d.get("images") if isinstance(d, dict) else None
        if not items:
            raise InputError("gt_boxes.json lists no images", file=path)
        if d.get("box_format", "xyxy_pixels") != "xyxy_pixels":
            raise FormatError(f"box_format must be xyxy_pixels, got {d.get('box_format')!r}",
                              file=path)
        items = items[:max_images] if max_images else items
        s = cls(str(folder), [], [], [], [], [])
        for it in items:
            b = np.asarray(it.get("boxes", []), np.float64).reshape(-1, 4)
            lab = np.asarray(it.get("labels", ["object"] * len(b)), str).reshape(-1)
            if len(lab) != len(b):
                raise FormatError(f"{it.get('file')}: {len(b)} boxes but {len(lab)} labels",
                                  file=path)
            s.files.append(it["file"])
            s.boxes.append(b)
            s.labels.append(lab)
            s.crowd_boxes.append(np.asarray(it.get("crowd_boxes", []), np.float64).reshape(-1, 4))
            s.crowd_labels.append(np.asarray(it.get("crowd_labels", []), str).reshape(-1))
        return s

    def __len__(self) -> int:
        return len(self.files)

    def path(self, i: int) -> str:
        return os.path.join(self.root, self.files[i])

    def rgb(self, i: int) -> np.ndarray:
        import cv2

        img = cv2.imread(self.path(i), cv2.IMREAD_COLOR)
        if img is None:
            raise InputError("cannot decode picture", file=self.path(i))
        return np.ascontiguousarray(img[:, :, ::-1])

    def classes(self) -> list[str]:
        return sorted({str(x) for lab in self.labels for x in lab})

    def images_with(self, cls: str) -> list[int]:
        return [i for i, lab in enumerate(self.labels) if (lab == cls).any()]

    def gt(self, i: int, cls: str | None = None):
        """(boxes, ignore flags) of picture ``i``, of class ``cls`` (all when None); crowd
        boxes of that class follow as ignored boxes."""
        sel = slice(None) if cls is None else self.labels[i] == cls
        b = self.boxes[i][sel]
        cb = self.crowd_boxes[i] if self.crowd_boxes else np.zeros((0, 4))
        if cls is not None and len(cb):
            cb = cb[self.crowd_labels[i] == cls]
        return (np.concatenate([b, cb]),
                np.concatenate([np.zeros(len(b), bool), np.ones(len(cb), bool)]))


@dataclass
class Episode:
    classes: tuple[str, ...]
    support: dict[str, list[int]]      # class -> picture indices (k_shot each)
    query: list[int]                   # picture indices, disjoint from every support set


def sample_episodes(dataset: AnnotatedSet, n_way: int, k_shot: int, *, episodes: int = 20,
                    n_query: int | None = None, seed: int = 0,
                    classes=None) -> list[Episode]:
    """Draw ``episodes`` N-way K-shot episodes (seeded, reproducible).

    Classes eligible are those shown in at least ``k_shot + 1`` pictures (so that a query picture
    remains); ``classes`` restricts the pool. ``n_query`` caps the query pictures drawn per class
    (default: all remaining pictures showing an episode class).
    """
    if n_way < 1 or k_shot < 1 or episodes < 1:
        raise ParameterError(f"n_way, k_shot and episodes must be >= 1, got {n_way}, {k_shot}, "
                             f"{episodes}", parameter="n_way")
    pool = dataset.classes() if classes is None else list(classes)
    by_class = {c: dataset.images_with(c) for c in pool}
    eligible = sorted(c for c, ims in by_class.items() if len(ims) >= k_shot + 1)
    if len(eligible) < n_way:
        raise ParameterError(f"{n_way}-way {k_shot}-shot needs {n_way} classes shown in at least "
                             f"{k_shot + 1} pictures; this set has {len(eligible)}: "
                             f"{', '.join(eligible) or '(none)'}", parameter="n_way")
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(episodes):
        cls = tuple(sorted(rng.choice(eligible, n_way, replace=False).tolist()))
        support, used = {}, set()
        for c in cls:
            free = [i for i in by_class[c] if i not in used]
            if len(free) < k_shot:  # pictures shared with another class's support: take what is left
                free = by_class[c]
            pick = sorted(rng.choice(free, k_shot, replace=False).tolist())
            support[c] = pick
            used.update(pick)
        query: set[int] = set()
        for c in cls:
            rest = [i for i in by_class[c] if i not in used]
            if n_query is not None and len(rest) > n_query:
                rest = rng.choice(rest, n_query, replace=False).tolist()
            query.update(rest)
        out.append(Episode(cls, support, sorted(query)))
    return out


def episode_map(episode: Episode, dataset: AnnotatedSet, detect: Callable[[int], object], *,
                metric: str = "voc") -> dict[str, float]:
    """AP@0.5 of each episode class over the query pictures.

    ``detect(i)`` returns :class:`~vpfilters.detect.Detections` (labels = class names) for
    picture ``i``. ``metric="voc"``: VOC all-point AP, crowd boxes ignored; ``"coco50"``:
    pycocotools' AP50 (COCO matching, crowd rule, 101-point, 100 detections per picture).
    Classes without a ground-truth box among the queries (all crowd) are left out.
    """
    if metric not in ("voc", "coco50"):
        raise ParameterError(f"metric must be 'voc' or 'coco50', got {metric!r}",
                             parameter="metric")
    found = {i: detect(i) for i in episode.query}
    out = {}
    for c in episode.classes:
        dets, gts, ign = [], [], []
        for i in episode.query:
            d = found[i]
            d = d.with_label(c) if len(d) else d
            dets.append(d.as_array() if len(d) else np.zeros((0, 5)))
            g, ig = dataset.gt(i, c)
            gts.append(g)
            ign.append(ig)
        if metric == "voc":
            ap = voc_ap(dets, gts, ignore=ign)
        else:
            ap = average_precision(dets, gts, ignore=ign, crowd=ign, matching="coco",
                                   interpolation="101-point", max_dets=100).ap
        if not np.isnan(ap):
            out[c] = ap
    return out


def student_t_ppf(q: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (0.5 < q < 1), by bisection on a
    Simpson-integrated density: enough for confidence intervals without scipy."""
    if not 0.5 < q < 1 or df < 1:
        raise ParameterError(f"student_t_ppf: need 0.5 < q < 1 and df >= 1, got {q}, {df}",
                             parameter="q")
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def cdf(x):  # P(0 < T < x), Simpson's rule on 2000 intervals, + 0.5
        n = 2000
        t = np.linspace(0.0, x, n + 1)
        f = c * (1 + t * t / df) ** (-(df + 1) / 2)
        return 0.5 + (x / n / 3) * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum())

    lo, hi = 0.0, 1.0
    while cdf(hi) < q:
        hi *= 2
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cdf(mid) < q else (lo, mid)
    return (lo + hi) / 2


def mean_confidence_interval(values, level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the Student-t interval of the mean (low = high = mean for one value)."""
    v = np.asarray(values, np.float64).ravel()
    if v.size == 0:
        raise FormatError("mean_confidence_interval: no values", parameter="values")
    m = float(v.mean())
    if v.size == 1:
        return m, m, m
    half = student_t_ppf(0.5 + level / 2, v.size - 1) * float(v.std(ddof=1)) / math.sqrt(v.size)
    return m, m - half, m + half


@dataclass
class MetaTaskResult:
    """Mean over episodes of the episode mAP, with its 95 % interval."""

    n_way: int
    k_shot: int
    episodes: list[Episode]
    episode_maps: np.ndarray
    per_class: list[dict[str, float]]
    mean: float
    ci95: tuple[float, float]
    detector: str = ""

    def as_dict(self) -> dict:
        return {"n_way": self.n_way, "k_shot": self.k_shot, "episodes": len(self.episodes),
                "mean_map": self.mean, "ci95": list(self.ci95), "detector": self.detector,
                "episode_maps": self.episode_maps.tolist(),
                "episode_classes": [list(e.classes) for e in self.episodes]}


def meta_task_map(dataset: AnnotatedSet, adapt: Callable, n_way: int, k_shot: int, *,
                  episodes: int = 20, n_query: int | None = None, seed: int = 0,
                  classes=None, level: float = 0.95, metric: str = "voc") -> MetaTaskResult:
    """Sample episodes, let ``adapt(episode, dataset)`` give a ``picture index -> Detections``
    callable per episode, and summarise the episode mAPs (mean and ``level`` interval)."""
    eps = sample_episodes(dataset, n_way, k_shot, episodes=episodes, n_query=n_query, seed=seed,
                          classes=classes)
    per_class, maps = [], []
    for ep in eps:
        aps = episode_map(ep, dataset, adapt(ep, dataset), metric=metric)
        per_class.append(aps)
        maps.append(float(np.mean(list(aps.values()))) if aps else float("nan"))
    maps = np.asarray(maps)
    ok = maps[~np.isnan(maps)]
    if ok.size == 0:
        raise FormatError("meta_task_map: no episode had a scorable class", parameter="dataset")
    m, lo, hi = mean_confidence_interval(ok, level)
    return MetaTaskResult(n_way, k_shot, eps, maps, per_class, m, (lo, hi),
                          getattr(adapt, "name", type(adapt).__name__))


#: COCO official name -> the Darknet spelling of ``vpfilters/models/coco.names``
COCO_ALIASES = {"airplane": "aeroplane", "motorcycle": "motorbike", "couch": "sofa",
                "potted plant": "pottedplant", "dining table": "diningtable", "tv": "tvmonitor"}


class YoloxEpisodeDetector:
    """A base detector as the few-shot baseline: YOLOX-nano (COCO-80) restricted to the episode's
    classes. It does not learn from the support set, so on COCO classes it is the upper reference
    that a few-shot model trained on other base classes is compared with.

    Detections of each picture are computed once (all 80 classes, ``threshold``) and reused.
    """

    name = "yolox_nano (COCO-trained, support set unused)"

    def __init__(self, threshold: float = 0.01, threads: int | None = None):
        from vpfilters.detect.people import Yolox

        self.net = Yolox(None, threshold=threshold, threads=threads)
        self.threshold = threshold
        self._cache: dict[tuple[str, int], object] = {}

    def __call__(self, episode: Episode, dataset: AnnotatedSet):
        # coco.names follows Darknet's spelling; the set uses COCO's official names
        net_name = {c: COCO_ALIASES.get(c, c) for c in episode.classes}
        unknown = [c for c, n in net_name.items() if n not in self.net.labels]
        if unknown:
            raise ParameterError(f"YoloxEpisodeDetector: classes {unknown} are not COCO classes",
                                 parameter="classes")
        back = {n: c for c, n in net_name.items()}

        def detect(i: int):
            key = (dataset.root, i)
            if key not in self._cache:
                self._cache[key] = self.net(dataset.rgb(i), threshold=self.threshold)
            d = self._cache[key]
            if not len(d):
                return d
            d = d[np.isin(d.labels, list(back))]
            d.labels = np.asarray([back[x] for x in d.labels.tolist()], dtype=object).astype(str)
            return d

        return detect
