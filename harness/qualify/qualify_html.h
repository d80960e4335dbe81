// The qualification report as one self-contained HTML page (`tlmbench qualify --html FILE`): the
// verdict first, every failed check with its reason, then every check and its measurements.
#pragma once

#include <string>

#include "harness/qualify/qualify_suite.h"

namespace tlm {

std::string FormatQualifyHtml(const QualifyReport& report);

}  // namespace tlm
