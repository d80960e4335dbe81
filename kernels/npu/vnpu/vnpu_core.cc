// vnpu: a virtual NPU that really executes what it compiled (int8 weights with per-channel scales times
// int8/int16 activations, int32 accumulation) and models what a MAC array, an SRAM and a DMA engine of
// a given SoC would take. The template a vendor starts from (docs/npu.md).
#include "kernels/npu/vnpu/vnpu_core.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <new>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

// ---- SoCs: the hardware model's parameters ----
struct SocConfig {
  const char* name;
  uint32_t mac_rows;  // output rows (tokens) computed at once
  uint32_t mac_cols;  // output channels computed at once
  uint64_t sram_bytes;
  uint32_t dma_bytes_per_cycle;
  uint32_t clock_mhz;
};
constexpr SocConfig kSocs[] = {
    {"vnpu-small", 16, 16, 256 * 1024, 16, 800},
    {"vnpu-large", 64, 64, 2 * 1024 * 1024, 64, 1000},
};
const char* const kSocNames[] = {"vnpu-small", "vnpu-large"};
constexpr uint64_t kCyclesPerTile = 64;  // tile setup: descriptor fetch, array drain

const SocConfig* FindSoc(const char* soc) {
  if (soc == nullptr) return nullptr;
  for (const SocConfig& s : kSocs)
    if (std::strcmp(s.name, soc) == 0) return &s;
  return nullptr;
}

// ---- errors ----
thread_local std::string g_last_error = "no error";
TlmNpuStatus Fail(TlmNpuStatus status, std::string message) {
  g_last_error = std::move(message);
  return status;
}

// ---- graph helpers ----
size_t DTypeBytes(uint32_t dtype) {
  switch (dtype) {
    case TLM_NPU_DTYPE_INT8: return 1;
    case TLM_NPU_DTYPE_INT16: return 2;
    case TLM_NPU_DTYPE_INT32: return 4;
    case TLM_NPU_DTYPE_FLOAT32: return 4;
    default: return 0;
  }
}

// A tensor as the blob stores it: owned copies of constants.
struct Tensor {
  uint32_t dtype = 0;
  uint32_t rank = 0;
  int64_t dims[TLM_NPU_MAX_RANK] = {};
  float scale = 0;
  bool constant = false;
  std::vector<float> channel_scales;
  std::vector<uint8_t> data;  // constants only
  uint64_t Elements() const {  // saturates: a hostile blob may carry huge dimensions
    uint64_t n = 1;
    for (uint32_t i = 0; i < rank; ++i) {
      const uint64_t d = static_cast<uint64_t>(dims[i]);
      if (d != 0 && n > std::numeric_limits<uint64_t>::max() / 8 / d) return std::numeric_limits<uint64_t>::max() / 8;
      n *= d;
    }
    return n;
  }
  uint64_t Bytes() const { return Elements() * DTypeBytes(dtype); }
};
struct Op {
  uint32_t kind = 0;
  uint32_t num_inputs = 0;
  uint32_t inputs[TLM_NPU_MAX_OP_INPUTS] = {};
  uint32_t output = 0;
};
struct Program {
  std::vector<Tensor> tensors;
  std::vector<Op> ops;
  std::vector<uint32_t> inputs, outputs;
};

int Supports(uint32_t kind, uint32_t in, uint32_t out) {
  const bool act = in == TLM_NPU_DTYPE_INT8 || in == TLM_NPU_DTYPE_INT16;
  if (kind == TLM_NPU_OP_FULLY_CONNECTED)
    return act && (out == TLM_NPU_DTYPE_INT32 || out == TLM_NPU_DTYPE_INT8 || out == TLM_NPU_DTYPE_INT16 ||
                   out == TLM_NPU_DTYPE_FLOAT32);
  if (kind == TLM_NPU_OP_ADD) return act && out == in;
  return 0;
}

bool SameShape(const Tensor& a, const Tensor& b) {
  if (a.rank != b.rank) return false;
  for (uint32_t i = 0; i < a.rank; ++i)
    if (a.dims[i] != b.dims[i]) return false;
  return true;
}

