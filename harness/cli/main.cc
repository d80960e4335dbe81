// tlmbench: one binary, many subcommands (run, make-model; sweep, agent, compare, ... to come).
#include <cstdio>

#include <CLI/CLI.hpp>

#include "harness/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{
      "tlmbench: benchmark and qualify tiny language models on edge hardware.\n"
      "Runs GGUF models on this device's backends and reports speed, memory and accuracy."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("tlmbench ") + tlm::BuildCommit());
  tlm::RegisterRunCommand(app);
  tlm::RegisterGenerateCommand(app);
  tlm::RegisterMakeModelCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2, like every other bad-input error.
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return tlm::RunSelectedCommand();
}
