// torchvision's sigmoid focal loss, one vector of elements at a time.
//
// Note [Sigmoid focal loss]
// p = sigmoid(x), ce = bce_with_logits(x, y), 1 - p_t = p * (1 - y) + (1 - p) * y,
// loss = a_t * ce * (1 - p_t)^gamma with a_t = alpha * y + (1 - alpha) * (1 - y)
// (a_t = 1 when alpha < 0). Both p and 1 - p come from e = exp(-|x|) as
// 1 / (1 + e) and e / (1 + e), so neither is formed as 1 - sigmoid; ce is
// the stable BCE of Note [Stable BCE with logits] (pos_weight 1).
// Gradient: with m = 1 - p_t, dm/dx = p * (1 - p) * (1 - 2y) and
// dce/dx = p - y, dl/dx = a_t * (dce * m^gamma + ce * gamma * m^(gamma-1) * dm)
// (the second term is dropped for gamma == 0, as autograd's pow does, and
// is 0 where dm == 0: for gamma < 1 and an underflowed p autograd returns
// NaN (inf * 0); the limit is 0).
// m^gamma: integer |gamma| <= 64 by repeated squaring (relative error about
// 2 * log2|gamma| ULP), otherwise exp(gamma * log|m|) (relative error about
// (|gamma * log m| + 2) ULP); 0^gamma = 0 for gamma > 0, a negative m (soft
// targets outside [0, 1]) gives NaN for non-integer gamma, as torch's pow.
#pragma once

#include "bce.h"

namespace logitloss {
namespace LL_ISA {

struct FocalOp : ElementwiseOp {
  double alpha, gamma;
  bool gamma_int;   // integer with |gamma| <= 64
  FocalOp(double a, double g) : alpha(a), gamma(g) {
    gamma_int = g == double(int64_t(g)) && g >= -64 && g <= 64;
  }

  template <class V>
  static inline V ipow(V m, int64_t n) {
    using F = elem_t<V>;
    const bool neg = n < 0;
    n = neg ? -n : n;
    V r = splat<V>(F(1)), b = m;
    while (n) {
      if (n & 1) r = r * b;
      b = b * b;
      n >>= 1;
    }
    return neg ? F(1) / r : r;
  }

  template <class V>
  inline V pow_v(V m, double g, bool is_int) const {
    using F = elem_t<V>;
    if (g == 0) return splat<V>(F(1));
    if (is_int) return ipow(m, int64_t(g));
    const V r = exp_v(F(g) * log_v(abs_v(m)));
    return m < V{} ? V{} + __builtin_nan("") : r;
  }

  template <class V>
  inline void operator()(V x, V y, V /*pw*/, V& loss, V& dx) const {
    using F = elem_t<V>;
    const V one = splat<V>(F(1));
    const mask_t<V> pos = x >= V{};
    const V e = exp_nonpos(neg_abs_v(x));
    const V u = one + e, large = one / u;
    const V small = e * large;
    const V p = pos ? large : small, q = pos ? small : large;
    const V lin = pos ? (y == one ? V{} : (one - y) * x) : (y == V{} ? V{} : -y * x);
    const V ce = lin + log1p_unit(e, u, large);
    const V m = p * (one - y) + q * y;
    const V mg = pow_v(m, gamma, gamma_int);
    const V at = alpha >= 0 ? F(alpha) * y + F(1 - alpha) * (one - y) : one;
    loss = at * ce * mg;
    const V dce = pos ? (one - y) - small : small - y;
    V d = dce * mg;
    if (gamma != 0) {
      const V dm = p * q * (one - F(2) * y);
      // dm == 0 (p or 1 - p underflowed, or y == 1/2) makes the term 0:
      // its limit, where m^(gamma-1) = 0^(gamma-1) would give inf * 0.
      // Bracketed so that ce * gamma cannot overflow first.
      const V t2 = ce * (F(gamma) * pow_v(m, gamma - 1, gamma_int) * dm);
      d = d + (dm == V{} ? V{} : t2);
    }
    dx = at * d;
  }
};

}  // namespace LL_ISA
}  // namespace logitloss
