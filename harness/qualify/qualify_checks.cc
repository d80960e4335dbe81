// The qualification checks. Each runs in its own worker process (harness/qualify/isolated_runner.h),
// loads the plugin itself, and reports PASS/FAIL/SKIP, a message and metrics as text lines. The last one,
// model.end_to_end, runs conform's teacher-forced model case (harness/conform) on the npu backend.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "engine/common/time_format.h"
#include "harness/conform/conform_suite.h"
#include "harness/qualify/isolated_runner.h"
#include "harness/qualify/qualify_suite.h"
#include "kernels/npu/loader/plugin_loader.h"

namespace tlm {

namespace {

// ---------------------------------------------------------------- test graphs and the CPU reference

size_t Bytes(uint32_t dtype) {
  switch (dtype) {
    case TLM_NPU_DTYPE_INT8: return 1;
    case TLM_NPU_DTYPE_INT16: return 2;
    default: return 4;
  }
}

const char* DTypeName(uint32_t dtype) {
  switch (dtype) {
    case TLM_NPU_DTYPE_INT8: return "int8";
    case TLM_NPU_DTYPE_INT16: return "int16";
    case TLM_NPU_DTYPE_INT32: return "int32";
    case TLM_NPU_DTYPE_FLOAT32: return "float32";
  }
  return "?";
}

// A graph with the storage its C description points into.
struct TestGraph {
  std::vector<TlmNpuTensor> tensors;
  std::vector<TlmNpuOp> ops;
  std::vector<uint32_t> inputs, outputs;
  std::vector<std::vector<int8_t>> weights;
  std::vector<std::vector<float>> channel_scales;
  std::vector<std::vector<uint8_t>> input_data;  // one per graph input
  TlmNpuGraph graph{};

  uint32_t AddTensor(uint32_t dtype, std::initializer_list<int64_t> dims, float scale) {
    TlmNpuTensor t{};
    t.dtype = dtype;
    t.rank = static_cast<uint32_t>(dims.size());
    std::copy(dims.begin(), dims.end(), t.dims);
    t.scale = scale;
    tensors.push_back(t);
    return static_cast<uint32_t>(tensors.size() - 1);
  }
  uint64_t Elements(uint32_t t) const {
    uint64_t n = 1;
    for (uint32_t i = 0; i < tensors[t].rank; ++i) n *= tensors[t].dims[i];
    return n;
  }
  uint64_t ByteSize(uint32_t t) const { return Elements(t) * Bytes(tensors[t].dtype); }
  // Call after the last Add*: points the C structs at the storage.
  const TlmNpuGraph* Finish() {
    size_t w = 0;
    for (TlmNpuTensor& t : tensors)
      if (t.data != nullptr) {
        t.data = weights[w].data();
        t.channel_scales = channel_scales[w].data();
        ++w;
      }
    graph = TlmNpuGraph{sizeof(TlmNpuGraph), static_cast<uint32_t>(tensors.size()), tensors.data(),
                        static_cast<uint32_t>(ops.size()), ops.data(), static_cast<uint32_t>(inputs.size()),
                        inputs.data(), static_cast<uint32_t>(outputs.size()), outputs.data()};
    return &graph;
  }
};

void FillInts(std::vector<uint8_t>* out, uint32_t dtype, uint64_t n, std::mt19937* rng) {
  out->resize(n * Bytes(dtype));
  const int lim = dtype == TLM_NPU_DTYPE_INT8 ? 127 : 32767;
  std::uniform_int_distribution<int> d(-lim, lim);
  for (uint64_t i = 0; i < n; ++i) {
    if (dtype == TLM_NPU_DTYPE_INT8)
      reinterpret_cast<int8_t*>(out->data())[i] = static_cast<int8_t>(d(*rng));
    else
      reinterpret_cast<int16_t*>(out->data())[i] = static_cast<int16_t>(d(*rng));
  }
}

// Adds FULLY_CONNECTED x[M,K] (a new graph input unless x_tensor is given) times random int8 weights.
uint32_t AddFc(TestGraph* g, std::mt19937* rng, int64_t M, int64_t K, int64_t N, uint32_t in_dtype,
               uint32_t out_dtype, int64_t x_tensor = -1) {
  uint32_t x;
  if (x_tensor < 0) {
    x = g->AddTensor(in_dtype, {M, K}, in_dtype == TLM_NPU_DTYPE_INT8 ? 0.02f : 0.0001f);
    g->inputs.push_back(x);
    g->input_data.emplace_back();
    FillInts(&g->input_data.back(), in_dtype, M * K, rng);
  } else {
    x = static_cast<uint32_t>(x_tensor);
  }
  const uint32_t w = g->AddTensor(TLM_NPU_DTYPE_INT8, {N, K}, 1.0f);
  g->weights.emplace_back(N * K);
  std::uniform_int_distribution<int> wd(-127, 127);
  for (int8_t& v : g->weights.back()) v = static_cast<int8_t>(wd(*rng));
  g->channel_scales.emplace_back(N);
  std::uniform_real_distribution<float> sd(0.002f, 0.02f);
  for (float& s : g->channel_scales.back()) s = sd(*rng);
  g->tensors[w].data = g->weights.back().data();  // marks it constant; Finish() fixes the pointers
  // Output scale: spreads the requantized outputs over the integer range (about 4 sigma).
  const double sigma = std::sqrt(static_cast<double>(K)) * g->tensors[x].scale *
                       (in_dtype == TLM_NPU_DTYPE_INT8 ? 73.0 : 18918.0) * 73.0 * 0.011;
  const double range = out_dtype == TLM_NPU_DTYPE_INT8 ? 127.0 : 32767.0;
  const uint32_t y = g->AddTensor(out_dtype, {M, N}, static_cast<float>(4 * sigma / range));
  g->ops.push_back(TlmNpuOp{TLM_NPU_OP_FULLY_CONNECTED, 2, {x, w, 0, 0}, y});
  return y;
}

// ADD a + r, r a new graph input of a's shape.
uint32_t AddAdd(TestGraph* g, std::mt19937* rng, uint32_t a) {
  const TlmNpuTensor at = g->tensors[a];
  const uint32_t r = g->AddTensor(at.dtype, {at.dims[0], at.dims[1]}, at.scale * 0.7f);
  g->inputs.push_back(r);
  g->input_data.emplace_back();
  FillInts(&g->input_data.back(), at.dtype, g->Elements(r), rng);
  const uint32_t y = g->AddTensor(at.dtype, {at.dims[0], at.dims[1]}, at.scale * 1.6f);
  g->ops.push_back(TlmNpuOp{TLM_NPU_OP_ADD, 2, {a, r, 0, 0}, y});
  return y;
}

int64_t LoadInt(const uint8_t* base, uint32_t dtype, uint64_t i) {
  if (dtype == TLM_NPU_DTYPE_INT8) return reinterpret_cast<const int8_t*>(base)[i];
  return reinterpret_cast<const int16_t*>(base)[i];
}

// The CPU reference: every tensor's value in double (int outputs hold the exact integers), plus for
// FULLY_CONNECTED float outputs the magnitude sum that bounds the accumulation error.
struct Reference {
  std::vector<std::vector<double>> values;
  std::vector<std::vector<double>> magnitude;
};

Reference ComputeReference(const TestGraph& g) {
  Reference ref;
  ref.values.resize(g.tensors.size());
  ref.magnitude.resize(g.tensors.size());
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    const uint32_t t = g.inputs[i];
    for (uint64_t e = 0; e < g.Elements(t); ++e)
      ref.values[t].push_back(static_cast<double>(LoadInt(g.input_data[i].data(), g.tensors[t].dtype, e)));
  }
  auto requant = [](double real, const TlmNpuTensor& out) {
    const double lim = out.dtype == TLM_NPU_DTYPE_INT8 ? 127 : 32767;
    return std::clamp(static_cast<double>(std::llround(real / out.scale)), -lim - 1, lim);
  };
  for (const TlmNpuOp& op : g.ops) {
    const TlmNpuTensor& out = g.tensors[op.output];
    std::vector<double>& y = ref.values[op.output];
    if (op.kind == TLM_NPU_OP_FULLY_CONNECTED) {
      const TlmNpuTensor& x = g.tensors[op.inputs[0]];
      const TlmNpuTensor& w = g.tensors[op.inputs[1]];
      const auto* wd = static_cast<const int8_t*>(w.data);
      const int64_t M = x.dims[0], K = x.dims[1], N = w.dims[0];
      const std::vector<double>& xv = ref.values[op.inputs[0]];
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          int64_t acc = 0, mag = 0;
          for (int64_t k = 0; k < K; ++k) {
            const int64_t p = static_cast<int64_t>(xv[m * K + k]) * wd[n * K + k];
            acc += p;
            mag += p < 0 ? -p : p;
          }
          const double s = static_cast<double>(x.scale) * w.channel_scales[n];
          if (out.dtype == TLM_NPU_DTYPE_INT32)
            y.push_back(static_cast<double>(acc));
          else if (out.dtype == TLM_NPU_DTYPE_FLOAT32)
            y.push_back(static_cast<double>(acc) * s);
          else
            y.push_back(requant(static_cast<double>(acc) * s, out));
          ref.magnitude[op.output].push_back(static_cast<double>(mag) * s);
        }
    } else {
      const TlmNpuTensor& a = g.tensors[op.inputs[0]];
      const TlmNpuTensor& b = g.tensors[op.inputs[1]];
      for (size_t e = 0; e < ref.values[op.inputs[0]].size(); ++e)
        y.push_back(requant(ref.values[op.inputs[0]][e] * a.scale + ref.values[op.inputs[1]][e] * b.scale, out));
    }
  }
  return ref;
}

