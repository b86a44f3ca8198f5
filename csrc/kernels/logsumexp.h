// The log-sum-exp family: logsumexp, softmax, log_softmax and their
// gradients, over the class axis of an (outer, classes, inner) view.
// See Note [Stable log-sum-exp] for the arithmetic and SciPy's special values.
#pragma once

#include "blocked_sums.h"

namespace logitloss {
namespace LL_ISA {

// ---------------------------------------------------------------- logsumexp

template <class T>
inline void write_lse(const LseTask& t, int64_t r, double value, double sign) {
  if (t.sign)
    static_cast<T*>(t.sign)[r] = from_double<T>(sign);
  else if (sign < 0)
    value = kNaN<double>;  // log of a negative sum
  static_cast<T*>(t.lse)[r] = from_double<T>(value);
}

template <class T, bool kHasB>
inline void lse_finish(const LseTask& t, int64_t r, const RowStats& st) {
  double sign;
  const double l = log_abs_total(st.ties, st.rest, sign);
  write_lse<T>(t, r, st.m + l, sign);
}

template <class T, bool kHasB>
inline void lse_special(const LseTask& t, int64_t r) {
  const RowPtr<T> x = row_ptr<T>(t.x, r);
  const SpecialRow s = scan_special<T, kHasB>(x, kHasB ? row_ptr<T>(t.b, r) : x, t.x.classes);
  if (s.nan) return write_lse<T>(t, r, kNaN<double>, kNaN<double>);
  if (s.m == -kInf<double>) return write_lse<T>(t, r, -kInf<double>, 0.0);
  // Max is +inf: the sign of the infinite entries' total scale decides.
  if (s.inf_weight > 0) return write_lse<T>(t, r, kInf<double>, 1.0);
  if (s.inf_weight < 0) return write_lse<T>(t, r, kInf<double>, -1.0);
  write_lse<T>(t, r, kNaN<double>, kNaN<double>);  // inf - inf
}

template <class T, bool kHasB>
void lse_rows(const LseTask& t, int64_t r0, int64_t r1) noexcept {
  const int64_t C = t.x.classes;
  if (t.x.s_class == 1 && (!kHasB || t.b.s_class == 1) && !short_rows<T>(C)) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
      const T* b = kHasB ? static_cast<const T*>(t.b.data) + row_offset(t.b, r) : nullptr;
      RowStats st;
      const T* next = next_row<T>(t.x, r, r1);
      SumBlocks blocks;  // Note [Blocked row sums]: long unscaled rows in one read
      if (!kHasB && blocked_sums_pay<T>(C) ? blocked_stats<T>(x, C, next, nullptr, blocks, st)
                                           : contig_stats<T, kHasB>(x, b, C, st, next))
        lse_finish<T, kHasB>(t, r, st);
      else
        lse_special<T, kHasB>(t, r);
    }
    return;
  }
  constexpr int W = lanes_v<vec_t<compute_t<T>>>;
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    const RowBlock<T> xb(t.x, rb, n);
    const SecondBlock<T> b_block(kHasB, t.b, rb, n, xb);
    const RowBlock<T>& bb = b_block.block;
    const BlockStats<T, kHasB> st(xb, &bb, C);
    if constexpr (!kHasB) {
      const auto lse = widen(st.m) + st.log_total();
      if (!t.sign && sizeof(T) == sizeof(compute_t<T>)) {
        // One store for the block (the rows' results are contiguous): the
        // per-lane write_lse cost a tenth of a 10-class logsumexp. Without
        // a sign, write_lse stores the value as it is (an unweighted sum is
        // positive or NaN); narrow rounds to float as from_double does.
        using V = vec_t<compute_t<T>>;
        store_n<T>(static_cast<T*>(t.lse) + rb, narrow<V>(lse), n);
        for (int j = 0; j < n; ++j)
          if (st.special[j]) lse_special<T, kHasB>(t, rb + j);
        return;
      }
      for (int j = 0; j < n; ++j) {
        if (st.special[j])
          lse_special<T, kHasB>(t, rb + j);
        else
          write_lse<T>(t, rb + j, lse[j], std::isnan(lse[j]) ? kNaN<double> : 1.0);
      }
      return;
    }
    for (int j = 0; j < n; ++j) {
      if (st.special[j])
        lse_special<T, kHasB>(t, rb + j);
      else
        lse_finish<T, kHasB>(t, rb + j, st.lane(j));
    }
  });
}

