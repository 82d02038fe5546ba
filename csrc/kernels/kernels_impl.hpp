// Private helpers shared by the kernel sources: runtime ISA dispatch and row-parallel loops.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

// Hot loops are compiled twice (AVX2 and baseline) and picked at load time, so the shipped
// library stays portable without -march=native. target_clones needs GCC's ifunc support.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define VPF_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VPF_CLONES
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VPF_RESTRICT __restrict__
#define VPF_INLINE inline __attribute__((always_inline))
#else
#define VPF_RESTRICT
#define VPF_INLINE inline
#endif

namespace vpf::detail {

inline int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Runs f(i) for i in [0, n) on up to `threads` threads (the caller being one of them), each
// thread taking a contiguous chunk. Exceptions thrown by f are rethrown in the caller.
template <class F>
void parallel_chunks(int n, int threads, F&& f) {
  const int t = std::max(1, std::min(threads, n));
  if (t <= 1) {
    for (int i = 0; i < n; ++i) f(i);
    return;
  }
  std::vector<std::exception_ptr> errors(t);
  auto run = [&](int k) {
    const int b = static_cast<int>(static_cast<int64_t>(n) * k / t);
    const int e = static_cast<int>(static_cast<int64_t>(n) * (k + 1) / t);
    try {
      for (int i = b; i < e; ++i) f(i);
    } catch (...) {
      errors[k] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(t - 1);
  int started = 1;
  for (int k = 1; k < t; ++k) {
    try {
      pool.emplace_back(run, k);
      ++started;
    } catch (...) {
      break;  // could not start a thread: the caller runs the remaining chunks itself
    }
  }
  run(0);
  for (int k = started; k < t; ++k) run(k);
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

// Rows [0, n) split into `threads` contiguous ranges: f(begin, end).
template <class F>
void parallel_rows(int n, int threads, F&& f) {
  const int t = std::max(1, std::min(threads, n));
  parallel_chunks(t, t, [&](int k) {
    const int b = static_cast<int>(static_cast<int64_t>(n) * k / t);
    const int e = static_cast<int>(static_cast<int64_t>(n) * (k + 1) / t);
    if (e > b) f(b, e);
  });
}

}  // namespace vpf::detail
