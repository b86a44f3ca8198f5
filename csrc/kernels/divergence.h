// Divergences between the softmaxes of two logit arrays: KL(P || Q),
// KL(Q || P) and Liger-Kernel's generalized Jensen-Shannon divergence, with
// their gradients with respect to the student's logits, over the class axis
// of an (outer, classes, inner) view. Each row is read from memory once: its
// passes (maxima, sums, terms, gradient) run while it stays in cache.
//
// Note [Stable divergences]
// Per row, with temperature T: a = x / T (input, student), b = y / T
// (target, teacher), Q = softmax(a), P = softmax(b). With m_x, m_y the row
// maxima, a'_c = (x_c - m_x) / T and b'_c = (y_c - m_y) / T (both <= 0),
// Z_b = sum_c e^b'_c >= 1 and Z_a likewise, the log-ratio
//     r_c = log q_c - log p_c = a'_c - b'_c - log(Z_a / Z_b)
// is formed from the logits, never as the difference of two log-
// probabilities (which cancels): a' and b' are carried as pairs hi + lo that
// hold them to well below an ulp (x - m split exactly by two_diff, times
// 1 / T held as a pair, by two_prod), so a'.hi - b'.hi is exact where the
// rows are close and r_c is within an ulp or two of itself; and
// log(Z_a / Z_b) = log1p(S / Z_b) with S = Z_a - Z_b = sum_c (e^a'_c -
// e^b'_c) summed term by term without cancellation: e^b' expm1(a' - b')
// where |a' - b'| <= 1, e^a' - e^b' elsewhere. So the only error common to
// a row's r_c is a shift d, the error of log(Z_a / Z_b), |d| <~ 4 eps
// (|log(Z_a / Z_b)| + sum_c |q_c - p_c|): small on close rows. With
// h(z) = e^z - 1 - z >= 0, adding terms that sum to zero (sum_c (q_c - p_c)
// = 0) makes every class's term non-negative:
//     forward  KL(P || Q) = sum_c p_c h(r_c)       grad q_c - p_c = p_c (h(r_c) + r_c)
//     reverse  KL(Q || P) = sum_c q_c h(-r_c)      grad q_c (r_c - KL(Q || P))
//     JSD = sum_c beta p_c h(mu_c) + (1 - beta) q_c h(-nu_c)
//                                                  grad (1 - beta) q_c (nu_c - KL(Q || M))
// with M = beta P + (1 - beta) Q, mu_c = log(M_c / p_c), nu_c = log(q_c / M_c)
// (mu + nu = r; the JSD's added terms beta (M_c - p_c) + (1 - beta)
// (M_c - q_c) are 0 per class) and KL(Q || M) = sum_c q_c h(-nu_c). The
// gradients are with respect to a; the kernel multiplies them by 1 / T.
// Nothing cancels: rows that differ by 1e-4 (KL ~ 1e-9) keep their digits,
// and no divergence is ever negative, where log_softmax-based formulas
// (PyTorch's kl_div of log_softmax and softmax) lose up to all of them in
// float32.
//
// Precision. The arithmetic runs in the storage's compute type F (float for
// float32 and 16-bit storage, double for float64: wider lanes would cost
// 3x and buy nothing the pairs do not), the sums in double (compensated for
// float64 storage). Errors, eps = eps(F): the shift d moves the forward value
// by exactly h(d) (sum_c p_c h(r_c + d) = KL + h(d), as sum q = sum p = 1),
// the reverse one by h(-d) and the JSD by O(d^2) (its value is stationary in
// mu_c: d/dmu_c of the class's term is beta (M_c - p_c) + (1 - beta)(M_c -
// q_c) = 0): negligible. Every other error is relative to a non-negative
// term: p_c, q_c within ~2 ulp (exp of a pair); h within 3 ulp on |z| <= 1
// (exp_tail_small, Note [Vector exp]) and w e^z - w - w z outside, which
// cancels by at most e / (e - 2) = 3.8 (at |z| = 1); nu_c within ~4 ulp
// (one log1p, see mu_nu). So each term is within about 10 eps, and the row
// (all terms >= 0) too, plus h'(z) times z's absolute error (a few ulp of
// log(Z_a / Z_b)): on distant rows, where |log(Z_a / Z_b)| reaches ~5,
// float64's reverse KL measured 18 eps. Gradient entries carry their factors' few ulps plus
// |d| (p_c + q_c): relative to the entry on close rows, a few ulps of p_c +
// q_c on distant ones. Held by tests/test_divergence_accuracy.py against
// mpmath on every SIMD level: float32 divergences within 3 ulp on close rows
// and 8 ulp on any (measured 2 and 5.6), float64 within 8e-15 (measured
// 4.0e-15, reverse KL on rows 3 apart: bench_divergences.py --accuracy); gradients within 4 eps (p + q)(|r| + |nu| + KL(Q || .) +
// sum |q - p| + |log(Z_a / Z_b)|) / T (measured 0.6 and 1.4 eps).
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
// bitwise the same on either path, with or without the gradient (and with nu
// kept or formed again for the JSD's late gradient), for any number of
// threads.
#pragma once

