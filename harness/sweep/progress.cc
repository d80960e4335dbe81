// Sweep progress on a terminal or in logs (see progress.h).
#include "harness/sweep/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "engine/common/metric_names.h"
#include "engine/common/stats.h"

namespace tlm {
namespace {

namespace v1 = tlmbench::v1;

// The median of one metric over the measured repetitions, NaN when absent.
double MedianOf(const v1::RunResult& r, std::string_view metric) {
  std::vector<double> v;
  for (const v1::Sample& s : r.samples())
    if (s.metric() == metric && s.repetition() > 0) v.push_back(s.value());
  return Median(v);
}

std::string Headline(const v1::RunResult& r) {
  std::string out;
  auto add = [&](std::string_view metric, std::string_view label, const char* fmtstr) {
    const double v = MedianOf(r, metric);
    if (v == v) out += fmt::format(", {} {}", label, fmt::format(fmt::runtime(fmtstr), v));
  };
  add(metric::kPrefillTps, "prefill", "{:.1f} t/s");
  add(metric::kDecodeTps, "decode", "{:.1f} t/s");
  add(metric::kPpl, "ppl", "{:.3f}");
  add(metric::kKldMean, "kld", "{:.5f}");
  add(metric::kTop1Agree, "top1", "{:.3f}");
  add(metric::kNullRepMs, "rep", "{:.2f} ms");
  return out;
}

}  // namespace

std::string DescribeRun(const v1::RunSpec& s) {
  if (s.workload() == "null") return fmt::format("null x{}", s.measurement().min_reps());
  std::string out = fmt::format("{} {} t{}", s.model(), s.backend().empty() ? "cpu" : s.backend(), s.threads());
  if (s.workload() == "accuracy") {
    out += " accuracy";
  } else {
    out += fmt::format(" p{} n{}", s.n_prompt(), s.n_gen());
  }
  if (!s.activations().empty()) out += " " + s.activations();
  return out;
}

std::string SweepProgress::FormatDuration(double s) {
  if (!(s >= 0)) return "?";
  const long t = static_cast<long>(s + 0.5);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
}

SweepProgress::SweepProgress(SweepOptions::ProgressStyle style, int total, int already_done)
    : total_(total), already_done_(already_done), start_(std::chrono::steady_clock::now()) {
  using S = SweepOptions::ProgressStyle;
  quiet_ = style == S::kQuiet;
  bar_ = style == S::kBar || (style == S::kAuto && ::isatty(STDERR_FILENO));
  if (!quiet_)
    fmt::print(stderr, "[sweep] {} runs to do{}\n", total,
               already_done ? fmt::format(" ({} already finished)", already_done) : std::string());
}

void SweepProgress::ClearLocked() {
  if (bar_ && drawn_) {
    std::fputs("\r\033[K", stderr);
    drawn_ = false;
  }
}

void SweepProgress::DrawLocked() {
  if (!bar_ || quiet_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const int width = 24;
  const int filled = total_ ? done_ * width / total_ : width;
  std::string bar(filled, '#');
  bar.resize(width, '-');
  std::string eta = done_ > 0 && done_ < total_ ? FormatDuration(elapsed / done_ * (total_ - done_)) : "?";
  if (done_ == total_) eta = "0s";
  std::string line = fmt::format("\r\033[K[{}] {}/{} runs, {} running, {} failed, {} elapsed, ETA {}", bar, done_,
                                 total_, running_, failed_, FormatDuration(elapsed), eta);
  if (!last_status_.empty()) line += " | " + last_status_.substr(0, 60);
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

void SweepProgress::Started(const v1::RunSpec&, const std::string&) {
  std::lock_guard<std::mutex> lock(mu_);
  ++running_;
  DrawLocked();
}

void SweepProgress::Progress(const v1::RunSpec&, const std::string& agent, const std::string& message) {
  std::lock_guard<std::mutex> lock(mu_);
  last_status_ = agent + ": " + message;
  DrawLocked();
}

void SweepProgress::Finished(const v1::RunSpec& spec, const v1::RunResult& r) {
  std::lock_guard<std::mutex> lock(mu_);
  ++done_;
  // Runs expired by the controller were never started.
  if (r.status() != v1::EXPIRED && r.status() != v1::REFUSED && running_ > 0) --running_;
  if (r.status() != v1::OK) ++failed_;
  if (quiet_) return;
  ClearLocked();
  std::string what;
  if (r.status() == v1::OK) {
    what = fmt::format("ok on {}{} [{}]", r.agent(), Headline(r),
                       r.verdict() == v1::VALID ? "valid" : v1::Verdict_Name(r.verdict()) + ": " + r.verdict_reason());
  } else {
    what =
        fmt::format("{}{}: {}", v1::RunStatus_Name(r.status()), r.agent().empty() ? "" : " on " + r.agent(), r.error());
  }
  fmt::print(stderr, "[sweep] {}/{} {} {}: {}\n", done_, total_, spec.run_id().substr(0, 12), DescribeRun(spec), what);
  DrawLocked();
}

void SweepProgress::Note(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu_);
  if (quiet_) return;
  ClearLocked();
  fmt::print(stderr, "[sweep] {}\n", line);
  DrawLocked();
}

void SweepProgress::Tick() {
  std::lock_guard<std::mutex> lock(mu_);
  DrawLocked();
}

void SweepProgress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  ClearLocked();
  if (quiet_) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  fmt::print(stderr, "[sweep] finished {} of {} runs in {}\n", done_, total_, FormatDuration(elapsed));
}

}  // namespace tlm
