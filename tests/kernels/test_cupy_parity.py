"""CuPy backend against the numpy reference: integers bit for bit, floats within 1e-5, flow bins.

The parity tests need CuPy and a CUDA device and are skipped otherwise (the ``cp`` fixture says
why). The source tests at the top run anywhere: the backend module must import without CuPy and
every kernel its factories compile must exist in a shipped ``.cu`` file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vpfilters import kernels
from vpfilters.kernels import _cupy as gpu
from vpfilters.kernels import _reference as ref

ROOT = Path(__file__).resolve().parents[2]

# ---------------------------------------------------------------------------- without a GPU


def test_backend_module_imports_without_cupy():
    code = ("import sys; sys.modules['cupy'] = None\n"
            "import vpfilters.kernels._cupy as m\n"
            "from vpfilters.errors import BackendError\n"
            "assert m.kernel_names()\n"
            "try:\n    m._cupy()\nexcept BackendError:\n    pass\n"
            "else:\n    raise SystemExit('_cupy() should raise BackendError without CuPy')\n")
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=path)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("source", gpu.CUDA_SOURCES)
def test_cuda_source_found_and_defines_its_kernels(source):
    path = gpu.cuda_source_path(source)
    text = path.read_text(encoding="utf-8")
    assert text.strip(), f"{path} is empty"
    # NVRTC has no standard headers: a kernel file must be self-contained.
    assert not re.search(r"^\s*#\s*include", text, re.M), f"{path} has an #include"
    names = gpu.kernel_names()[source]
    assert names
    for expr in names:
        base = expr.split("<")[0]
        assert re.search(rf"__global__\s+void\s+{base}\s*\(", text), f"{base} not defined in {path}"
        if "<" in expr:  # a template: its declaration must take as many parameters as we pass
            n_args = expr.count(",") + 1
            decl = re.search(rf"template\s*<([^>]*)>\s*__global__\s+void\s+{base}\s*\(", text)
            assert decl and decl.group(1).count(",") + 1 == n_args, expr


def test_every_cuda_source_has_a_factory():
    shipped = {p.name for d in gpu.CUDA_DIRS if d.is_dir() for p in d.glob("*.cu")}
    assert shipped == set(gpu.CUDA_SOURCES)


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not found")
@pytest.mark.parametrize("source", gpu.CUDA_SOURCES)
def test_cuda_source_compiles_with_nvcc(source, tmp_path):
    """Instantiates every name expression the factories use and compiles to PTX (no GPU needed)."""
    text = gpu.cuda_source(source)
    refs = ", ".join(f"(void*)&{expr}" for expr in gpu.kernel_names()[source])
    cu = tmp_path / source
    cu.write_text(f"{text}\nvoid* vpf_instances[] = {{{refs}}};\n", encoding="utf-8")
    proc = subprocess.run(["nvcc", "-std=c++17", "-arch=compute_90", "-ptx", "--Werror",
                           "all-warnings", "-o", str(tmp_path / "out.ptx"), str(cu)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------------------- parity on a GPU


@pytest.fixture(scope="module")
def cp():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed: CuPy parity tests skipped")
    if "cupy" not in kernels.available_backends():
        pytest.skip("the cupy backend is unavailable (no CUDA device): CuPy parity tests skipped")
    return cupy


gpu_only = pytest.mark.gpu

DEPTHS = [(np.uint8, 8), (np.uint16, 10), (np.uint16, 16), (np.float32, 0)]
DEPTH_IDS = ["8bit", "10bit", "16bit", "float"]
SHAPES = [(1, 1), (1, 6), (5, 1), (7, 9), (16, 16), (37, 64), (121, 203)]


def _random(rng, shape, dtype, bits):
    if np.dtype(dtype) == np.float32:
        return rng.random(shape, dtype=np.float32)
    return rng.integers(0, 1 << bits, shape, dtype=dtype)


def _plane(cp, rng, shape, dtype, bits, padded):
    """(numpy plane, cupy plane) with the same values and layout; padded = strided view."""
    h, w = shape
    if not padded:
        x = _random(rng, shape, dtype, bits)
        return x, cp.asarray(x)
    big = _random(rng, (h + 3, w + 7), dtype, bits)
    return big[2:2 + h, 5:5 + w], cp.asarray(big)[2:2 + h, 5:5 + w]


def _same(got, want, dtype):
    got = got.get() if hasattr(got, "get") else np.asarray(got)
    assert got.dtype == want.dtype and got.shape == want.shape
    if np.dtype(dtype) == np.float32:
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(got, want)


def _bands(xp, shape, dtype):
    bshape = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    ddt = ref.DETAIL_DTYPE[np.dtype(dtype)]
    return [xp.empty(bshape, dtype)] + [xp.empty(bshape, ddt) for _ in range(3)]


@gpu_only
@pytest.mark.parametrize("padded", [False, True], ids=["contiguous", "padded"])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype,bits", DEPTHS, ids=DEPTH_IDS)
def test_haar_matches_reference(cp, dtype, bits, shape, padded):
    rng = np.random.default_rng(hash((shape, bits, padded)) & 0xFFFF)
    x_np, x_cp = _plane(cp, rng, shape, dtype, bits, padded)
    want = _bands(np, shape, dtype)
    ref.haar_fwd(x_np, *want)
    got = _bands(cp, shape, dtype)
    gpu.haar_fwd(x_cp, *got)
    for g, w in zip(got, want):
        _same(g, w, dtype)

    back_ref = np.empty(shape, dtype)
    ref.haar_inv(*want, back_ref)
    back = cp.empty(shape, dtype)
    gpu.haar_inv(*got, back)
    _same(back, back_ref, dtype)
    if np.dtype(dtype) != np.float32:
        np.testing.assert_array_equal(back.get(), x_np)  # lossless


@gpu_only
@pytest.mark.parametrize("dtype,bits", DEPTHS, ids=DEPTH_IDS)
def test_haar_numpy_in_numpy_out(cp, dtype, bits):
    rng = np.random.default_rng(bits)
    x = _random(rng, (33, 50), dtype, bits)[:, 1:48]  # strided numpy view, odd width
    want, got = _bands(np, x.shape, dtype), _bands(np, x.shape, dtype)
    ref.haar_fwd(x, *want)
    gpu.haar_fwd(x, *got)
    for g, w in zip(got, want):
        _same(g, w, dtype)
    back = np.empty(x.shape, dtype)
    gpu.haar_inv(*got, back)
    back_ref = np.empty(x.shape, dtype)
    ref.haar_inv(*want, back_ref)
    _same(back, back_ref, dtype)


@gpu_only
@pytest.mark.parametrize("dtype,bits", DEPTHS[:3], ids=DEPTH_IDS[:3])
def test_haar_inverse_of_arbitrary_bands_wraps_like_reference(cp, dtype, bits):
    rng = np.random.default_rng(7)
    shape = (19, 26)
    bands = _bands(np, shape, dtype)
    bands[0][...] = _random(rng, bands[0].shape, dtype, bits)
    lim = 1 << bits
    for b in bands[1:]:
        b[...] = rng.integers(-lim, lim, b.shape)
    want = np.empty(shape, dtype)
    ref.haar_inv(*bands, want)
    got = cp.empty(shape, dtype)
    gpu.haar_inv(*(cp.asarray(b) for b in bands), got)
    _same(got, want, dtype)


@gpu_only
@pytest.mark.parametrize("dtype,bits", DEPTHS, ids=DEPTH_IDS)
def test_haar_pyramid_through_public_api(cp, dtype, bits):
    rng = np.random.default_rng(3)
    x = _random(rng, (45, 77), dtype, bits)
    want = kernels.haar_forward(x, 3, backend="numpy")
    got = kernels.haar_forward(cp.asarray(x), 3)
    _same(got.ll, want.ll, dtype)
    for gb, wb in zip(got.details, want.details):
        for g, w in zip(gb, wb):
            _same(g, w, dtype)
    back = kernels.haar_inverse(got)
    _same(back, kernels.haar_inverse(want, backend="numpy"), dtype)


def _boxes(rng, h, w, n=4):
    x0 = rng.integers(-2, w + 1, n)
    y0 = rng.integers(-2, h + 1, n)
    b = np.stack([x0, y0, x0 + rng.integers(1, max(2, w // 2), n),
                  y0 + rng.integers(1, max(2, h // 2), n)], 1)
    b = np.vstack([b, [[w // 2, h // 2, w // 2, h // 2 + 3]]])  # an empty box is ignored
    return np.clip(b, 0, [w, h, w, h]).astype(np.int32)


# (mode, param, passes): box radii incl. 0 and one wider than small planes, Gaussian, mosaic
# blocks that do and do not divide the plane, fill.
MASK_CASES = [(0, 0, 1), (0, 2, 1), (0, 40, 1), (1, 3, 3), (2, 1, 1), (2, 4, 1), (2, 7, 1),
              (3, 0, 0)]
FILL = {8: 17, 10: 700, 16: 40000, 0: 0.25}


@gpu_only
@pytest.mark.parametrize("with_mask", [False, True], ids=["boxes", "boxes+mask"])
@pytest.mark.parametrize("feather", [(0, 0), (3, 5)], ids=["hard", "feathered"])
@pytest.mark.parametrize("case", MASK_CASES, ids=lambda c: f"mode{c[0]}-p{c[1]}")
@pytest.mark.parametrize("dtype,bits", DEPTHS, ids=DEPTH_IDS)
def test_mask_apply_matches_reference(cp, dtype, bits, case, feather, with_mask):
    mode, param, passes = case
    rng = np.random.default_rng(hash((case, feather, with_mask, bits)) & 0xFFFF)
    for shape, padded in (((37, 61), True), ((64, 48), False), ((3, 5), False)):
        h, w = shape
        s_np, s_cp = _plane(cp, rng, shape, dtype, bits, padded)
        boxes = _boxes(rng, h, w)
        mask = rng.integers(0, 256, shape, dtype=np.uint8) if with_mask else None
        if mask is not None:
            mask[rng.random(shape) < 0.6] = 0
        args = (boxes, mode, param, passes, *feather)
        want = np.empty(shape, dtype)
        ref.mask_apply(s_np, want, *args, mask, FILL[bits], 1)
        got = cp.empty(shape, dtype)
        gpu.mask_apply(s_cp, got, *args, None if mask is None else cp.asarray(mask),
                       FILL[bits], 1)
        _same(got, want, dtype)
        # in place (dst is src, a strided view when padded) and numpy in / numpy out
        gpu.mask_apply(s_cp, s_cp, *args, None if mask is None else cp.asarray(mask),
                       FILL[bits], 1)
        _same(s_cp, want, dtype)
        out_np = np.empty(shape, dtype)
        gpu.mask_apply(s_np, out_np, *args, mask, FILL[bits], 1)
        _same(out_np, want, dtype)


@gpu_only
@pytest.mark.parametrize("dtype,bits", DEPTHS, ids=DEPTH_IDS)
def test_mask_apply_without_boxes_or_mask_copies(cp, dtype, bits):
    rng = np.random.default_rng(11)
    s_np, s_cp = _plane(cp, rng, (20, 30), dtype, bits, True)
    got = cp.empty((20, 30), dtype)
    gpu.mask_apply(s_cp, got, np.zeros((0, 4), np.int32), 1, 3, 3, 2, 2, None, 0, 1)
    _same(got, s_np, dtype)


@gpu_only
@pytest.mark.parametrize("mode", list(kernels.MODES))
@pytest.mark.parametrize("dtype,bits", DEPTHS, ids=DEPTH_IDS)
def test_mask_blur_chroma_plane_through_public_api(cp, dtype, bits, mode):
    rng = np.random.default_rng(5)
    luma = (90, 141)
    plane_np, plane_cp = _plane(cp, rng, (45, 71), dtype, bits, True)
    boxes = np.array([[10.5, 4.2, 60.1, 50.0], [100, 70, 141, 90], [-5, -5, 3, 3]])
    mask = np.zeros(luma, np.uint8)
    mask[30:60, 80:120] = rng.integers(0, 256, (30, 40), dtype=np.uint8)
    value = FILL[bits] // 2 if bits else 0.5
    kw = dict(mode=mode, strength=7.0, feather=5.0, subsampling=(1, 1), value=value)
    want = kernels.mask_blur(plane_np, boxes, mask=mask, backend="numpy", **kw)
    got = kernels.mask_blur(plane_cp, boxes, mask=cp.asarray(mask), **kw)
    _same(got, want, dtype)


def _lut(n_dir, n_mag):
    """A LUT whose colour names its bins: R = direction, G = magnitude."""
    d, m = np.meshgrid(np.arange(n_dir), np.arange(n_mag), indexing="ij")
    return np.stack([d, m, (d * 7 + m) % 256], -1).astype(np.uint8)


def _flow(rng, h, w):
    f = (rng.standard_normal((h, w, 2)) * 6).astype(np.float32)
    special = [(1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1), (0, 0), (-0.0, -1)]
    for i, (u, v) in enumerate(special):  # exact bin boundaries for n_dir = 8k
        f[0, i] = (u, v)
    f[1, :4] = [(np.nan, 1), (np.inf, 0), (1, -np.inf), (np.nan, np.nan)]
    return f, len(special)


@gpu_only
@pytest.mark.parametrize("max_mag", [0.0, 1.5, None], ids=["zero", "1.5", "frame-max"])
@pytest.mark.parametrize("n_dir,n_mag", [(8, 1), (64, 16), (360, 5), (7, 256)])
def test_flow_to_color_matches_reference(cp, n_dir, n_mag, max_mag):
    rng = np.random.default_rng(n_dir * 1000 + n_mag)
    h, w = 96, 130
    flow, n_special = _flow(rng, h, w)
    lut = _lut(n_dir, n_mag)
    if max_mag is None:
        fin = np.nan_to_num(flow, nan=0.0, posinf=0.0, neginf=0.0)
        max_mag = float(np.sqrt((fin * fin).sum(axis=2).max()))
    want = np.empty((h, w, 3), np.uint8)
    ref.flow_to_color(flow, lut, max_mag, want)
    out_big = cp.zeros((h + 1, w + 2, 3), cp.uint8)
    got = out_big[1:, 1:w + 1]  # a padded output view
    gpu.flow_to_color(cp.asarray(flow), cp.asarray(lut), max_mag, got)
    got = got.get()
    np.testing.assert_array_equal(got[..., 1], want[..., 1])  # magnitude bins are exact
    dd = (got[..., 0].astype(np.int64) - want[..., 0]) % n_dir if n_dir <= 256 else None
    if dd is not None:
        assert np.isin(dd, [0, 1, n_dir - 1]).all(), "a direction bin moved by more than one"
    differ = np.count_nonzero((got != want).any(axis=2))
    assert differ <= n_special + 1e-3 * h * w, f"{differ} pixels differ"


@gpu_only
@pytest.mark.parametrize("min_mag", [1e-4, 2.0, 50.0])
def test_flow_to_color_static_mask_matches_reference(cp, min_mag):
    rng = np.random.default_rng(7)
    h, w = 64, 90
    flow, n_special = _flow(rng, h, w)
    flow[rng.random((h, w)) < 0.3] = 0.0
    lut = _lut(100, 32)
    want = np.empty((h, w, 3), np.uint8)
    ref.flow_to_color(flow, lut, 12.0, want, 1, min_mag)
    got = kernels.flow_to_color(cp.asarray(flow), cp.asarray(lut), 12.0, min_mag=min_mag).get()
    np.testing.assert_array_equal(got[..., 1], want[..., 1])  # magnitude bins (and the mask) exact
    dd = (got[..., 0].astype(np.int64) - want[..., 0]) % 100
    assert np.isin(dd, [0, 1, 99]).all()
    assert np.count_nonzero((got != want).any(axis=2)) <= n_special + 1e-3 * h * w


@gpu_only
def test_flow_to_color_numpy_in_numpy_out_and_public_api(cp):
    rng = np.random.default_rng(1)
    flow, n_special = _flow(rng, 40, 50)
    lut = _lut(32, 12)
    want = kernels.flow_to_color(flow, lut, backend="numpy")  # max_mag: the frame's maximum
    got = kernels.flow_to_color(cp.asarray(flow), cp.asarray(lut)).get()
    assert np.count_nonzero((got != want).any(axis=2)) <= n_special
    want = np.empty((40, 50, 3), np.uint8)
    ref.flow_to_color(flow, lut, 4.0, want)
    got = np.empty_like(want)
    gpu.flow_to_color(flow, lut, 4.0, got)
    assert np.count_nonzero((got != want).any(axis=2)) <= n_special
