// The kernel interface shared by every ISA build, the dispatcher and the
// bindings. Plain structs of pointers, sizes and strides: no templates, no
// inline code, so it is safe to include from translation units compiled with
// different -m flags.
//
// Every kernel sees its operands as an (outer, classes, inner) strided view.
// A "row" is one (o, i) pair: the `classes` elements x[o, :, i]. Rows are
// numbered r = o * inner + i, and per-row outputs are contiguous in r.
// Kernels process the rows [row_begin, row_end) so the thread pool can split
// work in fixed blocks; a row's result never depends on the split.
#pragma once

#include <cstdint>

namespace logitloss {

enum class DType : int32_t { f32 = 0, f64 = 1, f16 = 2, bf16 = 3 };

// Strides are in elements, not bytes. `data` is null for an absent operand.
struct View3 {
  const void* data = nullptr;
  int64_t outer = 0, classes = 0, inner = 0;
  int64_t s_outer = 0, s_class = 0, s_inner = 0;
};

struct MutView3 {
  void* data = nullptr;
  int64_t outer = 0, classes = 0, inner = 0;
  int64_t s_outer = 0, s_class = 0, s_inner = 0;
};

// logsumexp over the class axis, SciPy's semantics (b scales exp(x); the
// result is log|sum| with its sign, NaN for a negative sum without sign).
struct LseTask {
  DType dtype;
  View3 x;
  View3 b;          // optional, same dtype and shape as x (may be broadcast)
  void* lse;        // per row, dtype
  void* sign;       // optional, per row, dtype; null: negative sums give NaN
};

// softmax or log_softmax over the class axis, written to `out`.
struct SoftmaxTask {
  DType dtype;
  bool log;
  View3 x;
  MutView3 out;
};

// d logsumexp / dx = g_row * b * exp(x - lse) (zero where the row's sum is 0).
struct LseGradTask {
  DType dtype;
  View3 x;
  View3 b;            // optional
  const void* g;      // per row, dtype (grad_output)
  MutView3 out;
};

// Vector-Jacobian products of softmax / log_softmax with g (shaped like x).
struct SoftmaxGradTask {
  DType dtype;
  bool log;
  View3 x;
  View3 g;
  MutView3 out;
};

// --- cross-entropy family -------------------------------------------------
// Softmax cross-entropy (input: logits) or NLL (input: log-probabilities)
// with PyTorch's options, over the class axis. Per row r: the loss (in
// double, before any reduction), the target's weight w_t (0 when ignored:
// the 'mean' denominator) and, when `grad.data` is set, the gradient scaled
// by grad_scale[r] (or grad_scalar). Any output may be absent; with no loss
// and no grad only the targets are read. See Note [Stable cross-entropy].
struct CeTask {
  DType dtype;
  View3 x;
  const int64_t* target = nullptr;  // per row class index; null: probabilities
  View3 prob;                        // probability targets shaped like x
  const double* weight = nullptr;    // (classes,) or null (all ones)
  int64_t ignore_index = 0;
  bool has_ignore = false;           // false: no index is ignored
  double smoothing = 0;              // label smoothing in [0, 1]
  double softcap = 0;                // c > 0: logits c tanh(x / c); 0: none
  double z_loss = 0;                 // z >= 0: adds z w lse^2 per row
  double* loss = nullptr;            // per row, or null
  double* target_weight = nullptr;   // per row, or null
  MutView3 grad;                     // may be x itself (in place)
  const double* grad_scale = nullptr;  // per row; null: grad_scalar
  double grad_scalar = 1;
  // Lowest row whose target is neither ignored nor in [0, classes); the
  // caller initialises it to INT64_MAX. Such rows are skipped (loss 0).
  int64_t* bad_row = nullptr;
};

struct CeKernels {
  void (*cross_entropy)(const CeTask&, int64_t row_begin, int64_t row_end) noexcept;
  void (*nll_loss)(const CeTask&, int64_t row_begin, int64_t row_end) noexcept;
};
// --- end cross-entropy family ---------------------------------------------

// --- divergences between softmaxes: softmax_kl_div, generalized_jsd ------
// P = softmax(y / T) (the target: teacher logits) and Q = softmax(x / T)
// (the input: student logits) over the class axis. Per row r: the divergence
// (in double, before any reduction) and, when `grad.data` is set, its
// gradient with respect to x (the 1 / T factor included) scaled by
// grad_scale[r] (or grad_scalar). See Note [Stable divergences].
enum class Divergence : int32_t {
  forward_kl = 0,  // KL(P || Q)
  reverse_kl = 1,  // KL(Q || P)
  jsd = 2,         // beta KL(P || M) + (1 - beta) KL(Q || M), M = beta P + (1 - beta) Q
};

struct DivTask {
  DType dtype;
  Divergence kind;
  View3 x;                       // the input (student logits)
  View3 y;                       // the target (teacher logits): x's shape and dtype
  double beta = 0.5;             // jsd only, in (0, 1)
  double inv_temperature = 1;    // 1 / T: finite and > 0
  double* loss = nullptr;        // per row, or null
  MutView3 grad;                 // may be x itself (in place)
  const double* grad_scale = nullptr;  // per row; null: grad_scalar
  double grad_scalar = 1;
};
// --- end divergences -------------------------------------------------------

// --- binary losses: BCE-with-logits, sigmoid focal loss ------------------
// BCE-with-logits and sigmoid focal loss. Every operand is a strided view of
// the same (outer, mid, inner) shape (broadcast operands have zero strides);
// elements are numbered in C order of that shape and processed in FIXED
// blocks of `block` elements (the kernels' work unit), so per-block partial
// sums never depend on the thread split.
enum class VecMathOp : int32_t {
  log = 0, log1p = 1, exp = 2, exp_nonpos = 3, log1p_unit = 4,
  tanh = 5, sech2 = 6,  // double only
  exp_tail = 7,         // |x| <= 1: e^x - 1 - x
};

// Test-only: out[i] = op(x[i]) with the ISA's vector math, contiguous n.
struct VecMathTask {
  DType dtype;  // f32 or f64 only
  VecMathOp op;
  const void* x;
  void* out;
  int64_t n;
};

enum class BinaryLoss : int32_t { bce = 0, focal = 1 };

struct BinaryLossTask {
  DType dtype;
  BinaryLoss loss;
  int64_t size = 0;        // outer * mid * inner
  int64_t block = 0;       // elements per work unit
  View3 x, y;              // input, target
  View3 w, pw;             // optional (bce only): weight, pos_weight
  double alpha = 0, gamma = 0;  // focal only
  MutView3 loss_out;       // optional: elementwise loss ('none')
  double* partials = nullptr;   // optional: per-block loss sums, in double
  MutView3 grad_out;       // optional: gradient
  View3 g;                 // optional: elementwise grad_output ('none')
  double g_scalar = 1.0;   // grad_output factor when g is absent
};

// ---------------------------------------------------------------------------
// Integrations: gradient-boosting objectives (kernels/objectives.h).
// See Note [Boosting objectives] for the formulas.

// Diagonal-Hessian convention of the softmax objective.
enum class HessianKind : int32_t { xgboost = 0, lightgbm = 1, exact = 2 };

// Softmax objective over the class axis: per row, grad and hess of the
// weighted log-loss with respect to the margins x.
struct SoftmaxObjTask {
  DType dtype;
  HessianKind hessian;
  View3 x;
  const int64_t* labels;  // per row, in [0, classes); classes < 2^31
  const void* weight;     // optional, per row, dtype
  MutView3 grad, hess;    // shaped like x
};

// Logistic objective, elementwise over n = row_end rows of one element each.
struct LogisticObjTask {
  DType dtype;
  const void* x;       // margins, stride s_x
  int64_t s_x;
  const void* y;       // labels in [0, 1], dtype, stride s_y
  int64_t s_y;
  const void* weight;  // optional, contiguous, dtype
  void* grad;          // contiguous, dtype
  void* hess;          // contiguous, dtype
};

using SoftmaxObjKernel = void (*)(const SoftmaxObjTask&, int64_t, int64_t) noexcept;
using LogisticObjKernel = void (*)(const LogisticObjTask&, int64_t, int64_t) noexcept;
// ---------------------------------------------------------------------------

// One ISA build's kernels. Each runs rows [row_begin, row_end).
struct KernelTable {
  const char* isa;
  void (*logsumexp)(const LseTask&, int64_t row_begin, int64_t row_end) noexcept;
  void (*softmax)(const SoftmaxTask&, int64_t row_begin, int64_t row_end) noexcept;
  void (*logsumexp_grad)(const LseGradTask&, int64_t row_begin, int64_t row_end) noexcept;
  void (*softmax_grad)(const SoftmaxGradTask&, int64_t row_begin, int64_t row_end) noexcept;
  CeKernels ce;  // cross-entropy family
  void (*divergence)(const DivTask&, int64_t row_begin, int64_t row_end) noexcept;
  // Binary losses run blocks [begin, end); vector_math runs
  // elements [begin, end).
  void (*binary_loss)(const BinaryLossTask&, int64_t block_begin, int64_t block_end) noexcept;
  void (*vector_math)(const VecMathTask&, int64_t begin, int64_t end) noexcept;
  // Integrations: gradient-boosting objectives.
  SoftmaxObjKernel softmax_objective;
  LogisticObjKernel logistic_objective;
};

}  // namespace logitloss