// ---------------------------------------------------------------- running a graph through the plugin

constexpr size_t kCanaryBytes = 64;
constexpr uint8_t kCanary = 0xA5;

struct GraphRun {
  std::vector<std::vector<uint8_t>> outputs;  // without the canary
  std::vector<TlmNpuMetrics> op_metrics;
  TlmNpuMetrics total{};
};

// compile, create, load, bind, invoke `invokes` times, synchronize, metrics, destroy, free. Output buffers
// carry a canary past their end: a plugin that writes beyond the size it was given fails here.
StatusOr<GraphRun> RunGraph(const NpuPlugin& p, const std::string& soc, const TestGraph& g, int invokes = 1,
                            const TlmNpuBlob* prebuilt = nullptr) {
  const TlmNpuPluginApi& api = p.api();
  TlmNpuBlob blob{};
  if (prebuilt == nullptr) TLM_RETURN_IF_ERROR(p.Check(api.compile(&g.graph, soc.c_str(), &blob), "compile"));
  const TlmNpuBlob& use = prebuilt != nullptr ? *prebuilt : blob;
  TlmNpuContext* ctx = nullptr;
  auto cleanup = [&] {
    if (ctx != nullptr) api.destroy_context(ctx);
    if (prebuilt == nullptr) api.free_blob(&blob);
  };
  auto fail = [&](Status s) {
    cleanup();
    return s;
  };
  if (Status s = p.Check(api.create_context(soc.c_str(), &ctx), "create_context"); !s.ok()) return fail(s);
  if (Status s = p.Check(api.load_blob(ctx, use.data, use.size), "load_blob"); !s.ok()) return fail(s);
  for (uint32_t i = 0; i < g.inputs.size(); ++i)
    if (Status s = p.Check(api.bind_input(ctx, i, g.input_data[i].data(), g.input_data[i].size()), "bind_input");
        !s.ok())
      return fail(s);
  std::vector<std::vector<uint8_t>> bufs(g.outputs.size());
  for (uint32_t i = 0; i < g.outputs.size(); ++i) {
    const size_t size = g.ByteSize(g.outputs[i]);
    bufs[i].assign(size + kCanaryBytes, kCanary);
    if (Status s = p.Check(api.bind_output(ctx, i, bufs[i].data(), size), "bind_output"); !s.ok()) return fail(s);
  }
  for (int r = 0; r < invokes; ++r) {
    if (Status s = p.Check(api.invoke(ctx), "invoke"); !s.ok()) return fail(s);
    if (Status s = p.Check(api.synchronize(ctx), "synchronize"); !s.ok()) return fail(s);
  }
  GraphRun run;
  for (uint32_t i = 0; i < g.outputs.size(); ++i) {
    const size_t size = g.ByteSize(g.outputs[i]);
    for (size_t b = size; b < bufs[i].size(); ++b)
      if (bufs[i][b] != kCanary)
        return fail(Internal("the plugin wrote past the end of output {} ({} bytes bound, byte {} changed)", i,
                             size, b));
    bufs[i].resize(size);
  }
  run.outputs = std::move(bufs);
  run.total.struct_size = sizeof(TlmNpuMetrics);
  if (Status s = p.Check(api.get_metrics(ctx, UINT32_MAX, &run.total), "get_metrics"); !s.ok()) return fail(s);
  for (uint32_t i = 0; i < g.ops.size(); ++i) {
    TlmNpuMetrics m{};
    m.struct_size = sizeof(TlmNpuMetrics);
    if (Status s = p.Check(api.get_metrics(ctx, i, &m), "get_metrics(op)"); !s.ok()) return fail(s);
    run.op_metrics.push_back(m);
  }
  if (Status s = p.Check(api.destroy_context(ctx), "destroy_context"); !s.ok()) {
    ctx = nullptr;
    return fail(s);
  }
  ctx = nullptr;
  cleanup();
  return run;
}

