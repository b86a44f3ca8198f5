// Complex log-sum-exp with SciPy's semantics (scipy.special.logsumexp of
// complex64 / complex128 input), one row of the (outer, classes, inner) view
// at a time.
//
// Note [Complex log-sum-exp]
// Complex input is rare, so this is scalar code with the C library's exp,
// cos, sin, log, log1p, hypot and atan2 (each within an ULP or so), compiled
// once rather than per SIMD level: every level gives the same bits. Both
// complex64 and complex128 are computed in double (float to double is exact),
// so complex64 results are rounded once at the end.
//
// A row's value is log(S), S = sum_k b_k exp(a_k) (b_k = 1 without b), on
// the principal branch: imaginary part in (-pi, pi]. With return_sign it is
// log|S| and the unit S / |S| (0 for S = 0), as SciPy returns them.
// Entries whose b_k is 0 are left out entirely (as for real input), and so
// are entries with Re a_k = -inf and a finite b_k: exp(a_k) is exactly 0
// there whatever Im a_k is (C99's cexp, which NumPy follows).
//
// Stable path (every remaining entry finite): with t the entry of largest
// real part m (SciPy separates the same one), T the compensated (Neumaier)
// sum of the others' b_k exp(Re a_k - m) (cos Im a_k, sin Im a_k), and
// s = T conj(e^{i Im a_t}) / b_t (so S = e^m b_t e^{i Im a_t} (1 + s)):
//   Re log S = m + log|b_t| + log|1 + s|
//   Im log S = arg(e^{i Im a_t} (b_t / |b_t|) (1 + s)), by atan2
// log|1 + s| is 0.5 log1p(Re s (2 + Re s) + Im s^2) for |s| < 1/2, so a
// dominant entry keeps every digit (SciPy's gh-18295), and log|1 + s| from
// hypot otherwise, so terms that cancel (1 + s near 0) keep theirs. Each
// phase is taken from its own Im a_k with the library's exact argument
// reduction, never from a difference of imaginary parts, so even |Im a| of
// 1e10 gives the principal value to an ULP or so (SciPy wraps a sum of
// angles modulo 2 * pi_double, off by ~1e-7 there). A result of exactly
// -pi is returned as +pi (the branch cut), and -0 imaginary parts as +0.
// Measured against mpmath (tests/test_logsumexp_complex.py): complex128
// within a few ULP of max(|Re|, |Im|, 1) per part, complex64 within 1 ULP.
//
// Direct path, SciPy's own fallback, where an entry is infinite or NaN or
// the stable value is not finite (e.g. S = 0, or an overflow): log of the
// plain sum of b_k cexp(a_k), with NumPy's naive complex product and sum
// (started at +0, as np.sum is: a sum of zeros is +0) and C99's cexp and clog
// (glibc's, which NumPy uses too), so every inf / NaN / signed-zero case is
// NumPy's: SciPy's test_gh22601_infinite_elements compares with exactly that.
// With return_sign: log|sum| and sum / |sum| in NumPy's division, NaN for an
// infinite sum. A NaN imaginary part makes the real part NaN too (SciPy
// rebuilds the result as real + imag * 1j). One SciPy quirk is kept: with
// return_sign, a single term whose imaginary part is infinite or NaN has
// the finite log|b e^a| and a NaN sign (SciPy tests only the real part).
#include <cmath>
#include <complex>
#include <cstdint>

#include "api.h"

