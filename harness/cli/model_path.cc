// Model path resolution against the model cache.
#include "harness/cli/model_path.h"

#include <cstdlib>
#include <filesystem>

namespace tlm {

std::string ModelCacheDir() {
  if (const char* env = std::getenv("TLMBENCH_MODELS"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/tlmbench/models";
}

StatusOr<std::string> ResolveModelPath(const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_regular_file(name, ec)) return name;
  if (fs::exists(name, ec)) return InvalidArgument("model '{}' is not a regular file", name);
  if (name.find('/') == std::string::npos) {
    const std::string cached = ModelCacheDir() + "/" + name;
    if (fs::is_regular_file(cached, ec)) return cached;
    return NotFound("model '{}' not found (nor in the model cache {}; scripts/setup fetches the reference models)",
                    name, ModelCacheDir());
  }
  return NotFound("model file '{}' not found", name);
}

}  // namespace tlm