// Checks one op against the program's tensors; "" when it is fine.
std::string CheckOp(const Program& p, const Op& op, size_t index) {
  const std::string where = "op " + std::to_string(index);
  const size_t n = p.tensors.size();
  if (op.output >= n) return where + ": output tensor index out of range";
  for (uint32_t i = 0; i < op.num_inputs && i < TLM_NPU_MAX_OP_INPUTS; ++i)
    if (op.inputs[i] >= n) return where + ": input tensor index out of range";
  const Tensor& out = p.tensors[op.output];
  if (out.constant) return where + ": output is a constant tensor";
  if (op.kind == TLM_NPU_OP_FULLY_CONNECTED) {
    if (op.num_inputs != 2) return where + ": FULLY_CONNECTED takes 2 inputs (activations, weights)";
    const Tensor& x = p.tensors[op.inputs[0]];
    const Tensor& w = p.tensors[op.inputs[1]];
    if (!Supports(op.kind, x.dtype, out.dtype)) return where + ": unsupported FULLY_CONNECTED data types";
    if (x.constant) return where + ": activations must be a runtime tensor";
    if (!w.constant || w.dtype != TLM_NPU_DTYPE_INT8 || w.rank != 2)
      return where + ": weights must be a constant int8 [N,K] tensor";
    if (w.channel_scales.size() != static_cast<size_t>(w.dims[0]))
      return where + ": weights need one per-channel scale per output channel";
    if (x.rank != 2 || out.rank != 2 || x.dims[1] != w.dims[1] || out.dims[0] != x.dims[0] ||
        out.dims[1] != w.dims[0])
      return where + ": shapes must be in [M,K], weights [N,K], out [M,N]";
    if (!(x.scale > 0) || (out.dtype != TLM_NPU_DTYPE_INT32 && out.dtype != TLM_NPU_DTYPE_FLOAT32 && !(out.scale > 0)))
      return where + ": scales must be positive";
    for (float s : w.channel_scales)
      if (!(s > 0) || !std::isfinite(s)) return where + ": per-channel scales must be positive and finite";
    return "";
  }
  if (op.kind == TLM_NPU_OP_ADD) {
    if (op.num_inputs != 2) return where + ": ADD takes 2 inputs";
    const Tensor& a = p.tensors[op.inputs[0]];
    const Tensor& b = p.tensors[op.inputs[1]];
    if (!Supports(op.kind, a.dtype, out.dtype) || b.dtype != a.dtype) return where + ": unsupported ADD data types";
    if (a.constant || b.constant) return where + ": ADD inputs must be runtime tensors";
    if (!SameShape(a, b) || !SameShape(a, out)) return where + ": ADD operands must have one shape";
    if (!(a.scale > 0) || !(b.scale > 0) || !(out.scale > 0)) return where + ": scales must be positive";
    return "";
  }
  return where + ": unsupported op kind " + std::to_string(op.kind);
}

// Copies and validates a host graph; "" when it is fine.
std::string ImportGraph(const TlmNpuGraph* g, Program* p) {
  if (g->struct_size < sizeof(TlmNpuGraph)) return "graph struct_size is smaller than this ABI's TlmNpuGraph";
  if (g->num_tensors == 0 || g->tensors == nullptr) return "graph has no tensors";
  if (g->num_ops == 0 || g->ops == nullptr) return "graph has no ops";
  if (g->num_inputs == 0 || g->inputs == nullptr || g->num_outputs == 0 || g->outputs == nullptr)
    return "graph needs inputs and outputs";
  for (uint32_t i = 0; i < g->num_tensors; ++i) {
    const TlmNpuTensor& s = g->tensors[i];
    Tensor t;
    t.dtype = s.dtype;
    t.rank = s.rank;
    if (DTypeBytes(s.dtype) == 0) return "tensor " + std::to_string(i) + ": unknown data type";
    if (s.rank == 0 || s.rank > TLM_NPU_MAX_RANK) return "tensor " + std::to_string(i) + ": bad rank";
    for (uint32_t d = 0; d < s.rank; ++d) {
      if (s.dims[d] <= 0 || s.dims[d] > (int64_t{1} << 24)) return "tensor " + std::to_string(i) + ": bad dimension";
      t.dims[d] = s.dims[d];
    }
    if (t.Elements() > (uint64_t{1} << 28)) return "tensor " + std::to_string(i) + ": too large";
    t.scale = s.scale;
    t.constant = s.data != nullptr;
    if (t.constant) {
      const auto* bytes = static_cast<const uint8_t*>(s.data);
      t.data.assign(bytes, bytes + t.Bytes());
      if (s.channel_scales != nullptr) t.channel_scales.assign(s.channel_scales, s.channel_scales + s.dims[0]);
    }
    p->tensors.push_back(std::move(t));
  }
  std::vector<bool> defined(p->tensors.size(), false);
  for (size_t i = 0; i < p->tensors.size(); ++i) defined[i] = p->tensors[i].constant;
  for (uint32_t i = 0; i < g->num_inputs; ++i) {
    if (g->inputs[i] >= g->num_tensors || p->tensors[g->inputs[i]].constant) return "bad graph input index";
    defined[g->inputs[i]] = true;
    p->inputs.push_back(g->inputs[i]);
  }
  for (uint32_t i = 0; i < g->num_ops; ++i) {
    Op op;
    op.kind = g->ops[i].kind;
    op.num_inputs = g->ops[i].num_inputs;
    if (op.num_inputs > TLM_NPU_MAX_OP_INPUTS) return "op " + std::to_string(i) + ": too many inputs";
    std::memcpy(op.inputs, g->ops[i].inputs, sizeof(op.inputs));
    op.output = g->ops[i].output;
    if (std::string e = CheckOp(*p, op, i); !e.empty()) return e;
    for (uint32_t k = 0; k < op.num_inputs; ++k)
      if (!defined[op.inputs[k]]) return "op " + std::to_string(i) + ": reads a tensor not yet computed";
    if (defined[op.output]) return "op " + std::to_string(i) + ": writes a tensor that already has a value";
    defined[op.output] = true;
    p->ops.push_back(op);
  }
  for (uint32_t i = 0; i < g->num_outputs; ++i) {
    if (g->outputs[i] >= g->num_tensors || !defined[g->outputs[i]] || p->tensors[g->outputs[i]].constant)
      return "bad graph output index";
    p->outputs.push_back(g->outputs[i]);
  }
  return "";
}

