// Per-row statistics of shifted exponentials: the building block of every
// log-sum-exp, softmax and cross-entropy kernel.
//
// Note [Stable log-sum-exp]
// For a row x with optional scales b, let m = max x (over b != 0), `ties` the
// weight of the maxima (their count, or the sum of their b) and
// `rest` = sum over x < m of b * exp(x - m). Then
//     logsumexp = m + log|ties| + log1p(rest / ties).
// When one class dominates, rest/ties is tiny and log1p keeps all its digits;
// a plain log(ties + rest) would round them away (the split SciPy 1.15+ uses).
// exp(x - m) compensates the rounding of x - m (Note [Vector exp]) and the
// sums are accumulated in double for every storage type, so a float32 row
// loses nothing to cancellation or to the order of the additions; a float64
// row's sums are compensated (kCompensatedSums) for the same effect.
// Rows whose max is not finite (+inf, or -inf: all -inf / all masked / all
// NaN) take a scalar path that reproduces SciPy's special values.
#pragma once

#include "../simd/exp.h"
#include "../simd/log.h"
#include "rows.h"

namespace logitloss {
namespace LL_ISA {

struct RowStats {
  double m;     // finite row max
  double ties;  // weight of the entries equal to m
  double rest;  // sum of b * exp(x - m) over the other entries
};

// log(ties + rest) of an unweighted row (ties >= 1, rest >= 0 or NaN) as
// log(ties) + log1p(rest / ties). A single maximum, the rule, skips the
// log: log(1) = 0 and rest / 1 = rest, so the value is the same.
inline double log_unweighted_total(double ties, double rest) {
  return ties == 1 ? std::log1p(rest) : std::log1p(rest / ties) + std::log(ties);
}

// log|ties + rest| with its sign (+1, -1, 0 for a zero sum, NaN for NaN).
inline double log_abs_total(double ties, double rest, double& sign) {
  if (ties == 1 && rest >= 0) {  // a single maximum: log_unweighted_total
    sign = 1;
    return std::log1p(rest);
  }
  if (std::isnan(ties) || std::isnan(rest)) {
    sign = kNaN<double>;
    return kNaN<double>;
  }
  if (ties == 0) {
    sign = double((rest > 0) - (rest < 0));
    return std::log(std::fabs(rest));
  }
  const double r = rest / ties;
  const double q = 1.0 + r;
  sign = double((q > 0) - (q < 0)) * (ties > 0 ? 1.0 : -1.0);
  // For r < -1, log|1 + r| = log1p(-r - 2) keeps the log1p accuracy.
  const double l = r < -1.0 ? std::log1p(-r - 2.0) : std::log1p(r);
  return std::log(std::fabs(ties)) + l;
}

// A scale of zero removes an entry, NaN or inf included (SciPy's rule).
template <class V>
inline V mask_zero_scale(V x, V b) {
  return b == V{} ? splat<V>(-kInf<elem_t<V>>) : x;
}

// Brings the row that comes next into cache while this row's exp pass keeps
// the core busy, so the next max pass reads cache instead of waiting on DRAM
// (8-15% faster on 32000-class rows, measured). One line per 64 bytes.
template <class T>
inline void prefetch_chunk(const T* next_row, int64_t k) {
  if (next_row && (k * int64_t(sizeof(T))) % 64 < int64_t(kVecBytes))
    __builtin_prefetch(next_row + k, 0, 3);
}

// Row r + 1 of x while it is in [r0, r1): the row an exp pass prefetches.
template <class T>
inline const T* next_row(const View3& x, int64_t r, int64_t r1) {
  return r + 1 < r1 ? static_cast<const T*>(x.data) + row_offset(x, r + 1) : nullptr;
}

// Whether storage T holds exp(x - m) between passes without rounding it:
// float and double, not the 16-bit types.
template <class T>
constexpr bool kKeepsExps = sizeof(T) == sizeof(compute_t<T>);

// A sum of row terms in double lanes; kCompensated also sums each
// addition's exact rounding error (Knuth's TwoSum; its loop-carried chain is
// one addition, where Kahan's is four), see kCompensatedSums.
template <class A, bool kCompensated>
struct RowSum {
  A sum{}, err{};
  void add(A x) {
    if constexpr (kCompensated) {
      const A total = sum + x;
      const A from_x = total - sum;
      err += (sum - (total - from_x)) + (x - from_x);  // (sum + x) - total, exactly
      sum = total;
    } else {
      sum += x;
    }
  }
  A value() const {
    if constexpr (kCompensated) {
      // After an infinite term `sum` is infinite and `err` NaN: then sum is it.
      return sum - sum == A{} ? sum + err : sum;
    } else {
      return sum;
    }
  }
};

// Whether a row's sums (of exps, weights, coefficients) are compensated:
// for double storage, whose compute type is the accumulator's. A plain sum of
// n terms drifts by up to n/2 ULP when the terms repeat (each addition
// rounding the same way): softmax was 11 ULP off on a 4097-class float64 row
// with 2048 equal entries, and softmax_grad's d = sum g * y, which nearly
// cancels against g in y * (g - d), failed a property test (29 classes, 7
// ULP). Compensated, such sums are within about 2 ULP. Float storage sums its
// float terms in double, far below their precision, and stays uncompensated.
template <class T>
constexpr bool kCompensatedSums = std::is_same<compute_t<T>, double>::value;

// Adds 1 to the lanes of `count` where `tie` is true, in one instruction:
// AVX-512's comparisons give masks, which a masked add takes; AVX2's and
// SSE2's give vectors whose true lanes are -1, subtracted.
template <class M>
inline void count_ties(M& count, M tie) {
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  count = tie ? count + 1 : count;
#else
  count -= tie;
#endif
}

// Note [Exp sweep cost]
// exp_pass's loop, per vector: the exp of ExpBelow (a floor, a compensated
// difference, the reduction, the polynomial, one scaling), the tie mask and
// count, and the widening of the exps into double sums. Ties are counted in
// integer lanes (exact: a segment holds < 2^31 per lane). Float rows add
// each step's two vectors of exps in float before widening (one widening
// per two vectors): the pair sum rounds once, adding at most 2^-24 to the
// sum's relative error (both terms are nonnegative), where each exp brings
// up to 2^-23; double rows keep two compensated chains. Float rows sum in a
// pair of double vectors at every width: GCC kept AVX-512's 16-double
// generic vector in memory (a load and a store per accumulation). The next
// row is prefetched once per cache line. Instruction counts (objdump of
// benchmarks/micro/exp_loop.cpp) are in docs/benchmark.md.
template <class T, bool kKeep, class Exp>
inline void exp_sweep(const T* x, int64_t C, const Exp& ex, const T* next_row,
                      compute_t<T>* keep, double& ties, double& rest, T* out_row) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  constexpr bool kPairs = std::is_same<F, float>::value;
  using A = std::conditional_t<kPairs, AccF, vd>;
  using M = mask_t<V>;
  constexpr int W = lanes_v<V>;
  constexpr int64_t kSegment = int64_t(1) << 30;
  constexpr int64_t kStepBytes = 2 * W * int64_t(sizeof(T));
  const V mv = ex.m;
  // exp(x - m) without the entries x equal to m (ties, whose exp is 1), and
  // the tie count, each spelled so that it costs one instruction: AVX-512's
  // comparisons give masks, which the exp's last operation and an add take
  // (x != m, not a negated tie mask: that would be an instruction more);
  // AVX2's give vectors, and-ed off and subtracted (a true lane is -1).
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  const auto rest_part = [&](V e, V x_, M) { return x_ != mv ? e : V{}; };
#else
  const auto rest_part = [](V e, V, M tie) { return andnot(tie, e); };
#endif
  RowSum<A, kCompensatedSums<T>> rest0, rest1;
  double tie_count = 0;
  for (int64_t s0 = 0; s0 < C; s0 += kSegment) {
    const int64_t s1 = C - s0 < kSegment ? C : s0 + kSegment;
    M count{};
    int64_t k = s0;
    for (; k + 2 * W <= s1; k += 2 * W) {
      if (next_row)
        for (int64_t line = 0; line < kStepBytes; line += 64)
          __builtin_prefetch(reinterpret_cast<const char*>(next_row + k) + line, 0, 3);
      if (kIs16Bit<T> && out_row)  // see exp_pass
        for (int64_t line = 0; line < kStepBytes; line += 64)
          __builtin_prefetch(reinterpret_cast<const char*>(out_row + k) + line, 1, 3);
      const V a = load<T>(x + k), b = load<T>(x + k + W);
      const M tie_a = a == mv, tie_b = b == mv;
      const V ea = ex(a), eb = ex(b);
      count_ties(count, tie_a);
      count_ties(count, tie_b);
      if constexpr (kPairs) {
        rest0.add(widen_acc(rest_part(ea, a, tie_a) + rest_part(eb, b, tie_b)));
      } else {
        rest0.add(widen_acc(rest_part(ea, a, tie_a)));
        rest1.add(widen_acc(rest_part(eb, b, tie_b)));
      }
      if constexpr (kKeep) {
        store<F>(keep + k, ea);
        store<F>(keep + k + W, eb);
      }
    }
    for_chunks<W>(s1 - k, [&](int64_t j, int64_t n) {
      const V a = load_n<T>(x + k + j, n, -kInf<F>);
      const V ea = ex(a);
      const M tie_a = a == mv;
      count_ties(count, tie_a);
      rest0.add(widen_acc(rest_part(ea, a, tie_a)));
      if constexpr (kKeep) store_n<F>(keep + k + j, ea, n);
    });
    int64_t segment_ties = 0;  // exact: a segment holds < 2^31 entries
    for (int j = 0; j < W; ++j) segment_ties += count[j];
    tie_count += double(segment_ties);
  }
  ties = tie_count;
  rest = reduce_add(rest0.value() + rest1.value());
}

// The exp pass of an unweighted contiguous row with finite max m: `ties`
// counts the entries equal to m, `rest` sums exp(x - m) over the others, and
// with kKeep every exp(x - m) is also stored to `keep` (see keep_target).
// `out_row`, if given, is the row the caller writes next: a 16-bit row is
// prefetched for writing, so that the second pass does not wait for its
// lines (measured: float16 cross-entropy's gradient pass took 2.3x
// float32's on rows from DRAM, 1.3x on rows in cache); float rows, whose
// exps are kept in that row, have it in cache already.
// The hot loop of the large-row kernels; see Note [Exp sweep cost].
template <class T, bool kKeep>
inline void exp_pass(const T* x, int64_t C, compute_t<T> m, const T* next_row,
                     compute_t<T>* keep, double& ties, double& rest, T* out_row = nullptr) {
  using V = vec_t<compute_t<T>>;
  with_row_exp(splat<V>(m), [&](const auto& ex) {
    exp_sweep<T, kKeep>(x, C, ex, next_row, keep, ties, rest, out_row);
  });
}

// Note [Kept exps]
// A kernel that needs exp(x - m) twice (softmax, the gradients) keeps the
// exp pass's values rather than computing them again: float and double rows
// in their output row, which holds them exactly and is written next anyway;
// 16-bit rows, whose output would round them, in a per-thread float buffer
// of up to kExpScratch classes (256 KB, in cache while the row is; longer
// rows recompute). It holds exps of the row being processed, not a copy of
// the input. Kept or recomputed, the values are the same.
constexpr int64_t kExpScratch = int64_t(1) << 16;
inline float* exp_scratch() {
  alignas(64) static thread_local float buffer[kExpScratch];
  return buffer;
}

// Where the exps of a row of C classes whose output row is `out` are kept:
// see Note [Kept exps]; nullptr if they are not.
template <class T>
inline compute_t<T>* keep_target(T* out, int64_t C) {
  if constexpr (kKeepsExps<T>)
    return out;
  else
    return C <= kExpScratch ? exp_scratch() : nullptr;
}

// The max of a contiguous row (entries with a zero scale left out; NaN
// entries are skipped: vmax keeps its second operand). Four independent
// chains: with one, every vector waited for the previous vmax (its latency,
// not the loads, set the pace: ~60 dependent steps on a 1000-class row).
template <class T, bool kHasB>
inline compute_t<T> row_max(const T* x, const T* b, int64_t C) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  constexpr int W = lanes_v<V>;
  const auto entry = [&](int64_t k, int64_t n) {
    V xv = load_n<T>(x + k, n, -kInf<F>);
    if constexpr (kHasB) xv = mask_zero_scale(xv, load_n<T>(b + k, n, F(0)));
    return xv;
  };
  V m0 = splat<V>(-kInf<F>), m1 = m0, m2 = m0, m3 = m0;
  int64_t k = 0;
  for (; k + 4 * W <= C; k += 4 * W) {
    m0 = vmax(entry(k, W), m0);
    m1 = vmax(entry(k + W, W), m1);
    m2 = vmax(entry(k + 2 * W, W), m2);
    m3 = vmax(entry(k + 3 * W, W), m3);
  }
  for_chunks<W>(C - k, [&](int64_t j, int64_t n) { m0 = vmax(entry(k + j, n), m0); });
  return reduce_max(vmax(vmax(m0, m1), vmax(m2, m3)));
}

