// Writes the dashboard: one self-contained HTML file (inline CSS, JS and data; no network).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/common/status.h"

namespace tlm {

// The page for `data` (GatherDashboardData's object): the embedded template with the data in a
// <script id="data" type="application/json"> element, escaped so no string can end that element.
std::string RenderDashboardHtml(const nlohmann::json& data, std::string_view title);

// Creates `dir` when needed and writes dir/index.html; returns the file's path.
StatusOr<std::string> WriteDashboardSite(const nlohmann::json& data, std::string_view title, const std::string& dir);

}  // namespace tlm
