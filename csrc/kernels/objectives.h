// Gradient-boosting objectives: the gradient and diagonal Hessian of the
// softmax (multiclass) and logistic (binary) log-losses with respect to raw
// margins, fused into one kernel per row.
//
// Note [Boosting objectives]
// Softmax, per row with label y, weight w and p = softmax(x):
//     grad_k = w * (p_k - [k == y])
//     hess_k = xgboost:  max(2 * p_k * (1 - p_k) * w, 1e-16)  (multi:softprob)
//              lightgbm: K / (K - 1) * p_k * (1 - p_k) * w    (multiclass)
//              exact:    p_k * (1 - p_k) * w
// Logistic, per element with p = sigmoid(x):
//     grad = w * (p - y),  hess = w * max(p * (1 - p), 1e-16)  (binary:logistic;
//     LightGBM's binary omits the floor, which only acts for |x| > 36.8)
// The complement q = 1 - p is never formed by cancellation where p is close
// to 1, so the Hessian and the label's gradient keep their relative accuracy
// for confident rows:
//  * softmax: for an entry equal to the row max m, p = 1 / total and
//    q = (ties - 1 + rest) / total with total = ties + rest (Note [Stable
//    log-sum-exp]); every other entry has p <= 1/2, where 1 - p is exact to
//    an ulp of q.
//  * logistic: with e = exp(-|x|) and s = 1 / (1 + e), {p, q} = {s, e * s},
//    p * q = e * s * s, and p - y = (1 - y) * p - y * q (y in [0, 1]).
// Rows whose softmax max is not finite (a NaN or +inf margin, or every margin
// -inf) have no defined softmax: their gradient and Hessian are NaN.
#pragma once

#include <type_traits>

#include "row_stats.h"

namespace logitloss {
namespace LL_ISA {

// Scale and floor of the Hessian convention: hess = max(factor * p * q * w, floor).
template <class F>
struct HessRule {
  F factor, floor;
};
template <class F>
inline HessRule<F> hess_rule(HessianKind kind, int64_t classes) {
  switch (kind) {
    case HessianKind::xgboost: return {F(2), F(1e-16)};
    case HessianKind::lightgbm: return {F(double(classes) / (double(classes) - 1.0)), F(0)};
    case HessianKind::exact: break;
  }
  return {F(1), F(0)};
}

// vmax(floor, h): a NaN h stays NaN (fmax, as XGBoost uses, would drop it).
template <class V>
inline V apply_floor(V h, elem_t<V> floor) {
  return vmax(splat<V>(floor), h);
}

// ------------------------------------------------------------------ softmax

// Per-row constants: 1 / total and q = 1 - p at the row max (Note [Boosting objectives]).
struct SoftmaxObjRow {
  double inv_total;
  double q_at_max;
};
inline SoftmaxObjRow softmax_obj_row(const RowStats& st) {
  const double total = st.ties + st.rest;
  return {1.0 / total, ((st.ties - 1.0) + st.rest) / total};
}

template <class T>
inline void softmax_obj_nan_row(const SoftmaxObjTask& t, int64_t r) {
  const MutRowPtr<T> g = row_ptr<T>(t.grad, r);
  const MutRowPtr<T> h = row_ptr<T>(t.hess, r);
  const T nan = from_compute<T>(kNaN<compute_t<T>>);
  for (int64_t k = 0; k < t.x.classes; ++k) g[k] = h[k] = nan;
}

// grad and hess of one vector of entries (see Note [Boosting objectives]).
template <class V, class M>
inline void softmax_obj_values(V xv, V m, V inv, V q_max, M is_label, V w,
                               const HessRule<elem_t<V>>& rule, V& grad, V& hess) {
  const V p = exp_diff(xv, m) * inv;
  const V q = xv == m ? q_max : elem_t<V>(1) - p;
  grad = (is_label ? -q : p) * w;
  hess = apply_floor((rule.factor * p) * q * w, rule.floor);
}

template <class T>
void softmax_obj_rows(const SoftmaxObjTask& t, int64_t r0, int64_t r1) noexcept {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using M = mask_t<V>;
  using I = std::conditional_t<sizeof(F) == 4, int32_t, int64_t>;  // M's lanes
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  const HessRule<F> rule = hess_rule<F>(t.hessian, C);
  const T* weight = static_cast<const T*>(t.weight);
  auto w_of = [&](int64_t r) { return weight ? to_compute(weight[r]) : F(1); };
  // Lanes along the classes pay ~100 ns per row for a partial last chunk;
  // lanes across rows (gathers) cost ~1.5-2x more per element but have no
  // tail. Measured (1M elements, AVX2 and AVX-512): rows along the classes
  // win when C is a multiple of W or C >= 4 W; e.g. K = 10 float32 runs 5 ms
  // across rows against 14 ms along them.
  const bool along_classes = C % W == 0 || C >= 4 * W;
  if (along_classes && t.x.s_class == 1 && t.grad.s_class == 1 && t.hess.s_class == 1) {
    const M iota = lane_index<V>();  // compared with label - (chunk start)
    for (int64_t r = r0; r < r1; ++r) {
      const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
      T* g = static_cast<T*>(t.grad.data) + row_offset(t.grad, r);
      T* h = static_cast<T*>(t.hess.data) + row_offset(t.hess, r);
      RowStats st;
      if (!contig_stats<T, false>(x, nullptr, C, st)) {
        softmax_obj_nan_row<T>(t, r);
        continue;
      }
      const SoftmaxObjRow row = softmax_obj_row(st);
      const V m = splat<V>(F(st.m)), inv = splat<V>(F(row.inv_total));
      const V q_max = splat<V>(F(row.q_at_max)), w = splat<V>(w_of(r));
      const int64_t label = t.labels[r];
      for_chunks<W>(C, [&](int64_t k, int64_t n) {
        // label - k fits I whenever the label is in this chunk; else no lane matches.
        const int64_t d = label - k;
        const M is_label = iota == (d >= 0 && d < W ? I(d) : I(-1));
        V gv, hv;
        softmax_obj_values(load_n<T>(x + k, n, F(st.m)), m, inv, q_max, is_label, w, rule, gv, hv);
        store_n<T>(g + k, gv, n);
        store_n<T>(h + k, hv, n);
      });
    }
    return;
  }
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    const RowBlock<T> xb(t.x, rb, n);
    const MutRowBlock<T> gb(t.grad, rb, n);
    const MutRowBlock<T> hb(t.hess, rb, n);
    const BlockStats<T, false> st(xb, nullptr, C);
    V inv, q_max, w;
    M label;
    for (int j = 0; j < W; ++j) {
      const int64_t r = rb + (j < n ? j : n - 1);
      const SoftmaxObjRow row = softmax_obj_row(st.lane(j));
      inv[j] = F(row.inv_total);
      q_max[j] = F(row.q_at_max);
      w[j] = w_of(r);
      label[j] = I(t.labels[r]);  // < classes, which the caller keeps below 2^31
    }
    for (int64_t k = 0; k < C; ++k) {
      V gv, hv;
      softmax_obj_values(xb.load(k), st.m, inv, q_max, label == I(k), w, rule, gv, hv);
      gb.store(k, gv, n);
      hb.store(k, hv, n);
    }
    for (int j = 0; j < n; ++j)
      if (st.special[j]) softmax_obj_nan_row<T>(t, rb + j);
  });
}

