// Vectorised log and log1p for float and double lanes.
//
// Note [Vector log]
// log(x): x = 2^k * m with m in [sqrt(1/2), sqrt(2)) (subnormals are first
// scaled by 2^25 / 2^54), f = m - 1 (exact), and fdlibm's e_log.c scheme:
// s = f / (2 + f), log(1 + f) = f - (hfsq - s * (hfsq + R(s^2))) with
// hfsq = f^2 / 2 and R a minimax polynomial in s^2 on |s| <= 0.1716
// (FreeBSD e_logf.c: 4 terms, |error| < 2^-34; e_log.c: 7 terms,
// |error| < 2^-58.45), plus k * ln2 split in a hi part (k * ln2_hi exact)
// and a lo part.
// log1p(x): u = fl(1 + x) and c = (u - 1) - x, the rounding error of u, so
// 1 + x = u - c exactly and log1p(x) = log(u) - c / u to within c^2 / u^2
// (relative ~2^-48 / 2^-106). Where u == 1, log1p(x) = x to within half an
// ULP (this also keeps -0, subnormal and tiny x exact).
//
// Error bounds (measured against mpmath in tests/test_simd_math_log.py over
// [min subnormal, max] incl. subnormals, on every SIMD level):
//   log   float: <= 1 ULP     double: <= 1 ULP
//   log1p float: <= 2 ULP     double: <= 2 ULP
// Special values: log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf;
// log1p(-1) = -inf, log1p(x < -1) = NaN, log1p(+inf) = +inf, log1p(-0) = -0;
// NaN in, NaN out. Only the ISA's own arithmetic (no libm, no errno).
#pragma once

#include "vec.h"

