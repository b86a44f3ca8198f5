// One ISA build of every kernel. CMake compiles this file (and
// isa_cross_entropy.cpp and isa_divergence.cpp, split off so that a build
// keeps both cores busy) once per SIMD level with that level's -m flags and
// defines LL_ISA (the namespace, e.g. avx2), LL_VEC_BYTES and LL_TABLE_NAME
// (the exported table's symbol).
#include "logsumexp.h"
#include "binary_loss.h"
#include "objectives.h"  // integrations

namespace logitloss {
namespace LL_ISA {
namespace {

void logsumexp(const LseTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (t.b.data)
      lse_rows<T, true>(t, r0, r1);
    else
      lse_rows<T, false>(t, r0, r1);
  });
}

void softmax(const SoftmaxTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) { softmax_rows<typename decltype(tag)::type>(t, r0, r1); });
}

void logsumexp_grad(const LseGradTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (t.b.data)
      lse_grad_rows<T, true>(t, r0, r1);
    else
      lse_grad_rows<T, false>(t, r0, r1);
  });
}

void softmax_grad(const SoftmaxGradTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) { softmax_grad_rows<typename decltype(tag)::type>(t, r0, r1); });
}

// --- binary losses and test-only vector math
void binary_loss(const BinaryLossTask& t, int64_t b0, int64_t b1) noexcept {
  with_dtype(t.dtype, [&](auto tag) { binary_loss_rows<typename decltype(tag)::type>(t, b0, b1); });
}

void vector_math(const VecMathTask& t, int64_t i0, int64_t i1) noexcept {
  if (t.op == VecMathOp::widen16 || t.op == VecMathOp::narrow16) {
    if (t.dtype == DType::f16)
      storage_test_range<half_t>(t, i0, i1);
    else if (t.dtype == DType::bf16)
      storage_test_range<bfloat16_t>(t, i0, i1);
    return;
  }
  if (t.dtype == DType::f32)
    vector_math_range<float>(t, i0, i1);
  else if (t.dtype == DType::f64)
    vector_math_range<double>(t, i0, i1);
}

// Integrations: gradient-boosting objectives.
void softmax_objective(const SoftmaxObjTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) { softmax_obj_rows<typename decltype(tag)::type>(t, r0, r1); });
}

void logistic_objective(const LogisticObjTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype,
             [&](auto tag) { logistic_obj_rows<typename decltype(tag)::type>(t, r0, r1); });
}

}  // namespace

// The cross-entropy family, in isa_cross_entropy.cpp.
void cross_entropy(const CeTask& t, int64_t r0, int64_t r1) noexcept;
void nll_loss(const CeTask& t, int64_t r0, int64_t r1) noexcept;
// The divergences, in isa_divergence.cpp.
void divergence(const DivTask& t, int64_t r0, int64_t r1) noexcept;
}  // namespace LL_ISA

#define LL_STR2(x) #x
#define LL_STR(x) LL_STR2(x)

extern const KernelTable LL_TABLE_NAME;
const KernelTable LL_TABLE_NAME = {
    LL_STR(LL_ISA),
    &LL_ISA::logsumexp,
    &LL_ISA::softmax,
    &LL_ISA::logsumexp_grad,
    &LL_ISA::softmax_grad,
    {&LL_ISA::cross_entropy, &LL_ISA::nll_loss},  // cross-entropy family
    &LL_ISA::divergence,
    &LL_ISA::binary_loss,
    &LL_ISA::vector_math,  // test-only
    // Integrations: gradient-boosting objectives.
    &LL_ISA::softmax_objective,
    &LL_ISA::logistic_objective,
};

}  // namespace logitloss
