// Softmax cross-entropy and NLL with PyTorch's options (class weights,
// ignore_index, label smoothing, probability targets), their gradients, and
// the fused value-and-gradient kernel, over the class axis of an
// (outer, classes, inner) view.
//
// Note [Stable cross-entropy]
// With the row statistics of Note [Stable log-sum-exp] (m = row max, `ties`
// = number of entries equal to m, `rest` = sum of exp(x - m) over the
// others, all in double) let L = log(ties) + log1p(rest / ties) >= 0, so
// that -log_softmax(x)_c = (m - x_c) + L. Every loss is a sum of such terms
// with non-negative coefficients:
//     index target t:  (1 - eps) w_t ((m - x_t) + L)
//                      + eps/C (sum_c w_c (m - x_c) + L sum_c w_c)
//     probabilities q: sum_c w_c q'_c (m - x_c) + L sum_c w_c q'_c,
//                      q' = (1 - eps) q + eps/C
// m - x_c is exact in double for float storage, and nothing cancels, so a
// confident row (loss ~ 1e-30) keeps every digit, where PyTorch's
// logsumexp(x) - x_t loses them all. Error budget (float32): each
// exp(x - m) is within 1 ULP (Note [Vector exp]), so `rest` and, since
// d log1p(r) / log1p(r) <= dr / r, L are within 2^-23 relative; the double
// arithmetic adds ~2^-52; the single final rounding adds 1/2 ULP: at most
// 2.5 ULP (measured: 1; tests/test_cross_entropy_accuracy.py holds 4).
//
// The gradient of row r with scale s (grad_output, / the 'mean' denominator)
// is s (S p_c - k_c), with p = softmax(x), k_c the coefficient of (m - x_c)
// above and S = sum_c k_c. At an index target, p_t - 1 would cancel for a
// confident row; there it is computed as
//     x_t == m:  p_t - 1 = -((ties - 1) + rest) / (ties + rest)
//     x_t <  m:  p_t <= 1/2, so p_t - 1 loses nothing
// in double, with exp(x_t - m) compensated for the rounding of x_t - m
// (float32: measured within 1 ULP; the tests allow 8). The other entries,
// s (S p_c - k_c), are formed in the compute type: within 2 ULP without
// smoothing (measured), but where k_c > 0 (smoothing, probabilities) and
// p_c is close to k_c / S the difference cancels, and its error is a few
// ULP of s p_c rather than of the result (measured up to 58 ULP of the
// result for eps = 0.1; PyTorch's p_c - q_c cancels the same way).
//
// Rows whose max is not finite (a +inf entry, or only -inf/NaN entries) have
// a NaN loss and gradient, as PyTorch's log_softmax gives there. Ignored rows
// (and rows with an out-of-range target, which the caller turns into an
// IndexError) have loss 0 and gradient 0.
#pragma once

#include <cstring>
#include <type_traits>

#include "row_stats.h"

