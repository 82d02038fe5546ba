// One level of the 2-D Haar transform (integer S-transform lifting and its float twin).
// Specification: vpfilters/kernels/_reference.py (haar_fwd / haar_inv); integers are bit-exact.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <type_traits>
#include <vector>

#include "kernels_impl.hpp"
#include "vpf_kernels.hpp"

namespace vpf {
namespace {

// Vector bodies use GCC/Clang vector extensions: one portable source that the compiler lowers
// per ISA clone (on x86-64 with GCC: AVX2 and the SSE2 baseline, picked at load time; NEON on
// arm64). They read two pixels of a row as one wider lane (low byte first), so they need a
// little-endian target; elsewhere the scalar loops below do all the work.
#if (defined(__GNUC__) || defined(__clang__)) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define VPF_HAAR_VEC 1
#if defined(__GNUC__) && !defined(__clang__)
// 32-byte vectors only live in always-inline helpers, never in a real call: the note that
// passing them without AVX changes the ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
typedef uint8_t u8x16 __attribute__((vector_size(16)));
typedef uint16_t u16x8 __attribute__((vector_size(16)));
typedef uint16_t u16x16 __attribute__((vector_size(32)));
typedef int16_t i16x16 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

template <class V>
VPF_INLINE V vload(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
VPF_INLINE void vstore(void* p, const V& v) {
  std::memcpy(p, &v, sizeof v);
}
// Arithmetic shift right by one on unsigned lanes (the lifting's floor(v / 2)); all other
// arithmetic runs on unsigned lanes, so wrap-around is defined.
template <class S, class V>
VPF_INLINE V sra1_as(const V& v) {
  return reinterpret_cast<V>(reinterpret_cast<S>(v) >> 1);
}
template <class V>
VPF_INLINE V sra1(const V& v) {
  if constexpr (std::is_same_v<V, u16x16>)
    return sra1_as<i16x16>(v);
  else
    return sra1_as<i32x8>(v);
}
#else
#define VPF_HAAR_VEC 0
#endif

// ------------------------------------------------------------------------------------ forward

// One band row from source rows r0 (2y) and r1 (2y+1, or 2y again on the last row of an odd
// height), blocks [x0, pairs); an odd width adds one block whose right column repeats.
// Integer lifting in `Wt` (int16 is exact for uint8 input, int32 for uint16).
template <class T, class D, class Wt>
VPF_INLINE void fwd_row_int(const T* VPF_RESTRICT r0, const T* VPF_RESTRICT r1, T* VPF_RESTRICT ll,
                            D* VPF_RESTRICT lh, D* VPF_RESTRICT hl, D* VPF_RESTRICT hh, int x0,
                            int pairs, bool odd) {
  for (int x = x0; x < pairs; ++x) {
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

#if VPF_HAAR_VEC
// 16 uint8 blocks: 32 bytes of each source row. The LL values stay within 0..255 (each lifting
// average lies between its operands), so narrowing them is exact.
VPF_INLINE void fwd16_u8(const uint8_t* r0, const uint8_t* r1, uint8_t* ll, int16_t* lh,
                         int16_t* hl, int16_t* hh) {
  const u16x16 t = vload<u16x16>(r0), u = vload<u16x16>(r1);
  const u16x16 a = t & 0xFF, b = t >> 8, c = u & 0xFF, d = u >> 8;
  const u16x16 dT = a - b, dB = c - d;
  const u16x16 sT = b + sra1(dT), sB = d + sra1(dB);
  const u16x16 vlh = sT - sB, vhh = dT - dB;
  vstore(ll, __builtin_convertvector(sB + sra1(vlh), u8x16));
  vstore(lh, vlh);
  vstore(hl, dB + sra1(vhh));
  vstore(hh, vhh);
}

// 8 uint16 blocks: 32 bytes of each source row.
VPF_INLINE void fwd8_u16(const uint16_t* r0, const uint16_t* r1, uint16_t* ll, int32_t* lh,
                         int32_t* hl, int32_t* hh) {
  const u32x8 t = vload<u32x8>(r0), u = vload<u32x8>(r1);
  const u32x8 a = t & 0xFFFF, b = t >> 16, c = u & 0xFFFF, d = u >> 16;
  const u32x8 dT = a - b, dB = c - d;
  const u32x8 sT = b + sra1(dT), sB = d + sra1(dB);
  const u32x8 vlh = sT - sB, vhh = dT - dB;
  vstore(ll, __builtin_convertvector(sB + sra1(vlh), u16x8));
  vstore(lh, vlh);
  vstore(hl, dB + sra1(vhh));
  vstore(hh, vhh);
}
#endif

// The source of a forward pass is read once. It is fetched a few rows ahead with a
// non-temporal hint, so that a frame larger than the cache streams through without evicting
// the band buffers (which the inverse reads next and the next call rewrites) from the
// last-level cache: at 3840x2160 this takes about a third off the round trip's time. For
// frames already in cache the hint changes nothing measurable.
constexpr std::ptrdiff_t kAheadBytes = 12 << 10;

VPF_INLINE void prefetch_nta(const void* p) {
#if defined(__GNUC__) || defined(__clang__)
  __builtin_prefetch(p, 0, 0);
#else
  (void)p;
#endif
}

// Band rows ahead whose source rows to prefetch while band row y is computed: about
// kAheadBytes of source, 1 to 64 row pairs.
template <class T>
int ahead_rows(const Plane<const T>& src) {
  const std::ptrdiff_t pair = 2 * (src.stride < 0 ? -src.stride : src.stride) *
                              static_cast<std::ptrdiff_t>(sizeof(T));
  if (pair <= 0) return 1;
  return static_cast<int>(std::min<std::ptrdiff_t>(64, (kAheadBytes + pair - 1) / pair));
}

// The two source rows of band row y (the last row repeats on an odd height).
template <class T>
VPF_INLINE const T* src_row(const Plane<const T>& src, int y, int k) {
  return src.row(std::min(2 * y + k, src.height - 1));
}

// Band rows [y0, y1).
template <class T, class D, class Wt>
VPF_INLINE void fwd_rows_int(const Plane<const T>& src, const Plane<T>& ll, const Plane<D>& lh,
                             const Plane<D>& hl, const Plane<D>& hh, int y0, int y1) {
  const int rows = (src.height + 1) / 2, pairs = src.width / 2;
  const bool odd = src.width & 1;
  const int ahead = ahead_rows(src);
  for (int y = y0; y < y1; ++y) {
    const T* r0 = src_row(src, y, 0);
    const T* r1 = src_row(src, y, 1);
    T* l = ll.row(y);
    D *p = lh.row(y), *q = hl.row(y), *r = hh.row(y);
    int x = 0;
#if VPF_HAAR_VEC
    // Rows to prefetch (this pair again near the bottom, where that is a cheap hit).
    const T* a0 = y + ahead < rows ? src_row(src, y + ahead, 0) : r0;
    const T* a1 = y + ahead < rows ? src_row(src, y + ahead, 1) : r1;
    // One vector holds 32 bytes of each source row: 16 uint8 or 8 uint16 blocks. Two vectors
    // per step, one prefetch per 64-byte line and row.
    constexpr int kVec = 16 / sizeof(T);
    for (; x + 2 * kVec <= pairs; x += 2 * kVec) {
      prefetch_nta(a0 + 2 * x);
      prefetch_nta(a1 + 2 * x);
      for (int k = 0; k < 2 * kVec; k += kVec) {
        const int xx = x + k;
        if constexpr (sizeof(T) == 1)
          fwd16_u8(r0 + 2 * xx, r1 + 2 * xx, l + xx, p + xx, q + xx, r + xx);
        else
          fwd8_u16(r0 + 2 * xx, r1 + 2 * xx, l + xx, p + xx, q + xx, r + xx);
      }
    }
    for (; x + kVec <= pairs; x += kVec) {
      if constexpr (sizeof(T) == 1)
        fwd16_u8(r0 + 2 * x, r1 + 2 * x, l + x, p + x, q + x, r + x);
      else
        fwd8_u16(r0 + 2 * x, r1 + 2 * x, l + x, p + x, q + x, r + x);
    }
#endif
    fwd_row_int<T, D, Wt>(r0, r1, l, p, q, r, x, pairs, odd);
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
                              const float* a0, const float* a1, float* VPF_RESTRICT ll,
                              float* VPF_RESTRICT lh, float* VPF_RESTRICT hl,
                              float* VPF_RESTRICT hh, int pairs, bool odd) {
  for (int xb = 0; xb < pairs; xb += 8) {  // 8 blocks: one 64-byte line of each source row
    prefetch_nta(a0 + 2 * xb);
    prefetch_nta(a1 + 2 * xb);
    const int xe = std::min(pairs, xb + 8);
    for (int x = xb; x < xe; ++x)
      fwd_block_float(r0[2 * x], r0[2 * x + 1], r1[2 * x], r1[2 * x + 1], ll[x], lh[x], hl[x],
                      hh[x]);
  }
  if (odd) {
    const int x = pairs;
    fwd_block_float(r0[2 * x], r0[2 * x], r1[2 * x], r1[2 * x], ll[x], lh[x], hl[x], hh[x]);
  }
}

VPF_CLONES void fwd_u8(Plane<const uint8_t> src, Plane<uint8_t> ll, Plane<int16_t> lh,
                       Plane<int16_t> hl, Plane<int16_t> hh, int y0, int y1) {
  fwd_rows_int<uint8_t, int16_t, int16_t>(src, ll, lh, hl, hh, y0, y1);
}

VPF_CLONES void fwd_u16(Plane<const uint16_t> src, Plane<uint16_t> ll, Plane<int32_t> lh,
                        Plane<int32_t> hl, Plane<int32_t> hh, int y0, int y1) {
  fwd_rows_int<uint16_t, int32_t, int32_t>(src, ll, lh, hl, hh, y0, y1);
}

VPF_CLONES void fwd_f32(Plane<const float> src, Plane<float> ll, Plane<float> lh, Plane<float> hl,
                        Plane<float> hh, int y0, int y1) {
  const int rows = (src.height + 1) / 2, pairs = src.width / 2;
  const bool odd = src.width & 1;
  const int ahead = ahead_rows(src);
  for (int y = y0; y < y1; ++y) {
    const float* r0 = src_row(src, y, 0);
    const float* r1 = src_row(src, y, 1);
    const float* a0 = y + ahead < rows ? src_row(src, y + ahead, 0) : r0;
    const float* a1 = y + ahead < rows ? src_row(src, y + ahead, 1) : r1;
    fwd_row_float(r0, r1, a0, a1, ll.row(y), lh.row(y), hl.row(y), hh.row(y), pairs, odd);
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

// One band row, blocks [x0, ...) -> destination rows d0 (2y) and d1 (2y+1, nullptr past an odd
// height). Full pairs are written for blocks below `pairs`; an odd width writes only the left
// column of the last block. `Wt` must hold every intermediate (see InvTypes).
template <class T, class D, class Wt>
VPF_INLINE void inv_row_int(const T* VPF_RESTRICT l, const D* VPF_RESTRICT lh,
                            const D* VPF_RESTRICT hl, const D* VPF_RESTRICT hh, T* VPF_RESTRICT d0,
                            T* VPF_RESTRICT d1, int x0, int pairs, bool odd) {
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
    for (int x = x0; x < pairs; ++x) {
      Wt a, b, c, d;
      block(x, a, b, c, d);
      d0[2 * x] = static_cast<T>(a);
      d0[2 * x + 1] = static_cast<T>(b);
      d1[2 * x] = static_cast<T>(c);
      d1[2 * x + 1] = static_cast<T>(d);
    }
  } else {
    for (int x = x0; x < pairs; ++x) {
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

#if VPF_HAAR_VEC
// The vector inverse works modulo the lane width (16 bits for uint8 output, 32 for uint16).
// That is exact for any detail values: each step is an add, a subtract or a floor halving, a
// halving keeps one bit fewer of the true value's low bits, and no path has more than two, so
// the low 14 (30) bits of every output are those of the reference's int64 result, whose low 8
// (16) bits are what it stores.
VPF_INLINE void inv_lift(const u16x16& vl, const u16x16& p, const u16x16& q, const u16x16& r,
                         u16x16& a, u16x16& b, u16x16& c, u16x16& d) {
  const u16x16 sB = vl - sra1(p), sT = p + sB;
  const u16x16 dB = q - sra1(r), dT = r + dB;
  b = sT - sra1(dT);
  a = dT + b;
  d = sB - sra1(dB);
  c = dB + d;
}
VPF_INLINE void inv_lift(const u32x8& vl, const u32x8& p, const u32x8& q, const u32x8& r,
                         u32x8& a, u32x8& b, u32x8& c, u32x8& d) {
  const u32x8 sB = vl - sra1(p), sT = p + sB;
  const u32x8 dB = q - sra1(r), dT = r + dB;
  b = sT - sra1(dT);
  a = dT + b;
  d = sB - sra1(dB);
  c = dB + d;
}

// 16 uint8 blocks -> 32 bytes of each destination row (of d0 only unless kTwo).
template <bool kTwo>
VPF_INLINE void inv16_u8(const uint8_t* l, const int16_t* lh, const int16_t* hl, const int16_t* hh,
                         uint8_t* d0, uint8_t* d1) {
  u16x16 a, b, c, d;
  inv_lift(__builtin_convertvector(vload<u8x16>(l), u16x16), vload<u16x16>(lh), vload<u16x16>(hl),
           vload<u16x16>(hh), a, b, c, d);
  vstore(d0, (a & 0xFF) | (b << 8));
  if (kTwo) vstore(d1, (c & 0xFF) | (d << 8));
}

// 8 uint16 blocks -> 32 bytes of each destination row.
template <bool kTwo>
VPF_INLINE void inv8_u16(const uint16_t* l, const int32_t* lh, const int32_t* hl, const int32_t* hh,
                         uint16_t* d0, uint16_t* d1) {
  u32x8 a, b, c, d;
  inv_lift(__builtin_convertvector(vload<u16x8>(l), u32x8), vload<u32x8>(lh), vload<u32x8>(hl),
           vload<u32x8>(hh), a, b, c, d);
  vstore(d0, (a & 0xFFFF) | (b << 16));
  if (kTwo) vstore(d1, (c & 0xFFFF) | (d << 16));
}
#endif

// Destination row pairs [y0, y1) (band rows).
template <class T, class D>
VPF_INLINE void inv_rows_int(const Plane<const T>& ll, const Plane<const D>& lh,
                             const Plane<const D>& hl, const Plane<const D>& hh,
                             const Plane<T>& dst, int y0, int y1) {
  using Ty = InvTypes<T>;
  const int pairs = dst.width / 2;
  const bool odd = dst.width & 1;
  for (int y = y0; y < y1; ++y) {
    const T* l = ll.row(y);
    const D *p = lh.row(y), *q = hl.row(y), *r = hh.row(y);
    T* d0 = dst.row(2 * y);
    T* d1 = 2 * y + 1 < dst.height ? dst.row(2 * y + 1) : nullptr;
#if VPF_HAAR_VEC
    constexpr int kStep = 32 / (2 * sizeof(T));  // blocks per vector
    int x = 0;
    T* e1 = d1 ? d1 : d0;  // never written through when d1 is absent
    auto step = [&](auto two) {
      for (; x + kStep <= pairs; x += kStep) {
        if constexpr (sizeof(T) == 1)
          inv16_u8<decltype(two)::value>(l + x, p + x, q + x, r + x, d0 + 2 * x, e1 + 2 * x);
        else
          inv8_u16<decltype(two)::value>(l + x, p + x, q + x, r + x, d0 + 2 * x, e1 + 2 * x);
      }
    };
    if (d1)
      step(std::true_type{});
    else
      step(std::false_type{});
    // The rest (under one vector of blocks, and an odd column) in the always-exact wide type.
    inv_row_int<T, D, typename Ty::Wide>(l, p, q, r, d0, d1, x, pairs, odd);
#else
    const int n = (dst.width + 1) / 2;
    if (max_abs3(p, q, r, n) <= Ty::kNarrowMax)
      inv_row_int<T, D, typename Ty::Narrow>(l, p, q, r, d0, d1, 0, pairs, odd);
    else
      inv_row_int<T, D, typename Ty::Wide>(l, p, q, r, d0, d1, 0, pairs, odd);
#endif
  }
}

VPF_CLONES void inv_u8(Plane<const uint8_t> ll, Plane<const int16_t> lh, Plane<const int16_t> hl,
                       Plane<const int16_t> hh, Plane<uint8_t> dst, int y0, int y1) {
  inv_rows_int(ll, lh, hl, hh, dst, y0, y1);
}

VPF_CLONES void inv_u16(Plane<const uint16_t> ll, Plane<const int32_t> lh,
                        Plane<const int32_t> hl, Plane<const int32_t> hh, Plane<uint16_t> dst,
                        int y0, int y1) {
  inv_rows_int(ll, lh, hl, hh, dst, y0, y1);
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
                        Plane<const float> hh, Plane<float> dst, int y0, int y1) {
  const int pairs = dst.width / 2;
  const bool odd = dst.width & 1;
  for (int y = y0; y < y1; ++y) {
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

// Threads pay only where each has enough of the frame to make up for starting it (tens of
// microseconds): at least kBytesPerThread of full-resolution plane per thread.
constexpr int64_t kBytesPerThread = int64_t{1} << 20;
// Each thread owns a contiguous range of band rows and works through it in units of
// kRowsPerUnit rows taken from a shared counter; a thread done with its own range goes on with
// the units left in the others. So a helper that the OS is slow to schedule (a busy machine)
// costs little: the threads that run take its rows.
constexpr int kRowsPerUnit = 16;

struct alignas(64) RowRange {
  std::atomic<int> next;
  int end;
};

// Runs kernel(y0, y1) over the band rows of a full-resolution plane `full` on up to `threads`
// threads (the caller being one). Each band row is computed exactly once, by one thread, the
// same way whichever it is: the split never changes a value.
template <class T, class F>
void run_rows(const Plane<T>& full, int threads, F&& kernel) {
  const int rows = (full.height + 1) / 2;
  const int64_t bytes = int64_t{full.width} * full.height * static_cast<int64_t>(sizeof(T));
  const int64_t useful = std::min<int64_t>(std::max<int64_t>(1, bytes / kBytesPerThread),
                                           (rows + kRowsPerUnit - 1) / kRowsPerUnit);
  const int t = static_cast<int>(std::min<int64_t>(std::max(1, threads), useful));
  if (t <= 1) {
    kernel(0, rows);
    return;
  }
  std::vector<RowRange> ranges(t);
  for (int k = 0; k < t; ++k) {
    ranges[k].next.store(static_cast<int>(int64_t{rows} * k / t), std::memory_order_relaxed);
    ranges[k].end = static_cast<int>(int64_t{rows} * (k + 1) / t);
  }
  auto work = [&](int k) {
    for (int j = 0; j < t; ++j) {
      RowRange& r = ranges[(k + j) % t];
      for (;;) {
        const int y0 = r.next.fetch_add(kRowsPerUnit, std::memory_order_relaxed);
        if (y0 >= r.end) break;
        kernel(y0, std::min(r.end, y0 + kRowsPerUnit));
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(t - 1);
  for (int k = 1; k < t; ++k) {
    try {
      pool.emplace_back(work, k);
    } catch (...) {
      break;  // no thread to be had: the others (the caller at least) take its rows
    }
  }
  work(0);
  for (auto& th : pool) th.join();
}

}  // namespace

void haar_fwd(Plane<const uint8_t> src, Plane<uint8_t> ll, Plane<int16_t> lh, Plane<int16_t> hl,
              Plane<int16_t> hh, int threads) {
  if (empty(src)) return;
  run_rows(src, threads, [&](int y0, int y1) { fwd_u8(src, ll, lh, hl, hh, y0, y1); });
}

void haar_fwd(Plane<const uint16_t> src, Plane<uint16_t> ll, Plane<int32_t> lh, Plane<int32_t> hl,
              Plane<int32_t> hh, int threads) {
  if (empty(src)) return;
  run_rows(src, threads, [&](int y0, int y1) { fwd_u16(src, ll, lh, hl, hh, y0, y1); });
}

void haar_fwd(Plane<const float> src, Plane<float> ll, Plane<float> lh, Plane<float> hl,
              Plane<float> hh, int threads) {
  if (empty(src)) return;
  run_rows(src, threads, [&](int y0, int y1) { fwd_f32(src, ll, lh, hl, hh, y0, y1); });
}

void haar_inv(Plane<const uint8_t> ll, Plane<const int16_t> lh, Plane<const int16_t> hl,
              Plane<const int16_t> hh, Plane<uint8_t> dst, int threads) {
  if (empty(dst)) return;
  run_rows(dst, threads, [&](int y0, int y1) { inv_u8(ll, lh, hl, hh, dst, y0, y1); });
}

void haar_inv(Plane<const uint16_t> ll, Plane<const int32_t> lh, Plane<const int32_t> hl,
              Plane<const int32_t> hh, Plane<uint16_t> dst, int threads) {
  if (empty(dst)) return;
  run_rows(dst, threads, [&](int y0, int y1) { inv_u16(ll, lh, hl, hh, dst, y0, y1); });
}

void haar_inv(Plane<const float> ll, Plane<const float> lh, Plane<const float> hl,
              Plane<const float> hh, Plane<float> dst, int threads) {
  if (empty(dst)) return;
  run_rows(dst, threads, [&](int y0, int y1) { inv_f32(ll, lh, hl, hh, dst, y0, y1); });
}

}  // namespace vpf
