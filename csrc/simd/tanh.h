// Vectorised tanh and sech^2 for double lanes: the soft-capping of
// Note [Soft-capped cross-entropy].
//
// Note [Vector tanh]
// |u| < 1/2:  tanh(u) = u + u s P(s), s = u^2, where P is the degree-9
//             polynomial interpolating (tanh(u)/u - 1) / s at the Chebyshev
//             nodes of [0, 1/4] (fitted in mpmath at 60 digits; truncation
//             below 1.1e-17 relative). The correction u s P(s) is at most
//             0.08 |u|, so its rounding moves the result by < 0.1 ULP.
// |u| >= 1/2: with e = exp(-2|u|) (Note [Vector exp]: 1 ULP; -2|u| is exact)
//             tanh|u| = (1 - e) / (1 + e). e <= 1/e keeps both 1 - e and
//             1 + e free of cancellation: at most 4.7 units of roundoff in
//             all, and far less as e shrinks; tanh saturates to exactly 1
//             once e < 2^-54, and e = 0 for |u| = inf.
// Bound: 2 ULP (measured: tests/test_simd_math_tanh.py against mpmath, at
// every SIMD level). tanh(NaN) = NaN, tanh(+-inf) = +-1, tanh(-0) = -0.
//
// sech^2(u) = 1 - tanh^2(u), the derivative: 1 - t^2 >= 0.78 for |u| < 1/2
// (no cancellation), and 4e / (1 + e)^2 above, where 1 - t^2 would cancel:
// e's 1 ULP and four roundings, 4 ULP (measured); 0 at +-inf.
#pragma once

#include "exp.h"

namespace logitloss {
namespace LL_ISA {

namespace detail {
LL_VECMATH vd tanh_poly(vd s) {
  vd p = splat<vd>(0.000059469565897747691496);
  p = p * s - 0.000221072229758646338793;
  p = p * s + 0.000584965372902264459147;
  p = p * s - 0.00145495938438046611294;
  p = p * s + 0.0035920334653723928221;
  p = p * s - 0.00886322927006784340206;
  p = p * s + 0.0218694882972345143402;
  p = p * s - 0.0539682539636100863874;
  p = p * s + 0.133333333333298242383;
  return p * s - 0.333333333333333289492;
}
}  // namespace detail

// tanh(u) and, when `sech2` is given, 1 - tanh(u)^2, lane-wise.
LL_VECMATH vd tanh_v(vd u, vd* sech2 = nullptr) {
  const vd a = abs_v(u);
  const auto small = a < 0.5;
  const vd s = a * a;
  const vd t_small = a + (a * s) * detail::tanh_poly(s);
  const vd e = exp_nonpos(-2.0 * a);  // a = NaN: NaN; a = inf: +0
  const vd one_e = 1.0 + e;
  const vd t_abs = small ? t_small : (1.0 - e) / one_e;
  if (sech2) *sech2 = small ? 1.0 - t_small * t_small : (4.0 * e) / (one_e * one_e);
  return (vd)((mask_t<vd>)t_abs | ((mask_t<vd>)u & sign_bits<vd>()));  // tanh is odd
}

}  // namespace LL_ISA
}  // namespace logitloss
