// Vectorised exp for float and double lanes.
//
// Note [Vector exp]
// exp(hi + lo) with |lo| <= ulp(hi): the low part carries the rounding error
// of a difference such as x - max (see two_diff), so exp(x - max) is as
// accurate as if x - max were exact. Method: n = round(hi / ln2) by the
// 1.5*2^p magic-number trick, r = (hi - n*ln2_hi) - n*ln2_lo + lo with a
// Cody-Waite split of ln2 (n*ln2_hi is exact), exp(r) by a polynomial on
// |r| <= ln2/2, and the result scaled by 2^n so that it rounds once, also
// where it is subnormal.
//
// Polynomials:
//   float : 1 + r Q(r), Q of degree 5 in Horner form (6 FMAs), fitted for
//           the least maximum relative error (2^-28.9 on |r| <= ln2/2,
//           before the coefficients' rounding to float).
//   double: the Taylor series to degree 13, truncation error < 4e-18
//           relative on |r| <= ln2/2.
// Error bounds (measured against mpmath in tests/test_simd_math_exp.py over
// the whole range, including the subnormal results, on every SIMD level):
//   float : max 1 ULP on [-103.97, 88.72].
//   double: max 1 ULP on [-745.13, 709.78].
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
//
// The kernels' exps are of nonpositive arguments (x - max, -|x|), where one
// scaling suffices (exp_nonpos_sum), and mostly of a whole row's entries
// against its max (ExpBelow); both give exp_sum's values bit for bit
// (tested), in fewer instructions. Note [Exp sweep cost] counts them.
#pragma once

#include <cmath>

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
  static constexpr float zero_gap = 104.5f;        // exp(-zero_gap) rounds to +0
  static constexpr float exact_max = 16777216.0f;  // 2^24: ExpBelow's max |m|
  static constexpr float log2e = 1.44269504088896341f;
  static constexpr float ln2_hi = 0.693359375f;    // 9 significant bits
  static constexpr float ln2_lo = -2.12194440e-4f;
  static constexpr float magic = 12582912.0f;      // 1.5 * 2^23
  static constexpr int mant_bits = 23;
  static constexpr int bias = 127;
  // exp(r) * scale on |r| <= ln2/2: 1 + r Q(r) (Note [Vector exp]), every
  // coefficient times `scale`, a power of two, so the result is exactly
  // `scale` times the unscaled one (no intermediate is near underflow).
  static LL_VECMATH vf poly(vf r, float scale = 1.0f) {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    vf q = splat<vf>(1.384609960950911e-3f * scale);
    q = q * r + 8.374159224331379e-3f * scale;
    q = q * r + 4.1667964309453964e-2f * scale;
    q = q * r + 1.6666431725025177e-1f * scale;
    q = q * r + 4.999999403953552e-1f * scale;
    q = q * r + 1.0f * scale;
    return q * r + 1.0f * scale;
#else
    // Without FMA the last Horner steps round twice each: 1 + r + r^2 P(r)
    // keeps the small terms apart (P of degree 4, 2^-28.0).
    vf p = splat<vf>(1.3879677280783653e-3f * scale);
    p = p * r + 8.368728682398796e-3f * scale;
    p = p * r + 4.166722670197487e-2f * scale;
    p = p * r + 1.666652113199234e-1f * scale;
    p = p * r + 4.999999701976776e-1f * scale;
    return 1.0f * scale + (r * scale + (r * r) * p);
#endif
  }
};

template <>
struct ExpConst<vd> {
  static constexpr double lo_clamp = -746.0;
  static constexpr double hi_clamp = 709.79;
  static constexpr double zero_gap = 745.5;
  static constexpr double exact_max = 4503599627370496.0;  // 2^52
  static constexpr double log2e = 1.4426950408889634074;
  static constexpr double ln2_hi = 6.93145751953125e-1;   // 21 significant bits
  static constexpr double ln2_lo = 1.42860682030941723212e-6;
  static constexpr double magic = 6755399441055744.0;     // 1.5 * 2^52
  static constexpr int mant_bits = 52;
  static constexpr int bias = 1023;
  static LL_VECMATH vd poly(vd r, double scale = 1.0) {
    // Taylor series of exp(r) to degree 13 in Horner form, times `scale`.
    constexpr double c[14] = {1.0,          1.0,           1.0 / 2,         1.0 / 6,
                              1.0 / 24,     1.0 / 120,     1.0 / 720,       1.0 / 5040,
                              1.0 / 40320,  1.0 / 362880,  1.0 / 3628800,   1.0 / 39916800,
                              1.0 / 479001600, 1.0 / 6227020800.0};
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
    vd p = splat<vd>(c[13] * scale);
    for (int k = 12; k >= 0; --k) p = p * r + c[k] * scale;
    return p;
#else
    // Without FMA, as for float: 1 + r + r^2 P(r).
    vd p = splat<vd>(c[13] * scale);
    for (int k = 12; k >= 2; --k) p = p * r + c[k] * scale;
    return scale + (r * scale + (r * r) * p);
#endif
  }
};

