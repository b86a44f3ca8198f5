// The only file that knows pybind11. It receives arrays that the Python layer
// has already validated and shaped as (outer, classes, inner) views, checks
// only what memory safety needs, releases the GIL and runs a kernel.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "kernels/api.h"
#include "runtime/buffer_cache.h"
#include "runtime/dispatch.h"
#include "runtime/thread_pool.h"

namespace py = pybind11;
using namespace logitloss;

namespace {

// Rows per parallel chunk: at least ~32k elements of work, so small inputs
// stay on the calling thread. Depends only on the shape: results never
// depend on the thread count.
int64_t rows_per_chunk(int64_t classes) {
  const int64_t min_work = int64_t(1) << 15;
  const int64_t per_row = classes > 0 ? classes : 1;
  return (min_work + per_row - 1) / per_row;
}

DType dtype_of(const py::array& a) {
  const py::dtype dt = a.dtype();
  if (dt.kind() == 'f') {
    switch (dt.itemsize()) {
      case 4: return DType::f32;
      case 8: return DType::f64;
      case 2: return DType::f16;
    }
  }
  if (dt.itemsize() == 2 && std::string(py::str(dt.attr("name"))) == "bfloat16") return DType::bf16;
  throw py::type_error("logitloss._core: unsupported dtype " + std::string(py::str(dt)));
}

void require_same_dtype(const py::array& a, const py::array& ref, const char* what) {
  if (!a.dtype().is(ref.dtype()) && !a.dtype().equal(ref.dtype()))
    throw py::type_error(std::string("logitloss._core: ") + what + " has another dtype");
}

template <class View>
View view3(const py::array& a, const char* what) {
  if (a.ndim() != 3) throw py::value_error(std::string("logitloss._core: ") + what + " must be 3-D");
  const auto item = static_cast<int64_t>(a.itemsize());
  View v;
  v.outer = a.shape(0);
  v.classes = a.shape(1);
  v.inner = a.shape(2);
  v.s_outer = a.strides(0) / item;
  v.s_class = a.strides(1) / item;
  v.s_inner = a.strides(2) / item;
  for (int d = 0; d < 3; ++d)
    if (a.strides(d) % item != 0)
      throw py::value_error(std::string("logitloss._core: ") + what + " is misaligned");
  return v;
}

View3 in_view(const py::array& a, const char* what) {
  View3 v = view3<View3>(a, what);
  v.data = a.data();
  return v;
}

MutView3 out_view(py::array& a, const py::array& like, const char* what) {
  if (!a.writeable()) throw py::value_error(std::string("logitloss._core: ") + what + " is read-only");
  MutView3 v = view3<MutView3>(a, what);
  v.data = a.mutable_data();
  for (int d = 0; d < 3; ++d)
    if (a.shape(d) != like.shape(d))
      throw py::value_error(std::string("logitloss._core: ") + what + " has the wrong shape");
  return v;
}

// A per-row output: C-contiguous, outer * inner elements of x's dtype.
void* row_out(py::array& a, const py::array& x, const char* what) {
  require_same_dtype(a, x, what);
  if (!a.writeable() || !(a.flags() & py::array::c_style) || a.size() != x.shape(0) * x.shape(2))
    throw py::value_error(std::string("logitloss._core: ") + what + " must be a writable row buffer");
  return a.mutable_data();
}

View3 optional_view(const py::object& o, const py::array& x, const char* what) {
  if (o.is_none()) return View3{};
  py::array a = py::reinterpret_borrow<py::array>(o);
  require_same_dtype(a, x, what);
  View3 v = in_view(a, what);
  if (v.outer != x.shape(0) || v.classes != x.shape(1) || v.inner != x.shape(2))
    throw py::value_error(std::string("logitloss._core: ") + what + " has the wrong shape");
  return v;
}

// Runs kernel(task, r0, r1) over all rows with the GIL released.
template <class Task, class Kernel>
void run_rows(const Task& task, Kernel kernel, int64_t rows, int64_t classes) {
  // Releasing the GIL is safe: the kernels touch no Python object, and the
  // arrays are kept alive by the caller's references.
  py::gil_scoped_release release;
  parallel_for(rows, rows_per_chunk(classes),
               [&](int64_t r0, int64_t r1) { kernel(task, r0, r1); });
}

void logsumexp(const py::array& x, const py::object& b, py::array& lse, const py::object& sign) {
  LseTask t{};
  t.dtype = dtype_of(x);
  t.x = in_view(x, "x");
  t.b = optional_view(b, x, "b");
  t.lse = row_out(lse, x, "lse");
  if (!sign.is_none()) {
    py::array s = py::reinterpret_borrow<py::array>(sign);
    t.sign = row_out(s, x, "sign");
  }
  run_rows(t, kernels().logsumexp, t.x.outer * t.x.inner, t.x.classes);
}

void softmax(const py::array& x, py::array& out, bool log) {
  SoftmaxTask t{};
  t.dtype = dtype_of(x);
  t.log = log;
  t.x = in_view(x, "x");
  require_same_dtype(out, x, "out");
  t.out = out_view(out, x, "out");
  run_rows(t, kernels().softmax, t.x.outer * t.x.inner, t.x.classes);
}

void logsumexp_grad(const py::array& x, const py::object& b, const py::array& g, py::array& out) {
  LseGradTask t{};
  t.dtype = dtype_of(x);
  t.x = in_view(x, "x");
  t.b = optional_view(b, x, "b");
  require_same_dtype(g, x, "grad_output");
  if (!(g.flags() & py::array::c_style) || g.size() != x.shape(0) * x.shape(2))
    throw py::value_error("logitloss._core: grad_output must be a contiguous row buffer");
  t.g = g.data();
  require_same_dtype(out, x, "out");
  t.out = out_view(out, x, "out");
  run_rows(t, kernels().logsumexp_grad, t.x.outer * t.x.inner, t.x.classes);
}

void softmax_grad(const py::array& x, const py::array& g, py::array& out, bool log) {
  SoftmaxGradTask t{};
  t.dtype = dtype_of(x);
  t.log = log;
  t.x = in_view(x, "x");
  require_same_dtype(g, x, "grad_output");
  t.g = optional_view(g, x, "grad_output");
  require_same_dtype(out, x, "out");
  t.out = out_view(out, x, "out");
  run_rows(t, kernels().softmax_grad, t.x.outer * t.x.inner, t.x.classes);
}

// complex64 / complex128 (false / true); TypeError otherwise.
bool complex_f64(const py::array& a, const char* what) {
  const py::dtype dt = a.dtype();
  if (dt.kind() == 'c' && (dt.itemsize() == 8 || dt.itemsize() == 16)) return dt.itemsize() == 16;
  throw py::type_error(std::string("logitloss._core: ") + what + " must be complex64 or complex128");
}

// A per-row output of `a` complex dtype (or, when `real`, its real dtype).
void* complex_row_out(py::array& out, const py::array& a, bool real, const char* what) {
  const bool f64 = complex_f64(a, "a");
  const py::dtype want = real ? py::dtype(f64 ? "float64" : "float32") : a.dtype();
  if (!out.dtype().equal(want) || !out.writeable() || !(out.flags() & py::array::c_style) ||
      out.size() != a.shape(0) * a.shape(2))
    throw py::value_error(std::string("logitloss._core: ") + what + " must be a writable row buffer");
  return out.mutable_data();
}

// Complex logsumexp over axis 1 of the 3-D view a (b: same dtype and shape,
// or None); lse is complex, or real when sign (complex) is given.
void logsumexp_complex(const py::array& a, const py::object& b, py::array& lse,
                       const py::object& sign) {
  ComplexLseTask t{};
  t.f64 = complex_f64(a, "a");
  t.a = in_view(a, "a");
  if (!b.is_none()) {
    py::array bb = py::reinterpret_borrow<py::array>(b);
    if (!bb.dtype().equal(a.dtype())) throw py::type_error("logitloss._core: b has another dtype");
    t.b = in_view(bb, "b");
    if (t.b.outer != t.a.outer || t.b.classes != t.a.classes || t.b.inner != t.a.inner)
      throw py::value_error("logitloss._core: b has the wrong shape");
  }
  t.lse = complex_row_out(lse, a, !sign.is_none(), "lse");
  if (!sign.is_none()) {
    py::array s = py::reinterpret_borrow<py::array>(sign);
    t.sign = complex_row_out(s, a, false, "sign");
  }
  run_rows(t, complex_logsumexp, t.a.outer * t.a.inner, t.a.classes);
}

// An optional output shaped like x (None: absent).
MutView3 optional_out(const py::object& o, const py::array& x, const char* what) {
  if (o.is_none()) return MutView3{};
  py::array a = py::reinterpret_borrow<py::array>(o);
  require_same_dtype(a, x, what);
  return out_view(a, x, what);
}

// --- cross-entropy family ---------------------------------------------------

// A C-contiguous buffer of `n` elements of C++ type E (float64 or int64).
template <class E>
E* flat_buffer(const py::object& o, int64_t n, const char* what, bool writable) {
  if (o.is_none()) return nullptr;
  py::array a = py::reinterpret_borrow<py::array>(o);
  if (!py::isinstance<py::array_t<E>>(a) || !(a.flags() & py::array::c_style) || a.size() != n ||
      (writable && !a.writeable()))
    throw py::value_error(std::string("logitloss._core: ") + what + " must be a contiguous buffer of " +
                          std::to_string(n) + " elements of the right dtype");
  // Inputs may be read-only arrays: the kernels never write through them.
  return writable ? static_cast<E*>(a.mutable_data()) : const_cast<E*>(static_cast<const E*>(a.data()));
}

// A cross-entropy (or NLL) task of the arguments common to every variant.
CeTask ce_task(const py::array& x, const py::object& target, const py::object& prob,
               const py::object& weight, int64_t ignore_index, bool has_ignore, double smoothing,
               const py::object& loss, const py::object& target_weight, const py::object& grad,
               const py::object& grad_scale, double grad_scalar, bool nll) {
  CeTask t{};
  t.dtype = dtype_of(x);
  t.x = in_view(x, "x");
  const int64_t rows = t.x.outer * t.x.inner;
  t.target = flat_buffer<int64_t>(target, rows, "target", false);
  t.prob = optional_view(prob, x, "prob");
  if ((t.target == nullptr) == (t.prob.data == nullptr) || (nll && !t.target))
    throw py::value_error("logitloss._core: give exactly one of target and prob");
  t.weight = flat_buffer<double>(weight, t.x.classes, "weight", false);
  t.ignore_index = ignore_index;
  t.has_ignore = has_ignore;
  if (!(smoothing >= 0 && smoothing <= 1))
    throw py::value_error("logitloss._core: smoothing must be in [0, 1]");
  t.smoothing = smoothing;
  t.loss = flat_buffer<double>(loss, rows, "loss", true);
  t.target_weight = flat_buffer<double>(target_weight, rows, "target_weight", true);
  t.grad = optional_out(grad, x, "grad");
  t.grad_scale = flat_buffer<double>(grad_scale, rows, "grad_scale", false);
  t.grad_scalar = grad_scalar;
  return t;
}

// Runs a cross-entropy (or NLL) task; returns the lowest row whose target is
// out of range, or -1. Outputs that are None are not computed.
int64_t run_cross_entropy(CeTask& t, bool nll) {
  int64_t bad = INT64_MAX;
  t.bad_row = &bad;
  const auto kernel = nll ? kernels().ce.nll_loss : kernels().ce.cross_entropy;
  // NLL and the targets-only pass read O(1) elements per row.
  const bool per_row_work = nll || (!t.loss && !t.grad.data);
  run_rows(t, kernel, t.x.outer * t.x.inner, per_row_work ? 1 : t.x.classes);
  return bad == INT64_MAX ? -1 : bad;
}

int64_t cross_entropy(const py::array& x, const py::object& target, const py::object& prob,
                      const py::object& weight, int64_t ignore_index, bool has_ignore,
                      double smoothing, double softcap, double z_loss, const py::object& loss,
                      const py::object& target_weight, const py::object& grad,
                      const py::object& grad_scale, double grad_scalar, bool nll) {
  CeTask t = ce_task(x, target, prob, weight, ignore_index, has_ignore, smoothing, loss,
                     target_weight, grad, grad_scale, grad_scalar, nll);
  // softcap: 0 (none) or finite and > 0; z_loss finite and >= 0.
  if (!(softcap == 0 || (softcap > 0 && std::isfinite(softcap))) ||
      !(z_loss >= 0 && std::isfinite(z_loss)))
    throw py::value_error("logitloss._core: bad softcap or z_loss");
  t.softcap = softcap;
  t.z_loss = z_loss;
  return run_cross_entropy(t, nll);
}

// Poly-1 (variant 1: epsilon) or softmax focal loss (variant 2: gamma, alpha
// per class or alpha_scalar; index targets, no smoothing): the
// cross-entropy kernel's rows with Note [Poly-1 cross-entropy] / Note
// [Softmax focal loss]. As cross_entropy otherwise.
int64_t cross_entropy_variant(const py::array& x, const py::object& target,
                              const py::object& prob, const py::object& weight,
                              int64_t ignore_index, bool has_ignore, double smoothing,
                              int variant, double epsilon, double gamma, const py::object& alpha,
                              double alpha_scalar, const py::object& loss,
                              const py::object& target_weight, const py::object& grad,
                              const py::object& grad_scale, double grad_scalar) {
  CeTask t = ce_task(x, target, prob, weight, ignore_index, has_ignore, smoothing, loss,
                     target_weight, grad, grad_scale, grad_scalar, false);
  if (variant == int(CeVariant::poly1)) {
    if (!std::isfinite(epsilon)) throw py::value_error("logitloss._core: bad epsilon");
    t.epsilon = epsilon;
  } else if (variant == int(CeVariant::focal)) {
    if (!t.target || smoothing != 0 || t.weight != nullptr || !(gamma >= 0 && std::isfinite(gamma)))
      throw py::value_error("logitloss._core: focal rows take index targets and gamma >= 0 only");
    t.gamma = gamma;
    t.alpha = flat_buffer<double>(alpha, t.x.classes, "alpha", false);
    t.alpha_scalar = alpha_scalar;
  } else {
    throw py::value_error("logitloss._core: unknown cross-entropy variant");
  }
  t.variant = CeVariant(variant);
  return run_cross_entropy(t, false);
}

// Sum of a float64 buffer in a fixed pairwise order (so reductions never
// depend on the thread count): error O(log n) ulps.
double pairwise_sum(const double* p, int64_t n) {
  if (n <= 16) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s;
  }
  const int64_t half = n / 2;
  return pairwise_sum(p, half) + pairwise_sum(p + half, n - half);
}