#include "row_stats.h"

namespace logitloss {
namespace LL_ISA {
namespace dv {

// The compute type F is the storage's (float for float and 16-bit storage,
// double for double): the exactness that the Note needs comes from carrying
// rounding errors in pairs (two_diff, two_prod), not from wider lanes.
template <class F>
using Vec = vec_t<F>;

// A value hi + lo, |lo| <~ ulp(hi).
template <class V>
struct Pair {
  V hi, lo;
};

// A double as a pair of F (exact for F = double: lo = 0).
template <class F>
inline void split_double(double v, F& hi, F& lo) {
  hi = F(v);
  lo = std::isfinite(v) ? F(v - double(hi)) : F(0);
}

// ------------------------------------------------------------ per row

// A row's constants: the same row in every lane (contiguous rows) or one row
// per lane (row blocks).
template <class F>
struct RowLanes {
  using V = Vec<F>;
  V m_x, m_y;              // row maxima of x and y
  V ratio_hi, ratio_lo;    // log(Z_a / Z_b); 0 for the sums that find it
  V lza_hi, lza_lo;        // log Z_a
  V lzb_hi, lzb_lo;        // log Z_b
  V kl_q;                  // reverse: KL(Q || P); JSD: KL(Q || M) (for the gradient)
  V scale;                 // gradient scale: grad_output (/ denominator) / T
  // Lane j's logs, from the row's finish (below).
  void set_logs(int j, double log_ratio, double log_za, double log_zb) {
    F hi, lo;
    split_double(log_ratio, hi, lo);
    ratio_hi[j] = hi;
    ratio_lo[j] = lo;
    split_double(log_za, hi, lo);
    lza_hi[j] = hi;
    lza_lo[j] = lo;
    split_double(log_zb, hi, lo);
    lzb_hi[j] = hi;
    lzb_lo[j] = lo;
  }
};

// The options, as the arithmetic wants them.
template <class F>
struct Consts {
  F kappa_hi, kappa_lo;  // 1 / T as a pair
  F beta, one_minus_beta;
  F log_beta_hi, log_beta_lo;  // log beta as a pair
  F log_odds_hi, log_odds_lo;  // log((1 - beta) / beta) as a pair
  F far;                       // log beta - 80: see mu_nu
};

template <class F>
inline Consts<F> consts_of(const DivTask& t) {
  Consts<F> c;
  split_double(t.inv_temperature, c.kappa_hi, c.kappa_lo);
  c.beta = F(t.beta);
  c.one_minus_beta = F(1 - t.beta);
  const double log_beta = std::log(t.beta), log_odds = std::log1p(-t.beta) - log_beta;
  split_double(log_beta, c.log_beta_hi, c.log_beta_lo);
  split_double(log_odds, c.log_odds_hi, c.log_odds_lo);
  c.far = F(log_beta - 80);
  return c;
}

// The row's finish from its maxima and sums, in double (the same
// out-of-line code on both paths).
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
template <class V>
inline mask_t<V> small_arg(V z) {
  return abs_v(z) <= elem_t<V>(1);
}

// w h(z) >= 0 for w >= 0, given w_ez = w e^z computed without overflow:
// w exp_tail_small(z) on |z| <= 1, else (w e^z - w) - w z. w = 0 gives
// w_ez, the limit of w h(z) with w e^z fixed (z = +-inf or NaN included).
template <class V>
inline V weighted_h(V w, V z, V w_ez) {
  const mask_t<V> small = small_arg(z);
  const V in_small = w * exp_tail_small(small ? z : V{});
  const V wz = w == V{} ? V{} : w * z;
  return small ? in_small : (w_ez - w) - wz;
}

// The shifted, scaled logit (v - m) / T as a pair: v - m split exactly
// (two_diff), its product with the pair 1 / T to well below an ulp
// (two_prod); lo = 0 where the value is not finite.
template <class V, class F>
inline Pair<V> scaled(V v, V m, const Consts<F>& c) {
  V d, d_lo, p, p_lo;
  two_diff(v, m, d, d_lo);
  two_prod(d, splat<V>(c.kappa_hi), p, p_lo);
  const V lo = p_lo + (d * c.kappa_lo + d_lo * c.kappa_hi);
  return {p, lo == lo ? lo : V{}};
}

// exp(a - (c_hi + c_lo)) for a pair a <= c: within an ulp.
template <class V>
inline V exp_minus(const Pair<V>& a, V c_hi, V c_lo) {
  V h, h_lo;
  two_diff(a.hi, c_hi, h, h_lo);
  return exp_nonpos_sum(h, h_lo + (a.lo - c_lo));  // h = -inf: +0 (exp_nonpos_sum)
}

// The log-ratio r = a' - b' - log(Z_a / Z_b) (Note [Stable divergences]):
// a'.hi - b'.hi is exact where the rows are close, so r is within an ulp or
// two of itself.
template <class V, class F>
inline V log_ratio(const Pair<V>& a, const Pair<V>& b, const RowLanes<F>& L) {
  return ((a.hi - b.hi) - L.ratio_hi) + ((a.lo - b.lo) - L.ratio_lo);
}

// A vector's terms of Z_b and of S = Z_a - Z_b (Note [Stable divergences]).
template <class V>
struct SumTerms {
  V z_b, s;
};

template <class V, class F>
inline SumTerms<V> sum_terms(V x, V y, const RowLanes<F>& L, const Consts<F>& c) {
  const Pair<V> a = scaled(x, L.m_x, c), b = scaled(y, L.m_y, c);
  const V e_a = exp_nonpos_sum(a.hi, a.lo), e_b = exp_nonpos_sum(b.hi, b.lo);
  const V r0 = log_ratio(a, b, L);  // a' - b' (the ratio is 0 here)
  const mask_t<V> small = small_arg(r0);
  const V rs = small ? r0 : V{};
  return {e_b, small ? e_b * (exp_tail_small(rs) + rs) : e_a - e_b};
}

// One vector of classes: the probabilities and the log-ratio r = log(q / p).
template <class V>
struct Point {
  V p, q, r;
};

template <class V, class F>
inline Point<V> point(V x, V y, const RowLanes<F>& L, const Consts<F>& c) {
  const Pair<V> a = scaled(x, L.m_x, c), b = scaled(y, L.m_y, c);
  return {exp_minus(b, L.lzb_hi, L.lzb_lo), exp_minus(a, L.lza_hi, L.lza_lo),
          log_ratio(a, b, L)};
}

// nu = log(q / M) and mu = log(M / p) of the JSD (0 < beta < 1), mu + nu = r,
// from one exp and one log1p whose arguments neither cancel nor overflow,
// for any beta (M / q = beta e^-r + 1 - beta):
//   r >= log beta - 80: nu = -log1p(z), z = beta expm1(-r) in (-beta, e^80]:
//            from exp_tail_small where |r| <= 1 (relative to r), else
//            e^(log beta - r) - beta (no cancellation for |r| > 1);
//            mu = r - nu;
//   r <  log beta - 80: mu = log beta + log1p(e^(log((1 - beta) / beta) + r))
//            (the exp below e^-80), nu = (r - log beta) - log1p(...): two
//            terms of one sign.
// The exps' arguments are pairs (log beta and log((1 - beta) / beta) as
// pairs, two_diff), so each exp is within an ulp; r = +inf gives nu =
// -log(1 - beta) and r = -inf mu = log beta (the limits).
template <class V>
struct MuNu {
  V mu, nu;
};

template <class V, class F>
inline MuNu<V> mu_nu(V r, const Consts<F>& c) {
  const mask_t<V> small = small_arg(r), near = r >= c.far;
  const V rs = small ? r : V{};
  V arg, arg_lo;  // near: log beta - r; far: log((1 - beta) / beta) + r
  two_diff(near ? splat<V>(c.log_beta_hi) : splat<V>(c.log_odds_hi), near ? r : -r, arg, arg_lo);
  arg_lo += near ? splat<V>(c.log_beta_lo) : splat<V>(c.log_odds_lo);
  const V e = exp_sum(arg, arg_lo == arg_lo ? arg_lo : V{});  // r = +-inf: lo is NaN
  const V z = !near ? e : small ? c.beta * (exp_tail_small(-rs) - rs) : e - c.beta;
  const V l1 = log1p_v(z);
  return {near ? r + l1 : c.log_beta_hi + l1, near ? -l1 : (r - c.log_beta_hi) - l1};
}

// A vector's loss terms (`value`; the JSD's KL(Q || M) terms in `kl_q`) and,
// for the forward KL, its unscaled gradient.
template <class V>
struct Terms {
  V value, kl_q, grad;
  V nu;  // the JSD's nu = log(q / M), kept for its late gradient
};

template <Divergence K, class V, class F>
inline Terms<V> terms(V x, V y, const RowLanes<F>& L, const Consts<F>& c) {
  const Point<V> pt = point(x, y, L, c);
  if constexpr (K == Divergence::forward_kl) {
    const mask_t<V> small = small_arg(pt.r);
    const V rs = small ? pt.r : V{};
    const V h = exp_tail_small(rs);
    const V pr = pt.p == V{} ? V{} : pt.p * pt.r;
    const V q_minus_p = pt.q - pt.p;
    return {small ? pt.p * h : q_minus_p - pr, V{}, small ? pt.p * (h + rs) : q_minus_p, V{}};
  } else if constexpr (K == Divergence::reverse_kl) {
    return {weighted_h(pt.q, -pt.r, pt.p), V{}, V{}, V{}};
  } else {
    const MuNu<V> mn = mu_nu(pt.r, c);
    const V M = c.beta * pt.p + c.one_minus_beta * pt.q;
    const V kl_q = weighted_h(pt.q, -mn.nu, M);
    return {c.beta * weighted_h(pt.p, mn.mu, M) + c.one_minus_beta * kl_q, kl_q, V{}, mn.nu};
  }
}

// The JSD's gradient from q and nu, scaled (q = 0: the limit 0).
template <class V, class F>
inline V jsd_grad(V q, V nu, const RowLanes<F>& L, const Consts<F>& c) {
  const V g = c.one_minus_beta * (q * (nu - L.kl_q));
  return (q == V{} ? V{} : g) * L.scale;
}

// The reverse KL's and the JSD's gradient of a vector (scaled), once the
// row's KL(Q || .) is known: from q and r (p is not needed).
template <Divergence K, class V, class F>
inline V late_grad(V x, V y, const RowLanes<F>& L, const Consts<F>& c) {
  const Pair<V> a = scaled(x, L.m_x, c), b = scaled(y, L.m_y, c);
  const V q = exp_minus(a, L.lza_hi, L.lza_lo), r = log_ratio(a, b, L);
  if constexpr (K == Divergence::jsd) return jsd_grad(q, mu_nu(r, c).nu, L, c);
  return (q == V{} ? V{} : q * (r - L.kl_q)) * L.scale;
}

// The JSD's gradient where its terms' pass kept nu (in the gradient's
// storage, which holds it exactly): only q is formed again.
template <class V, class F>
inline V late_grad_kept(V x, V nu, const RowLanes<F>& L, const Consts<F>& c) {
  return jsd_grad(exp_minus(scaled(x, L.m_x, c), L.lza_hi, L.lza_lo), nu, L, c);
}

// ------------------------------------------------------------ per batch

// The arithmetic runs on batches of up to kBatch vectors, out of line: the
// same machine code for both row layouts, with or without the gradient (no
// FMA contracts across its boundary), and independent vectors enough per
// call for the long polynomial chains to overlap.
constexpr int kBatch = 16;

template <class F>
struct Batch {
  Vec<F> x[kBatch], y[kBatch];
  int n = 0;  // vectors staged
};

template <class F>
__attribute__((noinline)) void batch_sums(const Batch<F>& b, const RowLanes<F>& L,
                                          const Consts<F>& c, SumTerms<Vec<F>>* out) {
  for (int i = 0; i < b.n; ++i) out[i] = sum_terms(b.x[i], b.y[i], L, c);
}

template <Divergence K, class F>
__attribute__((noinline)) void batch_terms(const Batch<F>& b, const RowLanes<F>& L,
                                           const Consts<F>& c, Terms<Vec<F>>* out) {
  for (int i = 0; i < b.n; ++i) out[i] = terms<K>(b.x[i], b.y[i], L, c);
}

// The late gradients; with `kept`, b.y holds the JSD's nu instead of y.
template <Divergence K, class F>
__attribute__((noinline)) void batch_late_grads(const Batch<F>& b, bool kept,
                                                const RowLanes<F>& L, const Consts<F>& c,
                                                Vec<F>* out) {
  if constexpr (K == Divergence::jsd) {
    if (kept) {
      for (int i = 0; i < b.n; ++i) out[i] = late_grad_kept(b.x[i], b.y[i], L, c);
      return;
    }
  }
  for (int i = 0; i < b.n; ++i) out[i] = late_grad<K>(b.x[i], b.y[i], L, c);
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

// Whether the JSD's terms pass keeps nu in the gradient for the late pass:
// when the storage holds it exactly and the gradient is not the input (in
// place, the late pass needs the input). The same values either way.
template <class T, Divergence K>
inline bool keeps_nu(const DivTask& t) {
  return K == Divergence::jsd && kKeepsExps<T> && t.grad.data && t.grad.data != t.x.data;
}

// Sums of a row's terms: in double lanes, compensated for double storage.
template <class T>
using Sum = RowSum<acc_t<Vec<compute_t<T>>>, kCompensatedSums<T>>;

// Contiguous rows: a batch holds classes [k0, k0 + kBatch W), lanes along
// the classes (the last vector padded with -inf: terms 0).
template <class T>
struct ContigRow {
  using F = compute_t<T>;
  static constexpr int W = lanes_v<Vec<F>>;
  static constexpr int64_t kStep = int64_t(kBatch) * W;
  const T *x, *y;
  int64_t C;
  const T *next_x, *next_y;  // prefetched while the row's terms are formed
  // With `kept`, b.y gets the values kept in it instead of y.
  void stage(Batch<F>& b, int64_t k0, bool prefetch, const T* kept = nullptr) const {
    b.n = 0;
    for (int64_t k = k0; k < C && b.n < kBatch; k += W, ++b.n) {
      const int64_t n = C - k < W ? C - k : W;
      b.x[b.n] = load_n<T>(x + k, n, -kInf<F>);
      b.y[b.n] = load_n<T>((kept ? kept : y) + k, n, -kInf<F>);
      if (prefetch) {
        prefetch_chunk(next_x, k);
        prefetch_chunk(next_y, k);
      }
    }
  }
};

// Rows whose classes are contiguous in x, y and the gradient.
template <class T, Divergence K>
void contig_rows(const DivTask& t, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = Vec<F>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  const Consts<F> c = consts_of<F>(t);
  Batch<F> b;
  SumTerms<V> sums[kBatch];
  Terms<V> tm[kBatch];
  V late[kBatch];
  for (int64_t r = r0; r < r1; ++r) {
    const bool last = r + 1 >= r1;
    const ContigRow<T> row{
        static_cast<const T*>(t.x.data) + row_offset(t.x, r),
        static_cast<const T*>(t.y.data) + row_offset(t.y, r), C,
        last ? nullptr : static_cast<const T*>(t.x.data) + row_offset(t.x, r + 1),
        last ? nullptr : static_cast<const T*>(t.y.data) + row_offset(t.y, r + 1)};
    T* g = t.grad.data ? static_cast<T*>(t.grad.data) + row_offset(t.grad, r) : nullptr;
    const bool keep_nu = keeps_nu<T, K>(t);
    V mx = splat<V>(-kInf<F>), my = mx;
    for_chunks<W>(C, [&](int64_t k, int64_t n) {
      mx = vmax(load_n<T>(row.x + k, n, -kInf<F>), mx);
      my = vmax(load_n<T>(row.y + k, n, -kInf<F>), my);
    });
    const F m_x = reduce_max(mx), m_y = reduce_max(my);
    RowFinish f{false, 0, 0, 0};
    RowLanes<F> L{};
    L.m_x = splat<V>(m_x);
    L.m_y = splat<V>(m_y);
    L.scale = splat<V>(F(g ? row_scale(t, r) : 0.0));
    if (std::isfinite(m_x) && std::isfinite(m_y)) {
      Sum<T> z_b, s;
      for (int64_t k0 = 0; k0 < C; k0 += row.kStep) {
        row.stage(b, k0, false);
        batch_sums(b, L, c, sums);
        for (int i = 0; i < b.n; ++i) {
          z_b.add(widen(sums[i].z_b));
          s.add(widen(sums[i].s));
        }
      }
      f = row_finish(m_x, m_y, reduce_add(z_b.value()), reduce_add(s.value()));
    }
    if (!f.ok) {
      if (t.loss) t.loss[r] = kNaN<double>;
      if (g) fill_row<T>(t.grad, r, kNaN<double>);
      continue;
    }
    for (int j = 0; j < W; ++j) L.set_logs(j, f.log_ratio, f.log_za, f.log_zb);
    Sum<T> value, kl_q;
    for (int64_t k0 = 0; k0 < C; k0 += row.kStep) {
      row.stage(b, k0, true);
      batch_terms<K>(b, L, c, tm);
      for (int i = 0; i < b.n; ++i) {
        const int64_t k = k0 + int64_t(i) * W, n = C - k < W ? C - k : W;
        value.add(widen(tm[i].value));
        if constexpr (K == Divergence::jsd) {
          kl_q.add(widen(tm[i].kl_q));
          if (keep_nu) store_n<T>(g + k, tm[i].nu, n);
        }
        if constexpr (K == Divergence::forward_kl)
          if (g) store_n<T>(g + k, tm[i].grad * L.scale, n);
      }
    }
    const double loss = reduce_add(value.value());
    if (t.loss) t.loss[r] = loss;
    if (K == Divergence::forward_kl || !g) continue;
    const double klq = K == Divergence::jsd ? reduce_add(kl_q.value()) : loss;
    if (!std::isfinite(klq)) {  // reverse KL of +inf: no gradient
      fill_row<T>(t.grad, r, kNaN<double>);
      continue;
    }
    L.kl_q = splat<V>(F(klq));
    for (int64_t k0 = 0; k0 < C; k0 += row.kStep) {
      row.stage(b, k0, false, keep_nu ? g : nullptr);
      batch_late_grads<K>(b, keep_nu, L, c, late);
      for (int i = 0; i < b.n; ++i) {
        const int64_t k = k0 + int64_t(i) * W;
        store_n<T>(g + k, late[i], C - k < W ? C - k : W);
      }
    }
  }
}

// The row-block path's sums: one partial sum per class residue k mod W, added
// at the end in reduce_add's order, so that every row's sum is the
// contiguous path's (Note [Stable divergences]).
template <class T>
struct ResidueSums {
  static constexpr int W = lanes_v<Vec<compute_t<T>>>;
  using A = acc_t<Vec<compute_t<T>>>;
  Sum<T> part[W];
  void add(int64_t k, A v) { part[k % W].add(v); }
  A total() const {
    A s[W];
    for (int i = 0; i < W; ++i) s[i] = part[i].value();
    for (int w = W / 2; w >= 1; w /= 2)
      for (int i = 0; i < w; ++i) s[i] = s[i] + s[i + w];
    return s[0];
  }
};

// Blocks of W rows, one per lane (strided classes or short rows); a batch
// holds classes [k0, k0 + kBatch).
template <class T, Divergence K>
void block_rows(const DivTask& t, int64_t r0, int64_t r1) {
  using F = compute_t<T>;
  using V = Vec<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const int64_t C = t.x.classes;
  const Consts<F> c = consts_of<F>(t);
  const bool grad = t.grad.data != nullptr;
  Batch<F> b;
  SumTerms<V> sums[kBatch];
  Terms<V> tm[kBatch];
  V late[kBatch];
  for_row_blocks<W>(r0, r1, [&](int64_t rb, int n) {
    const RowBlock<T> xb(t.x, rb, n), yb(t.y, rb, n);
    const MutRowBlock<T> gb(grad_or_geometry(t), rb, n);
    const bool keep_nu = keeps_nu<T, K>(t);
    // With `kept`, b.y gets the values kept in the gradient instead of y.
    const auto stage = [&](int64_t k0, bool kept = false) {
      b.n = 0;
      for (int64_t k = k0; k < C && b.n < kBatch; ++k, ++b.n) {
        b.x[b.n] = xb.load(k);
        b.y[b.n] = kept ? gb.load(k) : yb.load(k);
      }
    };
    V mx = splat<V>(-kInf<F>), my = mx;
    for (int64_t k = 0; k < C; ++k) {
      mx = vmax(xb.load(k), mx);
      my = vmax(yb.load(k), my);
    }
    RowLanes<F> L{};  // lanes of no finite max: garbage, unused
    L.m_x = mx;
    L.m_y = my;
    for (int j = 0; j < W; ++j) L.scale[j] = F(grad ? row_scale(t, rb + (j < n ? j : n - 1)) : 0.0);
    ResidueSums<T> z_b, s;
    for (int64_t k0 = 0; k0 < C; k0 += kBatch) {
      stage(k0);
      batch_sums(b, L, c, sums);
      for (int i = 0; i < b.n; ++i) {
        z_b.add(k0 + i, widen(sums[i].z_b));
        s.add(k0 + i, widen(sums[i].s));
      }
    }
    const A z_b_v = z_b.total(), s_v = s.total();
    bool ok[W];
    for (int j = 0; j < W; ++j) {
      const RowFinish f = row_finish(mx[j], my[j], z_b_v[j], s_v[j]);
      ok[j] = f.ok;
      L.set_logs(j, f.log_ratio, f.log_za, f.log_zb);
    }
    ResidueSums<T> value, kl_q;
    for (int64_t k0 = 0; k0 < C; k0 += kBatch) {
      stage(k0);
      batch_terms<K>(b, L, c, tm);
      for (int i = 0; i < b.n; ++i) {
        value.add(k0 + i, widen(tm[i].value));
        if constexpr (K == Divergence::jsd) {
          kl_q.add(k0 + i, widen(tm[i].kl_q));
          if (keep_nu) gb.store(k0 + i, tm[i].nu, n);
        }
        if constexpr (K == Divergence::forward_kl)
          if (grad) gb.store(k0 + i, tm[i].grad * L.scale, n);
      }
    }
    const A loss = value.total();
    const A klq = K == Divergence::jsd ? kl_q.total() : loss;
    bool need_late = false;  // a lane that needs the late gradient
    for (int j = 0; j < W; ++j) {
      L.kl_q[j] = F(klq[j]);
      if (j >= n || !ok[j]) continue;
      if (t.loss) t.loss[rb + j] = loss[j];
      need_late |= std::isfinite(klq[j]);
    }
    if (K != Divergence::forward_kl && grad && need_late)
      for (int64_t k0 = 0; k0 < C; k0 += kBatch) {
        stage(k0, keep_nu);
        batch_late_grads<K>(b, keep_nu, L, c, late);
        for (int i = 0; i < b.n; ++i) gb.store(k0 + i, late[i], n);
      }
    for (int j = 0; j < n; ++j) {
      const bool no_grad = K != Divergence::forward_kl && !std::isfinite(klq[j]);
      if (!ok[j] && t.loss) t.loss[rb + j] = kNaN<double>;
      if (grad && (!ok[j] || no_grad)) fill_row<T>(t.grad, rb + j, kNaN<double>);
    }
  });
}

// Long rows with unit class strides run lanes along the classes; the rest
// (strided classes, rows shorter than two vectors) one row per lane.
template <class T, Divergence K>
void rows(const DivTask& t, int64_t r0, int64_t r1) {
  constexpr int W = lanes_v<Vec<compute_t<T>>>;
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
