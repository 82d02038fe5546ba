"""Learned invertible rescaling (IRN-style): Haar stages plus affine coupling blocks, in torch.

The network maps an RGB picture ``x`` (B, 3, H, W) in 0..1 to ``(lr, z)``: ``lr`` (B, 3, H/s, W/s)
is the low-resolution picture a viewer sees (it is stored rounded to 8 bits), ``z`` the
high-frequency latent, modelled as input-independent N(0, sigma_z^2) (``sigma_z`` in the weight
file's meta: the forward latent's RMS on the training images), so it is *not* kept: the inverse
takes the stored ``lr`` and a fixed (zero, the mode) or sampled ``z``. How far the claim holds
is measured in ``vpfilters/models/IRN.md`` and asserted in ``tests/protect/test_rescale.py``.
Each x2 stage is a Haar transform (exactly invertible) followed by ``blocks`` affine coupling
blocks (invertible by construction), after Xiao et al., "Invertible Image Rescaling", ECCV 2020.

torch is imported by this module only; ``vpfilters`` itself never imports it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from vpfilters.errors import ModelError, ParameterError

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
FACTORS = (2, 4)


def _haar_down(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 4C, H/2, W/2): [LL(C), H-detail(C), V-detail(C), D-detail(C)].

    LL is the 2x2 mean, so the first C channels are a downscaled picture.
    """
    b, c, h, w = x.shape
    a = x[:, :, 0::2, 0::2]
    bb = x[:, :, 0::2, 1::2]
    cc = x[:, :, 1::2, 0::2]
    d = x[:, :, 1::2, 1::2]
    return torch.cat([(a + bb + cc + d) / 4, (a - bb + cc - d) / 4,
                      (a + bb - cc - d) / 4, (a - bb - cc + d) / 4], dim=1)


def _haar_up(y: torch.Tensor) -> torch.Tensor:
    """Exact inverse of :func:`_haar_down`."""
    b, c4, h, w = y.shape
    c = c4 // 4
    ll, hd, vd, dd = y[:, :c], y[:, c:2 * c], y[:, 2 * c:3 * c], y[:, 3 * c:]
    out = y.new_empty((b, c, h * 2, w * 2))
    out[:, :, 0::2, 0::2] = ll + hd + vd + dd
    out[:, :, 0::2, 1::2] = ll - hd + vd - dd
    out[:, :, 1::2, 0::2] = ll + hd - vd - dd
    out[:, :, 1::2, 1::2] = ll - hd - vd + dd
    return out


def _subnet(cin: int, cout: int, hidden: int) -> nn.Sequential:
    net = nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
                        nn.Conv2d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.2, inplace=True),
                        nn.Conv2d(hidden, cout, 3, padding=1))
    nn.init.zeros_(net[-1].weight)  # each block starts as the identity
    nn.init.zeros_(net[-1].bias)
    return net


class Coupling(nn.Module):
    """Affine coupling: ``y1 = x1 + F(x2)``, ``y2 = x2 * exp(s(y1)) + G(y1)``; exactly invertible."""

    def __init__(self, c1: int, c2: int, hidden: int, clamp: float = 1.0):
        super().__init__()
        self.c1, self.clamp = c1, clamp
        self.f = _subnet(c2, c1, hidden)
        self.g = _subnet(c1, c2, hidden)
        self.h = _subnet(c1, c2, hidden)

    def _scale(self, y1):
        return self.clamp * (torch.sigmoid(self.h(y1)) * 2 - 1)

    def forward(self, x, rev: bool = False):
        x1, x2 = x[:, :self.c1], x[:, self.c1:]
        if not rev:
            y1 = x1 + self.f(x2)
            y2 = x2 * torch.exp(self._scale(y1)) + self.g(y1)
        else:
            y2 = (x2 - self.g(x1)) * torch.exp(-self._scale(x1))
            y1 = x1 - self.f(y2)
        return torch.cat([y1, y2], dim=1)


