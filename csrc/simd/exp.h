// Vectorised exp for float and double lanes.
//
// Note [Vector exp]
// exp(hi + lo) with |lo| <= ulp(hi): the low part carries the rounding error
// of a difference such as x - max (see two_diff), so exp(x - max) is as
// accurate as if x - max were exact. Method: n = round(hi / ln2) by the
// 1.5*2^p magic-number trick, r = (hi - n*ln2_hi) - n*ln2_lo + lo with a
// Cody-Waite split of ln2 (n*ln2_hi is exact), exp(r) by a polynomial on
// |r| <= ln2/2, and the result scaled by 2^n as two exact powers of two so
// that subnormal results round once.
//
// Error bounds (measured against mpmath in tests/test_simd_math.py over the
// whole range, including the subnormal results):
//   float : max 1 ULP on [-103.97, 88.72]; Cephes expf minimax polynomial.
//   double: max 1 ULP on [-745.13, 709.78]; degree-13 Taylor polynomial,
//           truncation error < 4e-18 relative on |r| <= ln2/2.
// exp_nonpos_sum, the kernels' variant for hi <= 0, gives the same values
// bit for bit (tested) with one scaling step instead of two.
// exp_tail_small(z) = e^z - 1 - z on |z| <= 1 (the divergences' h):
// z^2 sum_k z^k / (k + 2)!, Taylor terms up to z^17 / 19! (double) or
// z^10 / 12! (float); the first left out is below 1 / 20! = 4.2e-19
// (1 / 13! = 1.6e-10), relative 1.2e-18 (4.3e-10) as h(z) / z^2 >= h(-1) =
// 1/e. Horner's terms alternate for z < 0 with |sum| / sum |terms| >=
// (1/e) / (e - 2) = 0.51: max 3 ULP (measured against mpmath: 2, float and
// double).
// Outside the range the result is +inf or +0 as appropriate; exp(NaN) = NaN,
// exp(+inf) = +inf, exp(-inf) = +0. Only the ISA's own arithmetic is used
// (no errno, no libm), so -ffast-math is never needed.
#pragma once

#include "vec.h"

