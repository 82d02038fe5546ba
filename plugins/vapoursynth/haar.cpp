// vpf.HaarDown / vpf.HaarUp: Haar LL band as a clip, detail bands carried in frame properties.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "filters.hpp"
#include "vs_util.hpp"

namespace vpfvs {
namespace {

constexpr const char* kBandsKey = "VPFHaarBands";
constexpr const char* kLevelsKey = "VPFHaarLevels";
constexpr const char* kWidthKey = "VPFHaarWidth";
constexpr const char* kHeightKey = "VPFHaarHeight";
constexpr const char* kFormatKey = "VPFHaarFormat";
constexpr int kMaxLevels = 15;

// Where every plane and level lives: the padded plane sizes and the layout of the bands blob.
//
// Odd-size rule: each plane is extended by replicating its last column/row so that the luma size
// is a multiple of 2^(levels + subsampling) (and the chroma size of 2^levels). Every level then
// halves every plane exactly and the LL clip keeps VapourSynth's chroma = luma >> subsampling.
// The original size is recorded in VPFHaarWidth/VPFHaarHeight and HaarUp crops back to it.
// For GRAY and 4:4:4 the LL band equals vpfilters.kernels.haar_forward(plane, levels).ll.
//
// Blob layout (native byte order, no padding): for each plane, for each level from the finest,
// the bands lh, hl, hh, each (padH_p >> (l+1)) rows of (padW_p >> (l+1)) samples; samples are
// int16 for 8-bit input, int32 for 9..16-bit input and float32 for float input.
struct Geometry {
  VSVideoFormat format{};
  int levels = 0;
  int width = 0, height = 0;  // original luma size
  int padW = 0, padH = 0;     // padded luma size
  int detailBytes = 0;
  int64_t offset[3][kMaxLevels] = {};
  int64_t totalBytes = 0;

