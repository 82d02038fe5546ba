// Private entry point of flow_to_color for callers holding max_mag in double precision.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vpf::detail {

// As vpf::flow_to_color, with the magnitude scale given the way the numpy reference forms it:
// inv_max = float32(1.0 / max_mag) and has_motion = (max_mag > 0).
// min_mag > 0 masks static pixels in the same pass: a pixel whose float32 magnitude
// sqrt(u*u + v*v) is below min_mag (or not finite) gets entry (0, 0), every other pixel a magnitude
// bin of at least min(1, n_mag - 1), so slow motion never looks static. min_mag <= 0: no mask.
void flow_to_color_scaled(const float* flow, std::ptrdiff_t flow_stride, int width, int height,
                          const uint8_t* lut, int n_dir, int n_mag, float inv_max, bool has_motion,
                          uint8_t* out, std::ptrdiff_t out_stride, int threads,
                          float min_mag = 0.0f);

}  // namespace vpf::detail
