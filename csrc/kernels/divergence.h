// Divergences between the softmaxes of two logit arrays: KL(P || Q),
// KL(Q || P) and Liger-Kernel's generalized Jensen-Shannon divergence, with
// their gradients with respect to the student's logits, over the class axis
// of an (outer, classes, inner) view. Each row is read from memory once: its
// passes (maxima, sums, terms, gradient) run while it stays in cache.
//
// Note [Stable divergences]
// Per row, with temperature T: a = x / T (input, student), b = y / T
// (target, teacher), Q = softmax(a), P = softmax(b), computed in double lanes
// whatever the storage type. With m_x, m_y the row maxima, a'_c =
// (x_c - m_x) / T and b'_c = (y_c - m_y) / T (both <= 0), Z_b = sum_c
// e^b'_c >= 1 and Z_a likewise, the log-ratio
//     r_c = log q_c - log p_c = a'_c - b'_c - log(Z_a / Z_b)
// is formed from the logits (never as the difference of two log-
// probabilities, which cancels): x_c - m_x and y_c - m_y are split exactly
// into a double and its rounding error (two_diff), so their difference is
// within an ulp of itself for logits of any magnitude; and log(Z_a / Z_b) =
// log1p(S / Z_b) with S = Z_a - Z_b = sum_c (e^a'_c - e^b'_c) summed term by
// term without cancellation: e^b' expm1(a' - b') where |a' - b'| <= 1,
// e^a' - e^b' elsewhere. So r_c is within a few ulp(r_c) plus a common shift
// d = the error of log(Z_a / Z_b), |d| <~ eps (|log(Z_a / Z_b)| +
// sum_c |q_c - p_c|). With h(z) = e^z - 1 - z >= 0, adding terms that sum to
// zero (sum_c (q_c - p_c) = 0) makes every class's term non-negative:
//     forward  KL(P || Q) = sum_c p_c h(r_c)       grad q_c - p_c = p_c (h(r_c) + r_c)
//     reverse  KL(Q || P) = sum_c q_c h(-r_c)      grad q_c (r_c - KL(Q || P))
//     JSD = sum_c beta p_c h(mu_c) + (1 - beta) q_c h(-nu_c)
//                                                  grad (1 - beta) q_c (nu_c - KL(Q || M))
// with M = beta P + (1 - beta) Q, mu_c = log(M_c / p_c), nu_c = log(q_c / M_c)
// (mu + nu = r; the JSD's added terms beta (M_c - p_c) + (1 - beta)
// (M_c - q_c) are 0 per class) and KL(Q || M) = sum_c q_c h(-nu_c). The
// gradients are with respect to a; the kernel multiplies them by 1 / T.
// Nothing cancels: rows that differ by 1e-4 (KL ~ 1e-9) keep every digit, and
// no divergence is ever negative, where log_softmax-based formulas (PyTorch's
// kl_div of log_softmax and softmax) lose up to all of them in float32.
//
// Error bounds. The common shift d moves the forward value by exactly h(d)
// (sum_c p_c h(r_c + d) = KL + h(d), as sum q = sum p = 1), the reverse one by
// h(-d), and the JSD by O(d^2) (its value is stationary in mu_c: d/dmu_c of
// the class's term is beta (M_c - p_c) + (1 - beta)(M_c - q_c) = 0): below
// 1e-30, negligible. Every other error is relative to a non-negative term: h
// within 3 ulp on |z| <= 1 (exp_tail_small, Note [Vector exp]) and
// w e^z - w - w z outside (w e^z from exp: no overflow), which cancels by at
// most e / (e - 2) = 3.8 (at |z| = 1); p_c and q_c within 1 ulp (exp) plus
// eps |log p_c| from rounding log p_c; nu_c within 4 ulp (-log1p(beta
// expm1(-r)) for |r| <= 1, log-add-exp beyond). Each term is so within
// ~(10 + |log p_c|) eps, and the row sum (all terms >= 0; compensated for
// float64 storage) within about that relative to the row's divergence: below
// a float32 ulp before the final rounding, and ~1e-14 relative for float64
// (tests/test_divergence_accuracy.py measures both against mpmath). The
// gradients have the relative error of their factors plus |d| q_c absolute
// (a few eps of q_c and of the gradient's own size on close rows); the JSD's
// stays relative also for beta near 0 or 1, as nu_c is never formed as
// r - mu.
//
// Special values. A -inf logit has probability 0; such terms take their
// limits (0 log 0 = 0, as torch's kl_div): forward, p_c = 0 gives q_c (and
// gradient q_c), q_c = 0 < p_c gives +inf with the gradient -p_c (PyTorch's
// composition gives the same); reverse, q_c = 0 gives p_c (gradient 0), and
// p_c = 0 < q_c gives +inf with a NaN gradient row (the gradient of an
// infinite loss); the JSD is finite. Rows with a NaN, a +inf or only -inf
// in x or y have no softmax: NaN loss and NaN gradient row, as PyTorch's
// softmax gives there. Rows of no classes: loss 0 (an empty sum).
//
// Both row layouts (classes contiguous: lanes along the classes; strided or
// short rows: one row per lane) add the terms in the same order (lane j of
// the contiguous path holds classes j, j + W, ..., and the row-block path
// keeps one partial sum per class residue), and the arithmetic per vector and
// per row is out of line (no FMA contracts across it), so a row's results are
// bitwise the same on either path, with or without the gradient, for any
// number of threads.
#pragma once

