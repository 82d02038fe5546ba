// Masked privacy operations (box / Gaussian-like blur, pixelate, fill) composited through a
// feathered box and soft-mask alpha; the numpy reference (vpfilters/kernels/_reference.py:
// mask_apply, processed_plane, alpha_map) is the specification.
//
// The processed plane F is computed over the whole plane into a work buffer W (int for integer
// planes, float for float32), then vpf_mask_composite blends it per pixel:
//   integer: (src * (256 - a) + F * a + 128) >> 8       (bit-exact with the reference)
//   float:   src + (F - src) * (a / 256)                  (__f*_rn: no FMA contraction)
// Integer means round as (sum + k/2) / k on non-negative sums, i.e. the reference's floor
// division. Box passes clamp at the plane edges; the clamped part of a window is counted as
// (number of out-of-plane taps) * edge value, so the loop is O(min(2r+1, n)) per pixel.
// No #include: NVRTC compiles this file and has no standard headers.
//
// Instantiated through CuPy name_expressions (see vpfilters/kernels/_cupy.py), for
// (T, W) in {(unsigned char, int), (unsigned short, int), (float, float)}:
//   vpf_box_h<W>, vpf_box_v<W>, vpf_pixelate_means<T, W>, vpf_mask_composite<T, W>

template <typename W>
struct VpfAcc;

template <>
struct VpfAcc<int> {
  typedef long long type;
  static __device__ __forceinline__ int mean(long long s, long long k) {
    return (int)((s + k / 2) / k);
  }
};

template <>
struct VpfAcc<float> {
  typedef double type;
  static __device__ __forceinline__ float mean(double s, long long k) {
    return (float)(s / (double)k);
  }
};

__device__ __forceinline__ long long vpf_blur_max(long long a, long long b) {
  return a > b ? a : b;
}
__device__ __forceinline__ long long vpf_blur_min(long long a, long long b) {
  return a < b ? a : b;
}

// Sum of line[i - r .. i + r] (n samples, element step `step`) with the ends replicated.
template <typename W>
__device__ __forceinline__ typename VpfAcc<W>::type vpf_window_sum(const W* line, long long step,
                                                                   int n, int i, int r) {
  typedef typename VpfAcc<W>::type A;
  long long lo = (long long)i - r;
  long long hi = (long long)i + r;
  A s = 0;
  if (lo < 0) {
    s += (A)line[0] * (A)(-lo);
    lo = 0;
  }
  if (hi > n - 1) {
    s += (A)line[(long long)(n - 1) * step] * (A)(hi - (n - 1));
    hi = n - 1;
  }
  for (long long j = lo; j <= hi; ++j) s += (A)line[j * step];
  return s;
}

// Horizontal box mean of radius r on a contiguous (h, w) work plane.
template <typename W>
__global__ void vpf_box_h(const W* src, W* dst, int w, int h, int r) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;
  const typename VpfAcc<W>::type s = vpf_window_sum<W>(src + (long long)y * w, 1, w, x, r);
  dst[(long long)y * w + x] = VpfAcc<W>::mean(s, 2LL * r + 1);
}

// Vertical box mean of radius r on a contiguous (h, w) work plane.
template <typename W>
__global__ void vpf_box_v(const W* src, W* dst, int w, int h, int r) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;
  const typename VpfAcc<W>::type s = vpf_window_sum<W>(src + x, w, h, y, r);
  dst[(long long)y * w + x] = VpfAcc<W>::mean(s, 2LL * r + 1);
}

// Mean of each b x b cell of a grid anchored at (0, 0); edge cells are partial. One thread per
// cell; means is (gh, gw) contiguous.
template <typename T, typename W>
__global__ void vpf_pixelate_means(const T* src, long long src_stride, int w, int h, int b,
                                   W* means, int gw, int gh) {
  typedef typename VpfAcc<W>::type A;
  const int gx = blockIdx.x * blockDim.x + threadIdx.x;
  const int gy = blockIdx.y * blockDim.y + threadIdx.y;
  if (gx >= gw || gy >= gh) return;
  const long long x0 = (long long)gx * b;
  const long long y0 = (long long)gy * b;
  const long long x1 = vpf_blur_min(x0 + b, w);
  const long long y1 = vpf_blur_min(y0 + b, h);
  A s = 0;
  for (long long y = y0; y < y1; ++y) {
    const T* row = src + y * src_stride;
    for (long long x = x0; x < x1; ++x) s += (A)row[x];
  }
  means[(long long)gy * gw + gx] = VpfAcc<W>::mean(s, (x1 - x0) * (y1 - y0));
}

// Feather weight (0..256) at integer distance d >= 0 outside a box with feather f.
__device__ __forceinline__ int vpf_ramp(long long d, int f) {
  if (d == 0) return 256;
  if (d > f) return 0;
  const long long f1 = (long long)f + 1;
  return (int)((256LL * (f1 - d)) / f1);
}

template <typename T>
__device__ __forceinline__ T vpf_blend(T s, int f, int a) {
  return (T)(((int)s * (256 - a) + f * a + 128) >> 8);
}

__device__ __forceinline__ float vpf_blend(float s, float f, int a) {
  const float t = __fmul_rn((float)a, 0.00390625f);  // a / 256, exact
  return __fadd_rn(s, __fmul_rn(__fsub_rn(f, s), t));
}

// dst = blend(src, F, alpha). boxes: nboxes x (x0, y0, x1, y1) int32, half-open plane pixels.
// F is `fill` when use_fill, else fbuf[(y / block) * fbuf_stride + x / block] (block = 1 for the
// blurred plane, the cell size for the pixelate means). dst may be src itself: each thread reads
// and writes only its own pixel, and F lives in a separate buffer.
template <typename T, typename W>
__global__ void vpf_mask_composite(const T* src, long long src_stride, T* dst,
                                   long long dst_stride, int w, int h, const int* boxes,
                                   int nboxes, int fx, int fy, const unsigned char* mask,
                                   long long mask_stride, int has_mask, int use_fill,
                                   const W* fbuf, long long fbuf_stride, int block, W fill) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;

  int a = 0;
  for (int i = 0; i < nboxes && a < 256; ++i) {
    const int* bx = boxes + 4 * i;
    const int x0 = bx[0], y0 = bx[1], x1 = bx[2], y1 = bx[3];
    if (x1 <= x0 || y1 <= y0) continue;
    // distance outside the box along each axis (0 inside)
    const long long dx = vpf_blur_max(vpf_blur_max((long long)x0 - x, x - (x1 - 1LL)), 0);
    const long long dy = vpf_blur_max(vpf_blur_max((long long)y0 - y, y - (y1 - 1LL)), 0);
    const int rx = vpf_ramp(dx, fx);
    const int ry = vpf_ramp(dy, fy);
    const int ab = rx < ry ? rx : ry;
    if (ab > a) a = ab;
  }
  if (has_mask) {
    const int m = mask[(long long)y * mask_stride + x];
    const int am = m + (m >> 7);
    if (am > a) a = am;
  }

  const T s = src[(long long)y * src_stride + x];
  const W f = use_fill ? fill : fbuf[(long long)(y / block) * fbuf_stride + (x / block)];
  dst[(long long)y * dst_stride + x] = vpf_blend(s, f, a);
}
