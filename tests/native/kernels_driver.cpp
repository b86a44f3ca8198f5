// A C++ check of one ISA build of the kernels, without Python: the
// cross-compiled aarch64 (NEON) build runs it under QEMU in .ci/aarch64.sh,
// where pytest cannot run. It links the build's kernel objects
// (csrc/kernels/isa_table.cpp, isa_cross_entropy.cpp,
// isa_cross_entropy_blocked.cpp), calls its kernel
// table on float32, float64 and float16 rows (short and long, strided,
// rows holding +-inf and NaN) and compares every output with references
// computed here in long double: logsumexp, softmax, log_softmax, the
// cross-entropy loss and gradient, BCE-with-logits and its gradient.
// Prints each mismatch and exits non-zero if there is one.
//
// Build (what .ci/aarch64.sh does, with the cross compiler): the
// kernel units with -DLL_ISA=baseline -DLL_VEC_BYTES=16
// -DLL_TABLE_NAME=kernels_baseline, this file with the same table name,
// all with -std=c++17 -Icsrc, linked together.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/api.h"

#ifndef LL_TABLE_NAME
#error "define LL_TABLE_NAME as the kernel table's symbol (e.g. kernels_baseline)"
#endif

namespace logitloss {
extern const KernelTable LL_TABLE_NAME;
}

namespace {

using logitloss::DType;
using LD = long double;
const logitloss::KernelTable& K = logitloss::LL_TABLE_NAME;
constexpr LD kInf = std::numeric_limits<LD>::infinity();
constexpr LD kNaN = std::numeric_limits<LD>::quiet_NaN();

// ------------------------------------------------------------- storage

struct Half {
  uint16_t bits;
};

// long double -> float16, rounded once to nearest even (the reference).
uint16_t half_from(LD x) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return uint16_t(sign | 0x7e00);
  LD a = std::fabs(x);
  if (a >= 65520.0L) return uint16_t(sign | 0x7c00);
  int e;
  std::frexp(a, &e);  // a = f * 2^e, f in [0.5, 1)
  const int q = e - 11 < -24 ? -24 : e - 11;  // quantum exponent: 11 bits, or subnormal 2^-24
  const LD n = std::nearbyint(std::ldexp(a, -q));  // ties to even (default rounding)
  const LD r = std::ldexp(n, q);
  if (r >= 65520.0L) return uint16_t(sign | 0x7c00);
  if (r < 6.103515625e-05L) return uint16_t(sign | uint16_t(n));  // subnormal: n * 2^-24
  int re;
  const LD f = std::frexp(r, &re);
  const uint16_t man = uint16_t(std::ldexp(f, 11)) & 0x3ff;
  return uint16_t(sign | uint16_t((re - 1 + 15) << 10) | man);
}

LD half_value(uint16_t h) {
  const int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  const LD s = (h & 0x8000) ? -1.0L : 1.0L;
  if (exp == 0x1f) return man ? kNaN : s * kInf;
  if (exp == 0) return s * std::ldexp(LD(man), -24);
  return s * std::ldexp(LD(man + 1024), exp - 25);
}

template <class T>
struct Store;
template <>
struct Store<float> {
  static constexpr DType dtype = DType::f32;
  static constexpr const char* name = "float32";
  static float from(LD x) { return float(x); }
  static LD value(float x) { return x; }
  static int64_t order(float x) {  // consecutive floats get consecutive integers
    int32_t i;
    std::memcpy(&i, &x, 4);
    return i < 0 ? -int64_t(i & 0x7fffffff) : i;
  }
};
template <>
struct Store<double> {
  static constexpr DType dtype = DType::f64;
  static constexpr const char* name = "float64";
  static double from(LD x) { return double(x); }
  static LD value(double x) { return x; }
  static int64_t order(double x) {
    int64_t i;
    std::memcpy(&i, &x, 8);
    return i < 0 ? -(i & 0x7fffffffffffffffLL) : i;
  }
};
template <>
struct Store<Half> {
  static constexpr DType dtype = DType::f16;
  static constexpr const char* name = "float16";
  static Half from(LD x) { return {half_from(x)}; }
  static LD value(Half x) { return half_value(x.bits); }
  static int64_t order(Half x) { return (x.bits & 0x8000) ? -int64_t(x.bits & 0x7fff) : x.bits; }
};

// ------------------------------------------------------------- checking

int g_checks = 0, g_failures = 0;

