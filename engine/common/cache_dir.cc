#include "engine/common/cache_dir.h"

#include <cstdlib>
#include <filesystem>

namespace tlm {

std::string BackendCacheDir(std::string_view backend) {
  namespace fs = std::filesystem;
  if (const char* dir = std::getenv("TLMBENCH_CACHE_DIR"); dir && *dir) return (fs::path(dir) / backend).string();
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return (fs::path(xdg) / "tlmbench" / backend).string();
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : ".") / ".cache" / "tlmbench" / backend).string();
}

}  // namespace tlm
