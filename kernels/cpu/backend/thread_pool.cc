// Persistent worker pool: per worker a home run of consecutive chunks, taken front to back by its
// owner and from the back by the others once theirs are done; spin-then-sleep waiting.
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
// Chunks per worker: enough that a worker that starts late or gets preempted leaves at most a
// small share for the others to pick up, few enough that claiming one (a compare-exchange on a
// shared line) stays negligible next to the work in it.
constexpr int64_t kChunksPerWorker = 4;

constexpr uint64_t Pack(uint64_t end, uint64_t next) { return end << 32 | next; }
constexpr uint64_t Next(uint64_t range) { return range & 0xffffffffu; }
constexpr uint64_t End(uint64_t range) { return range >> 32; }

bool PinCurrentThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0;
}
}  // namespace

ThreadPool::ThreadPool(int threads, bool pin) : threads_(std::max(1, threads)) {
  runs_ = std::make_unique<ChunkRun[]>(static_cast<size_t>(threads_));
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
    // Under the lock: a worker between its last check and its wait cannot miss the flag.
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true, std::memory_order_seq_cst);
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

bool ThreadPool::Claim(int victim, bool own, int64_t* chunk) {
  std::atomic<uint64_t>& range = runs_[static_cast<size_t>(victim)].range;
  uint64_t r = range.load(std::memory_order_acquire);
  while (Next(r) < End(r)) {
    // Acquire pairs with the release that published the job: the fields read after a claim are
    // those of the job the claimed chunk belongs to, and the caller will not rewrite them before
    // done_ counts it. (A value loaded from an earlier job can only match if the runs were
    // republished with the same bounds: the claim is then a valid one of the current job.)
    const uint64_t claimed = own ? Pack(End(r), Next(r) + 1) : Pack(End(r) - 1, Next(r));
    if (range.compare_exchange_weak(r, claimed, std::memory_order_acquire, std::memory_order_acquire)) {
      *chunk = static_cast<int64_t>(own ? Next(r) : End(r) - 1);
      return true;
    }
  }
  return false;
}

void ThreadPool::RunChunks(int worker) {
  auto run = [&](int64_t chunk) {
    const int64_t begin = chunk * chunk_;
    call_(ctx_, begin, std::min(n_, begin + chunk_), worker);
    done_.fetch_add(1, std::memory_order_release);
  };
  int64_t chunk = 0;
  while (Claim(worker, /*own=*/true, &chunk)) run(chunk);
  for (int i = 1; i < threads_; ++i) {
    const int victim = (worker + i) % threads_;
    while (Claim(victim, /*own=*/false, &chunk)) run(chunk);
  }
}

ThreadPool::Chunking ThreadPool::Cut(int64_t n, int64_t grain) const {
  grain = std::max<int64_t>(grain, 1);
  const int64_t grains = (n + grain - 1) / grain;
  if (threads_ == 1 || grains <= 1) return {n, n > 0 ? 1 : 0};
  const int64_t max_chunks = std::min<int64_t>(grains, threads_ * kChunksPerWorker);
  const int64_t chunk = (grains + max_chunks - 1) / max_chunks * grain;
  return {chunk, (n + chunk - 1) / chunk};
}

void ThreadPool::Run(int64_t n, int64_t grain, Trampoline call, void* ctx) {
  if (n <= 0) return;
  const auto [chunk, chunks] = Cut(n, grain);
  if (chunks == 1) {
    call(ctx, 0, n, 0);
    return;
  }
  call_ = call;
  ctx_ = ctx;
  n_ = n;
  chunk_ = chunk;
  done_.store(0, std::memory_order_relaxed);
  // Worker w's home run: chunks [chunks * w / threads, chunks * (w + 1) / threads).
  for (int w = 0; w < threads_; ++w)
    runs_[static_cast<size_t>(w)].range.store(
        Pack(static_cast<uint64_t>(chunks * (w + 1) / threads_), static_cast<uint64_t>(chunks * w / threads_)),
        std::memory_order_release);
  // seq_cst increment, then seq_cst load of sleepers_; a worker going to sleep does the mirror
  // image (sleepers_ increment, then a seq_cst load of generation_ in its wait predicate). Either
  // it sees the job and does not sleep, or this sees it counted and wakes it under the lock: no
  // lost wake-up, and no lock at all while every worker spins.
  generation_.fetch_add(1, std::memory_order_seq_cst);
  if (sleepers_.load(std::memory_order_seq_cst) > 0) {
    { std::lock_guard<std::mutex> lock(mu_); }
    wake_.notify_all();
  }
  RunChunks(0);
  while (done_.load(std::memory_order_acquire) != chunks) TLM_CPU_RELAX();
}

void ThreadPool::Worker(int index) {
  uint64_t seen = 0;  // the last job this worker looked for chunks in
  for (;;) {
    int spin = 0;
    uint64_t g = generation_.load(std::memory_order_acquire);
    while (g == seen && !stop_.load(std::memory_order_acquire)) {
      if (++spin < kSpinIterations) {
        TLM_CPU_RELAX();
        g = generation_.load(std::memory_order_acquire);
        continue;
      }
      std::unique_lock<std::mutex> lock(mu_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      wake_.wait(lock, [&] {
        return stop_.load(std::memory_order_seq_cst) || generation_.load(std::memory_order_seq_cst) != seen;
      });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      g = generation_.load(std::memory_order_acquire);
      spin = 0;
    }
    if (stop_.load(std::memory_order_acquire)) return;
    seen = g;
    RunChunks(index);
  }
}

}  // namespace tlm::cpu
