// Helpers that complete a RunResult: ITL percentiles and the UTC timestamp.
#include "harness/run/run_result.h"

#include <ctime>

#include <fmt/format.h>

#include "engine/common/stats.h"

namespace tlm {

void FillItlPercentiles(RepetitionResult& rep) {
  Summary s = Summarize(rep.itl_ms);
  rep.itl_p50_ms = s.median;
  rep.itl_p90_ms = s.p90;
  rep.itl_p99_ms = s.p99;
}

std::string FormatIso8601Utc(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

}  // namespace tlm