// got (type T) against the exact value want: within `ulps` units of T's last
// place of the correctly rounded value; NaN and infinities exactly.
template <class T>
void expect(const char* what, int64_t index, T got, LD want, int ulps) {
  ++g_checks;
  const LD g = Store<T>::value(got);
  bool ok;
  if (std::isnan(want) || std::isnan(g))
    ok = std::isnan(want) && std::isnan(g);
  else if (std::isinf(want) || std::isinf(g))
    ok = g == want;
  else
    ok = std::llabs(Store<T>::order(got) - Store<T>::order(Store<T>::from(want))) <= ulps;
  if (!ok && ++g_failures <= 40)
    std::printf("MISMATCH %s %s [%lld]: got %.21Lg, want %.21Lg (%d ULP allowed)\n",
                Store<T>::name, what, (long long)index, g, want, ulps);
}

// A per-row float64 output (CE loss) compared in units of T's precision.
template <class T>
void expect_loss(const char* what, int64_t index, double got, LD want, int ulps) {
  expect<T>(what, index, Store<T>::from(got), want, ulps);
}

// ------------------------------------------------------------- references

// log(sum exp(x)) of a row: SciPy's special values.
LD ref_lse(const std::vector<LD>& x) {
  LD m = -kInf;
  for (LD v : x) {
    if (std::isnan(v)) return kNaN;
    m = v > m ? v : m;
  }
  if (std::isinf(m)) return m;
  // m + log(ties + rest), split so that a confident row's tiny rest keeps
  // its digits in long double too.
  LD ties = 0, rest = 0;
  for (LD v : x) (v == m ? ties : rest) += v == m ? 1.0L : std::exp(v - m);
  return m + std::log(ties) + std::log1p(rest / ties);
}

// A test row: values, and the kind of row it is.
struct Rows {
  int64_t outer, classes, inner;  // layout (outer, classes, inner), C order
  std::vector<std::vector<LD>> rows;  // rows[r][c], r = o * inner + i
};

template <class T>
std::vector<T> lay_out(const Rows& R) {
  std::vector<T> a(size_t(R.outer * R.classes * R.inner));
  for (int64_t o = 0; o < R.outer; ++o)
    for (int64_t c = 0; c < R.classes; ++c)
      for (int64_t i = 0; i < R.inner; ++i)
        a[size_t((o * R.classes + c) * R.inner + i)] = Store<T>::from(R.rows[size_t(o * R.inner + i)][size_t(c)]);
  return a;
}

template <class V, class P>
V view_of(const Rows& R, P data) {
  V v;
  v.data = data;
  v.outer = R.outer;
  v.classes = R.classes;
  v.inner = R.inner;
  v.s_outer = R.classes * R.inner;
  v.s_class = R.inner;
  v.s_inner = 1;
  return v;
}

// Row r, class c of an array laid out as R.
template <class T>
T at(const std::vector<T>& a, const Rows& R, int64_t r, int64_t c) {
  const int64_t o = r / R.inner, i = r % R.inner;
  return a[size_t((o * R.classes + c) * R.inner + i)];
}

// The rows as stored in T (so that references see the values the kernels see).
template <class T>
Rows stored(const Rows& R) {
  Rows S = R;
  for (auto& row : S.rows)
    for (LD& v : row) v = Store<T>::value(Store<T>::from(v));
  return S;
}

// ------------------------------------------------------------- kernels

template <class T>
void check_log_sum_exp_family(const Rows& R0, int ulps) {
  const Rows R = stored<T>(R0);
  const int64_t n_rows = R.outer * R.inner, C = R.classes;
  const std::vector<T> x = lay_out<T>(R);
  {
    std::vector<T> lse(static_cast<size_t>(n_rows));
    logitloss::LseTask t{};
    t.dtype = Store<T>::dtype;
    t.x = view_of<logitloss::View3>(R, x.data());
    t.lse = lse.data();
    K.logsumexp(t, 0, n_rows);
    for (int64_t r = 0; r < n_rows; ++r) {
      LD want = ref_lse(R.rows[size_t(r)]);
      expect<T>("logsumexp", r, lse[size_t(r)], want, ulps);
    }
  }
  for (bool log : {false, true}) {
    std::vector<T> out(x.size());
    logitloss::SoftmaxTask t{};
    t.dtype = Store<T>::dtype;
    t.log = log;
    t.x = view_of<logitloss::View3>(R, x.data());
    t.out = view_of<logitloss::MutView3>(R, out.data());
    K.softmax(t, 0, n_rows);
    for (int64_t r = 0; r < n_rows; ++r) {
      const std::vector<LD>& row = R.rows[size_t(r)];
      const LD lse = ref_lse(row);
      LD m = -kInf;
      bool nan = false;
      for (LD v : row) nan |= std::isnan(v), m = v > m ? v : m;
      for (int64_t c = 0; c < C; ++c) {
        LD want;
        if (nan || std::isinf(m))  // SciPy: NaN; log_softmax of a +inf row: -inf off the +inf
          want = log && !nan && m == kInf && row[size_t(c)] != kInf ? -kInf : kNaN;
        else
          want = log ? row[size_t(c)] - lse : std::exp(row[size_t(c)] - lse);
        expect<T>(log ? "log_softmax" : "softmax", r * C + c, at(out, R, r, c), want, ulps);
      }
    }
  }
}

