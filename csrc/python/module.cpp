// vpfilters._native: pybind11 bindings of the C++ kernels with the numpy reference's signatures.
// Arrays are used in place (strided views welcome, pixels within a row must be contiguous);
// outputs are caller-allocated; the GIL is released while a kernel runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "flowcolor_impl.hpp"
#include "vpf_kernels.hpp"

namespace py = pybind11;

namespace {

[[noreturn]] void type_error(const std::string& func, const std::string& name, const std::string& msg) {
  throw py::type_error(func + ": " + name + " " + msg);
}

[[noreturn]] void value_error(const std::string& func, const std::string& name, const std::string& msg) {
  throw py::value_error(func + ": " + name + " " + msg);
}

std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

template <class T>
const char* type_name();
template <> const char* type_name<uint8_t>() { return "uint8"; }
template <> const char* type_name<uint16_t>() { return "uint16"; }
template <> const char* type_name<int16_t>() { return "int16"; }
template <> const char* type_name<int32_t>() { return "int32"; }
template <> const char* type_name<float>() { return "float32"; }

py::array as_array(const py::handle& obj, const char* func, const char* name) {
  if (!py::isinstance<py::array>(obj)) type_error(func, name, "must be a numpy array");
  return py::reinterpret_borrow<py::array>(obj);
}

template <class T>
bool has_dtype(const py::array& a) {
  return py::isinstance<py::array_t<T>>(a);  // equivalent dtype, native byte order
}

// A 2-D view as a kernel plane, without copying.
template <class T>
vpf::Plane<T> plane_of(const py::array& a, const char* func, const char* name, bool writable) {
  if (!has_dtype<std::remove_const_t<T>>(a))
    type_error(func, name, std::string("must have dtype ") + type_name<std::remove_const_t<T>>() +
                               ", got " + dtype_str(a));
  if (a.ndim() != 2) value_error(func, name, "must be 2-D, got shape " + shape_str(a));
  const py::ssize_t h = a.shape(0), w = a.shape(1);
  if (h > INT_MAX / 2 || w > INT_MAX / 2) value_error(func, name, "is too large");
  const py::ssize_t item = static_cast<py::ssize_t>(sizeof(T));
  if (h > 0 && w > 1 && a.strides(1) != item)
    value_error(func, name, "must have contiguous pixels within a row (pixel stride " +
                                std::to_string(a.strides(1)) + " bytes, expected " +
                                std::to_string(item) + ")");
  if (h > 1 && w > 0 && a.strides(0) % item != 0)
    value_error(func, name, "has a row stride that is not a multiple of the pixel size");
  if (writable && !a.writeable()) value_error(func, name, "is read-only");
  T* data = static_cast<T*>(const_cast<void*>(a.data()));
  const std::ptrdiff_t stride = h > 1 ? a.strides(0) / item : w;
  return {data, stride, static_cast<int>(w), static_cast<int>(h)};
}

// Byte range [lo, hi) a view can touch.
struct Span {
  const char* lo;
  const char* hi;
};

template <class T>
Span span_of(const vpf::Plane<T>& p) {
  const char* base = reinterpret_cast<const char*>(p.data);
  if (p.width <= 0 || p.height <= 0) return {base, base};
  const std::ptrdiff_t last = static_cast<std::ptrdiff_t>(p.height - 1) * p.stride * static_cast<std::ptrdiff_t>(sizeof(T));
  return {base + std::min<std::ptrdiff_t>(0, last),
          base + std::max<std::ptrdiff_t>(0, last) + static_cast<std::ptrdiff_t>(p.width) * sizeof(T)};
}

bool overlap(const Span& a, const Span& b) { return a.lo < b.hi && b.lo < a.hi; }

void check_disjoint(const char* func, const std::vector<std::pair<const char*, Span>>& views) {
  for (size_t i = 0; i < views.size(); ++i)
    for (size_t j = i + 1; j < views.size(); ++j)
      if (overlap(views[i].second, views[j].second))
        throw py::value_error(std::string(func) + ": " + views[i].first + " and " + views[j].first +
                              " share memory; pass separate arrays");
}

void check_shape(const char* func, const char* name, const py::array& a, py::ssize_t h, py::ssize_t w) {
  if (a.ndim() != 2 || a.shape(0) != h || a.shape(1) != w)
    value_error(func, name, "must have shape (" + std::to_string(h) + ", " + std::to_string(w) +
                                "), got " + shape_str(a));
}

int check_threads(const char* func, int threads) {
  if (threads < 1) value_error(func, "threads", "must be >= 1, got " + std::to_string(threads));
  return threads;
}

// ------------------------------------------------------------------------------------ Haar

template <class T, class D>
void haar_fwd_typed(const py::array& src, const py::array& ll, const py::array& lh,
                    const py::array& hl, const py::array& hh, int threads) {
  const char* f = "haar_fwd";
  auto s = plane_of<const T>(src, f, "src", false);
  const py::ssize_t bh = (s.height + 1) / 2, bw = (s.width + 1) / 2;
  check_shape(f, "ll", ll, bh, bw);
  check_shape(f, "lh", lh, bh, bw);
  check_shape(f, "hl", hl, bh, bw);
  check_shape(f, "hh", hh, bh, bw);
  auto pll = plane_of<T>(ll, f, "ll", true);
  auto plh = plane_of<D>(lh, f, "lh", true);
  auto phl = plane_of<D>(hl, f, "hl", true);
  auto phh = plane_of<D>(hh, f, "hh", true);
  check_disjoint(f, {{"src", span_of(s)}, {"ll", span_of(pll)}, {"lh", span_of(plh)},
                     {"hl", span_of(phl)}, {"hh", span_of(phh)}});
  py::gil_scoped_release release;
  vpf::haar_fwd(s, pll, plh, phl, phh, threads);
}

void haar_fwd(const py::object& src_o, const py::object& ll_o, const py::object& lh_o,
              const py::object& hl_o, const py::object& hh_o, int threads) {
  const char* f = "haar_fwd";
  py::array src = as_array(src_o, f, "src"), ll = as_array(ll_o, f, "ll"), lh = as_array(lh_o, f, "lh"),
            hl = as_array(hl_o, f, "hl"), hh = as_array(hh_o, f, "hh");
  check_threads(f, threads);
  if (has_dtype<uint8_t>(src))
    haar_fwd_typed<uint8_t, int16_t>(src, ll, lh, hl, hh, threads);
  else if (has_dtype<uint16_t>(src))
    haar_fwd_typed<uint16_t, int32_t>(src, ll, lh, hl, hh, threads);
  else if (has_dtype<float>(src))
    haar_fwd_typed<float, float>(src, ll, lh, hl, hh, threads);
  else
    type_error(f, "src", "must have dtype uint8, uint16 or float32, got " + dtype_str(src));
}

template <class T, class D>
void haar_inv_typed(const py::array& ll, const py::array& lh, const py::array& hl,
                    const py::array& hh, const py::array& dst, int threads) {
  const char* f = "haar_inv";
  auto d = plane_of<T>(dst, f, "dst", true);
  const py::ssize_t bh = (d.height + 1) / 2, bw = (d.width + 1) / 2;
  check_shape(f, "ll", ll, bh, bw);
  check_shape(f, "lh", lh, bh, bw);
  check_shape(f, "hl", hl, bh, bw);
  check_shape(f, "hh", hh, bh, bw);
  auto pll = plane_of<const T>(ll, f, "ll", false);
  auto plh = plane_of<const D>(lh, f, "lh", false);
  auto phl = plane_of<const D>(hl, f, "hl", false);
  auto phh = plane_of<const D>(hh, f, "hh", false);
  check_disjoint(f, {{"dst", span_of(d)}, {"ll", span_of(pll)}});
  check_disjoint(f, {{"dst", span_of(d)}, {"lh", span_of(plh)}});
  check_disjoint(f, {{"dst", span_of(d)}, {"hl", span_of(phl)}});
  check_disjoint(f, {{"dst", span_of(d)}, {"hh", span_of(phh)}});
  py::gil_scoped_release release;
  vpf::haar_inv(pll, plh, phl, phh, d, threads);
}

void haar_inv(const py::object& ll_o, const py::object& lh_o, const py::object& hl_o,
              const py::object& hh_o, const py::object& dst_o, int threads) {
  const char* f = "haar_inv";
  py::array ll = as_array(ll_o, f, "ll"), lh = as_array(lh_o, f, "lh"), hl = as_array(hl_o, f, "hl"),
            hh = as_array(hh_o, f, "hh"), dst = as_array(dst_o, f, "dst");
  check_threads(f, threads);
  if (has_dtype<uint8_t>(ll))
    haar_inv_typed<uint8_t, int16_t>(ll, lh, hl, hh, dst, threads);
  else if (has_dtype<uint16_t>(ll))
    haar_inv_typed<uint16_t, int32_t>(ll, lh, hl, hh, dst, threads);
  else if (has_dtype<float>(ll))
    haar_inv_typed<float, float>(ll, lh, hl, hh, dst, threads);
  else
    type_error(f, "ll", "must have dtype uint8, uint16 or float32, got " + dtype_str(ll));
}

// ------------------------------------------------------------------------------------ masking

std::vector<vpf::Box> boxes_of(const py::object& obj) {
  const char* f = "mask_apply";
  if (obj.is_none()) return {};
  py::array raw = py::isinstance<py::array>(obj) ? py::reinterpret_borrow<py::array>(obj)
                                                  : py::array(py::module_::import("numpy").attr("asarray")(obj));
  const char kind = raw.dtype().kind();
  if (kind != 'i' && kind != 'u' && !(raw.size() == 0))
    type_error(f, "boxes", "must be an integer array (N, 4), got dtype " + dtype_str(raw));
  if (raw.size() == 0) return {};
  if (raw.ndim() != 2 || raw.shape(1) != 4)
    value_error(f, "boxes", "must have shape (N, 4), got " + shape_str(raw));
  // A tiny array: a contiguous int64 copy is cheaper than walking strides by hand.
  auto b = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(raw);
  if (!b) type_error(f, "boxes", "cannot be read as integers");
  std::vector<vpf::Box> out(static_cast<size_t>(b.shape(0)));
  const int64_t* p = b.data();
  for (size_t i = 0; i < out.size(); ++i) {
    int v[4];
    for (int k = 0; k < 4; ++k) {
      const int64_t x = p[4 * i + k];
      if (x < INT_MIN / 4 || x > INT_MAX / 4)
        value_error(f, "boxes", "coordinate " + std::to_string(x) + " is out of range");
      v[k] = static_cast<int>(x);
    }
    out[i] = {v[0], v[1], v[2], v[3]};
  }
  return out;
}

template <class T>
void mask_apply_typed(const py::array& src, const py::array& dst, const std::vector<vpf::Box>& boxes,
                      vpf::MaskParams mp, const py::object& mask_o, const py::object& value) {
  const char* f = "mask_apply";
  auto s = plane_of<const T>(src, f, "src", false);
  check_shape(f, "dst", dst, s.height, s.width);
  auto d = plane_of<T>(dst, f, "dst", true);
  vpf::Plane<const uint8_t> m{nullptr, 0, s.width, s.height};
  if (!mask_o.is_none()) {
    py::array ma = as_array(mask_o, f, "mask");
    check_shape(f, "mask", ma, s.height, s.width);
    m = plane_of<const uint8_t>(ma, f, "mask", false);
  }
  if (mp.mode == vpf::MaskMode::Fill) {
    double v = 0.0;
    try {
      v = value.cast<double>();
    } catch (const py::cast_error&) {
      type_error(f, "value", "must be a number");
    }
    if constexpr (std::is_integral_v<T>) {
      const double hi = std::is_same_v<T, uint8_t> ? 255.0 : 65535.0;
      if (!(v >= 0.0 && v <= hi) || std::nearbyint(v) != v)
        value_error(f, "value", "must be an integer in 0.." + std::to_string(static_cast<int>(hi)) +
                                    " for " + type_name<T>() + " planes");
    } else {
      if (!std::isfinite(v)) value_error(f, "value", "must be finite");
    }
    mp.fill = v;
  }
  py::gil_scoped_release release;
  vpf::mask_apply(s, d, boxes.data(), static_cast<int>(boxes.size()), m, mp);
}

void mask_apply(const py::object& src_o, const py::object& dst_o, const py::object& boxes_o, int mode,
                int param, int passes, int fx, int fy, const py::object& mask, const py::object& value,
                int threads) {
  const char* f = "mask_apply";
  py::array src = as_array(src_o, f, "src"), dst = as_array(dst_o, f, "dst");
  if (mode < 0 || mode > 3) value_error(f, "mode", "must be 0..3 (box, gaussian, pixelate, fill), got " + std::to_string(mode));
  if (param < 0) value_error(f, "param", "must be >= 0, got " + std::to_string(param));
  if (passes < 0) value_error(f, "passes", "must be >= 0, got " + std::to_string(passes));
  if (fx < 0 || fy < 0) value_error(f, "fx/fy", "must be >= 0");
  vpf::MaskParams mp{};
  mp.mode = static_cast<vpf::MaskMode>(mode);
  mp.param = param;
  mp.passes = passes;
  mp.fx = fx;
  mp.fy = fy;
  mp.fill = 0.0;
  mp.threads = check_threads(f, threads);
  const std::vector<vpf::Box> boxes = boxes_of(boxes_o);
  if (has_dtype<uint8_t>(src))
    mask_apply_typed<uint8_t>(src, dst, boxes, mp, mask, value);
  else if (has_dtype<uint16_t>(src))
    mask_apply_typed<uint16_t>(src, dst, boxes, mp, mask, value);
  else if (has_dtype<float>(src))
    mask_apply_typed<float>(src, dst, boxes, mp, mask, value);
  else
    type_error(f, "src", "must have dtype uint8, uint16 or float32, got " + dtype_str(src));
}

// ------------------------------------------------------------------------------------ flow

void check_flow(const char* f, const py::array& flow);

void flow_to_color(const py::object& flow_o, const py::object& lut_o, double max_mag,
                   const py::object& out_o, int threads, double min_mag) {
  const char* f = "flow_to_color";
  py::array flow = as_array(flow_o, f, "flow"), lut = as_array(lut_o, f, "lut"),
            out = as_array(out_o, f, "out");
  check_flow(f, flow);
  const py::ssize_t h = flow.shape(0), w = flow.shape(1);
  if (!has_dtype<uint8_t>(lut)) type_error(f, "lut", "must have dtype uint8, got " + dtype_str(lut));
  if (lut.ndim() != 3 || lut.shape(2) != 3 || lut.shape(0) < 1 || lut.shape(1) < 1)
    value_error(f, "lut", "must have shape (n_dir, n_mag, 3), got " + shape_str(lut));
  if (lut.shape(0) * lut.shape(1) > (INT_MAX / 4)) value_error(f, "lut", "is too large");
  if (!has_dtype<uint8_t>(out)) type_error(f, "out", "must have dtype uint8, got " + dtype_str(out));
  if (out.ndim() != 3 || out.shape(0) != h || out.shape(1) != w || out.shape(2) != 3)
    value_error(f, "out", "must have shape (" + std::to_string(h) + ", " + std::to_string(w) + ", 3), got " + shape_str(out));
  if (out.size() > 0 && ((w > 1 && out.strides(1) != 3) || out.strides(2) != 1))
    value_error(f, "out", "must have contiguous RGB pixels within a row");
  if (!out.writeable()) value_error(f, "out", "is read-only");
  if (std::isnan(max_mag)) value_error(f, "max_mag", "must not be NaN");
  if (std::isnan(min_mag)) value_error(f, "min_mag", "must not be NaN");
  check_threads(f, threads);

  const int n_dir = static_cast<int>(lut.shape(0)), n_mag = static_cast<int>(lut.shape(1));
  // The table is tiny: repack it (any strides) instead of asking for a contiguous one.
  std::vector<uint8_t> table(static_cast<size_t>(n_dir) * n_mag * 3);
  {
    auto l = lut.unchecked<uint8_t, 3>();
    size_t i = 0;
    for (int a = 0; a < n_dir; ++a)
      for (int b = 0; b < n_mag; ++b)
        for (int c = 0; c < 3; ++c) table[i++] = l(a, b, c);
  }
  const float* fp = static_cast<const float*>(flow.data());
  uint8_t* op = static_cast<uint8_t*>(out.mutable_data());
  const std::ptrdiff_t fstride = h > 1 ? flow.strides(0) / 4 : 2 * w;
  const std::ptrdiff_t ostride = h > 1 ? out.strides(0) : 3 * w;
  {
    vpf::Plane<const float> pf{fp, fstride, static_cast<int>(2 * w), static_cast<int>(h)};
    vpf::Plane<uint8_t> po{op, ostride, static_cast<int>(3 * w), static_cast<int>(h)};
    check_disjoint(f, {{"flow", span_of(pf)}, {"out", span_of(po)}});
  }
  const bool has_motion = max_mag > 0.0;
  const float inv = has_motion ? static_cast<float>(1.0 / max_mag) : 0.0f;
  const float min_f = min_mag > 0.0 ? static_cast<float>(min_mag) : 0.0f;  // float32, as numpy
  py::gil_scoped_release release;
  vpf::detail::flow_to_color_scaled(fp, fstride, static_cast<int>(w), static_cast<int>(h),
                                    table.data(), n_dir, n_mag, inv, has_motion, op, ostride, threads,
                                    min_f);
}

// Flow checks shared by flow_to_color and flow_max_magnitude.
void check_flow(const char* f, const py::array& flow) {
  if (!has_dtype<float>(flow)) type_error(f, "flow", "must have dtype float32, got " + dtype_str(flow));
  if (flow.ndim() != 3 || flow.shape(2) != 2)
    value_error(f, "flow", "must have shape (H, W, 2), got " + shape_str(flow));
  if (flow.shape(0) > INT_MAX / 4 || flow.shape(1) > INT_MAX / 4) value_error(f, "flow", "is too large");
  if (flow.size() == 0) return;  // nothing is read: any strides will do
  if ((flow.shape(1) > 1 && flow.strides(1) != 8) || flow.strides(2) != 4)
    value_error(f, "flow", "must have contiguous (u, v) pairs within a row");
  if (flow.shape(0) > 1 && flow.strides(0) % 4 != 0)
    value_error(f, "flow", "has a row stride that is not a multiple of 4 bytes");
}

double flow_max_magnitude(const py::object& flow_o, int threads) {
  const char* f = "flow_max_magnitude";
  py::array flow = as_array(flow_o, f, "flow");
  check_flow(f, flow);
  check_threads(f, threads);
  const py::ssize_t h = flow.shape(0), w = flow.shape(1);
  const float* fp = static_cast<const float*>(flow.data());
  const std::ptrdiff_t fstride = h > 1 ? flow.strides(0) / 4 : 2 * w;
  py::gil_scoped_release release;
  return vpf::flow_max_magnitude(fp, fstride, static_cast<int>(w), static_cast<int>(h), threads);
}

// ------------------------------------------------------------------------------------ block DCT

// dct (4, b) float32 as a contiguous copy (tiny), checked.
std::vector<float> dct_of(const char* f, const py::object& dct_o, int b) {
  py::array dct = as_array(dct_o, f, "dct");
  if (!has_dtype<float>(dct)) type_error(f, "dct", "must have dtype float32, got " + dtype_str(dct));
  if (dct.ndim() != 2 || dct.shape(0) != 4 || dct.shape(1) != b)
    value_error(f, "dct", "must have shape (4, " + std::to_string(b) + "), got " + shape_str(dct));
  std::vector<float> out(static_cast<size_t>(4) * b);
  auto d = dct.unchecked<float, 2>();
  for (int u = 0; u < 4; ++u)
    for (int x = 0; x < b; ++x) out[static_cast<size_t>(u) * b + x] = d(u, x);
  return out;
}

// (hb, wb, 4, 4) C-contiguous float32 coefficients.
void check_coefs(const char* f, const char* name, const py::array& c, py::ssize_t hb, py::ssize_t wb,
                 bool writable) {
  if (!has_dtype<float>(c)) type_error(f, name, "must have dtype float32, got " + dtype_str(c));
  if (c.ndim() != 4 || c.shape(0) != hb || c.shape(1) != wb || c.shape(2) != 4 || c.shape(3) != 4)
    value_error(f, name, "must have shape (" + std::to_string(hb) + ", " + std::to_string(wb) +
                             ", 4, 4), got " + shape_str(c));
  if (!(c.flags() & py::array::c_style)) value_error(f, name, "must be C-contiguous");
  if (writable && !c.writeable()) value_error(f, name, "is read-only");
}

int check_block(const char* f, int b) {
  if (b < 4 || b > 4096) value_error(f, "b", "must be in 4..4096, got " + std::to_string(b));
  return b;
}

template <class T>
void block_lowdct_typed(const py::array& src, int b, const std::vector<float>& d, const py::array& out,
                        int threads) {
  const char* f = "block_lowdct";
  auto s = plane_of<const T>(src, f, "src", false);
  check_coefs(f, "out", out, s.height / b, s.width / b, true);
  float* op = static_cast<float*>(const_cast<void*>(out.data()));
  const char* lo = reinterpret_cast<const char*>(op);
  check_disjoint(f, {{"src", span_of(s)}, {"out", Span{lo, lo + out.nbytes()}}});
  py::gil_scoped_release release;
  vpf::block_lowdct(s, b, d.data(), op, threads);
}

void block_lowdct(const py::object& src_o, int b, const py::object& dct_o, const py::object& out_o,
                  int threads) {
  const char* f = "block_lowdct";
  py::array src = as_array(src_o, f, "src"), out = as_array(out_o, f, "out");
  check_block(f, b);
  check_threads(f, threads);
  const std::vector<float> d = dct_of(f, dct_o, b);
  if (has_dtype<uint8_t>(src))
    block_lowdct_typed<uint8_t>(src, b, d, out, threads);
  else if (has_dtype<uint16_t>(src))
    block_lowdct_typed<uint16_t>(src, b, d, out, threads);
  else if (has_dtype<float>(src))
    block_lowdct_typed<float>(src, b, d, out, threads);
  else
    type_error(f, "src", "must have dtype uint8, uint16 or float32, got " + dtype_str(src));
}

template <class T>
void block_lowdct_apply_typed(const py::array& plane, int b, const std::vector<float>& d,
                              const py::array& coefs, int maxval, int threads) {
  const char* f = "block_lowdct_apply";
  auto p = plane_of<T>(plane, f, "plane", true);
  check_coefs(f, "coefs", coefs, p.height / b, p.width / b, false);
  const int hi = std::is_same_v<T, uint8_t> ? 255 : 65535;
  if (maxval < 0 || maxval > hi)
    value_error(f, "maxval", "must be in 0.." + std::to_string(hi) + " for " + type_name<T>() +
                                 " planes, got " + std::to_string(maxval));
  const float* cp = static_cast<const float*>(coefs.data());
  const char* lo = reinterpret_cast<const char*>(cp);
  check_disjoint(f, {{"plane", span_of(p)}, {"coefs", Span{lo, lo + coefs.nbytes()}}});
  py::gil_scoped_release release;
  vpf::block_lowdct_apply(p, b, d.data(), cp, maxval, threads);
}

void block_lowdct_apply(const py::object& plane_o, int b, const py::object& dct_o,
                        const py::object& coefs_o, int maxval, int threads) {
  const char* f = "block_lowdct_apply";
  py::array plane = as_array(plane_o, f, "plane"), coefs = as_array(coefs_o, f, "coefs");
  check_block(f, b);
  check_threads(f, threads);
  const std::vector<float> d = dct_of(f, dct_o, b);
  if (has_dtype<uint8_t>(plane))
    block_lowdct_apply_typed<uint8_t>(plane, b, d, coefs, maxval, threads);
  else if (has_dtype<uint16_t>(plane))
    block_lowdct_apply_typed<uint16_t>(plane, b, d, coefs, maxval, threads);
  else
    type_error(f, "plane", "must have dtype uint8 or uint16, got " + dtype_str(plane));
}

}  // namespace

