// Where backends keep what they build once and reuse across runs (OpenCL program binaries, the
// Vulkan pipeline cache, cpu-xnnpack's dequantized weights): one folder per backend.
#pragma once

#include <string>
#include <string_view>

namespace tlm {

// $TLMBENCH_CACHE_DIR/<backend>, else $XDG_CACHE_HOME/tlmbench/<backend>, else
// ~/.cache/tlmbench/<backend> (./.cache/... without a HOME).
std::string BackendCacheDir(std::string_view backend);

}  // namespace tlm