// The per-row losses or weights of a reduction, summed.
double row_sum(const py::array& a) {
  if (!py::isinstance<py::array_t<double>>(a) || !(a.flags() & py::array::c_style))
    throw py::value_error("logitloss._core: row_sum takes a contiguous float64 buffer");
  return pairwise_sum(static_cast<const double*>(a.data()), a.size());
}

// The common reduced cross-entropy in one call: index targets (int64, one per
// row), no weight, no smoothing. Returns (first bad row or -1, sum of the
// losses, sum of the target weights), both sums as row_sum adds them.
py::tuple cross_entropy_reduced(const py::array& x, const py::array& target, int64_t ignore_index,
                                bool has_ignore) {
  CeTask t{};
  t.dtype = dtype_of(x);
  t.x = in_view(x, "x");
  const int64_t rows = t.x.outer * t.x.inner;
  t.target = flat_buffer<int64_t>(target, rows, "target", false);
  t.ignore_index = ignore_index;
  t.has_ignore = has_ignore;
  std::vector<double> loss(static_cast<size_t>(rows)), weight(static_cast<size_t>(rows));
  t.loss = loss.data();
  t.target_weight = weight.data();
  int64_t bad = INT64_MAX;
  t.bad_row = &bad;
  double loss_sum, weight_sum;
  {
    // Releasing the GIL is safe: no Python object is touched inside.
    py::gil_scoped_release release;
    parallel_for(rows, rows_per_chunk(t.x.classes), [&](int64_t r0, int64_t r1) {
      kernels().ce.cross_entropy(t, r0, r1);
    });
    loss_sum = pairwise_sum(loss.data(), rows);
    weight_sum = pairwise_sum(weight.data(), rows);
  }
  return py::make_tuple(bad == INT64_MAX ? -1 : bad, loss_sum, weight_sum);
}

