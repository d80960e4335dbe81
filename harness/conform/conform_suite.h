// `tlmbench conform --backend B`: the backend conformance suite. Small graphs, one op each, built
// through the public Graph IR on random inputs and run on the backend under test and on the CPU
// reference (backend "cpu", f32 activations), compared element by element (atol + rtol·|ref|)
// and by normalized MSE; then the real model end to end (KL divergence, top-1 agreement,
// perplexity ratio over a fixed text, and greedy generation). docs/conform.md explains it all.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/common/status.h"

namespace tlm {

struct ConformOptions {
  std::string backend;  // "opencl", "vulkan:1", "cpu-xnnpack", ...
  int threads = 0;      // both backends (0: all cores)
  Activations activations = Activations::kF32;  // what the backend under test is asked for
  uint64_t seed = 1;
  std::string ops_regex;   // run only the cases whose name matches (ECMAScript, searched)
  bool quick = false;      // fewer shapes, shorter contexts, a shorter text
  std::string model_path;  // empty: no end-to-end cases
  int64_t text_tokens = 0;  // 0: the whole fixed text (at most 512 tokens; 128 with quick)
  int gen_tokens = 32;
  std::function<void(const std::string&)> progress;  // one line per case as it starts
};

// The pass bound of one case: every element within atol + rtol·|ref|, and nmse at most `nmse`.
struct ConformTolerance {
  double atol = 0, rtol = 0, nmse = 0;
  std::string bucket;  // "f32", "f16", "quant", "q8-activations", "rope-angle"
};

struct ConformCase {
  std::string name;   // "matmul.q4_k.k768.n257.r7": what --ops matches and JUnit names
  std::string op;     // "matmul", ..., "model"
  std::string dtype;  // "q4_k", "f32", ...; the model file for end-to-end cases
  std::string shape;  // "k=768 n=257 rows=7"
  bool pass = false;
  std::string message;  // why it failed (names op, type and shape), or a summary
  int64_t elements = 0;
  int64_t beyond = 0;  // elements beyond atol + rtol·|ref|
  double max_abs_err = NAN, nmse = NAN;
  double kld = NAN, top1 = NAN, ppl_ratio = NAN;  // end-to-end cases
  ConformTolerance tolerance;
  double seconds = 0;
  std::string detail;  // extra lines for the table (the generated texts)
};

struct ConformReport {
  std::string backend;             // as asked
  std::string device;              // the backend's device_description()
  std::string reference_device;    // the reference's
  std::string started_at;          // ISO 8601 UTC
  uint64_t seed = 0;
  std::vector<ConformCase> cases;
  int passed = 0, failed = 0;
  double seconds = 0;
  bool pass() const { return failed == 0 && passed > 0; }
};

// The per-op case names, in run order (the end-to-end ones, "model.*", follow when a model is given).
std::vector<std::string> ConformCaseNames(const ConformOptions& options);

// Unavailable (the backend cannot run here: "backend 'opencl' unavailable: <reason>"),
// InvalidArgument (unknown backend, bad --ops, a regex that matches nothing, a bad model) or the report.
// Case failures are in the report, not in the status.
StatusOr<ConformReport> RunConform(const ConformOptions& options);

// The readable table: one line per case, then the verdict line.
std::string FormatConformTable(const ConformReport& report);
// JUnit XML: one <testsuite> per backend, one <testcase> per case, the case message as the failure.
std::string FormatConformJUnit(const std::vector<ConformReport>& reports);

// Compares `got` with `want` (rows of `width`) under `tol`. Fills elements, beyond, max_abs_err,
// nmse and pass; on failure the message is "<what>: N of M elements beyond atol+rtol·|ref| (worst at
// [r,c]: got G, want W); nmse X > Y".
void CompareOutputs(const std::vector<float>& got, const std::vector<float>& want, int64_t width,
                    const ConformTolerance& tol, const std::string& what, ConformCase* out);

}  // namespace tlm
