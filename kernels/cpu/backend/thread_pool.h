// A persistent worker pool for the CPU backend: ParallelFor cuts a range into a few chunks per
// worker and gives each worker a home run of consecutive chunks, which it takes front to back, so
// that a decode matmul's worker reads one ascending stream of weights (the hardware prefetcher
// keeps up) rather than a chunk here and a chunk there. A worker that runs out takes the
// remaining chunks of the others from the back of their runs, so one that is slow, preempted or
// still waking up does not hold the others back (the calling thread takes chunks too). Workers
// spin briefly before sleeping, so the many small ops of a decode step do not pay a futex wake-up
// each; the mutex is only taken when a worker sleeps. Nothing is allocated per call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace tlm::cpu {

class ThreadPool {
 public:
  // pin: bind worker i (the calling thread is worker 0) to the i-th CPU this process may run on,
  // wrapping around when there are more workers than CPUs.
  explicit ThreadPool(int threads, bool pin = false);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }
  bool pinned() const { return pinned_; }
  // The CPU worker `index` is bound to, or -1 when not pinned.
  int cpu_of(int index) const { return pinned_ ? cpus_[static_cast<size_t>(index)] : -1; }

  // Calls fn(begin, end, worker) on disjoint chunks covering [0, n), worker in [0, size()) (the
  // calling thread is worker 0; a worker may get several chunks, one after another, or none);
  // returns when all are done. Every chunk but the last holds a multiple of `grain` indices.
  // `fn` is called through a plain function pointer: no allocation.
  template <typename Fn>
  void ParallelFor(int64_t n, int64_t grain, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    Run(
        n, grain, [](void* ctx, int64_t b, int64_t e, int w) { (*static_cast<F*>(ctx))(b, e, w); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }
  template <typename Fn>
  void ParallelFor(int64_t n, Fn&& fn) {
    ParallelFor(n, 1, std::forward<Fn>(fn));
  }

 private:
  using Trampoline = void (*)(void* ctx, int64_t begin, int64_t end, int worker);
  void Run(int64_t n, int64_t grain, Trampoline call, void* ctx);
  void Worker(int index);
  void RunChunks(int worker);
  // Claims one chunk of victim's run: its next (own) or its last (a thief).
  bool Claim(int victim, bool own, int64_t* chunk);
  // How Run cuts n indices: `chunks` chunks of `chunk` indices (a multiple of the grain; the last
  // may be shorter).
  struct Chunking {
    int64_t chunk = 0, chunks = 0;
  };
  Chunking Cut(int64_t n, int64_t grain) const;

  int threads_;
  bool pinned_ = false;
  std::vector<int> cpus_;  // per worker, when pinned
  std::vector<std::thread> workers_;
  // The current job. Written by the caller only while no chunk can be claimed (before the runs
  // publish it, after done_ says all chunks ran); read by a worker only after it claimed one.
  Trampoline call_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 0;
  // Per worker, its run of chunks still unclaimed: end (exclusive) in the high 32 bits, next in
  // the low 32. The owner claims `next` by a compare-exchange to next + 1, a thief claims end - 1
  // by one to end - 1; either only while next < end. A run is only made non-empty by the caller
  // when it publishes a job, after the previous job's chunks were all claimed and done.
  struct alignas(64) ChunkRun {
    std::atomic<uint64_t> range{0};
  };
  std::unique_ptr<ChunkRun[]> runs_;  // one per worker
  alignas(64) std::atomic<uint64_t> generation_{0};  // one more per job: what workers wait on
  alignas(64) std::atomic<int64_t> done_{0};          // chunks finished
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
};

}  // namespace tlm::cpu
