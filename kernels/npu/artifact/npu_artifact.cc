// The NPU artifact: lowering a graph's matmuls to the plugin ABI, compiling them, and the file format.
#include "kernels/npu/artifact/npu_artifact.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/common/sha256.h"
#include "engine/tensor/dtype.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm {
namespace {

constexpr uint64_t kBlobAlignment = 64;
constexpr size_t kPreambleBytes = sizeof(kNpuArtifactMagic) + 4 + 4;
constexpr uint32_t kMaxHeaderBytes = 64u << 20;

uint64_t AlignUp(uint64_t v) { return (v + kBlobAlignment - 1) / kBlobAlignment * kBlobAlignment; }

void PutU32(std::vector<uint8_t>* out, size_t at, uint32_t v) { std::memcpy(out->data() + at, &v, 4); }

// One matmul as a one-op TlmNpuGraph: x [1, k] (int8/int16, scale 1: the host applies its dynamic
// per-row scale to the float output), w [n, k] int8 constant with per-channel scales, y [1, n] float32.
struct LoweredMatMul {
  TlmNpuTensor tensors[3];
  TlmNpuOp op{};
  uint32_t input = 0, output = 2;
  TlmNpuGraph graph{};

  LoweredMatMul(const NpuArtifactOp& o, NpuActivations act, const int8_t* w, const float* scales) {
    std::memset(tensors, 0, sizeof(tensors));
    TlmNpuTensor& x = tensors[0];
    x.dtype = act == NpuActivations::kInt8 ? TLM_NPU_DTYPE_INT8 : TLM_NPU_DTYPE_INT16;
    x.rank = 2;
    x.dims[0] = 1;
    x.dims[1] = o.k;
    x.scale = 1.f;
    TlmNpuTensor& wt = tensors[1];
    wt.dtype = TLM_NPU_DTYPE_INT8;
    wt.rank = 2;
    wt.dims[0] = o.n;
    wt.dims[1] = o.k;
    wt.scale = 1.f;
    wt.channel_scales = scales;
    wt.data = w;
    TlmNpuTensor& y = tensors[2];
    y.dtype = TLM_NPU_DTYPE_FLOAT32;
    y.rank = 2;
    y.dims[0] = 1;
    y.dims[1] = o.n;
    y.scale = 1.f;
    op.kind = TLM_NPU_OP_FULLY_CONNECTED;
    op.num_inputs = 2;
    op.inputs[0] = 0;
    op.inputs[1] = 1;
    op.output = 2;
    graph.struct_size = sizeof(TlmNpuGraph);
    graph.num_tensors = 3;
    graph.tensors = tensors;
    graph.num_ops = 1;
    graph.ops = &op;
    graph.num_inputs = 1;
    graph.inputs = &input;
    graph.num_outputs = 1;
    graph.outputs = &output;
  }
};

const char* kHeaderFields[] = {"format_version", "model_sha256", "plugin_name", "plugin_version",
                               "abi_version",    "soc",          "activations", "ops"};

}  // namespace

const char* NpuActivationsName(NpuActivations a) { return a == NpuActivations::kInt8 ? "int8" : "int16"; }

StatusOr<NpuActivations> ParseNpuActivations(const std::string& name) {
  if (name == "int8") return NpuActivations::kInt8;
  if (name == "int16") return NpuActivations::kInt16;
  return InvalidArgument("NPU activations must be int8 or int16, got '{}'", name);
}

int32_t NpuActivationMax(NpuActivations a, int64_t k) {
  if (a == NpuActivations::kInt8) return 127;
  const int64_t bound = std::numeric_limits<int32_t>::max() / (127 * std::max<int64_t>(k, 1));
  return static_cast<int32_t>(std::clamp<int64_t>(bound, 1, 32767));
}

int NpuArtifactHeader::ops_taken() const {
  return static_cast<int>(std::count_if(ops.begin(), ops.end(), [](const NpuArtifactOp& o) { return o.taken; }));
}

const NpuArtifactOp* NpuArtifactHeader::Find(const std::string& weight) const {
  for (const NpuArtifactOp& o : ops)
    if (o.weight == weight) return &o;
  return nullptr;
}

std::vector<const Node*> NpuMatMulNodes(const Graph& graph) {
  std::vector<const Node*> out;
  std::set<std::string> seen;
  for (const Node& n : graph.nodes)
    if (n.op == OpKind::kMatMul && seen.insert(n.weight).second) out.push_back(&n);
  return out;
}

