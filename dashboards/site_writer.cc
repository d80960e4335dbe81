// The dashboard's one HTML file: the embedded template (dashboards/assets/) filled with the data.
#include "dashboards/site_writer.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace tlm {
namespace dashboard_assets {
extern const std::string_view k_page_html;
extern const std::string_view k_dashboard_css;
extern const std::string_view k_dashboard_js;
}  // namespace dashboard_assets

namespace {

// Text for an HTML element's content or an attribute.
std::string EscapeHtml(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

// JSON safe inside <script>: '<' only occurs in strings, where \u003c reads back the same, so
// neither "</script>" nor "<!--" can appear. U+2028/2029 are escaped too (valid JSON, odd JS).
std::string JsonForScript(const nlohmann::json& data) {
  const std::string raw = data.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  std::string out;
  out.reserve(raw.size() + raw.size() / 16);
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '<') {
      out += "\\u003c";
    } else if (raw.compare(i, 3, "\xE2\x80\xA8") == 0) {
      out += "\\u2028";
      i += 2;
    } else if (raw.compare(i, 3, "\xE2\x80\xA9") == 0) {
      out += "\\u2029";
      i += 2;
    } else {
      out += raw[i];
    }
  }
  return out;
}

void ReplaceOnce(std::string& text, std::string_view placeholder, std::string_view with) {
  if (const size_t at = text.find(placeholder); at != std::string::npos) text.replace(at, placeholder.size(), with);
}

}  // namespace

std::string RenderDashboardHtml(const nlohmann::json& data, std::string_view title) {
  // The placeholders come in this order in the template: title, style, data, script. Filling them
  // last first means each search finds the template's placeholder before any inserted text.
  std::string page(dashboard_assets::k_page_html);
  ReplaceOnce(page, "/*@SCRIPT@*/", dashboard_assets::k_dashboard_js);
  ReplaceOnce(page, "/*@DATA@*/", JsonForScript(data));
  ReplaceOnce(page, "/*@STYLE@*/", dashboard_assets::k_dashboard_css);
  ReplaceOnce(page, "@TITLE@", EscapeHtml(title));
  return page;
}

StatusOr<std::string> WriteDashboardSite(const nlohmann::json& data, std::string_view title, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return NotFound("cannot create the output folder {}: {}", dir, ec.message());
  const std::string path = (std::filesystem::path(dir) / "index.html").string();
  const std::string page = RenderDashboardHtml(data, title);
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return NotFound("cannot write {}: {}", tmp, std::strerror(errno));
    out.write(page.data(), static_cast<std::streamsize>(page.size()));
    out.close();
    if (!out) return Internal("writing {}: {}", tmp, std::strerror(errno));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Internal("cannot move {} to {}: {}", tmp, path, ec.message());
  return path;
}

}  // namespace tlm
