// The per-row formulas of softmax cross-entropy shared by its kernels
// (cross_entropy.h, cross_entropy_capped.h): targets, sums, coefficients,
// losses and gradients of one row (or one row per vector lane).
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

#include "blocked_sums.h"

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

// Row r's target (probability targets: always active) with its weight
// recorded for the 'mean' denominator; an inactive row's loss is 0 (its
// gradient, 0 too, is the caller's to write).
template <Mode M>
inline RowTarget take_target(const CeTask& t, int64_t r) {
  if constexpr (M == Mode::prob) return {true, 0, 1.0};
  const RowTarget tg = row_target(t, r);
  if (t.target_weight) t.target_weight[r] = tg.weight;
  if (!tg.active && t.loss) t.loss[r] = 0;
  return tg;
}

inline double row_scale(const CeTask& t, int64_t r) {
  return t.grad_scale ? t.grad_scale[r] : t.grad_scalar;
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
  N lse() const { return m + L; }
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
  N z{};    // z-loss weight: z w_t (index targets), z (probabilities)
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

// Note [z-loss]
// PaLM's auxiliary term z * lse^2, lse = m + L the row's log-sum-exp (of the
// capped logits with soft-capping), weighted like the row's loss: by w_t for
// index targets (0 when ignored), by 1 for probabilities; RowCoef::z holds
// that product. It adds z_w lse^2 >= 0 to the loss (nothing cancels) and
// 2 z_w lse p_c to the gradient, i.e. 2 z_w lse to the multiplier of p_c.
// Every z-loss term is added under `has_z` only, so that z = 0 leaves the
// results bit for bit as they are without it.
template <class N>
inline N z_loss_term(const Sums<N>& s, const RowCoef<N>& rc) {
  const N lse = s.lse();
  return rc.z * (lse * lse);
}

// p_t = softmax(x)_t of an index target and p_t - 1 without cancellation
// (Note above). exp_t = exp(x_t - m), compensated (exp_diff_scalar, or
// exp_diff on lanes). Both cases are evaluated (vector lanes take either).
template <class N>
struct TargetProb {
  N p, pm1;
};

template <class N>
inline TargetProb<N> target_prob(const Sums<N>& s, N x_t, N exp_t) {
  const N total = s.total();
  const auto at_max = x_t == s.m;
  const N p = (at_max ? lanes_of<N>(1.0) : exp_t) / total;  // 1 / total at the max
  const N pm1 = at_max ? -((s.ties - 1.0) + s.rest) / total : p - 1.0;
  return {p, pm1};
}

// Gradient at the index target, without cancellation (Note above).
template <class N>
inline N target_grad(const Sums<N>& s, const RowCoef<N>& rc, N x_t, N w_t, N exp_t,
                     bool has_z) {
  const TargetProb<N> tp = target_prob(s, x_t, exp_t);
  const N p = tp.p, pm1 = tp.pm1;
  if (has_z)  // Note [z-loss]
    return rc.scale * (rc.a * pm1 + rc.b * (s.coef_sum * p - w_t) + (2.0 * rc.z * s.lse()) * p);
  return rc.scale * (rc.a * pm1 + rc.b * (s.coef_sum * p - w_t));
}

// The gradient row is s (S' p_c - k_c) with S' = a (index), a + b S
// (smoothed index) or S (probabilities). Index rows have no k_c off the
// target, so s S' / total multiplies exp(x_c - m) directly; otherwise
// (exp * (S' / total) - k_c) * s, so that where p_c == q_c exactly (e.g. one
// class) both products round alike and the gradient is exactly 0.
template <Mode M, class N>
inline N exp_multiplier(const Sums<N>& s, const RowCoef<N>& rc, bool has_z) {
  if constexpr (M == Mode::index) {
    if (has_z) return rc.scale * (rc.a + 2.0 * rc.z * s.lse()) / s.total();  // Note [z-loss]
    return rc.scale * rc.a / s.total();
  }
  const N S = M == Mode::prob ? s.coef_sum : rc.a + rc.b * s.coef_sum;
  if (has_z) return (S + 2.0 * rc.z * s.lse()) / s.total();
  return S / s.total();
}

// The row's loss with its z-loss term (Note [z-loss]).
template <Mode M, class N>
inline N row_loss_z(const Sums<N>& s, const RowCoef<N>& rc, N x_t, bool has_z) {
  const N loss = row_loss<M>(s, rc, x_t);
  return has_z ? loss + z_loss_term(s, rc) : loss;
}

template <class T>
inline void fill_row(const MutView3& g, int64_t r, double v) {
  const MutRowPtr<T> out = row_ptr<T>(g, r);
  const T y = from_double<T>(v);
  for (int64_t k = 0; k < g.classes; ++k) out[k] = y;
}

}  // namespace ce
}  // namespace LL_ISA
}  // namespace logitloss