// --- end cross-entropy family -----------------------------------------------
// --- divergences: softmax_kl_div, generalized_jsd

// kind: 0 forward KL(P || Q), 1 reverse KL(Q || P), 2 generalized JSD with
// beta in (0, 1). x and y are (outer, classes, inner) views of one shape and
// dtype; loss (per row, float64) and grad (shaped like x, may be x) are
// optional outputs.
void divergence(const py::array& x, const py::array& y, int kind, double beta,
                double inv_temperature, const py::object& loss, const py::object& grad,
                const py::object& grad_scale, double grad_scalar) {
  DivTask t{};
  t.dtype = dtype_of(x);
  if (kind < 0 || kind > 2) throw py::value_error("logitloss._core: unknown divergence");
  t.kind = static_cast<Divergence>(kind);
  if (t.kind == Divergence::jsd && !(beta > 0 && beta < 1))
    throw py::value_error("logitloss._core: beta must be in (0, 1)");
  if (!(inv_temperature > 0 && std::isfinite(inv_temperature)))
    throw py::value_error("logitloss._core: inv_temperature must be finite and > 0");
  t.beta = beta;
  t.inv_temperature = inv_temperature;
  t.x = in_view(x, "x");
  require_same_dtype(y, x, "y");
  t.y = optional_view(y, x, "y");
  const int64_t rows = t.x.outer * t.x.inner;
  t.loss = flat_buffer<double>(loss, rows, "loss", true);
  t.grad = optional_out(grad, x, "grad");
  t.grad_scale = flat_buffer<double>(grad_scale, rows, "grad_scale", false);
  t.grad_scalar = grad_scalar;
  run_rows(t, kernels().divergence, rows, t.x.classes);
}
// --- end divergences
// ------------------------------------------- elementwise losses (issue 4)