// ---------------------------------------------------------------- check plumbing

struct Outcome {
  QualifyCheck::Result result = QualifyCheck::Result::kPass;
  std::string message;
  std::vector<QualifyMetric> metrics;
  std::vector<std::string> problems;  // any problem fails the check
  void Problem(std::string p) {
    if (std::find(problems.begin(), problems.end(), p) == problems.end()) problems.push_back(std::move(p));
  }
};

std::string Serialize(const Outcome& o) {
  auto clean = [](std::string s) {
    std::replace(s.begin(), s.end(), '\n', ' ');
    std::replace(s.begin(), s.end(), '\t', ' ');
    return s;
  };
  std::string msg = o.message;
  QualifyCheck::Result result = o.result;
  if (!o.problems.empty()) {
    result = QualifyCheck::Result::kFail;
    msg.clear();
    for (const std::string& p : o.problems) msg += (msg.empty() ? "" : "; ") + p;
  }
  std::string out = result == QualifyCheck::Result::kPass   ? "PASS\n"
                    : result == QualifyCheck::Result::kSkip ? "SKIP\n"
                                                            : "FAIL\n";
  out += clean(msg) + "\n";
  for (const QualifyMetric& m : o.metrics) out += fmt::format("{}\t{}\t{}\n", clean(m.name), m.value, m.unit);
  return out;
}

using CheckFn = std::function<void(const NpuPlugin&, const std::string& soc, const QualifyOptions&, Outcome*)>;

struct CheckDef {
  const char* name;
  const char* what;
  CheckFn fn;
};

// Expects a call to fail with `want` (or with any error when want == TLM_NPU_OK) and a message.
void ExpectError(const NpuPlugin& p, Outcome* o, const std::string& call, TlmNpuStatus got, TlmNpuStatus want,
                 TlmNpuStatus also = TLM_NPU_OK) {
  if (got == TLM_NPU_OK) {
    o->Problem(call + " succeeded; it must fail" +
               (want == TLM_NPU_OK ? std::string() : std::string(" with ") + NpuStatusName(want)));
    return;
  }
  if (want != TLM_NPU_OK && got != want && (also == TLM_NPU_OK || got != also)) {
    o->Problem(fmt::format("{} failed with {}, expected {}", call, NpuStatusName(got), NpuStatusName(want)));
    return;
  }
  const char* msg = p.api().last_error();
  if (msg == nullptr || *msg == '\0') o->Problem(call + " failed without a message from last_error()");
}

void ExpectOk(const NpuPlugin& p, Outcome* o, const std::string& call, TlmNpuStatus got) {
  if (got != TLM_NPU_OK) o->Problem(p.Check(got, call).message());
}

// A small valid graph (FC int8 -> int8 then ADD) used by the ABI checks.
struct SmallGraph {
  std::mt19937 rng{7};
  TestGraph g;
  SmallGraph() {
    const uint32_t y = AddFc(&g, &rng, 4, 32, 16, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_INT8);
    g.outputs.push_back(AddAdd(&g, &rng, y));
    g.Finish();
  }
};

// ---------------------------------------------------------------- ABI conformance

void CheckVersionNegotiation(const NpuPlugin& p, const std::string&, const QualifyOptions&, Outcome* o) {
  TlmNpuGetApiFn get = p.get_api();
  if (get(0) != nullptr) o->Problem("tlm_npu_plugin_get_api(0) must return NULL (no ABI 0 exists)");
  const TlmNpuPluginApi* again = get(TLM_NPU_ABI_VERSION);
  if (again == nullptr || again->abi_version != TLM_NPU_ABI_VERSION)
    o->Problem("a second tlm_npu_plugin_get_api() with this ABI gave another answer");
  const TlmNpuPluginApi* newer = get(TLM_NPU_ABI_VERSION + 1);
  if (newer != nullptr && newer->abi_version > TLM_NPU_ABI_VERSION + 1)
    o->Problem(fmt::format("a host of ABI {} got a table claiming ABI {}", TLM_NPU_ABI_VERSION + 1,
                           newer->abi_version));
  o->message = fmt::format("ABI {}; a newer host (ABI {}) gets {}", TLM_NPU_ABI_VERSION, TLM_NPU_ABI_VERSION + 1,
                           newer == nullptr ? std::string("NULL")
                                            : fmt::format("a table of ABI {}", newer->abi_version));
}

void CheckNullArguments(const NpuPlugin& p, const std::string& soc, const QualifyOptions&, Outcome* o) {
  const TlmNpuPluginApi& a = p.api();
  SmallGraph sg;
  const TlmNpuGraph* g = &sg.g.graph;
  const char* s = soc.c_str();
  constexpr TlmNpuStatus kArg = TLM_NPU_ERR_INVALID_ARGUMENT, kHandle = TLM_NPU_ERR_INVALID_HANDLE;
  uint8_t taken[8];
  TlmNpuBlob blob{};
  TlmNpuContext* ctx = nullptr;
  TlmNpuMetrics m{};
  m.struct_size = sizeof(m);
  int8_t buf[64];
  ExpectError(p, o, "partition(graph=NULL)", a.partition(nullptr, s, taken, 2), kArg);
  ExpectError(p, o, "partition(soc=NULL)", a.partition(g, nullptr, taken, 2), kArg);
  ExpectError(p, o, "partition(taken=NULL)", a.partition(g, s, nullptr, 2), kArg);
  ExpectError(p, o, "compile(graph=NULL)", a.compile(nullptr, s, &blob), kArg);
  ExpectError(p, o, "compile(soc=NULL)", a.compile(g, nullptr, &blob), kArg);
  ExpectError(p, o, "compile(blob=NULL)", a.compile(g, s, nullptr), kArg);
  ExpectError(p, o, "free_blob(NULL)", a.free_blob(nullptr), kArg);
  ExpectError(p, o, "create_context(soc=NULL)", a.create_context(nullptr, &ctx), kArg);
  ExpectError(p, o, "create_context(context=NULL)", a.create_context(s, nullptr), kArg);
  ExpectError(p, o, "load_blob(context=NULL)", a.load_blob(nullptr, buf, sizeof(buf)), kArg, kHandle);
  ExpectError(p, o, "bind_input(context=NULL)", a.bind_input(nullptr, 0, buf, sizeof(buf)), kArg, kHandle);
  ExpectError(p, o, "bind_output(context=NULL)", a.bind_output(nullptr, 0, buf, sizeof(buf)), kArg, kHandle);
  ExpectError(p, o, "invoke(NULL)", a.invoke(nullptr), kArg, kHandle);
  ExpectError(p, o, "synchronize(NULL)", a.synchronize(nullptr), kArg, kHandle);
  ExpectError(p, o, "get_metrics(context=NULL)", a.get_metrics(nullptr, UINT32_MAX, &m), kArg, kHandle);
  ExpectError(p, o, "destroy_context(NULL)", a.destroy_context(nullptr), kArg, kHandle);
  // NULL data on a live, loaded context.
  ExpectOk(p, o, "compile", a.compile(g, s, &blob));
  ExpectOk(p, o, "create_context", a.create_context(s, &ctx));
  if (ctx != nullptr) {
    ExpectError(p, o, "load_blob(data=NULL)", a.load_blob(ctx, nullptr, blob.size), kArg);
    ExpectOk(p, o, "load_blob", a.load_blob(ctx, blob.data, blob.size));
    ExpectError(p, o, "bind_input(data=NULL)", a.bind_input(ctx, 0, nullptr, sg.g.input_data[0].size()), kArg);
    ExpectError(p, o, "bind_output(data=NULL)", a.bind_output(ctx, 0, nullptr, sg.g.ByteSize(sg.g.outputs[0])),
                kArg);
    ExpectError(p, o, "get_metrics(metrics=NULL)", a.get_metrics(ctx, UINT32_MAX, nullptr), kArg);
    ExpectOk(p, o, "destroy_context", a.destroy_context(ctx));
  }
  a.free_blob(&blob);
  o->message = "every NULL pointer refused with an error and a message";
}