namespace logitloss {
namespace LL_ISA {

namespace ce {

enum class Mode { index, index_smooth, prob };

// Lowers *slot to r (relaxed atomics: only the final minimum matters).
inline void report_bad_row(int64_t* slot, int64_t r) {
  int64_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);
  while (r < cur &&
         !__atomic_compare_exchange_n(slot, &cur, r, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

// What the targets say about a row: its weight, or that it is skipped.
struct RowTarget {
  bool active;  // neither ignored nor out of range
  int64_t index;
  double weight;
};

inline RowTarget row_target(const CeTask& t, int64_t r) {
  const int64_t c = t.target[r];
  if (t.has_ignore && c == t.ignore_index) return {false, c, 0.0};
  if (c < 0 || c >= t.x.classes) {
    if (t.bad_row) report_bad_row(t.bad_row, r);
    return {false, c, 0.0};
  }
  return {true, c, t.weight ? t.weight[c] : 1.0};
}

inline double row_scale(const CeTask& t, int64_t r) {
  return t.grad_scale ? t.grad_scale[r] : t.grad_scalar;
}

// exp(a - b) in double with the rounding of a - b compensated.
inline double exp_diff_scalar(double a, double b) {
  const double hi = a - b;
  const double bb = a - hi;
  double lo = (a - (hi + bb)) + (bb - b);
  if (lo != lo) lo = 0;
  return std::exp(hi) * (1.0 + lo);
}

// v in every lane of N (double or a vector of doubles).
template <class N>
inline N lanes_of(double v) {
  if constexpr (std::is_same_v<N, double>)
    return v;
  else
    return splat<N>(v);
}

// Per-row sums of Note [Stable cross-entropy], for one row (N = double) or
// one per lane (N = vd, the row blocks' finish).
template <class N = double>
struct Sums {
  N m, ties, rest;
  N coef_sum;  // S = sum_c k_c (without the index target's share)
  N coef_dot;  // sum_c k_c (m - x_c)
  N L{};       // log(total), from log_total_scalar or log_total_lanes
  N total() const { return ties + rest; }
  void log_total_scalar() { L = std::log(ties) + std::log1p(rest / ties); }
};

// Accumulator helpers (acc_t is a vector type or AccF, see vec.h).
inline vd acc_mul(vd a, vd b) { return a * b; }
inline vd_wide acc_mul(vd_wide a, vd_wide b) { return a * b; }
inline AccF acc_mul(const AccF& a, const AccF& b) { return {a.lo * b.lo, a.hi * b.hi}; }

// An accumulator's lanes, in order, to W doubles at `out`.
template <class A>
inline void store_lanes(double* out, const A& a) {
  std::memcpy(out, &a, sizeof(A));
}

template <class A>
constexpr int lanes_of_acc() {
  return int(sizeof(A) / sizeof(double));
}

template <class A>
inline A acc_splat(double v) {
  A a{};
  for (int j = 0; j < lanes_of_acc<A>(); ++j) set_lane(a, j, v);
  return a;
}

// A double-lane accumulator of n weights from `w` (or ones), zero past n.
template <class A>
inline A load_weights(const double* w, int64_t k, int64_t n) {
  A a{};
  for (int64_t i = 0; i < n; ++i) set_lane(a, int(i), w ? w[k + i] : 1.0);
  return a;
}

// The row's data the kernels need besides x: where the gradient and the
// probability targets live, and the target's terms.
template <class N = double>
struct RowCoef {
  N a;      // (1 - eps) w_t: coefficient of the index target
  N b;      // eps / C: the uniform share (index targets)
  N scale;  // gradient scale s
};

// Loss of one row (or lane) from its sums (index or probability targets).
template <Mode M, class N>
inline N row_loss(const Sums<N>& s, const RowCoef<N>& rc, N x_t) {
  const N L = s.L;
  if constexpr (M == Mode::prob) return s.coef_dot + s.coef_sum * L;
  N loss = rc.a * ((s.m - x_t) + L);
  if constexpr (M == Mode::index_smooth) loss += rc.b * (s.coef_dot + s.coef_sum * L);
  return loss;
}

// Gradient at the index target, without cancellation (Note above).
// exp_t = exp(x_t - m), compensated (exp_diff_scalar, or exp_diff on lanes).
// Both cases are evaluated (vector lanes take either).
template <class N>
inline N target_grad(const Sums<N>& s, const RowCoef<N>& rc, N x_t, N w_t, N exp_t) {
  const N total = s.total();
  const auto at_max = x_t == s.m;
  const N p = (at_max ? lanes_of<N>(1.0) : exp_t) / total;  // 1 / total at the max
  const N pm1 = at_max ? -((s.ties - 1.0) + s.rest) / total : p - 1.0;
  return rc.scale * (rc.a * pm1 + rc.b * (s.coef_sum * p - w_t));
}

// The gradient row is s (S' p_c - k_c) with S' = a (index), a + b S
// (smoothed index) or S (probabilities). Index rows have no k_c off the
// target, so s S' / total multiplies exp(x_c - m) directly; otherwise
// (exp * (S' / total) - k_c) * s, so that where p_c == q_c exactly (e.g. one
// class) both products round alike and the gradient is exactly 0.
template <Mode M, class N>
inline N exp_multiplier(const Sums<N>& s, const RowCoef<N>& rc) {
  if constexpr (M == Mode::index) return rc.scale * rc.a / s.total();
  const N S = M == Mode::prob ? s.coef_sum : rc.a + rc.b * s.coef_sum;
  return S / s.total();
}

template <class T>
inline void fill_row(const MutView3& g, int64_t r, double v) {
  const MutRowPtr<T> out = row_ptr<T>(g, r);
  const T y = from_double<T>(v);
  for (int64_t k = 0; k < g.classes; ++k) out[k] = y;
}

// ------------------------------------------------------- contiguous rows

// The exp pass of a contiguous row with class weights or smoothing: besides
// ties and rest (as exp_pass), the coefficient sums S and sum_c k_c (m - x_c)
// of Note [Stable cross-entropy], all in one sweep; exps kept in `keep`
// with kKeep.
template <class T, Mode M, bool kKeep>
inline void coef_pass(const CeTask& t, const T* x, const T* q, int64_t C, compute_t<T> m,
                      const T* next_row, compute_t<T>* keep, Sums<>& s) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const double eps = t.smoothing;
  const F uniform = F(eps / double(C));
  const V mvec = splat<V>(m);
  const A mwide = widen(mvec);
  A ties{};  // a count: exact
  RowSum<A, kCompensatedSums<T>> rest, csum, cdot;
  for_chunks<W>(C, [&](int64_t k, int64_t n) {
    prefetch_chunk(next_row, k);
    const V xv = load_n<T>(x + k, n, -kInf<F>);
    const V e = exp_diff(xv, mvec);
    const auto tie = xv == mvec;
    ties += widen(tie ? splat<V>(F(1)) : V{});
    rest.add(widen(tie ? V{} : e));
    if constexpr (kKeep) store_n<F>(keep + k, e, n);
    A coef = load_weights<A>(t.weight, k, n);
    if constexpr (M == Mode::prob)
      coef = acc_mul(coef, widen(load_n<T>(q + k, n, F(0)) * F(1 - eps) + uniform));
    // Pad lanes hold x = m so that 0 * (m - x) stays 0.
    const V xd = n == W ? xv : load_partial<T>(x + k, n, m);
    csum.add(coef);
    cdot.add(acc_mul(coef, mwide - widen(xd)));
  });
  s.ties = reduce_add(ties);
  s.rest = reduce_add(rest.value());
  s.coef_sum = reduce_add(csum.value());
  s.coef_dot = reduce_add(cdot.value());
}

// Cross-entropy of rows whose classes are contiguous in x, grad and prob.
template <class T, Mode M, bool kGrad>
void contig_rows(const CeTask& t, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  // Keep exp(x - m) between the passes (Note [Kept exps]): in the gradient
  // row for float/double, else a scratch row (16-bit, up to kExpScratch
  // classes; longer rows recompute).
  const int64_t C = t.x.classes;
  const double eps = t.smoothing;
  const F uniform = F(eps / double(C));
  for (int64_t r = r0; r < r1; ++r) {
    const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
    T* g = kGrad ? static_cast<T*>(t.grad.data) + row_offset(t.grad, r) : nullptr;
    const T* q = M == Mode::prob ? static_cast<const T*>(t.prob.data) + row_offset(t.prob, r)
                                 : nullptr;
    RowTarget tg{true, 0, 1.0};
    if constexpr (M != Mode::prob) {
      tg = row_target(t, r);
      if (t.target_weight) t.target_weight[r] = tg.weight;
      if (!tg.active) {
        if (t.loss) t.loss[r] = 0;
        if constexpr (kGrad)
          for_chunks<W>(C, [&](int64_t k, int64_t n) { store_n<T>(g + k, V{}, n); });
        continue;
      }
    }
    if (!t.loss && !kGrad) continue;  // targets only
    V mv = splat<V>(-kInf<F>);
    for_chunks<W>(C, [&](int64_t k, int64_t n) { mv = vmax(load_n<T>(x + k, n, -kInf<F>), mv); });
    const F m = reduce_max(mv);
    if (!std::isfinite(m)) {
      if (t.loss) t.loss[r] = kNaN<double>;
      if constexpr (kGrad) fill_row<T>(t.grad, r, kNaN<double>);
      continue;
    }
    const T* next = next_row<T>(t.x, r, r1);
    Sums<> s{double(m), 0.0, 0.0, 0.0, 0.0};
    F* kept = nullptr;
    if constexpr (kGrad) kept = keep_target(g, C);
    const auto sums = [&](auto keep) {
      constexpr bool kKeep = decltype(keep)::value;
      if constexpr (M == Mode::index)
        exp_pass<T, kKeep>(x, C, m, next, kept, s.ties, s.rest, g);
      else
        coef_pass<T, M, kKeep>(t, x, q, C, m, next, kept, s);
    };
    if (kGrad && kept)
      sums(std::integral_constant<bool, kGrad>{});
    else
      sums(std::false_type{});
    s.log_total_scalar();
    const RowCoef<> rc{(1 - eps) * tg.weight, eps / double(C), kGrad ? row_scale(t, r) : 0.0};
    const double x_t = M == Mode::prob ? 0.0 : double(to_compute(x[tg.index]));
    if (t.loss) t.loss[r] = row_loss<M>(s, rc, x_t);
    if constexpr (kGrad) {
      const V mul = splat<V>(F(exp_multiplier<M>(s, rc)));
      const F share = F(rc.b);  // index_smooth: k_c = b w_c
      const V scale = splat<V>(F(rc.scale));
      with_row_exp<!kKeepsExps<T>>(splat<V>(m), [&](const auto& ex) {
        for_chunks<W>(C, [&](int64_t k, int64_t n) {
          const V e = kept ? load_n<F>(kept + k, n, F(0)) : ex(load_n<T>(x + k, n, -kInf<F>));
          V y = e * mul;
          if constexpr (M != Mode::index) {
            V coef = narrow<V>(load_weights<A>(t.weight, k, n));
            if constexpr (M == Mode::prob)
              coef *= load_n<T>(q + k, n, F(0)) * F(1 - eps) + uniform;
            else
              coef *= share;
            y = (y - coef) * scale;
          }
          store_n<T>(g + k, y, n);
        });
      });
      if constexpr (M != Mode::prob)
        g[tg.index] =
            from_double<T>(target_grad(s, rc, x_t, tg.weight, exp_diff_scalar(x_t, s.m)));
    }
  }
}

// -------------------------------------------------------- strided rows

// A row block's per-row data, one row per double lane.
template <int W>
struct BlockLanes {
  alignas(64) double m[W], ties[W], rest[W], L[W], coef_sum[W], coef_dot[W];
  alignas(64) double a[W], b[W], scale[W], x_t[W], w_t[W];
  Sums<vd> sums(int j) const {
    return {load<double>(m + j), load<double>(ties + j), load<double>(rest + j),
            load<double>(coef_sum + j), load<double>(coef_dot + j), load<double>(L + j)};
  }
  RowCoef<vd> coef(int j) const {
    return {load<double>(a + j), load<double>(b + j), load<double>(scale + j)};
  }
};

// Every lane's loss. Out of line, so that its arithmetic (FMA contraction
// included) is the same whether or not the caller also forms the gradient:
// cross_entropy and cross_entropy_value_and_grad agree bit for bit.
template <Mode M, int W>
__attribute__((noinline)) void lane_losses(const BlockLanes<W>& l, double* loss) {
  for (int j = 0; j < W; j += lanes_v<vd>)
    store<double>(loss + j, row_loss<M>(l.sums(j), l.coef(j), load<double>(l.x_t + j)));
}

// Every lane's gradient multiplier of exp(x - m) and gradient at the index target.
template <Mode M, int W>
inline void lane_grads(const BlockLanes<W>& l, double* mul, double* grad_t) {
  for (int j = 0; j < W; j += lanes_v<vd>) {
    const Sums<vd> s = l.sums(j);
    const RowCoef<vd> rc = l.coef(j);
    store<double>(mul + j, exp_multiplier<M>(s, rc));
    if constexpr (M != Mode::prob) {
      const vd x_t = load<double>(l.x_t + j);
      const vd w_t = load<double>(l.w_t + j);
      store<double>(grad_t + j, target_grad(s, rc, x_t, w_t, exp_diff(x_t, s.m)));
    }
  }
}

// The gradient view or, without a gradient, x's geometry, so that a row
// block over it is well-formed; it is then never written.
inline MutView3 grad_or_geometry(const CeTask& t) {
  if (t.grad.data) return t.grad;
  const View3& x = t.x;
  return {const_cast<void*>(x.data), x.outer, x.classes, x.inner, x.s_outer, x.s_class, x.s_inner};
}

// Cross-entropy of blocks of rows, one row per lane (class stride != 1).
template <class T, Mode M, bool kGrad>
void block_rows(const CeTask& t, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  const double eps = t.smoothing;
  const F uniform = F(eps / double(C));
  if (!t.loss && !kGrad) {  // targets only: no blocks needed
    if constexpr (M != Mode::prob)
      for (int64_t r = r0; r < r1; ++r) {
        const RowTarget tg = row_target(t, r);
        if (t.target_weight) t.target_weight[r] = tg.weight;
      }
    return;
  }
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    // Lanes past n copy lane n - 1 (n >= 1). Not value-initialised: zeroing
    // it cost 2% of a 10-class value_and_grad (measured).
    RowTarget tg[W];
    if (n < 1) __builtin_unreachable();  // for_row_blocks' promise
    bool any_active = false;
    for (int j = 0; j < n; ++j) {
      if constexpr (M == Mode::prob) {
        tg[j] = {true, 0, 1.0};
      } else {
        tg[j] = row_target(t, rb + j);
        if (t.target_weight) t.target_weight[rb + j] = tg[j].weight;
      }
      any_active |= tg[j].active;
    }
    for (int j = n; j < W; ++j) tg[j] = tg[n - 1];
    if (!any_active) {
      for (int j = 0; j < n; ++j) {
        if (t.loss) t.loss[rb + j] = 0;
        if constexpr (kGrad) fill_row<T>(t.grad, rb + j, 0.0);
      }
      return;
    }
    const RowBlock<T> xb(t.x, rb, n);
    const SecondBlock<T> q_block(M == Mode::prob, t.prob, rb, n, xb);
    const RowBlock<T>& qb = q_block.block;
    V mv = splat<V>(-kInf<F>);
    for (int64_t k = 0; k < C; ++k) mv = vmax(xb.load(k), mv);
    const auto special = abs_v(mv) == kInf<F>;  // vmax skips NaN: mv is never NaN
    const V m = special ? V{} : mv;
    const A mwide = widen(m);
    // As in contig_rows, keep exp(x - m) in the gradient between the passes
    // when the block's gradient rows load and store as whole vectors.
    const MutRowBlock<T> gb(grad_or_geometry(t), rb, n);
    const bool keep_exp = kGrad && kKeepsExps<T> && gb.contiguous;
    // Short rows keep them here instead (any storage type: F is not rounded).
    BlockExps<T> kept(kGrad && !keep_exp, C);
    F* const keep_local = kept.buffer();
    A ties{};  // a count: exact
    RowSum<A, kCompensatedSums<T>> rest_sum, csum, cdot;
    for (int64_t k = 0; k < C; ++k) {
      const V xv = xb.load(k);
      const V e = exp_diff(xv, m);
      const auto tie = xv == m;
      ties += widen(tie ? splat<V>(F(1)) : V{});
      rest_sum.add(widen(tie ? V{} : e));
      if (keep_exp) gb.store(k, e, n);
      if (keep_local) store<F>(keep_local + k * W, e);
      if constexpr (M != Mode::index) {
        A coef = acc_splat<A>(t.weight ? t.weight[k] : 1.0);
        if constexpr (M == Mode::prob) coef = acc_mul(coef, widen(qb.load(k) * F(1 - eps) + uniform));
        csum.add(coef);
        cdot.add(acc_mul(coef, mwide - widen(xv)));
      }
    }
    const A rest = rest_sum.value();
    // The rows' finish, one row per double lane (Note [Stable cross-entropy]).
    static_assert(sizeof(A) == W * sizeof(double), "W double lanes");
    BlockLanes<W> lanes;
    store_lanes(lanes.m, mwide);
    store_lanes(lanes.ties, ties);
    store_lanes(lanes.rest, rest);
    store_lanes(lanes.L, log_total_lanes(ties, rest));  // special lanes: unused
    store_lanes(lanes.coef_sum, csum.value());
    store_lanes(lanes.coef_dot, cdot.value());
    for (int j = 0; j < W; ++j) {
      const int64_t r = rb + (j < n ? j : n - 1);
      // Inactive lanes get zero coefficients, so their gradient is 0 * exp.
      const bool on = tg[j].active;
      lanes.a[j] = on ? (1 - eps) * tg[j].weight : 0.0;
      lanes.b[j] = on ? eps / double(C) : 0.0;
      lanes.scale[j] = kGrad && on ? row_scale(t, r) : 0.0;
      lanes.w_t[j] = tg[j].weight;
      lanes.x_t[j] = M == Mode::prob || !on ? lanes.m[j] : double(to_compute(xb.at(j, tg[j].index)));
    }
    alignas(64) double loss_d[W], mul_d[W], grad_t_d[W];
    lane_losses<M>(lanes, loss_d);
    if constexpr (kGrad) lane_grads<M>(lanes, mul_d, grad_t_d);
    if (t.loss)
      for (int j = 0; j < n; ++j)
        t.loss[rb + j] = !tg[j].active ? 0.0 : special[j] ? kNaN<double> : loss_d[j];
    if constexpr (kGrad) {
      V mul, scale;
      for (int j = 0; j < W; ++j) {
        mul[j] = F(tg[j].active ? mul_d[j] : 0.0);
        scale[j] = F(lanes.scale[j]);  // 0 for inactive lanes
      }
      const F share = F(eps / double(C));
      for (int64_t k = 0; k < C; ++k) {
        const V e = keep_exp ? gb.load(k) : kept.get(k, xb, m);
        V y = e * mul;
        if constexpr (M != Mode::index) {
          V coef = splat<V>(F(t.weight ? t.weight[k] : 1.0));
          if constexpr (M == Mode::prob)
            coef *= qb.load(k) * F(1 - eps) + uniform;
          else
            coef *= share;
          y = (y - coef) * scale;
        }
        gb.store(k, y, n);
      }
      for (int j = 0; j < n; ++j) {
        const int64_t r = rb + j;
        if (!tg[j].active)
          fill_row<T>(t.grad, r, 0.0);  // exp may be inf or NaN there
        else if (special[j])
          fill_row<T>(t.grad, r, kNaN<double>);
        else if (M != Mode::prob)
          gb.at(j, tg[j].index) = from_double<T>(grad_t_d[j]);
      }
    }
  });
}

template <class T, Mode M, bool kGrad>
void rows(const CeTask& t, int64_t r0, int64_t r1) {
  const bool contig = t.x.s_class == 1 && (!kGrad || t.grad.s_class == 1) &&
                      (M != Mode::prob || t.prob.s_class == 1) && !short_rows<T>(t.x.classes);
  if (contig)
    contig_rows<T, M, kGrad>(t, r0, r1);
  else
    block_rows<T, M, kGrad>(t, r0, r1);
}

template <class T, Mode M>
void rows_grad_or_not(const CeTask& t, int64_t r0, int64_t r1) {
  if (t.grad.data)
    rows<T, M, true>(t, r0, r1);
  else
    rows<T, M, false>(t, r0, r1);
}

}  // namespace ce

// Cross-entropy from logits: the mode follows the task's targets.
template <class T>
void cross_entropy_rows(const CeTask& t, int64_t r0, int64_t r1) noexcept {
  using ce::Mode;
  if (!t.target)
    ce::rows_grad_or_not<T, Mode::prob>(t, r0, r1);
  else if (t.smoothing != 0)
    ce::rows_grad_or_not<T, Mode::index_smooth>(t, r0, r1);
  else
    ce::rows_grad_or_not<T, Mode::index>(t, r0, r1);
}

// NLL from log-probabilities: loss -w_t x_t, gradient -s w_t at the target
// (the caller zero-fills the gradient). Reads one element per row.
template <class T>
void nll_rows(const CeTask& t, int64_t r0, int64_t r1) noexcept {
  for (int64_t r = r0; r < r1; ++r) {
    const ce::RowTarget tg = ce::row_target(t, r);
    if (t.target_weight) t.target_weight[r] = tg.weight;
    if (!tg.active) {
      if (t.loss) t.loss[r] = 0;
      continue;
    }
    if (t.loss) t.loss[r] = -(tg.weight * double(to_compute(row_ptr<T>(t.x, r)[tg.index])));
    if (t.grad.data)
      row_ptr<T>(t.grad, r)[tg.index] =
          from_double<T>(-(tg.weight * ce::row_scale(t, r)));
  }
}

}  // namespace LL_ISA
}  // namespace logitloss
