// The boosting objectives' per-row labels and weights, read in the dtype
// the caller holds them in (XGBoost and LightGBM hand out float32 labels and
// weights, users int64 class ids): no converted copy is made in Python. Bad
// values (a label that is not a class id or outside [0, 1], a negative or
// non-finite weight) are reported as the lowest offending row, found while
// the kernel reads them, so validation costs no extra pass over the data.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

#include "api.h"
#include "rows.h"

namespace logitloss {
namespace LL_ISA {

// Lowers *slot to r (relaxed atomics: only the final minimum matters).
inline void report_row(int64_t* slot, int64_t r) {
  int64_t cur = __atomic_load_n(slot, __ATOMIC_RELAXED);
  while (r < cur &&
         !__atomic_compare_exchange_n(slot, &cur, r, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

// Value r of a row buffer, as a double (exact for every kind).
inline double row_value(const RowValues& v, int64_t r) {
  const int64_t i = r * v.stride;
  switch (v.kind) {
    case ValueKind::f32: return double(static_cast<const float*>(v.data)[i]);
    case ValueKind::f64: return static_cast<const double*>(v.data)[i];
    case ValueKind::i32: return double(static_cast<const int32_t*>(v.data)[i]);
    case ValueKind::i64: return double(static_cast<const int64_t*>(v.data)[i]);
    case ValueKind::u8: return double(static_cast<const uint8_t*>(v.data)[i]);
  }
  return 0.0;
}

// Row r's class id, or -1 (reported) when it is not an integer in [0, C).
inline int64_t class_id(const RowValues& v, int64_t r, int64_t C, int64_t* bad) {
  int64_t c;
  if (v.kind == ValueKind::i64) {
    c = static_cast<const int64_t*>(v.data)[r * v.stride];
  } else if (v.kind == ValueKind::i32) {
    c = static_cast<const int32_t*>(v.data)[r * v.stride];
  } else {
    const double d = row_value(v, r);
    // NaN fails every comparison; the range test keeps the cast defined.
    c = d >= 0 && d < double(C) && d == std::floor(d) ? int64_t(d) : -1;
  }
  if (c >= 0 && c < C) return c;
  report_row(bad, r);
  return -1;
}

// Row r's weight (1 when absent); a negative, NaN or infinite one is
// reported and read as 0.
inline double row_weight(const RowValues& w, int64_t r, int64_t* bad) {
  if (!w.data) return 1.0;
  const double v = row_value(w, r);
  if (v >= 0 && v <= 1.7976931348623157e308) return v;
  report_row(bad, r);
  return 0.0;
}

// n per-row values from p on (stride in elements), converted to V's lanes;
// other lanes get `fill`. A full contiguous load converts as one vector.
template <class U, class V>
inline V load_values_as(const U* p, int64_t stride, int64_t n, elem_t<V> fill) {
  using F = elem_t<V>;
  constexpr int W = lanes_v<V>;
  if (stride == 1 && n == W) {
    typedef U UV __attribute__((vector_size(sizeof(U) * W)));
    UV u;
    std::memcpy(&u, p, sizeof u);
    return __builtin_convertvector(u, V);
  }
  V v = splat<V>(fill);
  for (int64_t j = 0; j < n; ++j) v[j] = F(p[j * stride]);
  return v;
}

// out[i] = value r + i of a row buffer, i < n, as F (one switch per call:
// the loops vectorise).
template <class U, class F>
inline void convert_values_as(const U* p, int64_t stride, int64_t n, F* out) {
  if (stride == 1)
    for (int64_t i = 0; i < n; ++i) out[i] = F(p[i]);
  else
    for (int64_t i = 0; i < n; ++i) out[i] = F(p[i * stride]);
}
template <class F>
inline void convert_values(const RowValues& rv, int64_t r, int64_t n, F* out) {
  const int64_t off = r * rv.stride;
  switch (rv.kind) {
    case ValueKind::f32:
      return convert_values_as(static_cast<const float*>(rv.data) + off, rv.stride, n, out);
    case ValueKind::f64:
      return convert_values_as(static_cast<const double*>(rv.data) + off, rv.stride, n, out);
    case ValueKind::i32:
      return convert_values_as(static_cast<const int32_t*>(rv.data) + off, rv.stride, n, out);
    case ValueKind::i64:
      return convert_values_as(static_cast<const int64_t*>(rv.data) + off, rv.stride, n, out);
    case ValueKind::u8:
      return convert_values_as(static_cast<const uint8_t*>(rv.data) + off, rv.stride, n, out);
  }
}

// Values r .. r + n - 1 of a row buffer as contiguous F: the buffer itself
// when it already is (no copy), else converted into `scratch`.
template <class F>
inline const F* values_as(const RowValues& rv, int64_t r, int64_t n, F* scratch) {
  constexpr ValueKind kSame = sizeof(F) == 4 ? ValueKind::f32 : ValueKind::f64;
  if (rv.kind == kSame && rv.stride == 1) return static_cast<const F*>(rv.data) + r;
  convert_values(rv, r, n, scratch);
  return scratch;
}

// n values of a row buffer from row r on, in V's lanes (others: fill).
template <class V>
inline V load_values(const RowValues& rv, int64_t r, int64_t n, elem_t<V> fill) {
  const int64_t off = r * rv.stride;
  switch (rv.kind) {
    case ValueKind::f32:
      return load_values_as<float, V>(static_cast<const float*>(rv.data) + off, rv.stride, n, fill);
    case ValueKind::f64:
      return load_values_as<double, V>(static_cast<const double*>(rv.data) + off, rv.stride, n,
                                       fill);
    case ValueKind::i32:
      return load_values_as<int32_t, V>(static_cast<const int32_t*>(rv.data) + off, rv.stride, n,
                                        fill);
    case ValueKind::i64:
      return load_values_as<int64_t, V>(static_cast<const int64_t*>(rv.data) + off, rv.stride, n,
                                        fill);
    case ValueKind::u8:
      return load_values_as<uint8_t, V>(static_cast<const uint8_t*>(rv.data) + off, rv.stride, n,
                                        fill);
  }
  return splat<V>(fill);
}

}  // namespace LL_ISA
}  // namespace logitloss
