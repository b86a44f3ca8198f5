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
// types reinterpret bits. Float lanes accumulate in double lanes of the same
// count (`acc_t<vf>`): with 64-byte vectors a generic vector twice the
// hardware width, which GCC splits well; below that `AccF`, two native double
// vectors, because GCC scalarises conversions to the wide type under AVX2
// (measured: 1.7 vs 1.0 ns per element for the row-sum loop).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
#endif

#if !defined(LL_ISA) || !defined(LL_VEC_BYTES)
#error "LL_ISA and LL_VEC_BYTES must be defined by the per-ISA translation unit"
#endif

// For the vector math's entry points: GCC otherwise outlines exp/log bodies
// at some call sites, passing every vector through memory.
#define LL_VECMATH inline __attribute__((always_inline))

namespace logitloss {
namespace LL_ISA {

constexpr int kVecBytes = LL_VEC_BYTES;

typedef float vf __attribute__((vector_size(kVecBytes)));
typedef double vd __attribute__((vector_size(kVecBytes)));
typedef int32_t vi32 __attribute__((vector_size(kVecBytes)));
typedef int64_t vi64 __attribute__((vector_size(kVecBytes)));
typedef float vf_half __attribute__((vector_size(kVecBytes / 2)));
typedef double vd_wide __attribute__((vector_size(2 * kVecBytes)));

// Double accumulator with as many lanes as vf: lanes [0, n/2) in lo, the
// rest in hi. Supports what the kernels need of an accumulator.
struct AccF {
  static constexpr int half = kVecBytes / 8;
  vd lo{}, hi{};
  AccF& operator+=(const AccF& o) {
    lo += o.lo;
    hi += o.hi;
    return *this;
  }
  AccF operator+(const AccF& o) const { return {lo + o.lo, hi + o.hi}; }
  AccF operator-(const AccF& o) const { return {lo - o.lo, hi - o.hi}; }
  AccF operator-(double d) const { return {lo - d, hi - d}; }
  friend AccF operator/(double a, const AccF& b) { return {a / b.lo, a / b.hi}; }
  double operator[](int j) const { return j < half ? lo[j] : hi[j - half]; }
  // (Through an array: GCC 12 for aarch64 takes the lane store into a
  // value-initialised AccF for a read of uninitialised memory and warns.)
  void set(int j, double v) {
    double lanes[2 * half];
    std::memcpy(lanes, &lo, sizeof lo);
    std::memcpy(lanes + half, &hi, sizeof hi);
    lanes[j] = v;
    std::memcpy(&lo, lanes, sizeof lo);
    std::memcpy(&hi, lanes + half, sizeof hi);
  }
};

// Lane traits: element type, lane count, mask type, bit-integer type and the
// double accumulator with the same number of lanes.
template <class V>
struct Lanes;
template <>
struct Lanes<vf> {
  using elem = float;
  using mask = vi32;
#if LL_VEC_BYTES >= 64
  using acc = vd_wide;
#else
  using acc = AccF;
#endif
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
// x86's max/min instructions have exactly these semantics; GCC will not use
// them for the ternary (it must keep the -0/+0 order), so name them.
template <class V>
inline V vmax(V a, V b) {
  return a > b ? a : b;
}
template <class V>
inline V vmin(V a, V b) {
  return a < b ? a : b;
}
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
// (The masked builtins with a zero pass-through: GCC 12's _mm512_max_ps
// passes an undefined vector there and warns about it.)
template <> inline vf vmax(vf a, vf b) {
  return (vf)__builtin_ia32_maxps512_mask((__v16sf)a, (__v16sf)b, (__v16sf){}, (__mmask16)-1,
                                          _MM_FROUND_CUR_DIRECTION);
}
template <> inline vf vmin(vf a, vf b) {
  return (vf)__builtin_ia32_minps512_mask((__v16sf)a, (__v16sf)b, (__v16sf){}, (__mmask16)-1,
                                          _MM_FROUND_CUR_DIRECTION);
}
template <> inline vd vmax(vd a, vd b) {
  return (vd)__builtin_ia32_maxpd512_mask((__v8df)a, (__v8df)b, (__v8df){}, (__mmask8)-1,
                                          _MM_FROUND_CUR_DIRECTION);
}
template <> inline vd vmin(vd a, vd b) {
  return (vd)__builtin_ia32_minpd512_mask((__v8df)a, (__v8df)b, (__v8df){}, (__mmask8)-1,
                                          _MM_FROUND_CUR_DIRECTION);
}
#elif defined(__AVX__) && LL_VEC_BYTES == 32
template <> inline vf vmax(vf a, vf b) { return (vf)_mm256_max_ps((__m256)a, (__m256)b); }
template <> inline vf vmin(vf a, vf b) { return (vf)_mm256_min_ps((__m256)a, (__m256)b); }
template <> inline vd vmax(vd a, vd b) { return (vd)_mm256_max_pd((__m256d)a, (__m256d)b); }
template <> inline vd vmin(vd a, vd b) { return (vd)_mm256_min_pd((__m256d)a, (__m256d)b); }
#elif defined(__SSE2__) && LL_VEC_BYTES == 16
template <> inline vf vmax(vf a, vf b) { return (vf)_mm_max_ps((__m128)a, (__m128)b); }
template <> inline vf vmin(vf a, vf b) { return (vf)_mm_min_ps((__m128)a, (__m128)b); }
template <> inline vd vmax(vd a, vd b) { return (vd)_mm_max_pd((__m128d)a, (__m128d)b); }
template <> inline vd vmin(vd a, vd b) { return (vd)_mm_min_pd((__m128d)a, (__m128d)b); }
#endif

// |a| and -|a| as sign-bit operations (one instruction each; a compare and
// blend otherwise): -0 maps to +0 resp. -0, NaN stays NaN.
// (Not splat<V>(-0.0): that is 0 + -0 = +0.)
template <class V>
inline mask_t<V> sign_bits() {
  using M = mask_t<V>;
  using I = std::remove_cv_t<std::remove_reference_t<decltype(M{}[0])>>;
  return M{} + std::numeric_limits<I>::min();
}
template <class V>
inline V abs_v(V a) {
  return (V)((mask_t<V>)a & ~sign_bits<V>());
}
template <class V>
inline V neg_abs_v(V a) {
  return (V)((mask_t<V>)a | sign_bits<V>());
}

// b with the lanes where mask m is set cleared. Spelled as vandnps: GCC
// makes the generic form a zero register and a vpblendvb under AVX2.
template <class V>
inline V andnot(mask_t<V> m, V b) {
  return (V)(~m & (mask_t<V>)b);
}
#if defined(__AVX__) && LL_VEC_BYTES == 32
template <> inline vf andnot(vi32 m, vf b) { return (vf)_mm256_andnot_ps((__m256)m, (__m256)b); }
#endif

// Float lanes to double accumulator lanes, and back (rounding).
#if LL_VEC_BYTES >= 64
inline vd_wide widen(vf a) { return __builtin_convertvector(a, vd_wide); }
template <class V>
inline V narrow(vd_wide a) {
  return __builtin_convertvector(a, V);
}
inline void set_lane(vd_wide& a, int j, double v) { a[j] = v; }
inline double reduce_add(vd_wide a);
#else
#if defined(__AVX__) && LL_VEC_BYTES == 32
// GCC lowers the generic conversion below to 128-bit pieces and shuffles.
inline AccF widen(vf a) {
  const __m256 v = (__m256)a;
  return {(vd)_mm256_cvtps_pd(_mm256_castps256_ps128(v)),
          (vd)_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))};
}
#else
inline AccF widen(vf a) {
  vf_half h0, h1;
  std::memcpy(&h0, &a, sizeof h0);
  std::memcpy(&h1, reinterpret_cast<const char*>(&a) + sizeof h0, sizeof h1);
  return {__builtin_convertvector(h0, vd), __builtin_convertvector(h1, vd)};
}
#endif
#endif
inline vd widen(vd a) { return a; }

// Float lanes to an AccF at every width (the two halves' conversions), and
// double lanes to themselves: for sums that stay in registers.
#if LL_VEC_BYTES >= 64
inline AccF widen_acc(vf a) {
  vf_half h0;
  std::memcpy(&h0, &a, sizeof h0);
  // (The builtin with a zero pass-through: the intrinsic's undefined one
  // draws a GCC 12 warning.)
  const __m256d h1 = __builtin_ia32_extractf64x4_mask((__v8df)a, 1, (__v4df){}, (__mmask8)-1);
  return {(vd)__builtin_ia32_cvtps2pd512_mask((__v8sf)h0, (__v8df){}, (__mmask8)-1, _MM_FROUND_CUR_DIRECTION),
          (vd)__builtin_ia32_cvtps2pd512_mask((__v8sf)h1, (__v8df){}, (__mmask8)-1, _MM_FROUND_CUR_DIRECTION)};
}
#else
inline AccF widen_acc(vf a) { return widen(a); }
#endif
inline vd widen_acc(vd a) { return a; }

template <class V>
inline V narrow(const AccF& a) {
  const vf_half h0 = __builtin_convertvector(a.lo, vf_half);
  const vf_half h1 = __builtin_convertvector(a.hi, vf_half);
  V v;
  std::memcpy(&v, &h0, sizeof h0);
  std::memcpy(reinterpret_cast<char*>(&v) + sizeof h0, &h1, sizeof h1);
  return v;
}
template <class V>
inline V narrow(vd a) {
  return a;
}

inline void set_lane(vd& a, int j, double v) { a[j] = v; }
inline void set_lane(AccF& a, int j, double v) { a.set(j, v); }

// The largest lane (of NaN-free lanes), as a tree: log2(lanes) dependent
// steps where a running max took one per lane.
template <class V>
inline elem_t<V> reduce_max(V a) {
  using E = elem_t<V>;
  constexpr int n = lanes_v<V>;
  E t[n];
  std::memcpy(t, &a, sizeof a);
  for (int w = n / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) t[i] = t[i + w] > t[i] ? t[i + w] : t[i];
  return t[0];
}

// Pairwise horizontal sum: fixed order, so results never depend on where a
// row starts or which thread runs it.
inline double reduce_add(vd a) {
  constexpr int n = kVecBytes / 8;
  double t[n];
  std::memcpy(t, &a, sizeof a);
  for (int w = n / 2; w >= 1; w /= 2)
    for (int i = 0; i < w; ++i) t[i] += t[i + w];
  return t[0];
}
inline double reduce_add(const AccF& a) { return reduce_add(a.lo + a.hi); }
#if LL_VEC_BYTES >= 64
inline double reduce_add(vd_wide a) {
  vd lo, hi;
  std::memcpy(&lo, &a, sizeof lo);
  std::memcpy(&hi, reinterpret_cast<const char*>(&a) + sizeof lo, sizeof hi);
  return reduce_add(lo + hi);
}
#endif

template <class V>
inline bool any_lane(mask_t<V> m) {
  for (int i = 0; i < lanes_v<V>; ++i)
    if (m[i]) return true;
  return false;
}

}  // namespace LL_ISA
}  // namespace logitloss