Status QuantizeWeightPerChannel(const WeightView& w, int64_t k, int64_t n, std::vector<int8_t>* q,
                                std::vector<float>* scales) {
  if (w.dims.size() != 2 || w.dims[0] != k || w.dims[1] != n)
    return InvalidArgument("weight '{}' is not [{}, {}]", w.name, k, n);
  uint64_t row_bytes = 0;
  if (!ElemsToBytes(w.type, static_cast<uint64_t>(k), &row_bytes) || row_bytes * static_cast<uint64_t>(n) > w.bytes)
    return InvalidArgument("weight '{}' ({}) is too small for [{}, {}]", w.name, DTypeName(w.type), k, n);
  const cpu::DequantizeRowFn dequantize = cpu::SelectCpuKernels().DequantizeRowFor(w.type);
  q->resize(static_cast<size_t>(k * n));
  scales->resize(static_cast<size_t>(n));
  std::vector<float> row(static_cast<size_t>(k));
  const auto* src = static_cast<const uint8_t*>(w.data);
  for (int64_t o = 0; o < n; ++o) {
    if (dequantize != nullptr)
      dequantize(src + o * row_bytes, row.data(), k);
    else
      cpu::ref::DequantizeRow(w.type, src + o * row_bytes, row.data(), k);
    float amax = 0;
    for (float v : row) {
      if (!std::isfinite(v)) return InvalidArgument("weight '{}' row {} holds a non-finite value", w.name, o);
      amax = std::max(amax, std::fabs(v));
    }
    // An all-zero row keeps a positive scale: the ABI requires one.
    const float scale = amax > 0 ? amax / 127.f : 1.f;
    (*scales)[o] = scale;
    int8_t* dst = q->data() + o * k;
    for (int64_t e = 0; e < k; ++e)
      dst[e] = static_cast<int8_t>(std::clamp<long>(std::lround(row[e] / scale), -127, 127));
  }
  return Status::Ok();
}

