// Lowest 4x4 orthonormal DCT-II coefficients of b x b blocks, and the fused inverse write-back
// (see _reference.block_lowdct / block_lowdct_apply). Only whole blocks are touched.
//
// Forward, per row of blocks: the column pass first, A_u[x] = sum_y d[u][y] * src[y][x]
// (4 multiply-adds per pixel, vectorised along the row), then per block
// c[u][v] = sum_x A_u[x] * d[v][x] (16 / b per pixel).
// Inverse, per row y: z[v] = sum_u d[u][y] * C[u][v] per block (as numpy: D^T C first), then
// change[x] = sum_v z[v] * d[v][x]; dst = clip(rint(src + change), 0, maxval).
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "kernels_impl.hpp"
#include "vpf_kernels.hpp"

namespace vpf {
namespace {

constexpr int N = 4;

VPF_CLONES void col_acc(const float* VPF_RESTRICT r, int n, float d0, float d1, float d2, float d3,
                        float* VPF_RESTRICT a0, float* VPF_RESTRICT a1, float* VPF_RESTRICT a2,
                        float* VPF_RESTRICT a3) {
  for (int x = 0; x < n; ++x) {
    const float v = r[x];
    a0[x] += d0 * v;
    a1[x] += d1 * v;
    a2[x] += d2 * v;
    a3[x] += d3 * v;
  }
}

template <class T>
VPF_INLINE void to_float(const T* VPF_RESTRICT s, int n, float* VPF_RESTRICT r) {
  for (int x = 0; x < n; ++x) r[x] = static_cast<float>(s[x]);
}

template <class T>
void lowdct_impl(Plane<const T> src, int b, const float* dct, float* out, int threads) {
  const int hb = src.height / b, wb = src.width / b, n = wb * b;
  if (hb <= 0 || wb <= 0) return;
  detail::parallel_rows(hb, threads, [&](int i0, int i1) {
    std::vector<float> acc(static_cast<size_t>(N) * n), row;
    if constexpr (!std::is_same_v<T, float>) row.resize(n);
    for (int i = i0; i < i1; ++i) {
      std::fill(acc.begin(), acc.end(), 0.0f);
      float *a0 = acc.data(), *a1 = a0 + n, *a2 = a1 + n, *a3 = a2 + n;
      for (int y = 0; y < b; ++y) {
        const T* s = src.row(i * b + y);
        const float* r;
        if constexpr (std::is_same_v<T, float>) {
          r = s;
        } else {
          to_float(s, n, row.data());
          r = row.data();
        }
        col_acc(r, n, dct[y], dct[b + y], dct[2 * b + y], dct[3 * b + y], a0, a1, a2, a3);
      }
      for (int j = 0; j < wb; ++j) {
        float* c = out + (static_cast<std::ptrdiff_t>(i) * wb + j) * N * N;
        for (int u = 0; u < N; ++u) {
          const float* a = acc.data() + static_cast<std::ptrdiff_t>(u) * n + j * b;
          for (int v = 0; v < N; ++v) {
            const float* d = dct + v * b;
            float s = 0.0f;
            for (int x = 0; x < b; ++x) s += a[x] * d[x];
            c[u * N + v] = s;
          }
        }
      }
    }
  });
}

// One row of whole blocks: z holds 4 floats per block.
VPF_CLONES void apply_row_u8(uint8_t* VPF_RESTRICT p, int wb, int b, const float* VPF_RESTRICT z,
                             const float* VPF_RESTRICT dct, float maxval) {
  const float* d0 = dct;
  const float* d1 = dct + b;
  const float* d2 = dct + 2 * b;
  const float* d3 = dct + 3 * b;
  for (int j = 0; j < wb; ++j) {
    const float z0 = z[4 * j], z1 = z[4 * j + 1], z2 = z[4 * j + 2], z3 = z[4 * j + 3];
    uint8_t* q = p + static_cast<std::ptrdiff_t>(j) * b;
    for (int x = 0; x < b; ++x) {
      const float ch = z0 * d0[x] + z1 * d1[x] + z2 * d2[x] + z3 * d3[x];
      float v = std::nearbyint(ch + static_cast<float>(q[x]));
      v = std::min(std::max(v, 0.0f), maxval);
      q[x] = static_cast<uint8_t>(v);
    }
  }
}

VPF_CLONES void apply_row_u16(uint16_t* VPF_RESTRICT p, int wb, int b, const float* VPF_RESTRICT z,
                              const float* VPF_RESTRICT dct, float maxval) {
  const float* d0 = dct;
  const float* d1 = dct + b;
  const float* d2 = dct + 2 * b;
  const float* d3 = dct + 3 * b;
  for (int j = 0; j < wb; ++j) {
    const float z0 = z[4 * j], z1 = z[4 * j + 1], z2 = z[4 * j + 2], z3 = z[4 * j + 3];
    uint16_t* q = p + static_cast<std::ptrdiff_t>(j) * b;
    for (int x = 0; x < b; ++x) {
      const float ch = z0 * d0[x] + z1 * d1[x] + z2 * d2[x] + z3 * d3[x];
      float v = std::nearbyint(ch + static_cast<float>(q[x]));
      v = std::min(std::max(v, 0.0f), maxval);
      q[x] = static_cast<uint16_t>(static_cast<int32_t>(v));
    }
  }
}

VPF_INLINE void apply_row(uint8_t* p, int wb, int b, const float* z, const float* dct, float m) {
  apply_row_u8(p, wb, b, z, dct, m);
}
VPF_INLINE void apply_row(uint16_t* p, int wb, int b, const float* z, const float* dct, float m) {
  apply_row_u16(p, wb, b, z, dct, m);
}

template <class T>
void apply_impl(Plane<T> dst, int b, const float* dct, const float* coefs, int maxval, int threads) {
  const int hb = dst.height / b, wb = dst.width / b;
  if (hb <= 0 || wb <= 0) return;
  const float m = static_cast<float>(maxval);
  detail::parallel_rows(hb, threads, [&](int i0, int i1) {
    std::vector<float> z(static_cast<size_t>(N) * wb);
    for (int i = i0; i < i1; ++i) {
      const float* ci = coefs + static_cast<std::ptrdiff_t>(i) * wb * N * N;
      for (int y = 0; y < b; ++y) {
        const float e0 = dct[y], e1 = dct[b + y], e2 = dct[2 * b + y], e3 = dct[3 * b + y];
        for (int j = 0; j < wb; ++j) {
          const float* c = ci + j * N * N;
          for (int v = 0; v < N; ++v)
            z[N * j + v] = e0 * c[v] + e1 * c[N + v] + e2 * c[2 * N + v] + e3 * c[3 * N + v];
        }
        apply_row(dst.row(i * b + y), wb, b, z.data(), dct, m);
      }
    }
  });
}

}  // namespace

void block_lowdct(Plane<const uint8_t> src, int b, const float* dct, float* out, int threads) {
  lowdct_impl(src, b, dct, out, threads);
}
void block_lowdct(Plane<const uint16_t> src, int b, const float* dct, float* out, int threads) {
  lowdct_impl(src, b, dct, out, threads);
}
void block_lowdct(Plane<const float> src, int b, const float* dct, float* out, int threads) {
  lowdct_impl(src, b, dct, out, threads);
}
void block_lowdct_apply(Plane<uint8_t> dst, int b, const float* dct, const float* coefs, int maxval,
                        int threads) {
  apply_impl(dst, b, dct, coefs, maxval, threads);
}
void block_lowdct_apply(Plane<uint16_t> dst, int b, const float* dct, const float* coefs, int maxval,
                        int threads) {
  apply_impl(dst, b, dct, coefs, maxval, threads);
}

}  // namespace vpf