#include "row_stats.h"

namespace logitloss {
namespace LL_ISA {
namespace dv {

using V = vd;
constexpr int W = lanes_v<vd>;

// ------------------------------------------------- storage <-> double lanes

// W elements of storage T as double lanes (n < W: the rest are `fill`).
template <class T>
inline V load_wide(const T* p) {
  if constexpr (std::is_same<T, double>::value) {
    return load<double>(p);
  } else if constexpr (std::is_same<T, float>::value) {
    vf_half h;  // W floats: one conversion instruction
    std::memcpy(&h, p, sizeof h);
    return __builtin_convertvector(h, V);
  } else {
    V v{};
    for (int i = 0; i < W; ++i) v[i] = double(to_compute(p[i]));
    return v;
  }
}

template <class T>
inline V load_wide_n(const T* p, int64_t n, double fill) {
  if (n == W) return load_wide<T>(p);
  V v = splat<V>(fill);
  for (int64_t i = 0; i < n; ++i) v[i] = double(to_compute(p[i]));
  return v;
}

template <class T>
inline void store_wide_n(T* p, V v, int64_t n) {
  if constexpr (std::is_same<T, float>::value) {
    if (n == W) {
      const vf_half h = __builtin_convertvector(v, vf_half);
      std::memcpy(p, &h, sizeof h);
      return;
    }
  }
  if (n == W)
    store<T>(p, v);
  else
    store_partial<T>(p, v, n);
}

// ------------------------------------------------------------ per row

// A row's constants: the same row in every lane (contiguous rows) or one row
// per lane (row blocks).
struct RowLanes {
  V m_x, m_y;     // row maxima of x and y
  V log_ratio;    // log(Z_a / Z_b); 0 for the sums that find it
  V log_za, log_zb;
  V kl_q;         // reverse: KL(Q || P); JSD: KL(Q || M) (for the gradient)
  V scale;        // gradient scale: grad_output (/ denominator) / T
};

// The options, as the arithmetic wants them.
struct Consts {
  double kappa;  // 1 / T
  double beta, one_minus_beta, log_beta, log_one_minus_beta;
};

inline Consts consts_of(const DivTask& t) {
  return {t.inv_temperature, t.beta, 1 - t.beta, std::log(t.beta), std::log1p(-t.beta)};
}

// The per-row finish, by the same out-of-line code on both paths.
struct RowFinish {
  bool ok;  // false: the row has no softmax (Note [Stable divergences])
  double log_ratio, log_za, log_zb;
};
__attribute__((noinline)) inline RowFinish row_finish(double m_x, double m_y, double z_b,
                                                      double s) {
  if (!(std::isfinite(m_x) && std::isfinite(m_y) && std::isfinite(z_b) && std::isfinite(s)))
    return {false, 0, 0, 0};
  const double log_ratio = std::log1p(s / z_b), log_zb = std::log(z_b);
  return {true, log_ratio, log_zb + log_ratio, log_zb};
}

// ------------------------------------------------------------ per vector

// Whether |z| <= 1 (the domain of exp_tail_small, h there); false for NaN.
inline mask_t<V> small_arg(V z) { return abs_v(z) <= 1.0; }

// w h(z) >= 0 for w >= 0, given w_ez = w e^z computed without overflow:
// w exp_tail_small(z) on |z| <= 1, else (w e^z - w) - w z. w = 0 gives
// w_ez, the limit of w h(z) with w e^z fixed (z = +-inf or NaN included).
inline V weighted_h(V w, V z, V w_ez) {
  const mask_t<V> small = small_arg(z);
  const V in_small = w * exp_tail_small(small ? z : V{});
  const V wz = w == V{} ? V{} : w * z;
  return small ? in_small : (w_ez - w) - wz;
}

// a - b as an unevaluated sum hi + lo (two_diff), lo = 0 where a - b is not
// finite (two_diff's remainder is NaN there).
inline void split_diff(V a, V b, V& hi, V& lo) {
  two_diff(a, b, hi, lo);
  lo = lo == lo ? lo : V{};
}

// The log-ratio r = log(q / p) (Note [Stable divergences]): the difference
// of the shifted logits, (x - m_x) - (y - m_y), from their exact splits, so
// that it is within an ulp of itself for any magnitude of the logits.
inline V log_ratio(V x, V y, const RowLanes& L, double kappa) {
  V a, a_lo, b, b_lo;
  split_diff(x, L.m_x, a, a_lo);
  split_diff(y, L.m_y, b, b_lo);
  return ((a - b) + (a_lo - b_lo)) * kappa - L.log_ratio;
}

// A vector's terms of Z_b and of S = Z_a - Z_b (Note [Stable divergences]).
struct SumTerms {
  V z_b, s;
};
__attribute__((noinline)) inline SumTerms sum_terms(V x, V y, const RowLanes& L, double kappa) {
  const V e_a = exp_nonpos((x - L.m_x) * kappa), e_b = exp_nonpos((y - L.m_y) * kappa);
  const V r0 = log_ratio(x, y, L, kappa);  // a' - b' (log_ratio is 0 here)
  const mask_t<V> small = small_arg(r0);
  const V rs = small ? r0 : V{};
  return {e_b, small ? e_b * (exp_tail_small(rs) + rs) : e_a - e_b};
}

// One vector of classes: the probabilities and the log-ratio r = log(q / p).
struct Point {
  V p, q, r;
};

inline Point point(V x, V y, const RowLanes& L, double kappa) {
  return {exp_nonpos((y - L.m_y) * kappa - L.log_zb), exp_nonpos((x - L.m_x) * kappa - L.log_za),
          log_ratio(x, y, L, kappa)};
}

// nu = log(q / M) and mu = log(M / p) = r - nu of the JSD (0 < beta < 1).
struct MuNu {
  V mu, nu;
};

inline MuNu mu_nu(V r, const Consts& c) {
  const mask_t<V> small = small_arg(r);
  // |r| <= 1: nu = -log1p(beta expm1(-r)), relative to nu.
  const V rs = small ? r : V{};
  const V nu_small = -log1p_v(c.beta * (exp_tail_small(-rs) - rs));
  // Else log-add-exp: log M = log p + logaddexp(log beta, log(1 - beta) + r),
  // each case written so that r = +-inf gives the limits.
  const V gap = (c.log_beta - c.log_one_minus_beta) - r;  // A - B
  const V e = log1p_v(exp_nonpos(-abs_v(gap)));
  const mask_t<V> b_wins = gap <= 0.0;
  const V nu_big = b_wins ? (-c.log_one_minus_beta - e) : (r - c.log_beta) - e;
  const V mu_big = b_wins ? (r + c.log_one_minus_beta) + e : c.log_beta + e;
  return {small ? rs - nu_small : mu_big, small ? nu_small : nu_big};
}

// A vector's loss terms (`value`; the JSD's KL(Q || M) terms in `kl_q`) and,
// for the forward KL, its unscaled gradient.
struct Terms {
  V value, kl_q, grad;
};

template <Divergence K>
__attribute__((noinline)) Terms terms(V x, V y, const RowLanes& L, const Consts& c) {
  const Point pt = point(x, y, L, c.kappa);
  if constexpr (K == Divergence::forward_kl) {
    const mask_t<V> small = small_arg(pt.r);
    const V rs = small ? pt.r : V{};
    const V h = exp_tail_small(rs);
    const V pr = pt.p == V{} ? V{} : pt.p * pt.r;
    const V q_minus_p = pt.q - pt.p;
    return {small ? pt.p * h : q_minus_p - pr, V{}, small ? pt.p * (h + rs) : q_minus_p};
  } else if constexpr (K == Divergence::reverse_kl) {
    return {weighted_h(pt.q, -pt.r, pt.p), V{}, V{}};
  } else {
    const MuNu mn = mu_nu(pt.r, c);
    const V M = c.beta * pt.p + c.one_minus_beta * pt.q;
    const V kl_q = weighted_h(pt.q, -mn.nu, M);
    return {c.beta * weighted_h(pt.p, mn.mu, M) + c.one_minus_beta * kl_q, kl_q, V{}};
  }
}

// The reverse KL's and the JSD's gradient of a vector (scaled), once the
// row's KL(Q || .) is known.
template <Divergence K>
__attribute__((noinline)) V late_grad(V x, V y, const RowLanes& L, const Consts& c) {
  const Point pt = point(x, y, L, c.kappa);
  V g;
  if constexpr (K == Divergence::reverse_kl) {
    g = pt.q * (pt.r - L.kl_q);
  } else {
    g = c.one_minus_beta * (pt.q * (mu_nu(pt.r, c).nu - L.kl_q));
  }
  return (pt.q == V{} ? V{} : g) * L.scale;  // q = 0: the limit 0
}

// ------------------------------------------------------------ the rows

inline double row_scale(const DivTask& t, int64_t r) {
  return (t.grad_scale ? t.grad_scale[r] : t.grad_scalar) * t.inv_temperature;
}

template <class T>
inline void fill_row(const MutView3& g, int64_t r, double v) {
  const MutRowPtr<T> out = row_ptr<T>(g, r);
  const T y = from_compute<T>(compute_t<T>(v));
  for (int64_t k = 0; k < g.classes; ++k) out[k] = y;
}

template <bool kCompensated>
using Sum = RowSum<V, kCompensated>;

// Prefetches the cache line of next + k once per line.
template <class T>
inline void prefetch_line(const T* next, int64_t k) {
  constexpr int64_t kChunk = W * int64_t(sizeof(T));
  if (next && (k * int64_t(sizeof(T))) % 64 < kChunk) __builtin_prefetch(next + k, 0, 3);
}

// Rows whose classes are contiguous in x, y and the gradient.
template <class T, Divergence K>
void contig_rows(const DivTask& t, int64_t r0, int64_t r1) {
  constexpr bool kComp = kCompensatedSums<T>;
  const int64_t C = t.x.classes;
  const Consts c = consts_of(t);
  const double inf = kInf<double>;
  for (int64_t r = r0; r < r1; ++r) {
    const T* x = static_cast<const T*>(t.x.data) + row_offset(t.x, r);
    const T* y = static_cast<const T*>(t.y.data) + row_offset(t.y, r);
    T* g = t.grad.data ? static_cast<T*>(t.grad.data) + row_offset(t.grad, r) : nullptr;
    const auto load_x = [&](int64_t k, int64_t n) { return load_wide_n<T>(x + k, n, -inf); };
    const auto load_y = [&](int64_t k, int64_t n) { return load_wide_n<T>(y + k, n, -inf); };
    V mx = splat<V>(-inf), my = splat<V>(-inf);
    for_chunks<W>(C, [&](int64_t k, int64_t n) {
      mx = vmax(load_x(k, n), mx);
      my = vmax(load_y(k, n), my);
    });
    const double m_x = reduce_max(mx), m_y = reduce_max(my);
    RowFinish f{false, 0, 0, 0};
    RowLanes L{splat<V>(m_x), splat<V>(m_y), V{}, V{}, V{}, V{},
               splat<V>(g ? row_scale(t, r) : 0.0)};
    if (std::isfinite(m_x) && std::isfinite(m_y)) {
      Sum<kComp> z_b, s;
      for_chunks<W>(C, [&](int64_t k, int64_t n) {
        const SumTerms st = sum_terms(load_x(k, n), load_y(k, n), L, c.kappa);
        z_b.add(st.z_b);
        s.add(st.s);
      });
      f = row_finish(m_x, m_y, reduce_add(z_b.value()), reduce_add(s.value()));
    }
    if (!f.ok) {
      if (t.loss) t.loss[r] = kNaN<double>;
      if (g) fill_row<T>(t.grad, r, kNaN<double>);
      continue;
    }
    L.log_ratio = splat<V>(f.log_ratio);
    L.log_za = splat<V>(f.log_za);
    L.log_zb = splat<V>(f.log_zb);
    const T* next_x = r + 1 < r1 ? static_cast<const T*>(t.x.data) + row_offset(t.x, r + 1) : nullptr;
    const T* next_y = r + 1 < r1 ? static_cast<const T*>(t.y.data) + row_offset(t.y, r + 1) : nullptr;
    Sum<kComp> value, kl_q;
    for_chunks<W>(C, [&](int64_t k, int64_t n) {
      prefetch_line(next_x, k);
      prefetch_line(next_y, k);
      const Terms tm = terms<K>(load_x(k, n), load_y(k, n), L, c);
      value.add(tm.value);
      if constexpr (K == Divergence::jsd) kl_q.add(tm.kl_q);
      if constexpr (K == Divergence::forward_kl)
        if (g) store_wide_n<T>(g + k, tm.grad * L.scale, n);
    });
    const double loss = reduce_add(value.value());
    if (t.loss) t.loss[r] = loss;
    if (K == Divergence::forward_kl || !g) continue;
    const double klq = K == Divergence::jsd ? reduce_add(kl_q.value()) : loss;
    if (!std::isfinite(klq)) {  // reverse KL of +inf: no gradient
      fill_row<T>(t.grad, r, kNaN<double>);
      continue;
    }
    L.kl_q = splat<V>(klq);
    for_chunks<W>(C, [&](int64_t k, int64_t n) {
      store_wide_n<T>(g + k, late_grad<K>(load_x(k, n), load_y(k, n), L, c), n);
    });
  }
}

// The row-block path's sums: one partial sum per class residue k mod W, added
// at the end in reduce_add's order, so that every row's sum is the
// contiguous path's (Note [Stable divergences]).
template <bool kCompensated>
struct ResidueSums {
  Sum<kCompensated> part[W];
  void add(int64_t k, V v) { part[k % W].add(v); }
  V total() const {
    V s[W];
    for (int i = 0; i < W; ++i) s[i] = part[i].value();
    for (int w = W / 2; w >= 1; w /= 2)
      for (int i = 0; i < w; ++i) s[i] += s[i + w];
    return s[0];
  }
};

// The gradient view or, without a gradient, x's geometry, so that a row
// block over it is well-formed; it is then never written.
inline MutView3 grad_or_geometry(const DivTask& t) {
  if (t.grad.data) return t.grad;
  const View3& x = t.x;
  return {const_cast<void*>(x.data), x.outer, x.classes, x.inner, x.s_outer, x.s_class, x.s_inner};
}

// Blocks of W rows, one per lane (strided classes or short rows).
template <class T, Divergence K>
void block_rows(const DivTask& t, int64_t r0, int64_t r1) {
  constexpr bool kComp = kCompensatedSums<T>;
  const int64_t C = t.x.classes;
  const Consts c = consts_of(t);
  const bool grad = t.grad.data != nullptr;
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    const RowBlockOf<T, const T, double> xb(t.x, rb, n), yb(t.y, rb, n);
    const MutRowBlock<T, double> gb(grad_or_geometry(t), rb, n);
    V mx = splat<V>(-kInf<double>), my = mx;
    for (int64_t k = 0; k < C; ++k) {
      mx = vmax(xb.load(k), mx);
      my = vmax(yb.load(k), my);
    }
    RowLanes L{mx, my, V{}, V{}, V{}, V{}, V{}};  // lanes of no finite max: NaN, unused
    for (int j = 0; j < W; ++j) L.scale[j] = grad ? row_scale(t, rb + (j < n ? j : n - 1)) : 0.0;
    ResidueSums<kComp> z_b, s;
    for (int64_t k = 0; k < C; ++k) {
      const SumTerms st = sum_terms(xb.load(k), yb.load(k), L, c.kappa);
      z_b.add(k, st.z_b);
      s.add(k, st.s);
    }
    const V z_b_v = z_b.total(), s_v = s.total();
    bool ok[W];
    for (int j = 0; j < W; ++j) {
      const RowFinish f = row_finish(mx[j], my[j], z_b_v[j], s_v[j]);
      ok[j] = f.ok;
      L.log_ratio[j] = f.log_ratio;
      L.log_za[j] = f.log_za;
      L.log_zb[j] = f.log_zb;
    }
    ResidueSums<kComp> value, kl_q;
    for (int64_t k = 0; k < C; ++k) {
      const Terms tm = terms<K>(xb.load(k), yb.load(k), L, c);
      value.add(k, tm.value);
      if constexpr (K == Divergence::jsd) kl_q.add(k, tm.kl_q);
      if constexpr (K == Divergence::forward_kl)
        if (grad) gb.store(k, tm.grad * L.scale, n);
    }
    const V loss = value.total();
    L.kl_q = K == Divergence::jsd ? kl_q.total() : loss;
    bool late = false;  // a lane that needs the late gradient
    for (int j = 0; j < n; ++j) {
      if (!ok[j]) continue;
      if (t.loss) t.loss[rb + j] = loss[j];
      late |= std::isfinite(L.kl_q[j]);
    }
    if (K != Divergence::forward_kl && grad && late)
      for (int64_t k = 0; k < C; ++k) gb.store(k, late_grad<K>(xb.load(k), yb.load(k), L, c), n);
    for (int j = 0; j < n; ++j) {
      const bool no_grad = K != Divergence::forward_kl && !std::isfinite(L.kl_q[j]);
      if (!ok[j] && t.loss) t.loss[rb + j] = kNaN<double>;
      if (grad && (!ok[j] || no_grad)) fill_row<T>(t.grad, rb + j, kNaN<double>);
    }
  });
}

// Long rows with unit class strides run lanes along the classes; the rest
// (strided classes, rows shorter than two vectors) one row per lane.
template <class T, Divergence K>
void rows(const DivTask& t, int64_t r0, int64_t r1) {
  const int64_t C = t.x.classes;
  const bool contig = t.x.s_class == 1 && t.y.s_class == 1 &&
                      (!t.grad.data || t.grad.s_class == 1) && C >= 2 * W;
  if (contig)
    contig_rows<T, K>(t, r0, r1);
  else
    block_rows<T, K>(t, r0, r1);
}

}  // namespace dv

template <class T>
void divergence_rows(const DivTask& t, int64_t r0, int64_t r1) noexcept {
  if (t.x.classes == 0) {  // empty sums; nothing to write
    if (t.loss)
      for (int64_t r = r0; r < r1; ++r) t.loss[r] = 0;
    return;
  }
  switch (t.kind) {
    case Divergence::forward_kl: return dv::rows<T, Divergence::forward_kl>(t, r0, r1);
    case Divergence::reverse_kl: return dv::rows<T, Divergence::reverse_kl>(t, r0, r1);
    case Divergence::jsd: return dv::rows<T, Divergence::jsd>(t, r0, r1);
  }
}

}  // namespace LL_ISA
}  // namespace logitloss