  int planeW(int p) const { return padW >> planeSsw(format, p); }
  int planeH(int p) const { return padH >> planeSsh(format, p); }
  int origW(int p) const { return width >> planeSsw(format, p); }
  int origH(int p) const { return height >> planeSsh(format, p); }
  int llW() const { return padW >> levels; }
  int llH() const { return padH >> levels; }
};

// Empty string on success, else why the geometry is impossible.
std::string makeGeometry(const VSVideoFormat& f, int w, int h, int levels, Geometry* g) {
  if (levels < 1 || levels > kMaxLevels)
    return "levels must be in 1.." + std::to_string(kMaxLevels) + ", got " + std::to_string(levels);
  const int64_t mx = int64_t{1} << (levels + f.subSamplingW);
  const int64_t my = int64_t{1} << (levels + f.subSamplingH);
  const int64_t pw = (w + mx - 1) / mx * mx, ph = (h + my - 1) / my * my;
  if (pw > INT_MAX / 2 || ph > INT_MAX / 2) return "padded frame size is too large";
  g->format = f;
  g->levels = levels;
  g->width = w;
  g->height = h;
  g->padW = static_cast<int>(pw);
  g->padH = static_cast<int>(ph);
  g->detailBytes = f.sampleType == stFloat ? 4 : (f.bytesPerSample == 1 ? 2 : 4);
  int64_t off = 0;
  for (int p = 0; p < f.numPlanes; ++p)
    for (int l = 0; l < levels; ++l) {
      g->offset[p][l] = off;
      off += 3 * int64_t{g->planeW(p) >> (l + 1)} * (g->planeH(p) >> (l + 1)) * g->detailBytes;
    }
  g->totalBytes = off;
  if (off > INT_MAX) return "detail bands would exceed 2 GiB per frame; use a smaller clip";
  return {};
}

template <typename D>
struct Bands {
  vpf::Plane<D> lh, hl, hh;
};

template <typename D, typename Byte>
Bands<D> bandsAt(const Geometry& g, Byte* blob, int p, int l) {
  const int bw = g.planeW(p) >> (l + 1), bh = g.planeH(p) >> (l + 1);
  D* base = reinterpret_cast<D*>(blob + g.offset[p][l]);
  const std::ptrdiff_t n = static_cast<std::ptrdiff_t>(bw) * bh;
  return {{base, bw, bw, bh}, {base + n, bw, bw, bh}, {base + 2 * n, bw, bw, bh}};
}

// ------------------------------------------------------------------------------------ HaarDown

struct HaarDownData {
  VSNode* node = nullptr;
  VSVideoInfo vi{};  // output (LL) clip
  Geometry g;
  int64_t formatId = 0;
};

template <typename T, typename D>
void haarDownPlane(const Geometry& g, int p, vpf::Plane<const T> src, vpf::Plane<T> llOut,
                   char* blob) {
  const int pw = g.planeW(p), ph = g.planeH(p);
  std::vector<T> padded;
  vpf::Plane<const T> cur = src;
  if (pw != src.width || ph != src.height) {
    padded.resize(static_cast<size_t>(pw) * ph);
    for (int y = 0; y < ph; ++y) {
      const T* s = src.row(std::min(y, src.height - 1));
      T* d = padded.data() + static_cast<size_t>(y) * pw;
      std::memcpy(d, s, sizeof(T) * src.width);
      std::fill(d + src.width, d + pw, s[src.width - 1]);
    }
    cur = {padded.data(), pw, pw, ph};
  }
  std::vector<T> tmp[2];
  for (int l = 0; l < g.levels; ++l) {
    const int bw = pw >> (l + 1), bh = ph >> (l + 1);
    vpf::Plane<T> ll = llOut;
    if (l + 1 < g.levels) {
      tmp[l % 2].resize(static_cast<size_t>(bw) * bh);
      ll = {tmp[l % 2].data(), bw, bw, bh};
    }
    Bands<D> b = bandsAt<D>(g, blob, p, l);
    vpf::haar_fwd(cur, ll, b.lh, b.hl, b.hh);
    cur = asConst(ll);
  }
}

const VSFrame* VS_CC haarDownGetFrame(int n, int activationReason, void* instanceData, void**,
                                      VSFrameContext* frameCtx, VSCore* core, const VSAPI* vsapi) {
  auto* d = static_cast<HaarDownData*>(instanceData);
  if (activationReason == arInitial) {
    vsapi->requestFrameFilter(n, d->node, frameCtx);
    return nullptr;
  }
  if (activationReason != arAllFramesReady) return nullptr;
  FrameRef src(vsapi->getFrameFilter(n, d->node, frameCtx), vsapi);
  try {
    const Geometry& g = d->g;
    const VSVideoFormat& f = g.format;
    MutableFrameRef dst(vsapi->newVideoFrame(&f, d->vi.width, d->vi.height, src.get(), core),
                        vsapi);
    std::vector<char> blob(static_cast<size_t>(g.totalBytes));
    for (int p = 0; p < f.numPlanes; ++p) {
      if (f.sampleType == stFloat)
        haarDownPlane<float, float>(g, p, readPlane<float>(src.get(), p, vsapi),
                                    writePlane<float>(dst.get(), p, vsapi), blob.data());
      else if (f.bytesPerSample == 1)
        haarDownPlane<uint8_t, int16_t>(g, p, readPlane<uint8_t>(src.get(), p, vsapi),
                                        writePlane<uint8_t>(dst.get(), p, vsapi), blob.data());
      else
        haarDownPlane<uint16_t, int32_t>(g, p, readPlane<uint16_t>(src.get(), p, vsapi),
                                         writePlane<uint16_t>(dst.get(), p, vsapi), blob.data());
    }
    VSMap* props = vsapi->getFramePropertiesRW(dst.get());
    vsapi->mapSetInt(props, kLevelsKey, g.levels, maReplace);
    vsapi->mapSetInt(props, kWidthKey, g.width, maReplace);
    vsapi->mapSetInt(props, kHeightKey, g.height, maReplace);
    vsapi->mapSetInt(props, kFormatKey, d->formatId, maReplace);
    vsapi->mapSetData(props, kBandsKey, blob.data(), static_cast<int>(blob.size()), dtBinary,
                      maReplace);
    return dst.release();
  } catch (const std::exception& e) {
    vsapi->setFilterError(("HaarDown: frame " + std::to_string(n) + ": " + e.what()).c_str(),
                          frameCtx);
  }
  return nullptr;
}

void VS_CC haarDownFree(void* instanceData, VSCore*, const VSAPI* vsapi) {
  auto* d = static_cast<HaarDownData*>(instanceData);
  vsapi->freeNode(d->node);
  delete d;
}

// ------------------------------------------------------------------------------------ HaarUp

struct HaarUpData {
  VSNode* node = nullptr;
  VSVideoInfo vi{};  // output (restored) clip
  Geometry g;
  int64_t formatId = 0;
};

template <typename T, typename D>
void haarUpPlane(const Geometry& g, int p, vpf::Plane<const T> llIn, const char* blob,
                 vpf::Plane<T> out) {
  const int pw = g.planeW(p), ph = g.planeH(p);
  std::vector<T> tmp[2];
  vpf::Plane<const T> cur = llIn;
  for (int l = g.levels - 1; l >= 0; --l) {
    Bands<const D> b = bandsAt<const D>(g, blob, p, l);
    if (l > 0) {
      const int w = pw >> l, h = ph >> l;
      tmp[l % 2].resize(static_cast<size_t>(w) * h);
      vpf::Plane<T> dst{tmp[l % 2].data(), w, w, h};
      vpf::haar_inv(cur, b.lh, b.hl, b.hh, dst);
      cur = asConst(dst);
    } else {
      // Last level: invert only the blocks that cover the original plane, straight into the
      // output (blocks are independent, so this equals inverting everything and cropping).
      const int cw = (out.width + 1) / 2, ch = (out.height + 1) / 2;
      vpf::haar_inv(crop(cur, cw, ch), crop(b.lh, cw, ch), crop(b.hl, cw, ch), crop(b.hh, cw, ch),
                    out);
    }
  }
}

int64_t getIntProp(const VSMap* props, const char* key, int n, const char* func,
                   const VSAPI* vsapi) {
  int err = 0;
  const int64_t v = vsapi->mapGetInt(props, key, 0, &err);
  if (err)
    throw FrameError(std::string(func) + ": frame " + std::to_string(n) +
                     " has no integer property " + key +
                     "; HaarUp needs the properties written by vpf.HaarDown");
  return v;
}

// The geometry recorded on a frame; throws FrameError naming the missing/inconsistent property.
Geometry frameGeometry(const VSMap* props, const VSVideoFormat& f, int64_t formatId, int llW,
                       int llH, int n, const VSAPI* vsapi) {
  const int64_t levels = getIntProp(props, kLevelsKey, n, "HaarUp", vsapi);
  const int64_t w = getIntProp(props, kWidthKey, n, "HaarUp", vsapi);
  const int64_t h = getIntProp(props, kHeightKey, n, "HaarUp", vsapi);
  const int64_t fid = getIntProp(props, kFormatKey, n, "HaarUp", vsapi);
  const std::string at = "HaarUp: frame " + std::to_string(n) + ": ";
  if (fid != formatId)
    throw FrameError(at + "the clip's format differs from the one HaarDown saw (" + kFormatKey +
                     "); HaarUp needs the LL clip in its original format");
  if (levels < 1 || levels > kMaxLevels || w < 1 || h < 1 || w > INT_MAX / 2 || h > INT_MAX / 2)
    throw FrameError(at + "invalid " + kLevelsKey + "/" + kWidthKey + "/" + kHeightKey);
  Geometry g;
  std::string err =
      makeGeometry(f, static_cast<int>(w), static_cast<int>(h), static_cast<int>(levels), &g);
  if (!err.empty()) throw FrameError(at + err);
  if (g.llW() != llW || g.llH() != llH)
    throw FrameError(at + "a " + std::to_string(llW) + "x" + std::to_string(llH) +
                     " LL frame cannot come from a " + std::to_string(w) + "x" + std::to_string(h) +
                     " frame over " + std::to_string(levels) +
                     " levels (was the LL clip resized?)");
  return g;
}

const VSFrame* VS_CC haarUpGetFrame(int n, int activationReason, void* instanceData, void**,
                                    VSFrameContext* frameCtx, VSCore* core, const VSAPI* vsapi) {
  auto* d = static_cast<HaarUpData*>(instanceData);
  if (activationReason == arInitial) {
    vsapi->requestFrameFilter(n, d->node, frameCtx);
    return nullptr;
  }
  if (activationReason != arAllFramesReady) return nullptr;
  FrameRef src(vsapi->getFrameFilter(n, d->node, frameCtx), vsapi);
  try {
    const VSVideoFormat& f = d->vi.format;
    const VSMap* in = vsapi->getFramePropertiesRO(src.get());
    const std::string at = "HaarUp: frame " + std::to_string(n) + ": ";
    const Geometry g = frameGeometry(in, f, d->formatId, vsapi->getFrameWidth(src.get(), 0),
                                     vsapi->getFrameHeight(src.get(), 0), n, vsapi);
    if (g.width != d->vi.width || g.height != d->vi.height)
      throw FrameError(at + "recorded size " + std::to_string(g.width) + "x" +
                       std::to_string(g.height) + " differs from frame 0's " +
                       std::to_string(d->vi.width) + "x" + std::to_string(d->vi.height));
    int err = 0;
    const char* data = vsapi->mapGetData(in, kBandsKey, 0, &err);
    if (err)
      throw FrameError("HaarUp: frame " + std::to_string(n) + " has no " + kBandsKey +
                       " (detail bands); HaarUp needs the properties "
                       "written by vpf.HaarDown");
    const int size = vsapi->mapGetDataSize(in, kBandsKey, 0, nullptr);
    if (size != g.totalBytes)
      throw FrameError(at + kBandsKey + " holds " + std::to_string(size) + " bytes, expected " +
                       std::to_string(g.totalBytes));
    std::vector<uint32_t> aligned;  // frame-property data carries no alignment promise
    if (reinterpret_cast<uintptr_t>(data) % alignof(uint32_t) != 0) {
      aligned.resize((static_cast<size_t>(size) + 3) / 4);
      std::memcpy(aligned.data(), data, static_cast<size_t>(size));
      data = reinterpret_cast<const char*>(aligned.data());
    }

    MutableFrameRef dst(vsapi->newVideoFrame(&f, d->vi.width, d->vi.height, src.get(), core),
                        vsapi);
    for (int p = 0; p < f.numPlanes; ++p) {
      if (f.sampleType == stFloat)
        haarUpPlane<float, float>(g, p, readPlane<float>(src.get(), p, vsapi), data,
                                  writePlane<float>(dst.get(), p, vsapi));
      else if (f.bytesPerSample == 1)
        haarUpPlane<uint8_t, int16_t>(g, p, readPlane<uint8_t>(src.get(), p, vsapi), data,
                                      writePlane<uint8_t>(dst.get(), p, vsapi));
      else
        haarUpPlane<uint16_t, int32_t>(g, p, readPlane<uint16_t>(src.get(), p, vsapi), data,
                                       writePlane<uint16_t>(dst.get(), p, vsapi));
    }
    VSMap* props = vsapi->getFramePropertiesRW(dst.get());
    for (const char* key : {kBandsKey, kLevelsKey, kWidthKey, kHeightKey, kFormatKey})
      vsapi->mapDeleteKey(props, key);
    return dst.release();
  } catch (const FrameError& e) {
    vsapi->setFilterError(e.what(), frameCtx);
  } catch (const std::exception& e) {
    vsapi->setFilterError(("HaarUp: frame " + std::to_string(n) + ": " + e.what()).c_str(),
                          frameCtx);
  }
  return nullptr;
}

void VS_CC haarUpFree(void* instanceData, VSCore*, const VSAPI* vsapi) {
  auto* d = static_cast<HaarUpData*>(instanceData);
  vsapi->freeNode(d->node);
  delete d;
}

int64_t formatIdOf(const VSVideoFormat& f, VSCore* core, const VSAPI* vsapi) {
  return vsapi->queryVideoFormatID(f.colorFamily, f.sampleType, f.bitsPerSample, f.subSamplingW,
                                   f.subSamplingH, core);
}

}  // namespace

void VS_CC haarDownCreate(const VSMap* in, VSMap* out, void*, VSCore* core, const VSAPI* vsapi) {
  auto d = std::make_unique<HaarDownData>();
  d->node = vsapi->mapGetNode(in, "clip", 0, nullptr);
  const VSVideoInfo* vi = vsapi->getVideoInfo(d->node);
  std::string msg = checkPlanarFormat(vi, "HaarDown", vsapi);
  int err = 0;
  int64_t levels = vsapi->mapGetInt(in, "levels", 0, &err);
  if (err) levels = 1;
  if (msg.empty() && (levels < 1 || levels > kMaxLevels))
    msg = "HaarDown: levels must be in 1.." + std::to_string(kMaxLevels) + ", got " +
          std::to_string(levels);
  if (msg.empty()) {
    msg = makeGeometry(vi->format, vi->width, vi->height, static_cast<int>(levels), &d->g);
    if (!msg.empty()) msg = "HaarDown: " + msg;
  }
  if (!msg.empty()) {
    vsapi->mapSetError(out, msg.c_str());
    vsapi->freeNode(d->node);
    return;
  }
  d->vi = *vi;
  d->vi.width = d->g.llW();
  d->vi.height = d->g.llH();
  d->formatId = formatIdOf(vi->format, core, vsapi);
  VSFilterDependency deps[1] = {{d->node, rpStrictSpatial}};
  HaarDownData* data = d.release();
  vsapi->createVideoFilter(out, "HaarDown", &data->vi, haarDownGetFrame, haarDownFree, fmParallel,
                           deps, 1, data, core);
}

void VS_CC haarUpCreate(const VSMap* in, VSMap* out, void*, VSCore* core, const VSAPI* vsapi) {
  auto d = std::make_unique<HaarUpData>();
  d->node = vsapi->mapGetNode(in, "clip", 0, nullptr);
  const VSVideoInfo* vi = vsapi->getVideoInfo(d->node);
  auto fail = [&](const std::string& m) {
    vsapi->mapSetError(out, m.c_str());
    vsapi->freeNode(d->node);
  };
  if (std::string msg = checkPlanarFormat(vi, "HaarUp", vsapi); !msg.empty()) return fail(msg);
  d->formatId = formatIdOf(vi->format, core, vsapi);

  // The output size is recorded on the frames, not in the clip: read it from frame 0.
  char errBuf[1024] = {0};
  const VSFrame* f0 = vsapi->getFrame(0, d->node, errBuf, sizeof errBuf);
  if (!f0) return fail(std::string("HaarUp: could not get frame 0 to read its size: ") + errBuf);
  FrameRef frame0(f0, vsapi);
  try {
    const VSMap* props = vsapi->getFramePropertiesRO(f0);
    d->g = frameGeometry(props, vi->format, d->formatId, vi->width, vi->height, 0, vsapi);
    if (vsapi->mapGetType(props, kBandsKey) != ptData)
      throw FrameError(std::string("HaarUp: frame 0 has no ") + kBandsKey +
                       " (detail bands); HaarUp needs the properties written by vpf.HaarDown");
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  d->vi = *vi;
  d->vi.width = d->g.width;
  d->vi.height = d->g.height;
  VSFilterDependency deps[1] = {{d->node, rpStrictSpatial}};
  HaarUpData* data = d.release();
  vsapi->createVideoFilter(out, "HaarUp", &data->vi, haarUpGetFrame, haarUpFree, fmParallel, deps,
                           1, data, core);
}

}  // namespace vpfvs
