// RunConform: creates the backend under test and the CPU reference, runs the per-op cases and the
// end-to-end model cases, and tallies the report.
#include <chrono>
#include <regex>

#include <fmt/format.h>

#include "engine/common/time_format.h"
#include "harness/conform/conform_internal.h"
#include "harness/conform/conform_suite.h"

namespace tlm {

std::vector<std::string> ConformCaseNames(const ConformOptions& options) {
  std::vector<std::string> names = conform::OpCaseNames(options.quick);
  if (!options.model_path.empty())
    for (const std::string& n : conform::ModelCaseNames()) names.push_back(n);
  return names;
}

StatusOr<ConformReport> RunConform(const ConformOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  std::regex filter;
  if (!options.ops_regex.empty()) {
    try {
      filter = std::regex(options.ops_regex, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return InvalidArgument("--ops '{}' is not a valid regular expression: {}", options.ops_regex, e.what());
    }
    bool any = false;
    for (const std::string& name : ConformCaseNames(options)) any = any || std::regex_search(name, filter);
    if (!any)
      return InvalidArgument("--ops '{}' matches no case (tlmbench conform --list shows them)", options.ops_regex);
  }
  const std::regex* f = options.ops_regex.empty() ? nullptr : &filter;

  ConformReport report;
  report.backend = options.backend;
  report.seed = options.seed;
  report.started_at = NowIso8601Utc();
  std::shared_ptr<void> weights;  // declared first: destroyed after the backends
  BackendOptions reference_options;
  reference_options.threads = options.threads;
  BackendOptions test_options = reference_options;
  test_options.activations = options.activations;
  auto test = CreateBackend(options.backend, test_options);
  if (!test.ok()) return test.status();
  auto reference = CreateBackend("cpu", reference_options);
  if (!reference.ok()) return reference.status().WithContext("the CPU reference");
  report.device = (*test)->device_description();
  report.reference_device = (*reference)->device_description();

  TLM_ASSIGN_OR_RETURN(report.cases, conform::RunOpCases(options, **test, **reference, f, &weights));
  // The op backends are done: the model cases open their own sessions (and their own backends).
  test->reset();
  reference->reset();
  if (!options.model_path.empty()) {
    TLM_ASSIGN_OR_RETURN(std::vector<ConformCase> model_cases, conform::RunModelCases(options, f));
    for (ConformCase& c : model_cases) report.cases.push_back(std::move(c));
  }
  for (const ConformCase& c : report.cases) (c.pass ? report.passed : report.failed)++;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return report;
}

}  // namespace tlm
