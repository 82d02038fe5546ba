// One level of the 2-D Haar transform (integer S-transform lifting and its float twin).
// Specification: vpfilters/kernels/_reference.py (haar_fwd / haar_inv); integers are bit-exact.
#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "kernels_impl.hpp"
#include "vpf_kernels.hpp"

namespace vpf {
namespace {

// ------------------------------------------------------------------------------------ forward

// One band row from source rows r0 (2y) and r1 (2y+1, or 2y again on the last row of an odd
// height). `pairs` full column pairs; an odd width adds one block whose right column repeats.
// Integer lifting in `Wt` (int16 is exact for uint8 input, int32 for uint16).
template <class T, class D, class Wt>
VPF_INLINE void fwd_row_int(const T* VPF_RESTRICT r0, const T* VPF_RESTRICT r1, T* VPF_RESTRICT ll,
                            D* VPF_RESTRICT lh, D* VPF_RESTRICT hl, D* VPF_RESTRICT hh, int pairs,
                            bool odd) {
  for (int x = 0; x < pairs; ++x) {
    const Wt a = r0[2 * x], b = r0[2 * x + 1], c = r1[2 * x], d = r1[2 * x + 1];
    const Wt dT = static_cast<Wt>(a - b), dB = static_cast<Wt>(c - d);
    const Wt sT = static_cast<Wt>(b + (dT >> 1)), sB = static_cast<Wt>(d + (dB >> 1));
    const Wt vlh = static_cast<Wt>(sT - sB), vhh = static_cast<Wt>(dT - dB);
    ll[x] = static_cast<T>(sB + (vlh >> 1));
    lh[x] = static_cast<D>(vlh);
    hl[x] = static_cast<D>(dB + (vhh >> 1));
    hh[x] = static_cast<D>(vhh);
  }
  if (odd) {  // a == b, c == d: dT = dB = 0
    const int x = pairs;
    const Wt a = r0[2 * x], c = r1[2 * x];
    const Wt vlh = static_cast<Wt>(a - c);
    ll[x] = static_cast<T>(c + (vlh >> 1));
    lh[x] = static_cast<D>(vlh);
    hl[x] = 0;
    hh[x] = 0;
  }
}

VPF_INLINE void fwd_block_float(float a, float b, float c, float d, float& ll, float& lh,
                                float& hl, float& hh) {
  const float dT = a - b, dB = c - d;
  const float sT = b + dT * 0.5f, sB = d + dB * 0.5f;
  const float vlh = sT - sB, vhh = dT - dB;
  lh = vlh;
  ll = sB + vlh * 0.5f;
  hh = vhh;
  hl = dB + vhh * 0.5f;
}

VPF_INLINE void fwd_row_float(const float* VPF_RESTRICT r0, const float* VPF_RESTRICT r1,
                              float* VPF_RESTRICT ll, float* VPF_RESTRICT lh,
                              float* VPF_RESTRICT hl, float* VPF_RESTRICT hh, int pairs, bool odd) {
  for (int x = 0; x < pairs; ++x)
    fwd_block_float(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1], ll[x], lh[x], hl[x], hh[x]);
  if (odd) {
    const int x = pairs;
    fwd_block_float(r0[2 * x], r0[2 * x], r1[2 * x], r1[2 * x], ll[x], lh[x], hl[x], hh[x]);
  }
}

template <class T, class D, class Wt>
VPF_INLINE void fwd_plane_int(const Plane<const T>& src, const Plane<T>& ll, const Plane<D>& lh,
                              const Plane<D>& hl, const Plane<D>& hh) {
  const int rows = (src.height + 1) / 2, pairs = src.width / 2;
  const bool odd = src.width & 1;
  for (int y = 0; y < rows; ++y) {
    const T* r0 = src.row(2 * y);
    const T* r1 = src.row(std::min(2 * y + 1, src.height - 1));
    fwd_row_int<T, D, Wt>(r0, r1, ll.row(y), lh.row(y), hl.row(y), hh.row(y), pairs, odd);
  }
}

VPF_CLONES void fwd_u8(Plane<const uint8_t> src, Plane<uint8_t> ll, Plane<int16_t> lh,
                       Plane<int16_t> hl, Plane<int16_t> hh) {
  fwd_plane_int<uint8_t, int16_t, int16_t>(src, ll, lh, hl, hh);
}

VPF_CLONES void fwd_u16(Plane<const uint16_t> src, Plane<uint16_t> ll, Plane<int32_t> lh,
                        Plane<int32_t> hl, Plane<int32_t> hh) {
  fwd_plane_int<uint16_t, int32_t, int32_t>(src, ll, lh, hl, hh);
}

VPF_CLONES void fwd_f32(Plane<const float> src, Plane<float> ll, Plane<float> lh, Plane<float> hl,
                        Plane<float> hh) {
  const int rows = (src.height + 1) / 2, pairs = src.width / 2;
  const bool odd = src.width & 1;
  for (int y = 0; y < rows; ++y) {
    const float* r0 = src.row(2 * y);
    const float* r1 = src.row(std::min(2 * y + 1, src.height - 1));
    fwd_row_float(r0, r1, ll.row(y), lh.row(y), hl.row(y), hh.row(y), pairs, odd);
  }
}

// ------------------------------------------------------------------------------------ inverse

// Largest |v| over three detail rows: decides the narrowest exact working type for a row.
template <class D>
VPF_INLINE int64_t max_abs3(const D* VPF_RESTRICT p, const D* VPF_RESTRICT q,
                            const D* VPF_RESTRICT r, int n) {
  D lo = 0, hi = 0;
  for (int x = 0; x < n; ++x) {
    lo = std::min(lo, std::min(p[x], std::min(q[x], r[x])));
    hi = std::max(hi, std::max(p[x], std::max(q[x], r[x])));
  }
  return std::max(-static_cast<int64_t>(lo), static_cast<int64_t>(hi));
}

// One band row -> destination rows d0 (2y) and d1 (2y+1, nullptr past an odd height).
// Full pairs are written for `pairs` blocks; an odd width writes only the left column of the
// last block. `Wt` must hold every intermediate (the caller checks the band range).
template <class T, class D, class Wt>
VPF_INLINE void inv_row_int(const T* VPF_RESTRICT l, const D* VPF_RESTRICT lh,
                            const D* VPF_RESTRICT hl, const D* VPF_RESTRICT hh, T* VPF_RESTRICT d0,
                            T* VPF_RESTRICT d1, int pairs, bool odd) {
  auto block = [&](int x, Wt& a, Wt& b, Wt& c, Wt& d) {
    const Wt vl = static_cast<Wt>(l[x]), vlh = static_cast<Wt>(lh[x]);
    const Wt vhl = static_cast<Wt>(hl[x]), vhh = static_cast<Wt>(hh[x]);
    const Wt sB = static_cast<Wt>(vl - (vlh >> 1));
    const Wt sT = static_cast<Wt>(vlh + sB);
    const Wt dB = static_cast<Wt>(vhl - (vhh >> 1));
    const Wt dT = static_cast<Wt>(vhh + dB);
    b = static_cast<Wt>(sT - (dT >> 1));
    a = static_cast<Wt>(dT + b);
    d = static_cast<Wt>(sB - (dB >> 1));
    c = static_cast<Wt>(dB + d);
  };
  if (d1) {
    for (int x = 0; x < pairs; ++x) {
      Wt a, b, c, d;
      block(x, a, b, c, d);
      d0[2 * x] = static_cast<T>(a);
      d0[2 * x + 1] = static_cast<T>(b);
      d1[2 * x] = static_cast<T>(c);
      d1[2 * x + 1] = static_cast<T>(d);
    }
  } else {
    for (int x = 0; x < pairs; ++x) {
      Wt a, b, c, d;
      block(x, a, b, c, d);
      d0[2 * x] = static_cast<T>(a);
      d0[2 * x + 1] = static_cast<T>(b);
    }
  }
  if (odd) {
    Wt a, b, c, d;
    block(pairs, a, b, c, d);
    d0[2 * pairs] = static_cast<T>(a);
    if (d1) d1[2 * pairs] = static_cast<T>(c);
  }
}

// Narrow/wide working types and the detail magnitude up to which the narrow one is exact:
// |intermediates| <= max(T) + 5.25 * max|detail| (see the lifting steps above).
template <class T>
struct InvTypes;
template <>
struct InvTypes<uint8_t> {
  using Narrow = int16_t;
  using Wide = int32_t;  // exact for any int16 details
  static constexpr int64_t kNarrowMax = 6000;
};
template <>
struct InvTypes<uint16_t> {
  using Narrow = int32_t;
  using Wide = int64_t;  // exact for any int32 details
  static constexpr int64_t kNarrowMax = int64_t{1} << 28;
};

template <class T, class D>
VPF_INLINE void inv_plane_int(const Plane<const T>& ll, const Plane<const D>& lh,
                              const Plane<const D>& hl, const Plane<const D>& hh,
                              const Plane<T>& dst) {
  using Ty = InvTypes<T>;
  const int rows = (dst.height + 1) / 2, pairs = dst.width / 2;
  const bool odd = dst.width & 1;
  const int n = (dst.width + 1) / 2;
  for (int y = 0; y < rows; ++y) {
    T* d0 = dst.row(2 * y);
    T* d1 = 2 * y + 1 < dst.height ? dst.row(2 * y + 1) : nullptr;
    if (max_abs3(lh.row(y), hl.row(y), hh.row(y), n) <= Ty::kNarrowMax)
      inv_row_int<T, D, typename Ty::Narrow>(ll.row(y), lh.row(y), hl.row(y), hh.row(y), d0, d1,
                                             pairs, odd);
    else
      inv_row_int<T, D, typename Ty::Wide>(ll.row(y), lh.row(y), hl.row(y), hh.row(y), d0, d1,
                                           pairs, odd);
  }
}

VPF_CLONES void inv_u8(Plane<const uint8_t> ll, Plane<const int16_t> lh, Plane<const int16_t> hl,
                       Plane<const int16_t> hh, Plane<uint8_t> dst) {
  inv_plane_int(ll, lh, hl, hh, dst);
}

VPF_CLONES void inv_u16(Plane<const uint16_t> ll, Plane<const int32_t> lh,
                        Plane<const int32_t> hl, Plane<const int32_t> hh, Plane<uint16_t> dst) {
  inv_plane_int(ll, lh, hl, hh, dst);
}

VPF_INLINE void inv_block_float(float l, float vlh, float vhl, float vhh, float& a, float& b,
                                float& c, float& d) {
  const float sB = l - vlh * 0.5f;
  const float sT = vlh + sB;
  const float dB = vhl - vhh * 0.5f;
  const float dT = vhh + dB;
  b = sT - dT * 0.5f;
  a = dT + b;
  d = sB - dB * 0.5f;
  c = dB + d;
}

VPF_CLONES void inv_f32(Plane<const float> ll, Plane<const float> lh, Plane<const float> hl,
                        Plane<const float> hh, Plane<float> dst) {
  const int rows = (dst.height + 1) / 2, pairs = dst.width / 2;
  const bool odd = dst.width & 1;
  for (int y = 0; y < rows; ++y) {
    const float* VPF_RESTRICT l = ll.row(y);
    const float* VPF_RESTRICT p = lh.row(y);
    const float* VPF_RESTRICT q = hl.row(y);
    const float* VPF_RESTRICT r = hh.row(y);
    float* VPF_RESTRICT d0 = dst.row(2 * y);
    float* VPF_RESTRICT d1 = 2 * y + 1 < dst.height ? dst.row(2 * y + 1) : nullptr;
    if (d1) {
      for (int x = 0; x < pairs; ++x) {
        float a, b, c, d;
        inv_block_float(l[x], p[x], q[x], r[x], a, b, c, d);
        d0[2 * x] = a;
        d0[2 * x + 1] = b;
        d1[2 * x] = c;
        d1[2 * x + 1] = d;
      }
    } else {
      for (int x = 0; x < pairs; ++x) {
        float a, b, c, d;
        inv_block_float(l[x], p[x], q[x], r[x], a, b, c, d);
        d0[2 * x] = a;
        d0[2 * x + 1] = b;
      }
    }
    if (odd) {
      float a, b, c, d;
      inv_block_float(l[pairs], p[pairs], q[pairs], r[pairs], a, b, c, d);
      d0[2 * pairs] = a;
      if (d1) d1[2 * pairs] = c;
    }
  }
}

template <class T>
bool empty(const Plane<T>& p) {
  return p.width <= 0 || p.height <= 0;
}

}  // namespace