// Elements per work unit of the elementwise losses: a fixed constant, so
// per-block partial sums (and hence reductions) never depend on threads.
constexpr int64_t kBinaryLossBlock = 4096;

View3 same_shape_view(const py::object& o, const py::array& x, const char* what) {
  if (o.is_none()) return View3{};
  return optional_view(o, x, what);
}

BinaryLoss binary_loss_kind(const std::string& kind) {
  if (kind == "bce") return BinaryLoss::bce;
  if (kind == "focal") return BinaryLoss::focal;
  if (kind == "binary_cross_entropy") return BinaryLoss::binary_cross_entropy;
  if (kind == "kl_div") return BinaryLoss::kl_div;
  if (kind == "kl_div_log_target") return BinaryLoss::kl_div_log_target;
  throw py::value_error("logitloss._core: unknown binary loss " + kind);
}

// kind: see binary_loss_kind. x, y and the optional operands are 3-D views
// of one shape (zero strides allowed for the read-only ones); partials, if
// given, is a writable contiguous float64 buffer with one entry per block.
// Returns the range_error bits (kInputOutOfRange | kTargetOutOfRange) of the
// losses on probabilities, 0 for the others. With no output at all, only
// that check runs.
uint32_t binary_loss(const std::string& kind, const py::array& x, const py::array& y,
                     const py::object& w, const py::object& pw, double alpha, double gamma,
                     const py::object& loss_out, const py::object& partials,
                     const py::object& grad_out, const py::object& g, double g_scalar) {
  BinaryLossTask t{};
  t.loss = binary_loss_kind(kind);
  t.dtype = dtype_of(x);
  t.x = in_view(x, "input");
  require_same_dtype(y, x, "target");
  t.y = optional_view(y, x, "target");
  t.w = same_shape_view(w, x, "weight");
  t.pw = same_shape_view(pw, x, "pos_weight");
  t.g = same_shape_view(g, x, "grad_output");
  t.loss_out = optional_out(loss_out, x, "loss");
  t.grad_out = optional_out(grad_out, x, "grad");
  t.alpha = alpha;
  t.gamma = gamma;
  t.g_scalar = g_scalar;
  t.size = t.x.outer * t.x.classes * t.x.inner;
  t.block = kBinaryLossBlock;
  const int64_t blocks = (t.size + t.block - 1) / t.block;
  if (!partials.is_none()) {
    py::array_t<double> p = py::reinterpret_borrow<py::array>(partials);
    if (!py::isinstance<py::array_t<double>>(partials) || !p.writeable() ||
        !(p.flags() & py::array::c_style) || p.size() < blocks)
      throw py::value_error("logitloss._core: partials must be a writable float64 buffer");
    t.partials = p.mutable_data();
  }
  uint32_t range_error = 0;
  t.range_error = &range_error;
  {
    // Releasing the GIL is safe: the kernel touches no Python object, and the
    // arrays are kept alive by the caller's references.
    py::gil_scoped_release release;
    parallel_for(blocks, 8, [&](int64_t b0, int64_t b1) { kernels().binary_loss(t, b0, b1); });
  }
  return range_error;
}