StatusOr<NpuArtifact> CompileNpuArtifact(const Graph& graph, const WeightSource& weights, const NpuPlugin& plugin,
                                         const NpuCompileOptions& options) {
  const TlmNpuPluginApi& api = plugin.api();
  if (!plugin.SupportsSoc(options.soc))
    return InvalidArgument("plugin '{}' does not support SoC '{}' (it supports: {})", api.plugin_name, options.soc,
                           plugin.SocList());
  NpuArtifact art;
  NpuArtifactHeader& h = art.header;
  h.model_sha256 = options.model_sha256;
  h.model_name = options.model_name;
  h.plugin_name = api.plugin_name;
  h.plugin_vendor = api.vendor;
  h.plugin_version = api.plugin_version;
  h.abi_version = api.abi_version;
  h.soc = options.soc;
  h.activations = options.activations;

  // Lower every matmul: quantized weights stay alive until their blob is compiled.
  const std::vector<const Node*> nodes = NpuMatMulNodes(graph);
  if (nodes.empty()) return InvalidArgument("the graph has no matmuls to compile");
  struct Pending {
    std::vector<int8_t> q;
    std::vector<float> scales;
  };
  std::vector<Pending> pending(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Node& node = *nodes[i];
    NpuArtifactOp op;
    op.weight = node.weight;
    op.label = node.label;
    op.n = node.width;
    op.k = node.inputs[0] >= 0 ? graph.nodes[node.inputs[0]].width : 0;
    if (weights.Find(node.weight) == nullptr)
      return NotFound("{}: weight '{}' not in the model", node.label, node.weight);
    h.ops.push_back(op);
  }

  // partition(): one graph holding every matmul, so that the plugin sees the whole model at once.
  std::vector<TlmNpuTensor> tensors;
  std::vector<TlmNpuOp> ops;
  std::vector<uint32_t> inputs, outputs;
  std::vector<std::vector<float>> probe_scales(nodes.size());
  for (size_t i = 0; i < h.ops.size(); ++i) {
    // partition() reads shapes and types only; the constants are a placeholder row of zeros per channel
    // until compile (quantizing the whole model twice would cost as much as compiling it).
    LoweredMatMul l(h.ops[i], h.activations, nullptr, nullptr);
    const uint32_t base = static_cast<uint32_t>(tensors.size());
    probe_scales[i].assign(static_cast<size_t>(h.ops[i].n), 1.f);
    l.tensors[1].channel_scales = probe_scales[i].data();
    static const int8_t kZero = 0;
    l.tensors[1].data = &kZero;  // marks the tensor constant; partition must not read it
    for (const TlmNpuTensor& t : l.tensors) tensors.push_back(t);
    TlmNpuOp op = l.op;
    op.inputs[0] = base;
    op.inputs[1] = base + 1;
    op.output = base + 2;
    ops.push_back(op);
    inputs.push_back(base);
    outputs.push_back(base + 2);
  }
  TlmNpuGraph whole{};
  whole.struct_size = sizeof(TlmNpuGraph);
  whole.num_tensors = static_cast<uint32_t>(tensors.size());
  whole.tensors = tensors.data();
  whole.num_ops = static_cast<uint32_t>(ops.size());
  whole.ops = ops.data();
  whole.num_inputs = static_cast<uint32_t>(inputs.size());
  whole.inputs = inputs.data();
  whole.num_outputs = static_cast<uint32_t>(outputs.size());
  whole.outputs = outputs.data();
  std::vector<uint8_t> taken(ops.size(), 0);
  TLM_RETURN_IF_ERROR(plugin.Check(
      api.partition(&whole, options.soc.c_str(), taken.data(), static_cast<uint32_t>(taken.size())), "partition"));

  // compile() each taken matmul into its own blob.
  std::vector<TlmNpuBlob> blobs(h.ops.size());
  struct BlobsGuard {
    const TlmNpuPluginApi& api;
    std::vector<TlmNpuBlob>& blobs;
    ~BlobsGuard() {
      for (TlmNpuBlob& b : blobs)
        if (b.data != nullptr) api.free_blob(&b);
    }
  } guard{api, blobs};
  for (size_t i = 0; i < h.ops.size(); ++i) {
    NpuArtifactOp& op = h.ops[i];
    if (options.progress) options.progress(i, h.ops.size(), op);
    if (!taken[i]) {
      op.left_out_reason = fmt::format("partition: {} did not take it", api.plugin_name);
      continue;
    }
    const WeightView* w = weights.Find(op.weight);
    TLM_RETURN_IF_ERROR(
        QuantizeWeightPerChannel(*w, op.k, op.n, &pending[i].q, &pending[i].scales).WithContext(op.label));
    LoweredMatMul l(op, h.activations, pending[i].q.data(), pending[i].scales.data());
    const TlmNpuStatus s = api.compile(&l.graph, options.soc.c_str(), &blobs[i]);
    if (s == TLM_NPU_ERR_UNSUPPORTED) {
      // Taken by partition but refused by compile: the plugin said no after all; the CPU runs it.
      op.taken = false;
      op.left_out_reason = fmt::format("compile: {}", api.last_error());
      continue;
    }
    TLM_RETURN_IF_ERROR(plugin.Check(s, "compile").WithContext(op.label));
    if (blobs[i].data == nullptr || blobs[i].size == 0)
      return Internal("{}: plugin compile() returned OK with an empty blob", op.label);
    op.taken = true;
    pending[i] = Pending{};  // the plugin copied the constants
  }

  // Lay the file out: the header's length depends on the offsets it records, so iterate to a fixed point.
  uint64_t payload_start = 0;
  std::string json;
  for (int round = 0; round < 8; ++round) {
    uint64_t offset = payload_start;
    for (size_t i = 0; i < h.ops.size(); ++i) {
      NpuArtifactOp& op = h.ops[i];
      if (!op.taken) continue;
      op.blob_offset = offset;
      op.blob_size = blobs[i].size;
      op.blob_sha256 = Sha256Hex(blobs[i].data, blobs[i].size);
      offset = AlignUp(offset + op.blob_size);
    }
    json = NpuArtifactHeaderJson(h);
    const uint64_t need = AlignUp(kPreambleBytes + json.size());
    if (need == payload_start) break;
    payload_start = need;
  }
  uint64_t total = payload_start;
  for (const NpuArtifactOp& op : h.ops)
    if (op.taken) total = AlignUp(op.blob_offset + op.blob_size);
  art.bytes.assign(total, 0);
  std::memcpy(art.bytes.data(), kNpuArtifactMagic, sizeof(kNpuArtifactMagic));
  PutU32(&art.bytes, 8, kNpuArtifactFormatVersion);
  PutU32(&art.bytes, 12, static_cast<uint32_t>(json.size()));
  std::memcpy(art.bytes.data() + kPreambleBytes, json.data(), json.size());
  for (size_t i = 0; i < h.ops.size(); ++i)
    if (h.ops[i].taken) std::memcpy(art.bytes.data() + h.ops[i].blob_offset, blobs[i].data, blobs[i].size);
  art.sha256 = Sha256Hex(art.bytes.data(), art.bytes.size());
  return art;
}