void CheckInvalidArguments(const NpuPlugin& p, const std::string& soc, const QualifyOptions&, Outcome* o) {
  const TlmNpuPluginApi& a = p.api();
  const char* s = soc.c_str();
  TlmNpuBlob blob{};
  TlmNpuContext* ctx = nullptr;
  SmallGraph sg;
  ExpectError(p, o, "compile(soc='no-such-soc')", a.compile(&sg.g.graph, "no-such-soc", &blob), TLM_NPU_OK);
  ExpectError(p, o, "create_context(soc='no-such-soc')", a.create_context("no-such-soc", &ctx), TLM_NPU_OK);
  {  // inner dimensions that do not match
    SmallGraph bad;
    bad.g.tensors[0].dims[1] = 31;
    ExpectError(p, o, "compile(FC with K of the input != K of the weights)", a.compile(&bad.g.graph, s, &blob),
                TLM_NPU_OK);
  }
  {  // weights without per-channel scales
    SmallGraph bad;
    bad.g.tensors[1].channel_scales = nullptr;
    ExpectError(p, o, "compile(weights without per-channel scales)", a.compile(&bad.g.graph, s, &blob), TLM_NPU_OK);
  }
  {  // a tensor index out of range
    SmallGraph bad;
    bad.g.ops[0].output = 999;
    ExpectError(p, o, "compile(op output index out of range)", a.compile(&bad.g.graph, s, &blob), TLM_NPU_OK);
  }
  {  // an unknown data type
    SmallGraph bad;
    bad.g.tensors[0].dtype = 99;
    ExpectError(p, o, "compile(unknown data type)", a.compile(&bad.g.graph, s, &blob), TLM_NPU_OK);
  }
  {  // a graph struct from a smaller ABI
    SmallGraph bad;
    bad.g.graph.struct_size = 8;
    ExpectError(p, o, "compile(graph struct_size 8)", a.compile(&bad.g.graph, s, &blob), TLM_NPU_OK);
  }
  uint8_t taken[2];
  ExpectError(p, o, "partition(num_taken != num_ops)", a.partition(&sg.g.graph, s, taken, 1), TLM_NPU_OK);
  ExpectOk(p, o, "compile", a.compile(&sg.g.graph, s, &blob));
  ExpectOk(p, o, "create_context", a.create_context(s, &ctx));
  if (ctx != nullptr && blob.data != nullptr) {
    ExpectOk(p, o, "load_blob", a.load_blob(ctx, blob.data, blob.size));
    std::vector<uint8_t> in = sg.g.input_data[0];
    ExpectError(p, o, "bind_input(index 7)", a.bind_input(ctx, 7, in.data(), in.size()), TLM_NPU_ERR_INVALID_ARGUMENT);
    ExpectError(p, o, "bind_input(size - 1)", a.bind_input(ctx, 0, in.data(), in.size() - 1),
                TLM_NPU_ERR_INVALID_ARGUMENT);
    std::vector<uint8_t> out(sg.g.ByteSize(sg.g.outputs[0]) * 2);
    ExpectError(p, o, "bind_output(twice the size)", a.bind_output(ctx, 0, out.data(), out.size()),
                TLM_NPU_ERR_INVALID_ARGUMENT);
    TlmNpuMetrics m{};
    m.struct_size = 4;
    ExpectError(p, o, "get_metrics(struct_size 4)", a.get_metrics(ctx, UINT32_MAX, &m), TLM_NPU_OK);
    ExpectOk(p, o, "destroy_context", a.destroy_context(ctx));
  }
  a.free_blob(&blob);
  o->message = "unknown SoCs, bad shapes, indices, types and sizes refused";
}

// Loads `bytes` into a fresh context, expecting BAD_BLOB; then the good blob must still load and run.
void ExpectBadBlob(const NpuPlugin& p, const std::string& soc, Outcome* o, const std::string& what,
                   const std::vector<uint8_t>& bytes, const TlmNpuBlob& good, const TestGraph& g) {
  const TlmNpuPluginApi& a = p.api();
  TlmNpuContext* ctx = nullptr;
  if (a.create_context(soc.c_str(), &ctx) != TLM_NPU_OK || ctx == nullptr) {
    o->Problem("create_context failed: " + std::string(a.last_error()));
    return;
  }
  ExpectError(p, o, "load_blob(" + what + ")", a.load_blob(ctx, bytes.data(), bytes.size()), TLM_NPU_ERR_BAD_BLOB);
  ExpectOk(p, o, "load_blob(the good blob, after a refused one)", a.load_blob(ctx, good.data, good.size));
  a.destroy_context(ctx);
  StatusOr<GraphRun> run = RunGraph(p, soc, g, 1, &good);
  if (!run.ok()) o->Problem("the good blob no longer runs: " + run.status().message());
}

