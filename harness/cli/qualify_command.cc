// `tlmbench qualify`: parses flags, runs the suite, prints the table, writes JUnit XML; exit 0 on PASS,
// 1 on FAIL, 2 on usage errors.
#include "harness/cli/qualify_command.h"

#include <cstdio>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "harness/cli/commands.h"
#include "harness/qualify/qualify_suite.h"
#include "kernels/npu/loader/plugin_loader.h"

namespace tlm {

void RegisterQualifyCommand(CLI::App& app) {
  struct Request {
    QualifyOptions options;
    std::string junit_path;
    bool list = false;
  };
  auto r = std::make_shared<Request>();
  CLI::App* cmd = app.add_subcommand(
      "qualify",
      "Qualify an NPU vendor plugin on one SoC: ABI conformance (version negotiation, NULL and invalid arguments,\n"
      "corrupt and foreign blobs, double destroy, calls out of order), per-op accuracy against the CPU reference\n"
      "(exact, quantized-bucket, float accumulation-aware), determinism, and latency per op and per token (wall\n"
      "and modelled). Every check runs in its own worker process: a crash or hang fails that check only.\n"
      "Exit 0 when every check passes, 1 on any failure, 2 on usage errors. See docs/npu.md.");
  cmd->add_option("--plugin", r->options.plugin, "Plugin name (vnpu = <plugin-dir>/tlm_npu_vnpu.so) or file in the plugin folder");
  cmd->add_option("--soc", r->options.soc, "SoC to compile for and run on (vnpu: vnpu-small, vnpu-large)");
  cmd->add_option("--plugin-dir", r->options.plugin_dir,
                  "The allowlisted plugin folder (default $TLMBENCH_PLUGIN_DIR, else <bin>/../plugins)");
  cmd->add_option("--junit", r->junit_path, "Also write the result as JUnit XML to this file");
  cmd->add_option("--timeout", r->options.timeout_s, "Seconds a check may take before it counts as hung")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--repeats", r->options.repeats, "Determinism: fresh runs to compare")
      ->check(CLI::Range(2, 1000))
      ->capture_default_str();
  cmd->add_option("--only", r->options.only, "Run only checks whose name starts with this (repeatable)")
      ->allow_extra_args(false);
  cmd->add_flag("--list", r->list, "List the checks and exit");
  cmd->callback([r] {
    SetCommandAction([r] {
      if (r->list) {
        for (const std::string& name : QualifyCheckNames()) fmt::print("{}\n", name);
        return kExitOk;
      }
      if (r->options.plugin.empty() || r->options.soc.empty()) {
        fmt::print(stderr, "error: qualify needs --plugin and --soc (see tlmbench qualify --help)\n");
        return kExitBadInput;
      }
      if (r->options.plugin_dir.empty()) r->options.plugin_dir = DefaultNpuPluginDir();
      const QualifyReport report = RunQualify(r->options);
      const std::string table = FormatQualifyTable(report);
      std::fwrite(table.data(), 1, table.size(), stdout);
      std::fflush(stdout);
      if (!r->junit_path.empty()) {
        std::ofstream f(r->junit_path, std::ios::binary | std::ios::trunc);
        f << FormatQualifyJUnit(report);
        if (!f) {
          fmt::print(stderr, "error: cannot write {}\n", r->junit_path);
          return kExitBadInput;
        }
      }
      return report.pass() ? kExitOk : kExitFailure;
    });
  });
}

}  // namespace tlm
