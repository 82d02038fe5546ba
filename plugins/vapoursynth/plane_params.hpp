// C++ twin of vpfilters/kernels/_params.py: luma-pixel parameters -> integer plane parameters.
// Every expression mirrors the Python one (same double operations, Python's round-half-to-even),
// so the plug-in hands the kernels exactly the numbers vpfilters.kernels.mask_blur would.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "vpf_kernels.hpp"

namespace vpfvs {

// Python's round() on a float: nearest integer, ties to even (independent of the FP rounding mode).
inline double pyRound(double v) {
  const double f = std::floor(v);
  const double diff = v - f;  // exact for doubles
  if (diff > 0.5) return f + 1.0;
  if (diff < 0.5) return f;
  return std::fmod(f, 2.0) == 0.0 ? f : f + 1.0;
}

// plane_boxes: flat luma boxes x1, y1, x2, y2 (finite; checked by the caller) -> plane boxes,
// rounded outward, clipped to the plane and with empty ones dropped.
inline std::vector<vpf::Box> planeBoxes(const double* b, int nboxes, int sx, int sy, int w, int h) {
  std::vector<vpf::Box> out;
  out.reserve(static_cast<size_t>(nboxes));
  const double fx = static_cast<double>(1 << sx), fy = static_cast<double>(1 << sy);
  auto clip = [](double v, int hi) {
    return static_cast<int>(std::min(std::max(v, 0.0), double(hi)));
  };
  for (int i = 0; i < nboxes; ++i) {
    const double* r = b + 4 * i;
    const double x0 = std::floor(std::min(r[0], r[2]) / fx);
    const double x1 = std::ceil(std::max(r[0], r[2]) / fx);
    const double y0 = std::floor(std::min(r[1], r[3]) / fy);
    const double y1 = std::ceil(std::max(r[1], r[3]) / fy);
    vpf::Box box{clip(x0, w), clip(y0, h), clip(x1, w), clip(y1, h)};
    if (box.x1 > box.x0 && box.y1 > box.y0) out.push_back(box);
  }
  return out;
}

// gaussian_radius: radius of the box whose three passes approximate a Gaussian of sigma pixels.
inline int gaussianRadius(double sigma) {
  if (sigma <= 0) return 0;
  const double width = std::sqrt(12.0 * sigma * sigma / 3.0 + 1.0);
  return std::max(1, static_cast<int>(pyRound((width - 1.0) / 2.0)));
}

// plane_param: (param, passes) of a mode on a plane subsampled by (sx, sy).
inline void planeParam(vpf::MaskMode mode, double strength, int sx, int* param, int* passes) {
  const double scale = static_cast<double>(1 << sx);
  const double s = strength / scale;
  switch (mode) {
    case vpf::MaskMode::Box:
      *param = strength > 0 ? std::max(1, static_cast<int>(pyRound(s))) : 0;
      *passes = 1;
      return;
    case vpf::MaskMode::Gaussian:
      *param = gaussianRadius(s);
      *passes = 3;
      return;
    case vpf::MaskMode::Pixelate:
      *param = std::max(1, static_cast<int>(pyRound(s)));
      *passes = 1;
      return;
    case vpf::MaskMode::Fill:
      *param = 0;
      *passes = 0;
      return;
  }
}

// plane_feather: feather in plane pixels along x and y.
inline void planeFeather(double feather, int sx, int sy, int* fx, int* fy) {
  *fx = static_cast<int>(std::ceil(feather / static_cast<double>(1 << sx)));
  *fy = static_cast<int>(std::ceil(feather / static_cast<double>(1 << sy)));
}

// pool_mask for VapourSynth planes, whose luma size is always a multiple of the subsampling:
// max over each (1 << sy) x (1 << sx) block, so protection never shrinks.
inline void poolMask(vpf::Plane<const uint8_t> m, int sx, int sy, std::vector<uint8_t>& out, int w,
                     int h) {
  out.assign(static_cast<size_t>(w) * h, 0);
  const int bx = 1 << sx, by = 1 << sy;
  for (int y = 0; y < h; ++y) {
    uint8_t* o = out.data() + static_cast<size_t>(y) * w;
    for (int j = 0; j < by; ++j) {
      const uint8_t* r = m.row(y * by + j);
      for (int x = 0; x < w; ++x)
        for (int i = 0; i < bx; ++i) o[x] = std::max(o[x], r[x * bx + i]);
    }
  }
}

}  // namespace vpfvs