PYBIND11_MODULE(_native, m) {
#if defined(__GLIBC__)
  // Frame-sized band arrays are allocated per call. With glibc's defaults (mmap above 128 KiB,
  // trimmed on free) every call page-faults its output in again, which costs more than the Haar
  // work itself (2.3 ms vs 0.3 ms at 1080p). Keep such blocks on the heap and reuse them.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
#endif
  m.doc() = "Native C++ kernels of vpfilters (same signatures as vpfilters.kernels._reference).";
  m.def("haar_fwd", &haar_fwd, py::arg("src"), py::arg("ll"), py::arg("lh"), py::arg("hl"), py::arg("hh"),
        py::arg("threads") = 1,
        "One forward Haar level: src (H, W) -> bands (ceil(H/2), ceil(W/2)) written in place.");
  m.def("haar_inv", &haar_inv, py::arg("ll"), py::arg("lh"), py::arg("hl"), py::arg("hh"), py::arg("dst"),
        py::arg("threads") = 1, "One inverse Haar level: bands -> dst (H, W), written in place.");
  m.def("mask_apply", &mask_apply, py::arg("src"), py::arg("dst"), py::arg("boxes"), py::arg("mode"),
        py::arg("param"), py::arg("passes"), py::arg("fx"), py::arg("fy"), py::arg("mask"),
        py::arg("value"), py::arg("threads") = 1,
        "Composite the processed plane over src into dst (dst may be src) with box/mask alpha.");
  m.def("flow_to_color", &flow_to_color, py::arg("flow"), py::arg("lut"), py::arg("max_mag"),
        py::arg("out"), py::arg("threads") = 1, py::arg("min_mag") = 0.0,
        "Colour a (H, W, 2) float32 flow field through a (n_dir, n_mag, 3) uint8 table into out; "
        "min_mag > 0: pixels slower than it get entry (0, 0), others a magnitude bin >= 1.");
  m.def("flow_max_magnitude", &flow_max_magnitude, py::arg("flow"), py::arg("threads") = 1,
        "Default max_mag of flow_to_color: float32 sqrt(max(u*u + v*v)), non-finite parts as 0.");
  m.def("block_lowdct", &block_lowdct, py::arg("src"), py::arg("b"), py::arg("dct"), py::arg("out"),
        py::arg("threads") = 1,
        "4x4 lowest DCT coefficients of every whole b x b block of src into out (hb, wb, 4, 4).");
  m.def("block_lowdct_apply", &block_lowdct_apply, py::arg("plane"), py::arg("b"), py::arg("dct"),
        py::arg("coefs"), py::arg("maxval"), py::arg("threads") = 1,
        "plane += inverse of coefs (hb, wb, 4, 4) per whole block, rounded and clipped, in place.");
}
