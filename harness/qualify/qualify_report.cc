// The qualification report: a readable table with a PASS/FAIL verdict, JUnit XML for CI, and rows of the
// dataset's conformance table.
#include <unistd.h>

#include <cmath>
#include <functional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/cli/commands.h"
#include "harness/qualify/qualify_suite.h"

namespace tlm {

namespace {

const char* ResultName(QualifyCheck::Result r) {
  switch (r) {
    case QualifyCheck::Result::kPass: return "PASS";
    case QualifyCheck::Result::kFail: return "FAIL";
    case QualifyCheck::Result::kSkip: return "SKIP";
  }
  return "?";
}

std::string XmlEscape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t') out += ' ';
        else out += ch;
    }
  }
  return out;
}

}  // namespace

std::string FormatQualifyTable(const QualifyReport& r) {
  std::string out = fmt::format("tlmbench qualify: plugin {} on SoC {}\n", r.options.plugin, r.options.soc);
  if (!r.plugin_identity.empty()) out += fmt::format("  {}\n", r.plugin_identity);
  out += "\n";
  out += fmt::format("{:<26} {:<6} {:>8}  {}\n", "check", "result", "time_ms", "detail");
  for (const QualifyCheck& c : r.checks)
    out += fmt::format("{:<26} {:<6} {:>8.1f}  {}\n", c.name, ResultName(c.result), c.seconds * 1e3, c.message);
  // Measurements (performance and accuracy metrics).
  bool header = false;
  for (const QualifyCheck& c : r.checks)
    for (const QualifyMetric& m : c.metrics) {
      if (!header) {
        out += fmt::format("\n{:<26} {:<40} {:>14}  {}\n", "check", "metric", "value", "unit");
        header = true;
      }
      out += fmt::format("{:<26} {:<40} {:>14.6g}  {}\n", c.name, m.name, m.value, m.unit);
    }
  out += fmt::format("\nverdict: {} ({} passed, {} failed, {} skipped)\n", r.pass() ? "PASS" : "FAIL", r.passed,
                     r.failed, r.skipped);
  for (const QualifyCheck& c : r.checks)
    if (c.result == QualifyCheck::Result::kFail) out += fmt::format("  FAILED {}: {}\n", c.name, c.message);
  return out;
}

std::string FormatQualifyJUnit(const QualifyReport& r) {
  double total = 0;
  for (const QualifyCheck& c : r.checks) total += c.seconds;
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"tlmbench qualify\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n",
                     r.checks.size(), r.failed, r.skipped, total);
  out += fmt::format(
      "  <testsuite name=\"qualify.{}.{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3f}\">\n",
      XmlEscape(r.options.plugin), XmlEscape(r.options.soc), r.checks.size(), r.failed, r.skipped, total);
  out += "    <properties>\n";
  out += fmt::format("      <property name=\"plugin\" value=\"{}\"/>\n", XmlEscape(r.options.plugin));
  out += fmt::format("      <property name=\"soc\" value=\"{}\"/>\n", XmlEscape(r.options.soc));
  out += fmt::format("      <property name=\"identity\" value=\"{}\"/>\n", XmlEscape(r.plugin_identity));
  out += fmt::format("      <property name=\"verdict\" value=\"{}\"/>\n", r.pass() ? "PASS" : "FAIL");
  out += "    </properties>\n";
  for (const QualifyCheck& c : r.checks) {
    const size_t dot = c.name.find('.');
    const std::string group = dot == std::string::npos ? c.name : c.name.substr(0, dot);
    out += fmt::format("    <testcase classname=\"qualify.{}\" name=\"{}\" time=\"{:.3f}\">\n", XmlEscape(group),
                       XmlEscape(c.name), c.seconds);
    if (c.result == QualifyCheck::Result::kFail)
      out += fmt::format("      <failure message=\"{}\">{}</failure>\n", XmlEscape(c.message), XmlEscape(c.what));
    if (c.result == QualifyCheck::Result::kSkip)
      out += fmt::format("      <skipped message=\"{}\"/>\n", XmlEscape(c.message));
    std::string sysout = c.message;
    for (const QualifyMetric& m : c.metrics) sysout += fmt::format("\n{} = {:g} {}", m.name, m.value, m.unit);
    out += fmt::format("      <system-out>{}</system-out>\n", XmlEscape(sysout));
    out += "    </testcase>\n";
  }
  out += "  </testsuite>\n</testsuites>\n";
  return out;
}

std::string QualifyRunId(const QualifyReport& r) {
  const std::string key = r.started_at + r.options.plugin + r.options.soc + std::to_string(getpid());
  return fmt::format("qualify-{}-{}-{}-{:08x}", r.started_at, r.options.plugin, r.options.soc,
                     static_cast<uint32_t>(std::hash<std::string>{}(key)));
}

std::vector<ConformanceRow> QualifyConformanceRows(const QualifyReport& r, const std::string& run_id) {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  std::vector<ConformanceRow> rows;
  for (const QualifyCheck& c : r.checks) {
    ConformanceRow row;
    row.run_id = run_id;
    row.started_at = r.started_at;
    row.build_commit = BuildCommit();
    row.host = host;
    row.backend = fmt::format("npu:{}:{}", r.options.plugin, r.options.soc);
    row.device = r.plugin_identity;
    row.suite = "qualify";
    row.case_name = c.name;
    const size_t dot = c.name.find('.');
    row.op = dot == std::string::npos ? c.name : c.name.substr(0, dot);  // abi, accuracy, model, ...
    row.status = c.result == QualifyCheck::Result::kPass   ? "pass"
                 : c.result == QualifyCheck::Result::kSkip ? "skip"
                                                           : "fail";
    row.message = c.message;
    row.seconds = c.seconds;
    nlohmann::json metrics = nlohmann::json::object();
    for (const QualifyMetric& m : c.metrics) {
      if (m.name == "kld_mean") row.kld = m.value;
      if (m.name == "top1_agree") row.top1 = m.value;
      if (m.name == "ppl_ratio") row.ppl_ratio = m.value;
      if (m.name == "max_abs_error") row.max_abs_err = m.value;
      if (m.name == "tokens") row.shape = fmt::format("tokens={}", m.value);
      if (std::isfinite(m.value)) metrics[m.name] = m.value;
    }
    if (c.name.starts_with("model.")) {
      const size_t slash = r.options.model_path.find_last_of('/');
      row.dtype = slash == std::string::npos ? r.options.model_path : r.options.model_path.substr(slash + 1);
    }
    if (!metrics.empty()) row.metrics_json = metrics.dump();
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace tlm
