// The elementwise loss driver shared by BCE-with-logits, focal loss, BCE on
// probabilities and the KL divergence.
//
// Note [Elementwise loss blocks]
// Every operand is an (outer, mid, inner) strided view of one shape
// (View3's `classes` is the middle dimension here); the Python layer merges
// dimensions so that broadcast weights are zero-stride views, never copies.
// Elements are numbered in C order and cut into fixed blocks of t.block
// elements. A block walks its elements as runs along `inner` and processes
// each run in vectors: stride-1 operands load contiguously, stride-0
// operands are splatted, others are gathered. Each block's loss sum is
// accumulated in double lanes in a fixed order and written to
// t.partials[block]; the caller adds the partials in a fixed order, so sums
// are bitwise identical for any thread count.
// Losses on probabilities also check every element's range as they go
// (ElementwiseOp::kProbabilities); a call with no output only checks, which
// lets the caller refuse bad input before it writes into a buffer of the
// user's (out=, in place).
#pragma once

#include "bce_probs.h"
#include "focal.h"
#include "kl_div.h"
#include "rows.h"
#include "../simd/tanh.h"

namespace logitloss {
namespace LL_ISA {

// One operand's run: n elements from p with stride s.
template <class T>
struct Run {
  using F = compute_t<T>;
  using V = vec_t<F>;
  const T* p = nullptr;
  int64_t s = 0;
  V load(int64_t k, int64_t n, F fill) const {
    if (s == 1) return load_n<T>(p + k, n, fill);
    if (s == 0) return splat<V>(to_compute(*p));
    return load_strided_n<T>(p + k * s, s, n, fill);
  }
};

template <class T>
inline Run<T> run_at(const View3& v, int64_t o, int64_t m, int64_t i) {
  return {static_cast<const T*>(v.data) + o * v.s_outer + m * v.s_class + i * v.s_inner, v.s_inner};
}

template <class T, class V>
inline void store_run(const MutView3& v, int64_t o, int64_t m, int64_t i, int64_t k, V val,
                      int64_t n) {
  T* p = static_cast<T*>(v.data) + o * v.s_outer + m * v.s_class + i * v.s_inner;
  if (v.s_inner == 1) return store_n<T>(p + k, val, n);
  store_strided_n<T>(p + k * v.s_inner, v.s_inner, val, n);
}

// Lanes of v outside [0, 1], NaN included.
template <class V>
inline mask_t<V> outside_unit_interval(V v) {
  using F = elem_t<V>;
  return ~((v >= F(0)) & (v <= F(1)));
}

// kLoss / kGrad: whether the loss (elementwise or per-block sums) and the
// gradient are wanted; compile-time so unused arithmetic is dropped. Neither:
// only the range check of a loss on probabilities runs.
template <class T, bool kLoss, bool kGrad, class Op>
void binary_loss_blocks(const BinaryLossTask& t, const Op& op, int64_t b0, int64_t b1) noexcept {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  using M = mask_t<V>;
  constexpr int W = lanes_v<V>;
  constexpr bool kCheck = Op::kProbabilities;
  constexpr bool kReadX = kLoss || kCheck || Op::kGradReadsInput;
  const int64_t mid = t.x.classes, inner = t.x.inner;
  V lane_index;
  for (int j = 0; j < W; ++j) lane_index[j] = F(j);
  const V g_scalar = splat<V>(F(t.g_scalar));
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t e0 = b * t.block;
    const int64_t e1 = e0 + t.block < t.size ? e0 + t.block : t.size;
    A acc{};
    M bad_x{}, bad_y{};  // padded lanes load 0: in range
    int64_t i = e0 % inner, m = (e0 / inner) % mid, o = e0 / inner / mid;
    for (int64_t e = e0; e < e1;) {
      const int64_t len = inner - i < e1 - e ? inner - i : e1 - e;
      const Run<T> xr = run_at<T>(t.x, o, m, i), yr = run_at<T>(t.y, o, m, i);
      const Run<T> wr = t.w.data ? run_at<T>(t.w, o, m, i) : Run<T>{};
      const Run<T> pr = t.pw.data ? run_at<T>(t.pw, o, m, i) : Run<T>{};
      const Run<T> gr = t.g.data ? run_at<T>(t.g, o, m, i) : Run<T>{};
      for_chunks<W>(len, [&](int64_t k, int64_t n) {
        const V x = kReadX ? xr.load(k, n, F(0)) : V{}, y = yr.load(k, n, F(0));
        if constexpr (kCheck) {
          bad_x |= outside_unit_interval(x);
          bad_y |= outside_unit_interval(y);
        }
        if constexpr (kLoss || kGrad) {
          const V pw = t.pw.data ? pr.load(k, n, F(1)) : splat<V>(F(1));
          V loss, dx;
          op(x, y, pw, loss, dx);
          if (t.w.data) {
            const V w = wr.load(k, n, F(1));
            loss = loss * w;
            dx = dx * w;
          }
          if (kLoss) {
            if (t.loss_out.data) store_run<T>(t.loss_out, o, m, i, k, loss, n);
            if (n < W) loss = lane_index < F(n) ? loss : V{};
            acc += widen(loss);
          }
          if (kGrad) {
            const V g = t.g.data ? gr.load(k, n, F(0)) : g_scalar;
            store_run<T>(t.grad_out, o, m, i, k, dx * g, n);
          }
        }
      });
      e += len;
      i = 0;
      if (++m == mid) m = 0, ++o;
    }
    if (kLoss && t.partials) t.partials[b] = reduce_add(acc);
    if constexpr (kCheck) {
      const uint32_t bits = (any_lane<V>(bad_x) ? kInputOutOfRange : 0u) |
                            (any_lane<V>(bad_y) ? kTargetOutOfRange : 0u);
      if (bits && t.range_error) __atomic_fetch_or(t.range_error, bits, __ATOMIC_RELAXED);
    }
  }
}

template <class T, class Op>
void binary_loss_dispatch(const BinaryLossTask& t, const Op& op, int64_t b0, int64_t b1) noexcept {
  const bool loss = t.loss_out.data != nullptr || t.partials != nullptr;
  const bool grad = t.grad_out.data != nullptr;
  if (loss && grad)
    binary_loss_blocks<T, true, true>(t, op, b0, b1);
  else if (grad)
    binary_loss_blocks<T, false, true>(t, op, b0, b1);
  else if (loss)
    binary_loss_blocks<T, true, false>(t, op, b0, b1);
  else if (Op::kProbabilities)
    binary_loss_blocks<T, false, false>(t, op, b0, b1);  // the range check alone
}

template <class T>
void binary_loss_rows(const BinaryLossTask& t, int64_t b0, int64_t b1) noexcept {
  switch (t.loss) {
    case BinaryLoss::bce: return binary_loss_dispatch<T>(t, BceOp{}, b0, b1);
    case BinaryLoss::focal: return binary_loss_dispatch<T>(t, FocalOp(t.alpha, t.gamma), b0, b1);
    case BinaryLoss::binary_cross_entropy: return binary_loss_dispatch<T>(t, BceProbsOp{}, b0, b1);
    case BinaryLoss::kl_div: return binary_loss_dispatch<T>(t, KlDivOp{}, b0, b1);
    case BinaryLoss::kl_div_log_target: return binary_loss_dispatch<T>(t, KlDivLogTargetOp{}, b0, b1);
  }
}

template <class V>
inline V vector_math_op(VecMathOp op, V v) {
  using F = elem_t<V>;
  switch (op) {
    case VecMathOp::log: return log_v(v);
    case VecMathOp::log1p: return log1p_v(v);
    case VecMathOp::exp: return exp_v(v);
    case VecMathOp::exp_nonpos: return exp_nonpos(v);
    case VecMathOp::log1p_nonpos_half: return log1p_nonpos_half(v);
    case VecMathOp::log1p_unit: {
      const V u = F(1) + v;
      return log1p_unit(v, u, F(1) / u);
    }
    case VecMathOp::tanh:
    case VecMathOp::sech2:
      if constexpr (std::is_same_v<V, vd>) {  // double lanes only (soft-capping)
        vd sech2;
        const vd t = tanh_v(v, &sech2);
        return op == VecMathOp::tanh ? t : sech2;
      }
      break;
    case VecMathOp::exp_tail: return exp_tail_small(v);  // the divergences' h, |x| <= 1
    case VecMathOp::widen16:
    case VecMathOp::narrow16:
    case VecMathOp::exp_diff:
    case VecMathOp::exp_below: break;  // storage_test_range's, vector_math_range's
  }
  return v;
}

// Test-only elementwise vector math (tests/test_simd_math_*.py).
template <class F>
void vector_math_range(const VecMathTask& t, int64_t i0, int64_t i1) noexcept {
  using V = vec_t<F>;
  const F* x = static_cast<const F*>(t.x);
  F* out = static_cast<F*>(t.out);
  const bool two_args = t.op == VecMathOp::exp_diff || t.op == VecMathOp::exp_below;
  for_chunks<lanes_v<V>>(i1 - i0, [&](int64_t k, int64_t n) {
    const V v = load_n<F>(x + i0 + k, n, F(1));
    if (!two_args) return store_n<F>(out + i0 + k, vector_math_op(t.op, v), n);
    const V m = load_n<F>(x + t.n + i0 + k, n, F(1));
    const V e = t.op == VecMathOp::exp_diff ? exp_diff(v, m) : ExpBelow<V>(m)(v);
    store_n<F>(out + i0 + k, e, n);
  });
}

// Test-only: the load/store layer's 16-bit conversions (tests/test_storage16.py),
// through the path t.access names (see StorageAccess).
template <class T>
void storage_test_range(const VecMathTask& t, int64_t i0, int64_t i1) noexcept {
  using V = vf;
  constexpr int W = lanes_v<V>;
  int64_t identity[W];
  for (int j = 0; j < W; ++j) identity[j] = j;
  if (t.op == VecMathOp::widen16) {
    const T* x = static_cast<const T*>(t.x) + i0;
    float* out = static_cast<float*>(t.out) + i0;
    for_chunks<W>(i1 - i0, [&](int64_t k, int64_t n) {
      V v;
      if (t.access == StorageAccess::scalar)
        for (int j = 0; j < W; ++j) v[j] = j < n ? to_compute(x[k + j]) : 0.0f;
      else if (t.access == StorageAccess::gather)
        v = n == W ? gather<T>(x + k, identity) : load_strided_n<T>(x + k, 1, n, 0.0f);
      else if (t.access == StorageAccess::runs)
        v = load_strided_n<T>(x + k, 1, n, 0.0f);
      else
        v = load_n<T>(x + k, n, 0.0f);
      store_n<float>(out + k, v, n);
    });
    return;
  }
  T* out = static_cast<T*>(t.out) + i0;
  if (t.access == StorageAccess::from_double) {
    const double* x = static_cast<const double*>(t.x) + i0;
    for (int64_t i = 0; i < i1 - i0; ++i) out[i] = from_double<T>(x[i]);
    return;
  }
  const float* x = static_cast<const float*>(t.x) + i0;
  for_chunks<W>(i1 - i0, [&](int64_t k, int64_t n) {
    const V v = load_n<float>(x + k, n, 0.0f);
    if (t.access == StorageAccess::scalar) {
      for (int64_t j = 0; j < n; ++j) out[k + j] = from_compute<T>(v[j]);
    } else if (t.access == StorageAccess::gather) {
      scatter<T>(out + k, identity, v, int(n));
    } else if (t.access == StorageAccess::runs) {
      store_strided_n<T>(out + k, 1, v, n);
    } else {
      store_n<T>(out + k, v, n);
    }
  });
}

}  // namespace LL_ISA
}  // namespace logitloss
