// tlmbench: one binary, many subcommands (run, generate, make-model, sweep, agent, export, compare,
// history, report, qualify, conform, compile).
#include <cstdio>
#include <exception>
#include <new>

#include <CLI/CLI.hpp>

#include <fmt/format.h>

#include "dashboards/report_command.h"
#include "harness/cli/commands.h"
#include "harness/cli/compare_command.h"
#include "harness/cli/conform_command.h"
#include "harness/cli/compile_command.h"
#include "harness/cli/export_command.h"
#include "harness/cli/history_command.h"
#include "harness/cli/qualify_command.h"

int main(int argc, char** argv) {
  CLI::App app{
      "tlmbench: benchmark and qualify tiny language models on edge hardware.\n"
      "Runs GGUF models on this device's backends and reports speed, memory and accuracy."};
  app.require_subcommand(1);
  // Usage errors as one line, like every other error: "error: <what>" plus where to look.
  app.failure_message([](const CLI::App* failed, const CLI::Error& e) {
    const std::string where = failed->get_parent() == nullptr ? "tlmbench" : "tlmbench " + failed->get_name();
    return fmt::format("error: {} (see {} --help)\n", e.what(), where);
  });
  app.set_version_flag("--version", std::string("tlmbench ") + tlm::BuildCommit());
  tlm::RegisterRunCommand(app);
  tlm::RegisterGenerateCommand(app);
  tlm::RegisterMakeModelCommand(app);
  tlm::RegisterSweepCommand(app);
  tlm::RegisterAgentCommand(app);
  tlm::RegisterExportCommand(app);
  tlm::RegisterCompareCommand(app);
  tlm::RegisterHistoryCommand(app);
  tlm::RegisterReportCommand(app);
  tlm::RegisterQualifyCommand(app);
  tlm::RegisterConformCommand(app);
  tlm::RegisterCompileCommand(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2, like every other bad-input error.
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  try {
    return tlm::RunSelectedCommand();
  } catch (const std::bad_alloc&) {
    std::fputs("error: out of memory\n", stderr);
    return tlm::kExitFailure;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return tlm::kExitFailure;
  }
}
