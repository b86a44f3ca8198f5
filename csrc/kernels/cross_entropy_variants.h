// Poly-1 cross-entropy and softmax focal loss: per-row transforms of the
// cross-entropy rows (cross_entropy.h), computed in the same passes from the
// same sums (Note [Stable cross-entropy]).
//
// Note [Poly-1 cross-entropy]
// Poly-1 (Leng et al. 2022; optax.poly_loss_cross_entropy) adds
// eps_p w (1 - P), P = sum_c q'_c p_c, to a row's cross-entropy, with q' the
// (smoothed) target distribution, p = softmax(x) and w the poly weight: w_t
// for index targets (0 when ignored), 1 for probabilities. As
// dP/dx_c = p_c (q'_c - P), the poly term adds eps_p w p_c (P - q'_c) to the
// gradient.
//
// Index targets, q'_c = (1 - s) [c = t] + s/C, u = 1 - p_t:
//     1 - P = (1 - s) u + s (C - 1) / C          (two terms >= 0)
//     poly gradient: eps_p w_t (1 - s) p_t p_c off the target,
//                    -eps_p w_t (1 - s) p_t u at it,
// which is the cross-entropy gradient with a = (1 - s) w_t (RowCoef::a)
// replaced by a (1 + eps_p p_t), the smoothing share b unchanged. u is
// target_prob's -(p_t - 1), formed without cancellation, so a confident
// row's poly term (u ~ 1e-30) keeps its digits as the cross-entropy term
// does. Error (float32 storage): u, like L, within 2^-23 relative (exps
// within 1 ULP, summed in double), the double arithmetic ~2^-52, and the
// final rounding 1/2 ULP: for eps_p >= 0 the loss adds terms >= 0 and stays
// within 2.5 ULP (measured 0.8 ULP, float64 storage 2.1 ULP;
// tests/test_poly1_cross_entropy.py holds 4 against mpmath). For eps_p in
// (-1, 0), CE + eps_p (1 - P) >= (1 + eps_p) CE cancels, and the bound grows
// by 1 / (1 + eps_p); eps_p = -1 at p_t -> 1 keeps only the absolute error.
//
// Probability targets: three more sums of the exp pass, over the row's
// maxima (e_c = 1) and over the rest (e_c = exp(x_c - m) < 1):
// Q_max = sum q'_c over the maxima, Q_rest = sum q'_c and D = sum q'_c e_c
// over the rest, with total = ties + rest:
//     P     = (Q_max + D) / total
//     1 - P = (1 - Q) + (Q_max ((ties - 1) + rest) + (Q_rest total - D)) / total
// with Q = Q_max + Q_rest (1 - Q = 0 exactly for a one-hot target). Off the
// maxima e_c <= 1 <= ties <= total - e_c, so D <= Q_rest total / 2 and
// Q_rest total - D loses at most one bit: for q >= 0 nothing cancels but
// 1 - Q, which is the data's own, and a one-hot target at the max gives
// 1 - P = rest / total with its digits. The gradient is
//     s (p_c (S + eps_p P) - q'_c (w_c + eps_p p_c)),
// so the multiplier of exp(x_c - m) becomes (S + eps_p P) / total and the
// coefficient k_c = w_c q'_c becomes q'_c (w_c + eps_p e_c / total). Where
// p_c is close to q'_c the difference cancels as for plain probability
// targets (Note [Stable cross-entropy]): a few ULP of s p_c (1 + |eps_p|).
//
// Note [Softmax focal loss]
// Multi-class focal loss (Lin et al. 2017) of an index target t: with
// u = 1 - p_t and l = -log p_t = (m - x_t) + L,
//     loss = A l,  A = alpha_t u^gamma;
// since d p_t / d x_c = p_t ([c = t] - p_c), d loss / d x_c = F (p_c - [c = t])
// with
//     F = alpha_t (u^gamma + gamma p_t u^(gamma - 1) l) = A (1 + gamma p_t l / u),
// both terms >= 0: the row's gradient is weighted cross-entropy's with
// RowCoef::a = F. u is target_prob's, without cancellation: a confident row
// (1 - p_t ~ 1e-30, which 1 - softmax(x)_t rounds to 0 in any precision)
// keeps its digits. Limits: u = 0 (every other exp underflowed; then l = 0
// too) takes l / u = 1, so F = A; p_t = 0 (x_t = -inf, or its exp
// underflowed) takes p_t l / u = 0, so F = alpha_t, where autograd's
// 0 * inf gives NaN. gamma = 0 gives A = alpha_t and F = alpha_t exactly:
// the row is weighted cross-entropy's, bit for bit.
// u^gamma: an integer gamma <= 64 by repeated squaring (at most
// 2 log2(gamma) roundings of 2^-53), else std::pow (< 1 ULP in double), or
// in row blocks of float storage a vector exp(gamma log u) (FocalPow).
// Error: u and l carry the relative error of the exps they are summed from
// (Note [Vector exp]: 1 ULP of the compute type), u^gamma multiplies u's by
// gamma, and F adds gamma p_t l / u (< F / A, three such factors). With
// float32 storage that error is 2^-23 relative against a double result
// rounded once to float: at most about (gamma + 1) ULP plus the rounding's
// 1/2 for the loss, (gamma + 3) for F (measured 2.0 and 2.5 ULP for gamma
// 0.25-2, confident rows, every SIMD level). With float64 storage the exps'
// 1 ULP is of the result's own precision: about 1.5 (gamma + 1) ULP
// (measured 5.4 / 5.5 at gamma = 2, 7.6 / 8.8 at gamma = 3.7);
// tests/test_softmax_focal_loss.py holds these bounds against mpmath.
#pragma once

