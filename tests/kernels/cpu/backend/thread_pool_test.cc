// The worker pool: every index is visited exactly once by the worker the slice names, for many
// sizes and back-to-back calls; pinned workers run on the CPU they were given.
#include <gtest/gtest.h>
#include <sched.h>

#include <atomic>
#include <vector>

#include "kernels/cpu/backend/thread_pool.h"

namespace tlm::cpu {
namespace {

TEST(ThreadPool, CoversEveryIndexOnceAcrossManyCalls) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1000}) {
      for (int call = 0; call < 50; ++call) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int> bad_worker{0};
        pool.ParallelFor(n, [&](int64_t begin, int64_t end, int worker) {
          if (worker < 0 || worker >= threads) bad_worker++;
          for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
        ASSERT_EQ(bad_worker.load(), 0);
      }
    }
  }
}

TEST(ThreadPool, PinnedWorkersRunOnTheirCpu) {
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof(allowed), &allowed), 0);
  const int ncpu = CPU_COUNT(&allowed);
  const int threads = std::max(2, ncpu);
  {
    ThreadPool pool(threads, /*pin=*/true);
    ASSERT_TRUE(pool.pinned());
    std::vector<int> seen(static_cast<size_t>(threads), -2);
    pool.ParallelFor(threads,
                     [&](int64_t, int64_t, int worker) { seen[static_cast<size_t>(worker)] = sched_getcpu(); });
    for (int w = 0; w < threads; ++w) EXPECT_EQ(seen[static_cast<size_t>(w)], pool.cpu_of(w)) << "worker " << w;
  }
  // The pool pinned this (the calling) thread as worker 0: give it its whole set back.
  ASSERT_EQ(sched_setaffinity(0, sizeof(allowed), &allowed), 0);
}

}  // namespace
}  // namespace tlm::cpu
