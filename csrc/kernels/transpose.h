// In-register transposes of a W x W block of lanes, and masked row loads and
// stores: the boosting objectives and the row blocks of the log-sum-exp
// family (RowBlock's stage) run short contiguous rows (K = 3..64 classes)
// with one row per lane, moving each block of W rows between the row-major
// memory and class vectors without per-element scalar copies.
//
// Note [Short-row transposes]
// A block of W rows of C contiguous classes is read as ceil(C / W) chunks of
// W row pieces (one vector per row, the last chunk partial) and each chunk is
// transposed in registers into W class vectors, lane j holding row j. The
// transpose swaps bit b of the lane and vector indices for b = 1, 2, ..., W/2:
// W log2(W) two-source shuffles (24 for 8 doubles, 64 for 16 floats), against
// 2 W^2 scalar loads and stores for a copy through memory. Measured on the
// AMD EPYC (AVX-512) for the softmax objective on 100000 x 10: 1.8 vs 2.7 ms
// (float64) and 1.3 vs 1.8 ms (float32), staging through memory; hardware
// gathers and scatters were slower than both there.
// Partial pieces use masked loads and stores under AVX-512 (no access past
// the row), element loops otherwise.
#pragma once

#include <cstddef>
#include <utility>

#include "../simd/storage.h"

namespace logitloss {
namespace LL_ISA {

namespace detail {
// Lane l of the low result: from a where bit B of l is clear, else from b
// (lane l - B); the high result takes the other halves.
template <class V, int B, std::size_t... L>
inline V bit_swap_lo(V a, V b, std::index_sequence<L...>) {
  return __builtin_shufflevector(a, b, int((L & B) == 0 ? L : lanes_v<V> + L - B)...);
}
template <class V, int B, std::size_t... L>
inline V bit_swap_hi(V a, V b, std::index_sequence<L...>) {
  return __builtin_shufflevector(a, b, int((L & B) == 0 ? L + B : lanes_v<V> + L)...);
}
template <int B, class V>
inline void transpose_stage(V* r) {
  constexpr int W = lanes_v<V>;
  if constexpr (B < W) {
    for (int i = 0; i < W; ++i) {
      if (i & B) continue;
      const V a = r[i], b = r[i + B];
      r[i] = bit_swap_lo<V, B>(a, b, std::make_index_sequence<W>{});
      r[i + B] = bit_swap_hi<V, B>(a, b, std::make_index_sequence<W>{});
    }
    transpose_stage<2 * B>(r);
  }
}
}  // namespace detail

// r[i][j] becomes r[j][i] (W vectors of W lanes).
template <class V>
inline void transpose_block(V* r) {
  detail::transpose_stage<1>(r);
}

// The first n <= W elements of p (other lanes 0), never reading past them.
template <class T, class V = vec_t<compute_t<T>>>
inline V load_piece(const T* p, int64_t n) {
  if (n == lanes_v<V>) return load<T>(p);
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  if constexpr (std::is_same<T, double>::value)
    return (V)_mm512_maskz_loadu_pd(__mmask8((1u << n) - 1), p);
  if constexpr (std::is_same<T, float>::value)
    return (V)_mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p);
#endif
  return load_partial<T>(p, n, elem_t<V>(0));
}

// Stores the first n <= W lanes of v to p, never writing past them.
template <class T, class V>
inline void store_piece(T* p, V v, int64_t n) {
  if (n == lanes_v<V>) return store<T>(p, v);
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  if constexpr (std::is_same<T, double>::value)
    return _mm512_mask_storeu_pd(p, __mmask8((1u << n) - 1), (__m512d)v);
  if constexpr (std::is_same<T, float>::value)
    return _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), (__m512)v);
#endif
  store_partial<T>(p, v, n);
}

}  // namespace LL_ISA
}  // namespace logitloss
