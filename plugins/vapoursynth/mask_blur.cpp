// vpf.MaskBlur: blur, pixelate or fill the regions named by each frame's VPFBoxes and/or a mask
// clip.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "filters.hpp"
#include "plane_params.hpp"
#include "vs_util.hpp"

namespace vpfvs {
namespace {

constexpr const char* kBoxesKey = "VPFBoxes";
constexpr const char* kTrackIdsKey = "VPFTrackIds";
constexpr double kMaxLength = 65536.0;  // strength/feather cap: keeps plane parameters in int range

struct MaskBlurData {
  VSNode* node = nullptr;
  VSNode* mask = nullptr;
  VSVideoInfo vi{};
  vpf::MaskMode mode = vpf::MaskMode::Gaussian;
  double strength = 8.0;
  double feather = 0.0;
  bool process[3] = {true, true, true};
  bool userValue = false;
  double value[3] = {0, 0, 0};
  // `boxes`: fixed regions protected on every frame instead of VPFBoxes (then appended to it).
  bool fixed = false;
  std::vector<double> fixedBoxes;
  // `fillmap`: fill values per frame colour, 4 groups of numPlanes values (see fillGroup).
  bool useFillMap = false;
  std::vector<double> fillMap;
};

// vpfilters' colour rules (vpfilters.core.frame.color_values): the group of `fillmap` for a frame.
// 0: BT.709 limited, 1: BT.709 full, 2: BT.601 limited, 3: BT.601 full. Matrix from _Matrix (1 is
// BT.709, 5 and 6 BT.601, anything else BT.709 from 720 lines up); range from _Range (1 full),
// else _ColorRange (0 full), else limited.
int fillGroup(const VSMap* props, int height, const VSAPI* vsapi) {
  int err = 0;
  const int64_t m = vsapi->mapGetInt(props, "_Matrix", 0, &err);
  bool bt709 = height >= 720;
  if (!err && m == 1) bt709 = true;
  if (!err && (m == 5 || m == 6)) bt709 = false;
  bool full = false;
  const int64_t r = vsapi->mapGetInt(props, "_Range", 0, &err);
  if (!err) {
    full = r == 1;
  } else {
    const int64_t cr = vsapi->mapGetInt(props, "_ColorRange", 0, &err);
    if (!err) full = cr == 0;
  }
  return (bt709 ? 0 : 2) + (full ? 1 : 0);
}

// VPFBoxes += the fixed boxes; VPFTrackIds (when present) gets -1 per box, as record_regions.
void recordFixed(const MaskBlurData* d, const std::vector<double>& before, VSMap* props,
                 const VSAPI* vsapi) {
  if (d->fixedBoxes.empty()) return;
  std::vector<double> all(before);
  all.insert(all.end(), d->fixedBoxes.begin(), d->fixedBoxes.end());
  vsapi->mapSetFloatArray(props, kBoxesKey, all.data(), static_cast<int>(all.size()));
  if (vsapi->mapGetType(props, kTrackIdsKey) == ptInt) {
    const int count = vsapi->mapNumElements(props, kTrackIdsKey);
    int err = 0;
    const int64_t* v = count > 0 ? vsapi->mapGetIntArray(props, kTrackIdsKey, &err) : nullptr;
    std::vector<int64_t> ids(v && !err ? v : nullptr, v && !err ? v + count : nullptr);
    ids.resize(before.size() / 4, -1);
    ids.resize(ids.size() + d->fixedBoxes.size() / 4, -1);
    vsapi->mapSetIntArray(props, kTrackIdsKey, ids.data(), static_cast<int>(ids.size()));
  }
}

// Black (Y) / neutral (UV) for plane p in the frame's range. _Range follows API 4.2+
// (VSRange: 0 limited, 1 full, like H.265's video_full_range_flag); the older _ColorRange is
// 0 full, 1 limited. Without either, YUV is taken as limited and GRAY as full range.
bool isLimitedRange(const VSVideoFormat& f, const VSMap* props, const VSAPI* vsapi) {
  int err = 0;
  const int64_t range = vsapi->mapGetInt(props, "_Range", 0, &err);
  if (!err) return range == 0;
  const int64_t colorRange = vsapi->mapGetInt(props, "_ColorRange", 0, &err);
  if (!err) return colorRange == 1;
  return f.colorFamily == cfYUV;
}

double defaultFill(const VSVideoFormat& f, int p, const VSMap* props, const VSAPI* vsapi) {
  if (f.sampleType == stFloat) return 0.0;  // float: Y 0..1, UV -0.5..0.5
  const int shift = f.bitsPerSample - 8;
  if (f.colorFamily == cfYUV && p > 0) return static_cast<double>(128 << shift);  // both ranges
  return isLimitedRange(f, props, vsapi) ? static_cast<double>(16 << shift) : 0.0;
}

// Reads VPFBoxes of frame n into `boxes`; throws FrameError (fail closed) on malformed data.
void readBoxes(const VSMap* props, int n, const VSAPI* vsapi, std::vector<double>& boxes) {
  boxes.clear();
  const int type = vsapi->mapGetType(props, kBoxesKey);
  if (type == ptUnset) return;
  const int count = vsapi->mapNumElements(props, kBoxesKey);
  auto fail = [n](const std::string& why) {
    throw FrameError("MaskBlur: frame " + std::to_string(n) + ": " + kBoxesKey + " " + why);
  };
  if (type == ptFloat) {
    int err = 0;
    const double* v = count > 0 ? vsapi->mapGetFloatArray(props, kBoxesKey, &err) : nullptr;
    if (err) fail("could not be read");
    if (v) boxes.assign(v, v + count);
  } else if (type == ptInt) {
    int err = 0;
    const int64_t* v = count > 0 ? vsapi->mapGetIntArray(props, kBoxesKey, &err) : nullptr;
    if (err) fail("could not be read");
    for (int i = 0; i < count; ++i) boxes.push_back(static_cast<double>(v[i]));
  } else {
    fail("must be a float array x1, y1, x2, y2 per box (luma pixels)");
  }
  if (boxes.size() % 4 != 0)
    fail("must hold x1, y1, x2, y2 per box (a multiple of 4 values), got " +
         std::to_string(boxes.size()) + " values");
  for (double v : boxes)
    if (!std::isfinite(v)) fail("holds NaN or infinite coordinates");
}

template <typename T>
void processPlane(const MaskBlurData* d, const VSFrame* src, VSFrame* dst, int p,
                  const std::vector<double>& boxes, const VSFrame* maskFrame, double fill,
                  const VSAPI* vsapi) {
  const VSVideoFormat& f = d->vi.format;
  const int sx = planeSsw(f, p), sy = planeSsh(f, p);
  vpf::Plane<const T> in = readPlane<T>(src, p, vsapi);
  vpf::Plane<T> out = writePlane<T>(dst, p, vsapi);
  const std::vector<vpf::Box> pboxes =
      planeBoxes(boxes.data(), static_cast<int>(boxes.size() / 4), sx, sy, in.width, in.height);

  vpf::Plane<const uint8_t> mask{nullptr, 0, in.width, in.height};
  std::vector<uint8_t> pooled;
  if (maskFrame) {
    vpf::Plane<const uint8_t> m = readPlane<uint8_t>(maskFrame, 0, vsapi);
    if (sx == 0 && sy == 0) {
      mask = m;
    } else {
      poolMask(m, sx, sy, pooled, in.width, in.height);
      mask = {pooled.data(), in.width, in.width, in.height};
    }
  }

  vpf::MaskParams mp{};
  mp.mode = d->mode;
  planeParam(d->mode, d->strength, sx, &mp.param, &mp.passes);
  planeFeather(d->feather, sx, sy, &mp.fx, &mp.fy);
  mp.fill = fill;
  mp.threads = 1;  // VapourSynth already runs one frame per thread (fmParallel)
  vpf::mask_apply(in, out, pboxes.data(), static_cast<int>(pboxes.size()), mask, mp);
}

const VSFrame* VS_CC maskBlurGetFrame(int n, int activationReason, void* instanceData, void**,
                                      VSFrameContext* frameCtx, VSCore* core, const VSAPI* vsapi) {
  auto* d = static_cast<MaskBlurData*>(instanceData);
  if (activationReason == arInitial) {
    vsapi->requestFrameFilter(n, d->node, frameCtx);
    if (d->mask) vsapi->requestFrameFilter(n, d->mask, frameCtx);
    return nullptr;
  }
  if (activationReason != arAllFramesReady) return nullptr;

  FrameRef src(vsapi->getFrameFilter(n, d->node, frameCtx), vsapi);
  FrameRef maskFrame(d->mask ? vsapi->getFrameFilter(n, d->mask, frameCtx) : nullptr, vsapi);
  try {
    const VSMap* props = vsapi->getFramePropertiesRO(src.get());
    std::vector<double> boxes;
    readBoxes(props, n, vsapi, boxes);
    if (d->fixed) {
      if (d->fixedBoxes.empty() && !maskFrame.get()) return src.release();
    } else if (boxes.empty() && !maskFrame.get()) {
      return src.release();  // no regions: nothing to hide
    }
    const std::vector<double>& regions = d->fixed ? d->fixedBoxes : boxes;
    const int group = d->useFillMap ? fillGroup(props, d->vi.height, vsapi) : 0;

    const VSVideoFormat& f = d->vi.format;
    const VSFrame* planeSrc[3] = {nullptr, nullptr, nullptr};
    const int planeIdx[3] = {0, 1, 2};
    for (int p = 0; p < f.numPlanes; ++p)
      if (!d->process[p]) planeSrc[p] = src.get();
    MutableFrameRef dst(
        vsapi->newVideoFrame2(&f, d->vi.width, d->vi.height, planeSrc, planeIdx, src.get(), core),
        vsapi);
    if (!dst.get())
      throw FrameError("MaskBlur: frame " + std::to_string(n) + ": could not allocate");
    for (int p = 0; p < f.numPlanes; ++p) {
      if (!d->process[p]) continue;
      const double fill = d->useFillMap  ? d->fillMap[group * f.numPlanes + p]
                          : d->userValue ? d->value[p]
                                         : defaultFill(f, p, props, vsapi);
      if (f.sampleType == stFloat)
        processPlane<float>(d, src.get(), dst.get(), p, regions, maskFrame.get(), fill, vsapi);
      else if (f.bytesPerSample == 1)
        processPlane<uint8_t>(d, src.get(), dst.get(), p, regions, maskFrame.get(), fill, vsapi);
      else
        processPlane<uint16_t>(d, src.get(), dst.get(), p, regions, maskFrame.get(), fill, vsapi);
    }
    if (d->fixed) recordFixed(d, boxes, vsapi->getFramePropertiesRW(dst.get()), vsapi);
    return dst.release();
  } catch (const FrameError& e) {
    vsapi->setFilterError(e.what(), frameCtx);
  } catch (const std::exception& e) {
    vsapi->setFilterError(("MaskBlur: frame " + std::to_string(n) + ": " + e.what()).c_str(),
                          frameCtx);
  }
  return nullptr;
}

void VS_CC maskBlurFree(void* instanceData, VSCore*, const VSAPI* vsapi) {
  auto* d = static_cast<MaskBlurData*>(instanceData);
  vsapi->freeNode(d->node);
  if (d->mask) vsapi->freeNode(d->mask);
  delete d;
}

}  // namespace

void VS_CC maskBlurCreate(const VSMap* in, VSMap* out, void*, VSCore* core, const VSAPI* vsapi) {
  auto d = std::make_unique<MaskBlurData>();
  auto fail = [&](const std::string& msg) {
    vsapi->mapSetError(out, ("MaskBlur: " + msg).c_str());
    if (d->node) vsapi->freeNode(d->node);
    if (d->mask) vsapi->freeNode(d->mask);
  };
  int err = 0;
  d->node = vsapi->mapGetNode(in, "clip", 0, nullptr);
  d->vi = *vsapi->getVideoInfo(d->node);
  const VSVideoFormat& f = d->vi.format;
  if (std::string msg = checkPlanarFormat(&d->vi, "MaskBlur", vsapi); !msg.empty()) {
    vsapi->mapSetError(out, msg.c_str());
    vsapi->freeNode(d->node);
    return;
  }

  const char* mode = vsapi->mapGetData(in, "mode", 0, &err);
  if (!err) {
    const std::string m(mode);
    if (m == "box")
      d->mode = vpf::MaskMode::Box;
    else if (m == "gaussian")
      d->mode = vpf::MaskMode::Gaussian;
    else if (m == "pixelate")
      d->mode = vpf::MaskMode::Pixelate;
    else if (m == "fill")
      d->mode = vpf::MaskMode::Fill;
    else
      return fail("mode must be one of box, gaussian, pixelate, fill, got \"" + m + "\"");
  }
  d->strength = vsapi->mapGetFloat(in, "strength", 0, &err);
  if (err) d->strength = 8.0;
  if (!std::isfinite(d->strength) || d->strength < 0 || d->strength > kMaxLength)
    return fail("strength must be a number in 0..65536 (luma pixels), got " +
                std::to_string(d->strength));
  d->feather = vsapi->mapGetFloat(in, "feather", 0, &err);
  if (err) d->feather = 0.0;
  if (!std::isfinite(d->feather) || d->feather < 0 || d->feather > kMaxLength)
    return fail("feather must be a number in 0..65536 (luma pixels), got " +
                std::to_string(d->feather));

  const int nplanes = vsapi->mapNumElements(in, "planes");
  if (nplanes > 0) {
    std::fill(std::begin(d->process), std::end(d->process), false);
    for (int i = 0; i < nplanes; ++i) {
      const int64_t p = vsapi->mapGetInt(in, "planes", i, nullptr);
      if (p < 0 || p >= f.numPlanes)
        return fail("plane index " + std::to_string(p) + " is out of range for a " +
                    std::to_string(f.numPlanes) + "-plane clip");
      if (d->process[p]) return fail("plane " + std::to_string(p) + " is listed twice");
      d->process[p] = true;
    }
  } else if (nplanes == 0) {
    return fail("planes is empty: list at least one plane or leave it out");
  }

  const int nvalues = vsapi->mapNumElements(in, "value");
  if (nvalues > f.numPlanes)
    return fail("value has " + std::to_string(nvalues) + " entries for a " +
                std::to_string(f.numPlanes) + "-plane clip");
  if (nvalues > 0) {
    d->userValue = true;
    for (int p = 0; p < f.numPlanes; ++p) {
      double v = vsapi->mapGetFloat(in, "value", std::min(p, nvalues - 1), nullptr);
      if (f.sampleType == stInteger) {
        v = pyRound(v);  // as vpfilters.kernels.mask_blur rounds the fill value
        const double hi = static_cast<double>((1 << f.bitsPerSample) - 1);
        if (!(v >= 0 && v <= hi))
          return fail("fill value " + std::to_string(v) + " for plane " + std::to_string(p) +
                      " is outside 0.." + std::to_string(static_cast<int>(hi)));
      } else if (!std::isfinite(v)) {
        return fail("fill value for plane " + std::to_string(p) + " must be finite");
      }
      d->value[p] = v;
    }
  }

  const int nboxes = vsapi->mapNumElements(in, "boxes");
  if (nboxes >= 0) {
    d->fixed = true;
    int e = 0;
    const double* b = nboxes > 0 ? vsapi->mapGetFloatArray(in, "boxes", &e) : nullptr;
    if (b) d->fixedBoxes.assign(b, b + nboxes);
    if (nboxes % 4 != 0)
      return fail("boxes must hold x1, y1, x2, y2 per box (a multiple of 4 values), got " +
                  std::to_string(nboxes) + " values");
    for (double v : d->fixedBoxes)
      if (!std::isfinite(v)) return fail("boxes holds NaN or infinite coordinates");
  }

  const int nfill = vsapi->mapNumElements(in, "fillmap");
  if (nfill >= 0) {
    if (nfill != 4 * f.numPlanes)
      return fail("fillmap must hold 4 groups of " + std::to_string(f.numPlanes) +
                  " values (BT.709 limited, BT.709 full, BT.601 limited, BT.601 full), got " +
                  std::to_string(nfill) + " values");
    if (nvalues > 0) return fail("give value or fillmap, not both");
    d->useFillMap = true;
    for (int i = 0; i < nfill; ++i) {
      double v = vsapi->mapGetFloat(in, "fillmap", i, nullptr);
      if (f.sampleType == stInteger) {
        v = pyRound(v);
        const double hi = static_cast<double>((1 << f.bitsPerSample) - 1);
        if (!(v >= 0 && v <= hi))
          return fail("fillmap value " + std::to_string(v) + " is outside 0.." +
                      std::to_string(static_cast<int>(hi)));
      } else if (!std::isfinite(v)) {
        return fail("fillmap values must be finite");
      }
      d->fillMap.push_back(v);
    }
  }

  d->mask = vsapi->mapGetNode(in, "mask", 0, &err);
  if (err) d->mask = nullptr;
  if (d->mask) {
    const VSVideoInfo* mvi = vsapi->getVideoInfo(d->mask);
    const VSVideoFormat& mf = mvi->format;
    if (mf.colorFamily != cfGray || mf.sampleType != stInteger || mf.bitsPerSample != 8)
      return fail("mask must be a GRAY8 clip (0..255), got " + formatName(mf, vsapi));
    if (mvi->width != d->vi.width || mvi->height != d->vi.height)
      return fail("mask must have the clip's luma size " + std::to_string(d->vi.width) + "x" +
                  std::to_string(d->vi.height) + ", got " + std::to_string(mvi->width) + "x" +
                  std::to_string(mvi->height));
    if (mvi->numFrames < d->vi.numFrames)
      return fail("mask has " + std::to_string(mvi->numFrames) + " frames, fewer than the clip's " +
                  std::to_string(d->vi.numFrames));
  }

  VSFilterDependency deps[2] = {{d->node, rpStrictSpatial}, {d->mask, rpStrictSpatial}};
  MaskBlurData* data = d.release();
  vsapi->createVideoFilter(out, "MaskBlur", &data->vi, maskBlurGetFrame, maskBlurFree, fmParallel,
                           deps, data->mask ? 2 : 1, data, core);
}

}  // namespace vpfvs
