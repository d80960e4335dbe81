// The qualification report as a standalone HTML page: no scripts, no external assets, so it can be
// attached to a vendor's CI run or mailed as it is.
#include "harness/qualify/qualify_html.h"

#include <fmt/format.h>

namespace tlm {
namespace {

std::string HtmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += ch;
    }
  }
  return out;
}

const char* ResultClass(QualifyCheck::Result r) {
  switch (r) {
    case QualifyCheck::Result::kPass: return "pass";
    case QualifyCheck::Result::kFail: return "fail";
    case QualifyCheck::Result::kSkip: return "skip";
  }
  return "fail";
}

constexpr const char* kStyle = R"(
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1d2430; }
h1 { font-size: 1.4em; margin-bottom: 0.2em; }
.meta { color: #5a6475; margin: 0.2em 0; }
.verdict { display: inline-block; padding: 0.3em 0.9em; border-radius: 4px; font-weight: 700; font-size: 1.2em; margin: 0.8em 0; }
.verdict.pass { background: #dcf5e3; color: #14612f; }
.verdict.fail { background: #fde2e1; color: #9b1c17; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0 1.4em; }
th, td { text-align: left; padding: 0.3em 0.6em; border-bottom: 1px solid #e3e6eb; vertical-align: top; }
th { background: #f4f6f9; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.pass { color: #14612f; font-weight: 600; }
td.fail { color: #9b1c17; font-weight: 700; }
td.skip { color: #8a6d00; font-weight: 600; }
ul.failed li { margin: 0.25em 0; }
code { font-family: ui-monospace, monospace; }
)";

}  // namespace

std::string FormatQualifyHtml(const QualifyReport& r) {
  const bool pass = r.pass();
  std::string out = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  out += fmt::format("<title>tlmbench qualify: {} on {}: {}</title>\n", HtmlEscape(r.options.plugin),
                     HtmlEscape(r.options.soc), pass ? "PASS" : "FAIL");
  out += fmt::format("<style>{}</style>\n</head>\n<body>\n", kStyle);
  out += fmt::format("<h1>NPU plugin qualification: <code>{}</code> on SoC <code>{}</code></h1>\n",
                     HtmlEscape(r.options.plugin), HtmlEscape(r.options.soc));
  if (!r.plugin_identity.empty()) out += fmt::format("<p class=\"meta\">{}</p>\n", HtmlEscape(r.plugin_identity));
  if (!r.started_at.empty()) out += fmt::format("<p class=\"meta\">started {}</p>\n", HtmlEscape(r.started_at));
  out += fmt::format("<div class=\"verdict {}\" id=\"verdict\">{}: {} passed, {} failed, {} skipped</div>\n",
                     pass ? "pass" : "fail", pass ? "PASS" : "FAIL", r.passed, r.failed, r.skipped);

  if (r.failed > 0) {
    out += "<h2>Failed checks</h2>\n<ul class=\"failed\">\n";
    for (const QualifyCheck& c : r.checks) {
      if (c.result != QualifyCheck::Result::kFail) continue;
      out += fmt::format("<li><code>{}</code>: {}</li>\n", HtmlEscape(c.name), HtmlEscape(c.message));
    }
    out += "</ul>\n";
  }

  out += "<h2>Checks</h2>\n<table id=\"checks\">\n<tr><th>check</th><th>verifies</th><th>result</th>"
         "<th>time (ms)</th><th>detail</th></tr>\n";
  for (const QualifyCheck& c : r.checks) {
    const char* cls = ResultClass(c.result);
    out += fmt::format(
        "<tr><td><code>{}</code></td><td>{}</td><td class=\"{}\">{}</td><td class=\"num\">{:.1f}</td><td>{}</td></tr>\n",
        HtmlEscape(c.name), HtmlEscape(c.what), cls, c.result == QualifyCheck::Result::kPass   ? "PASS"
                                                     : c.result == QualifyCheck::Result::kSkip ? "SKIP"
                                                                                               : "FAIL",
        c.seconds * 1e3, HtmlEscape(c.message));
  }
  out += "</table>\n";

  bool any_metric = false;
  for (const QualifyCheck& c : r.checks) any_metric = any_metric || !c.metrics.empty();
  if (any_metric) {
    out += "<h2>Measurements</h2>\n<table id=\"metrics\">\n<tr><th>check</th><th>metric</th><th>value</th>"
           "<th>unit</th></tr>\n";
    for (const QualifyCheck& c : r.checks)
      for (const QualifyMetric& m : c.metrics)
        out += fmt::format("<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"num\">{:.6g}</td>"
                           "<td>{}</td></tr>\n",
                           HtmlEscape(c.name), HtmlEscape(m.name), m.value, HtmlEscape(m.unit));
    out += "</table>\n";
  }
  out += "<p class=\"meta\">Written by <code>tlmbench qualify</code>; the checks are described in docs/npu.md.</p>\n";
  out += "</body>\n</html>\n";
  return out;
}

}  // namespace tlm
