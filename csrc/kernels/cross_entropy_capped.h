// Soft-capped cross-entropy (Gemma 2's final-logit soft-capping): the
// cross-entropy kernels' rows with every logit x replaced by c tanh(x / c).
//
// Note [Soft-capped cross-entropy]
// The capped logits y = c tanh(x / c) are formed inside the passes and never
// written out, and in double for every storage type: y is irrational, and
// rounding it to float (half an ULP of y, up to c 2^-25 in absolute terms)
// would move a loss near 1 by up to 8 float ULP, and a confident row's tiny
// loss by far more, since its exps exp(y_c - m) would carry that absolute
// error. In double (Note [Vector tanh]: 3 ULP; x / c and c t add one rounding
// each) the float32 loss keeps the 2.5 ULP budget of Note [Stable
// cross-entropy] (tests/test_cross_entropy_softcap.py: within 4 ULP of
// mpmath). A float64 loss has an absolute error of about 10 c eps instead.
//
// tanh is monotone, so max y = c tanh(max x / c) (computed by the same
// vector routine as every y, so that the maximum's own entry ties with it):
// the first pass reads x alone. +-inf logits become +-c, finite, as in
// PyTorch; a NaN anywhere makes the row's loss and gradient NaN.
// dL/dx_c = dL/dy_c sech^2(x_c / c), with sech^2 from Note [Vector tanh]
// (no cancellation where tanh saturates; 0 at +-inf). Passes: (1) max of x;
// (2) y, exp(y - m) (compensated as in Note [Vector exp]) and the sums;
// (3) with a gradient, y, exp(y - m) and sech^2 again, the gradient written.
// Nothing is kept between passes (a float row cannot hold a double exp), so
// a capped value_and_grad evaluates tanh and exp twice per element. Rows run
// one at a time with lanes along the classes, any class stride (gathers).
#pragma once

#include "../simd/tanh.h"
#include "cross_entropy_terms.h"

