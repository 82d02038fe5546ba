"""Train the learned invertible rescaling model (vpfilters/models/irn_x{2,4}.pt) on Kodak crops.

Losses (after IRN, Xiao et al. 2020, per-element means):
  rec  L1 between the picture and its inverse from the 8-bit-rounded LR (straight-through
       rounding) and a latent drawn from the modelled distribution N(0, sigma_z^2);
  zero (``--w-zero``) the same L1 from the fixed latent z = 0 (what restore uses);
  fit  MSE between the LR picture and an antialiased bicubic downscale (keeps LR watchable);
  ce   mean z^2 / sigma_z^2: pushes the forward latent towards zero, so that the decoder has to
       do without it (the latent-independence claim).
``--calibrate`` then stores as ``sigma_z`` the forward latent's RMS on the training images (the
modelled spread = the measured one; the value trained with is kept as ``sigma_z_train``).
The learning rate follows a cosine over the time budget, so runs are repeatable in kind, not bit
for bit (iteration counts depend on the machine's speed).

The bundled files (vpfilters/models/IRN.md has the history)::

    # x2: 3,000 iterations from scratch (sigma_z 0.05), then two fine-tunes
    python scripts/train_irn.py --factor 2 --minutes 24 --threads 1 --iters 3000 --out x2_0.pt
    python scripts/train_irn.py --factor 2 --init x2_0.pt --lr 3e-4 --seed 2 --sigma-z 0.03 \
        --w-ce 0.03 --w-zero 0.5 --minutes 11 --iters 4000 --threads 1 --out x2_1.pt
    python scripts/train_irn.py --factor 2 --init x2_1.pt --lr 2e-4 --seed 4 --sigma-z 0.02 \
        --w-ce 0.01 --w-zero 0.5 --minutes 7 --threads 1 --calibrate \
        --out vpfilters/models/irn_x2.pt
    # x4: trained with sigma_z 0.05 (IRN.md), then only calibrated (no iteration)
    python scripts/train_irn.py --factor 4 --crop 64 --init irn_x4_trained.pt --minutes 0 \
        --calibrate --out vpfilters/models/irn_x4.pt
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def load_kodak(folder: Path) -> list[np.ndarray]:
    from PIL import Image

    files = sorted(folder.glob("kodim*.png"))
    if not files:
        raise SystemExit(f"no Kodak images in {folder}")
    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


def batches(images, crop: int, batch: int, rng: np.random.Generator):
    while True:
        out = np.empty((batch, crop, crop, 3), np.uint8)
        for i in range(batch):
            im = images[rng.integers(len(images))]
            y = rng.integers(im.shape[0] - crop + 1)
            x = rng.integers(im.shape[1] - crop + 1)
            c = im[y:y + crop, x:x + crop]
            if rng.random() < 0.5:
                c = c[:, ::-1]
            if rng.random() < 0.5:
                c = c[::-1]
            if rng.random() < 0.5:
                c = c.transpose(1, 0, 2)
            out[i] = c
        yield out


def quantize(t):
    """Round to 8-bit levels in the forward pass, identity gradient (straight-through)."""
    q = (t.clamp(0, 1) * 255).round() / 255
    return t + (q - t).detach()


def losses(model, x, sigma_z, w_fit, w_ce, gen=None, w_zero=0.0):
    import torch

    from vpfilters.protect.irn import bicubic_down

    lr, z = model(x)
    fit = ((lr - bicubic_down(x, model.factor)) ** 2).mean()
    ce = (z ** 2).mean() / (sigma_z ** 2)
    zs = torch.randn(z.shape, generator=gen) * sigma_z
    lrq = quantize(lr)
    rec = (model.inverse(lrq, zs) - x).abs().mean()
    loss = rec + w_fit * fit + w_ce * ce
    if w_zero:
        loss = loss + w_zero * (model.inverse(lrq, None) - x).abs().mean()
    return loss, rec, fit, ce


def latent_rms(model, images) -> float:
    """RMS of the forward latent over whole pictures (mod-crop to the factor): the spread that
    the modelled N(0, sigma_z^2) should have, measured on the training images."""
    import torch

    total, count = 0.0, 0
    with torch.no_grad():
        for im in images:
            f = model.factor
            h, w = im.shape[0] // f * f, im.shape[1] // f * f
            x = torch.from_numpy(np.array(im[:h, :w])).permute(2, 0, 1)[None].float() / 255
            _, z = model(x)
            total += float((z.double() ** 2).sum())
            count += z.numel()
    return math.sqrt(total / count)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--factor", type=int, choices=(2, 4), default=2)
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "kodak24"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=24)
    ap.add_argument("--crop", type=int, default=48)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--iters", type=int, default=100000)
    ap.add_argument("--minutes", type=float, default=15.0, help="stop after this much training")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--sigma-z", type=float, default=0.05,
                    help="std of the modelled latent N(0, sigma_z^2)")
    ap.add_argument("--w-fit", type=float, default=4.0)
    ap.add_argument("--w-ce", type=float, default=0.01)
    ap.add_argument("--w-zero", type=float, default=0.0,
                    help="weight of an extra L1 reconstruction from the fixed latent z = 0")
    ap.add_argument("--calibrate", action="store_true",
                    help="at the end, store as sigma_z the RMS of the forward latent on the "
                         "training images (the trained-with value is kept as sigma_z_train)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", default=None, help="continue from this checkpoint")
    args = ap.parse_args(argv)

    import torch

    from vpfilters.protect.irn import InvertibleRescaler

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    images = load_kodak(Path(args.data))
    model = InvertibleRescaler(args.factor, args.blocks, args.hidden)
    done = 0
    if args.init:
        prev = InvertibleRescaler.load(args.init, "cpu").train()
        model, done = prev, int(prev.meta.get("iters", 0))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    out = Path(args.out or REPO / "vpfilters" / "models" / f"irn_x{args.factor}.pt")
    data = batches(images, args.crop, args.batch, rng)
    history = list(getattr(model, "meta", {}).get("history", []))

    def meta(iters):
        run = {"iters": iters - done, "lr": args.lr, "sigma_z": args.sigma_z, "w_fit": args.w_fit,
               "w_ce": args.w_ce, "w_zero": args.w_zero, "crop": args.crop, "batch": args.batch,
               "seed": args.seed}
        return {"iters": iters, "sigma_z": args.sigma_z, "crop": args.crop, "batch": args.batch,
                "history": history + [run]}

    t0 = time.monotonic()
    budget = args.minutes * 60
    it = 0
    avg = None
    while it < args.iters and time.monotonic() - t0 < budget:
        # cosine decay over the time budget (the iteration count is not known in advance)
        frac = min(1.0, (time.monotonic() - t0) / budget)
        for g in opt.param_groups:
            g["lr"] = args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        x = torch.from_numpy(next(data)).permute(0, 3, 1, 2).float() / 255
        loss, rec, fit, ce = losses(model, x, args.sigma_z, args.w_fit, args.w_ce, gen,
                                    args.w_zero)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        vals = np.array([loss.item(), rec.item(), fit.item(), ce.item()])
        avg = vals if avg is None else 0.98 * avg + 0.02 * vals
        it += 1
        if it % 100 == 0:
            print(f"it {it:6d} {time.monotonic() - t0:7.1f}s loss {avg[0]:.5f} rec {avg[1]:.5f} "
                  f"fit {avg[2]:.6f} ce {avg[3]:.3f}", flush=True)
        if it % 500 == 0:
            model.save(out, **meta(done + it))
    final = meta(done + it)
    final["history"][-1].update(seconds=round(time.monotonic() - t0), threads=args.threads)
    if args.calibrate:
        model.eval()
        final.update(sigma_z=round(latent_rms(model, images), 5), sigma_z_train=args.sigma_z)
        print(f"train_irn: forward latent RMS on the training images {final['sigma_z']:.4f} "
              f"(trained with sigma_z {args.sigma_z})")
    model.save(out, **final, data="kodak24 (24 PNG, random crops with flips)")
    print(f"train_irn: x{args.factor}, {it} iterations in {time.monotonic() - t0:.0f} s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
