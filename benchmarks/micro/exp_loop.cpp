// The kernels' exp loop on an L1-resident row: exp_pass (the log-sum-exp
// kernels' hot loop: compensated exp(x - max), ties, sums in double) and the
// bare exp_diff with a store, one and four vectors per iteration. Compare the
// ns per element with what fp_throughput.c says the core sustains.
//
//   g++ -O3 -std=c++17 -mavx2 -mfma -mf16c -DLL_ISA=avx2 -DLL_VEC_BYTES=32 -Icsrc
//       benchmarks/micro/exp_loop.cpp -o /tmp/exp_loop && /tmp/exp_loop
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "kernels/row_stats.h"

using namespace logitloss::LL_ISA;
using V = vf;
constexpr int W = lanes_v<V>;
constexpr int64_t kC = 4096;  // 16 KB of float32: stays in L1

// noipa: the repeated calls must not be folded into one.
__attribute__((noipa)) double kernel_pass(const float* x, float m) {
  double ties, rest;
  exp_pass<float, false>(x, kC, m, nullptr, nullptr, ties, rest);
  return ties + rest;
}

template <int kUnroll>
__attribute__((noipa)) double bare_exp(const float* x, float m, float* out) {
  const V mv = splat<V>(m);
  for (int64_t k = 0; k < kC; k += kUnroll * W)
    for (int u = 0; u < kUnroll; ++u) store<float>(out + k + u * W, exp_diff(load<float>(x + k + u * W), mv));
  return out[0];
}

template <class Fn>
double ns_per_element(Fn&& fn) {
  double best = 1e30, sink = 0;
  for (int round = 0; round < 200; ++round) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 50; ++i) sink += fn();
    const auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / (50.0 * kC));
  }
  return sink == 12345.0 ? 0 : best;  // keeps sink alive
}

int main() {
  std::vector<float> x(kC), out(kC);
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  for (float& v : x) v = normal(gen);
  const float m = *std::max_element(x.begin(), x.end());
  std::printf("exp_pass (kernel loop)   %.3f ns/element\n", ns_per_element([&] { return kernel_pass(x.data(), m); }));
  std::printf("exp_diff + store, 1 vec  %.3f ns/element\n", ns_per_element([&] { return bare_exp<1>(x.data(), m, out.data()); }));
  std::printf("exp_diff + store, 4 vec  %.3f ns/element\n", ns_per_element([&] { return bare_exp<4>(x.data(), m, out.data()); }));
}
