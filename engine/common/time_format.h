// Timestamps as every record writes them: ISO 8601 in UTC, "2025-01-31T12:00:00Z".
#pragma once

#include <chrono>
#include <string>

namespace tlm {

std::string FormatIso8601Utc(std::chrono::system_clock::time_point time);
inline std::string NowIso8601Utc() { return FormatIso8601Utc(std::chrono::system_clock::now()); }

}  // namespace tlm
