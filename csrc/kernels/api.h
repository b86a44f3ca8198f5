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
//
// A variant changes each row's loss and gradient (Note [Poly-1 cross-entropy],
// Note [Softmax focal loss] in cross_entropy_variants.h); its rows take no
// softcap and no z_loss, focal rows no smoothing and no probabilities.
enum class CeVariant : int32_t { plain = 0, poly1 = 1, focal = 2 };

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
  CeVariant variant = CeVariant::plain;
  double epsilon = 0;                // poly1: coefficient of 1 - sum_c q_c p_c
  double gamma = 0;                  // focal: exponent >= 0 of 1 - p_t
  const double* alpha = nullptr;     // focal: (classes,), or null: alpha_scalar
  double alpha_scalar = 1;
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

// --- elementwise losses: BCE (on logits and on probabilities), sigmoid -----
// --- focal loss, KL divergence ----------------------------------------------
// Every operand is a strided view of
// the same (outer, mid, inner) shape (broadcast operands have zero strides);
// elements are numbered in C order of that shape and processed in FIXED
// blocks of `block` elements (the kernels' work unit), so per-block partial
// sums never depend on the thread split.
enum class VecMathOp : int32_t {
  log = 0, log1p = 1, exp = 2, exp_nonpos = 3, log1p_unit = 4,
  widen16 = 5,   // 16-bit storage (dtype) -> float32
  narrow16 = 6,  // float32 (or float64 with StorageAccess::from_double) -> 16-bit dtype
  exp_diff = 7,  // exp(a - m): x holds a[0..n) then m[0..n)
  exp_below = 8,  // the same by ExpBelow (|m| < 2^24 resp. 2^52)
  tanh = 9, sech2 = 10,  // double only
  log1p_nonpos_half = 11,
  exp_tail = 12,  // |x| <= 1: e^x - 1 - x
};

// Which path of the load/store layer the storage ops take.
// vector: load_n / store_n; gather: gather / scatter (partial scatters in
// the tail); runs: load_strided_n / store_strided_n.
enum class StorageAccess : int32_t { vector = 0, gather = 1, runs = 2, scalar = 3, from_double = 4 };

// Test-only: out[i] = op(x[i]) with the ISA's vector math, contiguous n.
struct VecMathTask {
  DType dtype;  // f32 or f64; the 16-bit type for widen16 / narrow16
  VecMathOp op;
  const void* x;
  void* out;
  int64_t n;
  StorageAccess access = StorageAccess::vector;  // widen16 / narrow16 only
};

enum class BinaryLoss : int32_t {
  bce = 0,                   // BCE with logits
  focal = 1,                 // sigmoid focal loss
  binary_cross_entropy = 2,  // BCE on probabilities (range-checked)
  kl_div = 3,                // KL divergence, probability targets
  kl_div_log_target = 4,     // KL divergence, log-probability targets
};

// Bits of BinaryLossTask::range_error: operands outside [0, 1] (or NaN) of
// the losses on probabilities.
enum : uint32_t { kInputOutOfRange = 1, kTargetOutOfRange = 2 };

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
  // Losses on probabilities: the range_error bits of every element seen are
  // OR-ed in here (atomically). With no output at all, the kernel only checks.
  uint32_t* range_error = nullptr;
};

// Complex log-sum-exp (SciPy's semantics) over the class axis of complex64
// or complex128 views; scalar code compiled once, not per ISA (Note
// [Complex log-sum-exp] in complex_logsumexp.cpp).
struct ComplexLseTask {
  bool f64;           // complex128 (else complex64)
  View3 a;            // strides in complex elements
  View3 b;            // optional, same dtype and shape as a (may be broadcast)
  void* lse;          // per row: complex, or real (float/double) with sign
  void* sign;         // optional, per row, complex: then lse is real
};
void complex_logsumexp(const ComplexLseTask& t, int64_t row_begin, int64_t row_end) noexcept;

// ---------------------------------------------------------------------------
// Integrations: gradient-boosting objectives (kernels/objectives.h,
// kernels/focal_objectives.h). See Note [Boosting objectives] and Note
// [Focal objective] for the formulas.

// Diagonal-Hessian convention: the softmax objective's xgboost / lightgbm /
// exact, and the focal objectives' floored (max(h, 1e-16)) / exact.
enum class HessianKind : int32_t { xgboost = 0, lightgbm = 1, exact = 2, floored = 3 };

// The dtype of a per-row label or weight buffer (read as is, no copy).
enum class ValueKind : int32_t { f32 = 0, f64 = 1, i32 = 2, i64 = 3, u8 = 4 };

// One value per row, `stride` elements apart; `data` null when absent.
struct RowValues {
  const void* data = nullptr;
  ValueKind kind = ValueKind::f64;
  int64_t stride = 0;
};

// Focal parameters: loss = -a_t (1 - p_t)^gamma log p_t (Note [Focal objective]).
struct FocalParams {
  bool on = false;
  double gamma = 0;
  double alpha = -1;                  // binary: torchvision's alpha (< 0: none)
  const double* class_alpha = nullptr;  // softmax: a_t = class_alpha[t], or 1 when null
};

// Softmax objective over the class axis: per row, grad and hess of the
// weighted log-loss (or focal loss) with respect to the margins x.
struct SoftmaxObjTask {
  DType dtype;
  HessianKind hessian;
  View3 x;
  RowValues labels;       // class ids: integers, or floats holding integers
  RowValues weight;       // optional, float32 or float64
  MutView3 grad, hess;    // shaped like x
  FocalParams focal;
  // The lowest row whose label is not a class id in [0, classes) or whose
  // weight is negative or not finite; the caller sets both to INT64_MAX.
  int64_t* bad_label = nullptr;
  int64_t* bad_weight = nullptr;
};

// Logistic (or binary focal) objective, elementwise over n = row_end rows of
// one element each.
struct LogisticObjTask {
  DType dtype;
  HessianKind hessian;  // focal only (the logistic objective floors at 1e-16)
  const void* x;        // margins, stride s_x
  int64_t s_x;
  RowValues y;          // labels in [0, 1]
  RowValues weight;     // optional, float32 or float64
  void* grad;           // contiguous, dtype
  void* hess;           // contiguous, dtype
  FocalParams focal;
  int64_t* bad_label = nullptr;   // lowest row with a label outside [0, 1] (or NaN)
  int64_t* bad_weight = nullptr;  // as SoftmaxObjTask
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