// ---------------------------------------------------- softmax / log_softmax

// 1 / sum exp(x - m): the scale that turns a row's exp(x - m) into softmax.
inline double inv_total(const RowStats& st) { return 1.0 / (st.ties + st.rest); }

// SciPy's values for rows with a NaN or a non-finite max: softmax is NaN
// throughout; log_softmax is NaN, except that a +inf max without NaN gives
// NaN at the +inf entries and -inf elsewhere.
template <class T>
inline void softmax_special(const SoftmaxTask& t, int64_t r) {
  const RowPtr<T> x = row_ptr<T>(t.x, r);
  const MutRowPtr<T> out = row_ptr<T>(t.out, r);
  const SpecialRow s = scan_special<T, false>(x, x, t.x.classes);
  const bool inf_row = t.log && !s.nan && s.m == kInf<double>;
  for (int64_t k = 0; k < t.x.classes; ++k) {
    const bool is_inf = to_compute(x[k]) == kInf<compute_t<T>>;
    const double v = inf_row && !is_inf ? -kInf<double> : kNaN<double>;
    out[k] = from_double<T>(v);
  }
}

template <class T>
void softmax_rows(const SoftmaxTask& t, int64_t r0, int64_t r1) noexcept {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  if (t.x.s_class == 1 && t.out.s_class == 1 && !short_rows<T>(C)) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
      T* out = static_cast<T*>(t.out.data) + row_offset(t.out, r);
      RowStats st;
      F* kept = t.log ? nullptr : keep_target(out, C);
      if (!contig_stats<T, false>(x, nullptr, C, st, next_row<T>(t.x, r, r1), kept, out)) {
        softmax_special<T>(t, r);
        continue;
      }
      const V m = splat<V>(F(st.m));
      // One loop per case: a loop-invariant branch inside the loop cost a
      // quarter of softmax's time on 32000-class rows.
      if (t.log) {
        const double log_total = log_unweighted_total(st.ties, st.rest);
        for_chunks_inlined<W>(C, [&](int64_t k, int64_t n) {
          const A d = widen(load_n<T>(x + k, n, F(0))) - st.m;
          store_n<T>(out + k, narrow<V>(d - log_total), n);
        });
        continue;
      }
      const V inv = splat<V>(F(inv_total(st)));
      if (kept)
        for_chunks_inlined<W>(C, [&](int64_t k, int64_t n) {
          store_n<T>(out + k, load_n<F>(kept + k, n, F(0)) * inv, n);
        });
      else  // 16-bit rows beyond the scratch
        with_row_exp<!kKeepsExps<T>>(m, [&](const auto& ex) {
          for_chunks_inlined<W>(C, [&](int64_t k, int64_t n) {
            store_n<T>(out + k, ex(load_n<T>(x + k, n, F(0))) * inv, n);
          });
        });
    }
    return;
  }
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    const RowBlock<T> xb(t.x, rb, n);
    const MutRowBlock<T> ob(t.out, rb, n);
    BlockExps<T> kept(!t.log, C);
    const BlockStats<T, false> st(xb, nullptr, C, kept.buffer());
    if (t.log) {
      const A m_acc = widen(st.m);
      const A log_total = st.log_total();
      for (int64_t k = 0; k < C; ++k) ob.store(k, narrow<V>((widen(xb.load(k)) - m_acc) - log_total), n);
    } else {
      const V inv = narrow<V>(1.0 / (st.ties + st.rest));
      for (int64_t k = 0; k < C; ++k) ob.store(k, kept.get(k, xb, st.m) * inv, n);
    }
    for (int j = 0; j < n; ++j)
      if (st.special[j]) softmax_special<T>(t, rb + j);
  });
}

// ------------------------------------------------------ logsumexp gradient

// Rows with a non-finite max: zero when every entry is -inf (or masked by a
// zero scale), NaN when a NaN is present, and for a +inf max NaN at the +inf
// entries and 0 elsewhere (exp(x - inf), as autograd computes it).
template <class T, bool kHasB>
inline SpecialRow lse_grad_scan(const View3& xv, const View3& bv, int64_t r) {
  const RowPtr<T> x = row_ptr<T>(xv, r);
  return scan_special<T, kHasB>(x, kHasB ? row_ptr<T>(bv, r) : x, xv.classes);  // an absent b has no rows
}

