// The worker pool: every index is visited exactly once, by a valid worker, for many sizes,
// grains and back-to-back calls (thousands of tiny ones too); each worker takes its home run of
// chunks front to back and the others' from the back; workers asleep after a pause are woken for
// the next call; pinned workers run on the CPU they were given.
#include <gtest/gtest.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/cpu/backend/thread_pool.h"

namespace tlm::cpu {
namespace {

// Runs one ParallelFor and checks it: each index once, worker ids in range, a worker never in
// two chunks at once, chunk starts on a multiple of the grain.
void CheckCoverage(ThreadPool& pool, int64_t n, int64_t grain) {
  const int threads = pool.size();
  std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
  std::vector<std::atomic<int>> busy(static_cast<size_t>(threads));
  std::atomic<int> bad_worker{0}, overlapping{0}, misaligned{0};
  auto body = [&](int64_t begin, int64_t end, int worker) {
    if (worker < 0 || worker >= threads) {
      bad_worker++;
      return;
    }
    if (busy[static_cast<size_t>(worker)].fetch_add(1) != 0) overlapping++;
    if (begin % grain != 0 || begin >= end) misaligned++;
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
    busy[static_cast<size_t>(worker)].fetch_sub(1);
  };
  if (grain == 1)
    pool.ParallelFor(n, body);
  else
    pool.ParallelFor(n, grain, body);
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "threads=" << threads << " n=" << n << " i=" << i;
  ASSERT_EQ(bad_worker.load(), 0);
  ASSERT_EQ(overlapping.load(), 0);
  ASSERT_EQ(misaligned.load(), 0) << "n=" << n << " grain=" << grain;
}

TEST(ThreadPool, CoversEveryIndexOnceAcrossManyCalls) {
  for (int threads : {1, 2, 3, 5, 8}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 4, 5, 7, 8, 9, 31, 64, 65, 1000, 4097}) {
      for (int call = 0; call < 20; ++call) CheckCoverage(pool, n, 1);
    }
  }
}

TEST(ThreadPool, ChunksAreMultiplesOfTheGrain) {
  for (int threads : {2, 3, 4}) {
    ThreadPool pool(threads);
    for (int64_t grain : {2, 7, 8, 64, 1000})
      for (int64_t n : {1, 7, 8, 9, 100, 1000, 1001, 12345}) CheckCoverage(pool, n, grain);
  }
}

TEST(ThreadPool, ManyTinyCallsBackToBack) {
  ThreadPool pool(4);
  std::atomic<int64_t> total{0};
  int64_t expected = 0;
  for (int call = 0; call < 20000; ++call) {
    const int64_t n = call % 9;
    expected += n;
    pool.ParallelFor(n, [&](int64_t begin, int64_t end, int) { total += end - begin; });
    ASSERT_EQ(total.load(), expected) << "call " << call;  // every call finished before returning
  }
}

TEST(ThreadPool, SleepingWorkersAreWoken) {
  constexpr int kThreads = 3;
  ThreadPool pool(kThreads);
  for (int round = 0; round < 3; ++round) {
    // Long enough for every worker to stop spinning and sleep on the condition variable.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    // Each chunk waits until every worker has entered one: the call only finishes if the
    // sleeping workers were woken (the caller alone would wait for the full timeout).
    std::vector<std::atomic<int>> entered(kThreads);
    std::atomic<bool> timed_out{false};
    pool.ParallelFor(kThreads * 4, [&](int64_t, int64_t, int worker) {
      entered[static_cast<size_t>(worker)] = 1;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      for (;;) {
        int all = 0;
        for (auto& e : entered) all += e.load();
        if (all == kThreads) break;
        if (std::chrono::steady_clock::now() > deadline) {
          timed_out = true;
          break;
        }
        std::this_thread::yield();
      }
    });
    ASSERT_FALSE(timed_out.load()) << "round " << round << ": a sleeping worker was not woken";
  }
}

