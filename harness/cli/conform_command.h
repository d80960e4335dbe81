// `tlmbench conform --backend B`: the backend conformance suite (harness/conform/, docs/conform.md).
#pragma once

#include <CLI/CLI.hpp>

namespace tlm {

void RegisterConformCommand(CLI::App& app);

}  // namespace tlm