template <class T>
void check_cross_entropy(const Rows& R0, int loss_ulps, int grad_ulps) {
  const Rows R = stored<T>(R0);
  const int64_t n_rows = R.outer * R.inner, C = R.classes;
  const std::vector<T> x = lay_out<T>(R);
  std::vector<int64_t> target(static_cast<size_t>(n_rows));
  for (int64_t r = 0; r < n_rows; ++r) target[size_t(r)] = (r * 7 + 3) % C;
  std::vector<double> loss(static_cast<size_t>(n_rows)), weight(static_cast<size_t>(n_rows));
  std::vector<T> grad(x.size());
  int64_t bad = INT64_MAX;
  logitloss::CeTask t{};
  t.dtype = Store<T>::dtype;
  t.x = view_of<logitloss::View3>(R, x.data());
  t.target = target.data();
  t.loss = loss.data();
  t.target_weight = weight.data();
  t.grad = view_of<logitloss::MutView3>(R, grad.data());
  t.grad_scalar = 1.0;
  t.bad_row = &bad;
  K.ce.cross_entropy(t, 0, n_rows);
  if (bad != INT64_MAX) ++g_failures, std::printf("MISMATCH cross-entropy reported a bad row\n");
  for (int64_t r = 0; r < n_rows; ++r) {
    const std::vector<LD>& row = R.rows[size_t(r)];
    const LD lse = ref_lse(row);
    const int64_t tc = target[size_t(r)];
    const bool finite = std::isfinite(lse);
    expect_loss<T>("cross-entropy loss", r, loss[size_t(r)], finite ? lse - row[size_t(tc)] : kNaN,
                   loss_ulps);
    // p_c off the target; at the target p_t - 1 = -(sum of the others),
    // which does not cancel for a confident row.
    LD others = 0;
    for (int64_t c = 0; c < C; ++c)
      if (c != tc) others += std::exp(row[size_t(c)] - lse);
    for (int64_t c = 0; c < C; ++c) {
      LD want = kNaN;
      if (finite) want = c == tc ? -others : std::exp(row[size_t(c)] - lse);
      expect<T>("cross-entropy grad", r * C + c, at(grad, R, r, c), want, grad_ulps);
    }
  }
}

template <class T>
void check_bce(const std::vector<LD>& xs0, int ulps) {
  const int64_t n = int64_t(xs0.size());
  std::vector<T> x(xs0.size()), y(xs0.size()), loss(xs0.size()), grad(xs0.size());
  std::vector<LD> xs(xs0.size()), ys(xs0.size());
  for (int64_t i = 0; i < n; ++i) {
    x[size_t(i)] = Store<T>::from(xs0[size_t(i)]);
    xs[size_t(i)] = Store<T>::value(x[size_t(i)]);
    ys[size_t(i)] = LD(i % 3 == 0);
    y[size_t(i)] = Store<T>::from(ys[size_t(i)]);
  }
  const Rows flat{1, n, 1, {}};
  logitloss::BinaryLossTask t{};
  t.dtype = Store<T>::dtype;
  t.loss = logitloss::BinaryLoss::bce;
  t.size = n;
  t.block = 4096;
  t.x = view_of<logitloss::View3>(flat, x.data());
  t.y = view_of<logitloss::View3>(flat, y.data());
  t.loss_out = view_of<logitloss::MutView3>(flat, loss.data());
  t.grad_out = view_of<logitloss::MutView3>(flat, grad.data());
  t.g_scalar = 1.0;
  K.binary_loss(t, 0, (n + t.block - 1) / t.block);
  for (int64_t i = 0; i < n; ++i) {
    const LD a = xs[size_t(i)], b = ys[size_t(i)];
    // softplus(-a) + (1 - b) a, and sigmoid(a) - b, in forms exact at +-inf.
    LD want_loss, want_grad;
    if (std::isnan(a)) {
      want_loss = want_grad = kNaN;
    } else if (std::isinf(a)) {
      const bool right = (a > 0) == (b == 1);
      want_loss = right ? 0.0L : kInf;
      want_grad = (a > 0 ? 1.0L : 0.0L) - b;
    } else {
      want_loss = std::log1p(std::exp(-std::fabs(a))) + (a > 0 ? (1 - b) * a : -b * a);
      want_grad = b == 1 ? -1.0L / (1.0L + std::exp(a)) : 1.0L / (1.0L + std::exp(-a));
    }
    expect<T>("bce loss", i, loss[size_t(i)], want_loss, ulps);
    expect<T>("bce grad", i, grad[size_t(i)], want_grad, ulps);
  }
}

