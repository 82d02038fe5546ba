// Entry point of the native VapourSynth plug-in `vpf` (API v4), built on the vpf_kernels library.
//
// vpf.MaskBlur(clip clip[, data mode="gaussian", float strength=8, float feather=0,
//              clip mask, float[] value, int[] planes])
//   Blurs ("box", "gaussian"), pixelates ("pixelate") or fills ("fill") the regions of each frame
//   given by its VPFBoxes property (flat float array, x1, y1, x2, y2 per box, luma pixels) and/or
//   the GRAY8 luma-size soft `mask` clip (0..255; max-pooled onto subsampled planes). strength and
//   feather are luma pixels. Output is bit-identical to vpfilters.kernels.mask_blur(plane, boxes,
//   subsampling=...) plane by plane. A frame with neither boxes nor mask passes unchanged; a
//   malformed VPFBoxes (length not a multiple of 4, NaN/inf, wrong type) is a frame error.
//   Default fill `value`: black/neutral for the frame's range (limited: Y 16 << (bits-8);
//   full: Y 0; UV 128 << (bits-8); float: 0). The range comes from _Range (0 limited, 1 full,
//   as vs.RANGE_LIMITED / vs.RANGE_FULL), else the legacy _ColorRange (0 full, 1 limited), else
//   limited for YUV and full for GRAY.
//   A shorter `value` array repeats its last entry. Formats: YUV/GRAY, 8..16-bit int, 32-bit float.
//   `boxes` (x1, y1, x2, y2 per box, luma pixels): fixed regions protected on every frame instead
//   of those in VPFBoxes; they are appended to the output's VPFBoxes (and VPFTrackIds, when the
//   frame has it, gets -1 per box), so a chain of MaskBlur(boxes=...) records every stage's boxes
//   without Python. `fillmap`: 4 groups of one value per plane, for frames in BT.709 limited,
//   BT.709 full, BT.601 limited and BT.601 full range; each frame takes the group of its _Matrix
//   (1: BT.709, 5/6: BT.601, else BT.709 from 720 lines up) and _Range/_ColorRange (else limited),
//   as vpfilters.core.frame.color_values does. Not together with `value`.
//
// vpf.HaarDown(clip clip[, int levels=1])
//   Returns the Haar LL band (same format). Planes are first extended by edge replication so the
//   luma size is a multiple of 2^(levels + subsampling); the LL clip is therefore
//   (padded luma size) >> levels. Detail bands travel as frame properties: VPFHaarBands (binary
//   data), VPFHaarLevels, VPFHaarWidth / VPFHaarHeight (original luma size), VPFHaarFormat
//   (VapourSynth format id). Integer input uses lossless lifting (int16 details for 8-bit,
//   int32 for 9..16-bit); float uses the float variant.
//
// vpf.HaarUp(clip clip)
//   Inverse of HaarDown: bit-exact for integer clips when the LL frames still carry HaarDown's
//   properties (the LL samples themselves may have been edited). The output size is read from
//   frame 0's properties when the filter is created; a clip without them is rejected at creation,
//   and any frame without them (or with an inconsistent size/format) is a frame error. Missing
//   details are never treated as zero. The VPFHaar* properties are removed from the output.
//
// All filters are fmParallel, keep every frame property of their source (_Matrix, _Range,
// _Transfer, _Primaries, _DurationNum/Den, ...), and prefix errors with the function name.
#include <VapourSynth4.h>

#include "filters.hpp"

VS_EXTERNAL_API(void) VapourSynthPluginInit2(VSPlugin* plugin, const VSPLUGINAPI* vspapi) {
  vspapi->configPlugin("org.vpfilters.vpf", "vpf", "vpfilters privacy and wavelet filters",
                       VS_MAKE_VERSION(0, 1), VAPOURSYNTH_API_VERSION, 0, plugin);
  vspapi->registerFunction("MaskBlur",
                           "clip:vnode;mode:data:opt;strength:float:opt;feather:float:opt;"
                           "mask:vnode:opt;value:float[]:opt;planes:int[]:opt;boxes:float[]:opt;"
                           "fillmap:float[]:opt;",
                           "clip:vnode;", vpfvs::maskBlurCreate, nullptr, plugin);
  vspapi->registerFunction("HaarDown", "clip:vnode;levels:int:opt;", "clip:vnode;",
                           vpfvs::haarDownCreate, nullptr, plugin);
  vspapi->registerFunction("HaarUp", "clip:vnode;", "clip:vnode;", vpfvs::haarUpCreate, nullptr,
                           plugin);
}
