// Flow field to RGB through a (direction x magnitude) lookup table; the numpy reference
// (vpfilters/kernels/_reference.py: flow_to_color) is the specification.
//
// Direction: turns = atan2f(v, u) / (2 pi) in [0, 1), bin = floor(turns * n_dir) (n_dir -> 0).
// Magnitude: m = min(|f| * inv_max, 1), bin = floor(m * (n_mag - 1) + 0.5); bin 0 when has_mag
// is 0 (max_mag <= 0). Non-finite flow counts as zero motion. Every float step uses __f*_rn
// intrinsics so the magnitude bin is bit-exact with numpy; atan2f may differ from the host libm
// by an ulp, which can move a pixel sitting on a direction-bin boundary by one bin.
// turn_scale and inv_max are float32 values computed on the host exactly as the reference does.
// min_mag > 0 masks static pixels: magnitude __fsqrt_rn(u*u + v*v) below it -> entry (0, 0), else a
// magnitude bin of at least min(1, n_mag - 1). min_mag <= 0: no mask.
// No #include: NVRTC compiles this file and has no standard headers.

__device__ __forceinline__ bool vpf_is_finite(float x) {
  return (__float_as_int(x) & 0x7f800000) != 0x7f800000;
}

// flow: (h, w, 2) float32, interleaved (u, v), row stride in floats; lut: n_dir * n_mag * 3
// bytes, contiguous; out: (h, w, 3) uint8, packed RGB, row stride in bytes.
extern "C" __global__ void vpf_flow_to_color(const float* flow, long long flow_stride, int w,
                                             int h, const unsigned char* lut, int n_dir,
                                             int n_mag, float turn_scale, float inv_max,
                                             int has_mag, unsigned char* out,
                                             long long out_stride, float min_mag) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x >= w || y >= h) return;

  const float* p = flow + (long long)y * flow_stride + 2LL * x;
  float u = p[0];
  float v = p[1];
  if (!(vpf_is_finite(u) && vpf_is_finite(v))) {
    u = 0.0f;
    v = 0.0f;
  }

  float turns = __fmul_rn(atan2f(v, u), turn_scale);
  if (turns < 0.0f) turns = __fadd_rn(turns, 1.0f);
  int di = (int)__fmul_rn(turns, (float)n_dir);
  if (di >= n_dir || di < 0) di = 0;

  int mi = 0;
  const float mag = __fsqrt_rn(__fadd_rn(__fmul_rn(u, u), __fmul_rn(v, v)));
  if (has_mag) {
    float m = __fmul_rn(mag, inv_max);
    if (!(m < 1.0f)) m = 1.0f;  // also maps a NaN (0 * inf) to the last bin
    mi = (int)__fadd_rn(__fmul_rn(m, (float)(n_mag - 1)), 0.5f);
    if (mi > n_mag - 1) mi = n_mag - 1;
    if (mi < 0) mi = 0;
  }
  if (min_mag > 0.0f) {
    if (mag >= min_mag) {
      const int lo = n_mag > 1 ? 1 : 0;
      if (mi < lo) mi = lo;
    } else {
      di = 0;
      mi = 0;
    }
  }

  const unsigned char* c = lut + ((long long)di * n_mag + mi) * 3;
  unsigned char* o = out + (long long)y * out_stride + 3LL * x;
  o[0] = c[0];
  o[1] = c[1];
  o[2] = c[2];
}
