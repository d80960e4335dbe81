#include "harness/qualify/qualify_html.h"

#include <string>

#include <gtest/gtest.h>

namespace tlm {
namespace {

QualifyCheck Check(std::string name, QualifyCheck::Result result, std::string message) {
  QualifyCheck c;
  c.name = std::move(name);
  c.what = "what it verifies";
  c.result = result;
  c.message = std::move(message);
  c.seconds = 0.25;
  return c;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

TEST(QualifyHtmlTest, FailedReportLeadsWithTheVerdictAndEveryFailureEscaped) {
  QualifyReport r;
  r.options.plugin = "broken<x>";
  r.options.soc = "soc&1";
  r.plugin_identity = "acme broken 0.1, ABI 1";
  r.started_at = "2026-11-25T20:00:00Z";
  r.checks.push_back(Check("abi.load", QualifyCheck::Result::kPass, "ABI 1"));
  r.checks.push_back(Check("accuracy.fc_i8_i32", QualifyCheck::Result::kFail, "max |err| 3 > 0 at <row 2>"));
  r.checks.push_back(Check("model.end_to_end", QualifyCheck::Result::kSkip, "no model"));
  r.checks[0].metrics.push_back({"op0.fully_connected.wall_ns", 1234, "ns"});
  r.passed = 1;
  r.failed = 1;
  r.skipped = 1;

  const std::string html = FormatQualifyHtml(r);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_NE(html.find("FAIL: 1 passed, 1 failed, 1 skipped"), std::string::npos) << html;
  EXPECT_NE(html.find("<code>broken&lt;x&gt;</code> on SoC <code>soc&amp;1</code>"), std::string::npos) << html;
  // The failure is listed before the full table, with its reason, escaped.
  const size_t failed_list = html.find("<h2>Failed checks</h2>");
  const size_t table = html.find("<table id=\"checks\">");
  ASSERT_NE(failed_list, std::string::npos);
  ASSERT_NE(table, std::string::npos);
  EXPECT_LT(failed_list, table);
  EXPECT_NE(html.find("<li><code>accuracy.fc_i8_i32</code>: max |err| 3 &gt; 0 at &lt;row 2&gt;</li>"),
            std::string::npos);
  EXPECT_EQ(html.find("<row 2>"), std::string::npos) << "unescaped message";
  EXPECT_EQ(Count(html, "<td class=\"pass\">PASS</td>"), 1u);
  EXPECT_EQ(Count(html, "<td class=\"fail\">FAIL</td>"), 1u);
  EXPECT_EQ(Count(html, "<td class=\"skip\">SKIP</td>"), 1u);
  EXPECT_NE(html.find("op0.fully_connected.wall_ns"), std::string::npos);
  EXPECT_EQ(Count(html, "<tr>"), Count(html, "</tr>"));
  EXPECT_NE(html.find("</html>"), std::string::npos);
}

TEST(QualifyHtmlTest, PassingReportHasNoFailureList) {
  QualifyReport r;
  r.options.plugin = "vnpu";
  r.options.soc = "vnpu-small";
  r.checks.push_back(Check("abi.load", QualifyCheck::Result::kPass, "ABI 1"));
  r.passed = 1;
  const std::string html = FormatQualifyHtml(r);
  EXPECT_NE(html.find("class=\"verdict pass\""), std::string::npos);
  EXPECT_NE(html.find("PASS: 1 passed, 0 failed, 0 skipped"), std::string::npos);
  EXPECT_EQ(html.find("Failed checks"), std::string::npos);
  EXPECT_EQ(html.find("<table id=\"metrics\">"), std::string::npos);
}

}  // namespace
}  // namespace tlm
