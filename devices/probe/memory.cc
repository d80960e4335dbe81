// Memory probes over /proc, getrusage and mincore, and the peak tracker's sampling thread.
#include "devices/probe/memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

namespace tlm {

namespace {

// smaps_rollup is ~1 KiB and status ~1.5 KiB; reading into a stack buffer keeps the sampler from
// allocating (and so from moving the anonymous RSS it measures).
constexpr size_t kProcFileMax = 16384;
using ProcBuffer = std::array<char, kProcFileMax>;

StatusOr<std::string_view> ReadProcFile(const std::string& path, ProcBuffer& buffer) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return Unavailable(
        "cannot open {}: {} (memory probes need Linux with /proc mounted and readable; "
        "smaps_rollup needs kernel 4.14 or later)",
        path, std::strerror(err));
  }
  size_t size = 0;
  for (;;) {
    if (size == buffer.size()) {
      ::close(fd);
      return Internal("{} is larger than the {} bytes expected of it", path, buffer.size());
    }
    const ssize_t n = ::read(fd, buffer.data() + size, buffer.size() - size);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return Unavailable("cannot read {}: {}", path, std::strerror(err));
    }
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  return std::string_view(buffer.data(), size);
}

// Value of a "Key:   1234 kB" line, in bytes. Keys match whole, at the start of a line.
std::optional<uint64_t> FindKiB(std::string_view text, std::string_view key) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    if (line.size() <= key.size() || line.compare(0, key.size(), key) != 0 || line[key.size()] != ':') {
      continue;
    }
    std::string_view rest = line.substr(key.size() + 1);
    const size_t digits = rest.find_first_not_of(" \t");
    if (digits == std::string_view::npos) return std::nullopt;
    uint64_t kib = 0;
    auto [end, ec] = std::from_chars(rest.data() + digits, rest.data() + rest.size(), kib);
    if (ec != std::errc()) return std::nullopt;
    (void)end;
    return kib * 1024;
  }
  return std::nullopt;
}

Status MissingLine(std::string_view name, std::string_view key) {
  return DataLoss("{}: no readable '{}:' line", name, key);
}

Status AddFaults(MemorySnapshot& s) {
  struct rusage usage {};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) {
    return Unavailable("getrusage(RUSAGE_SELF): {}", std::strerror(errno));
  }
  s.faults_major = static_cast<uint64_t>(usage.ru_majflt);
  s.faults_minor = static_cast<uint64_t>(usage.ru_minflt);
  return Status::Ok();
}

}  // namespace

StatusOr<MemorySnapshot> ParseSmapsRollup(std::string_view smaps_rollup, std::string_view status,
                                          std::string_view name) {
  MemorySnapshot s;
  auto rss = FindKiB(smaps_rollup, "Rss");
  if (!rss) return MissingLine(name, "Rss");
  auto anon = FindKiB(smaps_rollup, "Anonymous");
  if (!anon) return MissingLine(name, "Anonymous");
  s.rss_bytes = *rss;
  s.rss_anon_bytes = *anon;
  s.rss_shmem_bytes = FindKiB(status, "RssShmem").value_or(0);
  const uint64_t not_file = s.rss_anon_bytes + s.rss_shmem_bytes;
  // The shmem counter is approximate; never let its error make the file part negative.
  s.rss_file_bytes = s.rss_bytes > not_file ? s.rss_bytes - not_file : 0;
  return s;
}

StatusOr<MemorySnapshot> ParseProcStatus(std::string_view status, std::string_view name) {
  MemorySnapshot s;
  auto rss = FindKiB(status, "VmRSS");
  if (!rss) return MissingLine(name, "VmRSS");
  auto anon = FindKiB(status, "RssAnon");
  if (!anon) return MissingLine(name, "RssAnon");
  auto file = FindKiB(status, "RssFile");
  if (!file) return MissingLine(name, "RssFile");
  s.rss_bytes = *rss;
  s.rss_anon_bytes = *anon;
  s.rss_file_bytes = *file;
  s.rss_shmem_bytes = FindKiB(status, "RssShmem").value_or(0);
  return s;
}

StatusOr<MemorySnapshot> ReadMemorySnapshot(MemorySource source, const MemoryProcPaths& paths) {
  ProcBuffer status_buffer;
  TLM_ASSIGN_OR_RETURN(std::string_view status, ReadProcFile(paths.status, status_buffer));
  MemorySnapshot s;
  if (source == MemorySource::kSmapsRollup) {
    ProcBuffer rollup_buffer;
    TLM_ASSIGN_OR_RETURN(std::string_view rollup, ReadProcFile(paths.smaps_rollup, rollup_buffer));
    TLM_ASSIGN_OR_RETURN(s, ParseSmapsRollup(rollup, status, paths.smaps_rollup));
  } else {
    TLM_ASSIGN_OR_RETURN(s, ParseProcStatus(status, paths.status));
  }
  TLM_RETURN_IF_ERROR(AddFaults(s));
  return s;
}

