// One level of the 2-D Haar wavelet, forward and inverse; the numpy reference
// (vpfilters/kernels/_reference.py: haar_fwd, haar_inv) is the specification.
//
// One thread per 2x2 block. Strides are in elements; pixels within a row are contiguous.
// Integer planes use the S-transform lifting in 64-bit arithmetic with arithmetic shifts,
// exactly like the reference (bit-exact, including the modular cast of out-of-range inverse
// results). Float planes use the same structure with __f*_rn intrinsics so that the compiler
// cannot contract a multiply and an add into an FMA (which would round differently).
// No #include: NVRTC compiles this file and has no standard headers.
//
// Instantiated through CuPy name_expressions (see vpfilters/kernels/_cupy.py):
//   vpf_haar_fwd<T, D> and vpf_haar_inv<T, D> for (T, D) in
//   {(unsigned char, short), (unsigned short, int), (float, float)}

template <typename T>
struct VpfHaarWork {
  typedef long long type;
};
template <>
struct VpfHaarWork<float> {
  typedef float type;
};

// Floor of v / 2 (arithmetic shift) for integers, an exact half for floats.
__device__ __forceinline__ long long vpf_haar_half(long long v) { return v >> 1; }
__device__ __forceinline__ float vpf_haar_half(float v) { return __fmul_rn(v, 0.5f); }

__device__ __forceinline__ long long vpf_haar_add(long long a, long long b) { return a + b; }
__device__ __forceinline__ float vpf_haar_add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ long long vpf_haar_sub(long long a, long long b) { return a - b; }
__device__ __forceinline__ float vpf_haar_sub(float a, float b) { return __fsub_rn(a, b); }

// src (h, w) -> ll, lh, hl, hh, each (ceil(h/2), ceil(w/2)). Odd sizes replicate the last
// column/row.
template <typename T, typename D>
__global__ void vpf_haar_fwd(const T* src, long long src_stride, int w, int h,
                             T* ll, long long ll_stride, D* lh, long long lh_stride,
                             D* hl, long long hl_stride, D* hh, long long hh_stride) {
  typedef typename VpfHaarWork<T>::type V;
  const int bx = blockIdx.x * blockDim.x + threadIdx.x;
  const int by = blockIdx.y * blockDim.y + threadIdx.y;
  const int bw = (w + 1) / 2;
  const int bh = (h + 1) / 2;
  if (bx >= bw || by >= bh) return;

  const int x0 = 2 * bx;
  const int x1 = (x0 + 1 < w) ? x0 + 1 : w - 1;
  const int y0 = 2 * by;
  const int y1 = (y0 + 1 < h) ? y0 + 1 : h - 1;
  const T* r0 = src + (long long)y0 * src_stride;
  const T* r1 = src + (long long)y1 * src_stride;
  const V a = (V)r0[x0], b = (V)r0[x1];
  const V c = (V)r1[x0], d = (V)r1[x1];

  const V dT = vpf_haar_sub(a, b);
  const V dB = vpf_haar_sub(c, d);
  const V sT = vpf_haar_add(b, vpf_haar_half(dT));
  const V sB = vpf_haar_add(d, vpf_haar_half(dB));
  const V vlh = vpf_haar_sub(sT, sB);
  const V vll = vpf_haar_add(sB, vpf_haar_half(vlh));
  const V vhh = vpf_haar_sub(dT, dB);
  const V vhl = vpf_haar_add(dB, vpf_haar_half(vhh));

  ll[(long long)by * ll_stride + bx] = (T)vll;
  lh[(long long)by * lh_stride + bx] = (D)vlh;
  hl[(long long)by * hl_stride + bx] = (D)vhl;
  hh[(long long)by * hh_stride + bx] = (D)vhh;
}

// ll, lh, hl, hh (ceil(h/2), ceil(w/2)) -> dst (h, w); the replicated odd row/column is cropped.
template <typename T, typename D>
__global__ void vpf_haar_inv(const T* ll, long long ll_stride, const D* lh, long long lh_stride,
                             const D* hl, long long hl_stride, const D* hh, long long hh_stride,
                             T* dst, long long dst_stride, int w, int h) {
  typedef typename VpfHaarWork<T>::type V;
  const int bx = blockIdx.x * blockDim.x + threadIdx.x;
  const int by = blockIdx.y * blockDim.y + threadIdx.y;
  const int bw = (w + 1) / 2;
  const int bh = (h + 1) / 2;
  if (bx >= bw || by >= bh) return;

  const V vll = (V)ll[(long long)by * ll_stride + bx];
  const V vlh = (V)lh[(long long)by * lh_stride + bx];
  const V vhl = (V)hl[(long long)by * hl_stride + bx];
  const V vhh = (V)hh[(long long)by * hh_stride + bx];

  const V sB = vpf_haar_sub(vll, vpf_haar_half(vlh));
  const V sT = vpf_haar_add(vlh, sB);
  const V dB = vpf_haar_sub(vhl, vpf_haar_half(vhh));
  const V dT = vpf_haar_add(vhh, dB);
  const V b = vpf_haar_sub(sT, vpf_haar_half(dT));
  const V a = vpf_haar_add(dT, b);
  const V d = vpf_haar_sub(sB, vpf_haar_half(dB));
  const V c = vpf_haar_add(dB, d);

  const int x0 = 2 * bx;
  const int y0 = 2 * by;
  T* r0 = dst + (long long)y0 * dst_stride;
  r0[x0] = (T)a;
  if (x0 + 1 < w) r0[x0 + 1] = (T)b;
  if (y0 + 1 < h) {
    T* r1 = r0 + dst_stride;
    r1[x0] = (T)c;
    if (x0 + 1 < w) r1[x0 + 1] = (T)d;
  }
}
