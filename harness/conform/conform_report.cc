// The conformance report: a readable table with a final verdict line, and JUnit XML for CI.
#include <cmath>
#include <string>

#include <fmt/format.h>

#include "harness/conform/conform_suite.h"

namespace tlm {
namespace {

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
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\n' && ch != '\t')
          out += ' ';
        else
          out += ch;
    }
  }
  return out;
}

std::string Num(double v) { return std::isnan(v) ? "-" : fmt::format("{:.3g}", v); }

}  // namespace

std::string FormatConformTable(const ConformReport& r) {
  std::string out = fmt::format("tlmbench conform: backend {} ({})\n", r.backend, r.device);
  out += fmt::format("reference: {}; seed {}\n\n", r.reference_device, r.seed);
  out += fmt::format("{:<15} {:<28} {:<58} {:>10} {:>10}  {}\n", "op", "type", "shape", "max_abs", "nmse", "result");
  for (const ConformCase& c : r.cases) {
    std::string metric_a = Num(c.max_abs_err), metric_b = Num(c.nmse);
    if (c.op == "model" && !std::isnan(c.kld)) metric_b = fmt::format("kld {}", Num(c.kld));
    if (c.name == "model.greedy") metric_a = "-", metric_b = std::isnan(c.top1) ? "-" : fmt::format("{:.0f}% same", 100 * c.top1);
    out += fmt::format("{:<15} {:<28} {:<58} {:>10} {:>10}  {}\n", c.op, c.dtype, c.shape, metric_a, metric_b,
                       c.pass ? "PASS" : "FAIL");
    if (c.op == "model") out += fmt::format("    {}\n", c.message);
    if (!c.detail.empty()) {
      std::string d = c.detail;
      for (size_t p = d.find('\n'); p != std::string::npos; p = d.find('\n', p + 5)) d.replace(p, 1, "\n    ");
      out += fmt::format("    {}\n", d);
    }
  }
  out += "\n";
  for (const ConformCase& c : r.cases)
    if (!c.pass) out += fmt::format("FAILED {}: {}\n", c.name, c.message);
  out += fmt::format("verdict: {} backend {}: {} passed, {} failed of {} cases in {:.1f} s\n", r.pass() ? "PASS" : "FAIL",
                     r.backend, r.passed, r.failed, r.cases.size(), r.seconds);
  return out;
}

std::string FormatConformJUnit(const std::vector<ConformReport>& reports) {
  int tests = 0, failures = 0;
  double total = 0;
  for (const ConformReport& r : reports) {
    tests += static_cast<int>(r.cases.size());
    failures += r.failed;
    total += r.seconds;
  }
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format("<testsuites name=\"tlmbench conform\" tests=\"{}\" failures=\"{}\" time=\"{:.3f}\">\n", tests,
                     failures, total);
  for (const ConformReport& r : reports) {
    out += fmt::format(
        "  <testsuite name=\"conform.{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"0\" time=\"{:.3f}\" "
        "timestamp=\"{}\">\n",
        XmlEscape(r.backend), r.cases.size(), r.failed, r.seconds, XmlEscape(r.started_at));
    out += "    <properties>\n";
    out += fmt::format("      <property name=\"backend\" value=\"{}\"/>\n", XmlEscape(r.backend));
    out += fmt::format("      <property name=\"device\" value=\"{}\"/>\n", XmlEscape(r.device));
    out += fmt::format("      <property name=\"reference\" value=\"{}\"/>\n", XmlEscape(r.reference_device));
    out += fmt::format("      <property name=\"seed\" value=\"{}\"/>\n", r.seed);
    out += fmt::format("      <property name=\"verdict\" value=\"{}\"/>\n", r.pass() ? "PASS" : "FAIL");
    out += "    </properties>\n";
    for (const ConformCase& c : r.cases) {
      out += fmt::format("    <testcase classname=\"conform.{}.{}\" name=\"{}\" time=\"{:.3f}\">\n", XmlEscape(r.backend),
                         XmlEscape(c.op), XmlEscape(c.name), c.seconds);
      if (!c.pass)
        out += fmt::format("      <failure message=\"{}\" type=\"{}\">{}</failure>\n", XmlEscape(c.message),
                           XmlEscape(c.tolerance.bucket.empty() ? c.op : c.tolerance.bucket), XmlEscape(c.message));
      std::string sysout = c.message;
      if (!c.tolerance.bucket.empty())
        sysout += fmt::format("\ntolerance {}: atol {:g}, rtol {:g}, nmse {:g}", c.tolerance.bucket, c.tolerance.atol,
                              c.tolerance.rtol, c.tolerance.nmse);
      if (!c.detail.empty()) sysout += "\n" + c.detail;
      out += fmt::format("      <system-out>{}</system-out>\n", XmlEscape(sysout));
      out += "    </testcase>\n";
    }
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

}  // namespace tlm
