// Hot-path kernels of vpfilters: plain C++ on strided planes, no Python objects.
// The numpy reference (vpfilters/kernels/_reference.py) is the specification: integer kernels
// must match it bit for bit. Strides are in elements; rows may be padded (stride >= width),
// pixels within a row are contiguous. Kernels never write outside the view they are given.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vpf {

template <typename T>
struct Plane {
  T* data;
  std::ptrdiff_t stride;  // elements between rows
  int width;
  int height;
  T* row(int y) const { return data + static_cast<std::ptrdiff_t>(y) * stride; }
};

// ---- Haar, one level (see _reference.haar_fwd). Bands are ceil(H/2) x ceil(W/2).
// uint8 -> details int16; uint16 -> details int32; float -> float. `threads` (>= 1) splits the
// band rows between threads; the result does not depend on it.
void haar_fwd(Plane<const uint8_t> src, Plane<uint8_t> ll, Plane<int16_t> lh, Plane<int16_t> hl,
              Plane<int16_t> hh, int threads = 1);
void haar_fwd(Plane<const uint16_t> src, Plane<uint16_t> ll, Plane<int32_t> lh, Plane<int32_t> hl,
              Plane<int32_t> hh, int threads = 1);
void haar_fwd(Plane<const float> src, Plane<float> ll, Plane<float> lh, Plane<float> hl,
              Plane<float> hh, int threads = 1);
void haar_inv(Plane<const uint8_t> ll, Plane<const int16_t> lh, Plane<const int16_t> hl,
              Plane<const int16_t> hh, Plane<uint8_t> dst, int threads = 1);
void haar_inv(Plane<const uint16_t> ll, Plane<const int32_t> lh, Plane<const int32_t> hl,
              Plane<const int32_t> hh, Plane<uint16_t> dst, int threads = 1);
void haar_inv(Plane<const float> ll, Plane<const float> lh, Plane<const float> hl,
              Plane<const float> hh, Plane<float> dst, int threads = 1);

// ---- Masked privacy operations (see _reference.mask_apply).
struct Box {
  int x0, y0, x1, y1;  // plane pixels, half-open, already rounded outward and clipped
};
enum class MaskMode : int { Box = 0, Gaussian = 1, Pixelate = 2, Fill = 3 };

struct MaskParams {
  MaskMode mode;
  int param;    // box radius (Box, Gaussian) or block size (Pixelate)
  int passes;   // box passes (1 for Box, 3 for Gaussian)
  int fx, fy;   // feather, plane pixels, outside the box
  double fill;  // Fill value
  int threads;  // >= 1
};

// src and dst may be the same plane (in-place). mask (optional, data == nullptr when absent) is a
// uint8 0..255 plane of the same size; its alpha is m + (m >> 7).
void mask_apply(Plane<const uint8_t> src, Plane<uint8_t> dst, const Box* boxes, int nboxes,
                Plane<const uint8_t> mask, const MaskParams& p);
void mask_apply(Plane<const uint16_t> src, Plane<uint16_t> dst, const Box* boxes, int nboxes,
                Plane<const uint8_t> mask, const MaskParams& p);
void mask_apply(Plane<const float> src, Plane<float> dst, const Box* boxes, int nboxes,
                Plane<const uint8_t> mask, const MaskParams& p);

// ---- Flow to colour (see _reference.flow_to_color).
// flow: interleaved (u, v) float pairs, row stride in floats; lut: n_dir * n_mag * 3 uint8;
// out: packed RGB rows, row stride in bytes.
void flow_to_color(const float* flow, std::ptrdiff_t flow_stride, int width, int height,
                   const uint8_t* lut, int n_dir, int n_mag, float max_mag, uint8_t* out,
                   std::ptrdiff_t out_stride, int threads);

// The default max_mag of flow_to_color: sqrt(max(u*u + v*v)) in float32, non-finite components
// counted as 0 (numpy: sqrt((nan_to_num(flow) ** 2).sum(axis=2).max())); 0 for an empty field.
float flow_max_magnitude(const float* flow, std::ptrdiff_t flow_stride, int width, int height,
                         int threads);

// ---- Block low DCT (see _reference.block_lowdct / block_lowdct_apply).
// dct: 4 x b float32 rows of the orthonormal DCT-II matrix (row-major, contiguous).
// coefficients: (H / b) x (W / b) x 4 x 4 float32, contiguous; partial blocks are ignored.
void block_lowdct(Plane<const uint8_t> src, int b, const float* dct, float* out, int threads);
void block_lowdct(Plane<const uint16_t> src, int b, const float* dct, float* out, int threads);
void block_lowdct(Plane<const float> src, int b, const float* dct, float* out, int threads);
// dst += inverse(coefs) per whole block, rounded half to even and clipped to 0..maxval.
void block_lowdct_apply(Plane<uint8_t> dst, int b, const float* dct, const float* coefs, int maxval,
                        int threads);
void block_lowdct_apply(Plane<uint16_t> dst, int b, const float* dct, const float* coefs, int maxval,
                        int threads);

}  // namespace vpf
