// The per-op cases of the conformance suite: each builds a small Graph through the public IR (token
// ids -> embedding over random f32 tables -> the op under test), with random weights quantized by the
// CPU reference quantizers, runs it on the backend under test and on the CPU reference, and compares.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>
#include <regex>

#include <fmt/format.h>

#include "engine/arch/graph_builder.h"
#include "engine/common/time_format.h"
#include "harness/analysis/split_mix64.h"
#include "harness/conform/conform_internal.h"
#include "kernels/cpu/ref/quant.h"

namespace tlm {
namespace conform {
namespace {

// ---- tolerances (docs/conform.md, "Tolerances") ----

// float32 evaluation: 1e-5 absolute and relative, nmse 1e-10, for reductions of up to 256 terms.
// Longer reductions in another order drift like a random walk, so the bounds grow with sqrt(K/256)
// (nmse with K/256).
ConformTolerance F32Tolerance(int64_t reduction) {
  const double s = std::max(1.0, std::sqrt(static_cast<double>(reduction) / 256.0));
  return {.atol = 1e-5 * s, .rtol = 1e-5 * s, .nmse = 1e-10 * s * s, .bucket = "f32"};
}

// Half-precision weights or tables: NNAPI's relaxed fp16 bound, 5·2^-10.
ConformTolerance F16Tolerance(int64_t reduction) {
  const double s = std::max(1.0, std::sqrt(static_cast<double>(reduction) / 256.0));
  return {.atol = 5.0 / 1024 * s, .rtol = 5.0 / 1024 * s, .nmse = 1e-6 * s * s, .bucket = "f16"};
}

// Quantized weights with f32 activations: both sides multiply the same dequantized weights by the
// same f32 activations, so only the order of accumulation (and fused multiply-adds in the
// dequantization, d·q - m against fma) differs: twice the f32 bound.
ConformTolerance QuantTolerance(int64_t reduction) {
  ConformTolerance t = F32Tolerance(reduction);
  t.atol *= 2, t.rtol *= 2, t.nmse *= 4;
  t.bucket = "quant";
  return t;
}

// Quantized weights with 8-bit activations (--activations q8, and q8x2, which rounds far less and is
// held to the same bounds): each activation block is rounded to
// 8 bits (step max|x|/127), which gives an nmse near 1.5e-5 for uniform inputs; the bounds leave room
// for it and nothing more (a wrong scale or block is off by far more).
ConformTolerance Q8ActivationTolerance(int64_t reduction) {
  const double s = std::max(1.0, std::sqrt(static_cast<double>(reduction) / 256.0));
  return {.atol = 2e-2 * std::min(s, 2.0), .rtol = 2e-2, .nmse = 2e-4, .bucket = "q8-activations"};
}

bool IsFloat(DType t) { return t == DType::kF32 || t == DType::kF16 || t == DType::kBF16; }

ConformTolerance WeightTolerance(DType type, int64_t reduction, Activations activations) {
  if (type == DType::kF32) return F32Tolerance(reduction);
  if (type == DType::kF16 || type == DType::kBF16) return F16Tolerance(reduction);
  return activations != Activations::kF32 ? Q8ActivationTolerance(reduction) : QuantTolerance(reduction);
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// ---- case data ----

struct Tensor {
  DType type = DType::kF32;
  std::vector<int64_t> dims;
  std::vector<uint8_t> bytes;
};

class MapWeights final : public WeightSource {
 public:
  void Add(const std::string& name, Tensor t) {
    tensors_[name] = std::move(t);
    const Tensor& s = tensors_[name];
    views_[name] = WeightView{.name = name, .type = s.type, .dims = s.dims, .data = s.bytes.data(), .bytes = s.bytes.size()};
  }
  const WeightView* Find(std::string_view name) const override {
    auto it = views_.find(std::string(name));
    return it == views_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, Tensor> tensors_;
  std::map<std::string, WeightView> views_;
};

struct Rng {
  explicit Rng(uint64_t seed) : mix(seed) {}
  float Uniform(float lo, float hi) {
    const double u = static_cast<double>(mix.Next() >> 11) * 0x1.0p-53;
    return static_cast<float>(lo + (hi - lo) * u);
  }
  SplitMix64 mix;
};

// A random {k, n} tensor of `type`: uniform in [lo, hi), quantized row by row by the CPU reference.
StatusOr<Tensor> RandomTensor(Rng& rng, DType type, int64_t k, int64_t n, float lo, float hi) {
  Tensor t{.type = type, .dims = {k, n}, .bytes = {}};
  uint64_t row_bytes = 0;
  if (!ElemsToBytes(type, static_cast<uint64_t>(k), &row_bytes))
    return InvalidArgument("rows of {} do not fit type {}", k, DTypeName(type));
  t.bytes.resize(row_bytes * n);
  std::vector<float> row(k);
  for (int64_t r = 0; r < n; ++r) {
    for (float& v : row) v = rng.Uniform(lo, hi);
    TLM_RETURN_IF_ERROR(cpu::ref::QuantizeRow(type, row.data(), t.bytes.data() + r * row_bytes, k));
  }
  return t;
}

struct Step {
  std::vector<int32_t> tokens;
  int64_t pos0 = 0;
  bool decode = false;  // runs the 1-token graph
};

// Every per-op graph reads its inputs as embeddings of the step's token ids: random rows of random
// tables of kVocab rows (the graph's n_vocab); the embedding cases read tables as wide as they are long.
constexpr int64_t kVocab = 64;
constexpr int64_t kAttentionVocab = 256;  // more distinct keys over the long contexts

struct CaseData {
  std::function<Graph(int64_t max_tokens)> graph;  // the same graph for any max_tokens
  MapWeights weights;
  std::vector<Step> steps;
  int64_t n_ctx = 0;
  int64_t width = 0;  // output row width
  int64_t vocab = kVocab;
  ConformTolerance tolerance;
};

struct CaseDef {
  std::string name, op, dtype, shape;
  std::function<Status(Rng&, Activations, CaseData*)> build;
};

// Token ids for `count` rows: random rows of the tables (which have `vocab` rows).
std::vector<int32_t> RandomTokens(Rng& rng, int64_t count, int64_t vocab) {
  std::vector<int32_t> t(count);
  for (auto& id : t) id = static_cast<int32_t>(rng.mix.Below(static_cast<size_t>(vocab)));
  return t;
}

Status AddTable(Rng& rng, CaseData* d, const std::string& name, int64_t width, float lo, float hi) {
  TLM_ASSIGN_OR_RETURN(Tensor t, RandomTensor(rng, DType::kF32, width, d->vocab, lo, hi));
  d->weights.Add(name, std::move(t));
  return Status::Ok();
}

// One step of `rows` tokens at pos0.
void OneStep(Rng& rng, CaseData* d, int64_t rows, int64_t pos0 = 0) {
  d->steps.push_back({.tokens = RandomTokens(rng, rows, d->vocab), .pos0 = pos0, .decode = false});
  d->n_ctx = pos0 + rows;
}

Graph NewGraph(int64_t vocab) {
  Graph g;
  g.n_vocab = vocab;
  return g;
}

std::vector<CaseDef> AllCases(bool quick) {
  std::vector<CaseDef> cases;

  // Embedding: every table type the models use.
  struct EmbeddingShape {
    DType type;
    int64_t width;
    float scale;
  };
  std::vector<EmbeddingShape> embeddings = {
      {DType::kF32, 67, 1.f},     {DType::kF32, 640, 25.3f},  {DType::kF16, 640, 1.f}, {DType::kQ8_0, 320, 1.f},
      {DType::kQ4_K, 512, 25.3f}, {DType::kQ6_K, 512, 1.f},   {DType::kQ5_0, 320, 1.f}, {DType::kQ4_1, 320, 1.f}};
  for (const EmbeddingShape& e : embeddings) {
    const std::string t(DTypeName(e.type));
    const int64_t rows = 7;
    cases.push_back({.name = fmt::format("embedding.{}.d{}.r{}{}", t, e.width, rows, e.scale != 1.f ? ".scaled" : ""),
                     .op = "embedding",
                     .dtype = t,
                     .shape = fmt::format("width={} vocab={} rows={}{}", e.width, e.width, rows,
                                          e.scale != 1.f ? fmt::format(" scale={:g}", e.scale) : ""),
                     .build = [e, rows](Rng& rng, Activations, CaseData* d) -> Status {
                       d->width = e.width;
                       d->vocab = e.width;
                       TLM_ASSIGN_OR_RETURN(Tensor table, RandomTensor(rng, e.type, e.width, e.width, -1.f, 1.f));
                       d->weights.Add("table", std::move(table));
                       d->graph = [e](int64_t max_tokens) {
                         Graph g = NewGraph(e.width);
                         GraphBuilder b(&g);
                         g.output = b.Embedding(b.Tokens(max_tokens), "table", e.width, e.scale);
                         return g;
                       };
                       OneStep(rng, d, rows);
                       d->tolerance = e.type == DType::kF16 ? F16Tolerance(1)
                                      : e.type == DType::kF32 ? F32Tolerance(1)
                                                              : QuantTolerance(1);
                       return Status::Ok();
                     }});
  }

  // MatMul at GEMV (1 row) and GEMM (several rows), odd n, k with tails where the type allows.
  struct MatMulShape {
    int64_t k, n, rows;
  };
  const std::vector<DType> matmul_types = {DType::kF32,  DType::kF16,  DType::kQ4_0, DType::kQ4_1,
                                           DType::kQ5_0, DType::kQ8_0, DType::kQ4_K, DType::kQ6_K};
  for (DType type : matmul_types) {
    std::vector<MatMulShape> shapes;
    if (IsFloat(type))
      shapes = {{67, 31, 1}, {67, 257, 7}, {1152, 127, 1}, {640, 257, 33}};
    else if (Info(type).block_elems == 32)
      shapes = {{96, 31, 1}, {96, 257, 7}, {1152, 127, 1}, {640, 257, 33}};
    else
      shapes = {{256, 31, 1}, {768, 257, 7}, {1280, 127, 1}, {2048, 65, 33}};
    if (quick) shapes.resize(2);
    const std::string t(DTypeName(type));
    for (const MatMulShape& s : shapes) {
      cases.push_back({.name = fmt::format("matmul.{}.k{}.n{}.r{}", t, s.k, s.n, s.rows),
                       .op = "matmul",
                       .dtype = t,
                       .shape = fmt::format("k={} n={} rows={}", s.k, s.n, s.rows),
                       .build = [type, s](Rng& rng, Activations act, CaseData* d) -> Status {
                         d->width = s.n;
                         TLM_RETURN_IF_ERROR(AddTable(rng, d, "x", s.k, -1.f, 1.f));
                         // Weights uniform with variance 1/k: outputs of variance 1/3 at every k.
                         const float a = static_cast<float>(std::sqrt(3.0 / static_cast<double>(s.k)));
                         TLM_ASSIGN_OR_RETURN(Tensor w, RandomTensor(rng, type, s.k, s.n, -a, a));
                         d->weights.Add("w", std::move(w));
                         d->graph = [s](int64_t max_tokens) {
                           Graph g = NewGraph(kVocab);
                           GraphBuilder b(&g);
                           int x = b.Embedding(b.Tokens(max_tokens), "x", s.k, 1.f);
                           g.output = b.MatMul(x, "w", s.n);
                           return g;
                         };
                         OneStep(rng, d, s.rows);
                         d->tolerance = WeightTolerance(type, s.k, act);
                         return Status::Ok();
                       }});
    }
  }

  // RmsNorm: with and without weight, grouped per head, odd widths.
  struct NormShape {
    int64_t width, group;
    bool weight;
    float eps;
    int64_t rows;
  };
  std::vector<NormShape> norms = {
      {640, 640, true, 1e-6f, 1}, {640, 640, false, 1e-6f, 7}, {1024, 256, true, 1e-6f, 7},
      {512, 64, true, 1e-5f, 3},  {67, 67, true, 1e-5f, 5}};
  for (const NormShape& s : norms) {
    cases.push_back(
        {.name = fmt::format("rms_norm.f32.w{}.g{}.r{}{}", s.width, s.group, s.rows, s.weight ? "" : ".noweight"),
         .op = "rms_norm",
         .dtype = "f32",
         .shape = fmt::format("width={} group={} rows={} eps={:g}{}", s.width, s.group, s.rows, s.eps,
                              s.weight ? "" : " no weight"),
         .build = [s](Rng& rng, Activations, CaseData* d) -> Status {
           d->width = s.width;
           TLM_RETURN_IF_ERROR(AddTable(rng, d, "x", s.width, -2.f, 2.f));
           if (s.weight) {
             TLM_ASSIGN_OR_RETURN(Tensor w, RandomTensor(rng, DType::kF32, s.group, 1, 0.5f, 1.5f));
             w.dims = {s.group};
             d->weights.Add("g", std::move(w));
           }
           d->graph = [s](int64_t max_tokens) {
             Graph g = NewGraph(kVocab);
             GraphBuilder b(&g);
             int x = b.Embedding(b.Tokens(max_tokens), "x", s.width, 1.f);
             g.output = b.RmsNorm(x, s.weight ? "g" : "", s.width, s.eps, s.group);
             return g;
           };
           OneStep(rng, d, s.rows);
           d->tolerance = F32Tolerance(s.group);
           return Status::Ok();
         }});
  }

  // RoPE: normal and neox pairing, partial n_rot, linear scaling, positions far out.
  struct RopeShape {
    RopeMode mode;
    int64_t head_dim, n_rot, heads, rows, pos0;
    float base, scale;
  };
  std::vector<RopeShape> ropes = {{RopeMode::kNormal, 64, 64, 4, 7, 0, 10000.f, 1.f},
                                  {RopeMode::kNeox, 256, 256, 2, 5, 0, 1e6f, 1.f},
                                  {RopeMode::kNormal, 64, 32, 3, 3, 100, 10000.f, 1.f},
                                  {RopeMode::kNeox, 128, 64, 2, 3, 4093, 10000.f, 1.f},
                                  {RopeMode::kNeox, 64, 64, 2, 3, 32765, 1e6f, 0.125f},
                                  {RopeMode::kNormal, 64, 64, 2, 2, 131070, 500000.f, 1.f}};
  for (const RopeShape& s : ropes) {
    const char* mode = s.mode == RopeMode::kNeox ? "neox" : "normal";
    cases.push_back(
        {.name = fmt::format("rope.{}.hd{}.rot{}.h{}.r{}.pos{}", mode, s.head_dim, s.n_rot, s.heads, s.rows, s.pos0),
         .op = "rope",
         .dtype = "f32",
         .shape = fmt::format("{} head_dim={} n_rot={} heads={} rows={} pos0={} base={:g} scale={:g}", mode,
                              s.head_dim, s.n_rot, s.heads, s.rows, s.pos0, s.base, s.scale),
         .build = [s](Rng& rng, Activations, CaseData* d) -> Status {
           d->width = s.heads * s.head_dim;
           TLM_RETURN_IF_ERROR(AddTable(rng, d, "x", d->width, -1.f, 1.f));
           d->graph = [s](int64_t max_tokens) {
             Graph g = NewGraph(kVocab);
             GraphBuilder b(&g);
             int x = b.Embedding(b.Tokens(max_tokens), "x", s.heads * s.head_dim, 1.f);
             g.output = b.Rope(x, s.heads * s.head_dim,
                               {.head_dim = s.head_dim, .n_rot = s.n_rot, .freq_base = s.base, .freq_scale = s.scale,
                                .mode = s.mode},
                               "rope");
             return g;
           };
           OneStep(rng, d, s.rows, s.pos0);
           // An angle evaluated in float32 (pos * base^(-2i/n_rot)) is off by about |angle|·2^-24
           // per rounding; allow four roundings at the largest position.
           ConformTolerance t = F32Tolerance(1);
           const double angle = 4.0 * static_cast<double>(s.pos0 + s.rows) * s.scale * 0x1.0p-24;
           t.atol += angle;
           t.nmse += angle * angle;
           if (angle > 1e-5) t.bucket = "rope-angle";
           d->tolerance = t;
           return Status::Ok();
         }});
  }

  // Attention: decode and prefill, GQA and MHA, sliding windows (the ring wraps), long contexts
  // through the KV cache (prefill chunks, then decode steps).
  struct AttentionShape {
    const char* what;
    int64_t n_head, n_kv_head, head_dim, window;
    std::vector<int64_t> prefill;  // chunk sizes, in order
    int64_t decode;                // decode steps after them
  };
  std::vector<AttentionShape> attention = {
      {"decode", 8, 2, 64, 0, {40}, 3},
      {"prefill", 4, 1, 256, 0, {33, 33}, 0},
      {"mha", 4, 4, 32, 0, {7}, 2},
      {"window", 4, 2, 64, 16, {24, 24}, 5},
      {"window_decode", 2, 1, 64, 8, {5}, 12},
      {"long", 4, 1, 256, 0, {128, 128, 128}, 4},
      {"long_window", 8, 2, 64, 128, {128, 128, 64}, 4}};
  if (quick) {
    attention[5] = {"long", 4, 1, 256, 0, {96, 64}, 2};
    attention.pop_back();
  }
  for (const AttentionShape& s : attention) {
    int64_t ctx = s.decode;
    std::string chunks;
    for (int64_t c : s.prefill) {
      ctx += c;
      chunks += fmt::format("{}{}", chunks.empty() ? "" : "+", c);
    }
    cases.push_back(
        {.name = fmt::format("attention.{}.h{}.kv{}.hd{}.w{}.ctx{}", s.what, s.n_head, s.n_kv_head, s.head_dim,
                             s.window, ctx),
         .op = "attention",
         .dtype = "f32",
         .shape = fmt::format("n_head={} n_kv_head={} head_dim={} window={} prefill={} decode={} ctx={}", s.n_head,
                              s.n_kv_head, s.head_dim, s.window, chunks, s.decode, ctx),
         .build = [s, ctx](Rng& rng, Activations, CaseData* d) -> Status {
           const int64_t q_width = s.n_head * s.head_dim, kv_width = s.n_kv_head * s.head_dim;
           d->width = q_width;
           d->vocab = kAttentionVocab;
           TLM_RETURN_IF_ERROR(AddTable(rng, d, "q", q_width, -1.f, 1.f));
           TLM_RETURN_IF_ERROR(AddTable(rng, d, "k", kv_width, -1.f, 1.f));
           TLM_RETURN_IF_ERROR(AddTable(rng, d, "v", kv_width, -1.f, 1.f));
           d->graph = [s](int64_t max_tokens) {
             const int64_t q_width = s.n_head * s.head_dim, kv_width = s.n_kv_head * s.head_dim;
             Graph g = NewGraph(kAttentionVocab);
             GraphBuilder b(&g);
             const int tokens = b.Tokens(max_tokens);
             const int q = b.Embedding(tokens, "q", q_width, 1.f);
             const int k = b.Embedding(tokens, "k", kv_width, 1.f);
             const int v = b.Embedding(tokens, "v", kv_width, 1.f);
             g.output = b.Attention(q, k, v, q_width,
                                    {.layer = 0,
                                     .n_head = s.n_head,
                                     .n_kv_head = s.n_kv_head,
                                     .head_dim = s.head_dim,
                                     .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s.head_dim))),
                                     .window = s.window},
                                    "attention");
             return g;
           };
           int64_t pos = 0;
           for (int64_t c : s.prefill) {
             d->steps.push_back({.tokens = RandomTokens(rng, c, d->vocab), .pos0 = pos, .decode = false});
             pos += c;
           }
           for (int64_t i = 0; i < s.decode; ++i, ++pos)
             d->steps.push_back({.tokens = RandomTokens(rng, 1, d->vocab), .pos0 = pos, .decode = true});
           d->n_ctx = ctx;
           d->tolerance = F32Tolerance(std::max(s.head_dim, s.window > 0 ? std::min(s.window, ctx) : ctx));
           return Status::Ok();
         }});
  }