// ---- the blob: header (magic, format version, SoC, payload size, FNV-1a checksum) + payload ----
constexpr char kMagic[8] = {'T', 'L', 'M', 'V', 'N', 'P', 'U', '1'};
constexpr uint32_t kBlobFormatVersion = 1;
struct BlobHeader {
  char magic[8];
  uint32_t format_version;
  uint32_t header_size;
  char soc[32];
  uint64_t payload_size;
  uint64_t checksum;
};

uint64_t Fnv1a(const uint8_t* data, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

struct Writer {
  std::vector<uint8_t> out;
  void Put(const void* p, size_t n) {
    if (n == 0) return;  // p may be the NULL data() of an empty vector
    const auto* b = static_cast<const uint8_t*>(p);
    out.insert(out.end(), b, b + n);
  }
  void U32(uint32_t v) { Put(&v, 4); }
};
struct Reader {
  const uint8_t* p;
  size_t left;
  bool ok = true;
  bool Get(void* dst, size_t n) {
    if (!ok || n > left) return ok = false;
    if (n == 0) return true;  // dst may be the NULL data() of an empty vector
    std::memcpy(dst, p, n);
    p += n;
    left -= n;
    return true;
  }
  uint32_t U32() {
    uint32_t v = 0;
    Get(&v, 4);
    return v;
  }
};

std::vector<uint8_t> Serialize(const Program& p) {
  Writer w;
  w.U32(static_cast<uint32_t>(p.tensors.size()));
  for (const Tensor& t : p.tensors) {
    w.U32(t.dtype);
    w.U32(t.rank);
    w.Put(t.dims, sizeof(t.dims));
    w.Put(&t.scale, 4);
    w.U32(t.constant ? 1 : 0);
    w.U32(static_cast<uint32_t>(t.channel_scales.size()));
    w.Put(t.channel_scales.data(), t.channel_scales.size() * 4);
    w.Put(t.data.data(), t.data.size());
  }
  w.U32(static_cast<uint32_t>(p.ops.size()));
  for (const Op& op : p.ops) {
    w.U32(op.kind);
    w.U32(op.num_inputs);
    w.Put(op.inputs, sizeof(op.inputs));
    w.U32(op.output);
  }
  w.U32(static_cast<uint32_t>(p.inputs.size()));
  w.Put(p.inputs.data(), p.inputs.size() * 4);
  w.U32(static_cast<uint32_t>(p.outputs.size()));
  w.Put(p.outputs.data(), p.outputs.size() * 4);
  return w.out;
}

// Parses and re-validates a payload (a blob is untrusted input); "" when it is fine.
std::string Deserialize(const uint8_t* data, size_t size, Program* p) {
  Reader r{data, size};
  const uint32_t nt = r.U32();
  if (!r.ok || nt == 0 || nt > 65536) return "bad tensor count";
  for (uint32_t i = 0; i < nt; ++i) {
    Tensor t;
    t.dtype = r.U32();
    t.rank = r.U32();
    r.Get(t.dims, sizeof(t.dims));
    r.Get(&t.scale, 4);
    t.constant = r.U32() != 0;
    const uint32_t ns = r.U32();
    if (!r.ok || DTypeBytes(t.dtype) == 0 || t.rank == 0 || t.rank > TLM_NPU_MAX_RANK) return "bad tensor";
    for (uint32_t d = 0; d < t.rank; ++d)
      if (t.dims[d] <= 0 || t.dims[d] > (int64_t{1} << 24)) return "bad tensor dimension";
    if (t.Elements() > (uint64_t{1} << 28) || ns > r.left / 4) return "bad tensor size";
    t.channel_scales.resize(ns);
    r.Get(t.channel_scales.data(), ns * 4);
    if (t.constant) {
      if (t.Bytes() > r.left) return "truncated constant";
      t.data.resize(t.Bytes());
      r.Get(t.data.data(), t.data.size());
    }
    p->tensors.push_back(std::move(t));
  }
  const uint32_t no = r.U32();
  if (!r.ok || no == 0 || no > 65536) return "bad op count";
  for (uint32_t i = 0; i < no; ++i) {
    Op op;
    op.kind = r.U32();
    op.num_inputs = r.U32();
    r.Get(op.inputs, sizeof(op.inputs));
    op.output = r.U32();
    if (!r.ok || op.num_inputs > TLM_NPU_MAX_OP_INPUTS) return "bad op";
    if (std::string e = CheckOp(*p, op, i); !e.empty()) return e;
    p->ops.push_back(op);
  }
  for (std::vector<uint32_t>* list : {&p->inputs, &p->outputs}) {
    const uint32_t n = r.U32();
    if (!r.ok || n == 0 || n > r.left / 4) return "bad input/output list";
    list->resize(n);
    r.Get(list->data(), n * 4);
    for (uint32_t idx : *list)
      if (idx >= p->tensors.size() || p->tensors[idx].constant) return "bad input/output index";
  }
  if (!r.ok || r.left != 0) return "trailing bytes";
  return "";
}

struct OwnedBlob {
  std::vector<uint8_t> bytes;
};

// ---- execution ----
int32_t Saturate(int64_t v, uint32_t dtype) {
  const int64_t lo = dtype == TLM_NPU_DTYPE_INT8 ? -128 : -32768;
  const int64_t hi = dtype == TLM_NPU_DTYPE_INT8 ? 127 : 32767;
  return static_cast<int32_t>(std::clamp(v, lo, hi));
}
int32_t LoadInt(const void* base, uint32_t dtype, uint64_t i) {
  if (dtype == TLM_NPU_DTYPE_INT8) return static_cast<const int8_t*>(base)[i];
  return static_cast<const int16_t*>(base)[i];
}
void StoreInt(void* base, uint32_t dtype, uint64_t i, int32_t v) {
  if (dtype == TLM_NPU_DTYPE_INT8)
    static_cast<int8_t*>(base)[i] = static_cast<int8_t>(v);
  else
    static_cast<int16_t*>(base)[i] = static_cast<int16_t>(v);
}

// Cost of one op on one SoC: cycles = max(compute, DMA) + tile setup, with tiles sized to half the SRAM
// (the other half double-buffers the next tile's DMA).
void ModelOp(const Program& p, const Op& op, const SocConfig& soc, TlmNpuMetrics* m) {
  const Tensor& out = p.tensors[op.output];
  uint64_t compute = 0, dma = 0, tiles = 1, macs = 0;
  if (op.kind == TLM_NPU_OP_FULLY_CONNECTED) {
    const Tensor& x = p.tensors[op.inputs[0]];
    const uint64_t M = x.dims[0], K = x.dims[1], N = out.dims[1];
    const uint64_t ab = DTypeBytes(x.dtype), ob = DTypeBytes(out.dtype);
    const uint64_t budget = soc.sram_bytes / 2;
    // Activation rows per tile: all of them if they take at most half the budget.
    uint64_t m_tile = std::max<uint64_t>(1, std::min<uint64_t>(M, (budget / 2) / (K * ab)));
    uint64_t n_tile = std::max<uint64_t>(1, (budget - std::min(budget - 1, m_tile * K * ab)) / (K + m_tile * 4));
    n_tile = std::min(n_tile, N);
    const uint64_t m_tiles = (M + m_tile - 1) / m_tile, n_tiles = (N + n_tile - 1) / n_tile;
    tiles = m_tiles * n_tiles;
    // Int16 activations take two passes of the 8-bit array.
    compute = ((M + soc.mac_rows - 1) / soc.mac_rows) * ((N + soc.mac_cols - 1) / soc.mac_cols) * K * ab;
    dma = N * K * m_tiles + M * K * ab * n_tiles + M * N * ob + N * 4;
    macs = M * N * K;
  } else {
    const uint64_t n = out.Elements(), b = DTypeBytes(out.dtype);
    compute = (n + soc.mac_rows * soc.mac_cols - 1) / (soc.mac_rows * soc.mac_cols);
    dma = 3 * n * b;
    tiles = std::max<uint64_t>(1, (dma + soc.sram_bytes / 2 - 1) / (soc.sram_bytes / 2));
  }
  const uint64_t dma_cycles = (dma + soc.dma_bytes_per_cycle - 1) / soc.dma_bytes_per_cycle;
  m->modelled_cycles = std::max(compute, dma_cycles) + tiles * kCyclesPerTile;
  m->modelled_ns = m->modelled_cycles * 1000 / soc.clock_mhz;
  m->macs = macs;
  m->dma_bytes = dma;
}

// int32 accumulation, as the MAC array does (wraps like hardware would). One loop per activation type
// so that the compiler vectorizes it: the host's Gemma run spends its NPU time here.
template <typename T>
int32_t DotInt32(const T* x, const int8_t* w, int64_t K) {
  uint32_t acc = 0;
  for (int64_t k = 0; k < K; ++k) acc += static_cast<uint32_t>(int32_t{x[k]} * int32_t{w[k]});
  return static_cast<int32_t>(acc);
}

void RunOp(const Program& p, const Op& op, const std::vector<void*>& buf) {
  const Tensor& out = p.tensors[op.output];
  void* y = buf[op.output];
  if (op.kind == TLM_NPU_OP_FULLY_CONNECTED) {
    const Tensor& x = p.tensors[op.inputs[0]];
    const Tensor& w = p.tensors[op.inputs[1]];
    const void* xb = buf[op.inputs[0]];
    const auto* wb = reinterpret_cast<const int8_t*>(w.data.data());
    const int64_t M = x.dims[0], K = x.dims[1], N = w.dims[0];
    for (int64_t m = 0; m < M; ++m) {
      for (int64_t n = 0; n < N; ++n) {
        const int32_t acc = x.dtype == TLM_NPU_DTYPE_INT8
                                ? DotInt32(static_cast<const int8_t*>(xb) + m * K, wb + n * K, K)
                                : DotInt32(static_cast<const int16_t*>(xb) + m * K, wb + n * K, K);
        const uint64_t o = m * N + n;
        const double real = static_cast<double>(acc) * x.scale * w.channel_scales[n];
        if (out.dtype == TLM_NPU_DTYPE_INT32)
          static_cast<int32_t*>(y)[o] = acc;
        else if (out.dtype == TLM_NPU_DTYPE_FLOAT32)
          static_cast<float*>(y)[o] = static_cast<float>(real);
        else
          StoreInt(y, out.dtype, o, Saturate(std::llround(real / out.scale), out.dtype));
      }
    }
  } else {
    const Tensor& a = p.tensors[op.inputs[0]];
    const Tensor& b = p.tensors[op.inputs[1]];
    for (uint64_t i = 0, n = out.Elements(); i < n; ++i) {
      const double v = static_cast<double>(LoadInt(buf[op.inputs[0]], a.dtype, i)) * a.scale +
                       static_cast<double>(LoadInt(buf[op.inputs[1]], b.dtype, i)) * b.scale;
      StoreInt(y, out.dtype, i, Saturate(std::llround(v / out.scale), out.dtype));
    }
  }
}

}  // namespace