class InvertibleRescaler(nn.Module):
    """``factor`` = 2**stages; each stage: Haar, then ``blocks`` couplings on (3, rest) channels."""

    def __init__(self, factor: int = 2, blocks: int = 2, hidden: int = 32):
        super().__init__()
        if factor not in FACTORS:
            raise ParameterError(f"InvertibleRescaler: factor must be one of {FACTORS}, got "
                                 f"{factor}", parameter="factor")
        self.factor, self.blocks, self.hidden = factor, blocks, hidden
        stages = int(math.log2(factor))
        self.stages = nn.ModuleList()
        c = 3
        for _ in range(stages):
            c *= 4
            self.stages.append(nn.ModuleList(Coupling(3, c - 3, hidden) for _ in range(blocks)))
        self.latent_channels = c - 3

    def forward(self, x: torch.Tensor):
        """(B, 3, H, W), H and W multiples of ``factor`` -> (lr (B, 3, h, w), z (B, C, h, w))."""
        y = x
        for blocks in self.stages:
            y = _haar_down(y)
            for blk in blocks:
                y = blk(y)
        return y[:, :3], y[:, 3:]

    def inverse(self, lr: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        """The picture from ``lr`` and a latent ``z`` (zeros when None)."""
        if z is None:
            z = lr.new_zeros((lr.shape[0], self.latent_channels, lr.shape[2], lr.shape[3]))
        y = torch.cat([lr, z], dim=1)
        for blocks in reversed(self.stages):
            for blk in reversed(blocks):
                y = blk(y, rev=True)
            y = _haar_up(y)
        return y

    # -- files ----------------------------------------------------------------------------------
    def save(self, path, **meta) -> None:
        torch.save({"factor": self.factor, "blocks": self.blocks, "hidden": self.hidden,
                    "state": {k: v.detach().cpu() for k, v in self.state_dict().items()},
                    "meta": meta}, str(path))

    @classmethod
    def load(cls, path, device: str | None = None) -> "InvertibleRescaler":
        try:
            ck = torch.load(str(path), map_location="cpu", weights_only=True)
            model = cls(ck["factor"], ck["blocks"], ck["hidden"])
            model.load_state_dict(ck["state"])
        except (OSError, KeyError, RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot load the rescaling model ({exc})", file=path) from None
        model.meta = ck.get("meta", {})
        return model.eval().to(device or default_device())


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def bundled_path(factor: int) -> Path:
    return MODELS_DIR / f"irn_x{factor}.pt"


_cache: dict = {}


def load_bundled(factor: int, device: str | None = None) -> InvertibleRescaler:
    """The bundled model for ``factor`` (2 or 4), cached per device."""
    if factor not in FACTORS:
        raise ParameterError(f"learned rescaling has models for x{' and x'.join(map(str, FACTORS))}"
                             f", got x{factor}", parameter="factor")
    device = device or default_device()
    key = (factor, device)
    if key not in _cache:
        path = bundled_path(factor)
        if not path.is_file():
            raise ModelError(f"the bundled model irn_x{factor}.pt is missing (train it with "
                             f"scripts/train_irn.py)", file=path)
        _cache[key] = InvertibleRescaler.load(path, device)
    return _cache[key]


# -- numpy helpers (uint8 RGB in and out, as pictures are stored) ----------------------------------


def _to_tensor(rgb: np.ndarray, device) -> torch.Tensor:
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ParameterError(f"expected an (H, W, 3) uint8 RGB picture, got {rgb.shape} "
                             f"{rgb.dtype}", parameter="rgb")
    return torch.from_numpy(np.array(rgb)).to(device).permute(2, 0, 1)[None].float() / 255


def _to_uint8(t: torch.Tensor) -> np.ndarray:
    return (t[0].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def _pad_to(rgb: np.ndarray, m: int) -> np.ndarray:
    h, w = rgb.shape[:2]
    ph, pw = -h % m, -w % m
    if ph or pw:
        rgb = np.pad(rgb, ((0, ph), (0, pw), (0, 0)), mode="edge")
    return rgb


@torch.no_grad()
def downscale(model: InvertibleRescaler, rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> uint8 RGB (ceil(H/s), ceil(W/s), 3); edges replicated to fit."""
    dev = next(model.parameters()).device
    lr, _ = model(_to_tensor(_pad_to(rgb, model.factor), dev))
    return _to_uint8(lr)


@torch.no_grad()
def upscale(model: InvertibleRescaler, lr_rgb: np.ndarray, size: tuple[int, int] | None = None,
            latent: str = "zero", seed: int = 0) -> np.ndarray:
    """uint8 LR RGB -> uint8 RGB (``size`` = (H, W) crops away the padding).

    ``latent``: ``"zero"`` (the mode of the modelled latent distribution) or ``"sample"``
    (a draw from the modelled N(0, sigma_z^2), seeded; sigma_z is stored with the model).
    """
    dev = next(model.parameters()).device
    lr = _to_tensor(lr_rgb, dev)
    z = None
    if latent == "sample":
        g = torch.Generator(device="cpu").manual_seed(int(seed))
        sigma = float(getattr(model, "meta", {}).get("sigma_z", 1.0))
        z = torch.randn((1, model.latent_channels, lr.shape[2], lr.shape[3]), generator=g)
        z = (z * sigma).to(dev)
    elif latent != "zero":
        raise ParameterError(f"latent must be 'zero' or 'sample', got {latent!r}",
                             parameter="latent")
    out = _to_uint8(model.inverse(lr, z))
    if size is not None:
        out = out[:size[0], :size[1]]
    return out


def bicubic_down(x: torch.Tensor, factor: int) -> torch.Tensor:
    """The guide for the LR picture in training (antialiased bicubic)."""
    return F.interpolate(x, scale_factor=1 / factor, mode="bicubic", antialias=True,
                         align_corners=False)