void haar_fwd(Plane<const uint8_t> src, Plane<uint8_t> ll, Plane<int16_t> lh, Plane<int16_t> hl,
              Plane<int16_t> hh) {
  if (!empty(src)) fwd_u8(src, ll, lh, hl, hh);
}

void haar_fwd(Plane<const uint16_t> src, Plane<uint16_t> ll, Plane<int32_t> lh, Plane<int32_t> hl,
              Plane<int32_t> hh) {
  if (!empty(src)) fwd_u16(src, ll, lh, hl, hh);
}

void haar_fwd(Plane<const float> src, Plane<float> ll, Plane<float> lh, Plane<float> hl,
              Plane<float> hh) {
  if (!empty(src)) fwd_f32(src, ll, lh, hl, hh);
}

void haar_inv(Plane<const uint8_t> ll, Plane<const int16_t> lh, Plane<const int16_t> hl,
              Plane<const int16_t> hh, Plane<uint8_t> dst) {
  if (!empty(dst)) inv_u8(ll, lh, hl, hh, dst);
}

void haar_inv(Plane<const uint16_t> ll, Plane<const int32_t> lh, Plane<const int32_t> hl,
              Plane<const int32_t> hh, Plane<uint16_t> dst) {
  if (!empty(dst)) inv_u16(ll, lh, hl, hh, dst);
}

void haar_inv(Plane<const float> ll, Plane<const float> lh, Plane<const float> hl,
              Plane<const float> hh, Plane<float> dst) {
  if (!empty(dst)) inv_f32(ll, lh, hl, hh, dst);
}

}  // namespace vpf
