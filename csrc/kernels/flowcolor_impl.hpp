// Private entry point of flow_to_color for callers holding max_mag in double precision.
#pragma once
#include <cstddef>
#include <cstdint>

namespace vpf::detail {

// As vpf::flow_to_color, with the magnitude scale given the way the numpy reference forms it:
// inv_max = float32(1.0 / max_mag) and has_motion = (max_mag > 0).
void flow_to_color_scaled(const float* flow, std::ptrdiff_t flow_stride, int width, int height,
                          const uint8_t* lut, int n_dir, int n_mag, float inv_max, bool has_motion,
                          uint8_t* out, std::ptrdiff_t out_stride, int threads);

}  // namespace vpf::detail