// ---- contexts ----
struct TlmNpuContext {
  const SocConfig* soc = nullptr;
  bool loaded = false, pending = false, ran = false;
  Program program;
  std::vector<std::vector<uint8_t>> scratch;  // intermediates
  std::vector<const void*> bound_in;
  std::vector<void*> bound_out;
  std::vector<TlmNpuMetrics> op_metrics;
  TlmNpuMetrics total{};
};

namespace {

std::mutex g_live_mutex;
std::unordered_set<TlmNpuContext*> g_live;

// Every context argument goes through here: NULL, destroyed and foreign handles are refused.
TlmNpuStatus CheckContext(TlmNpuContext* c) {
  if (c == nullptr) return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "context is NULL");
  std::lock_guard<std::mutex> lock(g_live_mutex);
  if (g_live.count(c) == 0)
    return Fail(TLM_NPU_ERR_INVALID_HANDLE, "context is not a live vnpu context (destroyed, or never created)");
  return TLM_NPU_OK;
}

TlmNpuStatus VPartition(const TlmNpuGraph* graph, const char* soc, uint8_t* taken, uint32_t num_taken) {
  if (graph == nullptr || soc == nullptr || taken == nullptr)
    return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "partition: graph, soc and taken must not be NULL");
  if (FindSoc(soc) == nullptr) return Fail(TLM_NPU_ERR_UNSUPPORTED, std::string("partition: unknown SoC '") + soc + "'");
  if (graph->struct_size < sizeof(TlmNpuGraph) || num_taken != graph->num_ops ||
      (graph->num_ops > 0 && graph->ops == nullptr) || (graph->num_tensors > 0 && graph->tensors == nullptr))
    return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "partition: num_taken must equal graph->num_ops of a valid graph");
  for (uint32_t i = 0; i < graph->num_ops; ++i) {
    const TlmNpuOp& op = graph->ops[i];
    bool ok = op.num_inputs >= 1 && op.num_inputs <= TLM_NPU_MAX_OP_INPUTS && op.output < graph->num_tensors &&
              op.inputs[0] < graph->num_tensors;
    ok = ok && Supports(op.kind, graph->tensors[op.inputs[0]].dtype, graph->tensors[op.output].dtype);
    taken[i] = ok ? 1 : 0;
  }
  return TLM_NPU_OK;
}

