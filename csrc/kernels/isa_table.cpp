// One ISA build of every kernel. CMake compiles this file once per SIMD level
// with that level's -m flags and defines LL_ISA (the namespace, e.g. avx2),
// LL_VEC_BYTES and LL_TABLE_NAME (the exported table's symbol).
#include "logsumexp.h"
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

// Integrations: gradient-boosting objectives.
void softmax_objective(const SoftmaxObjTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) { softmax_obj_rows<typename decltype(tag)::type>(t, r0, r1); });
}

void logistic_objective(const LogisticObjTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype,
             [&](auto tag) { logistic_obj_rows<typename decltype(tag)::type>(t, r0, r1); });
}

}  // namespace
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
    // Integrations: gradient-boosting objectives.
    &LL_ISA::softmax_objective,
    &LL_ISA::logistic_objective,
};

}  // namespace logitloss
