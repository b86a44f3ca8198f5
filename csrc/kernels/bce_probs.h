// torch.nn.functional.binary_cross_entropy on probabilities, one vector of
// elements at a time.
//
// Note [BCE on probabilities]
// PyTorch's CPU kernel, evaluated in the compute type:
//   loss  = (y - 1) * max(log1p(-p), -100) - y * max(log(p), -100)
//   dl/dp = (p - y) / max((1 - p) * p, eps),   eps = float(1e-12)
// The clamp at -100 keeps p = 0 and p = 1 finite (100 per unit of target on
// the wrong side); the gradient there is (p - y) / eps, about -+1e12. eps is
// torch's float constant 1e-12f (0.99999999600e-12) for double too, so the
// gradients agree bit for bit in the formula's terms.
// Accuracy: with m = min(p, 1 - p), exact, the two logs are log(m) and
// log1p(-m), m in [0, 1/2] (log1p_nonpos_half: no rounded 1 + z, no
// correction division); each is within 1 ULP (Note [Vector log]). So near
// p = 0 and p = 1 the loss keeps its relative accuracy: a hard target's loss is one of the two logs
// negated, a soft target's a sum of two terms of the same sign (no
// cancellation): measured against mpmath at every SIMD level over p from
// the smallest subnormal to 1/2 and from 1/2 to 1 - eps, max 1.7 ULP
// (float32) and 2.0 ULP (float64); tests hold it to 2.5. 1 - p is exact for
// p >= 1/2 (Sterbenz), so the gradient's denominator is accurate too.
// Range: torch raises for p or y outside [0, 1] or NaN; ElementwiseOp's
// kProbabilities makes the driver flag them, and the caller raises.
// 16-bit storage is computed in float like every kernel here, so eps is
// float's 1e-12 (torch's float16 kernel rounds eps to half, i.e. 0, and so
// returns NaN or inf at p = 0 and p = 1).
#pragma once

#include "../simd/log.h"
#include "elementwise_op.h"

namespace logitloss {
namespace LL_ISA {

struct BceProbsOp : ElementwiseOp {
  static constexpr bool kProbabilities = true;

  template <class V>
  inline void operator()(V p, V y, V /*pw*/, V& loss, V& dx) const {
    using F = elem_t<V>;
    const V one = splat<V>(F(1));
    const V floor = splat<V>(F(-100));
    // m = min(p, 1 - p) is exact (1 - p is, for p >= 1/2): log(m) is one of
    // the two logs, log1p(-m) the other.
    const mask_t<V> lower = p < F(0.5);
    const V q = one - p;
    const V m = lower ? p : q;
    const V log_m = log_v(m);
    const V log_rest = log1p_nonpos_half(-m);
    const V log_p = vmax(lower ? log_m : log_rest, floor);
    const V log_q = vmax(lower ? log_rest : log_m, floor);
    loss = (y - one) * log_q - y * log_p;
    dx = (p - y) / vmax(q * p, splat<V>(F(1e-12f)));
  }
};

}  // namespace LL_ISA
}  // namespace logitloss
