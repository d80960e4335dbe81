// Pieces of the conformance suite shared by its files (harness/conform/): the per-op cases and the
// end-to-end model cases.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "harness/conform/conform_suite.h"

namespace tlm::conform {

std::vector<std::string> OpCaseNames(bool quick);
// The per-op cases whose names match `filter` (nullptr: all). An error only for a fault of the
// suite or of the reference; the backend's failures are failing cases. The cases' weights are
// handed to `keep_alive`, which must outlive both backends.
StatusOr<std::vector<ConformCase>> RunOpCases(const ConformOptions& options, Backend& test, Backend& reference,
                                              const std::regex* filter, std::shared_ptr<void>* keep_alive);

std::vector<std::string> ModelCaseNames();
// The end-to-end cases on the real model (options.model_path), those matching `filter`.
StatusOr<std::vector<ConformCase>> RunModelCases(const ConformOptions& options, const std::regex* filter);

inline ConformCase NewCase(std::string name, std::string op, std::string dtype, std::string shape) {
  ConformCase c;
  c.name = std::move(name), c.op = std::move(op), c.dtype = std::move(dtype), c.shape = std::move(shape);
  return c;
}

// Thresholds of the end-to-end cases.
inline constexpr double kMaxMeanKld = 0.01;
inline constexpr double kMinTop1 = 0.98;
inline constexpr double kMaxPplDrift = 0.02;  // |ppl ratio - 1|

}  // namespace tlm::conform
