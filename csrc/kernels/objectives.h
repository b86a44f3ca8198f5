// Gradient-boosting objectives: the gradient and diagonal Hessian of the
// softmax (multiclass) and logistic (binary) log-losses, and of their focal
// variants (focal_objectives.h), with respect to raw margins, fused into one
// kernel per row.
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
//  * softmax: an entry whose exp(x - m) is 1 (the row max m, or one that
//    close to it) has q = (ties - 1 + rest) / total, total = ties + rest
//    (Note [Stable log-sum-exp]; the entry's own 1 is in ties or in rest, so
//    this is the sum of the other entries' exps over the total); every other
//    entry has p < 1/2 (another entry is at least as large), where 1 - p is
//    exact to an ulp of q.
//  * logistic: with e = exp(-|x|) and s = 1 / (1 + e), {p, q} = {s, e * s},
//    p * q = e * s * s, and p - y = (1 - y) * p - y * q (y in [0, 1]).
// Rows whose softmax max is not finite (a NaN or +inf margin, or every margin
// -inf) have no defined softmax: their gradient and Hessian are NaN.
// Labels and weights are read in their own dtype and checked on the way
// (objective_inputs.h); a row with a bad label or weight is reported and its
// outputs are left to the caller, who raises.
// Short contiguous rows (C < 4 W) run one row per lane through in-register
// transposes (Note [Short-row transposes]); long rows run along the classes.
#pragma once

#include <cstring>
#include <type_traits>

#include "focal_objectives.h"
#include "objective_inputs.h"
#include "row_stats.h"
#include "transpose.h"

