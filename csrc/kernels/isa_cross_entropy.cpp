// The cross-entropy family of one ISA build; see isa_table.cpp, which holds
// the table that points here. A separate translation unit: it is about half
// of an ISA's compile time, and two units per level keep a build's cores busy.
#include "cross_entropy.h"

namespace logitloss {
namespace LL_ISA {

void cross_entropy(const CeTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) { cross_entropy_rows<typename decltype(tag)::type>(t, r0, r1); });
}

void nll_loss(const CeTask& t, int64_t r0, int64_t r1) noexcept {
  with_dtype(t.dtype, [&](auto tag) { nll_rows<typename decltype(tag)::type>(t, r0, r1); });
}

}  // namespace LL_ISA
}  // namespace logitloss