#include <cmath>

#include "cross_entropy_terms.h"

namespace logitloss {
namespace LL_ISA {
namespace ce {

// u^gamma for u in [0, 1], one value (N = double) or per lane (N = vd).
// Lanes with a non-integer gamma take exp(gamma log u) in vector double when
// `coarse` (float and 16-bit storage): its relative error, about
// (gamma |log u| + 2) 2^-53 (Notes [Vector log], [Vector exp]), is below
// 2^-40 for every float u (|log u| < 104, gamma <= 64 say), far under the
// result's float rounding, and it spares a 10-class row block one libm pow
// per row (1.7x the cross-entropy's time at 65536 x 10, measured). Double
// storage keeps std::pow (< 1 ULP).
struct FocalPow {
  double gamma;
  int64_t n;  // gamma if it is an integer in [0, 64], else -1
  bool coarse;
  FocalPow(double g, bool coarse_result)
      : gamma(g), n(g == std::floor(g) && g <= 64 ? int64_t(g) : -1), coarse(coarse_result) {}
  template <class N>
  N operator()(N u) const {
    if (n >= 0) {
      N r = lanes_of<N>(1.0), b = u;
      for (int64_t k = n; k; k >>= 1) {
        if (k & 1) r = r * b;
        if (k > 1) b = b * b;
      }
      return r;
    }
    if constexpr (std::is_same_v<N, double>) {
      return std::pow(u, gamma);
    } else {
      if (coarse) return exp_nonpos(gamma * log_v(u));  // u = 0: exp(-inf) = 0
      N r;
      for (int i = 0; i < lanes_v<N>; ++i) r[i] = std::pow(u[i], gamma);
      return r;
    }
  }
};

// alpha_t of a focal row with target c: its RowCoef::a in place of w_t.
inline double focal_alpha(const CeTask& t, int64_t c) {
  return t.alpha ? t.alpha[c] : t.alpha_scalar;
}

// An index-target row's loss under its variant; RowCoef::a becomes the
// target's gradient coefficient (Notes above). rc.a holds (1 - s) w_t
// (poly-1) or alpha_t (focal) on entry; exp_t = exp(x_t - m), compensated.
template <Mode M, class N>
inline N index_variant_row(const CeTask& t, const FocalPow& focal_pow, const Sums<N>& s,
                           RowCoef<N>& rc, N x_t, N w_t, N exp_t) {
  const TargetProb<N> tp = target_prob(s, x_t, exp_t);
  const N u = -tp.pm1;
  const N one = lanes_of<N>(1.0), zero = lanes_of<N>(0.0);
  if (t.variant == CeVariant::focal) {  // Note [Softmax focal loss]
    const N l = (s.m - x_t) + s.L;
    const N A = rc.a * focal_pow(u);
    const N ratio = u > zero ? l / u : one;
    const N focus = tp.p > zero ? tp.p * ratio : zero;
    rc.a = A * (1.0 + t.gamma * focus);
    return A * l;
  }
  // Note [Poly-1 cross-entropy]: (1 - s) u + s (C - 1) / C, times eps_p w_t.
  N poly = rc.a * u;
  if constexpr (M == Mode::index_smooth) {
    const double C = double(t.x.classes);
    poly += w_t * (t.smoothing * ((C - 1.0) / C));
  }
  const N loss = row_loss<M>(s, rc, x_t) + t.epsilon * poly;
  rc.a = rc.a * (1.0 + t.epsilon * tp.p);
  return loss;
}

// The sums of Note [Poly-1 cross-entropy] for probability targets.
template <class N = double>
struct PolySums {
  N q_max, q_rest, qe_rest;  // Q_max, Q_rest, D
};

// A probability-target Poly-1 row: its loss, the gradient's multiplier of
// exp(x_c - m) and the factor of e_c in k_c = q'_c (w_c + eps_p e_c / total).
template <class N>
inline N prob_poly_row(const CeTask& t, const Sums<N>& s, const RowCoef<N>& rc,
                       const PolySums<N>& ps, N& mul, N& share) {
  const N total = s.total();
  const N one_minus_p =
      (1.0 - (ps.q_max + ps.q_rest)) +
      (ps.q_max * ((s.ties - 1.0) + s.rest) + (ps.q_rest * total - ps.qe_rest)) / total;
  mul = (s.coef_sum + t.epsilon * ((ps.q_max + ps.qe_rest) / total)) / total;
  share = t.epsilon / total;
  return row_loss<Mode::prob>(s, rc, s.m) + t.epsilon * one_minus_p;
}

// v with its lanes from n on set to 0 (n < W only in a row's tail chunk).
template <class V>
inline V zero_past(V v, int64_t n) {
  for (int64_t i = n; i < lanes_v<V>; ++i) v[i] = 0;
  return v;
}

}  // namespace ce
}  // namespace LL_ISA
}  // namespace logitloss
