// Which ISA build of the kernels runs. Chosen once at import from CPU
// detection (the best level both built and supported), lowered by the
// LOGITLOSS_SIMD environment variable, and switchable for tests.
#pragma once

#include <string>
#include <vector>

#include "../kernels/api.h"

namespace logitloss {

// The active kernel table.
const KernelTable& kernels() noexcept;

// Levels compiled into this binary, lowest first.
std::vector<std::string> simd_levels_built();
// Levels built and supported by this CPU, lowest first.
std::vector<std::string> simd_levels_supported();
// Name of the level in use.
std::string simd_level();
// Selects a supported level; returns false (and changes nothing) otherwise.
bool set_simd_level(const std::string& name);

}  // namespace logitloss
