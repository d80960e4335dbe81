// The qualification report: a readable table with a PASS/FAIL verdict, and JUnit XML for CI.
#include <string>

#include <fmt/format.h>

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

}  // namespace tlm