// Byte offsets [lo, hi] of the first byte of every element a view reaches.
std::pair<int64_t, int64_t> byte_span(const py::ssize_t* shape, const py::ssize_t* strides, int nd) {
  int64_t lo = 0, hi = 0;
  for (int d = 0; d < nd; ++d) {
    if (shape[d] == 0) return {0, -1};  // empty: reaches nothing
    const int64_t reach = (static_cast<int64_t>(shape[d]) - 1) * strides[d];
    (reach < 0 ? lo : hi) += reach;
  }
  return {lo, hi};
}

// `a` seen with another shape and byte strides, sharing its memory and
// writeability: numpy.lib.stride_tricks.as_strided without its Python-level
// cost (about 10 us a call, several per elementwise loss call). The view must
// stay inside the memory `a` itself reaches, else ValueError.
py::array strided_view(const py::array& a, const std::vector<py::ssize_t>& shape,
                       const std::vector<py::ssize_t>& strides) {
  if (shape.size() != strides.size())
    throw py::value_error("logitloss._core: strided_view needs one stride per dimension");
  for (py::ssize_t n : shape)
    if (n < 0) throw py::value_error("logitloss._core: strided_view shape is negative");
  const auto own = byte_span(a.shape(), a.strides(), static_cast<int>(a.ndim()));
  const auto view = byte_span(shape.data(), strides.data(), static_cast<int>(shape.size()));
  if (view.first <= view.second && (a.size() == 0 || view.first < own.first || view.second > own.second))
    throw py::value_error("logitloss._core: strided_view reaches outside the array");
  return py::array(a.dtype(), shape, strides, a.data(), a);
}

// Recycled outputs are reported to tracemalloc in NumPy's domain, like
// NumPy's own allocations, so tracemalloc-based measurements still see them.
// Python 3.11's tracemalloc.h declares these functions without extern "C",
// so they are declared here with C linkage. Recycling is Linux-only.
#if defined(__linux__)
namespace c_api {
extern "C" int PyTraceMalloc_Track(unsigned int domain, uintptr_t ptr, size_t size);
extern "C" int PyTraceMalloc_Untrack(unsigned int domain, uintptr_t ptr);
}  // namespace c_api
constexpr unsigned int kNumpyTraceDomain = 389047;
void trace_allocation(void* p, std::size_t bytes) {
  c_api::PyTraceMalloc_Track(kNumpyTraceDomain, reinterpret_cast<uintptr_t>(p), bytes);
}
void trace_release(void* p) {
  c_api::PyTraceMalloc_Untrack(kNumpyTraceDomain, reinterpret_cast<uintptr_t>(p));
}
#else
void trace_allocation(void*, std::size_t) {}
void trace_release(void*) {}
#endif

struct RecycledBuffer {
  void* data;
  std::size_t bytes;
};

void give_back(void* capsule_pointer) {
  auto* b = static_cast<RecycledBuffer*>(capsule_pointer);
  trace_release(b->data);
  give_back_buffer(b->data, b->bytes);
  delete b;
}

// An uninitialised C-contiguous array on a recycled buffer (Note [Recycled
// outputs]); the buffer returns to the cache when the array and every view
// of it are gone.
py::array recycled_empty(const std::vector<py::ssize_t>& shape, const py::dtype& dt) {
  if (dt.attr("hasobject").cast<bool>())  // uninitialised object pointers would crash
    throw py::type_error("logitloss._core: recycled_empty takes no object dtype");
  std::size_t bytes = static_cast<std::size_t>(dt.itemsize());
  for (py::ssize_t n : shape) {
    if (n < 0) throw py::value_error("logitloss._core: recycled_empty shape is negative");
    if (n != 0 && bytes > static_cast<std::size_t>(PY_SSIZE_T_MAX) / static_cast<std::size_t>(n))
      throw py::value_error("logitloss._core: recycled_empty shape is too large");
    bytes *= static_cast<std::size_t>(n);
  }
  void* data = take_buffer(bytes);
  if (!data) throw std::bad_alloc();
  auto* owner = new RecycledBuffer{data, bytes};
  py::capsule base(owner, &give_back);  // frees the buffer if the array fails
  trace_allocation(data, bytes);
  return py::array(dt, shape, std::vector<py::ssize_t>{}, data, base);
}