  // Element-wise: add and the gated activations (inputs into the tanh and exp tails).
  struct BinaryShape {
    OpKind op;
    int64_t width, rows;
  };
  std::vector<BinaryShape> binaries;
  for (OpKind op : {OpKind::kAdd, OpKind::kGeluTanhGate, OpKind::kSiluGate}) {
    binaries.push_back({op, 1153, 7});
    binaries.push_back({op, 2048, 1});
  }
  for (const BinaryShape& s : binaries) {
    const std::string op = OpKindName(s.op);
    cases.push_back({.name = fmt::format("{}.f32.w{}.r{}", op, s.width, s.rows),
                     .op = op,
                     .dtype = "f32",
                     .shape = fmt::format("width={} rows={}", s.width, s.rows),
                     .build = [s](Rng& rng, Activations, CaseData* d) -> Status {
                       d->width = s.width;
                       const float range = s.op == OpKind::kAdd ? 1.f : 8.f;
                       TLM_RETURN_IF_ERROR(AddTable(rng, d, "a", s.width, -range, range));
                       TLM_RETURN_IF_ERROR(AddTable(rng, d, "b", s.width, -1.f, 1.f));
                       d->graph = [s](int64_t max_tokens) {
                         Graph g = NewGraph(kVocab);
                         GraphBuilder b(&g);
                         const int tokens = b.Tokens(max_tokens);
                         const int x = b.Embedding(tokens, "a", s.width, 1.f);
                         const int y = b.Embedding(tokens, "b", s.width, 1.f);
                         g.output = b.Binary(s.op, x, y, s.width, OpKindName(s.op));
                         return g;
                       };
                       OneStep(rng, d, s.rows);
                       d->tolerance = F32Tolerance(1);
                       return Status::Ok();
                     }});
  }