// Statistics of one contiguous row (lanes along the classes). Returns false,
// leaving `st` untouched, when the row max is not finite. `next_row`, if
// given, is prefetched during the exp pass; `keep`, if given (unweighted
// rows; keep_target), receives every exp(x - m) so that a second pass need
// not recompute them; `out_row` is exp_pass's.
template <class T, bool kHasB>
inline bool contig_stats(const T* x, const T* b, int64_t C, RowStats& st,
                         const T* next_row = nullptr, compute_t<T>* keep = nullptr,
                         T* out_row = nullptr) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const F m = row_max<T, kHasB>(x, b, C);
  if (!std::isfinite(m)) return false;
  if constexpr (!kHasB) {
    st.m = double(m);
    if (keep)
      exp_pass<T, true>(x, C, m, next_row, keep, st.ties, st.rest, out_row);
    else
      exp_pass<T, false>(x, C, m, next_row, nullptr, st.ties, st.rest, out_row);
    return true;
  }
  const V mvec = splat<V>(m);
  RowSum<A, kCompensatedSums<T>> ties, rest;
  for_chunks<W>(C, [&](int64_t k, int64_t n) {
    prefetch_chunk(next_row, k);
    V xv = load_n<T>(x + k, n, -kInf<F>);
    V w = splat<V>(F(1));
    if constexpr (kHasB) {
      w = load_n<T>(b + k, n, F(0));
      xv = mask_zero_scale(xv, w);
    }
    const auto tie = xv == mvec;
    V e = exp_diff(xv, mvec);
    if constexpr (kHasB) e *= w;
    ties.add(widen(tie ? w : V{}));
    rest.add(widen(tie ? V{} : e));
  });
  st = {double(m), reduce_add(ties.value()), reduce_add(rest.value())};
  return true;
}