void CheckCorruptBlob(const NpuPlugin& p, const std::string& soc, const QualifyOptions&, Outcome* o) {
  SmallGraph sg;
  TlmNpuBlob blob{};
  ExpectOk(p, o, "compile", p.api().compile(&sg.g.graph, soc.c_str(), &blob));
  if (blob.data == nullptr || blob.size < 16) {
    o->Problem("compile gave an empty blob");
    return;
  }
  const std::vector<uint8_t> good(blob.data, blob.data + blob.size);
  std::vector<uint8_t> flipped = good;
  flipped[flipped.size() * 3 / 4] ^= 0x5a;
  ExpectBadBlob(p, soc, o, "one byte flipped in the payload", flipped, blob, sg.g);
  ExpectBadBlob(p, soc, o, "truncated by one byte", std::vector<uint8_t>(good.begin(), good.end() - 1), blob, sg.g);
  ExpectBadBlob(p, soc, o, "first 8 bytes only", std::vector<uint8_t>(good.begin(), good.begin() + 8), blob, sg.g);
  std::vector<uint8_t> longer = good;
  longer.push_back(0);
  ExpectBadBlob(p, soc, o, "one byte appended", longer, blob, sg.g);
  p.api().free_blob(&blob);
  o->message = "flipped, truncated and extended blobs refused with BAD_BLOB; the context stays usable";
}

void CheckForeignBlob(const NpuPlugin& p, const std::string& soc, const QualifyOptions&, Outcome* o) {
  SmallGraph sg;
  TlmNpuBlob blob{};
  ExpectOk(p, o, "compile", p.api().compile(&sg.g.graph, soc.c_str(), &blob));
  if (blob.data == nullptr) return;
  std::mt19937 rng(11);
  std::vector<uint8_t> garbage(blob.size);
  for (uint8_t& b : garbage) b = static_cast<uint8_t>(rng());
  ExpectBadBlob(p, soc, o, "random bytes", garbage, blob, sg.g);
  std::vector<uint8_t> tflite(blob.size, 0);
  std::memcpy(tflite.data() + 4, "TFL3", 4);  // what a TFLite flatbuffer starts with
  ExpectBadBlob(p, soc, o, "a TFLite flatbuffer header", tflite, blob, sg.g);
  std::string other;
  for (uint32_t i = 0; i < p.api().num_socs; ++i)
    if (soc != p.api().socs[i]) other = p.api().socs[i];
  if (!other.empty()) {
    TlmNpuBlob foreign{};
    ExpectOk(p, o, "compile for " + other, p.api().compile(&sg.g.graph, other.c_str(), &foreign));
    if (foreign.data != nullptr)
      ExpectBadBlob(p, soc, o, "a blob compiled for SoC " + other,
                    std::vector<uint8_t>(foreign.data, foreign.data + foreign.size), blob, sg.g);
    p.api().free_blob(&foreign);
  }
  p.api().free_blob(&blob);
  o->message = other.empty() ? "random bytes and a TFLite header refused (one SoC: no cross-SoC blob to try)"
                             : "random bytes, a TFLite header and a blob for " + other + " refused with BAD_BLOB";
}

void CheckDoubleDestroy(const NpuPlugin& p, const std::string& soc, const QualifyOptions&, Outcome* o) {
  const TlmNpuPluginApi& a = p.api();
  TlmNpuContext* ctx = nullptr;
  ExpectOk(p, o, "create_context", a.create_context(soc.c_str(), &ctx));
  if (ctx == nullptr) return;
  ExpectOk(p, o, "destroy_context", a.destroy_context(ctx));
  ExpectError(p, o, "destroy_context(the same context again)", a.destroy_context(ctx), TLM_NPU_ERR_INVALID_HANDLE);
  ExpectError(p, o, "invoke(a destroyed context)", a.invoke(ctx), TLM_NPU_ERR_INVALID_HANDLE);
  SmallGraph sg;
  TlmNpuBlob blob{};
  ExpectOk(p, o, "compile", a.compile(&sg.g.graph, soc.c_str(), &blob));
  ExpectOk(p, o, "free_blob", a.free_blob(&blob));
  if (blob.data != nullptr || blob.size != 0) o->Problem("free_blob did not zero the blob");
  ExpectOk(p, o, "free_blob(the freed, zeroed blob again)", a.free_blob(&blob));
  o->message = "a second destroy is INVALID_HANDLE; a second free_blob is a no-op";
}

void CheckOutOfOrder(const NpuPlugin& p, const std::string& soc, const QualifyOptions&, Outcome* o) {
  const TlmNpuPluginApi& a = p.api();
  constexpr TlmNpuStatus kState = TLM_NPU_ERR_BAD_STATE;
  SmallGraph sg;
  TestGraph& g = sg.g;
  TlmNpuBlob blob{};
  ExpectOk(p, o, "compile", a.compile(&g.graph, soc.c_str(), &blob));
  TlmNpuContext* ctx = nullptr;
  ExpectOk(p, o, "create_context", a.create_context(soc.c_str(), &ctx));
  if (ctx == nullptr || blob.data == nullptr) return;
  std::vector<uint8_t> out(g.ByteSize(g.outputs[0]));
  TlmNpuMetrics m{};
  m.struct_size = sizeof(m);
  ExpectError(p, o, "invoke before load_blob", a.invoke(ctx), kState);
  ExpectError(p, o, "bind_input before load_blob",
              a.bind_input(ctx, 0, g.input_data[0].data(), g.input_data[0].size()), kState);
  ExpectError(p, o, "synchronize before invoke", a.synchronize(ctx), kState);
  ExpectError(p, o, "get_metrics before invoke", a.get_metrics(ctx, UINT32_MAX, &m), kState);
  ExpectOk(p, o, "load_blob", a.load_blob(ctx, blob.data, blob.size));
  ExpectError(p, o, "load_blob a second time", a.load_blob(ctx, blob.data, blob.size), kState);
  ExpectError(p, o, "invoke before any bind", a.invoke(ctx), kState);
  for (uint32_t i = 0; i < g.inputs.size(); ++i)
    ExpectOk(p, o, "bind_input", a.bind_input(ctx, i, g.input_data[i].data(), g.input_data[i].size()));
  ExpectError(p, o, "invoke with an output unbound", a.invoke(ctx), kState);
  ExpectOk(p, o, "bind_output", a.bind_output(ctx, 0, out.data(), out.size()));
  ExpectError(p, o, "synchronize before invoke (bound)", a.synchronize(ctx), kState);
  ExpectOk(p, o, "invoke", a.invoke(ctx));
  ExpectError(p, o, "invoke again before synchronize", a.invoke(ctx), kState);
  ExpectOk(p, o, "synchronize", a.synchronize(ctx));
  ExpectOk(p, o, "get_metrics", a.get_metrics(ctx, UINT32_MAX, &m));
  ExpectOk(p, o, "destroy_context", a.destroy_context(ctx));
  a.free_blob(&blob);
  o->message = "out-of-order calls refused with BAD_STATE; the right order works";
}

// ---------------------------------------------------------------- accuracy

enum class Policy { kExact, kQuantizedBucket, kFloatAccumulation };

struct AccuracyCase {
  uint32_t kind, in_dtype, out_dtype;
  Policy policy;
};