namespace logitloss {
namespace LL_ISA {
namespace ce {

// A row of storage T, any class stride, read and written as double lanes.
template <class T>
struct DoubleRow {
  static constexpr int W = lanes_v<vd>;
  const T* p;
  int64_t stride;
  vd load(int64_t k, int64_t n, double fill) const {
    vd v = splat<vd>(fill);
    if (stride == 1 && n == W) {  // a fixed trip count: converted as a vector
      for (int i = 0; i < W; ++i) v[i] = double(to_compute(p[k + i]));
    } else {
      for (int64_t i = 0; i < n; ++i) v[i] = double(to_compute(p[(k + i) * stride]));
    }
    return v;
  }
  double at(int64_t k) const { return double(to_compute(p[k * stride])); }
};

template <class T>
inline DoubleRow<T> double_row(const View3& v, int64_t r) {
  return {static_cast<const T*>(v.data) + row_offset(v, r), v.s_class};
}

// Writes the first n lanes to row g at class k, each rounded once.
template <class T>
inline void store_double(const MutRowPtr<T>& g, int64_t k, vd v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[k + i] = from_double<T>(v[i]);
}

struct Cap {
  vd c, inv_c;
  explicit Cap(double cap) : c(splat<vd>(cap)), inv_c(splat<vd>(1.0 / cap)) {}
  vd operator()(vd x) const { return c * tanh_v(x * inv_c); }
  vd operator()(vd x, vd* sech2) const { return c * tanh_v(x * inv_c, sech2); }
  double scalar(double x) const { return (*this)(splat<vd>(x))[0]; }
};

template <class T, Mode M, bool kGrad>
void capped_rows(const CeTask& t, int64_t r0, int64_t r1) {
  constexpr int W = lanes_v<vd>;
  using A = vd;
  const int64_t C = t.x.classes;
  const double eps = t.smoothing;
  const double uniform = eps / double(C);
  const Cap cap(t.softcap);
  const bool has_z = t.z_loss != 0;
  vi64 lane{};
  for (int i = 0; i < W; ++i) lane[i] = i;
  for (int64_t r = r0; r < r1; ++r) {
    const RowTarget tg = take_target<M>(t, r);
    if (!tg.active) {
      if constexpr (kGrad) fill_row<T>(t.grad, r, 0.0);
      continue;
    }
    if (!t.loss && !kGrad) continue;  // targets only
    const DoubleRow<T> x = double_row<T>(t.x, r);
    const DoubleRow<T> q = M == Mode::prob ? double_row<T>(t.prob, r) : x;
    vd mv = splat<vd>(-kInf<double>);
    for_chunks<W>(C, [&](int64_t k, int64_t n) { mv = vmax(x.load(k, n, -kInf<double>), mv); });
    const double m = cap.scalar(reduce_max(mv));  // +-inf -> +-c; an all-NaN row: -c
    const vd mvec = splat<vd>(m);
    // Before any gradient is written: in place, the gradient row is x.
    const double y_t = M == Mode::prob ? 0.0 : cap.scalar(x.at(tg.index));
    A ties{};
    RowSum<A, kCompensatedSums<T>> rest, csum, cdot;
    for_chunks<W>(C, [&](int64_t k, int64_t n) {
      const vd y = cap(x.load(k, n, 0.0));
      const auto live = lane < n;
      const auto tie = live & (y == mvec);
      ties += tie ? splat<vd>(1.0) : vd{};
      rest.add(live & ~tie ? exp_diff(y, mvec) : vd{});
      if constexpr (M != Mode::index) {
        A coef = load_weights<A>(t.weight, k, n);  // 0 past n
        if constexpr (M == Mode::prob) coef *= q.load(k, n, 0.0) * (1 - eps) + uniform;
        csum.add(coef);
        cdot.add(coef * (mvec - y));
      }
    });
    Sums<> s{m, reduce_add(ties), reduce_add(rest.value()), 0.0, 0.0};
    if constexpr (M != Mode::index) {
      s.coef_sum = reduce_add(csum.value());
      s.coef_dot = reduce_add(cdot.value());
    }
    s.log_total_scalar();
    const RowCoef<> rc{(1 - eps) * tg.weight, uniform, kGrad ? row_scale(t, r) : 0.0,
                       t.z_loss * tg.weight};
    if (t.loss) t.loss[r] = row_loss_z<M>(s, rc, y_t, has_z);
    if constexpr (kGrad) {
      const MutRowPtr<T> g = row_ptr<T>(t.grad, r);
      const vd mul = splat<vd>(exp_multiplier<M>(s, rc, has_z));
      const vd scale = splat<vd>(rc.scale);
      double sech2_t = 0;
      const auto chunk = [&](int64_t k, int64_t n) {
        vd sech2;
        const vd y = cap(x.load(k, n, 0.0), &sech2);
        vd grad = exp_diff(y, mvec) * mul;
        if constexpr (M != Mode::index) {
          vd coef = load_weights<A>(t.weight, k, n);
          if constexpr (M == Mode::prob)
            coef *= q.load(k, n, 0.0) * (1 - eps) + uniform;
          else
            coef *= uniform;
          grad = (grad - coef) * scale;
        }
        if (M != Mode::prob && tg.index >= k && tg.index < k + n) sech2_t = sech2[tg.index - k];
        store_double(g, k, grad * sech2, n);
      };
      // Whether GCC inlines this chunk (called twice: whole vectors and the
      // tail) follows from the translation unit's size, and moves float64
      // gradients by an ULP through where FMAs contract: adding issue 16's
      // variants to the unit did, for index targets. There it is kept out of
      // line, as the build before them had it, so the results stay bit for
      // bit (probability targets kept theirs unpinned).
      if constexpr (M == Mode::prob)
        for_chunks<W>(C, chunk);
      else
        for_chunks<W>(C, [&](int64_t k, int64_t n) __attribute__((noinline)) { chunk(k, n); });
      if constexpr (M != Mode::prob) {
        const double e_t = exp_diff(splat<vd>(y_t), mvec)[0];
        g[tg.index] = from_double<T>(target_grad(s, rc, y_t, tg.weight, e_t, has_z) * sech2_t);
      }
    }
  }
}

}  // namespace ce
}  // namespace LL_ISA
}  // namespace logitloss