TlmNpuStatus VCompile(const TlmNpuGraph* graph, const char* soc, TlmNpuBlob* blob) {
  if (graph == nullptr || soc == nullptr || blob == nullptr)
    return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "compile: graph, soc and blob must not be NULL");
  *blob = TlmNpuBlob{};
  if (FindSoc(soc) == nullptr || std::strlen(soc) >= sizeof(BlobHeader::soc))
    return Fail(TLM_NPU_ERR_UNSUPPORTED, std::string("compile: unknown SoC '") + soc + "'");
  Program p;
  if (std::string e = ImportGraph(graph, &p); !e.empty()) {
    const bool unsupported = e.find("unsupported") != std::string::npos;
    return Fail(unsupported ? TLM_NPU_ERR_UNSUPPORTED : TLM_NPU_ERR_INVALID_ARGUMENT, "compile: " + e);
  }
  try {
    auto* owned = new OwnedBlob;
    const std::vector<uint8_t> payload = Serialize(p);
    BlobHeader h{};
    std::memcpy(h.magic, kMagic, sizeof(kMagic));
    h.format_version = kBlobFormatVersion;
    h.header_size = sizeof(BlobHeader);
    std::strncpy(h.soc, soc, sizeof(h.soc) - 1);
    h.payload_size = payload.size();
    h.checksum = Fnv1a(payload.data(), payload.size());
    owned->bytes.resize(sizeof(h) + payload.size());
    std::memcpy(owned->bytes.data(), &h, sizeof(h));
    std::memcpy(owned->bytes.data() + sizeof(h), payload.data(), payload.size());
    blob->data = owned->bytes.data();
    blob->size = owned->bytes.size();
    blob->opaque = owned;
    return TLM_NPU_OK;
  } catch (const std::bad_alloc&) {
    return Fail(TLM_NPU_ERR_OUT_OF_MEMORY, "compile: out of memory");
  }
}