namespace logitloss {
namespace LL_ISA {

// The integer type of a mask vector's lanes (int64 for double, int32 for float).
template <class M>
using lane_int_t = std::remove_cv_t<std::remove_reference_t<decltype(M{}[0])>>;

// Scale and floor of the Hessian convention: hess = max(factor * p * q * w,
// floor), or with floor_first (the focal objectives' 'floored') max(h, floor) * w.
template <class F>
struct HessRule {
  F factor, floor;
  bool floor_first, has_floor;
};
template <class F>
inline HessRule<F> hess_rule(HessianKind kind, int64_t classes) {
  switch (kind) {
    case HessianKind::xgboost: return {F(2), F(1e-16), false, true};
    case HessianKind::lightgbm:
      return {F(double(classes) / (double(classes) - 1.0)), F(0), false, false};
    case HessianKind::floored: return {F(1), F(kFocalHessFloor), true, true};
    case HessianKind::exact: break;
  }
  return {F(1), F(0), false, false};
}

// vmax(floor, h): a NaN h stays NaN (fmax, as XGBoost uses, would drop it).
template <class V>
inline V apply_floor(V h, elem_t<V> floor) {
  return vmax(splat<V>(floor), h);
}

// ------------------------------------------------------------------ softmax

// Per-row constants of the softmax objectives, one row per lane (or one row
// in every lane). `w` is the weight, times alpha_t for a focal gamma of 0.
template <class V>
struct ObjLanes {
  V inv, q_max, w;  // 1 / total, 1 - p where exp(x - m) == 1
  // Focal (gamma > 0), see softmax_focal_row; inv_r = 1 / (Q * total).
  V grad_t, grad_k, hess_t, hess_k, c1p, c1, c2, inv_r;
};

// grad and hess of one vector of entries with exps e = exp(x - m).
template <bool kFocal, class V, class M>
inline void softmax_obj_values(V e, M is_label, const ObjLanes<V>& c,
                               const HessRule<elem_t<V>>& rule, V& grad, V& hess) {
  using F = elem_t<V>;
  const V p = e * c.inv;
  const V q = e == F(1) ? c.q_max : F(1) - p;
  if constexpr (!kFocal) {
    grad = (is_label ? -q : p) * c.w;
    if (rule.floor_first)
      hess = apply_floor(p * q, rule.floor) * c.w;
    else
      hess = apply_floor((rule.factor * p) * q * c.w, rule.floor);
  } else {
    const V rho = vmin(e * c.inv_r, splat<V>(F(1)));  // p_k / Q, clamped where R underflows
    const V h_k = c.hess_k * p * (q * c.c1p - p * c.c1 + rho * c.c2);
    grad = (is_label ? c.grad_t : c.grad_k * p) * c.w;
    const V h = is_label ? c.hess_t : h_k;
    hess = (rule.has_floor ? apply_floor(h, rule.floor) : h) * c.w;
  }
}

// Everything a row's constants need besides its statistics.
struct ObjRowInputs {
  int64_t label;  // -1 when bad
  double weight;
  double alpha;   // alpha_t (focal), else 1
};

inline ObjRowInputs obj_row_inputs(const SoftmaxObjTask& t, int64_t r) {
  ObjRowInputs in;
  in.label = class_id(t.labels, r, t.x.classes, t.bad_label);
  in.weight = row_weight(t.weight, r, t.bad_weight);
  const bool has_alpha = t.focal.on && t.focal.class_alpha && in.label >= 0;
  in.alpha = has_alpha ? t.focal.class_alpha[in.label] : 1.0;
  return in;
}

inline bool focal_gamma(const SoftmaxObjTask& t) { return t.focal.on && t.focal.gamma != 0; }

// Q^g in double (integer |g| <= 64 by repeated squaring, as FocalOp).
inline double pow_gamma(double q, const FocalOp& op) {
  if (op.gamma == 0) return 1.0;
  if (op.gamma_int) {
    int64_t n = int64_t(op.gamma);
    double r = 1.0, b = q;
    while (n) {
      if (n & 1) r *= b;
      b *= b;
      n >>= 1;
    }
    return r;
  }
  return std::pow(q, op.gamma);
}

// Lane j of `c` from row statistics, in scalar double (the row-block and
// long-row paths). e_t, x_t: the label's exp(x - m) and margin.
template <class V>
inline void set_obj_lane(ObjLanes<V>& c, int j, const RowStats& st, const ObjRowInputs& in,
                         double e_t, double x_t, const SoftmaxObjTask& t, const FocalOp& op) {
  using F = elem_t<V>;
  const double total = st.ties + st.rest;
  const double inv = 1.0 / total, q_max = ((st.ties - 1.0) + st.rest) / total;
  c.inv[j] = F(inv);
  c.q_max[j] = F(q_max);
  c.w[j] = F(in.weight * (focal_gamma(t) ? 1.0 : in.alpha));
  if (!focal_gamma(t)) return;
  const double P = e_t * inv, Q = e_t == 1.0 ? q_max : 1.0 - P;
  const double ell = std::log(st.ties) + std::log1p(st.rest / st.ties) - (x_t - st.m);
  const SoftmaxFocalRow<double> f = softmax_focal_row(P, Q, ell, pow_gamma(Q, op), in.alpha, op.gamma);
  c.grad_t[j] = F(f.grad_t);
  c.grad_k[j] = F(f.grad_k);
  c.hess_t[j] = F(f.hess_t);
  c.hess_k[j] = F(f.hess_k);
  c.c1p[j] = F(f.c1p);
  c.c1[j] = F(f.c1);
  c.c2[j] = F(f.c2);
  c.inv_r[j] = F(1.0 / (Q * total));
}

// Every lane of `c` set to lane 0's values.
template <class V>
inline void splat_lane0(ObjLanes<V>& c, bool focal) {
  for (V* v : {&c.inv, &c.q_max, &c.w}) *v = splat<V>((*v)[0]);
  if (focal)
    for (V* v : {&c.grad_t, &c.grad_k, &c.hess_t, &c.hess_k, &c.c1p, &c.c1, &c.c2, &c.inv_r})
      *v = splat<V>((*v)[0]);
}

template <class T>
inline void softmax_obj_nan_row(const SoftmaxObjTask& t, int64_t r) {
  const MutRowPtr<T> g = row_ptr<T>(t.grad, r);
  const MutRowPtr<T> h = row_ptr<T>(t.hess, r);
  const T nan = from_compute<T>(kNaN<compute_t<T>>);
  for (int64_t k = 0; k < t.x.classes; ++k) g[k] = h[k] = nan;
}

// The label's exp(x - m) with the kernels' own exp (the value the row's
// entries get), in double.
template <class F>
inline double label_exp(F x_t, F m) {
  using V = vec_t<F>;
  return double(exp_diff(splat<V>(x_t), splat<V>(m))[0]);
}

// Long contiguous rows: lanes along the classes, one row at a time.
template <class T, bool kFocal>
void softmax_obj_long_rows(const SoftmaxObjTask& t, const HessRule<compute_t<T>>& rule,
                           const FocalOp& op, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using M = mask_t<V>;
  using I = lane_int_t<M>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  const M iota = lane_index<V>();  // compared with label - (chunk start)
  for (int64_t r = r0; r < r1; ++r) {
    const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
    T* g = static_cast<T*>(t.grad.data) + row_offset(t.grad, r);
    T* h = static_cast<T*>(t.hess.data) + row_offset(t.hess, r);
    const ObjRowInputs in = obj_row_inputs(t, r);
    RowStats st;
    // The exps of the statistics pass are kept (Note [Kept exps]) and read
    // back instead of recomputed.
    F* const kept = keep_target(g, C);
    if (!contig_stats<T, false>(x, nullptr, C, st, next_row<T>(t.x, r, r1), kept)) {
      softmax_obj_nan_row<T>(t, r);
      continue;
    }
    const F m = F(st.m);
    const F x_t = in.label >= 0 ? to_compute(x[in.label]) : m;
    ObjLanes<V> c{};  // every field set below; {} for GCC's aarch64 -Wmaybe-uninitialized
    set_obj_lane(c, 0, st, in, label_exp(x_t, m), double(x_t), t, op);
    splat_lane0(c, focal_gamma(t));
    const V mv = splat<V>(m);
    for_chunks<W>(C, [&](int64_t k, int64_t n) {
      // label - k fits I whenever the label is in this chunk; else no lane matches.
      const int64_t d = in.label - k;
      const M is_label = iota == (d >= 0 && d < W ? I(d) : I(-1));
      V gv, hv;
      const V e = kept ? load_n<F>(kept + k, n, F(0)) : exp_diff(load_n<T>(x + k, n, m), mv);
      softmax_obj_values<kFocal>(e, is_label, c, rule, gv, hv);
      store_n<T>(g + k, gv, n);
      store_n<T>(h + k, hv, n);
    });
  }
}

// Any layout: W rows side by side (gathers where the rows are strided).
template <class T, bool kFocal>
void softmax_obj_row_blocks(const SoftmaxObjTask& t, const HessRule<compute_t<T>>& rule,
                            const FocalOp& op, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using M = mask_t<V>;
  using I = lane_int_t<M>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    const RowBlock<T> xb(t.x, rb, n);
    const MutRowBlock<T> gb(t.grad, rb, n);
    const MutRowBlock<T> hb(t.hess, rb, n);
    const BlockStats<T, false> st(xb, nullptr, C);
    ObjLanes<V> c{};  // every field set below; {} for GCC's aarch64 -Wmaybe-uninitialized
    M label;
    ObjRowInputs in{};
    for (int j = 0; j < W; ++j) {
      // Lanes past the block repeat its last row (and its statistics).
      if (j < n) in = obj_row_inputs(t, rb + j);
      const F m = st.m[j];
      const F x_t = in.label >= 0 ? to_compute(xb.at(j, in.label)) : m;
      set_obj_lane(c, j, st.lane(j), in, label_exp(x_t, m), double(x_t), t, op);
      label[j] = I(in.label);  // < classes, which the caller keeps below 2^31
    }
    for (int64_t k = 0; k < C; ++k) {
      V gv, hv;
      softmax_obj_values<kFocal>(exp_diff(xb.load(k), st.m), label == I(k), c, rule, gv, hv);
      gb.store(k, gv, n);
      hb.store(k, hv, n);
    }
    for (int j = 0; j < n; ++j)
      if (st.special[j]) softmax_obj_nan_row<T>(t, rb + j);
  });
}