  // TakeLastRow.
  for (auto [width, rows] : {std::pair<int64_t, int64_t>{640, 9}, {67, 1}}) {
    cases.push_back({.name = fmt::format("take_last_row.f32.w{}.r{}", width, rows),
                     .op = "take_last_row",
                     .dtype = "f32",
                     .shape = fmt::format("width={} rows={}", width, rows),
                     .build = [width, rows](Rng& rng, Activations, CaseData* d) -> Status {
                       d->width = width;
                       TLM_RETURN_IF_ERROR(AddTable(rng, d, "x", width, -1.f, 1.f));
                       d->graph = [width](int64_t max_tokens) {
                         Graph g = NewGraph(kVocab);
                         GraphBuilder b(&g);
                         const int x = b.Embedding(b.Tokens(max_tokens), "x", width, 1.f);
                         g.output = b.TakeLastRow(x, width);
                         return g;
                       };
                       OneStep(rng, d, rows);
                       d->tolerance = F32Tolerance(1);
                       return Status::Ok();
                     }});
  }
  return cases;
}

uint64_t NameHash(const std::string& s) {  // FNV-1a: the case's data depends on its name and the seed only
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Runs every step of the case on one backend and returns the output rows of all steps, in order.
StatusOr<std::vector<float>> RunCase(Backend& backend, const CaseData& d) {
  int64_t max_prefill = 0;
  bool any_decode = false;
  for (const Step& s : d.steps) {
    if (s.decode)
      any_decode = true;
    else
      max_prefill = std::max<int64_t>(max_prefill, static_cast<int64_t>(s.tokens.size()));
  }
  std::unique_ptr<Executable> prefill, decode;
  const Graph prefill_graph = d.graph(std::max<int64_t>(max_prefill, 1));
  {
    auto exe = backend.Compile(prefill_graph, d.weights);
    if (!exe.ok()) return exe.status().WithContext("compile");
    prefill = std::move(exe).value();
  }
  if (any_decode) {
    auto exe = backend.Compile(d.graph(1), d.weights);
    if (!exe.ok()) return exe.status().WithContext("compile (1-token graph)");
    decode = std::move(exe).value();
  }
  auto kv = backend.CreateKvCache(KvSpecFor(prefill_graph, d.n_ctx));
  if (!kv.ok()) return kv.status().WithContext("KV cache");
  const bool last_row = prefill_graph.nodes[prefill_graph.output].op == OpKind::kTakeLastRow;
  std::vector<float> out, logits;
  for (size_t i = 0; i < d.steps.size(); ++i) {
    const Step& s = d.steps[i];
    const int64_t rows = last_row ? 1 : static_cast<int64_t>(s.tokens.size());
    logits.assign(static_cast<size_t>(rows * d.width), NAN);
    Executable& exe = s.decode ? *decode : *prefill;
    if (Status st = exe.Run({.tokens = s.tokens, .pos0 = s.pos0}, **kv, logits); !st.ok())
      return st.WithContext(fmt::format("run, step {} ({} tokens at position {})", i, s.tokens.size(), s.pos0));
    out.insert(out.end(), logits.begin(), logits.end());
  }
  return out;
}

}  // namespace

std::vector<std::string> OpCaseNames(bool quick) {
  std::vector<std::string> names;
  for (const CaseDef& c : AllCases(quick)) names.push_back(c.name);
  return names;
}

StatusOr<std::vector<ConformCase>> RunOpCases(const ConformOptions& options, Backend& test, Backend& reference,
                                              const std::regex* filter, std::shared_ptr<void>* keep_alive) {
  std::vector<ConformCase> results;
  // Weights outlive every executable compiled from them, as a model's mapped file does: a backend may
  // keep what it made of them (packed, uploaded) keyed by their address for as long as it lives.
  auto kept = std::make_shared<std::vector<std::unique_ptr<CaseData>>>();
  *keep_alive = kept;
  const std::vector<CaseDef> defs = AllCases(options.quick);
  int selected = 0;
  for (const CaseDef& def : defs) selected += filter == nullptr || std::regex_search(def.name, *filter);
  int index = 0;
  for (const CaseDef& def : defs) {
    if (filter != nullptr && !std::regex_search(def.name, *filter)) continue;
    ++index;
    if (options.progress) options.progress(fmt::format("[{}/{}] {}", index, selected, def.name));
    const auto t0 = std::chrono::steady_clock::now();
    ConformCase c = NewCase(def.name, def.op, def.dtype, def.shape);
    const std::string what = fmt::format("{} {} {}", def.op, Upper(def.dtype), def.shape);
    Rng rng(options.seed ^ NameHash(def.name));
    kept->push_back(std::make_unique<CaseData>());
    CaseData& data = *kept->back();
    if (Status st = def.build(rng, options.activations, &data); !st.ok()) {
      return Internal("building case {}: {}", def.name, st.message());  // a suite bug, not a backend's
    }
    c.tolerance = data.tolerance;
    auto want = RunCase(reference, data);
    if (!want.ok()) return Internal("the CPU reference failed case {}: {}", def.name, want.status().message());
    auto got = RunCase(test, data);
    if (!got.ok()) {
      c.pass = false;
      c.message = fmt::format("{}: {}", what, got.status().message());
    } else {
      CompareOutputs(*got, *want, data.width, data.tolerance, what, &c);
    }
    c.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    results.push_back(std::move(c));
  }
  return results;
}

}  // namespace conform

void CompareOutputs(const std::vector<float>& got, const std::vector<float>& want, int64_t width,
                    const ConformTolerance& tol, const std::string& what, ConformCase* out) {
  out->elements = static_cast<int64_t>(want.size());
  if (got.size() != want.size()) {
    out->pass = false;
    out->message = fmt::format("{}: {} output elements, want {}", what, got.size(), want.size());
    return;
  }
  double err2 = 0, ref2 = 0, max_err = 0;
  int64_t beyond = 0, worst = -1;
  double worst_excess = -INFINITY;
  for (size_t i = 0; i < want.size(); ++i) {
    const double g = got[i], w = want[i];
    const double err = std::abs(g - w);
    err2 += (g - w) * (g - w);
    ref2 += w * w;
    const double bound = tol.atol + tol.rtol * std::abs(w);
    if (!(err <= bound)) {  // NaN and Inf count as beyond
      ++beyond;
      const double excess = std::isfinite(err) ? err / bound : INFINITY;
      if (worst < 0 || excess > worst_excess) worst = static_cast<int64_t>(i), worst_excess = excess;
    }
    if (!(err <= max_err)) max_err = err;  // NaN sticks
  }
  out->beyond = beyond;
  out->max_abs_err = max_err;
  out->nmse = ref2 > 0 ? err2 / ref2 : (err2 == 0 ? 0 : INFINITY);
  const bool nmse_ok = out->nmse <= tol.nmse;
  out->pass = beyond == 0 && nmse_ok;
  if (out->pass) {
    out->message = fmt::format("{}: max |err| {:.3g}, nmse {:.3g} ({} elements)", what, max_err, out->nmse,
                               out->elements);
    return;
  }
  std::string msg = what + ":";
  if (beyond > 0) {
    const int64_t w = std::max<int64_t>(width, 1);
    msg += fmt::format(" {} of {} elements beyond atol+rtol·|ref| (worst at [{},{}]: got {:.6g}, want {:.6g});",
                       beyond, out->elements, worst / w, worst % w, got[worst], want[worst]);
  }
  msg += fmt::format(" nmse {:.3g} {} {:.3g}", out->nmse, nmse_ok ? "<=" : ">", tol.nmse);
  out->message = std::move(msg);
}

}  // namespace tlm
