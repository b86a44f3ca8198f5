// Row access shared by the kernels of every family.
//
// Two ways to put rows into SIMD lanes:
//  * ContigRow: one row whose classes are contiguous (s_class == 1); lanes run
//    along the classes and a partial load pads the tail.
//  * RowBlock: up to `lanes` rows side by side; lane j holds row r0 + j and a
//    load reads class k of every lane's row. Rows of one `outer` index with
//    s_inner == 1 load contiguously, anything else gathers. Lanes past the
//    block's end repeat its last row, so the arithmetic never sees garbage
//    and stores skip them.
#pragma once

#include <cmath>
#include <limits>
#include <optional>
#include <type_traits>

#include "../simd/storage.h"
#include "api.h"
#include "transpose.h"

namespace logitloss {
namespace LL_ISA {

template <class F>
constexpr F kInf = std::numeric_limits<F>::infinity();
template <class F>
constexpr F kNaN = std::numeric_limits<F>::quiet_NaN();

// Row r's offset. inner == 1 (the class axis last) is the common case and
// skips the two 64-bit divisions, which cost more than a short row's exps.
template <class View>
inline int64_t row_offset(const View& v, int64_t r) {
  if (v.inner == 1) return r * v.s_outer;
  return (r / v.inner) * v.s_outer + (r % v.inner) * v.s_inner;
}

// A view's row r as a pointer and class stride (scalar access).
template <class T>
struct RowPtr {
  const T* p;
  int64_t stride;
  T operator[](int64_t k) const { return p[k * stride]; }
};
template <class T>
inline RowPtr<T> row_ptr(const View3& v, int64_t r) {
  return {static_cast<const T*>(v.data) + row_offset(v, r), v.s_class};
}
template <class T>
struct MutRowPtr {
  T* p;
  int64_t stride;
  T& operator[](int64_t k) const { return p[k * stride]; }
};
template <class T>
inline MutRowPtr<T> row_ptr(const MutView3& v, int64_t r) {
  return {static_cast<T*>(v.data) + row_offset(v, r), v.s_class};
}

// Up to `lanes` consecutive rows of one view, class k of each in one vector.
template <class T, class Base>
struct RowBlockOf {
  using F = compute_t<T>;
  using V = vec_t<F>;
  static constexpr int W = lanes_v<V>;
  // Only read-only blocks stage: a mutable block's loads must see its stores.
  static constexpr bool kCanStage = std::is_const<Base>::value;
  static constexpr int64_t kMaxStaged = 64;
  Base* base;
  int64_t s_class;
  int64_t off[W];
  bool contiguous;
  bool staged = false;
  alignas(64) F stage[kCanStage ? kMaxStaged * W : 1];

