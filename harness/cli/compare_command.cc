// `tlmbench compare BASE CAND [options]`: parses flags into a CompareRequest and prints its report.
#include "harness/cli/compare_command.h"

#include <cstdio>
#include <memory>

#include <fmt/format.h>

#include "harness/cli/commands.h"
#include "harness/compare/compare_request.h"

namespace tlm {

void RegisterCompareCommand(CLI::App& app) {
  auto r = std::make_shared<CompareRequest>();
  CLI::App* cmd = app.add_subcommand(
      "compare",
      "Compare a candidate against a base: per scenario (device + spec hash) and metric, the median ratio with a\n"
      "bootstrap 95% interval and a Mann-Whitney U p-value. A regression is significant (p < --alpha, at least\n"
      "--min-samples a side) AND beyond its threshold in the worse direction. Exit 1 on any regression, 0 otherwise,\n"
      "2 on usage or data errors. Each side is:\n"
      "  FILE       a dataset file: its latest sweep (by start time)\n"
      "  FILE:ID    a sweep id or run id in that file\n"
      "  ID         a sweep id or run id in --dataset");
  cmd->add_option("base", r->base, "The base side (FILE, FILE:ID or ID)")->required();
  cmd->add_option("cand", r->cand, "The candidate side (FILE, FILE:ID or ID)")->required();
  cmd->add_option("--dataset", r->dataset, "Dataset file where a bare ID is looked up")->capture_default_str();
  cmd->add_option("--alpha", r->options.alpha, "Significance level of the two-sided Mann-Whitney U test")
      ->capture_default_str();
  cmd->add_option("--min-samples", r->options.min_samples,
                  "Fewer samples on a side than this: 'not enough samples', no verdict")
      ->capture_default_str();
  cmd->add_option("--noise-cv", r->options.noise_cv, "Coefficient of variation above which a side is noisy")
      ->capture_default_str();
  cmd->add_option("--threshold", r->threshold_assignments,
                  "METRIC=PERCENT, e.g. decode_tps=3% (repeatable; default=PERCENT sets the default, 5%)")
      ->allow_extra_args(false);
  cmd->add_option("--config", r->config_path,
                  "YAML thresholds: 'default: 5%' and 'metrics: {decode_tps: 3%, ...}' (--threshold wins)");
  cmd->add_option("--metric", r->options.metrics, "Only these metrics (repeatable; default every shared metric)")
      ->allow_extra_args(false);
  cmd->add_option("--resamples", r->options.bootstrap.resamples, "Bootstrap resamples for the interval")
      ->capture_default_str();
  cmd->add_option("-f,--format", r->format, "What to print: markdown (for a CI job summary) or json")
      ->check(CLI::IsMember({"markdown", "json"}))
      ->capture_default_str();
  cmd->add_option("--json", r->json_path, "Also write the JSON report to this file");
  cmd->add_option("--markdown", r->markdown_path, "Also write the markdown report to this file ($GITHUB_STEP_SUMMARY)");
  cmd->callback([r] {
    SetCommandAction([r] {
      const CompareOutcome out = RunCompare(*r);
      if (!out.error.empty()) fmt::print(stderr, "{}\n", out.error);
      if (!out.output.empty()) {
        std::fwrite(out.output.data(), 1, out.output.size(), stdout);
        std::fflush(stdout);
      }
      return out.exit_code;
    });
  });
}

}  // namespace tlm