TEST(ThreadPool, DestroyedWhileWorkersSleep) {
  for (int i = 0; i < 3; ++i) {
    ThreadPool pool(3);
    pool.ParallelFor(100, [](int64_t, int64_t, int) {});
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }  // joins: each destructor must wake its sleeping workers
}

TEST(ThreadPool, ASlowWorkerDoesNotBlockTheOthersChunks) {
  // Worker 1 is slow on every chunk it takes; the others take the rest of the range. All work
  // still gets done exactly once and most chunks go to the fast workers.
  ThreadPool pool(2);
  std::vector<std::atomic<int>> hits(64);
  std::atomic<int> slow_chunks{0}, chunks{0};
  pool.ParallelFor(64, [&](int64_t begin, int64_t end, int worker) {
    chunks++;
    if (worker == 1) {
      slow_chunks++;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    for (int64_t i = begin; i < end; ++i) hits[static_cast<size_t>(i)]++;
  });
  for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  EXPECT_GT(chunks.load(), 2);  // dynamic: more than one slice per worker
  EXPECT_LE(slow_chunks.load(), 2);
}

TEST(ThreadPool, EachWorkerTakesItsHomeRunFrontToBackAndOthersFromTheBack) {
  // 4 workers, 64 indices: 16 chunks of 4, worker w's home run the chunks [4w, 4w + 4), i.e. the
  // indices [16w, 16w + 16). Whatever the timing, a worker's chunks of its own run are the run's
  // first ones in order (a decode matmul's worker reads one ascending stream), and those it takes
  // from another's run come from its back, last first.
  constexpr int kThreads = 4;
  ThreadPool pool(kThreads);
  for (int call = 0; call < 200; ++call) {
    std::vector<std::vector<int64_t>> taken(kThreads);  // chunk starts, in the order each worker ran them
    pool.ParallelFor(64, [&](int64_t begin, int64_t end, int worker) {
      ASSERT_EQ(end - begin, 4);
      taken[static_cast<size_t>(worker)].push_back(begin);
      if (call % 2 == 1 && worker == kThreads - 1) std::this_thread::sleep_for(std::chrono::microseconds(200));
    });
    for (int w = 0; w < kThreads; ++w) {
      int64_t next = 16 * w;
      for (int64_t begin : taken[static_cast<size_t>(w)]) {
        if (begin / 16 != w) continue;
        ASSERT_EQ(begin, next) << "call " << call << ": worker " << w << " skipped ahead in its own run";
        next += 4;
      }
    }
    // The chunks the others took of each run: its last ones.
    for (int owner = 0; owner < kThreads; ++owner) {
      std::vector<int64_t> stolen;
      for (int w = 0; w < kThreads; ++w)
        for (int64_t begin : taken[static_cast<size_t>(w)])
          if (w != owner && begin / 16 == owner) stolen.push_back(begin);
      std::sort(stolen.begin(), stolen.end());
      for (size_t i = 0; i < stolen.size(); ++i)
        ASSERT_EQ(stolen[i], 16 * owner + 16 - 4 * static_cast<int64_t>(stolen.size() - i))
            << "call " << call << ": run " << owner << " was not taken from its back";
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
    std::vector<std::atomic<int>> mismatches(static_cast<size_t>(threads));
    pool.ParallelFor(threads * 16, [&](int64_t, int64_t, int worker) {
      if (sched_getcpu() != pool.cpu_of(worker)) mismatches[static_cast<size_t>(worker)]++;
    });
    for (int w = 0; w < threads; ++w) EXPECT_EQ(mismatches[static_cast<size_t>(w)].load(), 0) << "worker " << w;
  }
  // The pool pinned this (the calling) thread as worker 0: give it its whole set back.
  ASSERT_EQ(sched_setaffinity(0, sizeof(allowed), &allowed), 0);
}

}  // namespace
}  // namespace tlm::cpu
