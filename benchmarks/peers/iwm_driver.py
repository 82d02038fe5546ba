"""Run invisible-watermark (dwtDctSvd) for benchmarks/hide.py, inside the peer's own venv.

Usage: ``python iwm_driver.py TASKS.json RESULTS.json``. Each task is
``{"op": "embed", "src": png, "dst": png, "bits": "0101..."}`` or
``{"op": "decode", "src": png, "n": 256}``; results are in the same order, with ``ms`` (the
library call only, not file I/O) and, for decode, ``bits``.
"""

import json
import sys
import time

import cv2
import numpy as np
from imwatermark import WatermarkDecoder, WatermarkEncoder

METHOD = "dwtDctSvd"


def main(tasks_path, results_path):
    tasks = json.load(open(tasks_path))
    out = []
    for t in tasks:
        bgr = cv2.imread(t["src"], cv2.IMREAD_COLOR)
        if t["op"] == "embed":
            enc = WatermarkEncoder()
            enc.set_watermark("bits", [int(c) for c in t["bits"]])
            t0 = time.perf_counter()
            res = enc.encode(bgr, METHOD)
            ms = (time.perf_counter() - t0) * 1e3
            cv2.imwrite(t["dst"], res)
            out.append({"ms": ms})
        else:
            dec = WatermarkDecoder("bits", int(t["n"]))
            t0 = time.perf_counter()
            bits = dec.decode(bgr, METHOD)
            ms = (time.perf_counter() - t0) * 1e3
            out.append({"ms": ms, "bits": "".join("1" if b else "0" for b in np.asarray(bits))})
    json.dump(out, open(results_path, "w"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