// 2^-64 and 1.5 * 2^p + bias + 64: the rounding constant whose sum with
// x * log2e has n + bias + 64 in its low bits (Note [Vector exp]).
template <class V>
constexpr elem_t<V> kTwoM64 = elem_t<V>(1) / elem_t<V>(18446744073709551616.0);
template <class V>
constexpr elem_t<V> kScaleMagic = ExpConst<V>::magic + elem_t<V>(ExpConst<V>::bias + 64);

// exp(x + lo) for x in [-(zero_gap + 2), 0] or NaN, |lo| <= ulp(x) (finite):
// the core every nonpositive exp shares. With n <= 0 the scale 2^(n + 64)
// is a normal number read straight off the bits of the rounding sum t, and
// the polynomial carries the factor 2^-64, so the one product rounds once,
// also for subnormal results. AVX-512's vscalef does the same in one
// instruction.
template <class V>
LL_VECMATH V exp_nonpos_core(V x, V lo) {
  using C = ExpConst<V>;
  const V t = x * C::log2e + kScaleMagic<V>;
  const V n = t - kScaleMagic<V>;
  V r = x - n * C::ln2_hi;
  r = (r - n * C::ln2_lo) + lo;
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  // p * 2^n, rounded once (the builtin: _mm512_scalef_ps passes GCC an
  // undefined vector it warns about).
  const V p = C::poly(r);
  if constexpr (std::is_same<V, vf>::value)
    return (vf)__builtin_ia32_scalefps512_mask((__v16sf)p, (__v16sf)n, (__v16sf){},
                                               (__mmask16)-1, _MM_FROUND_CUR_DIRECTION);
  else
    return (vd)__builtin_ia32_scalefpd512_mask((__v8df)p, (__v8df)n, (__v8df){}, (__mmask8)-1,
                                               _MM_FROUND_CUR_DIRECTION);
#else
  const V p = C::poly(r, kTwoM64<V>);
  const V s = (V)((mask_t<V>)t << C::mant_bits);  // 2^(n + 64)
  return p * s;
#endif
}

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

// exp(hi + lo) for hi <= 0: exp_sum's value in fewer operations (see
// exp_nonpos_core). NaN in, NaN out (the clamp keeps a NaN hi); hi = -inf
// gives +0 whatever lo is.
template <class V>
LL_VECMATH V exp_nonpos_sum(V hi, V lo) {
  using C = detail::ExpConst<V>;
  lo = hi > C::lo_clamp ? lo : V{};  // -inf or NaN hi: lo may be NaN
  return detail::exp_nonpos_core(vmax(splat<V>(C::lo_clamp), hi), lo);
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

// exp(a - m) for the entries a <= m (or NaN) of a row whose max m has
// |m| < exact_max (covers(m)): exp_diff(a, m) bit for bit, with three
// vector operations fewer, so the row sweeps use it. Entries below
// floor = fl(m - (zero_gap + 1)) are raised to it: their exp is +0 either
// way, -inf becomes finite, and every difference a - m left is at least
// -(zero_gap + 2) and exact in hi + lo, so exp_diff's clamps and its NaN
// guard for lo have nothing to do. (For |m| < exact_max the subtraction
// rounds by at most 1, so floor lies in [m - zero_gap - 2, m - zero_gap];
// above 2^24 no float floor lies within that distance of m.) The floor is
// one vector subtraction: a per-lane scalar rounding (with nextafter) cost
// a tenth of a 1000-class row's logsumexp (measured).
template <class V>
struct ExpBelow {
  using E = elem_t<V>;
  using C = detail::ExpConst<V>;
  V m, floor;
  explicit ExpBelow(V m_) : m(m_), floor(m_ - splat<V>(E(C::zero_gap + 1))) {}
  static bool covers(E m_) { return m_ < C::exact_max && m_ > -C::exact_max; }
  static bool covers(V m_) { return !any_lane<V>(~(abs_v(m_) < C::exact_max)); }
  LL_VECMATH V operator()(V a) const {
    V hi, lo;
    two_diff(vmax(floor, a), m, hi, lo);
    return detail::exp_nonpos_core(hi, lo);
  }
};

// exp(a - m) as exp_diff computes it: ExpBelow's interface for rows it
// does not cover.
template <class V>
struct ExpDiff {
  V m;
  LL_VECMATH V operator()(V a) const { return exp_diff(a, m); }
};

// fn(exp) with the row's exp(a - m): ExpBelow where it covers the max,
// ExpDiff otherwise (the same values). With kUsed false, fn does not call
// exp and is instantiated once.
template <bool kUsed = true, class V, class Fn>
inline void with_row_exp(V m, Fn&& fn) {
  if (kUsed && ExpBelow<V>::covers(m))
    fn(ExpBelow<V>(m));
  else
    fn(ExpDiff<V>{m});
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
