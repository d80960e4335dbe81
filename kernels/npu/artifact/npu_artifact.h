// The NPU ahead-of-time artifact: a model's matmuls lowered to int8 per-channel FULLY_CONNECTED ops,
// partitioned and compiled by a vendor plugin for one SoC, and written as ONE content-addressed file.
//
// File layout (docs/npu.md): "TLMNPUA1" magic, u32 format version, u32 header length, the header as
// JSON (model sha256, plugin name/vendor/version/ABI, SoC, activation dtype, every matmul with taken or
// left out, each blob's offset, size and sha256), zero padding to 64 bytes, then the blobs (each at a
// 64-byte aligned offset from the start of the file). The file's own sha256 is its name when `tlmbench
// compile -o` is given a directory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/common/status.h"
#include "engine/graph/graph.h"
#include "kernels/npu/loader/plugin_loader.h"

namespace tlm {

inline constexpr char kNpuArtifactMagic[8] = {'T', 'L', 'M', 'N', 'P', 'U', 'A', '1'};
inline constexpr uint32_t kNpuArtifactFormatVersion = 1;
inline constexpr const char* kNpuArtifactExtension = ".tlmnpu";

// How activations are quantized on the host before each invoke: per row (token), symmetric, with a
// dynamic scale. int16 keeps |q| <= (2^31 - 1) / (127 K) so that an int32 accumulator cannot overflow.
enum class NpuActivations { kInt8, kInt16 };
const char* NpuActivationsName(NpuActivations a);
StatusOr<NpuActivations> ParseNpuActivations(const std::string& name);
// The largest |q| for a row of k activations.
int32_t NpuActivationMax(NpuActivations a, int64_t k);

// One matmul of the model (a distinct weight), taken by the plugin or left to the CPU.
struct NpuArtifactOp {
  std::string weight;  // weight tensor name: what the backend looks matmuls up by
  std::string label;   // graph node label, e.g. "blk.3.ffn_down"
  int64_t k = 0, n = 0;
  bool taken = false;
  std::string left_out_reason;              // when !taken
  uint64_t blob_offset = 0, blob_size = 0;  // from the start of the file (taken ops)
  std::string blob_sha256;
};

struct NpuArtifactHeader {
  uint32_t format_version = kNpuArtifactFormatVersion;
  std::string model_sha256;
  std::string model_name;  // file name and description, for people
  std::string plugin_name, plugin_vendor, plugin_version;
  uint32_t abi_version = 0;
  std::string soc;
  NpuActivations activations = NpuActivations::kInt16;
  std::string weights = "int8 symmetric, one scale per output channel";
  std::vector<NpuArtifactOp> ops;

  int ops_taken() const;
  int ops_left_out() const { return static_cast<int>(ops.size()) - ops_taken(); }
  const NpuArtifactOp* Find(const std::string& weight) const;
};

// An artifact in memory: its header and the whole file's bytes (blobs are views into them).
struct NpuArtifact {
  NpuArtifactHeader header;
  std::vector<uint8_t> bytes;  // the file
  std::string sha256;          // of `bytes`
  std::string path;            // where it was read from or written to ("" for an in-process compile)
  const uint8_t* blob(const NpuArtifactOp& op) const { return bytes.data() + op.blob_offset; }
};

struct NpuCompileOptions {
  std::string soc;
  NpuActivations activations = NpuActivations::kInt16;
  std::string model_sha256;
  std::string model_name;
  // Called before each matmul is compiled: (index, total, op). May be empty.
  std::function<void(size_t, size_t, const NpuArtifactOp&)> progress;
};

// The distinct matmuls of `graph` (by weight name, in graph order).
std::vector<const Node*> NpuMatMulNodes(const Graph& graph);

// Quantizes a {k, n} weight (any GGUF type the CPU kernels dequantize) to int8 [n, k] with one
// symmetric scale per output row n.
Status QuantizeWeightPerChannel(const WeightView& weight, int64_t k, int64_t n, std::vector<int8_t>* q,
                                std::vector<float>* scales);

// Lowers the matmuls of `graph` into TlmNpuGraphs, asks the plugin's partition() which it takes, and
// compile()s each taken one for `options.soc`; returns the artifact file in memory.
StatusOr<NpuArtifact> CompileNpuArtifact(const Graph& graph, const WeightSource& weights, const NpuPlugin& plugin,
                                         const NpuCompileOptions& options);

// Serialises the header as the file has it (JSON).
std::string NpuArtifactHeaderJson(const NpuArtifactHeader& header);

// Parses and validates an artifact file held in memory: magic, format version, header, every blob's
// bounds and sha256 (a corrupt or truncated file is DataLoss naming what is wrong).
StatusOr<NpuArtifact> ParseNpuArtifact(std::vector<uint8_t> bytes, const std::string& path);
StatusOr<NpuArtifact> ReadNpuArtifact(const std::string& path);

// Writes the artifact to `output`: a file path, or an existing directory in which the file is named
// <sha256>.tlmnpu. Sets artifact->path.
Status WriteNpuArtifact(NpuArtifact* artifact, const std::string& output);

// Refuses an artifact made for another model, plugin (name or version), ABI or SoC, naming the mismatch.
Status CheckNpuArtifactMatches(const NpuArtifactHeader& header, const std::string& model_sha256,
                               const TlmNpuPluginApi& plugin, const std::string& soc);

}  // namespace tlm