void CheckAccuracy(const AccuracyCase& c, const NpuPlugin& p, const std::string& soc, Outcome* o) {
  const char* op_name = c.kind == TLM_NPU_OP_FULLY_CONNECTED ? "FULLY_CONNECTED" : "ADD";
  if (!p.api().supports(c.kind, c.in_dtype, c.out_dtype)) {
    o->result = QualifyCheck::Result::kSkip;
    o->message = fmt::format("the plugin does not take {} {} -> {}", op_name, DTypeName(c.in_dtype),
                             DTypeName(c.out_dtype));
    return;
  }
  std::mt19937 rng(1234 + c.in_dtype * 10 + c.out_dtype);
  TestGraph g;
  if (c.kind == TLM_NPU_OP_FULLY_CONNECTED) {
    g.outputs.push_back(AddFc(&g, &rng, 7, 300, 37, c.in_dtype, c.out_dtype));
  } else {
    const uint32_t a = g.AddTensor(c.in_dtype, {9, 41}, c.in_dtype == TLM_NPU_DTYPE_INT8 ? 0.05f : 0.0002f);
    g.inputs.push_back(a);
    g.input_data.emplace_back();
    FillInts(&g.input_data.back(), c.in_dtype, g.Elements(a), &rng);
    g.outputs.push_back(AddAdd(&g, &rng, a));
  }
  g.Finish();
  uint8_t taken = 0;
  if (g.ops.size() == 1) {
    ExpectOk(p, o, "partition", p.api().partition(&g.graph, soc.c_str(), &taken, 1));
    if (taken != 1) o->Problem("supports() says yes but partition() does not take the op");
  }
  StatusOr<GraphRun> run = RunGraph(p, soc, g);
  if (!run.ok()) {
    o->Problem(run.status().message());
    return;
  }
  const Reference ref = ComputeReference(g);
  const uint32_t y = g.outputs[0];
  const std::vector<double>& want = ref.values[y];
  const uint8_t* got = run->outputs[0].data();
  uint64_t bad = 0, first_bad = 0;
  double max_err = 0, max_allowed = 0, first_got = 0, first_want = 0;
  for (uint64_t i = 0; i < want.size(); ++i) {
    double v = 0, allowed = 0;
    switch (c.out_dtype) {
      case TLM_NPU_DTYPE_INT8: v = reinterpret_cast<const int8_t*>(got)[i]; break;
      case TLM_NPU_DTYPE_INT16: v = reinterpret_cast<const int16_t*>(got)[i]; break;
      case TLM_NPU_DTYPE_INT32: v = reinterpret_cast<const int32_t*>(got)[i]; break;
      default: v = reinterpret_cast<const float*>(got)[i];
    }
    if (c.policy == Policy::kQuantizedBucket) allowed = 1;  // one quantization step
    // Float: each of K products and sums may round once in float32, plus the final rounding.
    if (c.policy == Policy::kFloatAccumulation)
      allowed = (static_cast<double>(g.tensors[g.ops[0].inputs[0]].dims[1]) + 2) * std::ldexp(1.0, -24) *
                    ref.magnitude[y][i] +
                std::abs(want[i]) * std::ldexp(1.0, -23);
    const double err = std::abs(v - want[i]);
    max_err = std::max(max_err, err);
    max_allowed = std::max(max_allowed, allowed);
    if (!(err <= allowed)) {
      if (bad++ == 0) {
        first_bad = i;
        first_got = v;
        first_want = want[i];
      }
    }
  }
  const char* policy = c.policy == Policy::kExact             ? "equal to"
                       : c.policy == Policy::kQuantizedBucket ? "within 1 quantization step of"
                                                              : "within the float32 accumulation bound of";
  o->metrics.push_back({"max_abs_error", max_err, c.out_dtype == TLM_NPU_DTYPE_FLOAT32 ? "real" : "integer steps"});
  o->metrics.push_back({"mismatches", static_cast<double>(bad), "elements"});
  if (bad > 0)
    o->Problem(fmt::format("{} {} -> {}: {} of {} outputs not {} the CPU reference; first at {}: got {}, want {}",
                           op_name, DTypeName(c.in_dtype), DTypeName(c.out_dtype), bad, want.size(), policy,
                           first_bad, first_got, first_want));
  o->message = fmt::format("{} outputs {} the CPU reference (max error {:g})", want.size(), policy, max_err);
}

// ---------------------------------------------------------------- determinism and performance

void CheckDeterminism(const NpuPlugin& p, const std::string& soc, const QualifyOptions& opt, Outcome* o) {
  std::mt19937 rng(99);
  TestGraph g;
  const uint32_t y = AddFc(&g, &rng, 5, 200, 48, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_INT8);
  g.outputs.push_back(AddAdd(&g, &rng, y));
  g.Finish();
  std::vector<uint8_t> first;
  uint64_t first_cycles = 0;
  const int repeats = std::max(2, opt.repeats);
  for (int r = 0; r < repeats; ++r) {
    StatusOr<GraphRun> run = RunGraph(p, soc, g, 3);  // a fresh compile and context, invoked 3 times
    if (!run.ok()) {
      o->Problem(fmt::format("run {}: {}", r + 1, run.status().message()));
      return;
    }
    if (r == 0) {
      first = run->outputs[0];
      first_cycles = run->total.modelled_cycles;
    } else {
      if (run->outputs[0] != first) o->Problem(fmt::format("run {} gave different outputs than run 1", r + 1));
      if (run->total.modelled_cycles != first_cycles)
        o->Problem(fmt::format("run {} modelled {} cycles, run 1 modelled {}", r + 1, run->total.modelled_cycles,
                               first_cycles));
    }
  }
  o->message = fmt::format("{} runs (fresh compile and context, 3 invokes each): identical outputs and cycles",
                           repeats);
}

