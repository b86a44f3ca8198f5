// A persistent pool of worker threads for the kernels.
//
// Work is split into chunks whose boundaries depend only on the problem size
// (never on the thread count), and every row's result depends only on its own
// data, so results are bitwise identical for any number of threads. One job
// runs on the pool at a time; a call that finds the pool busy (another Python
// thread's kernel) runs its chunks on its own thread instead of waiting.
#pragma once

#include <cstdint>
#include <functional>

namespace logitloss {

int get_num_threads() noexcept;
// n >= 1. Safe while other threads run kernels: it waits for the running job.
void set_num_threads(int n);

// Calls fn(begin, end) over [0, n) in chunks of `chunk` items (the last may
// be shorter), in parallel when there is more than one chunk.
void parallel_for(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace logitloss
