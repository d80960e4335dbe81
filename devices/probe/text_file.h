// Reading the small text files that /proc and /sys expose, shared by the probes.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace tlm {

// The whole file, or nullopt when it cannot be opened.
std::optional<std::string> ReadTextFile(const std::filesystem::path& path);

// `s` without leading and trailing spaces, tabs, CRs and LFs.
std::string_view TrimSpace(std::string_view s);

}  // namespace tlm