namespace logitloss {
namespace LL_ISA {
namespace detail {

template <class V>
struct LogConst;

template <>
struct LogConst<vf> {
  using I = vi32;
  static constexpr float min_normal = 1.17549435e-38f;
  static constexpr float sub_scale = 33554432.0f;  // 2^25
  static constexpr int sub_bits = 25;
  static constexpr int mant_bits = 23;
  static constexpr int32_t bias = 127;
  static constexpr int32_t mant_mask = 0x007fffff;
  static constexpr float sqrt2 = 1.41421356f;
  static constexpr float ln2_hi = 6.9313812256e-01f;  // 0x3f317180, 16 bits
  static constexpr float ln2_lo = 9.0580006145e-06f;
  static constexpr float inf = __builtin_inff();
  static LL_VECMATH vf R(vf z) {
    // FreeBSD e_logf.c: |s^2 * R - (log((1+s)/(1-s)) - 2s)/s| < 2^-34.24.
    const vf w = z * z;
    const vf t1 = w * (0.40000972152f + w * 0.24279078841f);
    const vf t2 = z * (0.66666662693f + w * 0.28498786688f);
    return t2 + t1;
  }
};

template <>
struct LogConst<vd> {
  using I = vi64;
  static constexpr double min_normal = 2.2250738585072014e-308;
  static constexpr double sub_scale = 18014398509481984.0;  // 2^54
  static constexpr int sub_bits = 54;
  static constexpr int mant_bits = 52;
  static constexpr int64_t bias = 1023;
  static constexpr int64_t mant_mask = 0x000fffffffffffffLL;
  static constexpr double sqrt2 = 1.4142135623730951;
  static constexpr double ln2_hi = 6.93147180369123816490e-01;  // 32 bits
  static constexpr double ln2_lo = 1.90821492927058770002e-10;
  static constexpr double inf = __builtin_inf();
  static LL_VECMATH vd R(vd z) {
    // fdlibm e_log.c Lg1..Lg7: |error| < 2^-58.45.
    const vd w = z * z;
    const vd t1 = w * (3.999999999940941908e-01 +
                       w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
    const vd t2 = z * (6.666666666666735130e-01 +
                       w * (2.857142874366239149e-01 +
                            w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
    return t2 + t1;
  }
};

// An exponent k (|k| < 2^31) as a float or double, exactly. Without
// AVX-512DQ there is no vector int64 -> double conversion, and GCC converts
// lane by lane (an extract and a scalar cvtsi2sd per lane: a seventh of the
// row blocks' log finish); adding k to the bits of 1.5 * 2^52 and subtracting
// 1.5 * 2^52 is exact for |k| < 2^51.
inline vf small_int_to_float(vi32 k) { return __builtin_convertvector(k, vf); }
inline vd small_int_to_float(vi64 k) {
#if defined(__AVX512DQ__)
  return __builtin_convertvector(k, vd);
#else
  constexpr double kMagic = 6755399441055744.0;  // 1.5 * 2^52
  return (vd)((vi64)splat<vd>(kMagic) + k) - kMagic;
#endif
}

// log(2^k * (1 + f)) for 1 + f in [sqrt(1/2), sqrt(2)), f exact, k as a
// float: the core of Note [Vector log].
template <class V>
LL_VECMATH V log_reduced_f(V f, V kf) {
  using C = LogConst<V>;
  const V s = f / (elem_t<V>(2) + f);
  const V hfsq = elem_t<V>(0.5) * f * f;
  const V R = C::R(s * s);
  return kf * C::ln2_hi - ((hfsq - (s * (hfsq + R) + kf * C::ln2_lo)) - f);
}

// log(2^k * m) for m in [sqrt(1/2), sqrt(2)), shared by log_finite and
// log1p_unit.
template <class V>
LL_VECMATH V log_reduced(V m, V kf) {
  return log_reduced_f(m - elem_t<V>(1), kf);  // m - 1 exact (Sterbenz)
}

// log(x) for positive normal-or-subnormal finite x (other lanes: garbage,
// fixed up by the callers).
template <class V>
LL_VECMATH V log_finite(V x) {
  using C = LogConst<V>;
  using I = typename C::I;
  const mask_t<V> sub = x < C::min_normal;
  x = sub ? x * C::sub_scale : x;
  const I bits = (I)x;
  I k = ((bits >> C::mant_bits) & (2 * C::bias + 1)) - C::bias;
  k = sub ? k - C::sub_bits : k;
  V m = (V)((bits & C::mant_mask) | (I)splat<V>(elem_t<V>(1)));  // [1, 2)
  const mask_t<V> big = m > C::sqrt2;
  m = big ? m * elem_t<V>(0.5) : m;
  k = big ? k + 1 : k;
  return log_reduced(m, small_int_to_float(k));
}

}  // namespace detail

// Natural log; see Note [Vector log].
template <class V>
LL_VECMATH V log_v(V x) {
  using C = detail::LogConst<V>;
  V y = detail::log_finite(x);
  y = x == V{} ? splat<V>(-C::inf) : y;
  y = x == C::inf ? x : y;
  y = x < V{} ? V{} + __builtin_nan("") : y;
  return x != x ? x : y;
}

// log(1 + x); see Note [Vector log].
template <class V>
LL_VECMATH V log1p_v(V x) {
  using C = detail::LogConst<V>;
  const V u = elem_t<V>(1) + x;
  const V c = (u - elem_t<V>(1)) - x;
  V y = detail::log_finite(u) - c / u;
  y = u == elem_t<V>(1) ? x : y;  // tiny x (incl. -0, subnormals): exact
  y = u == V{} ? splat<V>(-C::inf) : y;
  y = x == C::inf ? x : y;
  y = u < V{} ? V{} + __builtin_nan("") : y;
  return x != x ? x : y;
}

// log1p(z) for z in [-1/2, 0] or NaN, from z itself: 1 + z is never
// rounded, so a tiny z keeps every digit and no correction term (nor its
// division) is needed. f = z (k = 0) where 1 + z >= sqrt(1/2), else
// f = 1 + 2z (k = -1), exact by Sterbenz for z in [-1/2, -0.29]. Error: that
// of log (<= 1 ULP; tested with log1p's in tests/test_simd_math_log.py).
template <class V>
LL_VECMATH V log1p_nonpos_half(V z) {
  using E = elem_t<V>;
  const mask_t<V> low = z < E(-0.29289321881345248);  // 1 + z < sqrt(1/2)
  return detail::log_reduced_f(low ? E(1) + E(2) * z : z, low ? splat<V>(E(-1)) : V{});
}

// log1p(e) for e in [0, 1] or NaN, given u = fl(1 + e) and inv_u = 1 / u:
// the binary losses' log1p(exp(-|x|)), which also need 1 / (1 + e) for the
// sigmoid, so one division serves both. log(u) is log_finite's arithmetic
// without its range handling (u in [1, 2]: exponent 0 or 1); the rounding
// correction c / u becomes c * inv_u, a relative change of at most one
// rounding in a term below half an ULP of the result, so the log1p bound
// (2 ULP) stands. NaN in, NaN out; e = 0 gives +0.
template <class V>
LL_VECMATH V log1p_unit(V e, V u, V inv_u) {
  using C = detail::LogConst<V>;
  using E = elem_t<V>;
  const V c = (u - E(1)) - e;
  const mask_t<V> big = u > C::sqrt2;
  const V log_u = detail::log_reduced(big ? u * E(0.5) : u, big ? splat<V>(E(1)) : V{});
  const V y = log_u - c * inv_u;
  return u == E(1) ? e : y;
}

}  // namespace LL_ISA
}  // namespace logitloss