TlmNpuStatus VFreeBlob(TlmNpuBlob* blob) {
  if (blob == nullptr) return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "free_blob: blob is NULL");
  delete static_cast<OwnedBlob*>(blob->opaque);
  *blob = TlmNpuBlob{};
  return TLM_NPU_OK;
}

TlmNpuStatus VCreateContext(const char* soc, TlmNpuContext** context) {
  if (soc == nullptr || context == nullptr)
    return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "create_context: soc and context must not be NULL");
  *context = nullptr;
  const SocConfig* s = FindSoc(soc);
  if (s == nullptr) return Fail(TLM_NPU_ERR_UNSUPPORTED, std::string("create_context: unknown SoC '") + soc + "'");
  auto* c = new (std::nothrow) TlmNpuContext;
  if (c == nullptr) return Fail(TLM_NPU_ERR_OUT_OF_MEMORY, "create_context: out of memory");
  c->soc = s;
  std::lock_guard<std::mutex> lock(g_live_mutex);
  g_live.insert(c);
  *context = c;
  return TLM_NPU_OK;
}

TlmNpuStatus VLoadBlob(TlmNpuContext* c, const void* data, size_t size) {
  if (TlmNpuStatus s = CheckContext(c); s != TLM_NPU_OK) return s;
  if (data == nullptr) return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "load_blob: data is NULL");
  if (c->loaded) return Fail(TLM_NPU_ERR_BAD_STATE, "load_blob: this context already holds a blob");
  BlobHeader h{};
  if (size < sizeof(h)) return Fail(TLM_NPU_ERR_BAD_BLOB, "load_blob: shorter than a vnpu blob header");
  std::memcpy(&h, data, sizeof(h));
  if (std::memcmp(h.magic, kMagic, sizeof(kMagic)) != 0)
    return Fail(TLM_NPU_ERR_BAD_BLOB, "load_blob: not a vnpu blob (bad magic)");
  if (h.format_version != kBlobFormatVersion || h.header_size != sizeof(h))
    return Fail(TLM_NPU_ERR_BAD_BLOB, "load_blob: vnpu blob format " + std::to_string(h.format_version) +
                                          ", this plugin reads format " + std::to_string(kBlobFormatVersion));
  // The SoC name: NUL-terminated and zero-padded, so that no header byte goes unchecked.
  const size_t soc_len = strnlen(h.soc, sizeof(h.soc));
  if (soc_len == sizeof(h.soc)) return Fail(TLM_NPU_ERR_BAD_BLOB, "load_blob: SoC name in the header is not terminated");
  for (size_t i = soc_len; i < sizeof(h.soc); ++i)
    if (h.soc[i] != '\0') return Fail(TLM_NPU_ERR_BAD_BLOB, "load_blob: SoC name in the header is not zero-padded");
  if (std::strcmp(h.soc, c->soc->name) != 0)
    return Fail(TLM_NPU_ERR_BAD_BLOB, std::string("load_blob: blob was compiled for SoC '") + h.soc +
                                          "', this context is for '" + c->soc->name + "'");
  if (h.payload_size != size - sizeof(h))
    return Fail(TLM_NPU_ERR_BAD_BLOB, "load_blob: payload size does not match the blob size (truncated?)");
  const auto* payload = static_cast<const uint8_t*>(data) + sizeof(h);
  if (Fnv1a(payload, h.payload_size) != h.checksum) return Fail(TLM_NPU_ERR_BAD_BLOB, "load_blob: checksum mismatch");
  Program p;
  try {
    if (std::string e = Deserialize(payload, h.payload_size, &p); !e.empty())
      return Fail(TLM_NPU_ERR_BAD_BLOB, "load_blob: " + e);
    c->scratch.assign(p.tensors.size(), {});
    for (size_t i = 0; i < p.tensors.size(); ++i)
      if (!p.tensors[i].constant) c->scratch[i].resize(p.tensors[i].Bytes());
  } catch (const std::bad_alloc&) {
    return Fail(TLM_NPU_ERR_OUT_OF_MEMORY, "load_blob: out of memory");
  }
  c->program = std::move(p);
  c->bound_in.assign(c->program.inputs.size(), nullptr);
  c->bound_out.assign(c->program.outputs.size(), nullptr);
  c->loaded = true;
  return TLM_NPU_OK;
}

