// The focal objectives' first and diagonal second derivatives with respect
// to the margins: binary (torchvision's sigmoid focal loss per element) and
// multiclass (softmax focal loss per row).
//
// Note [Focal objective]
// Binary, with p = sigmoid(z), q = 1 - p, label y in [0, 1] and torchvision's
// a = alpha y + (1 - alpha)(1 - y) (a = 1 for alpha < 0):
//     L = a ce m^g,  ce = bce_with_logits(z, y),  m = 1 - p_t = p (1 - y) + q y.
// With ce' = p - y, ce'' = p q, m' = p q (1 - 2y), m'' = m' (q - p) and the
// ratio r = m' / m (|r| <= 1, since m >= p q >= |m'|):
//     L'  = a m^g [(p - y) + g ce r]
//     L'' = a m^g [p q + 2 g (p - y) r + g ce r ((g - 1) r + (q - p))].
// Written with r, no power m^(g-1) or m^(g-2) appears, so nothing blows up
// where m -> 0 (a confident correct prediction) for any g >= 0. Every
// quantity comes from e = exp(-|z|) and s = 1 / (1 + e) without cancellation:
// for z >= 0, p = s, q = e s, m = s ((1 - y) + e y), r = (1 - 2y) s e / D
// with D = (1 - y) + e y (mirrored for z < 0); D = 0 only for y = 1 and an
// underflowed e, where e / D -> 1. For hard labels the brackets reduce to
// -(v + g u ce) and u [(2g + 1) v + g ce (g u - v)] with u = p_t, v = 1 - p_t:
// their terms share a sign where the result is small (a confident correct
// prediction), so the relative accuracy holds there; the second derivative
// is negative only for a confidently wrong prediction (where g ce > (2g + 1)
// roughly: |z| > 2.8 for g = 2, > 4.0 for g = 0.5), the non-convexity of the
// focal loss, and there it is at most 0.8 g |z| e^-|z| in magnitude (measured).
//
// Multiclass, per row with p = softmax(z), label t, P = p_t, Q = 1 - P,
// l = -log P and a = alpha_t (1, a scalar, or per class):
//     L = -a Q^g log P = a Q^g l.
// L depends on z only through P, and dP/dz_k = P (d_kt - p_k), so with
// lam = l / Q (>= 1; 1 in the limit Q -> 0) and rho_k = p_k / Q (<= 1):
//     dL/dz_t = -a Q^(g+1) (1 + g P lam),   dL/dz_k = a Q^g (1 + g P lam) p_k,
//     d2L/dz_t2 = a P Q^(g+1) [(2g + 1) + g lam (g P - Q)],
//     d2L/dz_k2 = a Q^g p_k [(1 - p_k)(1 + g P lam) - p_k g P lam
//                            + rho_k g P (2 + (g - 1) lam P)]      (k != t).
// (Derived from d2L/dz_k2 = f''(P) (dP/dz_k)^2 + f'(P) d2P/dz_k2 with
// f(P) = a (1 - P)^g (-log P); for K = 2 both lines equal the binary ones.)
// The gradient rows sum to 0; P, Q, l and 1 - p_k come from the row's
// statistics without cancellation (Note [Boosting objectives]): Q and 1 - p
// at the row max are (ties - 1 + rest) / total, and l = log total - (z_t - m)
// with log total = log(ties) + log1p(rest / ties).
// rho_k = e_k / R with R = Q total the sum of the other classes' exps; where
// R underflows (every other class more than ~700 below the label's margin)
// rho_k is clamped to 1, which changes results only below the smallest
// normal number.
//
// g = 0 is the logistic resp. softmax objective ('exact' Hessian) times a:
// the kernels then run those objectives' arithmetic, so with a = 1 the
// results equal them bit for bit (tested).
//
// 'floored' (the default) returns w max(L'', 1e-16): XGBoost and LightGBM
// take a Newton step -G / H per leaf and need H > 0, and 1e-16 is the floor
// of XGBoost's own binary:logistic and multi:softprob Hessians (kRtEps), so
// g = 0 'floored' is binary:logistic exactly. The floor only acts where L''
// is negative or below 1e-16: confidently wrong predictions (above), and
// confidently right ones beyond |z| = 13.0 for g = 2 (25.1 for g = 0.5, 36.8
// for g = 0), whose gradients are as small.
#pragma once

#include "focal.h"

namespace logitloss {
namespace LL_ISA {

constexpr double kFocalHessFloor = 1e-16;

// Binary focal derivatives of one vector (Note [Focal objective]); `op`
// carries alpha and gamma (> 0; gamma == 0 runs the logistic arithmetic).
template <class V>
inline void binary_focal_derivs(V x, V y, const FocalOp& op, V& d1, V& d2) {
  using F = elem_t<V>;
  const V one = splat<V>(F(1));
  const mask_t<V> pos = x >= V{};
  const V e = exp_nonpos(neg_abs_v(x));
  const V u = one + e, s = one / u, es = e * s;
  const V p = pos ? s : es, q = pos ? es : s;
  const V p_minus_y = (one - y) * p - y * q;
  const V pq = es * s;
  const V a = op.alpha >= 0 ? F(op.alpha) * y + F(1 - op.alpha) * (one - y) : one;
  const V d = pos ? (one - y) + e * y : e * (one - y) + y;  // m (1 + e)
  const V m = d * s;
  const V ratio = d == V{} ? one : e / d;
  const V r = (one - F(2) * y) * s * ratio;
  const V lin = pos ? (y == one ? V{} : (one - y) * x) : (y == V{} ? V{} : -y * x);
  const V ce = lin + log1p_unit(e, u, s);
  const V cer = r == V{} ? V{} : ce * r;  // 0 where r is (an infinite margin's ce is)
  const V q_minus_p = pos ? (e - one) * s : (one - e) * s;
  const F g = F(op.gamma);
  const V am = a * op.pow_v(m, op.gamma, op.gamma_int);
  d1 = am * (p_minus_y + g * cer);
  d2 = am * (pq + (F(2) * g) * p_minus_y * r + g * cer * (F(g - 1) * r + q_minus_p));
}

// Per-row constants of the softmax focal derivatives (Note [Focal
// objective]), for a double or a vector of doubles D: with them,
//   dL/dz_t = grad_t,  dL/dz_k = grad_k * p_k,
//   d2L/dz_t2 = hess_t,
//   d2L/dz_k2 = hess_k * p_k * ((1 - p_k) * c1p - p_k * c1 + rho_k * c2).
template <class D>
struct SoftmaxFocalRow {
  D grad_t, grad_k, hess_t, hess_k, c1p, c1, c2;
};

// P, Q: the label's probability and its complement; ell = -log P; qg = Q^g;
// a = alpha_t.
template <class D>
inline SoftmaxFocalRow<D> softmax_focal_row(D P, D Q, D ell, D qg, D a, double g) {
  const D lam = Q > 0 ? ell / Q : D{} + 1.0;
  const D b = a * qg;
  const D c1 = g * P * lam;
  const D c1p = 1.0 + c1;
  const D grad_k = b * c1p;
  SoftmaxFocalRow<D> r;
  r.grad_t = -(grad_k * Q);
  r.grad_k = grad_k;
  r.hess_t = b * P * Q * ((2.0 * g + 1.0) + g * lam * (g * P - Q));
  r.hess_k = b;
  r.c1p = c1p;
  r.c1 = c1;
  r.c2 = g * P * (2.0 + (g - 1.0) * lam * P);
  return r;
}

}  // namespace LL_ISA
}  // namespace logitloss
