/* How many independent 256-bit FP instructions per nanosecond this core
 * sustains: FMAs alone, and FMAs mixed one to one with adds (the mix of the
 * kernels' exp loop). The ceiling against which docs/benchmark.md weighs the
 * exp loop.
 *
 *   gcc -O2 -mavx2 -mfma benchmarks/micro/fp_throughput.c -o /tmp/fp_throughput
 *   /tmp/fp_throughput
 */
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

/* This thread's CPU time: on a shared machine, time other processes take
 * from the core does not count. */
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

/* Keeps the accumulators in registers and every instruction alive. */
#define KEEP6(a, b, c, d, e, f) \
  __asm__ volatile("" : "+x"(a), "+x"(b), "+x"(c), "+x"(d), "+x"(e), "+x"(f))

int main(void) {
  const __m256 m = _mm256_set1_ps(0.9999f), c = _mm256_set1_ps(1e-4f);
  __m256 a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m;  /* 6 chains: > FMA latency */
  __m256 b0 = m, b1 = m, b2 = m, b3 = m, b4 = m, b5 = m;
  const long n = 200000000;
  double t0 = now();
  for (long i = 0; i < n; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c);
    a2 = _mm256_fmadd_ps(a2, m, c); a3 = _mm256_fmadd_ps(a3, m, c);
    a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
    KEEP6(a0, a1, a2, a3, a4, a5);
  }
  const double fma_only = n * 6 / (now() - t0) * 1e-9;
  t0 = now();
  for (long i = 0; i < n; ++i) {
    a0 = _mm256_fmadd_ps(a0, m, c); a1 = _mm256_fmadd_ps(a1, m, c);
    a2 = _mm256_fmadd_ps(a2, m, c); a3 = _mm256_fmadd_ps(a3, m, c);
    a4 = _mm256_fmadd_ps(a4, m, c); a5 = _mm256_fmadd_ps(a5, m, c);
    b0 = _mm256_add_ps(b0, c); b1 = _mm256_add_ps(b1, c); b2 = _mm256_add_ps(b2, c);
    b3 = _mm256_add_ps(b3, c); b4 = _mm256_add_ps(b4, c); b5 = _mm256_add_ps(b5, c);
    KEEP6(a0, a1, a2, a3, a4, a5);
    KEEP6(b0, b1, b2, b3, b4, b5);
  }
  const double mixed = n * 12 / (now() - t0) * 1e-9;
  const float sink = a0[0] + a5[0] + b0[0] + b5[0];
  printf("256-bit FMA:          %.2f instructions per ns\n", fma_only);
  printf("256-bit FMA + add 1:1: %.2f instructions per ns\n", mixed);
  return sink == 0.0f;
}