// Applies a vd -> vd function to every half of a double accumulator.
template <class Fn>
inline vd map_lanes(vd a, vd b, Fn&& fn) {
  return fn(a, b);
}
template <class Fn>
inline AccF map_lanes(const AccF& a, const AccF& b, Fn&& fn) {
  return {fn(a.lo, b.lo), fn(a.hi, b.hi)};
}
#if LL_VEC_BYTES >= 64
template <class Fn>
inline vd_wide map_lanes(vd_wide a, vd_wide b, Fn&& fn) {
  vd x[2], y[2];
  std::memcpy(x, &a, sizeof x);
  std::memcpy(y, &b, sizeof y);
  x[0] = fn(x[0], y[0]);
  x[1] = fn(x[1], y[1]);
  vd_wide out;
  std::memcpy(&out, x, sizeof out);
  return out;
}
#endif

// log(ties) + log1p(rest / ties) of every lane (ties >= 1: unweighted rows),
// in vector double arithmetic: the per-row finish of the row-block paths,
// where scalar libm calls cost more than the rows' exps (65536 x 10).
template <class A>
inline A log_total_lanes(const A& ties, const A& rest) {
  return map_lanes(ties, rest, [](vd t, vd r) {
    // One maximum per row is the rule: then log(ties) = 0 and r / t = r.
    return any_lane<vd>(t != 1.0) ? log_v(t) + log1p_v(r / t) : log1p_v(r);
  });
}

