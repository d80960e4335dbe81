// A persistent worker pool for the CPU backend: ParallelFor cuts a range into a few chunks per
// worker and hands them out through one atomic counter, so a worker that is slow, preempted or
// still waking up does not hold the others back (the calling thread takes chunks too). Workers
// spin briefly before sleeping, so the many small ops of a decode step do not pay a futex wake-up
// each; the mutex is only taken when a worker sleeps. Nothing is allocated per call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
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

  int threads_;
  bool pinned_ = false;
  std::vector<int> cpus_;  // per worker, when pinned
  std::vector<std::thread> workers_;
  // The current job. Written by the caller only while no chunk can be claimed (before next_
  // publishes it, after done_ says all chunks ran); read by a worker only after it claimed one.
  Trampoline call_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 0;
  // Chunk count in the high 32 bits, next unclaimed chunk in the low 32. A worker claims chunk i
  // by a compare-exchange from (count, i) to (count, i + 1) with i < count; the count travels
  // with the index, so a claim never runs past the job it was made against.
  alignas(64) std::atomic<uint64_t> next_{0};
  alignas(64) std::atomic<int64_t> done_{0};  // chunks finished
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
};

}  // namespace tlm::cpu
