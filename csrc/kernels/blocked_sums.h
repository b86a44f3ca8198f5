// Row statistics of long contiguous rows in one read of the row: the online
// normaliser, block by block.
//
// Note [Blocked row sums]
// Statistics of Note [Stable log-sum-exp] (m, ties, rest) need the row max
// before any exp(x - m): a max pass and then an exp pass read the row twice,
// and a row past the L2 cache comes from L3 or DRAM both times. Here the row
// is cut into blocks of `sum_block_length` classes (32 KiB of the compute
// type, set by C and the storage type only, never by the thread split or the
// SIMD level, so every thread count gives the same bits). Each block's max
// m_b and its own ties_b and rest_b (exps exp(x - m_b), exp_pass) are taken
// while the block is in cache, so the row is read once; the next block is
// prefetched meanwhile. The blocks then combine with m = max m_b (Milakov &
// Gimelshein's online normaliser, the running max deferred to the end so
// that each block is rescaled exactly once):
//     ties = sum of ties_b over the blocks with m_b == m,
//     rest = sum of rest_b over those blocks
//          + sum of (ties_b + rest_b) f_b over the others, f_b = exp(m_b - m),
// in double: f_b compensated for the rounding of m_b - m (exp_diff_scalar,
// std::exp within 1 ULP), ties_b + rest_b and the product rounding once
// each. A rescaled block's term carries at most 2.5 ULP of double (2^-51.7)
// besides its exps' own error, once per block whatever the order of the
// maxima (no running rescale compounds): invisible for float32 rows (exps
// within 1 ULP of float), and for float64 rows `rest`, L and the loss stay
// within 2.5 ULP of double relative plus the final roundings (measured on
// rows whose max rises every block, tests/test_blocked_sums.py: loss within
// 0.8 ULP, as on the two-pass path).
// The gradient (cross-entropy) scales each kept exp(x - m_b) by the block's
// multiplier rounded once to the compute type, mul * f_b (exactly mul in
// the blocks that hold m), where the two-pass path scales exp(x - m) by mul:
// f_b's error (1 ULP of double) and the product's rounding add at most 1.5
// ULP of double to the entries outside the max's blocks. For float32 that
// is far below the rounding to float, which mul * f_b takes once as mul
// did; for float64 it shows. Measured against mpmath: float32 entries
// within 2.3 ULP (2.5 before), float64 within 3.2 (2.5 before; the tests
// hold 4). Logsumexp takes the sums alone. 16-bit rows past
// the exp scratch (Note [Kept exps]) compute exp(x - m_b) again in the
// gradient pass: the same values, so they stay the float32 result rounded
// once. A block holding only -inf and NaN takes m_b = the lowest finite
// value: f_b = 0 drops its -inf entries and 0 * NaN keeps its NaN.
#pragma once

#include <limits>

#include "row_stats.h"

namespace logitloss {
namespace LL_ISA {

// Rows of at least kBlockedSumsBytes take the blocked sums: the crossover
// measured in docs/benchmark.md (below it the row's second read hits L2 and
// the blocks only add their overhead).
constexpr int64_t kBlockedSumsBytes = int64_t(1) << 18;
constexpr int64_t kSumBlockBytes = int64_t(1) << 15;  // the block: 32 KiB
constexpr int kMaxSumBlocks = 512;                    // longer rows take longer blocks

// exp(a - b) in double with the rounding of a - b compensated.
inline double exp_diff_scalar(double a, double b) {
  const double hi = a - b;
  const double bb = a - hi;
  double lo = (a - (hi + bb)) + (bb - b);
  if (lo != lo) lo = 0;
  return std::exp(hi) * (1.0 + lo);
}

// Both in bytes of the compute type, so that a 16-bit row is cut as the
// float32 row of its values is, and gives its result rounded once (Note
// [16-bit storage]).
template <class T>
inline bool blocked_sums_pay(int64_t C) {
  return C * int64_t(sizeof(compute_t<T>)) >= kBlockedSumsBytes;
}

// Classes per block of a row of C: at least kSumBlockBytes, at most
// kMaxSumBlocks blocks, a multiple of 256 (whole vectors at every width).
template <class T>
inline int64_t sum_block_length(int64_t C) {
  const int64_t least = kSumBlockBytes / int64_t(sizeof(compute_t<T>));
  const int64_t spread = (C + kMaxSumBlocks - 1) / kMaxSumBlocks;
  const int64_t b = spread > least ? spread : least;
  return (b + 255) / 256 * 256;
}

// A row's blocks and their statistics.
struct SumBlocks {
  int64_t length;  // classes per block (the last may be shorter)
  int count = 0;
  double m[kMaxSumBlocks], ties[kMaxSumBlocks], rest[kMaxSumBlocks];
};
struct NoSumBlocks {};  // what a kernel that does not take them holds instead

// exp(m_b - m): what turns block b's kept exp(x - m_b) into exp(x - m);
// exactly 1 for the blocks that hold the row max.
inline double block_factor(const SumBlocks& bl, int b, double m) {
  return bl.m[b] == m ? 1.0 : exp_diff_scalar(bl.m[b], m);
}

// The row's statistics (Note [Blocked row sums]); false, `st` untouched,
// when the row max is not finite. With `keep`, exp(x - m_b) of every class
// is stored there (relative to its block's max: see block_factor).
// `next_row`, if given, is prefetched while the last block's exps are taken;
// `out_row` is exp_pass's (16-bit rows: the output, prefetched for writing).
template <class T>
inline bool blocked_stats(const T* x, int64_t C, const T* next_row, compute_t<T>* keep,
                          SumBlocks& bl, RowStats& st, T* out_row = nullptr) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  constexpr int W = lanes_v<V>;
  const int64_t B = bl.length = sum_block_length<T>(C);
  F m = -kInf<F>;
  int& b = bl.count = 0;
  for (int64_t k0 = 0; k0 < C; k0 += B, ++b) {
    const int64_t n = C - k0 < B ? C - k0 : B;
    const T* xb = x + k0;
    V mv = splat<V>(-kInf<F>);
    for_chunks<W>(n, [&](int64_t k, int64_t c) { mv = vmax(load_n<T>(xb + k, c, -kInf<F>), mv); });
    F mb = reduce_max(mv);
    if (mb == kInf<F>) return false;
    if (mb > m) m = mb;
    if (mb == -kInf<F>) mb = std::numeric_limits<F>::lowest();  // only -inf and NaN
    const T* ahead = k0 + B < C ? xb + B : next_row;
    T* const out = out_row ? out_row + k0 : nullptr;
    if (keep)
      exp_pass<T, true>(xb, n, mb, ahead, keep + k0, bl.ties[b], bl.rest[b], out);
    else
      exp_pass<T, false>(xb, n, mb, ahead, nullptr, bl.ties[b], bl.rest[b], out);
    bl.m[b] = double(mb);
  }
  if (m == -kInf<F>) return false;
  double ties = 0;  // a count: exact
  RowSum<double, kCompensatedSums<T>> rest;
  for (int j = 0; j < b; ++j) {
    if (bl.m[j] == double(m)) {
      ties += bl.ties[j];
      rest.add(bl.rest[j]);
    } else {
      rest.add((bl.ties[j] + bl.rest[j]) * block_factor(bl, j, double(m)));
    }
  }
  st = {double(m), ties, rest.value()};
  return true;
}

}  // namespace LL_ISA
}  // namespace logitloss
