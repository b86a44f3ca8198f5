#include "thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace logitloss {
namespace {

class Pool {
 public:
  int size() const noexcept { return size_.load(std::memory_order_relaxed); }

  void resize(int n) {
    std::lock_guard<std::mutex> job(job_mutex_);
    stop_workers();
    size_.store(n, std::memory_order_relaxed);
  }

  void run(int64_t n_chunks, const std::function<void(int64_t)>& fn) {
    std::unique_lock<std::mutex> job(job_mutex_, std::try_to_lock);
    if (!job.owns_lock() || size() <= 1 || n_chunks <= 1) {
      for (int64_t c = 0; c < n_chunks; ++c) fn(c);
      return;
    }
    start_workers();
    {
      std::lock_guard<std::mutex> lock(m_);
      fn_ = &fn;
      n_chunks_ = n_chunks;
      next_.store(0);
      open_ = true;
      ++generation_;
    }
    wake_.notify_all();
    drain();
    // Every chunk is taken: close the job and wait only for the workers that
    // joined it. A worker that wakes later (a shared machine can take
    // milliseconds to schedule it) finds the job closed and sleeps again;
    // waiting for it cost small inputs more than their work (256x1000
    // softmax slower with 2 threads than with 1, measured).
    std::unique_lock<std::mutex> lock(m_);
    open_ = false;
    done_.wait(lock, [&] { return active_ == 0; });
    fn_ = nullptr;
  }

  // After fork() only the forking thread exists: forget the workers (their
  // handles are meaningless in the child) and start afresh on first use.
  void forget_after_fork() noexcept {
    new (&job_mutex_) std::mutex();
    new (&m_) std::mutex();
    new (&wake_) std::condition_variable();
    new (&done_) std::condition_variable();
    workers_ = new std::vector<std::thread>();  // the old vector is leaked
    stop_ = false;
    open_ = false;
    active_ = 0;
    fn_ = nullptr;
  }

 private:
  void drain() {
    for (int64_t c; (c = next_.fetch_add(1)) < n_chunks_;) (*fn_)(c);
  }

  // `seen` is the job count when the worker was made: jobs before it are not
  // its to finish (a worker starting from 0 took the last finished job for a
  // new one and counted itself done twice, so run() could wait forever).
  void worker(uint64_t seen) {
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(m_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        if (!open_) continue;  // woke after the caller took the last chunk
        ++active_;
      }
      drain();
      std::lock_guard<std::mutex> lock(m_);
      if (--active_ == 0) done_.notify_one();
    }
  }

  void start_workers() {
    const size_t want = size_t(size() - 1);  // the caller works too
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(m_);
      generation = generation_;
    }
    while (workers_->size() < want)
      workers_->emplace_back([this, generation] { worker(generation); });
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : *workers_) t.join();
    workers_->clear();
    stop_ = false;
  }

  std::atomic<int> size_{1};
  std::mutex job_mutex_;  // one job on the pool at a time
  std::mutex m_;
  std::condition_variable wake_, done_;
  std::vector<std::thread>* workers_ = new std::vector<std::thread>();
  bool stop_ = false;
  uint64_t generation_ = 0;
  const std::function<void(int64_t)>* fn_ = nullptr;
  int64_t n_chunks_ = 0;
  std::atomic<int64_t> next_{0};
  bool open_ = false;  // the job takes new workers (m_ guards it and active_)
  int active_ = 0;     // workers that joined the running job and are in it
};

Pool& pool() {
  // Never destroyed: worker threads may outlive static destruction order.
  static Pool* p = [] {
    Pool* created = new Pool();
    pthread_atfork(nullptr, nullptr, [] { pool().forget_after_fork(); });
    return created;
  }();
  return *p;
}

}  // namespace

int get_num_threads() noexcept { return pool().size(); }

void set_num_threads(int n) { pool().resize(std::max(n, 1)); }

void parallel_for(int64_t n, int64_t chunk, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(chunk, 1);
  const int64_t n_chunks = (n + chunk - 1) / chunk;
  pool().run(n_chunks, [&](int64_t c) { fn(c * chunk, std::min(n, (c + 1) * chunk)); });
}

}  // namespace logitloss
