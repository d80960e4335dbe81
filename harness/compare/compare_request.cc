// RunCompare: parse the sides and thresholds, load, compare, render, write the side files.
#include "harness/compare/compare_request.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <fmt/format.h>

namespace tlm {
namespace {

Status WriteFile(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return NotFound("cannot write {}: {}", path, std::strerror(errno));
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  if (std::fclose(f) != 0 || !wrote) return Internal("writing {}: {}", path, std::strerror(errno));
  return Status::Ok();
}

CompareOutcome Fail(const Status& s) {
  CompareOutcome o;
  o.exit_code = 2;
  o.error = fmt::format("error: {}", s.message());
  return o;
}

}  // namespace

CompareOutcome RunCompare(const CompareRequest& req) {
  CompareOptions options = req.options;
  if (req.format != "markdown" && req.format != "json")
    return Fail(InvalidArgument("--format {}: expected markdown or json", req.format));
  if (!(options.alpha > 0 && options.alpha < 1)) return Fail(InvalidArgument("--alpha must be between 0 and 1"));
  if (options.min_samples < 2) return Fail(InvalidArgument("--min-samples must be at least 2"));
  if (options.bootstrap.resamples < 100) return Fail(InvalidArgument("--resamples must be at least 100"));
  if (!req.config_path.empty()) {
    if (Status s = options.thresholds.LoadYaml(req.config_path); !s.ok()) return Fail(s);
  }
  for (const std::string& a : req.threshold_assignments) {
    if (Status s = options.thresholds.ParseAssignment(a); !s.ok()) return Fail(s);
  }
  auto base_ref = ParseSideRef(req.base, req.dataset);
  if (!base_ref.ok()) return Fail(base_ref.status().WithContext("BASE"));
  auto cand_ref = ParseSideRef(req.cand, req.dataset);
  if (!cand_ref.ok()) return Fail(cand_ref.status().WithContext("CAND"));
  auto base = LoadSide(*base_ref);
  if (!base.ok()) return Fail(base.status().WithContext("BASE"));
  auto cand = LoadSide(*cand_ref);
  if (!cand.ok()) return Fail(cand.status().WithContext("CAND"));
  auto report = CompareSides(*base, *cand, options);
  if (!report.ok()) return Fail(report.status());

  const std::string markdown = RenderCompareMarkdown(*report);
  const std::string json = RenderCompareJson(*report);
  if (!req.json_path.empty()) {
    if (Status s = WriteFile(req.json_path, json); !s.ok()) return Fail(s);
  }
  if (!req.markdown_path.empty()) {
    if (Status s = WriteFile(req.markdown_path, markdown); !s.ok()) return Fail(s);
  }
  CompareOutcome out;
  out.output = req.format == "json" ? json : markdown;
  out.exit_code = CompareExitCode(*report);
  return out;
}

}  // namespace tlm
