// Memory probes: resident set split into anonymous / file-backed / shmem, page faults, mincore
// residency of a mapped range, and a background tracker of the peaks of that split.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "engine/common/status.h"

namespace tlm {

// Where the resident set is read from. kSmapsRollup is exact (the kernel walks the page tables),
// costs tens to hundreds of microseconds and needs Linux >= 4.14; kProcStatus reads the kernel's
// per-process counters (RssAnon/RssFile/RssShmem of /proc/self/status), cheaper but approximate by
// a few pages per CPU on recent kernels.
enum class MemorySource { kSmapsRollup, kProcStatus };

// Files the probe reads; tests point them elsewhere.
struct MemoryProcPaths {
  std::string smaps_rollup = "/proc/self/smaps_rollup";
  std::string status = "/proc/self/status";
};

// Bytes resident in RAM for this process, split by what backs them, and fault counters.
//
// With kSmapsRollup:
//   rss_bytes       = "Rss:"       of smaps_rollup
//   rss_anon_bytes  = "Anonymous:" of smaps_rollup: private anonymous pages (heap, stacks, and
//                     copy-on-write copies of file pages); shmem is not counted here
//   rss_shmem_bytes = "RssShmem:"  of /proc/self/status (smaps_rollup has only Pss_Shmem, which
//                     divides shared pages among sharers); 0 where the line is missing
//   rss_file_bytes  = rss_bytes - rss_anon_bytes - rss_shmem_bytes, clamped at 0: pages of
//                     file mappings, e.g. an mmapped model's weights
// With kProcStatus: VmRSS, RssAnon, RssShmem, RssFile of /proc/self/status directly.
// faults_major / faults_minor: getrusage(RUSAGE_SELF) ru_majflt / ru_minflt, cumulative since the
// process started (subtract a snapshot taken before the run for the run's own faults).
struct MemorySnapshot {
  uint64_t rss_anon_bytes = 0;
  uint64_t rss_file_bytes = 0;
  uint64_t rss_shmem_bytes = 0;
  uint64_t rss_bytes = 0;
  uint64_t faults_major = 0;
  uint64_t faults_minor = 0;
};

// Reads one snapshot. Errors (kUnavailable) name the file and say why /proc could not be read.
StatusOr<MemorySnapshot> ReadMemorySnapshot(MemorySource source = MemorySource::kSmapsRollup,
                                            const MemoryProcPaths& paths = {});

// Parses the "Key:   1234 kB" lines of smaps_rollup or status text into a snapshot (faults are
// left at 0). `name` is used in error messages. Exposed for tests.
StatusOr<MemorySnapshot> ParseSmapsRollup(std::string_view smaps_rollup, std::string_view status,
                                          std::string_view name = "smaps_rollup");
StatusOr<MemorySnapshot> ParseProcStatus(std::string_view status, std::string_view name = "status");

// Bytes of [addr, addr + len) whose pages are resident, by mincore(2). Pages that straddle the
// ends count only the bytes inside the range, so the result is at most len. len 0 gives 0. An
// unmapped page in the range is an error (kInvalidArgument, from ENOMEM). Allocates nothing.
StatusOr<uint64_t> ResidentBytes(const void* addr, size_t len);

// Peak of each part of the resident set while the tracker runs. The peaks come from different
// moments: VmHWM gives only the total's peak, so the split has to be sampled.
struct MemoryPeaks {
  uint64_t rss_peak_anon_bytes = 0;
  uint64_t rss_peak_file_bytes = 0;
  uint64_t rss_peak_shmem_bytes = 0;
  uint64_t rss_peak_bytes = 0;  // peak of the sampled total
  uint64_t samples = 0;
  MemorySnapshot last;  // most recent snapshot
};

// Samples memory on a background thread every `interval` and on demand, keeping the peaks.
// Short spikes between samples are missed: call SampleNow() at the moments that matter (after
// load, after prefill) so those are always counted.
//
// Start(), Stop() and SampleNow() read `source` (exact by default); the background thread reads
// `background_source`, /proc/self/status's counters by default. smaps_rollup walks every page
// table of the process: with a 250 MiB model mapped, sampling it every 5 ms took ~20% of a core
// on a 2-core machine, time taken from the run being measured. The counters cost a few
// microseconds and differ from the exact figure by at most a few pages per CPU.
class PeakMemoryTracker {
 public:
  struct Options {
    std::chrono::microseconds interval{5000};
    MemorySource source = MemorySource::kSmapsRollup;
    MemorySource background_source = MemorySource::kProcStatus;
    MemoryProcPaths paths = {};
  };

  PeakMemoryTracker();
  explicit PeakMemoryTracker(Options options);
  ~PeakMemoryTracker();  // stops the thread
  PeakMemoryTracker(const PeakMemoryTracker&) = delete;
  PeakMemoryTracker& operator=(const PeakMemoryTracker&) = delete;

  // Takes a first sample on the caller's thread (so an unreadable /proc fails here), then starts
  // sampling. Starting twice is an error.
  Status Start();
  // Takes a last sample, stops and joins the thread. Returns the first error the thread hit, if
  // any; the peaks gathered before it stay valid. Stopping a stopped tracker is a no-op.
  Status Stop();
  // Samples now on the caller's thread and folds the result into the peaks.
  StatusOr<MemorySnapshot> SampleNow();
  MemoryPeaks Peaks() const;
  // Forgets the peaks (e.g. after warm-up); the next sample starts them again.
  void ResetPeaks();

 private:
  void Record(const MemorySnapshot& s);
  void Loop();

  Options options_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool running_ = false;
  bool stop_requested_ = false;
  Status thread_error_;
  MemoryPeaks peaks_;
  std::thread thread_;
};

}  // namespace tlm