// Statistics of a block of rows, one per lane. Lanes whose max is not finite
// get m = 0 (so the arithmetic stays quiet) and are flagged in `special`.
template <class T, bool kHasB>
struct BlockStats {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  static constexpr int W = lanes_v<V>;
  V m;
  A ties{}, rest{};
  mask_t<V> special;

  // With `keep` (room for C * W values), exp(x - m) of class k is also
  // stored at keep + k * W, for a second pass that would recompute it.
  BlockStats(const RowBlock<T>& xb, const RowBlock<T>* bb, int64_t C, F* keep = nullptr) {
    V mv = splat<V>(-kInf<F>);
    for (int64_t k = 0; k < C; ++k) {
      V xv = xb.load(k);
      if constexpr (kHasB) xv = mask_zero_scale(xv, bb->load(k));
      mv = vmax(xv, mv);
    }
    special = abs_v(mv) == kInf<F>;
    m = special ? V{} : mv;
    if (keep)
      exp_sums<true>(xb, bb, C, keep);
    else
      exp_sums<false>(xb, bb, C, nullptr);
  }
  // The sums run in registers (widen_acc: AccF for float lanes at every
  // width): AVX-512's 16-double acc_t was kept in memory, a load and a store
  // per class with the store-to-load latency on the loop's chain (a third of
  // a 10-class logsumexp, measured). The exp is ExpBelow's where it covers
  // the block's maxima (exp_diff's values, fewer operations); lanes of
  // special rows have m = 0 and are discarded whatever their exp.
  template <bool kKeep>
  void exp_sums(const RowBlock<T>& xb, const RowBlock<T>* bb, int64_t C, F* keep) {
    using R = decltype(widen_acc(V{}));
    with_row_exp(m, [&](const auto& ex) {
      RowSum<R, kCompensatedSums<T>> tie_sum, rest_sum;  // local: in registers
      // Unweighted rows count their ties in integer lanes, flushed to double
      // every 2^30 classes (exact: a lane never reaches 2^31).
      constexpr int64_t kSegment = int64_t(1) << 30;
      mask_t<V> tie_count{};
      double counted[W] = {};
      for (int64_t k = 0; k < C; ++k) {
        if (!kHasB && k % kSegment == kSegment - 1) {
          for (int j = 0; j < W; ++j) counted[j] += double(tie_count[j]);
          tie_count = mask_t<V>{};
        }
        V xv = xb.load(k);
        V w = splat<V>(F(1));
        if constexpr (kHasB) {
          w = bb->load(k);
          xv = mask_zero_scale(xv, w);
        }
        const auto tie = xv == m;
        V e = ex(xv);
        if constexpr (kKeep) store<F>(keep + k * W, e);
        if constexpr (kHasB) {
          e *= w;
          tie_sum.add(widen_acc(tie ? w : V{}));
        } else {
          count_ties(tie_count, tie);
        }
        rest_sum.add(widen_acc(tie ? V{} : e));
      }
      if constexpr (kHasB) {
        ties = as_acc(tie_sum.value());
      } else {
        ties = A{};
        for (int j = 0; j < W; ++j) set_lane(ties, j, counted[j] + double(tie_count[j]));
      }
      rest = as_acc(rest_sum.value());
    });
  }
  // A register sum as the block's accumulator type (the same lanes).
  template <class R>
  static A as_acc(const R& r) {
    static_assert(sizeof(R) == sizeof(A), "an accumulator of the same lanes");
    A a;
    std::memcpy(&a, &r, sizeof a);
    return a;
  }
  RowStats lane(int j) const { return {double(m[j]), ties[j], rest[j]}; }
  // log(ties + rest) of every lane (unweighted rows only).
  A log_total() const { return log_total_lanes(ties, rest); }
};

