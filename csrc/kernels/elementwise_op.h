// What the elementwise loss driver (binary_loss.h) asks of an op besides
// operator()(x, y, pw, loss, dx): two compile-time facts, defaulted here.
#pragma once

namespace logitloss {
namespace LL_ISA {

struct ElementwiseOp {
  // The gradient depends on the input; when it does not (KL divergence),
  // a gradient-only pass never loads the input.
  static constexpr bool kGradReadsInput = true;
  // Input and target are probabilities: the driver reports elements outside
  // [0, 1] (NaN included) through BinaryLossTask::range_error.
  static constexpr bool kProbabilities = false;
};

}  // namespace LL_ISA
}  // namespace logitloss
