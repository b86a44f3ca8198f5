// Binary cross-entropy with logits, one vector of elements at a time.
//
// Note [Stable BCE with logits]
// With lw = 1 + (pw - 1) * y, PyTorch's loss
//   l = (1 - y) * x + lw * softplus(-x),  softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)
// is evaluated as l = lin + lw * log1p(exp(-|x|)) where the linear parts are
// combined symbolically first:
//   lin = (1 - y) * x   for x >= 0,    lin = -(pw * y) * x   for x < 0.
// Adding max(-x, 0) separately would cancel x - x for a confident negative
// (y = 0, x << 0) and lose the small log1p term; this way a confident
// correct prediction's loss is exactly one log1p of a tiny exp, so it keeps
// full relative accuracy (float: within 4 ULP of the exact value, tested),
// and nothing overflows for any finite x (exp only ever sees -|x|).
// The gradient dl/dx = lw * sigmoid(x) - pw * y is written so the small
// sigmoid(-|x|) = e / (1 + e), e = exp(-|x|), is the only sigmoid used:
//   x >= 0: (1 - y) - lw * sigmoid(-x),     x < 0: lw * sigmoid(x) - pw * y.
// x = +-inf gives the limits of the formula (torch returns NaN for some of
// them as an artifact of 0 * inf): the gradient is (1 - y) resp. -pw * y,
// and the loss is 0 when the target sits on the infinite side exactly
// (y == 1 at +inf, pw * y == 0 at -inf), else +inf.
#pragma once

#include "../simd/exp.h"
#include "../simd/log.h"
#include "elementwise_op.h"

namespace logitloss {
namespace LL_ISA {

struct BceOp : ElementwiseOp {
  template <class V>
  inline void operator()(V x, V y, V pw, V& loss, V& dx) const {
    using F = elem_t<V>;
    const V one = splat<V>(F(1));
    const mask_t<V> pos = x >= V{};
    const V e = exp_nonpos(neg_abs_v(x));
    const V u = one + e, inv_u = one / u;
    const V lw = one + (pw - one) * y;
    const V py = pw * y;
    const V lin_pos = y == one ? V{} : (one - y) * x;
    const V lin_neg = py == V{} ? V{} : -py * x;
    loss = (pos ? lin_pos : lin_neg) + lw * log1p_unit(e, u, inv_u);
    const V s = e * inv_u;  // sigmoid(-|x|)
    dx = pos ? (one - y) - lw * s : lw * s - py;
  }
};

}  // namespace LL_ISA
}  // namespace logitloss
