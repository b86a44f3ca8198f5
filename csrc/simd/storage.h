// Storage types and their conversion to the compute type.
//
// Kernels are templates over the storage type T. float16 and bfloat16 are
// stored as raw 16-bit patterns and computed in float (Compute<T>); float and
// double compute in themselves. Loads widen to the compute vector, stores
// round back; see Note [16-bit storage].
//
// Note [16-bit storage]
// 16-bit data is converted in registers, a whole vector at a time, by the
// load/store layer below that every kernel uses (load, load_partial, gather,
// store, store_partial, scatter): never through a float32 copy of an array.
//  * float16 -> float: exact. F16C's vcvtph2ps (avx2), its AVX-512F form
//    (avx512), NEON's fcvtl (aarch64), integer SIMD on SSE2 (baseline).
//  * float -> float16: round to nearest, ties to even, with subnormal results
//    and overflow to +-inf: NumPy's cast exactly. vcvtps2ph / fcvtn where
//    the ISA has them, integer SIMD otherwise.
//  * bfloat16 -> float: exact, a 16-bit shift. float -> bfloat16: round to
//    nearest even by integer arithmetic (ml_dtypes' cast exactly).
//  * NaN: a float16 NaN keeps its sign and the top 9 bits of its payload
//    and is quiet (the hardware conversions' rule, in both directions: a
//    signaling NaN is quieted, which NumPy's casts do not do; quiet NaNs
//    convert as NumPy converts them). A bfloat16 NaN output is 0x7fc0 with
//    the input's sign (ml_dtypes' rule); a bfloat16 input NaN is widened
//    bit for bit.
// Every level and the scalar to_compute / from_compute give the same bits;
// tests/test_storage16.py checks all 2^16 inputs and every rounding boundary
// against NumPy and ml_dtypes on every SIMD level.
#pragma once

#include <cmath>

#include "vec.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#endif

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

template <class T>
constexpr bool kIs16Bit = std::is_same<T, half_t>::value || std::is_same<T, bfloat16_t>::value;

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

// ------------------------------------------------------------ scalar forms

inline float to_compute(half_t h) {
  const uint32_t sign = uint32_t(h.bits & 0x8000u) << 16;
  const uint32_t exp = (h.bits >> 10) & 0x1fu;
  const uint32_t man = h.bits & 0x3ffu;
  if (exp == 0x1f)  // inf, or NaN made quiet
    return bits_to_float(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0u));
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
  const uint32_t u = float_to_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return {uint16_t(((u >> 16) & 0x8000u) | 0x7fc0u)};
  return {uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16)};  // to nearest, ties to even
}

template <>
inline half_t from_compute<half_t>(float x) {
  const uint32_t u = float_to_bits(x);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return {uint16_t(sign | 0x7e00u | ((a >> 13) & 0x3ffu))};  // quiet NaN
  if (a >= 0x477ff000u) return {uint16_t(sign | 0x7c00u)};  // rounds to inf
  if (a < 0x38800000u) {
    // Subnormal half (or zero): round |x| * 2^24 to an integer, ties to even.
    // Adding 0.5 (2^-1) aligns the binary point so the float add rounds.
    const float scaled = bits_to_float(a) + 0.5f;
    return {uint16_t(sign | uint16_t(float_to_bits(scaled) - 0x3f000000u))};
  }
  const uint32_t r = a + 0xfffu + ((a >> 13) & 1u) - (112u << 23);
  return {uint16_t(sign | uint16_t(r >> 13))};
}

// A double rounded once to storage T. Through float, a 16-bit result could
// round twice (to float, then to 16 bits); rounding the double to float
// with the sticky "odd" bit set when inexact keeps it a single rounding,
// since float has more than two bits beyond a 16-bit type's significand.
template <class T>
inline T from_double(double d) {
  if constexpr (!kIs16Bit<T>) {
    return T(d);
  } else {
    float f = float(d);
    if (double(f) != d && std::fabs(d) < 3.4028234663852886e38) {
      uint32_t u = float_to_bits(f);
      if (std::fabs(double(f)) > std::fabs(d)) --u;  // truncate toward zero ...
      f = bits_to_float(u | 1u);                     // ... and make it odd
    }
    return from_compute<T>(f);
  }
}