// The double lanes of an accumulator as native double vectors.
template <class A>
struct DoubleHalves {
  static constexpr int n = int(sizeof(A) / sizeof(vd));
  vd h[n];
  explicit DoubleHalves(const A& a) { std::memcpy(h, &a, sizeof h); }
  A value() const {
    A a;
    std::memcpy(&a, h, sizeof h);
    return a;
  }
};

// The constants of a block of rows from its sums, in vector double
// arithmetic (for the focal objective a scalar log and pow per row would
// cost more than the rows' exps). e_t, dx_t: the label's exp(x - m) and
// x - m, alpha: alpha_t (focal only).
template <bool kFocal, class V, class A>
inline void block_lanes(ObjLanes<V>& c, const A& ties_acc, const A& rest_acc, const A& e_t,
                        const A& dx_t, const A& alpha, const FocalOp& op) {
  using H = DoubleHalves<A>;
  const H ties(ties_acc), rest(rest_acc), et(e_t), dx(dx_t), al(alpha);
  const A log_total = kFocal ? log_total_lanes(ties_acc, rest_acc) : ties_acc;
  const H lt(log_total);
  H inv(ties_acc), q_max(ties_acc), g_t(ties_acc), g_k(ties_acc), h_t(ties_acc), h_k(ties_acc),
      c1p(ties_acc), c1(ties_acc), c2(ties_acc), ir(ties_acc);
  for (int i = 0; i < H::n; ++i) {
    const vd total = ties.h[i] + rest.h[i];
    inv.h[i] = 1.0 / total;
    q_max.h[i] = ((ties.h[i] - 1.0) + rest.h[i]) / total;
    if constexpr (kFocal) {
      const vd P = et.h[i] * inv.h[i];
      const vd Q = et.h[i] == 1.0 ? q_max.h[i] : 1.0 - P;
      const vd qg = op.gamma_int ? FocalOp::ipow(Q, int64_t(op.gamma)) : op.pow_v(Q, op.gamma, false);
      const SoftmaxFocalRow<vd> f = softmax_focal_row(P, Q, lt.h[i] - dx.h[i], qg, al.h[i], op.gamma);
      g_t.h[i] = f.grad_t, g_k.h[i] = f.grad_k, h_t.h[i] = f.hess_t, h_k.h[i] = f.hess_k;
      c1p.h[i] = f.c1p, c1.h[i] = f.c1, c2.h[i] = f.c2;
      ir.h[i] = 1.0 / (Q * total);
    }
  }
  c.inv = narrow<V>(inv.value()), c.q_max = narrow<V>(q_max.value());
  if constexpr (kFocal) {
    c.grad_t = narrow<V>(g_t.value()), c.grad_k = narrow<V>(g_k.value());
    c.hess_t = narrow<V>(h_t.value()), c.hess_k = narrow<V>(h_k.value());
    c.c1p = narrow<V>(c1p.value()), c.c1 = narrow<V>(c1.value()), c.c2 = narrow<V>(c2.value());
    c.inv_r = narrow<V>(ir.value());
  }
}