void CheckPerformance(const NpuPlugin& p, const std::string& soc, const QualifyOptions&, Outcome* o) {
  // A decoder-sized projection pair: decode (1 token) and a prefill chunk (32 tokens).
  std::vector<std::string> summary;
  for (int64_t tokens : {int64_t{1}, int64_t{32}}) {
    std::mt19937 rng(5);
    TestGraph g;
    const uint32_t y = AddFc(&g, &rng, tokens, 640, 640, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_INT8);
    g.outputs.push_back(AddAdd(&g, &rng, y));
    g.Finish();
    if (!p.api().supports(TLM_NPU_OP_FULLY_CONNECTED, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_INT8) ||
        !p.api().supports(TLM_NPU_OP_ADD, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_INT8)) {
      o->result = QualifyCheck::Result::kSkip;
      o->message = "the plugin does not take FULLY_CONNECTED and ADD over int8";
      return;
    }
    StatusOr<GraphRun> run = RunGraph(p, soc, g, 3);
    if (!run.ok()) {
      o->Problem(run.status().message());
      return;
    }
    const std::string tag = fmt::format("m{}", tokens);
    const char* names[] = {"fully_connected", "add"};
    for (size_t i = 0; i < run->op_metrics.size(); ++i) {
      const TlmNpuMetrics& m = run->op_metrics[i];
      const std::string op = fmt::format("{}.op{}.{}", tag, i, names[i]);
      o->metrics.push_back({op + ".wall_us", m.wall_ns / 1e3, "us"});
      o->metrics.push_back({op + ".modelled_us", m.modelled_ns / 1e3, "us"});
      o->metrics.push_back({op + ".modelled_cycles", static_cast<double>(m.modelled_cycles), "cycles"});
      if (m.modelled_cycles == 0) o->Problem(op + " reports 0 modelled cycles");
    }
    if (run->total.num_ops != g.ops.size())
      o->Problem(fmt::format("get_metrics says {} ops, the blob has {}", run->total.num_ops, g.ops.size()));
    const double per_token_wall = run->total.wall_ns / 1e3 / tokens;
    const double per_token_model = run->total.modelled_ns / 1e3 / tokens;
    o->metrics.push_back({tag + ".per_token.wall_us", per_token_wall, "us"});
    o->metrics.push_back({tag + ".per_token.modelled_us", per_token_model, "us"});
    summary.push_back(fmt::format("{} token(s): {:.1f} us/token wall, {:.1f} us/token modelled", tokens,
                                  per_token_wall, per_token_model));
  }
  o->message = summary.size() == 2 ? summary[0] + "; " + summary[1] : "";
}

// ---------------------------------------------------------------- end to end on a real model

constexpr const char* kModelCheck = "model.end_to_end";
constexpr const char* kModelCheckWhat =
    "the real model through the npu backend (int16 activations) vs the CPU f32 reference: mean KLD and top-1";

// The model through "npu:plugin=P,soc=S,..." (compiled in-process) against the CPU f32 reference: conform's
// model.teacher_forced case (its fixed text, all logits), judged by qualify's bounds.
void CheckModel(const QualifyOptions& opt, Outcome* o) {
  for (const std::string* v : {&opt.plugin, &opt.soc, &opt.plugin_dir})
    if (v->find(',') != std::string::npos) {
      o->Problem(fmt::format("'{}' holds a comma: it cannot be given in an npu backend spec", *v));
      return;
    }
  ConformOptions c;
  c.backend = fmt::format("npu:plugin={},soc={},activations=int16", opt.plugin, opt.soc);
  if (!opt.plugin_dir.empty()) c.backend += ",plugin_dir=" + opt.plugin_dir;
  c.threads = opt.threads;
  c.model_path = opt.model_path;
  c.text_tokens = opt.model_tokens;
  c.ops_regex = "^model\\.teacher_forced$";
  StatusOr<ConformReport> r = RunConform(c);
  if (!r.ok()) {
    o->Problem(r.status().message());
    return;
  }
  const ConformCase* tf = nullptr;
  for (const ConformCase& cc : r->cases)
    if (cc.name == "model.teacher_forced") tf = &cc;
  if (tf == nullptr) {
    o->Problem("conform ran no model.teacher_forced case");
    return;
  }
  if (!std::isfinite(tf->kld) || !std::isfinite(tf->top1)) {  // the npu session failed: conform's message says why
    o->Problem(tf->message);
    return;
  }
  int64_t tokens = 0;
  if (tf->shape.starts_with("tokens=")) tokens = std::atoll(tf->shape.c_str() + 7);
  o->metrics.push_back({"kld_mean", tf->kld, "nats"});
  o->metrics.push_back({"top1_agree", tf->top1, "fraction"});
  o->metrics.push_back({"ppl_ratio", tf->ppl_ratio, "ratio"});
  o->metrics.push_back({"max_abs_error", tf->max_abs_err, "logit"});
  o->metrics.push_back({"tokens", static_cast<double>(tokens), "count"});
  const std::string what =
      fmt::format("{} over {} tokens on npu:{}:{} (int16 activations)", tf->dtype, tokens, opt.plugin, opt.soc);
  std::string beyond;
  if (!(tf->kld < kQualifyMaxMeanKld)) beyond = fmt::format("mean KLD {:.4g} >= {:g}", tf->kld, kQualifyMaxMeanKld);
  if (!(tf->top1 >= kQualifyMinTop1))
    beyond += fmt::format("{}top-1 agreement {:.2f}% < {:g}%", beyond.empty() ? "" : "; ", 100 * tf->top1,
                          100 * kQualifyMinTop1);
  if (!beyond.empty()) o->Problem(fmt::format("{}: {}", what, beyond));
  o->message = fmt::format("{}: mean KLD {:.4g} (< {:g}), top-1 {:.2f}% (>= {:g}%), ppl ratio {:.4f}", what, tf->kld,
                           kQualifyMaxMeanKld, 100 * tf->top1, 100 * kQualifyMinTop1, tf->ppl_ratio);
}

const std::vector<CheckDef>& Checks() {
  static const std::vector<CheckDef> checks = [] {
    std::vector<CheckDef> c;
    c.push_back({"abi.version_negotiation", "get_api(0) is NULL, a newer host is answered consistently",
                 CheckVersionNegotiation});
    c.push_back({"abi.null_arguments", "every pointer argument NULL: an error code and a message, no crash",
                 CheckNullArguments});
    c.push_back({"abi.invalid_arguments", "unknown SoC, bad shapes, indices, data types and buffer sizes refused",
                 CheckInvalidArguments});
    c.push_back({"abi.corrupt_blob", "flipped, truncated, extended blobs: BAD_BLOB; context stays usable",
                 CheckCorruptBlob});
    c.push_back({"abi.foreign_blob", "random bytes, a TFLite header, a blob for another SoC: BAD_BLOB",
                 CheckForeignBlob});
    c.push_back({"abi.double_destroy", "destroying twice is INVALID_HANDLE; free_blob twice is a no-op",
                 CheckDoubleDestroy});
    c.push_back({"abi.out_of_order", "invoke/bind/synchronize/metrics out of order: BAD_STATE", CheckOutOfOrder});
    const struct {
      const char* name;
      AccuracyCase c;
    } acc[] = {
        {"accuracy.fc_i8_i32", {TLM_NPU_OP_FULLY_CONNECTED, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_INT32, Policy::kExact}},
        {"accuracy.fc_i16_i32", {TLM_NPU_OP_FULLY_CONNECTED, TLM_NPU_DTYPE_INT16, TLM_NPU_DTYPE_INT32, Policy::kExact}},
        {"accuracy.fc_i8_i8",
         {TLM_NPU_OP_FULLY_CONNECTED, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_INT8, Policy::kQuantizedBucket}},
        {"accuracy.fc_i16_i16",
         {TLM_NPU_OP_FULLY_CONNECTED, TLM_NPU_DTYPE_INT16, TLM_NPU_DTYPE_INT16, Policy::kQuantizedBucket}},
        {"accuracy.fc_i8_f32",
         {TLM_NPU_OP_FULLY_CONNECTED, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_FLOAT32, Policy::kFloatAccumulation}},
        {"accuracy.add_i8", {TLM_NPU_OP_ADD, TLM_NPU_DTYPE_INT8, TLM_NPU_DTYPE_INT8, Policy::kQuantizedBucket}},
        {"accuracy.add_i16", {TLM_NPU_OP_ADD, TLM_NPU_DTYPE_INT16, TLM_NPU_DTYPE_INT16, Policy::kQuantizedBucket}},
    };
    for (const auto& a : acc) {
      const AccuracyCase ac = a.c;
      const char* what = ac.policy == Policy::kExact             ? "int32 accumulators equal the CPU reference"
                         : ac.policy == Policy::kQuantizedBucket ? "requantized outputs within 1 step of the CPU reference"
                                                                 : "float outputs within the accumulation error bound";
      c.push_back({a.name, what, [ac](const NpuPlugin& p, const std::string& soc, const QualifyOptions&, Outcome* o) {
                     CheckAccuracy(ac, p, soc, o);
                   }});
    }
    c.push_back({"determinism.repeat", "repeated runs give identical outputs and modelled cycles", CheckDeterminism});
    c.push_back({"performance.latency", "per-op and per-token latency, wall and modelled", CheckPerformance});
    return c;
  }();
  return checks;
}