// ----------------------------------------------------------------- logistic

// n elements at p with stride s (a full contiguous load when possible).
template <class T, class V = vec_t<compute_t<T>>>
inline V load_strided(const T* p, int64_t s, int64_t n) {
  if (s == 1) return load_n<T>(p, n, elem_t<V>(0));
  int64_t off[lanes_v<V>];
  for (int j = 0; j < lanes_v<V>; ++j) off[j] = (j < n ? j : n - 1) * s;
  return gather<T>(p, off);
}

template <class T>
void logistic_obj_rows(const LogisticObjTask& t, int64_t r0, int64_t r1) noexcept {
  using F = compute_t<T>;
  using V = vec_t<F>;
  constexpr int W = lanes_v<V>;
  const T* x = static_cast<const T*>(t.x);
  const T* y = static_cast<const T*>(t.y);
  const T* weight = static_cast<const T*>(t.weight);
  T* grad = static_cast<T*>(t.grad);
  T* hess = static_cast<T*>(t.hess);
  const F floor = F(1e-16);
  for_row_blocks<W>(r0, r1, [&](int64_t r, int n) {
    const V xv = load_strided<T>(x + r * t.s_x, t.s_x, n);
    const V yv = load_strided<T>(y + r * t.s_y, t.s_y, n);
    const V e = exp_nonpos(neg_abs_v(xv));  // in (0, 1]; exact argument, no cancellation
    const V s = F(1) / (F(1) + e);
    const V es = e * s;
    const auto pos = xv >= V{};
    const V p = pos ? s : es;
    const V q = pos ? es : s;
    V gv = (F(1) - yv) * p - yv * q;
    V hv = apply_floor(es * s, floor);
    if (weight) {
      const V w = load_n<T>(weight + r, n, F(0));
      gv *= w;
      hv *= w;
    }
    store_n<T>(grad + r, gv, n);
    store_n<T>(hess + r, hv, n);
  });
}

}  // namespace LL_ISA
}  // namespace logitloss
