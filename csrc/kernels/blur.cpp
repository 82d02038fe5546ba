// Masked privacy operations: box / Gaussian-like blur, pixelate or fill inside boxes and a soft
// mask, composited with feathered alpha. Specification: _reference.mask_apply (bit-exact for
// integer planes).
//
// The processed plane F is evaluated only on each box's region grown by the feather. A blur
// region is computed from a crop grown by passes * radius, shrinking by one radius after every
// 1-D pass, with clamping at the *plane* edges only, so the region result equals the whole-plane
// definition. All results go to private buffers first and are written to dst last, so dst may be
// src (in-place) and overlapping regions agree.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <utility>
#include <vector>

#include "kernels_impl.hpp"
#include "vpf_kernels.hpp"

namespace vpf {
namespace {

using detail::clamp64;

struct Rect {
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
  int w() const { return x1 - x0; }
  int h() const { return y1 - y0; }
  int64_t area() const { return empty() ? 0 : int64_t{w()} * h(); }
  bool empty() const { return x1 <= x0 || y1 <= y0; }
};

Rect grown(const Rect& r, int64_t mx, int64_t my, int W, int H) {
  Rect o;
  o.x0 = static_cast<int>(clamp64(int64_t{r.x0} - mx, 0, W));
  o.x1 = static_cast<int>(clamp64(int64_t{r.x1} + mx, 0, W));
  o.y0 = static_cast<int>(clamp64(int64_t{r.y0} - my, 0, H));
  o.y1 = static_cast<int>(clamp64(int64_t{r.y1} + my, 0, H));
  return o;
}

Rect united(const Rect& a, const Rect& b) {
  return {std::min(a.x0, b.x0), std::min(a.y0, b.y0), std::max(a.x1, b.x1), std::max(a.y1, b.y1)};
}

// Read-only view addressed in plane coordinates: at(x, y) for (x, y) inside the view's rect.
template <class T>
struct View {
  const T* base;
  std::ptrdiff_t stride;
  int x0, y0;
  const T* at(int x, int y) const {
    return base + static_cast<std::ptrdiff_t>(y - y0) * stride + (x - x0);
  }
};

template <class T>
struct PixelTraits;
template <>
struct PixelTraits<uint8_t> {
  static constexpr bool kInteger = true;
  static constexpr int64_t kMax = 255;
};
template <>
struct PixelTraits<uint16_t> {
  static constexpr bool kInteger = true;
  static constexpr int64_t kMax = 65535;
};
template <>
struct PixelTraits<float> {
  static constexpr bool kInteger = false;
  static constexpr int64_t kMax = 0;
};

// Rounded mean (s + k/2) / k for 0 <= s + k/2 < 2^30: a float quotient corrected by one step
// (its error is far below one), so the loops vectorise without integer division.
struct DivNarrow {
  using Sum = int32_t;
  int32_t k, half;
  float inv;
  explicit DivNarrow(int64_t kk)
      : k(static_cast<int32_t>(kk)), half(static_cast<int32_t>(kk / 2)),
        inv(static_cast<float>(1.0 / static_cast<double>(kk))) {}
  VPF_INLINE int32_t operator()(int32_t s) const {
    const int32_t n = s + half;
    int32_t q = static_cast<int32_t>(static_cast<float>(n) * inv);
    const int32_t t = n - q * k;
    q += static_cast<int32_t>(t >= k);
    q -= static_cast<int32_t>(t < 0);
    return q;
  }
};

struct DivWide {
  using Sum = int64_t;
  int64_t k, half;
  explicit DivWide(int64_t kk) : k(kk), half(kk / 2) {}
  VPF_INLINE int64_t operator()(int64_t s) const { return (s + half) / k; }
};

struct DivFloat {
  using Sum = double;
  double k;
  explicit DivFloat(int64_t kk) : k(static_cast<double>(kk)) {}
  VPF_INLINE float operator()(double s) const { return static_cast<float>(s / k); }
};

// Horizontal box pass of radius r: out (rect o) from `in`, window clamped to [0, W-1]; every
// clamped index lies inside the input's valid rect (see the file comment).
template <class T, class Div>
VPF_INLINE void hpass(const View<T>& in, int W, int64_t r, const Rect& o, T* VPF_RESTRICT out,
                      const Div& div, std::vector<typename Div::Sum>& prefix) {
  using S = typename Div::Sum;
  const int lo = static_cast<int>(clamp64(o.x0 - r, 0, W - 1));
  const int hi = static_cast<int>(clamp64(o.x1 - 1 + r, 0, W - 1));
  const int n = hi - lo + 1;
  prefix.resize(static_cast<size_t>(n) + 1);
  S* VPF_RESTRICT P = prefix.data();
  // Output columns whose window needs no clamping: [ia, ib).
  const int ia = static_cast<int>(clamp64(r, o.x0, o.x1));
  const int ib = std::max(ia, static_cast<int>(clamp64(int64_t{W} - r, o.x0, o.x1)));
  const int ow = o.w();
  for (int y = o.y0; y < o.y1; ++y) {
    const T* VPF_RESTRICT src = in.at(lo, y);
    S acc = 0;
    P[0] = 0;
    for (int i = 0; i < n; ++i) {
      acc += static_cast<S>(src[i]);
      P[i + 1] = acc;
    }
    T* VPF_RESTRICT dst = out + static_cast<std::ptrdiff_t>(y - o.y0) * ow;
    // A clamped window: the part inside the plane plus the edge pixel times the overhang
    // (an overhang on the left implies lo == 0, on the right hi == W - 1).
    auto edge = [&](int x) {
      const int64_t a = x - r, b = x + r;
      S s = P[clamp64(b, 0, W - 1) + 1 - lo] - P[clamp64(a, 0, W - 1) - lo];
      if (a < 0) s += static_cast<S>(-a) * static_cast<S>(src[0]);
      if (b > W - 1) s += static_cast<S>(b - (W - 1)) * static_cast<S>(src[n - 1]);
      dst[x - o.x0] = static_cast<T>(div(s));
    };
    for (int x = o.x0; x < ia; ++x) edge(x);
    if (ib > ia) {  // interior columns exist only when r < W
      const S* VPF_RESTRICT Ph = P + (ia + r + 1 - lo);
      const S* VPF_RESTRICT Pl = P + (ia - r - lo);
      T* VPF_RESTRICT d = dst + (ia - o.x0);
      const int m = ib - ia;
      for (int i = 0; i < m; ++i) d[i] = static_cast<T>(div(Ph[i] - Pl[i]));
    }
    for (int x = ib; x < o.x1; ++x) edge(x);
  }
}

// Vertical box pass of radius r with running column sums, window clamped to [0, H-1].
template <class T, class Div>
VPF_INLINE void vpass(const View<T>& in, int H, int64_t r, const Rect& o, T* VPF_RESTRICT out,
                      const Div& div, std::vector<typename Div::Sum>& sums) {
  using S = typename Div::Sum;
  const int ow = o.w();
  sums.assign(static_cast<size_t>(ow), S(0));
  S* VPF_RESTRICT acc = sums.data();
  const int64_t a = o.y0 - r, b = o.y0 + r;
  if (a < 0) {
    const S cnt = static_cast<S>(-a);
    const T* VPF_RESTRICT row = in.at(o.x0, 0);
    for (int x = 0; x < ow; ++x) acc[x] += cnt * static_cast<S>(row[x]);
  }
  const int m0 = static_cast<int>(clamp64(a, 0, H - 1)), m1 = static_cast<int>(clamp64(b, 0, H - 1));
  for (int yy = m0; yy <= m1; ++yy) {
    const T* VPF_RESTRICT row = in.at(o.x0, yy);
    for (int x = 0; x < ow; ++x) acc[x] += static_cast<S>(row[x]);
  }
  if (b > H - 1) {
    const S cnt = static_cast<S>(b - (H - 1));
    const T* VPF_RESTRICT row = in.at(o.x0, H - 1);
    for (int x = 0; x < ow; ++x) acc[x] += cnt * static_cast<S>(row[x]);
  }
  for (int y = o.y0; y < o.y1; ++y) {
    T* VPF_RESTRICT dst = out + static_cast<std::ptrdiff_t>(y - o.y0) * ow;
    for (int x = 0; x < ow; ++x) dst[x] = static_cast<T>(div(acc[x]));
    if (y + 1 < o.y1) {
      const T* VPF_RESTRICT add = in.at(o.x0, static_cast<int>(clamp64(y + 1 + r, 0, H - 1)));
      const T* VPF_RESTRICT sub = in.at(o.x0, static_cast<int>(clamp64(y - r, 0, H - 1)));
      for (int x = 0; x < ow; ++x) acc[x] += static_cast<S>(add[x]) - static_cast<S>(sub[x]);
    }
  }
}

// Per-task scratch buffers (one task runs on one thread).
template <class T, class S>
struct Scratch {
  std::vector<T> a, b;
  std::vector<S> sums;
};

// F = `passes` x (horizontal, vertical) box passes of radius r, on rect o, into `out`.
template <class T, class Div>
VPF_INLINE void blur_region(const Plane<const T>& src, int64_t r, int passes, const Rect& o,
                            std::vector<T>& out, const Div& div,
                            Scratch<T, typename Div::Sum>& sc) {
  const int W = src.width, H = src.height;
  View<T> cur{src.data, src.stride, 0, 0};
  for (int j = 1; j <= passes; ++j) {
    // H pass j: columns still needed by later passes, rows needed by the V pass that follows.
    const Rect hr = grown(o, int64_t{passes - j} * r, int64_t{passes - j + 1} * r, W, H);
    sc.a.resize(static_cast<size_t>(hr.area()));
    hpass(cur, W, r, hr, sc.a.data(), div, sc.sums);
    cur = View<T>{sc.a.data(), hr.w(), hr.x0, hr.y0};
    Rect vr = hr;
    const Rect gy = grown(o, 0, int64_t{passes - j} * r, W, H);
    vr.y0 = gy.y0;
    vr.y1 = gy.y1;
    std::vector<T>& dstbuf = (j == passes) ? out : sc.b;
    dstbuf.resize(static_cast<size_t>(vr.area()));
    vpass(cur, H, r, vr, dstbuf.data(), div, sc.sums);
    cur = View<T>{dstbuf.data(), vr.w(), vr.x0, vr.y0};  // next H pass writes sc.a
  }
}

// Mosaic of block size b on a grid anchored at (0, 0), partial blocks at the plane edges.
template <class T>
VPF_INLINE void pixelate_region(const Plane<const T>& src, int64_t b, const Rect& o,
                                std::vector<T>& out, std::vector<double>& dsum,
                                std::vector<int64_t>& isum) {
  constexpr bool kInt = PixelTraits<T>::kInteger;
  const int W = src.width, H = src.height, ow = o.w();
  out.resize(static_cast<size_t>(o.area()));
  const int64_t bx0 = o.x0 / b, bx1 = (o.x1 - 1) / b;
  const int64_t by0 = o.y0 / b, by1 = (o.y1 - 1) / b;
  const int cx0 = static_cast<int>(bx0 * b);
  const int cx1 = static_cast<int>(std::min<int64_t>(W, (bx1 + 1) * b));
  const int cw = cx1 - cx0;
  for (int64_t by = by0; by <= by1; ++by) {
    const int ry0 = static_cast<int>(by * b);
    const int ry1 = static_cast<int>(std::min<int64_t>(H, ry0 + b));
    if (kInt) {
      isum.assign(static_cast<size_t>(cw), 0);
      int64_t* VPF_RESTRICT cs = isum.data();
      for (int y = ry0; y < ry1; ++y) {
        const T* VPF_RESTRICT row = src.row(y) + cx0;
        for (int x = 0; x < cw; ++x) cs[x] += static_cast<int64_t>(row[x]);
      }
    } else {
      dsum.assign(static_cast<size_t>(cw), 0.0);
      double* VPF_RESTRICT cs = dsum.data();
      for (int y = ry0; y < ry1; ++y) {
        const T* VPF_RESTRICT row = src.row(y) + cx0;
        for (int x = 0; x < cw; ++x) cs[x] += static_cast<double>(row[x]);
      }
    }
    const int fy0 = std::max(o.y0, ry0), fy1 = std::min(o.y1, ry1);
    for (int64_t bx = bx0; bx <= bx1; ++bx) {
      const int c0 = static_cast<int>(bx * b), c1 = static_cast<int>(std::min<int64_t>(W, c0 + b));
      const int64_t cnt = int64_t{c1 - c0} * (ry1 - ry0);
      T mean;
      if (kInt) {
        int64_t s = 0;
        for (int x = c0; x < c1; ++x) s += isum[x - cx0];
        mean = static_cast<T>((s + cnt / 2) / cnt);
      } else {
        double s = 0;
        for (int x = c0; x < c1; ++x) s += dsum[x - cx0];
        mean = static_cast<T>(s / static_cast<double>(cnt));
      }
      const int f0 = std::max(o.x0, c0), f1 = std::min(o.x1, c1);
      for (int y = fy0; y < fy1; ++y) {
        T* row = out.data() + static_cast<std::ptrdiff_t>(y - o.y0) * ow;
        std::fill(row + (f0 - o.x0), row + (f1 - o.x0), mean);
      }
    }
  }
}

// Feather weight 0..256 at distance d >= 0 outside a box with feather f (_reference.ramp).
VPF_INLINE int32_t ramp(int64_t d, int64_t f) {
  if (d == 0) return 256;
  if (d > f) return 0;
  return static_cast<int32_t>((256 * (f + 1 - d)) / (f + 1));
}

// Alpha of row y over columns [x0, x1): max over boxes of min(ramp(dx), ramp(dy)), and the mask.
VPF_INLINE void alpha_row(int y, int x0, int x1, const Box* boxes, int nboxes, int64_t fx,
                          int64_t fy, const uint8_t* VPF_RESTRICT mrow,
                          int32_t* VPF_RESTRICT alpha) {
  const int n = x1 - x0;
  for (int i = 0; i < n; ++i) alpha[i] = 0;
  for (int k = 0; k < nboxes; ++k) {
    const Box& b = boxes[k];
    if (b.x1 <= b.x0 || b.y1 <= b.y0) continue;
    const int64_t dy = std::max<int64_t>({int64_t{b.y0} - y, int64_t{y} - (int64_t{b.y1} - 1), 0});
    if (dy > fy) continue;
    const int32_t wy = ramp(dy, fy);
    // Left feather, core, right feather.
    const int64_t l0 = std::max<int64_t>(x0, b.x0 - fx), l1 = std::min<int64_t>(x1, b.x0);
    for (int64_t x = l0; x < l1; ++x) {
      const int32_t v = std::min(wy, ramp(b.x0 - x, fx));
      alpha[x - x0] = std::max(alpha[x - x0], v);
    }
    const int c0 = std::max(x0, b.x0), c1 = std::min(x1, b.x1);
    for (int x = c0; x < c1; ++x) alpha[x - x0] = std::max(alpha[x - x0], wy);
    const int64_t r0 = std::max<int64_t>(x0, b.x1), r1 = std::min<int64_t>(x1, b.x1 + fx);
    for (int64_t x = r0; x < r1; ++x) {
      const int32_t v = std::min(wy, ramp(x - (int64_t{b.x1} - 1), fx));
      alpha[x - x0] = std::max(alpha[x - x0], v);
    }
  }
  if (mrow) {
    for (int i = 0; i < n; ++i) {
      const int32_t m = mrow[i];
      alpha[i] = std::max(alpha[i], m + (m >> 7));
    }
  }
}

// out = (src * (256 - a) + F * a + 128) >> 8, with F already in `io` (overwritten by out).
template <class T>
VPF_INLINE void composite_row(const T* VPF_RESTRICT s, T* VPF_RESTRICT io,
                              const int32_t* VPF_RESTRICT alpha, int n) {
  if constexpr (PixelTraits<T>::kInteger) {
    for (int i = 0; i < n; ++i) {
      const int32_t a = alpha[i];
      io[i] = static_cast<T>((static_cast<int32_t>(s[i]) * (256 - a) +
                              static_cast<int32_t>(io[i]) * a + 128) >> 8);
    }
  } else {
    for (int i = 0; i < n; ++i) {
      const float w = static_cast<float>(alpha[i]) * (1.0f / 256.0f);
      io[i] = s[i] + (io[i] - s[i]) * w;
    }
  }
}

template <class T>
struct Job {
  Plane<const T> src;
  const Box* boxes;
  int nboxes;
  Plane<const uint8_t> mask;  // data == nullptr: none
  MaskParams p;
  int64_t r;        // blur radius (param), >= 0
  int passes;       // blur passes actually run (0: F is src)
  T fill;
};

struct Task {
  Rect rect;      // output rows/columns of this task
  int64_t cost;   // work estimate (crop area)
};

template <class T, class Div>
VPF_INLINE void run_task(const Job<T>& job, const Rect& o, std::vector<T>& out, const Div& div) {
  Scratch<T, typename Div::Sum> sc;
  const MaskMode mode = job.p.mode;
  if ((mode == MaskMode::Box || mode == MaskMode::Gaussian) && job.passes > 0) {
    blur_region(job.src, job.r, job.passes, o, out, div, sc);
  } else if (mode == MaskMode::Pixelate) {
    std::vector<double> dsum;
    std::vector<int64_t> isum;
    pixelate_region(job.src, std::max<int64_t>(1, job.p.param), o, out, dsum, isum);
  } else if (mode == MaskMode::Fill) {
    out.assign(static_cast<size_t>(o.area()), job.fill);
  } else {  // no blur at all: F is the source
    out.resize(static_cast<size_t>(o.area()));
    for (int y = o.y0; y < o.y1; ++y)
      std::memcpy(out.data() + static_cast<std::ptrdiff_t>(y - o.y0) * o.w(), job.src.row(y) + o.x0,
                  sizeof(T) * o.w());
  }
  std::vector<int32_t> alpha(static_cast<size_t>(o.w()));
  for (int y = o.y0; y < o.y1; ++y) {
    const uint8_t* mrow = job.mask.data ? job.mask.row(y) + o.x0 : nullptr;
    alpha_row(y, o.x0, o.x1, job.boxes, job.nboxes, job.p.fx, job.p.fy, mrow, alpha.data());
    composite_row(job.src.row(y) + o.x0, out.data() + static_cast<std::ptrdiff_t>(y - o.y0) * o.w(),
                  alpha.data(), o.w());
  }
}

// Bit-exact integer sums need int64 when a window or a row prefix could pass 2^30.
template <class T>
bool narrow_sums(int64_t r, int W) {
  const int64_t k = 2 * r + 1;
  return PixelTraits<T>::kMax * (std::max<int64_t>(k, int64_t{W} + 1) + 1) + k < (int64_t{1} << 30);
}

VPF_CLONES void task_u8(const Job<uint8_t>& job, const Rect& o, std::vector<uint8_t>& out) {
  const int64_t k = 2 * job.r + 1;
  if (narrow_sums<uint8_t>(job.r, job.src.width))
    run_task(job, o, out, DivNarrow(k));
  else
    run_task(job, o, out, DivWide(k));
}

VPF_CLONES void task_u16(const Job<uint16_t>& job, const Rect& o, std::vector<uint16_t>& out) {
  const int64_t k = 2 * job.r + 1;
  if (narrow_sums<uint16_t>(job.r, job.src.width))
    run_task(job, o, out, DivNarrow(k));
  else
    run_task(job, o, out, DivWide(k));
}

VPF_CLONES void task_f32(const Job<float>& job, const Rect& o, std::vector<float>& out) {
  run_task(job, o, out, DivFloat(2 * job.r + 1));
}

void run_task_any(const Job<uint8_t>& j, const Rect& o, std::vector<uint8_t>& out) { task_u8(j, o, out); }
void run_task_any(const Job<uint16_t>& j, const Rect& o, std::vector<uint16_t>& out) { task_u16(j, o, out); }
void run_task_any(const Job<float>& j, const Rect& o, std::vector<float>& out) { task_f32(j, o, out); }

VPF_CLONES bool row_any(const uint8_t* VPF_RESTRICT p, int n) {
  uint8_t acc = 0;
  for (int i = 0; i < n; ++i) acc |= p[i];
  return acc != 0;
}

// Bounding rect of the mask's non-zero pixels (empty when there are none).
Rect mask_bounds(const Plane<const uint8_t>& m) {
  Rect r{m.width, m.height, 0, 0};
  for (int y = 0; y < m.height; ++y) {
    const uint8_t* row = m.row(y);
    if (!row_any(row, m.width)) continue;
    int a = 0, b = m.width - 1;
    while (row[a] == 0) ++a;
    while (row[b] == 0) --b;
    r.x0 = std::min(r.x0, a);
    r.x1 = std::max(r.x1, b + 1);
    r.y0 = std::min(r.y0, y);
    r.y1 = y + 1;
  }
  return r;
}

template <class T>
bool same_plane(const Plane<const T>& a, const Plane<T>& b) {
  return a.data == b.data && (a.stride == b.stride || a.height <= 1);
}

template <class T>
std::pair<const char*, const char*> span(const T* data, std::ptrdiff_t stride, int w, int h) {
  const char* p = reinterpret_cast<const char*>(data);
  const std::ptrdiff_t last = static_cast<std::ptrdiff_t>(h - 1) * stride * static_cast<std::ptrdiff_t>(sizeof(T));
  const char* lo = p + std::min<std::ptrdiff_t>(0, last);
  const char* hi = p + std::max<std::ptrdiff_t>(0, last) + static_cast<std::ptrdiff_t>(w) * sizeof(T);
  return {lo, hi};
}

template <class T>
void copy_plane(const Plane<const T>& src, const Plane<T>& dst, int threads) {
  const int w = src.width;
  detail::parallel_rows(src.height, (int64_t{w} * src.height * sizeof(T) >= (1 << 22)) ? threads : 1,
                        [&](int b, int e) {
                          for (int y = b; y < e; ++y)
                            std::memcpy(dst.row(y), src.row(y), sizeof(T) * w);
                        });
}

template <class T>
void mask_apply_impl(Plane<const T> src, Plane<T> dst, const Box* boxes, int nboxes,
                     Plane<const uint8_t> mask, const MaskParams& p) {
  const int W = src.width, H = src.height;
  if (W <= 0 || H <= 0) return;
  const int max_threads = std::max(1, std::min(p.threads, 256));
  if (nboxes < 0 || !boxes) nboxes = 0;

  // dst overlapping src in any other way than being the same plane: work from a copy.
  std::vector<T> src_copy;
  const bool in_place = same_plane(src, dst);
  if (!in_place) {
    const auto s = span(src.data, src.stride, W, H);
    const auto d = span(dst.data, dst.stride, W, H);
    if (s.first < d.second && d.first < s.second) {
      src_copy.resize(static_cast<size_t>(W) * H);
      for (int y = 0; y < H; ++y)
        std::memcpy(src_copy.data() + static_cast<std::ptrdiff_t>(y) * W, src.row(y), sizeof(T) * W);
      src = Plane<const T>{src_copy.data(), W, W, H};
    }
  }

  Job<T> job{src, boxes, nboxes, mask, p, 0, 0, T(0)};
  job.p.fx = std::max(0, p.fx);
  job.p.fy = std::max(0, p.fy);
  const bool blur = p.mode == MaskMode::Box || p.mode == MaskMode::Gaussian;
  job.r = blur ? std::max(0, p.param) : 0;
  job.passes = (blur && job.r > 0) ? std::max(0, p.passes) : 0;
  if (p.mode == MaskMode::Fill) {
    if constexpr (PixelTraits<T>::kInteger) {
      const double v = std::isfinite(p.fill) ? std::nearbyint(p.fill) : 0.0;
      job.fill = static_cast<T>(std::clamp<double>(v, 0.0, static_cast<double>(PixelTraits<T>::kMax)));
    } else {
      job.fill = static_cast<T>(p.fill);
    }
  }

  // Regions where alpha may be > 0: grown boxes and the mask's bounding rect.
  std::vector<Rect> regions;
  for (int i = 0; i < nboxes; ++i) {
    const Box& b = boxes[i];
    if (b.x1 <= b.x0 || b.y1 <= b.y0) continue;
    const Rect g = grown(Rect{b.x0, b.y0, b.x1, b.y1}, job.p.fx, job.p.fy, W, H);
    if (!g.empty()) regions.push_back(g);
  }
  if (mask.data) {
    const Rect m = mask_bounds(mask);
    if (!m.empty()) regions.push_back(m);
  }

  // Work estimate of a region: the crop a blur reads.
  const int64_t margin = int64_t{job.passes} * job.r;
  auto cost = [&](const Rect& r) { return grown(r, margin, margin, W, H).area(); };
  // Merge regions whose union costs no more than computing both (overlapping boxes).
  if (regions.size() <= 64) {
    bool merged = true;
    while (merged) {
      merged = false;
      for (size_t i = 0; i < regions.size() && !merged; ++i)
        for (size_t j = i + 1; j < regions.size() && !merged; ++j) {
          const Rect u = united(regions[i], regions[j]);
          if (cost(u) <= cost(regions[i]) + cost(regions[j])) {
            regions[i] = u;
            regions.erase(regions.begin() + static_cast<std::ptrdiff_t>(j));
            merged = true;
          }
        }
    }
  }

  // Tasks: regions, split into row strips when threads would otherwise idle. Starting a thread
  // costs tens of microseconds: each one must get enough pixel operations to pay for it.
  std::vector<Task> tasks;
  int64_t total = 0;
  for (const Rect& r : regions) total += cost(r);
  const int64_t ops = total * (job.passes > 0 ? 2 * job.passes : 1);
  const int threads = static_cast<int>(std::clamp<int64_t>(ops / 150000, 1, max_threads));
  for (const Rect& r : regions) {
    int strips = 1;
    if (threads > 1 && total > 0) {
      const double share = static_cast<double>(cost(r)) * threads / static_cast<double>(total);
      strips = static_cast<int>(std::clamp<double>(std::round(share), 1.0, threads));
      strips = std::min(strips, std::max(1, r.h() / 8));
    }
    for (int s = 0; s < strips; ++s) {
      Rect t = r;
      t.y0 = r.y0 + static_cast<int>(int64_t{r.h()} * s / strips);
      t.y1 = r.y0 + static_cast<int>(int64_t{r.h()} * (s + 1) / strips);
      if (!t.empty()) tasks.push_back({t, cost(t)});
    }
  }
  std::vector<std::vector<T>> outs(tasks.size());

  // Longest task first onto the least loaded thread.
  const int nbins = std::max(1, std::min<int>(threads, static_cast<int>(tasks.size())));
  std::vector<std::vector<int>> bins(nbins);
  {
    std::vector<int> order(tasks.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(), [&](int a, int b) { return tasks[a].cost > tasks[b].cost; });
    std::vector<int64_t> load(nbins, 0);
    for (int i : order) {
      const int k = static_cast<int>(std::min_element(load.begin(), load.end()) - load.begin());
      bins[k].push_back(i);
      load[k] += tasks[i].cost;
    }
  }
  // Every read of src and mask happens here, before dst is touched.
  detail::parallel_chunks(nbins, nbins, [&](int k) {
    for (int i : bins[k]) run_task_any(job, tasks[i].rect, outs[i]);
  });

  if (!in_place) copy_plane(src, dst, max_threads);
  for (size_t i = 0; i < tasks.size(); ++i) {
    const Rect& o = tasks[i].rect;
    for (int y = o.y0; y < o.y1; ++y)
      std::memcpy(dst.row(y) + o.x0, outs[i].data() + static_cast<std::ptrdiff_t>(y - o.y0) * o.w(),
                  sizeof(T) * o.w());
  }
}

}  // namespace

void mask_apply(Plane<const uint8_t> src, Plane<uint8_t> dst, const Box* boxes, int nboxes,
                Plane<const uint8_t> mask, const MaskParams& p) {
  mask_apply_impl(src, dst, boxes, nboxes, mask, p);
}

void mask_apply(Plane<const uint16_t> src, Plane<uint16_t> dst, const Box* boxes, int nboxes,
                Plane<const uint8_t> mask, const MaskParams& p) {
  mask_apply_impl(src, dst, boxes, nboxes, mask, p);
}

void mask_apply(Plane<const float> src, Plane<float> dst, const Box* boxes, int nboxes,
                Plane<const uint8_t> mask, const MaskParams& p) {
  mask_apply_impl(src, dst, boxes, nboxes, mask, p);
}

}  // namespace vpf
