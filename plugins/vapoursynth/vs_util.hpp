// Small helpers shared by the vpf VapourSynth filters: frame references, plane views, format
// checks.
#pragma once

#include <VapourSynth4.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "vpf_kernels.hpp"

namespace vpfvs {

// Raised inside getFrame; turned into setFilterError there (exceptions must not cross the C API).
struct FrameError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Owns one frame reference, so early returns and exceptions cannot leak frames.
class FrameRef {
 public:
  FrameRef(const VSFrame* f, const VSAPI* vsapi) : f_(f), vsapi_(vsapi) {}
  FrameRef(const FrameRef&) = delete;
  FrameRef& operator=(const FrameRef&) = delete;
  ~FrameRef() {
    if (f_) vsapi_->freeFrame(f_);
  }
  const VSFrame* get() const { return f_; }
  const VSFrame* release() { return std::exchange(f_, nullptr); }

 private:
  const VSFrame* f_;
  const VSAPI* vsapi_;
};

class MutableFrameRef {
 public:
  MutableFrameRef(VSFrame* f, const VSAPI* vsapi) : f_(f), vsapi_(vsapi) {}
  MutableFrameRef(const MutableFrameRef&) = delete;
  MutableFrameRef& operator=(const MutableFrameRef&) = delete;
  ~MutableFrameRef() {
    if (f_) vsapi_->freeFrame(f_);
  }
  VSFrame* get() const { return f_; }
  VSFrame* release() { return std::exchange(f_, nullptr); }

 private:
  VSFrame* f_;
  const VSAPI* vsapi_;
};

inline std::string formatName(const VSVideoFormat& f, const VSAPI* vsapi) {
  char buf[64] = {0};
  if (f.colorFamily == cfUndefined || !vsapi->getVideoFormatName(&f, buf)) return "variable format";
  return buf;
}

// Empty string when `vi` is a constant-format, constant-size YUV/GRAY clip with 8..16-bit
// integer or 32-bit float samples; otherwise the error message, prefixed with `func`.
inline std::string checkPlanarFormat(const VSVideoInfo* vi, const char* func, const VSAPI* vsapi) {
  const VSVideoFormat& f = vi->format;
  if (f.colorFamily == cfUndefined || vi->width <= 0 || vi->height <= 0)
    return std::string(func) + ": clip must be YUV or GRAY with constant format and dimensions";
  if (f.colorFamily != cfYUV && f.colorFamily != cfGray)
    return std::string(func) + ": clip must be YUV or GRAY with constant format, got " +
           formatName(f, vsapi);
  const bool intOk = f.sampleType == stInteger && f.bitsPerSample >= 8 && f.bitsPerSample <= 16;
  const bool floatOk = f.sampleType == stFloat && f.bitsPerSample == 32;
  if (!intOk && !floatOk)
    return std::string(func) + ": clip must have 8..16-bit integer or 32-bit float samples, got " +
           formatName(f, vsapi);
  return {};
}

inline int planeSsw(const VSVideoFormat& f, int p) { return p == 0 ? 0 : f.subSamplingW; }
inline int planeSsh(const VSVideoFormat& f, int p) { return p == 0 ? 0 : f.subSamplingH; }

template <typename T>
vpf::Plane<const T> readPlane(const VSFrame* f, int p, const VSAPI* vsapi) {
  const uint8_t* ptr = vsapi->getReadPtr(f, p);
  if (!ptr)
    throw std::runtime_error("frame has no CPU-readable plane (GPU-resident input is not supported)");
  return {
      reinterpret_cast<const T*>(ptr),
      static_cast<std::ptrdiff_t>(vsapi->getStride(f, p) / static_cast<std::ptrdiff_t>(sizeof(T))),
      vsapi->getFrameWidth(f, p), vsapi->getFrameHeight(f, p)};
}

template <typename T>
vpf::Plane<T> writePlane(VSFrame* f, int p, const VSAPI* vsapi) {
  uint8_t* ptr = vsapi->getWritePtr(f, p);
  if (!ptr) throw std::runtime_error("could not get a writable CPU plane");
  return {
      reinterpret_cast<T*>(ptr),
      static_cast<std::ptrdiff_t>(vsapi->getStride(f, p) / static_cast<std::ptrdiff_t>(sizeof(T))),
      vsapi->getFrameWidth(f, p), vsapi->getFrameHeight(f, p)};
}

// The top-left w x h window of a plane (same stride).
template <typename T>
vpf::Plane<T> crop(vpf::Plane<T> p, int w, int h) {
  return {p.data, p.stride, w, h};
}

template <typename T>
vpf::Plane<const T> asConst(vpf::Plane<T> p) {
  return {p.data, p.stride, p.width, p.height};
}

}  // namespace vpfvs
