// torch.nn.functional.kl_div, pointwise, one vector of elements at a time.
//
// Note [KL divergence]
// The input x holds log-probabilities. PyTorch's own formulas, so that every
// special value (zero, negative, infinite or NaN targets; infinite inputs)
// gives torch's result:
//   probability targets:      l = xlogy(t, t) - t * x,  dl/dx = -t
//   log-probability targets:  l = exp(t) * (t - x),     dl/dx = -exp(t)
// with xlogy(t, t) = 0 for t == 0 and t * log(t) otherwise (NaN for NaN or
// negative t). So a zero target gives 0 for any finite x but NaN for an
// infinite one (0 * inf), exactly as torch; a log target of -inf gives NaN
// (0 * -inf) and +inf gives inf or NaN. Neither gradient reads x, so a
// gradient-only pass never loads it.
// Accuracy: log and exp are within 1 ULP (Notes [Vector log], [Vector exp]);
// l is within a few ULP of the larger of its two terms (|t log t|, |t x|;
// for log targets exp(t) * |t - x| is within 2.5 ULP) -- an absolute bound:
// the terms cancel where t = exp(x), and l is 0 there.
#pragma once

#include "../simd/exp.h"
#include "../simd/log.h"
#include "elementwise_op.h"

namespace logitloss {
namespace LL_ISA {

struct KlDivOp : ElementwiseOp {
  static constexpr bool kGradReadsInput = false;

  template <class V>
  inline void operator()(V x, V t, V /*pw*/, V& loss, V& dx) const {
    const V xlogy = t == V{} ? V{} : t * log_v(t);
    loss = xlogy - t * x;
    dx = -t;
  }
};

struct KlDivLogTargetOp : ElementwiseOp {
  static constexpr bool kGradReadsInput = false;

  template <class V>
  inline void operator()(V x, V t, V /*pw*/, V& loss, V& dx) const {
    const V e = exp_v(t);
    loss = e * (t - x);
    dx = -e;
  }
};

}  // namespace LL_ISA
}  // namespace logitloss
