// Storage types and their conversion to the compute type.
//
// Kernels are templates over the storage type T. float16 and bfloat16 are
// stored as raw 16-bit patterns and computed in float (Compute<T>); float and
// double compute in themselves. Loads widen to the compute vector, stores
// round back (round-to-nearest-even, NaN kept NaN).
#pragma once

#include "vec.h"

namespace logitloss {
namespace LL_ISA {

struct half_t {
  uint16_t bits;
};
struct bfloat16_t {
  uint16_t bits;
};

template <class T>
struct ComputeOf {
  using type = T;
};
template <>
struct ComputeOf<half_t> {
  using type = float;
};
template <>
struct ComputeOf<bfloat16_t> {
  using type = float;
};
template <class T>
using compute_t = typename ComputeOf<T>::type;

inline float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint32_t float_to_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

inline float to_compute(half_t h) {
  const uint32_t sign = uint32_t(h.bits & 0x8000u) << 16;
  const uint32_t exp = (h.bits >> 10) & 0x1fu;
  const uint32_t man = h.bits & 0x3ffu;
  if (exp == 0x1f) return bits_to_float(sign | 0x7f800000u | (man << 13));
  if (exp != 0) return bits_to_float(sign | ((exp + 112) << 23) | (man << 13));
  // Zero or subnormal: man * 2^-24, exact in float.
  const float mag = float(man) * 5.9604644775390625e-8f;
  return sign ? -mag : mag;
}

inline float to_compute(bfloat16_t b) { return bits_to_float(uint32_t(b.bits) << 16); }
inline float to_compute(float x) { return x; }
inline double to_compute(double x) { return x; }

template <class T>
inline T from_compute(compute_t<T> x);

template <>
inline float from_compute<float>(float x) {
  return x;
}
template <>
inline double from_compute<double>(double x) {
  return x;
}

template <>
inline bfloat16_t from_compute<bfloat16_t>(float x) {
  uint32_t u = float_to_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {uint16_t((u >> 16) | 0x40u)};  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);  // round to nearest even
  return {uint16_t(u >> 16)};
}

template <>
inline half_t from_compute<half_t>(float x) {
  const uint32_t u = float_to_bits(x);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return {uint16_t(sign | 0x7e00u)};  // NaN
  if (a >= 0x477ff000u) return {uint16_t(sign | 0x7c00u)};  // rounds to inf
  if (a < 0x38800000u) {
    // Subnormal half (or zero): round |x| * 2^24 to an integer, ties to even.
    // Adding 0.5 (2^-1) aligns the binary point so the float add rounds.
    const float scaled = bits_to_float(a) + 0.5f;
    return {uint16_t(sign | uint16_t(float_to_bits(scaled) - 0x3f000000u))};
  }
  uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - (112u << 23);
  return {uint16_t(sign | uint16_t(r >> 13))};
}

// Contiguous load of a full vector from storage T.
template <class T, class V = vec_t<compute_t<T>>>
inline V load(const T* p) {
  if constexpr (sizeof(T) == sizeof(elem_t<V>)) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  } else {
    V v;
    for (int i = 0; i < lanes_v<V>; ++i) v[i] = to_compute(p[i]);
    return v;
  }
}

// Load of the first n < lanes elements; other lanes get `fill`.
template <class T, class V = vec_t<compute_t<T>>>
inline V load_partial(const T* p, int64_t n, elem_t<V> fill) {
  V v = splat<V>(fill);
  for (int64_t i = 0; i < n; ++i) v[i] = to_compute(p[i]);
  return v;
}

// Gather: lane i reads p[off[i]].
template <class T, class V = vec_t<compute_t<T>>>
inline V gather(const T* p, const int64_t* off) {
  V v;
  for (int i = 0; i < lanes_v<V>; ++i) v[i] = to_compute(p[off[i]]);
  return v;
}

template <class T, class V>
inline void store(T* p, V v) {
  if constexpr (sizeof(T) == sizeof(elem_t<V>)) {
    std::memcpy(p, &v, sizeof v);
  } else {
    for (int i = 0; i < lanes_v<V>; ++i) p[i] = from_compute<T>(v[i]);
  }
}

template <class T, class V>
inline void store_partial(T* p, V v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) p[i] = from_compute<T>(v[i]);
}

// Scatter the first n lanes: p[off[i]] = v[i].
template <class T, class V>
inline void scatter(T* p, const int64_t* off, V v, int n) {
  if (n == lanes_v<V>) {  // a constant count: unrolled, no branch per lane
    for (int i = 0; i < lanes_v<V>; ++i) p[off[i]] = from_compute<T>(v[i]);
    return;
  }
  for (int i = 0; i < n; ++i) p[off[i]] = from_compute<T>(v[i]);
}

}  // namespace LL_ISA
}  // namespace logitloss
