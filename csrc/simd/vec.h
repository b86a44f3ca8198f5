// Portable SIMD vectors for one ISA build.
//
// Every kernel translation unit defines LL_ISA (a namespace name such as
// `avx2`) and LL_VEC_BYTES (16, 32 or 64) and is compiled with the matching
// -m flags. Everything below lives in `logitloss::LL_ISA`, so the inline
// functions of different ISA builds never merge at link time (an AVX-512
// body must never be picked for a baseline caller).
//
// The vectors are GCC/Clang vector extensions: arithmetic and comparisons are
// lane-wise, `mask ? a : b` selects, and casts between equal-sized vector
// types reinterpret bits. Vectors wider than the hardware's are split by the
// compiler, which is how float lanes get double-precision accumulators of the
// same lane count (`Wide<VF>`).
#pragma once

#include <cstdint>
#include <cstring>

#if !defined(LL_ISA) || !defined(LL_VEC_BYTES)
#error "LL_ISA and LL_VEC_BYTES must be defined by the per-ISA translation unit"
#endif

namespace logitloss {
namespace LL_ISA {

constexpr int kVecBytes = LL_VEC_BYTES;

typedef float vf __attribute__((vector_size(kVecBytes)));
typedef double vd __attribute__((vector_size(kVecBytes)));
typedef int32_t vi32 __attribute__((vector_size(kVecBytes)));
typedef int64_t vi64 __attribute__((vector_size(kVecBytes)));
// Double lanes matching the float lane count (two hardware vectors).
typedef double vd_wide __attribute__((vector_size(2 * kVecBytes)));

// Lane traits: element type, lane count, mask type, bit-integer type and the
// double accumulator with the same number of lanes.
template <class V>
struct Lanes;
template <>
struct Lanes<vf> {
  using elem = float;
  using mask = vi32;
  using acc = vd_wide;
  static constexpr int n = kVecBytes / 4;
};
template <>
struct Lanes<vd> {
  using elem = double;
  using mask = vi64;
  using acc = vd;
  static constexpr int n = kVecBytes / 8;
};

template <class V>
using elem_t = typename Lanes<V>::elem;
template <class V>
using mask_t = typename Lanes<V>::mask;
template <class V>
using acc_t = typename Lanes<V>::acc;
template <class V>
constexpr int lanes_v = Lanes<V>::n;

// The vector type whose lanes hold F (float -> vf, double -> vd).
template <class F>
struct VecOf;
template <>
struct VecOf<float> {
  using type = vf;
};
template <>
struct VecOf<double> {
  using type = vd;
};
template <class F>
using vec_t = typename VecOf<F>::type;

template <class V>
inline V splat(elem_t<V> x) {
  return V{} + x;
}

template <class V>
inline V select(mask_t<V> m, V a, V b) {
  return m ? a : b;
}

// Lane-wise max/min that return `b` when `a` is NaN (callers rely on it).
template <class V>
inline V vmax(V a, V b) {
  return a > b ? a : b;
}
template <class V>
inline V vmin(V a, V b) {
  return a < b ? a : b;
}

template <class V>
inline V abs_v(V a) {
  return a < V{} ? -a : a;
}

template <class V>
inline acc_t<V> widen(V a) {
  return __builtin_convertvector(a, acc_t<V>);
}

template <class V>
inline elem_t<V> reduce_max(V a) {
  elem_t<V> m = a[0];
  for (int i = 1; i < lanes_v<V>; ++i) m = a[i] > m ? a[i] : m;
  return m;
}

// Pairwise horizontal sum: fixed order, so results never depend on where a
// row starts or which thread runs it.
template <class A>
inline double reduce_add(A a) {
  constexpr int n = sizeof(A) / sizeof(double);
  double t[n];
  std::memcpy(t, &a, sizeof a);
  for (int w = n / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
}

template <class V>
inline bool any_lane(mask_t<V> m) {
  for (int i = 0; i < lanes_v<V>; ++i)
    if (m[i]) return true;
  return false;
}

}  // namespace LL_ISA
}  // namespace logitloss
