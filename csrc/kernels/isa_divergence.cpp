// The divergences (softmax KL, generalized JSD) of one ISA build; see
// isa_table.cpp, which holds the table that points here. A translation unit
// of its own, like isa_cross_entropy.cpp: it keeps a build's cores busy.
#include "divergence.h"

namespace logitloss {
namespace LL_ISA {

void divergence(const DivTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) { divergence_rows<typename decltype(tag)::type>(t, r0, r1); });
}

}  // namespace LL_ISA
}  // namespace logitloss
