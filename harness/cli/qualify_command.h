// `tlmbench qualify --plugin P --soc S`: the NPU plugin qualification suite (harness/qualify/).
#pragma once

#include <CLI/CLI.hpp>

namespace tlm {

void RegisterQualifyCommand(CLI::App& app);

}  // namespace tlm