py::tuple buffer_cache_info() {
  const BufferCacheStats s = buffer_cache_stats();
  return py::make_tuple(s.buffers, s.bytes);
}

int64_t binary_loss_blocks(int64_t size) { return (size + kBinaryLossBlock - 1) / kBinaryLossBlock; }

// Test-only: the load/store layer's 16-bit conversions. `name` is
// "widen16" (float16/bfloat16 x -> float32) or "to_float16" / "to_bfloat16"
// (float32 x, or float64 x with ":double", -> the 16-bit patterns as uint16),
// optionally with ":gather", ":runs" or ":scalar" for the load/store layer's
// other paths (see StorageAccess).
py::array storage16(const std::string& name, const py::array& x) {
  VecMathTask t{};
  const auto colon = name.find(':');
  const std::string op = name.substr(0, colon);
  const std::string access = colon == std::string::npos ? "" : name.substr(colon + 1);
  if (access == "gather")
    t.access = StorageAccess::gather;
  else if (access == "runs")
    t.access = StorageAccess::runs;
  else if (access == "scalar")
    t.access = StorageAccess::scalar;
  else if (access == "double")
    t.access = StorageAccess::from_double;
  else if (!access.empty())
    throw py::value_error("logitloss._core: unknown storage access " + access);
  const DType in = dtype_of(x);
  if (op == "widen16") {
    t.op = VecMathOp::widen16;
    t.dtype = in;
    if ((in != DType::f16 && in != DType::bf16) || t.access == StorageAccess::from_double)
      throw py::type_error("logitloss._core: widen16 takes float16 or bfloat16");
  } else if (op == "to_float16" || op == "to_bfloat16") {
    t.op = VecMathOp::narrow16;
    t.dtype = op == "to_float16" ? DType::f16 : DType::bf16;
    if (in != (t.access == StorageAccess::from_double ? DType::f64 : DType::f32))
      throw py::type_error("logitloss._core: " + name + " takes float32 (float64 with :double)");
  } else {
    throw py::value_error("logitloss._core: unknown storage op " + op);
  }
  if (!(x.flags() & py::array::c_style) || x.ndim() != 1)
    throw py::value_error("logitloss._core: x must be a contiguous 1-D array");
  py::array out(t.op == VecMathOp::widen16 ? py::dtype::of<float>() : py::dtype::of<uint16_t>(),
                std::vector<py::ssize_t>{x.shape(0)});
  t.x = x.data();
  t.out = out.mutable_data();
  t.n = x.shape(0);
  {
    // Releasing the GIL is safe: plain buffers only, kept alive by x / out.
    py::gil_scoped_release release;
    kernels().vector_math(t, 0, t.n);
  }
  return out;
}

// Test-only: op(x) elementwise with the active ISA's vector math.
py::array vector_math(const std::string& name, const py::array& x) {
  if (name.rfind("widen16", 0) == 0 || name.rfind("to_", 0) == 0) return storage16(name, x);
  VecMathTask t{};
  if (name == "log")
    t.op = VecMathOp::log;
  else if (name == "log1p")
    t.op = VecMathOp::log1p;
  else if (name == "exp")
    t.op = VecMathOp::exp;
  else if (name == "exp_nonpos")  // domain x <= 0
    t.op = VecMathOp::exp_nonpos;
  else if (name == "log1p_unit")  // domain [0, 1]
    t.op = VecMathOp::log1p_unit;
  else if (name == "log1p_nonpos_half")  // domain [-1/2, 0]
    t.op = VecMathOp::log1p_nonpos_half;
  else if (name == "tanh")  // double only
    t.op = VecMathOp::tanh;
  else if (name == "sech2")  // double only: 1 - tanh^2
    t.op = VecMathOp::sech2;
  else if (name == "exp_diff")  // x = (a, m), a <= m: exp(a - m)
    t.op = VecMathOp::exp_diff;
  else if (name == "exp_below")  // the same by ExpBelow; |m| < 2^24 (float), 2^52 (double)
    t.op = VecMathOp::exp_below;
  else if (name == "exp_tail")  // |x| <= 1: e^x - 1 - x
    t.op = VecMathOp::exp_tail;
  else
    throw py::value_error("logitloss._core: unknown vector math function " + name);
  const bool pairs = t.op == VecMathOp::exp_diff || t.op == VecMathOp::exp_below;
  if (!(x.flags() & py::array::c_style) || x.ndim() != (pairs ? 2 : 1) ||
      (pairs && x.shape(0) != 2))
    throw py::value_error(pairs ? "logitloss._core: x must be a contiguous (2, n) array"
                                : "logitloss._core: x must be a contiguous 1-D array");
  t.dtype = dtype_of(x);
  if (t.dtype != DType::f32 && t.dtype != DType::f64)
    throw py::type_error("logitloss._core: vector math takes float32 or float64");
  if ((t.op == VecMathOp::tanh || t.op == VecMathOp::sech2) && t.dtype != DType::f64)
    throw py::type_error("logitloss._core: tanh and sech2 take float64");
  const py::ssize_t n = x.shape(x.ndim() - 1);
  py::array out(x.dtype(), std::vector<py::ssize_t>{n});
  t.x = x.data();
  t.out = out.mutable_data();
  t.n = n;
  {
    // Releasing the GIL is safe: plain buffers only, kept alive by x / out.
    py::gil_scoped_release release;
    kernels().vector_math(t, 0, t.n);
  }
  return out;
}
// ---------------------------------------------------------------------------
// Integrations: gradient-boosting objectives. The Python layer has checked
// the shapes and parameters; labels and weights are read in their own dtype
// and checked by the kernels, which report the first bad row of each.

