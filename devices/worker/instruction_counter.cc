// Instruction counts from perf_event_open or callgrind (see instruction_counter.h).
#include "devices/worker/instruction_counter.h"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <valgrind/callgrind.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace tlm {
namespace {

int OpenPerfInstructions() {
  perf_event_attr attr{};
  attr.type = PERF_TYPE_HARDWARE;
  attr.size = sizeof(attr);
  attr.config = PERF_COUNT_HW_INSTRUCTIONS;
  attr.disabled = 1;
  attr.exclude_kernel = 1;
  attr.exclude_hv = 1;
  return static_cast<int>(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}

class PerfCounter final : public InstructionCounter {
 public:
  explicit PerfCounter(int fd) : fd_(fd) {}
  ~PerfCounter() override { ::close(fd_); }
  Status Start() override {
    ::ioctl(fd_, PERF_EVENT_IOC_RESET, 0);
    if (::ioctl(fd_, PERF_EVENT_IOC_ENABLE, 0) != 0) return Internal("perf enable: {}", std::strerror(errno));
    return Status::Ok();
  }
  StatusOr<uint64_t> Stop() override {
    ::ioctl(fd_, PERF_EVENT_IOC_DISABLE, 0);
    uint64_t count = 0;
    if (::read(fd_, &count, sizeof count) != sizeof count) return Internal("perf read: {}", std::strerror(errno));
    return count;
  }
  std::string_view source() const override { return "perf"; }

 private:
  int fd_;
};

class CallgrindCounter final : public InstructionCounter {
 public:
  explicit CallgrindCounter(std::string out) : out_(std::move(out)) {}
  Status Start() override {
    CALLGRIND_ZERO_STATS;
    CALLGRIND_TOGGLE_COLLECT;
    return Status::Ok();
  }
  StatusOr<uint64_t> Stop() override {
    CALLGRIND_TOGGLE_COLLECT;
    CALLGRIND_DUMP_STATS;
    // Dumps are numbered from 1 in the order they are made: <out>.1, <out>.2, ...
    return ReadCallgrindTotal(out_ + "." + std::to_string(++dumps_));
  }
  std::string_view source() const override { return "callgrind"; }

 private:
  std::string out_;
  int dumps_ = 0;
};

}  // namespace

Status PerfInstructionsAvailable() {
  const int fd = OpenPerfInstructions();
  if (fd < 0)
    return Unavailable(
        "perf_event_open cannot count instructions here ({}; no PMU in this VM, or "
        "kernel.perf_event_paranoid forbids it)",
        std::strerror(errno));
  ::close(fd);
  return Status::Ok();
}

StatusOr<uint64_t> ReadCallgrindTotal(const std::string& path) {
  std::ifstream in(path);
  if (!in) return NotFound("callgrind wrote no {}", path);
  std::string line;
  std::string summary;
  while (std::getline(in, line)) {
    if (line.rfind("totals:", 0) == 0) return std::strtoull(line.c_str() + 7, nullptr, 10);
    if (line.rfind("summary:", 0) == 0) summary = line.substr(8);
  }
  if (!summary.empty()) return std::strtoull(summary.c_str(), nullptr, 10);
  return DataLoss("{} has no totals: line", path);
}

StatusOr<std::unique_ptr<InstructionCounter>> InstructionCounter::Create() {
  if (RUNNING_ON_VALGRIND) {
    const char* out = std::getenv("TLM_CALLGRIND_OUT");
    if (out == nullptr || *out == '\0')
      return Unavailable("running under valgrind without $TLM_CALLGRIND_OUT (the agent sets it)");
    return std::unique_ptr<InstructionCounter>(new CallgrindCounter(out));
  }
  const int fd = OpenPerfInstructions();
  if (fd < 0) {
    return Unavailable(
        "cannot count instructions: perf_event_open failed ({}) and the worker does not run under "
        "callgrind (agents choose callgrind when valgrind is installed)",
        std::strerror(errno));
  }
  return std::unique_ptr<InstructionCounter>(new PerfCounter(fd));
}

}  // namespace tlm