StatusOr<uint64_t> ResidentBytes(const void* addr, size_t len) {
  if (len == 0) return uint64_t{0};
  const long page_size_raw = ::sysconf(_SC_PAGESIZE);
  if (page_size_raw <= 0) return Internal("sysconf(_SC_PAGESIZE) failed");
  const uintptr_t page = static_cast<uintptr_t>(page_size_raw);
  const uintptr_t begin = reinterpret_cast<uintptr_t>(addr);
  if (len > UINTPTR_MAX - begin) return InvalidArgument("ResidentBytes: range {:#x} + {} overflows", begin, len);
  const uintptr_t end = begin + len;
  const uintptr_t first_page = begin & ~(page - 1);

  // mincore fills one byte per page; a fixed chunk keeps this free of allocation for any length.
  constexpr size_t kChunkPages = 8192;
  std::array<unsigned char, kChunkPages> vec;
  uint64_t resident = 0;
  for (uintptr_t chunk = first_page; chunk < end;) {
    const size_t pages = std::min<uintptr_t>(kChunkPages, (end - chunk + page - 1) / page);
    if (::mincore(reinterpret_cast<void*>(chunk), pages * page, vec.data()) != 0) {
      const int err = errno;
      if (err == ENOMEM) {
        return InvalidArgument("ResidentBytes: [{:#x}, {:#x}) is not fully mapped (mincore: {})",
                               begin, end, std::strerror(err));
      }
      return Internal("mincore({:#x}, {}): {}", chunk, pages * page, std::strerror(err));
    }
    for (size_t i = 0; i < pages; ++i) {
      if ((vec[i] & 1) == 0) continue;
      const uintptr_t p = chunk + i * page;
      resident += std::min(p + page, end) - std::max(p, begin);  // only the bytes inside the range
    }
    chunk += pages * page;
  }
  return resident;
}

PeakMemoryTracker::PeakMemoryTracker() : PeakMemoryTracker(Options{}) {}

PeakMemoryTracker::PeakMemoryTracker(Options options) : options_(std::move(options)) {}

PeakMemoryTracker::~PeakMemoryTracker() { (void)Stop(); }

void PeakMemoryTracker::Record(const MemorySnapshot& s) {
  peaks_.rss_peak_anon_bytes = std::max(peaks_.rss_peak_anon_bytes, s.rss_anon_bytes);
  peaks_.rss_peak_file_bytes = std::max(peaks_.rss_peak_file_bytes, s.rss_file_bytes);
  peaks_.rss_peak_shmem_bytes = std::max(peaks_.rss_peak_shmem_bytes, s.rss_shmem_bytes);
  peaks_.rss_peak_bytes = std::max(peaks_.rss_peak_bytes, s.rss_bytes);
  peaks_.samples += 1;
  peaks_.last = s;
}

StatusOr<MemorySnapshot> PeakMemoryTracker::SampleNow() {
  TLM_ASSIGN_OR_RETURN(MemorySnapshot s, ReadMemorySnapshot(options_.source, options_.paths));
  std::lock_guard lock(mutex_);
  Record(s);
  return s;
}

Status PeakMemoryTracker::Start() {
  {
    std::lock_guard lock(mutex_);
    if (running_) return Internal("PeakMemoryTracker: Start() while already running");
  }
  if (options_.interval.count() <= 0) {
    return InvalidArgument("PeakMemoryTracker: interval must be positive, got {} us",
                           options_.interval.count());
  }
  auto first = SampleNow();
  if (!first.ok()) return first.status().WithContext("starting the memory tracker");
  std::lock_guard lock(mutex_);
  running_ = true;
  stop_requested_ = false;
  thread_error_ = Status::Ok();
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void PeakMemoryTracker::Loop() {
  std::unique_lock lock(mutex_);
  while (!stop_requested_) {
    if (wake_.wait_for(lock, options_.interval, [this] { return stop_requested_; })) break;
    lock.unlock();
    auto s = ReadMemorySnapshot(options_.background_source, options_.paths);
    lock.lock();
    if (!s.ok()) {
      thread_error_ = s.status().WithContext("memory tracker thread");
      break;
    }
    Record(*s);
  }
}

Status PeakMemoryTracker::Stop() {
  {
    std::lock_guard lock(mutex_);
    if (!running_) return Status::Ok();
    stop_requested_ = true;
  }
  wake_.notify_all();
  thread_.join();
  {
    std::lock_guard lock(mutex_);
    running_ = false;
  }
  auto last = SampleNow();
  std::lock_guard lock(mutex_);
  if (!thread_error_.ok()) return thread_error_;
  if (!last.ok()) return last.status().WithContext("stopping the memory tracker");
  return Status::Ok();
}

MemoryPeaks PeakMemoryTracker::Peaks() const {
  std::lock_guard lock(mutex_);
  return peaks_;
}

void PeakMemoryTracker::ResetPeaks() {
  std::lock_guard lock(mutex_);
  peaks_ = MemoryPeaks{};
}

}  // namespace tlm
