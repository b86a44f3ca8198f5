// The boosting objectives' per-row labels and weights, read in the dtype
// the caller holds them in (XGBoost and LightGBM hand out float32 labels and
// weights, users int64 class ids): no converted copy is made in Python. Bad
// values (a label that is not a class id or outside [0, 1], a negative or
// non-finite weight) are reported as the lowest offending row, found while
// the kernel reads them, so validation costs no extra pass over the data.
#pragma once

#include <cmath>
#include <cstdint>

#include "api.h"

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

}  // namespace LL_ISA
}  // namespace logitloss