// A 1-D per-row buffer of `rows` values (null when `a` is None).
RowValues row_values(const py::object& obj, int64_t rows, const char* what) {
  RowValues v;
  if (obj.is_none()) return v;
  const py::array a = py::reinterpret_borrow<py::array>(obj);
  const py::dtype dt = a.dtype();
  const char kind = dt.kind();
  const auto size = dt.itemsize();
  if (kind == 'f' && size == 4) v.kind = ValueKind::f32;
  else if (kind == 'f' && size == 8) v.kind = ValueKind::f64;
  else if (kind == 'i' && size == 4) v.kind = ValueKind::i32;
  else if (kind == 'i' && size == 8) v.kind = ValueKind::i64;
  else if ((kind == 'b' || kind == 'u') && size == 1) v.kind = ValueKind::u8;
  else throw py::type_error(std::string("logitloss._core: unsupported ") + what + " dtype");
  if (a.ndim() != 1 || a.shape(0) != rows || a.strides(0) % size != 0)
    throw py::value_error(std::string("logitloss._core: ") + what + " must be 1-D, one per row");
  v.data = a.data();
  v.stride = a.strides(0) / static_cast<int64_t>(size);
  return v;
}

py::tuple bad_rows(int64_t label, int64_t weight) {
  return py::make_tuple(label == INT64_MAX ? -1 : label, weight == INT64_MAX ? -1 : weight);
}

FocalParams focal_params(bool focal, double alpha, double gamma) {
  FocalParams f;
  f.on = focal;
  f.alpha = alpha;
  f.gamma = gamma;
  return f;
}

py::tuple softmax_objective(const py::array& x, const py::object& labels, const py::object& weight,
                            py::array& grad, py::array& hess, int hessian, bool focal,
                            double gamma, const py::object& class_alpha) {
  SoftmaxObjTask t{};
  t.dtype = dtype_of(x);
  if (hessian < 0 || hessian > 3) throw py::value_error("logitloss._core: bad hessian kind");
  t.hessian = static_cast<HessianKind>(hessian);
  t.x = in_view(x, "x");
  const int64_t rows = t.x.outer * t.x.inner;
  t.labels = row_values(labels, rows, "labels");
  if (!t.labels.data && rows) throw py::value_error("logitloss._core: labels are required");
  t.weight = row_values(weight, rows, "weight");
  if (t.weight.data && t.weight.kind != ValueKind::f32 && t.weight.kind != ValueKind::f64)
    throw py::type_error("logitloss._core: weight must be float32 or float64");
  t.focal = focal_params(focal, -1.0, gamma);
  py::array alpha;
  if (!class_alpha.is_none()) {
    alpha = py::reinterpret_borrow<py::array>(class_alpha);
    if (!py::isinstance<py::array_t<double>>(alpha) || !(alpha.flags() & py::array::c_style) ||
        alpha.size() != t.x.classes)
      throw py::value_error("logitloss._core: class_alpha must be contiguous float64, one per class");
    t.focal.class_alpha = static_cast<const double*>(alpha.data());
  }
  require_same_dtype(grad, x, "grad");
  require_same_dtype(hess, x, "hess");
  t.grad = out_view(grad, x, "grad");
  t.hess = out_view(hess, x, "hess");
  int64_t bad_label = INT64_MAX, bad_weight = INT64_MAX;
  t.bad_label = &bad_label;
  t.bad_weight = &bad_weight;
  run_rows(t, kernels().softmax_objective, rows, t.x.classes);
  return bad_rows(bad_label, bad_weight);
}

py::tuple logistic_objective(const py::array& x, const py::object& y, const py::object& weight,
                             py::array& grad, py::array& hess, int hessian, bool focal,
                             double alpha, double gamma) {
  LogisticObjTask t{};
  t.dtype = dtype_of(x);
  if (hessian < 0 || hessian > 3) throw py::value_error("logitloss._core: bad hessian kind");
  t.hessian = static_cast<HessianKind>(hessian);
  if (x.ndim() != 1 || x.strides(0) % x.itemsize() != 0)
    throw py::value_error("logitloss._core: x must be 1-D");
  const int64_t n = x.shape(0);
  t.x = x.data();
  t.s_x = x.strides(0) / static_cast<int64_t>(x.itemsize());
  t.y = row_values(y, n, "y");
  if (!t.y.data && n) throw py::value_error("logitloss._core: labels are required");
  t.weight = row_values(weight, n, "weight");
  if (t.weight.data && t.weight.kind != ValueKind::f32 && t.weight.kind != ValueKind::f64)
    throw py::type_error("logitloss._core: weight must be float32 or float64");
  t.focal = focal_params(focal, alpha, gamma);
  for (py::array* out : {&grad, &hess}) {
    require_same_dtype(*out, x, "out");
    if (out->ndim() != 1 || out->shape(0) != n || !(out->flags() & py::array::c_style) ||
        !out->writeable())
      throw py::value_error("logitloss._core: grad and hess must be contiguous, writable, 1-D");
  }
  t.grad = grad.mutable_data();
  t.hess = hess.mutable_data();
  int64_t bad_label = INT64_MAX, bad_weight = INT64_MAX;
  t.bad_label = &bad_label;
  t.bad_weight = &bad_weight;
  run_rows(t, kernels().logistic_objective, n, 1);
  return bad_rows(bad_label, bad_weight);
}
// ---------------------------------------------------------------------------