namespace logitloss {
namespace LL_ISA {

// Knuth's TwoSum for a - b: hi = fl(a - b), lo = the exact remainder.
// Exact for any finite a, b (no magnitude precondition).
template <class V>
LL_VECMATH void two_diff(V a, V b, V& hi, V& lo) {
  hi = a - b;
  const V bb = a - hi;  // the part of a that went into hi ... as -b'
  lo = (a - (hi + bb)) + (bb - b);
}

// hi = fl(a * b) and lo = a * b - hi exactly (finite products, no
// underflow): one fused multiply-subtract where the ISA has FMA, else
// Dekker's product (no FMA instructions there, so nothing can contract it).
#if defined(__FMA__) && LL_VEC_BYTES == 32
LL_VECMATH vf fused_mul_sub(vf a, vf b, vf c) {
  return (vf)_mm256_fmsub_ps((__m256)a, (__m256)b, (__m256)c);
}
LL_VECMATH vd fused_mul_sub(vd a, vd b, vd c) {
  return (vd)_mm256_fmsub_pd((__m256d)a, (__m256d)b, (__m256d)c);
}
#define LL_HAVE_FUSED_MUL_SUB 1
#elif defined(__AVX512F__) && LL_VEC_BYTES == 64
LL_VECMATH vf fused_mul_sub(vf a, vf b, vf c) {
  return (vf)_mm512_fmsub_ps((__m512)a, (__m512)b, (__m512)c);
}
LL_VECMATH vd fused_mul_sub(vd a, vd b, vd c) {
  return (vd)_mm512_fmsub_pd((__m512d)a, (__m512d)b, (__m512d)c);
}
#define LL_HAVE_FUSED_MUL_SUB 1
#endif

template <class V>
LL_VECMATH void two_prod(V a, V b, V& hi, V& lo) {
  hi = a * b;
#if defined(LL_HAVE_FUSED_MUL_SUB)
  lo = fused_mul_sub(a, b, hi);
#else
  // Veltkamp's split into halves of the significand, then the exact partial
  // products (valid for |a|, |b| below max / 2^(p/2)).
  using E = elem_t<V>;
  constexpr E kSplit = sizeof(E) == 4 ? E(4097) : E(134217729);  // 2^12 + 1, 2^27 + 1
  const V ca = a * kSplit, cb = b * kSplit;
  const V a_hi = ca - (ca - a), b_hi = cb - (cb - b);
  const V a_lo = a - a_hi, b_lo = b - b_hi;
  lo = ((a_hi * b_hi - hi) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo;
#endif
}

namespace detail {

template <class V>
struct ExpConst;

template <>
struct ExpConst<vf> {
  static constexpr float lo_clamp = -104.0f;       // below: result rounds to +0
  static constexpr float hi_clamp = 88.7228394f;   // above: result is +inf
  static constexpr float log2e = 1.44269504088896341f;
  static constexpr float ln2_hi = 0.693359375f;    // 9 significant bits
  static constexpr float ln2_lo = -2.12194440e-4f;
  static constexpr float magic = 12582912.0f;      // 1.5 * 2^23
  static constexpr int mant_bits = 23;
  static constexpr int bias = 127;
  static LL_VECMATH vf poly(vf r) {
    // Cephes expf: exp(r) = 1 + r + r^2 * P(r) on |r| <= ln2/2.
    vf p = splat<vf>(1.9875691500e-4f);
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return 1.0f + (r + (r * r) * p);
  }
};

template <>
struct ExpConst<vd> {
  static constexpr double lo_clamp = -746.0;
  static constexpr double hi_clamp = 709.79;
  static constexpr double log2e = 1.4426950408889634074;
  static constexpr double ln2_hi = 6.93145751953125e-1;   // 21 significant bits
  static constexpr double ln2_lo = 1.42860682030941723212e-6;
  static constexpr double magic = 6755399441055744.0;     // 1.5 * 2^52
  static constexpr int mant_bits = 52;
  static constexpr int bias = 1023;
  static LL_VECMATH vd poly(vd r) {
    // Taylor series of exp(r) - 1 - r, divided by r^2, to degree 13.
    vd p = splat<vd>(1.0 / 6227020800.0);  // 1/13!
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return 1.0 + (r + (r * r) * p);
  }
};

}  // namespace detail

// exp(hi + lo); see Note [Vector exp].
template <class V>
LL_VECMATH V exp_sum(V hi, V lo) {
  using C = detail::ExpConst<V>;
  using M = mask_t<V>;
  const V x = vmax(vmin(hi, splat<V>(C::hi_clamp)), splat<V>(C::lo_clamp));
  const V t = x * C::log2e + C::magic;
  const V n = t - C::magic;
  const M ni = (M)t - (M)splat<V>(C::magic);  // n as an integer
  V r = x - n * C::ln2_hi;
  r = (r - n * C::ln2_lo) + lo;
  const V p = C::poly(r);
  // 2^n as two exact factors 2^(n/2) and 2^(n - n/2): both stay normal.
  const M n1 = ni >> 1;
  const M n2 = ni - n1;
  const V s1 = (V)((n1 + C::bias) << C::mant_bits);
  const V s2 = (V)((n2 + C::bias) << C::mant_bits);
  const V y = (p * s1) * s2;
  return hi != hi ? hi : y;  // NaN in, NaN out
}

template <class V>
LL_VECMATH V exp_v(V x) {
  return exp_sum(x, V{});
}

// exp(hi + lo) for hi <= 0, the case of every kernel (x - max, -|x|):
// the same value as exp_sum, in fewer operations. With n <= 0 the scale
// 2^(n + 64) is a normal number read straight off the bits of the rounding
// sum t, so p * 2^(n + 64) is exact and the final * 2^-64 rounds once, also
// for subnormal results. hi > 0 is taken as 0; NaN in, NaN out (the clamp
// below keeps a NaN hi); hi = -inf gives +0 whatever lo is.
template <class V>
LL_VECMATH V exp_nonpos_sum(V hi, V lo) {
  using C = detail::ExpConst<V>;
  using M = mask_t<V>;
  using E = elem_t<V>;
  constexpr E kMagic = C::magic + E(C::bias + 64);  // low bits of t: n + bias + 64
  constexpr E kTwoM64 = E(1) / E(18446744073709551616.0);  // 2^-64
  lo = hi > C::lo_clamp ? lo : V{};  // -inf or NaN hi: lo may be NaN
  const V x = vmin(splat<V>(E(0)), vmax(splat<V>(C::lo_clamp), hi));
  const V t = x * C::log2e + kMagic;
  const V n = t - kMagic;
  V r = x - n * C::ln2_hi;
  r = (r - n * C::ln2_lo) + lo;
  const V p = C::poly(r);
  const V s = (V)((M)t << C::mant_bits);  // 2^(n + 64)
  return (p * s) * kTwoM64;
}

template <class V>
LL_VECMATH V exp_nonpos(V x) {
  return exp_nonpos_sum(x, V{});
}

// exp(a - b) for a <= b (a row entry minus its max), with the subtraction's
// rounding error compensated.
template <class V>
LL_VECMATH V exp_diff(V a, V b) {
  V hi, lo;
  two_diff(a, b, hi, lo);
  return exp_nonpos_sum(hi, lo);
}

// e^z - 1 - z for |z| <= 1 (see the Note): relative accuracy also where
// e^z - 1 - z ~ z^2 / 2 is far below z.
LL_VECMATH vd exp_tail_small(vd z) {
  vd s = splat<vd>(1.0 / 121645100408832000.0);  // 1 / 19!
  s = s * z + 1.0 / 6402373705728000.0;
  s = s * z + 1.0 / 355687428096000.0;
  s = s * z + 1.0 / 20922789888000.0;
  s = s * z + 1.0 / 1307674368000.0;
  s = s * z + 1.0 / 87178291200.0;
  s = s * z + 1.0 / 6227020800.0;
  s = s * z + 1.0 / 479001600.0;
  s = s * z + 1.0 / 39916800.0;
  s = s * z + 1.0 / 3628800.0;
  s = s * z + 1.0 / 362880.0;
  s = s * z + 1.0 / 40320.0;
  s = s * z + 1.0 / 5040.0;
  s = s * z + 1.0 / 720.0;
  s = s * z + 1.0 / 120.0;
  s = s * z + 1.0 / 24.0;
  s = s * z + 1.0 / 6.0;
  s = s * z + 0.5;
  return (z * z) * s;
}

LL_VECMATH vf exp_tail_small(vf z) {
  vf s = splat<vf>(1.0f / 479001600.0f);  // 1 / 12!
  s = s * z + 1.0f / 39916800.0f;
  s = s * z + 1.0f / 3628800.0f;
  s = s * z + 1.0f / 362880.0f;
  s = s * z + 1.0f / 40320.0f;
  s = s * z + 1.0f / 5040.0f;
  s = s * z + 1.0f / 720.0f;
  s = s * z + 1.0f / 120.0f;
  s = s * z + 1.0f / 24.0f;
  s = s * z + 1.0f / 6.0f;
  s = s * z + 0.5f;
  return (z * z) * s;
}

}  // namespace LL_ISA
}  // namespace logitloss
