// See Note [Recycled outputs] in buffer_cache.h.
#include "buffer_cache.h"

#include <cstdlib>
#include <mutex>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#define LL_RECYCLE_BUFFERS 1
#else
#define LL_RECYCLE_BUFFERS 0
#endif

namespace logitloss {
namespace {

// Size classes of 2 MiB: whole transparent huge pages, and one class for
// every output shape of the same byte size.
constexpr std::size_t kClass = std::size_t(2) << 20;

std::size_t size_class(std::size_t bytes) {
  return bytes == 0 ? kClass : (bytes + kClass - 1) / kClass * kClass;
}

struct Cached {
  void* data;
  std::size_t bytes;  // the size class
};

struct Cache {
  std::mutex lock;
  std::vector<Cached> buffers;  // oldest first
};

// Never destroyed: arrays that die during interpreter shutdown still give
// their buffers back after static destructors may have run.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

#if LL_RECYCLE_BUFFERS
void* map_buffer(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);  // as NumPy does for large arrays; a hint
#endif
  return p;
}
void unmap_buffer(const Cached& b) { munmap(b.data, b.bytes); }
// Lets the kernel reclaim the pages under memory pressure; false where
// MADV_FREE is unknown (Linux < 4.5), and then the buffer is not kept.
bool mark_reclaimable(const Cached& b) {
#ifdef MADV_FREE
  return madvise(b.data, b.bytes, MADV_FREE) == 0;
#else
  (void)b;
  return false;
#endif
}
#endif

}  // namespace

bool buffer_recycling_supported() { return LL_RECYCLE_BUFFERS != 0; }

void* take_buffer(std::size_t bytes) {
#if LL_RECYCLE_BUFFERS
  const std::size_t cls = size_class(bytes);
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> hold(c.lock);
    for (auto it = c.buffers.end(); it != c.buffers.begin();) {
      --it;  // the most recently returned first
      if (it->bytes == cls) {
        void* p = it->data;
        c.buffers.erase(it);
        return p;
      }
    }
  }
  return map_buffer(cls);
#else
  return std::malloc(bytes ? bytes : 1);
#endif
}

void give_back_buffer(void* data, std::size_t bytes) {
#if LL_RECYCLE_BUFFERS
  Cached b{data, size_class(bytes)};
  if (!mark_reclaimable(b)) return unmap_buffer(b);
  Cached evicted{nullptr, 0};
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> hold(c.lock);
    if (int(c.buffers.size()) == kMaxCachedBuffers) {
      evicted = c.buffers.front();
      c.buffers.erase(c.buffers.begin());
    }
    c.buffers.push_back(b);
  }
  if (evicted.data) unmap_buffer(evicted);  // outside the lock: munmap is slow
#else
  (void)bytes;
  std::free(data);
#endif
}

BufferCacheStats buffer_cache_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> hold(c.lock);
  BufferCacheStats s{0, 0};
  for (const Cached& b : c.buffers) {
    ++s.buffers;
    s.bytes += int64_t(b.bytes);
  }
  return s;
}

void release_cached_buffers() {
  std::vector<Cached> all;
  {
    Cache& c = cache();
    std::lock_guard<std::mutex> hold(c.lock);
    all.swap(c.buffers);
  }
#if LL_RECYCLE_BUFFERS
  for (const Cached& b : all) unmap_buffer(b);
#endif
}

}  // namespace logitloss