std::string NpuArtifactHeaderJson(const NpuArtifactHeader& h) {
  nlohmann::ordered_json j;
  j["format_version"] = h.format_version;
  j["model_sha256"] = h.model_sha256;
  j["model_name"] = h.model_name;
  j["plugin_name"] = h.plugin_name;
  j["plugin_vendor"] = h.plugin_vendor;
  j["plugin_version"] = h.plugin_version;
  j["abi_version"] = h.abi_version;
  j["soc"] = h.soc;
  j["activations"] = NpuActivationsName(h.activations);
  j["weights"] = h.weights;
  j["ops_taken"] = h.ops_taken();
  j["ops_left_out"] = h.ops_left_out();
  nlohmann::ordered_json ops = nlohmann::ordered_json::array();
  for (const NpuArtifactOp& o : h.ops) {
    nlohmann::ordered_json e;
    e["weight"] = o.weight;
    e["label"] = o.label;
    e["k"] = o.k;
    e["n"] = o.n;
    e["taken"] = o.taken;
    if (o.taken) {
      e["blob_offset"] = o.blob_offset;
      e["blob_size"] = o.blob_size;
      e["blob_sha256"] = o.blob_sha256;
    } else {
      e["left_out_reason"] = o.left_out_reason;
    }
    ops.push_back(std::move(e));
  }
  j["ops"] = std::move(ops);
  return j.dump(1);
}

StatusOr<NpuArtifact> ParseNpuArtifact(std::vector<uint8_t> bytes, const std::string& path) {
  const std::string where = path.empty() ? "NPU artifact" : "NPU artifact " + path;
  if (bytes.size() < kPreambleBytes)
    return DataLoss("{}: {} bytes is shorter than the artifact preamble (truncated, or not an artifact)", where,
                    bytes.size());
  if (std::memcmp(bytes.data(), kNpuArtifactMagic, sizeof(kNpuArtifactMagic)) != 0)
    return DataLoss("{}: not a tlmbench NPU artifact (bad magic)", where);
  uint32_t version = 0, header_bytes = 0;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&header_bytes, bytes.data() + 12, 4);
  if (version != kNpuArtifactFormatVersion)
    return DataLoss("{}: artifact format version {}, this tlmbench reads version {} (recompile with tlmbench compile)",
                    where, version, kNpuArtifactFormatVersion);
  if (header_bytes > kMaxHeaderBytes || kPreambleBytes + header_bytes > bytes.size())
    return DataLoss("{}: header of {} bytes runs past the end of the {}-byte file (truncated?)", where, header_bytes,
                    bytes.size());
  NpuArtifact art;
  NpuArtifactHeader& h = art.header;
  try {
    const auto j = nlohmann::json::parse(bytes.begin() + kPreambleBytes, bytes.begin() + kPreambleBytes + header_bytes);
    for (const char* field : kHeaderFields)
      if (!j.contains(field)) return DataLoss("{}: header has no '{}'", where, field);
    h.format_version = j.at("format_version").get<uint32_t>();
    h.model_sha256 = j.at("model_sha256").get<std::string>();
    h.model_name = j.value("model_name", "");
    h.plugin_name = j.at("plugin_name").get<std::string>();
    h.plugin_vendor = j.value("plugin_vendor", "");
    h.plugin_version = j.at("plugin_version").get<std::string>();
    h.abi_version = j.at("abi_version").get<uint32_t>();
    h.soc = j.at("soc").get<std::string>();
    TLM_ASSIGN_OR_RETURN(h.activations, ParseNpuActivations(j.at("activations").get<std::string>()));
    h.weights = j.value("weights", h.weights);
    for (const auto& e : j.at("ops")) {
      NpuArtifactOp o;
      o.weight = e.at("weight").get<std::string>();
      o.label = e.value("label", o.weight);
      o.k = e.at("k").get<int64_t>();
      o.n = e.at("n").get<int64_t>();
      o.taken = e.at("taken").get<bool>();
      if (o.k <= 0 || o.n <= 0) return DataLoss("{}: op '{}' has a bad shape [{}, {}]", where, o.weight, o.k, o.n);
      if (o.taken) {
        o.blob_offset = e.at("blob_offset").get<uint64_t>();
        o.blob_size = e.at("blob_size").get<uint64_t>();
        o.blob_sha256 = e.at("blob_sha256").get<std::string>();
      } else {
        o.left_out_reason = e.value("left_out_reason", "");
      }
      h.ops.push_back(std::move(o));
    }
  } catch (const nlohmann::json::exception& e) {
    return DataLoss("{}: corrupt header: {}", where, e.what());
  }
  const uint64_t payload_start = AlignUp(kPreambleBytes + header_bytes);
  for (const NpuArtifactOp& o : h.ops) {
    if (!o.taken) continue;
    if (o.blob_offset < payload_start || o.blob_size == 0 || o.blob_offset > bytes.size() ||
        o.blob_size > bytes.size() - o.blob_offset)
      return DataLoss("{}: the blob of '{}' ({} bytes at offset {}) lies outside the {}-byte file (truncated?)", where,
                      o.weight, o.blob_size, o.blob_offset, bytes.size());
    if (Sha256Hex(bytes.data() + o.blob_offset, o.blob_size) != o.blob_sha256)
      return DataLoss("{}: the blob of '{}' does not match its sha256 (corrupt file)", where, o.weight);
  }
  art.sha256 = Sha256Hex(bytes.data(), bytes.size());
  art.bytes = std::move(bytes);
  art.path = path;
  return art;
}