// ------------------------------------------------------------- test rows

Rows make_rows(std::mt19937_64& gen, int64_t outer, int64_t C, int64_t inner, LD spread) {
  std::normal_distribution<double> normal(0.0, 1.0);
  Rows R{outer, C, inner, {}};
  for (int64_t r = 0; r < outer * inner; ++r) {
    std::vector<LD> row(static_cast<size_t>(C));
    for (LD& v : row) v = LD(normal(gen)) * spread;
    R.rows.push_back(row);
  }
  return R;
}

// Rows with special values: a +inf entry, a NaN, all -inf, -inf entries,
// a tie at the max, and a confident row (margins of 30).
void add_special_rows(Rows& R) {
  const int64_t C = R.classes;
  std::vector<std::vector<LD>> extra(6, std::vector<LD>(size_t(C), 0.5L));
  for (int64_t c = 0; c < C; ++c) {
    extra[2][size_t(c)] = -kInf;
    extra[3][size_t(c)] = c % 2 ? -kInf : LD(c) * 0.25L;
    extra[4][size_t(c)] = LD(c % 5) - 2.0L;
    extra[5][size_t(c)] = -30.0L - LD(c % 3);
  }
  extra[0][size_t(C / 2)] = kInf;
  extra[1][size_t(C - 1)] = kNaN;
  extra[5][0] = 0.0L;
  if (C > 1) extra[4][1] = extra[4][0] = 3.0L;  // a tie at the max
  for (auto& row : extra) R.rows.push_back(row);
  R.outer += 6;  // inner == 1 for these layouts
}

template <class T>
void check_type(int lse_ulps, int ce_loss_ulps, int ce_grad_ulps, int bce_ulps) {
  std::mt19937_64 gen(20261207);
  const int64_t short_and_long[] = {1, 3, 7, 16, 17, 1000, 4099};
  for (int64_t C : short_and_long) {
    Rows R = make_rows(gen, 5, C, 1, 3.0L);
    add_special_rows(R);
    check_log_sum_exp_family<T>(R, lse_ulps);
    check_cross_entropy<T>(R, ce_loss_ulps, ce_grad_ulps);
  }
  // Strided rows (classes not last: row blocks and gathers).
  for (int64_t C : {int64_t(5), int64_t(40)}) {
    const Rows R = make_rows(gen, 3, C, 7, 3.0L);
    check_log_sum_exp_family<T>(R, lse_ulps);
    check_cross_entropy<T>(R, ce_loss_ulps, ce_grad_ulps);
  }
  std::vector<LD> xs;
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int i = 0; i < 5000; ++i) xs.push_back(LD(normal(gen)) * (i % 2 ? 4.0L : 30.0L));
  for (LD v : {0.0L, -0.0L, kInf, -kInf, kNaN, 1e-30L, -1e-30L, 88.0L, -88.0L}) xs.push_back(v);
  check_bce<T>(xs, bce_ulps);
}

}  // namespace

int main() {
  std::printf("kernel table: %s\n", K.isa);
  // Bounds: the tests' (4 ULP losses, 8 ULP gradients); 16-bit results are
  // float32 values rounded once, so within 1 ULP of the exact rounding.
  check_type<float>(4, 4, 8, 4);
  check_type<double>(4, 4, 8, 4);
  check_type<Half>(1, 1, 1, 1);
  std::printf("%d checks, %d mismatches\n", g_checks, g_failures);
  return g_failures ? 1 : 0;
}
