// The elementwise loss driver shared by BCE-with-logits and focal loss.
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
#pragma once

#include "focal.h"
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
    V v = splat<V>(fill);
    for (int64_t i = 0; i < n; ++i) v[i] = to_compute(p[(k + i) * s]);
    return v;
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
  for (int64_t j = 0; j < n; ++j) p[(k + j) * v.s_inner] = from_compute<T>(val[j]);
}

// kLoss / kGrad: whether the loss (elementwise or per-block sums) and the
// gradient are wanted; compile-time so unused arithmetic is dropped.
template <class T, bool kLoss, bool kGrad, class Op>
void binary_loss_blocks(const BinaryLossTask& t, const Op& op, int64_t b0, int64_t b1) noexcept {
  using F = compute_t<T>;
  using V = vec_t<F>;
  using A = acc_t<V>;
  constexpr int W = lanes_v<V>;
  const int64_t mid = t.x.classes, inner = t.x.inner;
  V lane_index;
  for (int j = 0; j < W; ++j) lane_index[j] = F(j);
  const V g_scalar = splat<V>(F(t.g_scalar));
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t e0 = b * t.block;
    const int64_t e1 = e0 + t.block < t.size ? e0 + t.block : t.size;
    A acc{};
    int64_t i = e0 % inner, m = (e0 / inner) % mid, o = e0 / inner / mid;
    for (int64_t e = e0; e < e1;) {
      const int64_t len = inner - i < e1 - e ? inner - i : e1 - e;
      const Run<T> xr = run_at<T>(t.x, o, m, i), yr = run_at<T>(t.y, o, m, i);
      const Run<T> wr = t.w.data ? run_at<T>(t.w, o, m, i) : Run<T>{};
      const Run<T> pr = t.pw.data ? run_at<T>(t.pw, o, m, i) : Run<T>{};
      const Run<T> gr = t.g.data ? run_at<T>(t.g, o, m, i) : Run<T>{};
      for_chunks<W>(len, [&](int64_t k, int64_t n) {
        const V x = xr.load(k, n, F(0)), y = yr.load(k, n, F(0));
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
      });
      e += len;
      i = 0;
      if (++m == mid) m = 0, ++o;
    }
    if (t.partials) t.partials[b] = reduce_add(acc);
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
  else
    binary_loss_blocks<T, true, false>(t, op, b0, b1);
}

template <class T>
void binary_loss_rows(const BinaryLossTask& t, int64_t b0, int64_t b1) noexcept {
  if (t.loss == BinaryLoss::bce)
    binary_loss_dispatch<T>(t, BceOp{}, b0, b1);
  else
    binary_loss_dispatch<T>(t, FocalOp(t.alpha, t.gamma), b0, b1);
}

template <class V>
inline V vector_math_op(VecMathOp op, V v) {
  using F = elem_t<V>;
  switch (op) {
    case VecMathOp::log: return log_v(v);
    case VecMathOp::log1p: return log1p_v(v);
    case VecMathOp::exp: return exp_v(v);
    case VecMathOp::exp_nonpos: return exp_nonpos(v);
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
  }
  return v;
}

// Test-only elementwise vector math (tests/test_simd_math_*.py).
template <class F>
void vector_math_range(const VecMathTask& t, int64_t i0, int64_t i1) noexcept {
  using V = vec_t<F>;
  const F* x = static_cast<const F*>(t.x);
  F* out = static_cast<F*>(t.out);
  for_chunks<lanes_v<V>>(i1 - i0, [&](int64_t k, int64_t n) {
    const V v = load_n<F>(x + i0 + k, n, F(1));
    store_n<F>(out + i0 + k, vector_math_op(t.op, v), n);
  });
}

}  // namespace LL_ISA
}  // namespace logitloss