  template <class View>
  RowBlockOf(const View& v, int64_t r0, int n) {
    base = static_cast<Base*>(v.data);
    s_class = v.s_class;
    set_offsets(v, r0, n);
    if (kCanStage && !contiguous && v.classes <= kMaxStaged) {
      staged = true;
      if (v.inner == 1 && s_class == 1)
        stage_rows(v.classes);
      else
        for (int64_t k = 0; k < v.classes; ++k)
          LL_ISA::store<F>(stage + k * W, gather<T>(base + k * s_class, off));
    }
  }
  // The stage of contiguous rows by in-register transposes (Note
  // [Short-row transposes]): a gather per class cost a third of a 10-class
  // logsumexp (measured). The same values: lane j of class k is row j's
  // entry k either way.
  void stage_rows(int64_t C) {
    V r[W];
    for (int64_t c0 = 0; c0 < C; c0 += W) {
      const int64_t nc = C - c0 < W ? C - c0 : W;
      for (int j = 0; j < W; ++j) r[j] = load_piece<T>(base + off[j] + c0, nc);
      transpose_block(r);
      for (int64_t k = 0; k < nc; ++k) LL_ISA::store<F>(stage + (c0 + k) * W, r[k]);
    }
  }
  // off[j] = row r0 + min(j, n - 1)'s offset; `contiguous` when the rows
  // follow each other along a unit-stride inner axis.
  template <class View>
  void set_offsets(const View& v, int64_t r0, int n) {
    if (v.inner == 1) {  // the class axis last: no 64-bit division per block
      for (int j = 0; j < W; ++j) off[j] = (r0 + (j < n ? j : n - 1)) * v.s_outer;
      contiguous = false;  // a row block runs along `inner` only
      return;
    }
    // Step (outer, inner) along the rows: no integer division per lane.
    int64_t o = r0 / v.inner, i = r0 % v.inner;
    const int64_t i0 = i;
    for (int j = 0; j < W; ++j) {
      off[j] = o * v.s_outer + i * v.s_inner;
      if (j + 1 < n && ++i == v.inner) i = 0, ++o;
    }
    contiguous = n == W && v.s_inner == 1 && i0 + W <= v.inner;
  }
  // Class k of lane j's row, in storage: scalar access to a block's rows
  // without row_offset's two 64-bit divisions per row.
  Base& at(int j, int64_t k) const { return base[off[j] + k * s_class]; }
  V load(int64_t k) const {
    if (staged) return LL_ISA::load<F>(stage + k * W);
    const Base* p = base + k * s_class;
    return contiguous ? LL_ISA::load<T>(p + off[0]) : gather<T>(p, off);
  }
};

// The block of a second operand (b, probability targets) when `used`, else
// `fallback` itself: a block is ~2 KB with its stage, and copying one per
// block cost 15% of a 10-class logsumexp (measured).
template <class T>
struct SecondBlock {
  std::optional<RowBlockOf<T, const T>> own;
  const RowBlockOf<T, const T>& block;
  template <class View>
  SecondBlock(bool used, const View& v, int64_t r0, int n, const RowBlockOf<T, const T>& fallback)
      : own(used ? std::optional<RowBlockOf<T, const T>>(std::in_place, v, r0, n) : std::nullopt),
        block(used ? *own : fallback) {}
};

// Rows that end in a partial vector (C < W, or W < C < 2W with a tail)
// spend their time in tail loads and per-row overhead: lanes across rows are
// faster there (measured 1.3-3x, float32, C = 2..24).
template <class T>
inline bool short_rows(int64_t C) {
  constexpr int W = lanes_v<vec_t<compute_t<T>>>;
  return C < W || (C < 2 * W && C % W != 0);
}
template <class T>
using RowBlock = RowBlockOf<T, const T>;

// A task's gradient view or, without a gradient, its input's geometry, so
// that a MutRowBlock over it is well-formed (it is then never written).
template <class Task>
inline MutView3 grad_or_geometry(const Task& t) {
  if (t.grad.data) return t.grad;
  const View3& x = t.x;
  return {const_cast<void*>(x.data), x.outer, x.classes, x.inner, x.s_outer, x.s_class, x.s_inner};
}

template <class T>
struct MutRowBlock : RowBlockOf<T, T> {
  using RowBlockOf<T, T>::RowBlockOf;
  template <class V>
  void store(int64_t k, V v, int n) const {
    T* p = this->base + k * this->s_class;
    if (this->contiguous)
      LL_ISA::store<T>(p + this->off[0], v);
    else
      scatter<T>(p, this->off, v, n);
  }
};

// Calls fn(k, n) over [0, C) in steps of W; n < W only for the tail.
template <int W, class Fn>
inline void for_chunks(int64_t C, Fn&& fn) {
  int64_t k = 0;
  for (; k + W <= C; k += W) fn(k, W);
  if (k < C) fn(k, C - k);
}

// for_chunks with fn inlined into the loop. GCC otherwise may keep a larger
// fn (called twice: loop and tail) out of line, a call per vector with its
// operands passed in memory: a fifth of logsumexp_grad's time and a quarter
// of softmax_grad's on 32000-class rows (measured). Used by the log-sum-exp
// family's row sweeps; elsewhere inlining would change where FMAs contract
// and so break bitwise agreement between variants that share arithmetic.
template <int W, class Fn>
__attribute__((flatten)) inline void for_chunks_inlined(int64_t C, Fn&& fn) {
  for_chunks<W>(C, fn);
}

// Loads n elements from p (n == W: full load; else padded with fill).
template <class T, class V = vec_t<compute_t<T>>>
inline V load_n(const T* p, int64_t n, elem_t<V> fill) {
  return n == lanes_v<V> ? load<T>(p) : load_partial<T>(p, n, fill);
}

template <class T, class V>
inline void store_n(T* p, V v, int64_t n) {
  if (n == lanes_v<V>)
    store<T>(p, v);
  else
    store_partial<T>(p, v, n);
}

// Calls fn(r0, n) over [row_begin, row_end) in blocks of W rows.
template <int W, class Fn>
inline void for_row_blocks(int64_t row_begin, int64_t row_end, Fn&& fn) {
  for (int64_t r = row_begin; r < row_end; r += W) {
    const int64_t left = row_end - r;
    fn(r, left < W ? int(left) : W);
  }
}

template <class T>
struct Tag {
  using type = T;
};

// Calls fn(Tag<T>{}) for the storage type T that `d` names.
template <class Fn>
inline void with_dtype(DType d, Fn&& fn) {
  switch (d) {
    case DType::f32: return fn(Tag<float>{});
    case DType::f64: return fn(Tag<double>{});
    case DType::f16: return fn(Tag<half_t>{});
    case DType::bf16: return fn(Tag<bfloat16_t>{});
  }
}

}  // namespace LL_ISA
}  // namespace logitloss
