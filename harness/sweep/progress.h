// What a sweep shows while it runs: on a terminal, one progress bar line with counts and an ETA,
// redrawn in place; otherwise (CI logs, pipes) one plain line per finished run. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "harness/sweep/controller.h"
#include "tlmbench/v1/run.pb.h"

namespace tlm {

class SweepProgress {
 public:
  SweepProgress(SweepOptions::ProgressStyle style, int total, int already_done);
  void Started(const tlmbench::v1::RunSpec& spec, const std::string& agent);
  void Progress(const tlmbench::v1::RunSpec& spec, const std::string& agent, const std::string& message);
  void Finished(const tlmbench::v1::RunSpec& spec, const tlmbench::v1::RunResult& result);
  void Note(const std::string& line);  // an event worth a line of its own (agent lost, retry)
  void Tick();                         // redraws the bar (ETA, elapsed)
  void Finish();

  // "1m05s", "12s", "2h03m".
  static std::string FormatDuration(double seconds);

 private:
  void DrawLocked();
  void ClearLocked();

  bool bar_ = false, quiet_ = false;
  int total_ = 0, done_ = 0, running_ = 0, failed_ = 0;
  const int already_done_;
  std::chrono::steady_clock::time_point start_;
  std::string last_status_;
  std::mutex mu_;
  bool drawn_ = false;
};

// One line saying what a run is: "gemma-3-270m-q4_k_m.gguf cpu t2 p64 n32 f32".
std::string DescribeRun(const tlmbench::v1::RunSpec& spec);

}  // namespace tlm