std::string compiler() {
#if defined(__clang__)
  return "clang " __clang_version__;
#elif defined(__GNUC__)
  return "gcc " __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "logitloss kernels (internal: use the logitloss package)";
  m.def("logsumexp", &logsumexp, py::arg("x"), py::arg("b"), py::arg("lse"), py::arg("sign"));
  m.def("logsumexp_complex", &logsumexp_complex, py::arg("a"), py::arg("b"), py::arg("lse"),
        py::arg("sign"));
  m.def("softmax", &softmax, py::arg("x"), py::arg("out"), py::arg("log"));
  m.def("logsumexp_grad", &logsumexp_grad, py::arg("x"), py::arg("b"), py::arg("g"), py::arg("out"));
  m.def("softmax_grad", &softmax_grad, py::arg("x"), py::arg("g"), py::arg("out"), py::arg("log"));
  // --- cross-entropy family
  m.def("cross_entropy", &cross_entropy, py::arg("x"), py::arg("target"), py::arg("prob"),
        py::arg("weight"), py::arg("ignore_index"), py::arg("has_ignore"), py::arg("smoothing"),
        py::arg("softcap"), py::arg("z_loss"), py::arg("loss"), py::arg("target_weight"), py::arg("grad"), py::arg("grad_scale"),
        py::arg("grad_scalar"), py::arg("nll"));
  // --- end cross-entropy family
  m.def("divergence", &divergence, py::arg("x"), py::arg("y"), py::arg("kind"), py::arg("beta"),
        py::arg("inv_temperature"), py::arg("loss"), py::arg("grad"), py::arg("grad_scale"),
        py::arg("grad_scalar"));
  // issue 4
  m.def("binary_loss", &binary_loss, py::arg("kind"), py::arg("x"), py::arg("y"), py::arg("w"),
        py::arg("pw"), py::arg("alpha"), py::arg("gamma"), py::arg("loss_out"),
        py::arg("partials"), py::arg("grad_out"), py::arg("g"), py::arg("g_scalar"));
  m.def("binary_loss_blocks", &binary_loss_blocks, py::arg("size"));
  m.def("strided_view", &strided_view, py::arg("a"), py::arg("shape"), py::arg("strides"));
  m.def("_vector_math", &vector_math, py::arg("name"), py::arg("x"));
  m.def("row_sum", &row_sum, py::arg("a"));
  m.def("recycled_empty", &recycled_empty, py::arg("shape"), py::arg("dtype"));
  m.def("buffer_cache_info", &buffer_cache_info);
  m.def("release_cached_buffers", &release_cached_buffers);
  m.attr("buffer_recycling_supported") = buffer_recycling_supported();
  m.def("cross_entropy_variant", &cross_entropy_variant, py::arg("x"), py::arg("target"),
        py::arg("prob"), py::arg("weight"), py::arg("ignore_index"), py::arg("has_ignore"),
        py::arg("smoothing"), py::arg("variant"), py::arg("epsilon"), py::arg("gamma"),
        py::arg("alpha"), py::arg("alpha_scalar"), py::arg("loss"), py::arg("target_weight"),
        py::arg("grad"), py::arg("grad_scale"), py::arg("grad_scalar"));
  m.def("cross_entropy_reduced", &cross_entropy_reduced, py::arg("x"), py::arg("target"),
        py::arg("ignore_index"), py::arg("has_ignore"));
  // Integrations: gradient-boosting objectives.
  m.def("softmax_objective", &softmax_objective, py::arg("x"), py::arg("labels"), py::arg("weight"),
        py::arg("grad"), py::arg("hess"), py::arg("hessian"), py::arg("focal"), py::arg("gamma"),
        py::arg("class_alpha"));
  m.def("logistic_objective", &logistic_objective, py::arg("x"), py::arg("y"), py::arg("weight"),
        py::arg("grad"), py::arg("hess"), py::arg("hessian"), py::arg("focal"), py::arg("alpha"),
        py::arg("gamma"));
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("simd_levels_built", &simd_levels_built);
  m.def("simd_levels_supported", &simd_levels_supported);
  m.def("simd_level", &simd_level);
  m.def("set_simd_level", &set_simd_level, py::arg("name"));
  m.attr("compiler") = compiler();
}
