// `tlmbench history --metric M [--scenario S] [--device D] [--dataset FILE]`: prints a HistoryRequest's report.
#include "harness/cli/history_command.h"

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "harness/cli/commands.h"
#include "harness/compare/history.h"

namespace tlm {

void RegisterHistoryCommand(CLI::App& app) {
  auto r = std::make_shared<HistoryRequest>();
  CLI::App* cmd = app.add_subcommand(
      "history",
      "Print a metric's history per scenario (device + spec hash), one point per commit in commit-time order\n"
      "(the median of its runs' samples), and the commits where it shifted: E-divisive change points with the\n"
      "change of the mean and a permutation p-value. Exit 0, or 2 on usage or data errors.");
  cmd->add_option("--metric", r->query.metric, "The metric, e.g. decode_tps")->required();
  cmd->add_option("--scenario", r->query.scenario, "Only this scenario (the spec's name)");
  cmd->add_option("--device", r->query.device, "Only this device (agent name)");
  cmd->add_option("--dataset", r->dataset, "Dataset file")->capture_default_str();
  cmd->add_option("--alpha", r->query.change_points.alpha, "Significance level of a change point")
      ->capture_default_str();
  cmd->add_option("--permutations", r->query.change_points.permutations, "Permutations per tested split")
      ->capture_default_str();
  cmd->add_option("--min-segment", r->query.change_points.min_segment, "Fewest points between change points")
      ->capture_default_str();
  cmd->add_option("-f,--format", r->format, "markdown or json")
      ->check(CLI::IsMember({"markdown", "json"}))
      ->capture_default_str();
  cmd->callback([r] {
    SetCommandAction([r] {
      std::string output, error;
      const int code = RunHistory(*r, &output, &error);
      if (!error.empty()) fmt::print(stderr, "{}\n", error);
      std::fwrite(output.data(), 1, output.size(), stdout);
      std::fflush(stdout);
      return code;
    });
  });
}

}  // namespace tlm