template <class T, bool kHasB>
inline void lse_grad_special(const View3& xv, const View3& bv, const MutView3& ov, int64_t r) {
  const RowPtr<T> x = row_ptr<T>(xv, r);
  const MutRowPtr<T> out = row_ptr<T>(ov, r);
  const SpecialRow s = lse_grad_scan<T, kHasB>(xv, bv, r);  // all of x read first: out may be x
  for (int64_t k = 0; k < xv.classes; ++k) {
    double v = 0.0;
    if (s.nan) v = kNaN<double>;
    else if (s.m == kInf<double> && to_compute(x[k]) == kInf<compute_t<T>>) v = kNaN<double>;
    out[k] = from_double<T>(v);
  }
}

template <class T, bool kHasB>
void lse_grad_rows(const LseGradTask& t, int64_t r0, int64_t r1) noexcept {
  using F = compute_t<T>;
  using V = vec_t<F>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  const T* g = static_cast<const T*>(t.g);
  // d log|sum b e^x| / dx = g * b * exp(x - m) / (ties + rest).
  auto row_scale = [&](const RowStats& st, int64_t r) {
    return double(to_compute(g[r])) / (st.ties + st.rest);
  };
  if (t.x.s_class == 1 && t.out.s_class == 1 && (!kHasB || t.b.s_class == 1) && !short_rows<T>(C)) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
      const T* b = kHasB ? static_cast<const T*>(t.b.data) + row_offset(t.b, r) : nullptr;
      T* out = static_cast<T*>(t.out.data) + row_offset(t.out, r);
      F* const kept = kHasB ? nullptr : keep_target(out, C);  // weighted exps are not kept
      RowStats st;
      if (!contig_stats<T, kHasB>(x, b, C, st, next_row<T>(t.x, r, r1), kept, out)) {
        lse_grad_special<T, kHasB>(t.x, t.b, t.out, r);
        continue;
      }
      const V m = splat<V>(F(st.m));
      const V scale = splat<V>(F(row_scale(st, r)));
      with_row_exp<kHasB || !kKeepsExps<T>>(m, [&](const auto& ex) {
        for_chunks_inlined<W>(C, [&](int64_t k, int64_t n) {
          V xv = load_n<T>(x + k, n, F(0));
          V y = (kept ? load_n<F>(kept + k, n, F(0)) : ex(xv)) * scale;
          if constexpr (kHasB) {
            const V w = load_n<T>(b + k, n, F(0));
            y = mask_zero_scale(xv, w) == -kInf<F> ? V{} : y * w;
          }
          store_n<T>(out + k, y, n);
        });
      });
    }
    return;
  }
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    const RowBlock<T> xb(t.x, rb, n);
    const SecondBlock<T> b_block(kHasB, t.b, rb, n, xb);
    const RowBlock<T>& bb = b_block.block;
    const MutRowBlock<T> ob(t.out, rb, n);
    BlockExps<T> kept(!kHasB, C);
    const BlockStats<T, kHasB> st(xb, &bb, C, kept.buffer());
    V scale;
    for (int j = 0; j < W; ++j) scale[j] = F(row_scale(st.lane(j), rb + (j < n ? j : n - 1)));
    // Rows with a non-finite max get lse_grad_special's values in the same
    // sweep, from flags read first: in place, out is x, overwritten as it goes.
    const bool any_special = any_lane<V>(st.special);
    mask_t<V> nan_row{}, inf_row{};
    if (any_special)
      for (int j = 0; j < n; ++j)
        if (st.special[j]) {
          const SpecialRow s = lse_grad_scan<T, kHasB>(t.x, t.b, rb + j);
          nan_row[j] = s.nan ? -1 : 0;
          inf_row[j] = !s.nan && s.m == kInf<double> ? -1 : 0;
        }
    for (int64_t k = 0; k < C; ++k) {
      const V xv = xb.load(k);
      V y = kept.get(k, xb, st.m) * scale;
      if constexpr (kHasB) {
        const V w = bb.load(k);
        y = mask_zero_scale(xv, w) == -kInf<F> ? V{} : y * w;
      }
      if (any_special) {
        const auto nan_here = nan_row | (inf_row & (xv == kInf<F>));
        y = st.special ? (nan_here ? splat<V>(kNaN<F>) : V{}) : y;
      }
      ob.store(k, y, n);
    }
  });
}

// ------------------------------------------ softmax / log_softmax gradients

