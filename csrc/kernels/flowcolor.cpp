// Flow field to RGB through a (direction x magnitude) lookup table (_reference.flow_to_color).
// The direction uses a polynomial atan2 accurate to ~1e-7 turns, so a pixel can land in the
// neighbouring direction bin only when its angle is that close to a bin boundary; the magnitude
// bin follows the reference's float32 arithmetic exactly.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "flowcolor_impl.hpp"
#include "kernels_impl.hpp"
#include "vpf_kernels.hpp"

namespace vpf {
namespace {

// atan(t) / (2 pi) for t in [0, 1]: odd minimax-style polynomial, max error 6e-8 turns.
VPF_INLINE float atan_turns01(float t) {
  const float t2 = t * t;
  float p = 0.0010841285111382604f;
  p = p * t2 - 0.005348272155970335f;
  p = p * t2 + 0.012672496028244495f;
  p = p * t2 - 0.02106151543557644f;
  p = p * t2 + 0.03152511641383171f;
  p = p * t2 - 0.0530262365937233f;
  p = p * t2 + 0.15915432572364807f;
  return t * p;
}

VPF_INLINE uint32_t bits_of(float v) {
  uint32_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

VPF_INLINE float float_of(uint32_t b) {
  float v;
  std::memcpy(&v, &b, sizeof v);
  return v;
}

// mask ? x : y on the bit patterns. A plain float select is not if-converted by GCC under
// -ftrapping-math (it sinks the candidate computation into a branch), which stops vectorising.
VPF_INLINE float blend(uint32_t mask, float x, float y) {
  return float_of((bits_of(x) & mask) | (bits_of(y) & ~mask));
}

VPF_INLINE uint32_t mask_if(bool c) { return 0u - static_cast<uint32_t>(c); }

// LUT entry index (d * n_mag + m) for each pixel of one row. With Masked, a pixel whose magnitude
// is below min_mag is entry 0 (no motion) and any other gets a magnitude bin >= lo_bin.
template <bool Masked>
VPF_INLINE void index_row_impl(const float* VPF_RESTRICT f, int w, int n_dir, int n_mag,
                               float inv_max, bool has_motion, float min_mag,
                               int32_t* VPF_RESTRICT idx) {
  const int32_t lo_bin = std::min(1, n_mag - 1);
  const float fdir = static_cast<float>(n_dir);
  const float fmag = static_cast<float>(n_mag - 1);
  const int32_t mag_max = has_motion ? n_mag - 1 : 0;
  for (int x = 0; x < w; ++x) {
    const float fu = f[2 * x], fv = f[2 * x + 1];
    // Non-finite flow (exponent all ones) is no motion.
    const uint32_t finite = mask_if(((bits_of(fu) & 0x7f800000u) != 0x7f800000u) &
                                    ((bits_of(fv) & 0x7f800000u) != 0x7f800000u));
    const float u = float_of(bits_of(fu) & finite), v = float_of(bits_of(fv) & finite);
    const float ax = std::fabs(u), ay = std::fabs(v);
    const float mx = std::max(ax, ay), mn = std::min(ax, ay);
    const float t = mn / std::max(mx, 1.4e-45f);  // 0 / 0 -> 0; subnormal mx kept
    // Octant unfolding; non-negative floats order like their bit patterns.
    float a = atan_turns01(t);
    // |u| == |v|: the reference's float32 atan2(1, 1) / (2 pi) rounds to just below 1/8; match
    // it so that exact diagonals land in the same bin (exact axes already do: t == 0).
    a = blend(mask_if(bits_of(t) == bits_of(1.0f)), float_of(0x3dffffffu), a);
    a = blend(mask_if(bits_of(ay) > bits_of(ax)), 0.25f - a, a);
    a = blend(mask_if(bits_of(u) >> 31), 0.5f - a, a);  // atan2 convention: -0 is negative
    a = blend(mask_if(bits_of(v) >> 31), 1.0f - a, a);
    int32_t di = static_cast<int32_t>(a * fdir);
    di = di >= n_dir ? di - n_dir : di;
    di = std::max(di, 0);
    // Same float32 operations as the reference (no fused multiply-add in this file's targets).
    const float mag = std::sqrt(u * u + v * v);
    float m = mag * inv_max;
    // m >= +0 here, so min(m, 1) can be taken on the bit patterns; that also sends +inf and
    // NaN (an overflowed |f| times inv_max = 0) to 1, and keeps the loop vectorisable.
    m = float_of(std::min(bits_of(m), bits_of(1.0f)));
    int32_t mi = std::min(static_cast<int32_t>(m * fmag + 0.5f), mag_max);
    if (Masked) {
      // mag is finite or +inf here (non-finite parts were zeroed), so >= is a plain compare
      const int32_t moving = -static_cast<int32_t>(mag >= min_mag);
      mi = std::max(mi, lo_bin) & moving;
      di &= moving;
    }
    idx[x] = di * n_mag + mi;
  }
}

VPF_CLONES void index_row(const float* VPF_RESTRICT f, int w, int n_dir, int n_mag, float inv_max,
                          bool has_motion, int32_t* VPF_RESTRICT idx) {
  index_row_impl<false>(f, w, n_dir, n_mag, inv_max, has_motion, 0.0f, idx);
}

VPF_CLONES void index_row_masked(const float* VPF_RESTRICT f, int w, int n_dir, int n_mag,
                                 float inv_max, bool has_motion, float min_mag,
                                 int32_t* VPF_RESTRICT idx) {
  index_row_impl<true>(f, w, n_dir, n_mag, inv_max, has_motion, min_mag, idx);
}

// Largest u*u + v*v of a row as a bit pattern (non-negative floats order like their bits).
VPF_CLONES uint32_t max_sq_row(const float* VPF_RESTRICT f, int w) {
  uint32_t best = 0;
  for (int x = 0; x < w; ++x) {
    const float fu = f[2 * x], fv = f[2 * x + 1];
    const float u = float_of(bits_of(fu) & mask_if((bits_of(fu) & 0x7f800000u) != 0x7f800000u));
    const float v = float_of(bits_of(fv) & mask_if((bits_of(fv) & 0x7f800000u) != 0x7f800000u));
    best = std::max(best, bits_of(u * u + v * v));
  }
  return best;
}

void color_row(const int32_t* VPF_RESTRICT idx, int w, const uint32_t* VPF_RESTRICT lut32,
               uint8_t* VPF_RESTRICT out) {
  // 4-byte stores: the extra byte lands on the next pixel, which is written right after.
  for (int x = 0; x + 1 < w; ++x) std::memcpy(out + 3 * x, &lut32[idx[x]], 4);
  if (w > 0) {
    const uint32_t c = lut32[idx[w - 1]];
    uint8_t* o = out + 3 * (w - 1);
    o[0] = static_cast<uint8_t>(c);
    o[1] = static_cast<uint8_t>(c >> 8);
    o[2] = static_cast<uint8_t>(c >> 16);
  }
}

}  // namespace

namespace detail {

void flow_to_color_scaled(const float* flow, std::ptrdiff_t flow_stride, int width, int height,
                          const uint8_t* lut, int n_dir, int n_mag, float inv_max, bool has_motion,
                          uint8_t* out, std::ptrdiff_t out_stride, int threads, float min_mag) {
  if (width <= 0 || height <= 0 || n_dir <= 0 || n_mag <= 0) return;
  std::vector<uint32_t> lut32(static_cast<size_t>(n_dir) * n_mag);
  for (size_t i = 0; i < lut32.size(); ++i)
    lut32[i] = uint32_t{lut[3 * i]} | (uint32_t{lut[3 * i + 1]} << 8) |
               (uint32_t{lut[3 * i + 2]} << 16);
  const int t = (int64_t{width} * height >= (1 << 16)) ? std::max(1, threads) : 1;
  parallel_rows(height, t, [&](int y0, int y1) {
    std::vector<int32_t> idx(static_cast<size_t>(width));
    for (int y = y0; y < y1; ++y) {
      const float* row = flow + static_cast<std::ptrdiff_t>(y) * flow_stride;
      if (min_mag > 0.0f)
        index_row_masked(row, width, n_dir, n_mag, inv_max, has_motion, min_mag, idx.data());
      else
        index_row(row, width, n_dir, n_mag, inv_max, has_motion, idx.data());
      color_row(idx.data(), width, lut32.data(), out + static_cast<std::ptrdiff_t>(y) * out_stride);
    }
  });
}

}  // namespace detail

void flow_to_color(const float* flow, std::ptrdiff_t flow_stride, int width, int height,
                   const uint8_t* lut, int n_dir, int n_mag, float max_mag, uint8_t* out,
                   std::ptrdiff_t out_stride, int threads) {
  const bool has_motion = max_mag > 0.0f;
  const float inv = has_motion ? static_cast<float>(1.0 / static_cast<double>(max_mag)) : 0.0f;
  detail::flow_to_color_scaled(flow, flow_stride, width, height, lut, n_dir, n_mag, inv,
                               has_motion, out, out_stride, threads);
}

float flow_max_magnitude(const float* flow, std::ptrdiff_t flow_stride, int width, int height,
                         int threads) {
  if (width <= 0 || height <= 0) return 0.0f;
  const int t = (int64_t{width} * height >= (1 << 17)) ? std::max(1, std::min(threads, 256)) : 1;
  std::vector<uint32_t> best(static_cast<size_t>(t), 0u);
  detail::parallel_chunks(t, t, [&](int k) {
    const int y0 = static_cast<int>(int64_t{height} * k / t);
    const int y1 = static_cast<int>(int64_t{height} * (k + 1) / t);
    uint32_t b = 0;
    for (int y = y0; y < y1; ++y)
      b = std::max(b, max_sq_row(flow + static_cast<std::ptrdiff_t>(y) * flow_stride, width));
    best[k] = b;
  });
  return std::sqrt(float_of(*std::max_element(best.begin(), best.end())));
}

}  // namespace vpf
