// The corrupt-GGUF corpus: files built with GgufWriter and then damaged, each with the error the
// reader (or, for engine-level cases, the model loader) must give. Shared by the GGUF tests, the
// fuzz seeds and the CLI tests.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/common/status.h"

namespace tlm::testing {

enum class CorruptLayer {
  kGguf,    // GgufFile::Open/FromBuffer must refuse the file
  kEngine,  // the file is valid GGUF; loading it as a model must fail (arch, tensors, tokenizer)
};

struct CorruptCase {
  std::string name;  // file stem: the file is written as <name>.gguf
  std::string description;
  std::vector<uint8_t> bytes;
  CorruptLayer layer = CorruptLayer::kGguf;
  // What GgufFile::Open/FromBuffer returns: the error's code, or kOk for engine-level cases.
  StatusCode expected_code = StatusCode::kDataLoss;
  // Part of the expected message that names the field or tensor and, for GGUF-level cases, the
  // byte offset ("metadata key #1 'general.description' at offset 100: string length").
  std::string expected_error_substring;
};

// Deterministic: the same cases with the same bytes on every call.
std::vector<CorruptCase> MakeCorruptCorpus();

// A small valid file the corpus damages: six metadata keys of several types, three tensors.
std::vector<uint8_t> MakeCorpusBaseFile();

// Writes <dir>/<name>.gguf for every case, and <dir>/MANIFEST.tsv with one line per case:
// name, layer (gguf|engine), expected code, expected substring. Creates `dir` if needed.
Status WriteCorruptCorpus(const std::string& dir);

}  // namespace tlm::testing
