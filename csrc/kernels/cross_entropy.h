// Softmax cross-entropy and NLL with PyTorch's options (class weights,
// ignore_index, label smoothing, probability targets), their gradients, and
// the fused value-and-gradient kernel, over the class axis of an
// (outer, classes, inner) view.
// The per-row formulas and Note [Stable cross-entropy] are in
// cross_entropy_terms.h; soft-capped rows in cross_entropy_capped.h.
#pragma once

#include "cross_entropy_capped.h"
#include "cross_entropy_terms.h"
#include "cross_entropy_variants.h"

namespace logitloss {
namespace LL_ISA {

namespace ce {

// ------------------------------------------------------- contiguous rows

// The exp pass of a contiguous row with class weights or smoothing: besides
// ties and rest (as exp_pass), the coefficient sums S and sum_c k_c (m - x_c)
// of Note [Stable cross-entropy], all in one sweep; exps kept in `keep`
// with kKeep. kPoly (probability targets): the sums of Note [Poly-1
// cross-entropy] too.
template <class T, Mode M, bool kKeep, bool kPoly = false>
inline void coef_pass(const CeTask& t, const T* x, const T* q, int64_t C, compute_t<T> m,
                      const T* next_row, compute_t<T>* keep, Sums<>& s, PolySums<>& ps) {
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
  RowSum<A, kCompensatedSums<T>> q_max, q_rest, qe_rest;  // kPoly
  for_chunks<W>(C, [&](int64_t k, int64_t n) {
    prefetch_chunk(next_row, k);
    const V xv = load_n<T>(x + k, n, -kInf<F>);
    const V e = exp_diff(xv, mvec);
    const auto tie = xv == mvec;
    ties += widen(tie ? splat<V>(F(1)) : V{});
    const A e_off = widen(tie ? V{} : e);  // exp(x - m) off the maxima
    rest.add(e_off);
    // Pad lanes hold x = m so that 0 * (m - x) stays 0. Read before the
    // exps are kept: in place, `keep` is x itself.
    const V xd = n == W ? xv : load_partial<T>(x + k, n, m);
    if constexpr (kKeep) store_n<F>(keep + k, e, n);
    A coef = load_weights<A>(t.weight, k, n);
    if constexpr (M == Mode::prob) {
      const V qp = load_n<T>(q + k, n, F(0)) * F(1 - eps) + uniform;
      coef = acc_mul(coef, widen(qp));
      if constexpr (kPoly) {
        const V qz = n == W ? qp : zero_past(qp, n);  // pad lanes hold q' = eps / C
        const A qw = widen(qz), off_max = widen(tie ? V{} : qz);
        q_max.add(qw - off_max);  // exact: qw or 0
        q_rest.add(off_max);
        qe_rest.add(acc_mul(qw, e_off));  // pad lanes: e = 0
      }
    }
    csum.add(coef);
    cdot.add(acc_mul(coef, mwide - widen(xd)));
  });
  s.ties = reduce_add(ties);
  s.rest = reduce_add(rest.value());
  s.coef_sum = reduce_add(csum.value());
  s.coef_dot = reduce_add(cdot.value());
  if constexpr (kPoly)
    ps = {reduce_add(q_max.value()), reduce_add(q_rest.value()), reduce_add(qe_rest.value())};
}

// The gradient row of an index-target row with blocked sums (Note [Blocked
// row sums]): exp(x - m_b) * (mul f_b), the exps kept in `kept` or, for
// 16-bit rows past the scratch, computed again (the same values).
template <class T>
inline void blocked_gradient(const T* x, T* g, const compute_t<T>* kept, int64_t C,
                             const SumBlocks& blocks, double m, double mul) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  constexpr int W = lanes_v<V>;
  for (int b = 0; b < blocks.count; ++b) {
    const int64_t k0 = b * blocks.length;
    const int64_t n = C - k0 < blocks.length ? C - k0 : blocks.length;
    const V mul_b = splat<V>(F(mul * block_factor(blocks, b, m)));
    if (kKeepsExps<T> || kept) {
      for_chunks<W>(n, [&](int64_t k, int64_t c) {
        store_n<T>(g + k0 + k, load_n<F>(kept + k0 + k, c, F(0)) * mul_b, c);
      });
    } else {
      with_row_exp<!kKeepsExps<T>>(splat<V>(F(blocks.m[b])), [&](const auto& ex) {
        for_chunks<W>(n, [&](int64_t k, int64_t c) {
          store_n<T>(g + k0 + k, ex(load_n<T>(x + k0 + k, c, -kInf<F>)) * mul_b, c);
        });
      });
    }
  }
}

// Cross-entropy of rows whose classes are contiguous in x, grad and prob
// (kPoly: Poly-1 with probability targets; index-target variants are
// per-row transforms, Note [Poly-1 cross-entropy], Note [Softmax focal loss]).
// kBlocked (long index rows, blocked_sums_pay): the sums in one read of x,
// the exps kept relative to their blocks' maxima (Note [Blocked row sums]);
// instantiated in its own unit (blocked_index_rows).
template <class T, Mode M, bool kGrad, bool kPoly = false, bool kBlocked = false>
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
  const FocalPow focal_pow(t.gamma, false);  // one pow per long row: std::pow
  std::conditional_t<kBlocked, SumBlocks, NoSumBlocks> blocks;
  for (int64_t r = r0; r < r1; ++r) {
    const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
    T* g = kGrad ? static_cast<T*>(t.grad.data) + row_offset(t.grad, r) : nullptr;
    const T* q = M == Mode::prob ? static_cast<const T*>(t.prob.data) + row_offset(t.prob, r)
                                 : nullptr;
    const RowTarget tg = take_target<M>(t, r);
    if (!tg.active) {
      if constexpr (kGrad)
        for_chunks<W>(C, [&](int64_t k, int64_t n) { store_n<T>(g + k, V{}, n); });
      continue;
    }
    if (!t.loss && !kGrad) continue;  // targets only
    RowStats st{};
    F m;
    double x_t = 0;
    F* kept = nullptr;
    if constexpr (kBlocked) {
      // Before the exps: in place, the gradient row (holding them) is x.
      x_t = double(to_compute(x[tg.index]));
      if constexpr (kGrad) kept = keep_target(g, C);
      const T* next = next_row<T>(t.x, r, r1);
      m = blocked_stats<T>(x, C, next, kept, blocks, st, g) ? F(st.m) : kInf<F>;
    } else {
      V mv = splat<V>(-kInf<F>);
      for_chunks<W>(C, [&](int64_t k, int64_t n) { mv = vmax(load_n<T>(x + k, n, -kInf<F>), mv); });
      m = reduce_max(mv);
    }
    if (!std::isfinite(m)) {
      if (t.loss) t.loss[r] = kNaN<double>;
      if constexpr (kGrad) fill_row<T>(t.grad, r, kNaN<double>);
      continue;
    }
    const T* next = next_row<T>(t.x, r, r1);
    if constexpr (!kBlocked) {
      // Before the exp pass: in place, the gradient row (holding the exps) is x.
      x_t = M == Mode::prob ? 0.0 : double(to_compute(x[tg.index]));
      if constexpr (kGrad) kept = keep_target(g, C);
    }
    Sums<> s{double(m), st.ties, st.rest, 0.0, 0.0};
    PolySums<> ps{};
    const auto sums = [&](auto keep) {
      constexpr bool kKeep = decltype(keep)::value;
      if constexpr (M == Mode::index)
        exp_pass<T, kKeep>(x, C, m, next, kept, s.ties, s.rest, g);
      else
        coef_pass<T, M, kKeep, kPoly>(t, x, q, C, m, next, kept, s, ps);
    };
    if constexpr (!kBlocked) {
      if (kGrad && kept)
        sums(std::integral_constant<bool, kGrad>{});
      else
        sums(std::false_type{});
    }
    s.log_total_scalar();
    RowCoef<> rc{(1 - eps) * tg.weight, eps / double(C), kGrad ? row_scale(t, r) : 0.0,
                 t.z_loss * tg.weight};
    if (M == Mode::index && t.variant == CeVariant::focal) rc.a = focal_alpha(t, tg.index);
    const bool has_z = t.z_loss != 0;
    double poly_mul = 0, poly_share = 0;  // kPoly
    if constexpr (kPoly) {
      const double loss = prob_poly_row(t, s, rc, ps, poly_mul, poly_share);
      if (t.loss) t.loss[r] = loss;
    } else if (M != Mode::prob && t.variant != CeVariant::plain) {
      const double loss =
          index_variant_row<M>(t, focal_pow, s, rc, x_t, tg.weight, exp_diff_scalar(x_t, s.m));
      if (t.loss) t.loss[r] = loss;
    } else if (t.loss) {
      t.loss[r] = row_loss_z<M>(s, rc, x_t, has_z);
    }
    if constexpr (kGrad && kBlocked) {
      blocked_gradient<T>(x, g, kept, C, blocks, s.m, exp_multiplier<M>(s, rc, has_z));
      g[tg.index] =
          from_double<T>(target_grad(s, rc, x_t, tg.weight, exp_diff_scalar(x_t, s.m), has_z));
    } else if constexpr (kGrad) {
      const V mul = splat<V>(F(kPoly ? poly_mul : exp_multiplier<M>(s, rc, has_z)));
      const V poly_c2 = splat<V>(F(poly_share));
      const F share = F(rc.b);  // index_smooth: k_c = b w_c
      const V scale = splat<V>(F(rc.scale));
      with_row_exp<!kKeepsExps<T>>(splat<V>(m), [&](const auto& ex) {
        for_chunks<W>(C, [&](int64_t k, int64_t n) {
          const V e = kept ? load_n<F>(kept + k, n, F(0)) : ex(load_n<T>(x + k, n, -kInf<F>));
          V y = e * mul;
          if constexpr (M != Mode::index) {
            V coef = narrow<V>(load_weights<A>(t.weight, k, n));
            if constexpr (M == Mode::prob) {
              const V qp = load_n<T>(q + k, n, F(0)) * F(1 - eps) + uniform;
              if constexpr (kPoly) coef += e * poly_c2;  // Note [Poly-1 cross-entropy]
              coef *= qp;
            } else {
              coef *= share;
            }
            y = (y - coef) * scale;
          }
          store_n<T>(g + k, y, n);
        });
      });
      if constexpr (M != Mode::prob)
        g[tg.index] = from_double<T>(
            target_grad(s, rc, x_t, tg.weight, exp_diff_scalar(x_t, s.m), has_z));
    }
  }
}

// -------------------------------------------------------- strided rows

// A row block's per-row data, one row per double lane.
template <int W>
struct BlockLanes {
  alignas(64) double m[W], ties[W], rest[W], L[W], coef_sum[W], coef_dot[W];
  alignas(64) double a[W], b[W], scale[W], z[W], x_t[W], w_t[W];
  Sums<vd> sums(int j) const {
    return {load<double>(m + j), load<double>(ties + j), load<double>(rest + j),
            load<double>(coef_sum + j), load<double>(coef_dot + j), load<double>(L + j)};
  }
  RowCoef<vd> coef(int j) const {
    return {load<double>(a + j), load<double>(b + j), load<double>(scale + j), load<double>(z + j)};
  }
};

// Every lane's loss. Out of line, so that its arithmetic (FMA contraction
// included) is the same whether or not the caller also forms the gradient:
// cross_entropy and cross_entropy_value_and_grad agree bit for bit.
template <Mode M, int W>
__attribute__((noinline)) void lane_losses(const BlockLanes<W>& l, double* loss, bool has_z) {
  for (int j = 0; j < W; j += lanes_v<vd>)
    store<double>(loss + j, row_loss_z<M>(l.sums(j), l.coef(j), load<double>(l.x_t + j), has_z));
}

// Every lane's gradient multiplier of exp(x - m) and gradient at the index target.
template <Mode M, int W>
inline void lane_grads(const BlockLanes<W>& l, double* mul, double* grad_t, bool has_z) {
  for (int j = 0; j < W; j += lanes_v<vd>) {
    const Sums<vd> s = l.sums(j);
    const RowCoef<vd> rc = l.coef(j);
    store<double>(mul + j, exp_multiplier<M>(s, rc, has_z));
    if constexpr (M != Mode::prob) {
      const vd x_t = load<double>(l.x_t + j);
      const vd w_t = load<double>(l.w_t + j);
      store<double>(grad_t + j, target_grad(s, rc, x_t, w_t, exp_diff(x_t, s.m), has_z));
    }
  }
}

// Every lane's loss under an index-target variant and, with `mul`, the
// gradient's multiplier and target entry as lane_grads gives them with the
// variant's RowCoef::a (Note [Poly-1 cross-entropy], Note [Softmax focal
// loss]); exp(x_t - m) and p_t are formed once for both. Out of line, as
// lane_losses, so that value and value-and-gradient agree bit for bit.
template <Mode M, int W>
__attribute__((noinline)) void lane_variant_rows(const CeTask& t, const FocalPow& focal_pow,
                                                 const BlockLanes<W>& l, double* loss,
                                                 double* mul, double* grad_t) {
  for (int j = 0; j < W; j += lanes_v<vd>) {
    const Sums<vd> s = l.sums(j);
    RowCoef<vd> rc = l.coef(j);
    const vd x_t = load<double>(l.x_t + j);
    const vd w_t = load<double>(l.w_t + j);
    const vd exp_t = exp_diff(x_t, s.m);
    store<double>(loss + j, index_variant_row<M>(t, focal_pow, s, rc, x_t, w_t, exp_t));
    if (mul) {
      store<double>(mul + j, exp_multiplier<M>(s, rc, false));
      store<double>(grad_t + j, target_grad(s, rc, x_t, w_t, exp_t, false));
    }
  }
}

// Every lane's Poly-1 loss with probability targets, with the gradient's
// multiplier of exp(x - m) and the share of e_c in k_c (prob_poly_row).
// poly[i] holds the lanes of Q_max, Q_rest and D.
template <int W>
__attribute__((noinline)) void lane_prob_poly(const CeTask& t, const BlockLanes<W>& l,
                                              const double (&poly)[3][W], double* loss,
                                              double* mul, double* share) {
  for (int j = 0; j < W; j += lanes_v<vd>) {
    const PolySums<vd> ps{load<double>(poly[0] + j), load<double>(poly[1] + j),
                          load<double>(poly[2] + j)};
    vd m, sh;
    store<double>(loss + j, prob_poly_row(t, l.sums(j), l.coef(j), ps, m, sh));
    store<double>(mul + j, m);
    store<double>(share + j, sh);
  }
}

// Cross-entropy of blocks of rows, one row per lane (class stride != 1);
// kPoly and the variants as in contig_rows.
template <class T, Mode M, bool kGrad, bool kPoly = false>
void block_rows(const CeTask& t, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  const double eps = t.smoothing;
  const F uniform = F(eps / double(C));
  const FocalPow focal_pow(t.gamma, !std::is_same<F, double>::value);
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
    // The targets' logits, before any exp is kept: in place, the gradient is x.
    alignas(64) double x_t[W];
    for (int j = 0; j < W; ++j)
      x_t[j] = M == Mode::prob || !tg[j].active ? 0.0 : double(to_compute(xb.at(j, tg[j].index)));
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
    RowSum<A, kCompensatedSums<T>> q_max, q_rest, qe_rest;  // kPoly
    for (int64_t k = 0; k < C; ++k) {
      const V xv = xb.load(k);
      const V e = exp_diff(xv, m);
      const auto tie = xv == m;
      ties += widen(tie ? splat<V>(F(1)) : V{});
      const A e_off = widen(tie ? V{} : e);  // exp(x - m) off the maxima
      rest_sum.add(e_off);
      if (keep_exp) gb.store(k, e, n);
      if (keep_local) store<F>(keep_local + k * W, e);
      if constexpr (M != Mode::index) {
        A coef = acc_splat<A>(t.weight ? t.weight[k] : 1.0);
        if constexpr (M == Mode::prob) {
          const V qp = qb.load(k) * F(1 - eps) + uniform;
          const A qw = widen(qp);
          coef = acc_mul(coef, qw);
          if constexpr (kPoly) {  // Note [Poly-1 cross-entropy]
            const A off_max = widen(tie ? V{} : qp);
            q_max.add(qw - off_max);  // exact: qw or 0
            q_rest.add(off_max);
            qe_rest.add(acc_mul(qw, e_off));
          }
        }
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
      lanes.z[j] = on ? t.z_loss * tg[j].weight : 0.0;
      lanes.w_t[j] = tg[j].weight;
      lanes.x_t[j] = M == Mode::prob || !on ? lanes.m[j] : x_t[j];
    }
    if (M == Mode::index && t.variant == CeVariant::focal)  // Note [Softmax focal loss]
      for (int j = 0; j < W; ++j)
        if (tg[j].active) lanes.a[j] = focal_alpha(t, tg[j].index);
    const bool has_z = t.z_loss != 0;
    alignas(64) double loss_d[W], mul_d[W], grad_t_d[W], share_d[W];
    if constexpr (kPoly) {
      alignas(64) double poly[3][W];
      store_lanes(poly[0], q_max.value());
      store_lanes(poly[1], q_rest.value());
      store_lanes(poly[2], qe_rest.value());
      lane_prob_poly<W>(t, lanes, poly, loss_d, mul_d, share_d);
    } else if (M != Mode::prob && t.variant != CeVariant::plain) {
      lane_variant_rows<M>(t, focal_pow, lanes, loss_d, kGrad ? mul_d : nullptr, grad_t_d);
    } else {
      lane_losses<M>(lanes, loss_d, has_z);
      if constexpr (kGrad) lane_grads<M>(lanes, mul_d, grad_t_d, has_z);
    }
    if (t.loss)
      for (int j = 0; j < n; ++j)
        t.loss[rb + j] = !tg[j].active ? 0.0 : special[j] ? kNaN<double> : loss_d[j];
    if constexpr (kGrad) {
      V mul, scale, poly_c2{};
      for (int j = 0; j < W; ++j) {
        mul[j] = F(tg[j].active ? mul_d[j] : 0.0);
        scale[j] = F(lanes.scale[j]);  // 0 for inactive lanes
        if constexpr (kPoly) poly_c2[j] = F(share_d[j]);
      }
      const F share = F(eps / double(C));
      for (int64_t k = 0; k < C; ++k) {
        const V e = keep_exp ? gb.load(k) : kept.get(k, xb, m);
        V y = e * mul;
        if constexpr (M != Mode::index) {
          V coef = splat<V>(F(t.weight ? t.weight[k] : 1.0));
          if constexpr (M == Mode::prob) {
            const V qp = qb.load(k) * F(1 - eps) + uniform;
            if constexpr (kPoly) coef += e * poly_c2;  // Note [Poly-1 cross-entropy]
            coef *= qp;
          } else {
            coef *= share;
          }
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

// contig_rows<T, Mode::index, kGrad, false, true>, compiled in
// isa_cross_entropy_blocked.cpp: instantiated in this unit, it slowed the
// other rows' kernels by 3% (GCC's inlining across the unit, measured on
// 4096x32000 and 1024x16384 float32).
template <class T, bool kGrad>
void blocked_index_rows(const CeTask& t, int64_t r0, int64_t r1);

template <class T, Mode M, bool kGrad, bool kPoly>
void rows(const CeTask& t, int64_t r0, int64_t r1) {
  const bool contig = t.x.s_class == 1 && (!kGrad || t.grad.s_class == 1) &&
                      (M != Mode::prob || t.prob.s_class == 1) && !short_rows<T>(t.x.classes);
  if (M == Mode::index && contig && blocked_sums_pay<T>(t.x.classes))
    blocked_index_rows<T, kGrad>(t, r0, r1);
  else if (contig)
    contig_rows<T, M, kGrad, kPoly>(t, r0, r1);
  else
    block_rows<T, M, kGrad, kPoly>(t, r0, r1);
}

// Poly-1 with probability targets (kPoly): never soft-capped.
template <class T, Mode M, bool kPoly = false>
void rows_grad_or_not(const CeTask& t, int64_t r0, int64_t r1) {
  if (kPoly) {
    if (t.grad.data)
      rows<T, M, true, kPoly>(t, r0, r1);
    else
      rows<T, M, false, kPoly>(t, r0, r1);
  } else if (t.softcap > 0) {  // Note [Soft-capped cross-entropy]
    if (t.grad.data)
      capped_rows<T, M, true>(t, r0, r1);
    else
      capped_rows<T, M, false>(t, r0, r1);
  } else if (t.grad.data) {
    rows<T, M, true, false>(t, r0, r1);
  } else {
    rows<T, M, false, false>(t, r0, r1);
  }
}

}  // namespace ce

// Cross-entropy from logits: the mode follows the task's targets.
template <class T>
void cross_entropy_rows(const CeTask& t, int64_t r0, int64_t r1) noexcept {
  using ce::Mode;
  if (!t.target && t.variant == CeVariant::poly1)
    ce::rows_grad_or_not<T, Mode::prob, true>(t, r0, r1);  // Note [Poly-1 cross-entropy]
  else if (!t.target)
    ce::rows_grad_or_not<T, Mode::prob>(t, r0, r1);
  else if (t.smoothing != 0)
    ce::rows_grad_or_not<T, Mode::index_smooth>(t, r0, r1);
  else
    ce::rows_grad_or_not<T, Mode::index>(t, r0, r1);
}

// NLL from log-probabilities: loss -w_t x_t; the gradient row is -s w_t at
// the target and 0 elsewhere, written whole (x_t is read first, so the
// gradient may be x itself). Reads one element per row.
template <class T>
void nll_rows(const CeTask& t, int64_t r0, int64_t r1) noexcept {
  for (int64_t r = r0; r < r1; ++r) {
    const ce::RowTarget tg = ce::row_target(t, r);
    if (t.target_weight) t.target_weight[r] = tg.weight;
    const double x_t = tg.active ? double(to_compute(row_ptr<T>(t.x, r)[tg.index])) : 0.0;
    if (t.loss) t.loss[r] = tg.active ? -(tg.weight * x_t) : 0.0;
    if (t.grad.data) {
      const MutRowPtr<T> g = row_ptr<T>(t.grad, r);
      const T zero = from_double<T>(0.0);
      for (int64_t k = 0; k < t.grad.classes; ++k) g[k] = zero;
      if (tg.active) g[tg.index] = from_double<T>(-(tg.weight * ce::row_scale(t, r)));
    }
  }
}

}  // namespace LL_ISA
}  // namespace logitloss