// The labels (as class ids) and weights of rows [rb, rb + W), read as
// vectors. Lanes with a bad label or weight read as class 0 and weight 0
// and are flagged in `bad`; report_bad_inputs finds the row afterwards.
template <class V, class M>
inline void block_row_inputs(const SoftmaxObjTask& t, int64_t rb, M& label, V& w, M& bad) {
  using F = elem_t<V>;
  constexpr int W = lanes_v<V>;
  const V lf = load_values<V>(t.labels, rb, W, F(0));
  M ok = (lf >= F(0)) & (lf < F(t.x.classes));  // NaN fails; classes <= kDenseMaxClasses
  const V lc = ok ? lf : V{};
  label = __builtin_convertvector(lc, M);
  ok &= __builtin_convertvector(label, V) == lc;  // integer-valued
  label = ok ? label : M{};
  w = splat<V>(F(1));
  if (t.weight.data) {
    w = load_values<V>(t.weight, rb, W, F(0));
    const M w_ok = (w >= F(0)) & (w <= std::numeric_limits<F>::max());
    w = w_ok ? w : V{};
    ok &= w_ok;
  }
  bad |= ~ok;
}

// Reports the first bad label and weight among rows [r0, r1) (scalar reads).
inline void report_bad_inputs(const SoftmaxObjTask& t, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    class_id(t.labels, r, t.x.classes, t.bad_label);
    row_weight(t.weight, r, t.bad_weight);
  }
}