TlmNpuStatus CheckBind(TlmNpuContext* c, uint32_t index, const void* data, size_t size, bool input) {
  if (TlmNpuStatus s = CheckContext(c); s != TLM_NPU_OK) return s;
  const char* what = input ? "bind_input" : "bind_output";
  if (!c->loaded) return Fail(TLM_NPU_ERR_BAD_STATE, std::string(what) + ": no blob loaded");
  if (data == nullptr) return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, std::string(what) + ": data is NULL");
  const std::vector<uint32_t>& list = input ? c->program.inputs : c->program.outputs;
  if (index >= list.size())
    return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, std::string(what) + ": index " + std::to_string(index) +
                                                  " out of range (" + std::to_string(list.size()) + ")");
  const uint64_t want = c->program.tensors[list[index]].Bytes();
  if (size != want)
    return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, std::string(what) + ": buffer of " + std::to_string(size) +
                                                  " bytes, the tensor takes " + std::to_string(want));
  return TLM_NPU_OK;
}

TlmNpuStatus VBindInput(TlmNpuContext* c, uint32_t index, const void* data, size_t size) {
  if (TlmNpuStatus s = CheckBind(c, index, data, size, true); s != TLM_NPU_OK) return s;
  c->bound_in[index] = data;
  return TLM_NPU_OK;
}

TlmNpuStatus VBindOutput(TlmNpuContext* c, uint32_t index, void* data, size_t size) {
  if (TlmNpuStatus s = CheckBind(c, index, data, size, false); s != TLM_NPU_OK) return s;
  c->bound_out[index] = data;
  return TLM_NPU_OK;
}