// A block's exp(x - m) kept between its passes when `wanted` and the rows are
// short enough (C <= RowBlock::kMaxStaged), else recomputed: the same values
// either way (the same exp_diff of the same inputs).
template <class T>
struct BlockExps {
  using F = compute_t<T>;
  using V = vec_t<F>;
  static constexpr int W = lanes_v<V>;
  static constexpr int64_t kMax = RowBlock<T>::kMaxStaged;
  bool on;
  alignas(64) F values[kMax * W];
  BlockExps(bool wanted, int64_t C) : on(wanted && C <= kMax) {}
  F* buffer() { return on ? values : nullptr; }
  V get(int64_t k, const RowBlock<T>& xb, V m) const {
    return on ? load<F>(values + k * W) : exp_diff(xb.load(k), m);
  }
};

// What a row with a non-finite max holds, scanned in scalar code.
struct SpecialRow {
  bool nan = false;      // a NaN entry (with a nonzero scale)
  double m = -kInf<double>;
  double inf_weight = 0;  // sum of the scales of the +inf entries
};

template <class T, bool kHasB>
inline SpecialRow scan_special(RowPtr<T> x, RowPtr<T> b, int64_t C) {
  SpecialRow s;
  for (int64_t k = 0; k < C; ++k) {
    const double xk = double(to_compute(x[k]));
    const double bk = kHasB ? double(to_compute(b[k])) : 1.0;
    if (bk == 0) continue;
    if (std::isnan(xk) || std::isnan(bk)) {
      s.nan = true;
    } else {
      if (xk > s.m) s.m = xk;
      if (xk == kInf<double>) s.inf_weight += bk;
    }
  }
  return s;
}

}  // namespace LL_ISA
}  // namespace logitloss