StatusOr<NpuArtifact> ReadNpuArtifact(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return NotFound("NPU artifact {} is not a file", path);
  std::ifstream f(path, std::ios::binary);
  if (!f) return NotFound("cannot open NPU artifact {}", path);
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return NotFound("cannot stat NPU artifact {}: {}", path, ec.message());
  std::vector<uint8_t> bytes(size);
  if (size > 0 && !f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
    return DataLoss("cannot read NPU artifact {}", path);
  return ParseNpuArtifact(std::move(bytes), path);
}

Status WriteNpuArtifact(NpuArtifact* artifact, const std::string& output) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target = output;
  if (fs::is_directory(target, ec)) target /= artifact->sha256 + kNpuArtifactExtension;
  const fs::path tmp = target.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return NotFound("cannot write {} (does its folder exist?)", tmp.string());
    f.write(reinterpret_cast<const char*>(artifact->bytes.data()),
            static_cast<std::streamsize>(artifact->bytes.size()));
    f.flush();
    if (!f) {
      fs::remove(tmp, ec);
      return ResourceExhausted("writing {} failed (disk full?)", tmp.string());
    }
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Internal("cannot rename {} to {}: {}", tmp.string(), target.string(), ec.message());
  }
  artifact->path = target.string();
  return Status::Ok();
}

Status CheckNpuArtifactMatches(const NpuArtifactHeader& h, const std::string& model_sha256,
                               const TlmNpuPluginApi& plugin, const std::string& soc) {
  auto short_hash = [](const std::string& s) { return s.size() > 12 ? s.substr(0, 12) + "..." : s; };
  if (!model_sha256.empty() && h.model_sha256 != model_sha256)
    return InvalidArgument(
        "artifact was compiled for model sha256 {} but the model is {} (recompile with tlmbench compile)",
        short_hash(h.model_sha256), short_hash(model_sha256));
  if (h.plugin_name != plugin.plugin_name)
    return InvalidArgument("artifact was compiled by plugin '{}' but the loaded plugin is '{}'", h.plugin_name,
                           plugin.plugin_name);
  if (h.plugin_version != plugin.plugin_version)
    return InvalidArgument("artifact was compiled by {} version {} but the loaded plugin is version {} (recompile)",
                           h.plugin_name, h.plugin_version, plugin.plugin_version);
  if (h.abi_version != plugin.abi_version)
    return InvalidArgument("artifact was compiled for plugin ABI {} but the loaded plugin has ABI {}", h.abi_version,
                           plugin.abi_version);
  if (h.soc != soc) return InvalidArgument("artifact was compiled for SoC '{}' but the SoC is '{}'", h.soc, soc);
  return Status::Ok();
}

}  // namespace tlm