// softmax:      dx = y * (g - sum(g * y))
// log_softmax:  dx = g - y * sum(g)
// Rows that are -inf throughout have a zero gradient; rows with a NaN or a
// +inf entry give NaN.
template <class T>
inline double softmax_grad_special_value(const SoftmaxGradTask& t, int64_t r) {
  const RowPtr<T> x = row_ptr<T>(t.x, r);
  const SpecialRow s = scan_special<T, false>(x, x, t.x.classes);
  return !s.nan && s.m == -kInf<double> ? 0.0 : kNaN<double>;
}

template <class T>
inline void fill_out_row(const MutView3& o, int64_t r, double v) {
  const MutRowPtr<T> out = row_ptr<T>(o, r);
  for (int64_t k = 0; k < o.classes; ++k) out[k] = from_double<T>(v);
}

template <class T>
inline void softmax_grad_special(const SoftmaxGradTask& t, int64_t r) {
  fill_out_row<T>(t.out, r, softmax_grad_special_value<T>(t, r));
}

// Contiguous rows; kLog at compile time keeps both sweeps free of branches.
template <class T, bool kLog>
void softmax_grad_contig(const SoftmaxGradTask& t, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  for (int64_t r = r0; r < r1; ++r) {
    const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
    const T* g = static_cast<const T*>(t.g.data) + row_offset(t.g, r);
    T* out = static_cast<T*>(t.out.data) + row_offset(t.out, r);
    RowStats st;
    F* const kept = keep_target(out, C);
    if (!contig_stats<T, false>(x, nullptr, C, st, next_row<T>(t.x, r, r1), kept, out)) {
      softmax_grad_special<T>(t, r);
      continue;
    }
    const V m = splat<V>(F(st.m));
    const V inv = splat<V>(F(inv_total(st)));
    with_row_exp<!kKeepsExps<T>>(m, [&](const auto& ex) {
      const auto softmax_at = [&](int64_t k, int64_t n) {
        const V e = kept ? load_n<F>(kept + k, n, F(0)) : ex(load_n<T>(x + k, n, -kInf<F>));
        return e * inv;
      };
      RowSum<A, kCompensatedSums<T>> dot;
      for_chunks_inlined<W>(C, [&](int64_t k, int64_t n) {
        const V gv = load_n<T>(g + k, n, F(0));
        dot.add(kLog ? widen(gv) : widen(gv * softmax_at(k, n)));
      });
      const V d = splat<V>(F(reduce_add(dot.value())));
      for_chunks_inlined<W>(C, [&](int64_t k, int64_t n) {
        const V gv = load_n<T>(g + k, n, F(0));
        const V y = softmax_at(k, n);
        store_n<T>(out + k, kLog ? gv - y * d : y * (gv - d), n);
      });
    });
  }
}

template <class T>
void softmax_grad_rows(const SoftmaxGradTask& t, int64_t r0, int64_t r1) noexcept {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  if (t.x.s_class == 1 && t.g.s_class == 1 && t.out.s_class == 1 && !short_rows<T>(C)) {
    if (t.log)
      softmax_grad_contig<T, true>(t, r0, r1);
    else
      softmax_grad_contig<T, false>(t, r0, r1);
    return;
  }
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    const RowBlock<T> xb(t.x, rb, n);
    const RowBlock<T> gb(t.g, rb, n);
    const MutRowBlock<T> ob(t.out, rb, n);
    BlockExps<T> kept(true, C);
    const BlockStats<T, false> st(xb, nullptr, C, kept.buffer());
    V inv;
    for (int j = 0; j < W; ++j) inv[j] = F(inv_total(st.lane(j)));
    // Special rows' values read before the sweep: in place, out is x.
    double special_value[W];
    for (int j = 0; j < n; ++j)
      if (st.special[j]) special_value[j] = softmax_grad_special_value<T>(t, rb + j);
    RowSum<A, kCompensatedSums<T>> dot;
    for (int64_t k = 0; k < C; ++k) {
      const V gv = gb.load(k);
      dot.add(t.log ? widen(gv) : widen(gv * (kept.get(k, xb, st.m) * inv)));
    }
    const V d = narrow<V>(dot.value());
    for (int64_t k = 0; k < C; ++k) {
      const V gv = gb.load(k);
      const V y = kept.get(k, xb, st.m) * inv;
      ob.store(k, t.log ? gv - y * d : y * (gv - d), n);
    }
    for (int j = 0; j < n; ++j)
      if (st.special[j]) fill_out_row<T>(t.out, rb + j, special_value[j]);
  });
}

}  // namespace LL_ISA
}  // namespace logitloss