namespace logitloss {
namespace {

constexpr double kPi = 3.141592653589793;
constexpr double kInf = HUGE_VAL;
constexpr double kNaN = NAN;

// A complex number with NumPy's naive arithmetic (no C99 Annex G recovery).
struct Cx {
  double re, im;
};
inline Cx mul(Cx a, Cx b) { return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re}; }
// Smith's division; b finite and nonzero.
inline Cx divide(Cx a, Cx b) {
  if (std::fabs(b.re) >= std::fabs(b.im)) {
    const double q = b.im / b.re, d = b.re + b.im * q;
    return {(a.re + a.im * q) / d, (a.im - a.re * q) / d};
  }
  const double q = b.re / b.im, d = b.re * q + b.im;
  return {(a.re * q + a.im) / d, (a.im * q - a.re) / d};
}
inline bool finite(Cx z) { return std::isfinite(z.re) && std::isfinite(z.im); }

// Neumaier's compensated sum: error about 2 ULP of sum |x_i|, whatever n is.
struct CompensatedSum {
  double sum = 0, carry = 0;
  void add(double x) {
    const double t = sum + x;
    carry += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
    sum = t;
  }
  double value() const { return sum + carry; }
};

template <class View>
inline int64_t row_offset(const View& v, int64_t r) {
  return (r / v.inner) * v.s_outer + (r % v.inner) * v.s_inner;
}

// One row of a (and b): n complex entries of storage type F.
template <class F>
struct Row {
  const F* a;  // entry k at a[2 * k * sa], imaginary part next
  int64_t sa;
  const F* b;  // null without b
  int64_t sb;
  int64_t n;
  Cx at(int64_t k) const { return {double(a[2 * k * sa]), double(a[2 * k * sa + 1])}; }
  Cx weight(int64_t k) const {
    return b ? Cx{double(b[2 * k * sb]), double(b[2 * k * sb + 1])} : Cx{1, 0};
  }
  bool included(int64_t k) const {
    if (!b) return true;
    const Cx w = weight(k);
    return w.re != 0 || w.im != 0;
  }
  // exp(a_k) is exactly 0 and b_k finite: the entry adds nothing.
  bool negligible(int64_t k) const { return at(k).re == -kInf && finite(weight(k)); }
};

struct RowResult {
  double re, im;  // log S (im unused with a sign)
  Cx sign;        // S / |S|
};

// log|1 + s| without cancellation (Note [Complex log-sum-exp]).
inline double log_abs_1p(Cx s) {
  if (std::hypot(s.re, s.im) < 0.5) return 0.5 * std::log1p(s.re * (2 + s.re) + s.im * s.im);
  return std::log(std::hypot(1 + s.re, s.im));
}

// The stable path over the entries that are included and not negligible,
// all finite; `top` has the largest real part. False if the value is not
// finite (the caller then takes the direct path).
template <class F>
bool stable_row(const Row<F>& row, int64_t top, RowResult& out) {
  const Cx at = row.at(top), wt = row.weight(top);
  const double m = at.re;
  CompensatedSum tr, ti;
  for (int64_t k = 0; k < row.n; ++k) {
    if (k == top || !row.included(k) || row.negligible(k)) continue;
    const Cx z = row.at(k);
    const double e = std::exp(z.re - m);
    Cx term{e * std::cos(z.im), e * std::sin(z.im)};
    if (row.b) term = mul(row.weight(k), term);
    tr.add(term.re);
    ti.add(term.im);
  }
  const Cx phase{std::cos(at.im), std::sin(at.im)};
  const Cx s = divide(mul({tr.value(), ti.value()}, {phase.re, -phase.im}), wt);
  const double abs_w = std::hypot(wt.re, wt.im);
  out.re = (log_abs_1p(s) + std::log(abs_w)) + m;
  Cx u = mul(phase, {1 + s.re, s.im});
  if (row.b) u = mul(u, {wt.re / abs_w, wt.im / abs_w});
  out.im = std::atan2(u.im, u.re);
  const double abs_u = std::hypot(u.re, u.im);
  out.sign = {u.re / abs_u, u.im / abs_u};
  return std::isfinite(out.re) && std::isfinite(out.im);
}

// SciPy's fallback: log of the plain sum, NumPy's arithmetic throughout.
template <class F>
RowResult direct_row(const Row<F>& row, bool with_sign) {
  Cx sum{0.0, 0.0};
  for (int64_t k = 0; k < row.n; ++k) {
    if (!row.included(k)) continue;
    const Cx z = row.at(k);
    const std::complex<double> e = std::exp(std::complex<double>(z.re, z.im));  // cexp
    Cx term{e.real(), e.imag()};
    if (row.b) term = mul(row.weight(k), term);
    sum.re += term.re;
    sum.im += term.im;
  }
  RowResult out{};
  if (!with_sign) {
    const std::complex<double> l = std::log(std::complex<double>(sum.re, sum.im));  // clog
    out.re = l.real();
    out.im = l.imag();
    return out;
  }
  const double h = std::hypot(sum.re, sum.im);
  out.re = std::log(h);
  if (sum.re == 0 && sum.im == 0) {
    out.sign = {0, 0};
  } else {
    const double scale = 1.0 / h;  // NumPy's complex division by (h + 0j)
    out.sign = {(sum.re + sum.im * 0.0) * scale, (sum.im - sum.re * 0.0) * scale};
  }
  return out;
}

template <class F>
RowResult complex_lse_row(const Row<F>& row, bool with_sign) {
  int64_t top = -1, included = 0, terms = 0;
  double m = -kInf;
  bool clean = true, phase_nan = false;  // clean: real parts and weights finite
  for (int64_t k = 0; k < row.n && clean; ++k) {
    if (!row.included(k)) continue;
    ++included;
    if (row.negligible(k)) continue;
    ++terms;
    const Cx z = row.at(k);
    if (!std::isfinite(z.re) || !finite(row.weight(k))) clean = false;
    phase_nan |= !std::isfinite(z.im);
    if (top < 0 || z.re > m) m = z.re, top = k;
  }
  if (included == 0) return {-kInf, 0.0, {0, 0}};  // an empty sum
  RowResult out;
  if (clean && !phase_nan && top >= 0 && stable_row(row, top, out)) return out;
  if (clean && phase_nan && with_sign && terms == 1) {
    // One term of finite modulus and unknown phase: SciPy's stable path
    // returns log|b e^a| (its finiteness test sees only the real part) and
    // a NaN sign.
    const Cx w = row.weight(top);
    return {m + std::log(std::hypot(w.re, w.im)), kNaN, {kNaN, kNaN}};
  }
  return direct_row(row, with_sign);
}

template <class F>
void complex_lse_rows(const ComplexLseTask& t, int64_t r0, int64_t r1) {
  const F pi = F(kPi);
  for (int64_t r = r0; r < r1; ++r) {
    const Row<F> row{static_cast<const F*>(t.a.data) + 2 * row_offset(t.a, r), t.a.s_class,
                     t.b.data ? static_cast<const F*>(t.b.data) + 2 * row_offset(t.b, r) : nullptr,
                     t.b.s_class, t.a.classes};
    const RowResult v = complex_lse_row(row, t.sign != nullptr);
    if (t.sign) {
      F* sign = static_cast<F*>(t.sign) + 2 * r;
      const bool nan = std::isnan(v.sign.im);  // SciPy: real + imag * 1j
      sign[0] = nan ? F(NAN) : F(v.sign.re);
      sign[1] = F(v.sign.im);
      static_cast<F*>(t.lse)[r] = F(v.re);
      continue;
    }
    F* lse = static_cast<F*>(t.lse) + 2 * r;
    F im = F(v.im);
    im = im == -pi ? pi : im + F(0);  // (-pi, pi], and +0 for -0
    lse[0] = std::isnan(im) ? F(NAN) : F(v.re);
    lse[1] = im;
  }
}

}  // namespace

void complex_logsumexp(const ComplexLseTask& t, int64_t r0, int64_t r1) noexcept {
  if (t.f64)
    complex_lse_rows<double>(t, r0, r1);
  else
    complex_lse_rows<float>(t, r0, r1);
}

}  // namespace logitloss
