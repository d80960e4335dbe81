// ISO 8601 UTC timestamps (see time_format.h).
#include "engine/common/time_format.h"

#include <ctime>

#include <fmt/format.h>

namespace tlm {

std::string FormatIso8601Utc(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(time);
  std::tm utc{};
  gmtime_r(&t, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday,
                     utc.tm_hour, utc.tm_min, utc.tm_sec);
}

}  // namespace tlm