TlmNpuStatus VInvoke(TlmNpuContext* c) {
  if (TlmNpuStatus s = CheckContext(c); s != TLM_NPU_OK) return s;
  if (!c->loaded) return Fail(TLM_NPU_ERR_BAD_STATE, "invoke: no blob loaded");
  for (const void* p : c->bound_in)
    if (p == nullptr) return Fail(TLM_NPU_ERR_BAD_STATE, "invoke: an input is not bound");
  for (void* p : c->bound_out)
    if (p == nullptr) return Fail(TLM_NPU_ERR_BAD_STATE, "invoke: an output is not bound");
  if (c->pending) return Fail(TLM_NPU_ERR_BAD_STATE, "invoke: the previous invoke was not synchronized");
  const Program& p = c->program;
  std::vector<void*> buf(p.tensors.size(), nullptr);
  for (size_t i = 0; i < p.tensors.size(); ++i)
    buf[i] = p.tensors[i].constant ? const_cast<uint8_t*>(p.tensors[i].data.data()) : c->scratch[i].data();
  for (size_t i = 0; i < p.inputs.size(); ++i) buf[p.inputs[i]] = const_cast<void*>(c->bound_in[i]);
  for (size_t i = 0; i < p.outputs.size(); ++i) buf[p.outputs[i]] = c->bound_out[i];
  c->op_metrics.assign(p.ops.size(), TlmNpuMetrics{});
  c->total = TlmNpuMetrics{};
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    RunOp(p, p.ops[i], buf);
    TlmNpuMetrics& m = c->op_metrics[i];
    m.wall_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start).count());
    ModelOp(p, p.ops[i], *c->soc, &m);
    c->total.wall_ns += m.wall_ns;
    c->total.modelled_cycles += m.modelled_cycles;
    c->total.modelled_ns += m.modelled_ns;
    c->total.macs += m.macs;
    c->total.dma_bytes += m.dma_bytes;
  }
  c->pending = true;
  return TLM_NPU_OK;
}

TlmNpuStatus VSynchronize(TlmNpuContext* c) {
  if (TlmNpuStatus s = CheckContext(c); s != TLM_NPU_OK) return s;
  if (!c->pending) return Fail(TLM_NPU_ERR_BAD_STATE, "synchronize: nothing was invoked");
  c->pending = false;
  c->ran = true;
  return TLM_NPU_OK;
}

TlmNpuStatus VGetMetrics(TlmNpuContext* c, uint32_t op_index, TlmNpuMetrics* metrics) {
  if (TlmNpuStatus s = CheckContext(c); s != TLM_NPU_OK) return s;
  if (metrics == nullptr) return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "get_metrics: metrics is NULL");
  if (metrics->struct_size < sizeof(TlmNpuMetrics))
    return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "get_metrics: metrics->struct_size is smaller than this ABI's");
  if (!c->ran) return Fail(TLM_NPU_ERR_BAD_STATE, "get_metrics: no invoke has completed");
  if (op_index != UINT32_MAX && op_index >= c->op_metrics.size())
    return Fail(TLM_NPU_ERR_INVALID_ARGUMENT, "get_metrics: op index out of range");
  TlmNpuMetrics m = op_index == UINT32_MAX ? c->total : c->op_metrics[op_index];
  m.struct_size = sizeof(TlmNpuMetrics);
  m.num_ops = static_cast<uint32_t>(c->op_metrics.size());
  *metrics = m;
  return TLM_NPU_OK;
}

TlmNpuStatus VDestroyContext(TlmNpuContext* c) {
  if (TlmNpuStatus s = CheckContext(c); s != TLM_NPU_OK) return s;
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    g_live.erase(c);
  }
  delete c;
  return TLM_NPU_OK;
}

const char* VLastError() { return g_last_error.c_str(); }

const TlmNpuPluginApi kVnpuApi = {
    TLM_NPU_ABI_VERSION,
    sizeof(TlmNpuPluginApi),
    "tlmbench",
    "vnpu",
    "1.0.0",
    sizeof(kSocNames) / sizeof(kSocNames[0]),
    kSocNames,
    Supports,
    VPartition,
    VCompile,
    VFreeBlob,
    VCreateContext,
    VLoadBlob,
    VBindInput,
    VBindOutput,
    VInvoke,
    VSynchronize,
    VGetMetrics,
    VDestroyContext,
    VLastError,
};

}  // namespace

extern "C" const TlmNpuPluginApi* tlm_vnpu_reference_api(void) { return &kVnpuApi; }
