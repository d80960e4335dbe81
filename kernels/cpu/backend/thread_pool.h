// A persistent worker pool for the CPU backend: ParallelFor splits a range into one contiguous
// slice per worker. Workers spin briefly on a generation counter before sleeping, so the many
// small ops of a decode step do not pay a futex wake-up each; nothing is allocated per call.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
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

  // Calls fn(begin, end, worker) on disjoint slices covering [0, n), worker in [0, size());
  // returns when all are done. `fn` is called through a plain function pointer: no allocation.
  template <typename Fn>
  void ParallelFor(int64_t n, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    Run(
        n, [](void* ctx, int64_t b, int64_t e, int w) { (*static_cast<F*>(ctx))(b, e, w); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using Trampoline = void (*)(void* ctx, int64_t begin, int64_t end, int worker);
  void Run(int64_t n, Trampoline call, void* ctx);
  void Worker(int index);
  void RunSlice(int index);

  int threads_;
  bool pinned_ = false;
  std::vector<int> cpus_;  // per worker, when pinned
  std::vector<std::thread> workers_;
  // The current job, published by a release store of generation_.
  Trampoline call_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<int> sleepers_{0};
};

}  // namespace tlm::cpu