// Short contiguous rows (s_class == 1, C <= kDenseMaxClasses), W rows per
// block through in-register transposes (Note [Short-row transposes]).
constexpr int64_t kDenseMaxClasses = 64;

// The tie counts and rest sums of a block of rows from its class vectors
// xt[0, C) and maxima m (finite), with each exp(x - m) kept in et. The sums
// run in registers (widen_acc; AVX-512's 16-double acc_t of float lanes was
// kept in memory, a store and a reload per class) and the exp is ExpBelow's
// where it covers m: exp_diff's values in fewer operations.
template <class T, class V = vec_t<compute_t<T>>, class A = acc_t<V>>
inline void row_block_sums(const V* xt, V* et, V m, int64_t C, A& ties, A& rest) {
  using M = mask_t<V>;
  using R = decltype(widen_acc(V{}));
  with_row_exp(m, [&](const auto& ex) {
    RowSum<R, kCompensatedSums<T>> rest_sum;  // local: in registers
    M tie_count{};  // exact: C <= kDenseMaxClasses
    for (int64_t k = 0; k < C; ++k) {
      const V e = ex(xt[k]);
      et[k] = e;
      const M tie = xt[k] == m;
      count_ties(tie_count, tie);
      rest_sum.add(widen_acc(tie ? V{} : e));
    }
    for (int j = 0; j < lanes_v<V>; ++j) set_lane(ties, j, double(tie_count[j]));
    static_assert(sizeof(R) == sizeof(A), "an accumulator of the same lanes");
    const R r = rest_sum.value();
    std::memcpy(&rest, &r, sizeof rest);
  });
}

// The class vectors xt[0, C) of the W contiguous rows at x0 (row stride
// s_row), staged by transposes, and their maxima.
template <class T, class V = vec_t<compute_t<T>>>
inline V stage_block(const T* x0, int64_t s_row, int64_t C, V* xt) {
  constexpr int W = lanes_v<V>;
  V r[W];
  V mv = splat<V>(-kInf<elem_t<V>>);
  for (int64_t c0 = 0; c0 < C; c0 += W) {
    const int64_t nc = C - c0 < W ? C - c0 : W;
    for (int j = 0; j < W; ++j) r[j] = load_piece<T>(x0 + j * s_row + c0, nc);
    transpose_block(r);
    for (int64_t k = 0; k < nc; ++k) {
      xt[c0 + k] = r[k];
      mv = vmax(r[k], mv);
    }
  }
  return mv;
}

// A block of rows whose statistics are done: its exps, row constants and
// labels, for write_block.
template <class V>
struct DoneBlock {
  V et[kDenseMaxClasses];
  ObjLanes<V> c;
  mask_t<V> label, special;
  int64_t rb;
};

// The gradient and Hessian of a done block, transposed back to its rows.
template <class T, bool kFocal, class V>
void write_block(const SoftmaxObjTask& t, const HessRule<elem_t<V>>& rule, const DoneBlock<V>& b) {
  using I = lane_int_t<mask_t<V>>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  T* g0 = static_cast<T*>(t.grad.data) + row_offset(t.grad, b.rb);
  T* h0 = static_cast<T*>(t.hess.data) + row_offset(t.hess, b.rb);
  V r[W], s[W];
  for (int64_t c0 = 0; c0 < C; c0 += W) {
    const int64_t nc = C - c0 < W ? C - c0 : W;
    for (int64_t k = 0; k < W; ++k) {
      if (k < nc)
        softmax_obj_values<kFocal>(b.et[c0 + k], b.label == I(c0 + k), b.c, rule, r[k], s[k]);
      else
        r[k] = s[k] = V{};
    }
    transpose_block(r);
    transpose_block(s);
    for (int j = 0; j < W; ++j) {
      store_piece<T>(g0 + j * t.grad.s_outer + c0, r[j], nc);
      store_piece<T>(h0 + j * t.hess.s_outer + c0, s[j], nc);
    }
  }
  for (int j = 0; j < W; ++j)
    if (b.special[j]) softmax_obj_nan_row<T>(t, b.rb + j);
}