// ------------------------------------------------------------ vector forms

// W 16-bit lanes (W = the lanes of vf) and their 32-bit widening. The
// AVX-512 forms below call GCC's builtins with a zero pass-through vector:
// GCC 12's intrinsics pass an undefined one and warn (-Wmaybe-uninitialized).
typedef uint16_t vu16 __attribute__((vector_size(kVecBytes / 2)));
typedef uint32_t vu32 __attribute__((vector_size(kVecBytes)));

// 16-bit lanes zero-extended to 32 bits (GCC splits the generic conversion
// into halves at 64 bytes: five instructions for one).
inline vu32 widen_lanes(vu16 b) {
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  return (vu32)__builtin_ia32_pmovzxwd512_mask((__v16hi)b, (__v16si){}, (__mmask16)-1);
#elif defined(__AVX2__) && LL_VEC_BYTES == 32
  return (vu32)_mm256_cvtepu16_epi32((__m128i)b);
#else
  return __builtin_convertvector(b, vu32);
#endif
}

namespace detail {

// Integer-SIMD conversions: the baseline's, and the reference the
// instruction-set forms below must equal bit for bit.
inline vf half_to_float_int(vu16 h) {
  const vu32 w = widen_lanes(h);
  const vu32 em = w & 0x7fffu;
  const vu32 exp = em & 0x7c00u;
  vu32 o = (em << 13) + (112u << 23);
  o = exp == 0x7c00u ? o + (112u << 23) : o;                   // inf, NaN: exponent 255
  o = em > 0x7c00u ? o | 0x400000u : o;                        // NaN made quiet
  const vf sub = (vf)(o + (1u << 23)) - bits_to_float(113u << 23);  // man * 2^-24, exact
  const vu32 mag = exp == 0 ? (vu32)sub : o;
  return (vf)(mag | ((w & 0x8000u) << 16));
}

inline vu32 float_to_half_int(vf f) {
  const vu32 u = (vu32)f;
  const vu32 sign = (u >> 16) & 0x8000u;
  const vi32 a = (vi32)(u & 0x7fffffffu);
  const vu32 au = (vu32)a;
  const vu32 normal = (au + 0xfffu + ((au >> 13) & 1u) - (112u << 23)) >> 13;
  const vu32 sub = (vu32)((vf)a + 0.5f) - 0x3f000000u;
  vu32 h = a < 0x38800000 ? sub : normal;
  h = a >= 0x477ff000 ? 0x7c00u + vu32{} : h;
  h = a > 0x7f800000 ? 0x7e00u | ((au >> 13) & 0x3ffu) : h;
  return h | sign;
}

inline vu32 float_to_bf16_int(vf f) {
  const vu32 u = (vu32)f;
  const vu32 r = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  const vi32 a = (vi32)(u & 0x7fffffffu);
  return a > 0x7f800000 ? ((u >> 16) & 0x8000u) | 0x7fc0u : r;
}

// 32-bit lanes holding 16-bit values, narrowed.
inline vu16 narrow_lanes(vu32 w) {
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  return (vu16)__builtin_ia32_pmovdw512_mask((__v16si)w, (__v16hi){}, (__mmask16)-1);
#elif defined(__AVX2__) && LL_VEC_BYTES == 32
  const __m256i p = _mm256_packus_epi32((__m256i)w, (__m256i)w);  // per 128-bit half
  return (vu16)_mm256_castsi256_si128(_mm256_permute4x64_epi64(p, 0x08));
#elif defined(__SSE2__) && LL_VEC_BYTES == 16
  // SSE2 packs with signed saturation: sign-extend the low 16 bits first.
  const __m128i s = _mm_srai_epi32(_mm_slli_epi32((__m128i)w, 16), 16);
  const __m128i p = _mm_packs_epi32(s, s);
  vu16 out;
  std::memcpy(&out, &p, sizeof out);
  return out;
#else
  return __builtin_convertvector(w, vu16);
#endif
}

}  // namespace detail

