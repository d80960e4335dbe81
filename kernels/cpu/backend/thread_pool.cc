// Persistent worker pool with spin-then-sleep waiting.
#include "kernels/cpu/backend/thread_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TLM_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define TLM_CPU_RELAX() asm volatile("yield")
#else
#define TLM_CPU_RELAX() ((void)0)
#endif

namespace tlm::cpu {
namespace {
// About 50-100 us of spinning before a worker sleeps: long enough to span the gap between the ops
// of one decode step, short enough not to burn a core between steps.
constexpr int kSpinIterations = 20000;
}  // namespace

namespace {
bool PinCurrentThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}
}  // namespace

ThreadPool::ThreadPool(int threads, bool pin) : threads_(std::max(1, threads)) {
  if (pin) {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    std::vector<int> cpus;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0)
      for (int c = 0; c < CPU_SETSIZE; ++c)
        if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
    if (!cpus.empty()) {
      for (int i = 0; i < threads_; ++i) cpus_.push_back(cpus[static_cast<size_t>(i) % cpus.size()]);
      pinned_ = PinCurrentThread(cpus_[0]);
    }
  }
  for (int i = 1; i < threads_; ++i)
    workers_.emplace_back([this, i] {
      if (pinned_) PinCurrentThread(cpus_[static_cast<size_t>(i)]);
      Worker(i);
    });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::RunSlice(int index) {
  const int64_t begin = n_ * index / threads_, end = n_ * (index + 1) / threads_;
  if (begin < end) call_(ctx_, begin, end, index);
}

void ThreadPool::Run(int64_t n, Trampoline call, void* ctx) {
  if (threads_ == 1 || n <= 1) {
    if (n > 0) call(ctx, 0, n, 0);
    return;
  }
  call_ = call;
  ctx_ = ctx;
  n_ = n;
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  {
    // The lock orders this publication against a worker that is about to sleep.
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  if (sleepers_.load(std::memory_order_acquire) > 0) wake_.notify_all();
  RunSlice(0);
  while (pending_.load(std::memory_order_acquire) != 0) TLM_CPU_RELAX();
}

void ThreadPool::Worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen && spin < kSpinIterations; ++spin) {
      TLM_CPU_RELAX();
      gen = generation_.load(std::memory_order_acquire);
    }
    if (gen == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1, std::memory_order_acq_rel);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      sleepers_.fetch_sub(1, std::memory_order_acq_rel);
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_acquire)) return;
    RunSlice(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

}  // namespace tlm::cpu