template <class T, bool kFocal>
void softmax_obj_dense(const SoftmaxObjTask& t, const HessRule<compute_t<T>>& rule,
                       const FocalOp& op, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using M = mask_t<V>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  const T* const x = static_cast<const T*>(t.x.data);
  // The next block is staged while this block's exps finish (a latency
  // chain its loads and shuffles do not wait for): two stages, by parity.
  V stage[2][kDenseMaxClasses];
  DoneBlock<V> b;
  M bad_inputs{};
  int64_t rb = r0;
  V mv = rb + W <= r1 ? stage_block<T>(x + row_offset(t.x, rb), t.x.s_outer, C, stage[0]) : V{};
  for (int cur = 0; rb + W <= r1; rb += W, cur ^= 1) {
    const V* const xt = stage[cur];
    b.rb = rb;
    b.special = abs_v(mv) == kInf<F>;
    const V m = b.special ? V{} : mv;
    A ties{}, rest;
    row_block_sums<T>(xt, b.et, m, C, ties, rest);
    if (rb + 2 * W <= r1)
      mv = stage_block<T>(x + row_offset(t.x, rb + W), t.x.s_outer, C, stage[cur ^ 1]);
    V w;
    block_row_inputs<V>(t, rb, b.label, w, bad_inputs);
    A e_t{}, dx_t{}, alpha{};
    if constexpr (kFocal) {
      for (int j = 0; j < W; ++j) {
        const int64_t k = b.label[j];  // a bad label reads as 0 here (reported)
        set_lane(e_t, j, double(b.et[k][j]));
        set_lane(dx_t, j, double(xt[k][j]) - double(m[j]));
        set_lane(alpha, j, t.focal.class_alpha ? t.focal.class_alpha[k] : 1.0);
      }
    } else if (t.focal.on && t.focal.class_alpha) {  // gamma 0: alpha_t times the weight
      for (int j = 0; j < W; ++j) w[j] *= F(t.focal.class_alpha[b.label[j]]);
    }
    b.c.w = w;
    block_lanes<kFocal>(b.c, ties, rest, e_t, dx_t, alpha, op);
    write_block<T, kFocal>(t, rule, b);
  }
  if (any_lane<V>(bad_inputs)) report_bad_inputs(t, r0, rb);
  if (rb < r1) softmax_obj_row_blocks<T, kFocal>(t, rule, op, rb, r1);
}

template <class T, bool kFocal>
void softmax_obj_run(const SoftmaxObjTask& t, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  constexpr int W = lanes_v<vec_t<F>>;
  const int64_t C = t.x.classes;
  const HessRule<F> rule = hess_rule<F>(t.hessian, C);
  const FocalOp op(t.focal.alpha, t.focal.gamma);
  const bool contiguous = t.x.s_class == 1 && t.grad.s_class == 1 && t.hess.s_class == 1;
  const bool rows_last = t.x.inner == 1 && t.grad.inner == 1 && t.hess.inner == 1;
  if constexpr (kKeepsExps<T>) {  // float and double storage
    if (contiguous && rows_last && C < 4 * W && C <= kDenseMaxClasses)
      return softmax_obj_dense<T, kFocal>(t, rule, op, r0, r1);
  }
  // Lanes along the classes pay ~100 ns per row for a partial last chunk;
  // lanes across rows (gathers) cost ~1.5-2x more per element but have no
  // tail: rows along the classes win when C is a multiple of W or C >= 4 W.
  if (contiguous && (C % W == 0 || C >= 4 * W))
    return softmax_obj_long_rows<T, kFocal>(t, rule, op, r0, r1);
  softmax_obj_row_blocks<T, kFocal>(t, rule, op, r0, r1);
}

template <class T>
void softmax_obj_rows(const SoftmaxObjTask& t, int64_t r0, int64_t r1) noexcept {
  if (focal_gamma(t))
    softmax_obj_run<T, true>(t, r0, r1);
  else
    softmax_obj_run<T, false>(t, r0, r1);
}

// ----------------------------------------------------------------- logistic