QualifyCheck Parse(const std::string& name, const std::string& what, const IsolatedOutcome& iso) {
  QualifyCheck c;
  c.name = name;
  c.what = what;
  c.seconds = iso.seconds;
  if (!iso.finished) {
    c.result = QualifyCheck::Result::kFail;
    c.message = iso.failure;
    return c;
  }
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < iso.report.size()) {
    size_t end = iso.report.find('\n', start);
    if (end == std::string::npos) end = iso.report.size();
    lines.push_back(iso.report.substr(start, end - start));
    start = end + 1;
  }
  c.result = !lines.empty() && lines[0] == "PASS"   ? QualifyCheck::Result::kPass
             : !lines.empty() && lines[0] == "SKIP" ? QualifyCheck::Result::kSkip
                                                    : QualifyCheck::Result::kFail;
  if (lines.size() > 1) c.message = lines[1];
  for (size_t i = 2; i < lines.size(); ++i) {
    const size_t t1 = lines[i].find('\t');
    const size_t t2 = t1 == std::string::npos ? t1 : lines[i].find('\t', t1 + 1);
    if (t2 == std::string::npos) continue;
    c.metrics.push_back(
        {lines[i].substr(0, t1), std::atof(lines[i].substr(t1 + 1, t2 - t1 - 1).c_str()), lines[i].substr(t2 + 1)});
  }
  return c;
}

bool Selected(const QualifyOptions& opt, const std::string& name) {
  if (opt.only.empty()) return true;
  for (const std::string& prefix : opt.only)
    if (name.starts_with(prefix)) return true;
  return false;
}

}  // namespace

std::vector<std::string> QualifyCheckNames() {
  std::vector<std::string> names = {"abi.load"};
  for (const CheckDef& c : Checks()) names.push_back(c.name);
  names.push_back(kModelCheck);
  return names;
}

QualifyReport RunQualify(const QualifyOptions& opt, const std::function<void(const QualifyCheck&)>& on_check) {
  QualifyReport report;
  auto add = [&](QualifyCheck c) {
    report.checks.push_back(std::move(c));
    if (on_check) on_check(report.checks.back());
  };
  report.options = opt;
  report.started_at = NowIso8601Utc();
  // abi.load: the loader's checks (allowlist, ABI version first, table, identity), and the SoC.
  const IsolatedOutcome load = RunIsolated(
      [&] {
        Outcome o;
        StatusOr<std::unique_ptr<NpuPlugin>> p = LoadNpuPlugin(opt.plugin, opt.plugin_dir);
        if (!p.ok()) {
          o.Problem(p.status().message());
        } else if (!(*p)->SupportsSoc(opt.soc)) {
          o.Problem(fmt::format("the plugin does not list SoC '{}' (it lists: {})", opt.soc, (*p)->SocList()));
        } else {
          const TlmNpuPluginApi& a = (*p)->api();
          o.message = fmt::format("{} {} {}, ABI {}, SoCs {}", a.vendor, a.plugin_name, a.plugin_version,
                                  a.abi_version, (*p)->SocList());
        }
        return Serialize(o);
      },
      opt.timeout_s);
  QualifyCheck load_check = Parse("abi.load", "allowlisted folder, ABI version checked first, complete table, SoC listed", load);
  const bool loaded = load_check.result == QualifyCheck::Result::kPass;
  if (loaded) report.plugin_identity = load_check.message;
  add(load_check);
  for (const CheckDef& def : Checks()) {
    if (!Selected(opt, def.name)) continue;
    if (!loaded) {
      QualifyCheck c;
      c.name = def.name;
      c.what = def.what;
      c.result = QualifyCheck::Result::kSkip;
      c.message = "not run: the plugin did not load";
      add(c);
      continue;
    }
    const IsolatedOutcome iso = RunIsolated(
        [&] {
          Outcome o;
          StatusOr<std::unique_ptr<NpuPlugin>> p = LoadNpuPlugin(opt.plugin, opt.plugin_dir);
          if (!p.ok()) {
            o.Problem(p.status().message());
          } else {
            def.fn(**p, opt.soc, opt, &o);
          }
          return Serialize(o);
        },
        opt.timeout_s);
    add(Parse(def.name, def.what, iso));
  }
  if (Selected(opt, kModelCheck)) {
    QualifyCheck c;
    c.name = kModelCheck;
    c.what = kModelCheckWhat;
    c.result = QualifyCheck::Result::kSkip;
    if (!loaded) {
      c.message = "not run: the plugin did not load";
    } else if (opt.model_path.empty()) {
      c.message = "not run: no model (--model M; scripts/setup fetches gemma-3-270m-q4_k_m.gguf)";
    } else {
      const IsolatedOutcome iso = RunIsolated(
          [&] {
            Outcome o;
            CheckModel(opt, &o);
            return Serialize(o);
          },
          opt.model_timeout_s);
      c = Parse(kModelCheck, kModelCheckWhat, iso);
    }
    add(c);
  }
  for (const QualifyCheck& c : report.checks) {
    if (c.result == QualifyCheck::Result::kPass) ++report.passed;
    if (c.result == QualifyCheck::Result::kFail) ++report.failed;
    if (c.result == QualifyCheck::Result::kSkip) ++report.skipped;
  }
  return report;
}

}  // namespace tlm