inline vf half_to_float(vu16 h) {
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  return (vf)__builtin_ia32_vcvtph2ps512_mask((__v16hi)h, (__v16sf){}, (__mmask16)-1,
                                              _MM_FROUND_CUR_DIRECTION);
#elif defined(__F16C__) && LL_VEC_BYTES == 32
  return (vf)_mm256_cvtph_ps((__m128i)h);
#elif defined(__aarch64__) && LL_VEC_BYTES == 16
  return (vf)vcvt_f32_f16(vreinterpret_f16_u16((uint16x4_t)h));
#else
  return detail::half_to_float_int(h);
#endif
}

inline vu16 float_to_half(vf f) {
#if defined(__AVX512F__) && LL_VEC_BYTES == 64
  return (vu16)__builtin_ia32_vcvtps2ph512_mask((__v16sf)f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC, (__v16hi){},
                                                (__mmask16)-1);
#elif defined(__F16C__) && LL_VEC_BYTES == 32
  return (vu16)_mm256_cvtps_ph((__m256)f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#elif defined(__aarch64__) && LL_VEC_BYTES == 16
  return (vu16)vreinterpret_u16_f16(vcvt_f16_f32((float32x4_t)f));
#else
  return detail::narrow_lanes(detail::float_to_half_int(f));
#endif
}

inline vf bf16_to_float(vu16 b) { return (vf)(widen_lanes(b) << 16); }
inline vu16 float_to_bf16(vf f) {
#if defined(__AVX512BW__) && LL_VEC_BYTES == 64
  // The same arithmetic in 8 instructions for GCC's 10: the rounding sum is
  // kept unshifted, the NaN pattern comes from one vpternlogd, the NaN test
  // is a float compare, and vpermw takes the high 16 bits of every lane.
  // (Builtins where GCC 12's intrinsics pass an undefined vector and warn.)
  const vu32 u = (vu32)f;
  const vu32 r = u + 0x7fffu + ((u >> 16) & 1u);
  // (u & 0x80000000) | 0x7fc00000: the sign and the quiet NaN 0x7fc0, high half.
  const vu32 nan = (vu32)__builtin_ia32_pternlogd512_mask(
      (__v16si)u, (__v16si)(vu32{} + 0x80000000u), (__v16si)(vu32{} + 0x7fc00000u), 0xea,
      (__mmask16)-1);
  const vu32 bits = f != f ? nan : r;
  const __v32hi odd_words = {1,  3,  5,  7,  9,  11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
                             0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0};
  const __v32hi words =
      __builtin_ia32_permvarhi512_mask((__v32hi)bits, odd_words, (__v32hi){}, (__mmask32)-1);
  vu16 out;
  std::memcpy(&out, &words, sizeof out);
  return out;
#else
  return detail::narrow_lanes(detail::float_to_bf16_int(f));
#endif
}

template <class T>
inline vf widen16(vu16 b) {
  if constexpr (std::is_same<T, half_t>::value)
    return half_to_float(b);
  else
    return bf16_to_float(b);
}
template <class T>
inline vu16 narrow16(vf v) {
  if constexpr (std::is_same<T, half_t>::value)
    return float_to_half(v);
  else
    return float_to_bf16(v);
}

// Lane i holds i (as float or double lanes' integer type).
template <class V>
inline mask_t<V> lane_index() {
  mask_t<V> m{};
  for (int i = 0; i < lanes_v<V>; ++i) m[i] = i;
  return m;
}

// ------------------------------------------------------------ load / store

// Contiguous load of a full vector from storage T.
template <class T, class V = vec_t<compute_t<T>>>
inline V load(const T* p) {
  if constexpr (kIs16Bit<T>) {
    vu16 b;
    std::memcpy(&b, p, sizeof b);
    return widen16<T>(b);
  } else {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
}

// Load of the first n < lanes elements; other lanes get `fill`.
template <class T, class V = vec_t<compute_t<T>>>
inline V load_partial(const T* p, int64_t n, elem_t<V> fill) {
  if constexpr (kIs16Bit<T>) {
    vu16 b{};
    std::memcpy(&b, p, size_t(n) * sizeof(T));
    return lane_index<V>() < mask_t<V>{} + int32_t(n) ? widen16<T>(b) : splat<V>(fill);
  } else {
    V v = splat<V>(fill);
    for (int64_t i = 0; i < n; ++i) v[i] = p[i];
    return v;
  }
}

// Gather: lane i reads p[off[i]].
template <class T, class V = vec_t<compute_t<T>>>
inline V gather(const T* p, const int64_t* off) {
  if constexpr (kIs16Bit<T>) {
    vu16 b;
    for (int i = 0; i < lanes_v<V>; ++i) b[i] = p[off[i]].bits;
    return widen16<T>(b);
  } else {
    V v;
    for (int i = 0; i < lanes_v<V>; ++i) v[i] = p[off[i]];
    return v;
  }
}

template <class T, class V>
inline void store(T* p, V v) {
  if constexpr (kIs16Bit<T>) {
    const vu16 b = narrow16<T>(v);
    std::memcpy(p, &b, sizeof b);
  } else {
    std::memcpy(p, &v, sizeof v);
  }
}

template <class T, class V>
inline void store_partial(T* p, V v, int64_t n) {
  if constexpr (kIs16Bit<T>) {
    const vu16 b = narrow16<T>(v);
    std::memcpy(p, &b, size_t(n) * sizeof(T));
  } else {
    for (int64_t i = 0; i < n; ++i) p[i] = v[i];
  }
}

// Scatter the first n lanes: p[off[i]] = v[i].
template <class T, class V>
inline void scatter(T* p, const int64_t* off, V v, int n) {
  if constexpr (kIs16Bit<T>) {
    const vu16 b = narrow16<T>(v);
    if (n == lanes_v<V>) {  // a constant count: unrolled, no branch per lane
      for (int i = 0; i < lanes_v<V>; ++i) p[off[i]].bits = b[i];
      return;
    }
    for (int i = 0; i < n; ++i) p[off[i]].bits = b[i];
  } else {
    if (n == lanes_v<V>) {
      for (int i = 0; i < lanes_v<V>; ++i) p[off[i]] = v[i];
      return;
    }
    for (int i = 0; i < n; ++i) p[off[i]] = v[i];
  }
}

// n elements p[0], p[s], ..., p[(n-1) s] (n <= lanes), others `fill`.
template <class T, class V = vec_t<compute_t<T>>>
inline V load_strided_n(const T* p, int64_t s, int64_t n, elem_t<V> fill) {
  if constexpr (kIs16Bit<T>) {
    vu16 b{};
    for (int64_t i = 0; i < n; ++i) b[i] = p[i * s].bits;
    return lane_index<V>() < mask_t<V>{} + int32_t(n) ? widen16<T>(b) : splat<V>(fill);
  } else {
    V v = splat<V>(fill);
    for (int64_t i = 0; i < n; ++i) v[i] = p[i * s];
    return v;
  }
}

// The first n lanes to p[0], p[s], ..., p[(n-1) s].
template <class T, class V>
inline void store_strided_n(T* p, int64_t s, V v, int64_t n) {
  if constexpr (kIs16Bit<T>) {
    const vu16 b = narrow16<T>(v);
    for (int64_t i = 0; i < n; ++i) p[i * s].bits = b[i];
  } else {
    for (int64_t i = 0; i < n; ++i) p[i * s] = v[i];
  }
}

}  // namespace LL_ISA
}  // namespace logitloss