// Reports the first bad label and weight among elements [r0, r1).
inline void report_bad_binary_inputs(const LogisticObjTask& t, int64_t r0, int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const double y = row_value(t.y, r);
    if (!(y >= 0 && y <= 1)) report_row(t.bad_label, r);
    row_weight(t.weight, r, t.bad_weight);
  }
}

// n elements at p with stride s (a full contiguous load when possible).
template <class T, class V = vec_t<compute_t<T>>>
inline V load_strided(const T* p, int64_t s, int64_t n) {
  if (s == 1) return load_n<T>(p, n, elem_t<V>(0));
  int64_t off[lanes_v<V>];
  for (int j = 0; j < lanes_v<V>; ++j) off[j] = (j < n ? j : n - 1) * s;
  return gather<T>(p, off);
}

template <class T, bool kFocal>
void logistic_obj_run(const LogisticObjTask& t, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  constexpr int W = lanes_v<V>;
  // Labels and weights are read in place when they are contiguous F, else
  // converted a slice at a time into F buffers (one switch per slice,
  // vectorised loops), so the arithmetic loop reads one type.
  constexpr int64_t kSlice = 512;
  alignas(64) F y_buf[kSlice], w_buf[kSlice];
  const T* x = static_cast<const T*>(t.x);
  T* grad = static_cast<T*>(t.grad);
  T* hess = static_cast<T*>(t.hess);
  const FocalOp op(t.focal.alpha, t.focal.gamma);
  // The logistic objective floors at 1e-16 (binary:logistic); the focal ones as asked.
  const bool floored = !t.focal.on || t.hessian == HessianKind::floored;
  const bool scaled = !kFocal && t.focal.on && t.focal.alpha >= 0;  // gamma 0: a_t * logistic
  const F floor = F(1e-16);  // = kFocalHessFloor
  mask_t<V> bad{};  // a label outside [0, 1] or a bad weight in some lane
  for (int64_t s0 = r0; s0 < r1; s0 += kSlice) {
    const int64_t len = r1 - s0 < kSlice ? r1 - s0 : kSlice;
    const F* y_s = values_as(t.y, s0, len, y_buf);
    const F* w_s = t.weight.data ? values_as(t.weight, s0, len, w_buf) : nullptr;
    for_row_blocks<W>(0, len, [&](int64_t i, int n) {
      const int64_t r = s0 + i;
      const V xv = load_strided<T>(x + r * t.s_x, t.s_x, n);
      const V yv = load_n<F>(y_s + i, n, F(0));
      bad |= ~((yv >= V{}) & (yv <= F(1)));  // NaN fails both
      V gv, hv;
      if constexpr (kFocal) {
        binary_focal_derivs(xv, yv, op, gv, hv);
      } else {
        const V e = exp_nonpos(neg_abs_v(xv));  // in (0, 1]; exact argument, no cancellation
        const V s = F(1) / (F(1) + e);
        const V es = e * s;
        const auto pos = xv >= V{};
        const V p = pos ? s : es;
        const V q = pos ? es : s;
        gv = (F(1) - yv) * p - yv * q;
        hv = es * s;
        if (scaled) {
          const V a = F(t.focal.alpha) * yv + F(1 - t.focal.alpha) * (F(1) - yv);
          gv = a * gv;
          hv = a * hv;
        }
      }
      if (floored) hv = apply_floor(hv, floor);
      if (w_s) {
        const V w = load_n<F>(w_s + i, n, F(0));
        bad |= ~((w >= V{}) & (w <= std::numeric_limits<F>::max()));
        gv *= w;
        hv *= w;
      }
      store_n<T>(grad + r, gv, n);
      store_n<T>(hess + r, hv, n);
    });
  }
  if (any_lane<V>(bad)) report_bad_binary_inputs(t, r0, r1);
}

template <class T>
void logistic_obj_rows(const LogisticObjTask& t, int64_t r0, int64_t r1) noexcept {
  if (t.focal.on && t.focal.gamma != 0)
    logistic_obj_run<T, true>(t, r0, r1);
  else
    logistic_obj_run<T, false>(t, r0, r1);
}

}  // namespace LL_ISA
}  // namespace logitloss
