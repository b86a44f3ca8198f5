#include "dispatch.h"

#include <atomic>
#include <cstdlib>

namespace logitloss {

// Tables defined by the per-ISA builds of kernels/isa_table.cpp.
extern const KernelTable kernels_baseline;
#ifdef LL_HAVE_AVX2
extern const KernelTable kernels_avx2;
#endif
#ifdef LL_HAVE_AVX512
extern const KernelTable kernels_avx512;
#endif

namespace {

struct Level {
  const KernelTable* table;
  bool (*supported)();
};

bool always() { return true; }
#if defined(__x86_64__) || defined(__i386__)
bool has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __builtin_cpu_supports("f16c");
}
bool has_avx512() {
  __builtin_cpu_init();
  return has_avx2() && __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl");
}
#endif

const std::vector<Level>& levels() {
  static const std::vector<Level> all = {
      {&kernels_baseline, &always},
#ifdef LL_HAVE_AVX2
      {&kernels_avx2, &has_avx2},
#endif
#ifdef LL_HAVE_AVX512
      {&kernels_avx512, &has_avx512},
#endif
  };
  return all;
}

const KernelTable* best_supported() {
  const KernelTable* best = levels().front().table;
  for (const Level& l : levels())
    if (l.supported()) best = l.table;
  return best;
}

// The best supported level, or a lower one named by LOGITLOSS_SIMD. An
// unknown or unsupported name is ignored here; Python warns about it.
const KernelTable* initial_table() {
  const KernelTable* best = best_supported();
  const char* env = std::getenv("LOGITLOSS_SIMD");
  if (!env) return best;
  for (const Level& l : levels()) {
    if (l.table->isa == std::string(env) && l.supported()) return l.table;
    if (l.table == best) break;  // never above the best supported
  }
  return best;
}

std::atomic<const KernelTable*>& active() {
  static std::atomic<const KernelTable*> table{initial_table()};
  return table;
}

}  // namespace

const KernelTable& kernels() noexcept { return *active().load(std::memory_order_acquire); }

std::vector<std::string> simd_levels_built() {
  std::vector<std::string> names;
  for (const Level& l : levels()) names.emplace_back(l.table->isa);
  return names;
}

std::vector<std::string> simd_levels_supported() {
  std::vector<std::string> names;
  for (const Level& l : levels())
    if (l.supported()) names.emplace_back(l.table->isa);
  return names;
}

std::string simd_level() { return kernels().isa; }

bool set_simd_level(const std::string& name) {
  for (const Level& l : levels()) {
    if (l.table->isa == name && l.supported()) {
      active().store(l.table, std::memory_order_release);
      return true;
    }
  }
  return false;
}

}  // namespace logitloss
