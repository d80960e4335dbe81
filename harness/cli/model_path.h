// Resolves a --model argument: an existing path, or a file name in the model cache.
#pragma once

#include <string>

#include "engine/common/status.h"

namespace tlm {

// $TLMBENCH_MODELS, else ~/.cache/tlmbench/models.
std::string ModelCacheDir();
// `name` as given when it is a file; else ModelCacheDir()/name; else NotFound naming both places.
StatusOr<std::string> ResolveModelPath(const std::string& name);

}  // namespace tlm
