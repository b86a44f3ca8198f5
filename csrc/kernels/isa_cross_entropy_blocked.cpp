// Cross-entropy's long index rows with blocked sums (Note [Blocked row
// sums]) of one ISA build, in a unit of their own: see blocked_index_rows
// in cross_entropy.h.
#include "cross_entropy.h"

namespace logitloss {
namespace LL_ISA {
namespace ce {

template <class T, bool kGrad>
void blocked_index_rows(const CeTask& t, int64_t r0, int64_t r1) {
  contig_rows<T, Mode::index, kGrad, false, true>(t, r0, r1);
}

template void blocked_index_rows<float, false>(const CeTask&, int64_t, int64_t);
template void blocked_index_rows<float, true>(const CeTask&, int64_t, int64_t);
template void blocked_index_rows<double, false>(const CeTask&, int64_t, int64_t);
template void blocked_index_rows<double, true>(const CeTask&, int64_t, int64_t);
template void blocked_index_rows<half_t, false>(const CeTask&, int64_t, int64_t);
template void blocked_index_rows<half_t, true>(const CeTask&, int64_t, int64_t);
template void blocked_index_rows<bfloat16_t, false>(const CeTask&, int64_t, int64_t);
template void blocked_index_rows<bfloat16_t, true>(const CeTask&, int64_t, int64_t);

}  // namespace ce
}  // namespace LL_ISA
}  // namespace logitloss
