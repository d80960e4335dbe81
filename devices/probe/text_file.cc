// Small text files of /proc and /sys (see text_file.h).
#include "devices/probe/text_file.h"

#include <fstream>
#include <sstream>

namespace tlm {

std::optional<std::string> ReadTextFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string_view TrimSpace(std::string_view s) {
  const size_t begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(" \t\r\n");
  return s.substr(begin, end - begin + 1);
}

}  // namespace tlm
