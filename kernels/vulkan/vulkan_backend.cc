// The Vulkan backend ("vulkan", "vulkan:N", "vulkan:<name>"): every graph op as a GLSL compute
// shader (kernels/vulkan/shaders), weights uploaded once as their GGUF blocks and dequantized in
// the shaders, activations in liveness-reused device buffers, the KV cache on the device. An
// executable records its command buffer once (per KV cache it runs against) and replays it for
// every step; the per-step values (token count, position, token ids, RoPE cos/sin) are written to
// a small host-visible buffer before each submit. See docs/vulkan.md.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>

#include "engine/backend/backend.h"
#include "kernels/vulkan/vk_context.h"

namespace tlm::vulkan {
namespace {

bool SupportedWeightType(DType t) {
  switch (t) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ4_0:
    case DType::kQ4_1:
    case DType::kQ5_0:
    case DType::kQ5_1:
    case DType::kQ8_0:
    case DType::kQ4_K:
    case DType::kQ5_K:
    case DType::kQ6_K:
      return true;
    default:
      return false;
  }
}

std::atomic<uint64_t> next_kv_id{1};

class VulkanKvCache final : public KvCache {
 public:
  VulkanKvCache(std::shared_ptr<VkContext> ctx, const KvSpec& spec) : ctx_(std::move(ctx)), spec_(spec) {}
  ~VulkanKvCache() override {
    for (Buffer& b : k_) ctx_->DestroyBuffer(b);
    for (Buffer& b : v_) ctx_->DestroyBuffer(b);
  }
  Status Init() {
    for (size_t i = 0; i < spec_.layers.size(); ++i) {
      const KvLayerSpec& l = spec_.layers[i];
      const uint64_t bytes = static_cast<uint64_t>(std::max<int64_t>(l.capacity * l.n_kv_head * l.head_dim, 1)) * 4;
      for (auto* list : {&k_, &v_}) {
        auto b = ctx_->CreateBuffer(bytes, MemoryUse::kDevice, fmt::format("KV cache layer {}", i));
        if (!b.ok()) return b.status();
        list->push_back(*b);
        bytes_ += bytes;
      }
    }
    Clear();
    return Status::Ok();
  }
  uint64_t bytes() const override { return bytes_; }
  void Clear() override {
    for (const Buffer& b : k_) (void)ctx_->Fill(b, 0);
    for (const Buffer& b : v_) (void)ctx_->Fill(b, 0);
  }
  const KvSpec& spec() const { return spec_; }
  const Buffer& k(int layer) const { return k_[layer]; }
  const Buffer& v(int layer) const { return v_[layer]; }
  uint64_t id() const { return id_; }

 private:
  std::shared_ptr<VkContext> ctx_;
  KvSpec spec_;
  std::vector<Buffer> k_, v_;
  uint64_t bytes_ = 0;
  const uint64_t id_ = next_kv_id++;
};

// A run of whole rows of a weight in one buffer: devices bound a storage buffer binding
// (maxStorageBufferRange: 128 MiB on lavapipe), so a large table (Gemma's 262144-token
// embedding) is split by rows and its matmul or lookup is dispatched once per chunk.
struct WeightChunk {
  VkBuffer buffer = VK_NULL_HANDLE;
  uint32_t first_row = 0, rows = 0;
};

// Weight buffers shared by every executable of a backend (the prefill and decode graphs).
struct WeightStore {
  std::shared_ptr<VkContext> ctx;
  std::map<std::pair<const void*, uint64_t>, std::vector<WeightChunk>> chunks;
  std::vector<Buffer> buffers;
  uint64_t bytes = 0;
  ~WeightStore() {
    for (Buffer& b : buffers) ctx->DestroyBuffer(b);
  }
  // rows of row_bytes each (a 1-D weight: one row).
  StatusOr<std::vector<WeightChunk>> Get(const WeightView& w, uint64_t row_bytes, uint64_t rows) {
    const auto key = std::make_pair(w.data, row_bytes);
    if (auto it = chunks.find(key); it != chunks.end()) return it->second;
    uint64_t limit = ctx->info().max_storage_range;
    limit = limit > 64 ? limit - 32 : limit;  // room for the padding the shaders' 4-byte reads may touch
    const uint64_t per_chunk = std::min<uint64_t>(rows, limit / row_bytes);
    if (per_chunk == 0)
      return ResourceExhausted("weight '{}': a row of {} bytes exceeds the device's storage buffer range of {} bytes",
                               w.name, row_bytes, limit);
    std::vector<WeightChunk> list;
    for (uint64_t first = 0; first < rows; first += per_chunk) {
      const uint64_t n = std::min(per_chunk, rows - first);
      auto b = ctx->CreateBuffer(n * row_bytes + 16, MemoryUse::kDevice,
                                 fmt::format("weight '{}' rows {}..{}", w.name, first, first + n - 1));
      if (!b.ok()) return b.status();
      buffers.push_back(*b);
      TLM_RETURN_IF_ERROR(ctx->Upload(*b, static_cast<const uint8_t*>(w.data) + first * row_bytes, n * row_bytes));
      list.push_back({b->buffer, static_cast<uint32_t>(first), static_cast<uint32_t>(n)});
      bytes += n * row_bytes;
    }
    chunks[key] = list;
    return list;
  }
};

// Buffer slots of a dispatch, in binding order (common.glsl).
enum Slot { kStepSlot, kWeightSlot, kIn0, kIn1, kIn2, kOutSlot, kKSlot, kVSlot, kSlots };

struct PushConstants {
  uint32_t rows_one = 0;
  uint32_t n[9] = {};
  float f0 = 0, f1 = 0;
};
static_assert(sizeof(PushConstants) == 48);

struct Dispatch {
  VkPipeline pipeline = VK_NULL_HANDLE;
  PushConstants pc;
  uint32_t groups[3] = {1, 1, 1};
  // Buffer per slot: an activation index (>= 0), or one of the special values below.
  int buffer[kSlots] = {-1, -1, -1, -1, -1, -1, -1, -1};
  VkBuffer weight = VK_NULL_HANDLE;
  // Bound ranges (bytes) per slot; range 0: the whole buffer.
  uint64_t offset[kSlots] = {}, range[kSlots] = {};
  std::string kind;  // for the profile: shader and weight type
  int kv_layer = -1;
  int node = -1;  // dispatches of one node (weight chunks) write disjoint parts of its output
  std::string label;
};
constexpr int kNone = -1, kOutputBuffer = -2, kStepBuffer = -3;

class VulkanExecutable final : public Executable {
 public:
  VulkanExecutable(std::shared_ptr<VkContext> ctx, std::shared_ptr<WeightStore> weights, const Graph& graph)
      : ctx_(std::move(ctx)), weights_(std::move(weights)), graph_(graph) {}

  ~VulkanExecutable() override {
    const VkApi& vk = ctx_->vk();
    if (queries_) {
      double total = 0;
      for (const auto& [kind, entry] : profile_) total += entry.second;
      std::fprintf(stderr, "[vulkan profile] graph of %lld max tokens: %d runs, %.1f ms GPU time\n",
                   static_cast<long long>(graph_.max_tokens), profiled_runs_, total);
      for (const auto& [kind, entry] : profile_)
        std::fprintf(stderr, "[vulkan profile]   %-24s %8lld dispatches %10.1f ms %5.1f%%\n", kind.c_str(),
                     static_cast<long long>(entry.first), entry.second, total > 0 ? 100 * entry.second / total : 0.0);
      vk.vkDestroyQueryPool(ctx_->device(), queries_, nullptr);
    }
    if (cb_) ctx_->FreeCommandBuffer(cb_);
    if (pool_) vk.vkDestroyDescriptorPool(ctx_->device(), pool_, nullptr);
    for (Buffer& b : buffers_) ctx_->DestroyBuffer(b);
    for (Buffer* b : {&step_, &output_, &readback_, &dummy_}) ctx_->DestroyBuffer(*b);
  }

  Status Compile(const WeightSource& weights) {
    const auto& nodes = graph_.nodes;
    if (nodes.empty() || graph_.output != static_cast<int>(nodes.size()) - 1)
      return Internal("graph output must be its last node");
    if (graph_.max_tokens < 1 || graph_.max_tokens > (1 << 20))
      return InvalidArgument("graph max_tokens {} is out of range", graph_.max_tokens);
    if (nodes[graph_.output].op == OpKind::kTokens)
      return Unimplemented("vulkan: a graph whose output is its token ids");
    const uint32_t wg = ctx_->workgroup_size();
    std::vector<int> last_use(nodes.size(), -1);
    for (size_t i = 0; i < nodes.size(); ++i)
      for (int in : nodes[i].inputs)
        if (in >= 0) {
          if (in >= static_cast<int>(i)) return Internal("node {} reads a later node", nodes[i].label);
          last_use[in] = static_cast<int>(i);
        }
    rows_one_.assign(nodes.size(), false);
    std::vector<int> node_buffer(nodes.size(), kNone);
    std::vector<uint64_t> sizes;  // floats per activation buffer
    std::vector<bool> free_buffer;
    // Step buffer layout (uint32 words): n_tokens, pos0, 2 spare, token ids, RoPE tables.
    tokens_offset_ = 4;
    uint32_t step_words = tokens_offset_ + static_cast<uint32_t>(graph_.max_tokens);
    for (size_t i = 0; i < nodes.size(); ++i) {
      const Node& n = nodes[i];
      for (int in : n.inputs)
        if (in >= 0 && nodes[in].op == OpKind::kTokens && n.op != OpKind::kEmbedding)
          return Internal("{}: only an embedding may read token ids", n.label);
      if (n.op == OpKind::kTokens) continue;  // the embedding reads the ids from the step buffer
      if (n.inputs[0] < 0 && n.op != OpKind::kEmbedding)
        return Internal("{}: {} without an input", n.label, OpKindName(n.op));
      const bool rows_one = n.op == OpKind::kTakeLastRow || (n.inputs[0] >= 0 && rows_one_[n.inputs[0]]);
      rows_one_[i] = rows_one;
      const int64_t max_rows = rows_one ? 1 : graph_.max_tokens;
      if (n.width < 1 || n.width > (1 << 26)) return InvalidArgument("{}: width {} is out of range", n.label, n.width);
      // Output buffer (liveness reuse as in the CPU backend).
      int out = kOutputBuffer;
      if (static_cast<int>(i) != graph_.output) {
        const uint64_t need = static_cast<uint64_t>(max_rows * n.width);
        int best = -1;
        for (size_t b = 0; b < sizes.size(); ++b)
          if (free_buffer[b] && sizes[b] >= need && (best < 0 || sizes[b] < sizes[best])) best = static_cast<int>(b);
        if (best < 0)
          for (size_t b = 0; b < sizes.size(); ++b)
            if (free_buffer[b]) {
              best = static_cast<int>(b);
              sizes[b] = need;
              break;
            }
        if (best < 0) {
          sizes.push_back(need);
          free_buffer.push_back(false);
          best = static_cast<int>(sizes.size()) - 1;
        }
        free_buffer[best] = false;
        out = best;
        node_buffer[i] = best;
      } else {
        output_floats_ = static_cast<uint64_t>(max_rows * n.width);
      }
      const size_t first_dispatch = dispatches_.size();
      Dispatch d;
      d.node = static_cast<int>(i);
      d.label = n.label.empty() ? OpKindName(n.op) : n.label;
      d.pc.rows_one = rows_one ? 1 : 0;
      d.buffer[kStepSlot] = kStepBuffer;
      d.buffer[kOutSlot] = out;
      for (int j = 0; j < 3; ++j) d.buffer[kIn0 + j] = n.inputs[j] >= 0 ? node_buffer[n.inputs[j]] : kNone;
      auto need_inputs = [&](int count) -> Status {
        for (int j = 0; j < count; ++j)
          if (n.inputs[j] < 0) return Internal("{}: {} needs {} inputs", n.label, OpKindName(n.op), count);
        for (int j = 0; j < count; ++j)
          if (nodes[n.inputs[j]].op != OpKind::kTokens && rows_one_[n.inputs[j]] != rows_one)
            return Unimplemented("{}: inputs with different row counts", n.label);
        return Status::Ok();
      };
      const uint32_t width = static_cast<uint32_t>(n.width);
      const uint32_t max_rows32 = static_cast<uint32_t>(max_rows);
      switch (n.op) {
        case OpKind::kTokens:
          break;
        case OpKind::kEmbedding: {
          if (n.inputs[0] < 0 || nodes[n.inputs[0]].op != OpKind::kTokens)
            return Internal("{}: an embedding reads the token ids", n.label);
          const WeightView* w = nullptr;
          uint64_t row_bytes = 0;
          TLM_RETURN_IF_ERROR(MatrixWeight(n, weights, n.width, graph_.n_vocab, &w, &row_bytes));
          auto pipeline = ctx_->Pipeline(Shader::kEmbedding, static_cast<uint32_t>(w->type), 0);
          if (!pipeline.ok()) return pipeline.status();
          auto chunks = weights_->Get(*w, row_bytes, static_cast<uint64_t>(graph_.n_vocab));
          if (!chunks.ok()) return chunks.status();
          d.pipeline = *pipeline;
          d.buffer[kIn0] = kNone;
          d.pc.n[0] = width;
          d.pc.n[1] = static_cast<uint32_t>(row_bytes);
          d.pc.n[2] = tokens_offset_;
          d.pc.f0 = n.scale;
          d.groups[0] = (width / 4 + wg) / wg;
          d.groups[1] = max_rows32;
          for (size_t c = 0; c + 1 < chunks->size(); ++c) {  // the last chunk is pushed below
            Dispatch part = d;
            part.weight = (*chunks)[c].buffer;
            part.pc.n[3] = (*chunks)[c].first_row;
            part.pc.n[4] = (*chunks)[c].rows;
            dispatches_.push_back(part);
          }
          d.weight = chunks->back().buffer;
          d.pc.n[3] = chunks->back().first_row;
          d.pc.n[4] = chunks->back().rows;
          break;
        }
        case OpKind::kMatMul: {
          TLM_RETURN_IF_ERROR(need_inputs(1));
          const int64_t k = nodes[n.inputs[0]].width;
          const WeightView* w = nullptr;
          uint64_t row_bytes = 0;
          TLM_RETURN_IF_ERROR(MatrixWeight(n, weights, k, n.width, &w, &row_bytes));
          const bool gemv = max_rows <= 2;
          auto pipeline = ctx_->Pipeline(gemv ? Shader::kGemv : Shader::kGemm, static_cast<uint32_t>(w->type), 0);
          if (!pipeline.ok()) return pipeline.status();
          auto chunks = weights_->Get(*w, row_bytes, static_cast<uint64_t>(n.width));
          if (!chunks.ok()) return chunks.status();
          d.pipeline = *pipeline;
          d.pc.n[0] = static_cast<uint32_t>(k);
          d.pc.n[1] = width;
          d.pc.n[2] = static_cast<uint32_t>(row_bytes);
          // GEMV: one subgroup per output (n[5] outputs per workgroup) where subgroup arithmetic
          // exists, else one workgroup per output.
          const uint32_t per_group =
              ctx_->info().subgroup_arithmetic ? std::max<uint32_t>(wg / ctx_->info().subgroup_size, 1) : 1;
          d.pc.n[5] = per_group;
          // Prefill outputs larger than one storage-buffer binding (all-logits chunks of a large
          // vocabulary: 256 rows of 262144 floats) are computed in blocks of rows, each binding
          // its part of the input and output (n[6] = first row, n[7] = rows in the block).
          uint32_t row_block = max_rows32;
          const uint64_t limit = ctx_->info().max_storage_range;
          if (static_cast<uint64_t>(max_rows) * n.width * 4 > limit) {
            row_block = static_cast<uint32_t>(limit / (static_cast<uint64_t>(n.width) * 4) / 64 * 64);
            const uint64_t align = ctx_->info().storage_offset_alignment;
            if (gemv || row_block == 0 || (static_cast<uint64_t>(row_block) * k * 4) % align != 0 ||
                (static_cast<uint64_t>(row_block) * n.width * 4) % align != 0)
              return Unimplemented("{}: {} rows of {} outputs exceed the device's storage buffer range of {} bytes",
                                   n.label, max_rows, n.width, limit);
            if (static_cast<int>(i) == graph_.output) output_row_blocks_ = true;
          }
          for (size_t c = 0; c < chunks->size(); ++c)
            for (uint32_t r0 = 0; r0 < max_rows32; r0 += row_block) {
              Dispatch part = d;
              part.weight = (*chunks)[c].buffer;
              part.pc.n[3] = (*chunks)[c].first_row;
              part.pc.n[4] = (*chunks)[c].rows;
              part.pc.n[6] = r0;
              part.pc.n[7] = std::min(row_block, max_rows32 - r0);
              if (row_block < max_rows32) {
                part.offset[kIn0] = static_cast<uint64_t>(r0) * k * 4;
                part.range[kIn0] = static_cast<uint64_t>(part.pc.n[7]) * k * 4;
                part.offset[kOutSlot] = static_cast<uint64_t>(r0) * n.width * 4;
                part.range[kOutSlot] = static_cast<uint64_t>(part.pc.n[7]) * n.width * 4;
              }
              part.groups[0] = gemv ? (part.pc.n[4] + per_group - 1) / per_group : (part.pc.n[4] + 63) / 64;
              part.groups[1] = gemv ? max_rows32 : (part.pc.n[7] + 31) / 32;
              dispatches_.push_back(part);
            }
          d = dispatches_.back();
          dispatches_.pop_back();
          break;
        }
        case OpKind::kRmsNorm: {
          TLM_RETURN_IF_ERROR(need_inputs(1));
          const int64_t group = n.norm.group;
          if (group < 1 || n.width % group != 0 || nodes[n.inputs[0]].width != n.width)
            return InvalidArgument("{}: norm group {} does not divide width {}", n.label, group, n.width);
          if (!n.weight.empty()) {
            const WeightView* w = weights.Find(n.weight);
            if (w == nullptr) return NotFound("{}: weight '{}' not in the model", n.label, n.weight);
            if (w->type != DType::kF32 || w->dims.size() != 1 || w->dims[0] != group)
              return InvalidArgument("{}: norm weight '{}' must be f32 [{}]", n.label, n.weight, group);
            auto chunks = weights_->Get(*w, static_cast<uint64_t>(group) * 4, 1);
            if (!chunks.ok()) return chunks.status();
            d.weight = chunks->front().buffer;
            d.pc.n[2] = 1;
          }
          auto pipeline = ctx_->Pipeline(Shader::kRmsNorm, 0, 0);
          if (!pipeline.ok()) return pipeline.status();
          d.pipeline = *pipeline;
          d.pc.n[0] = width;
          d.pc.n[1] = static_cast<uint32_t>(group);
          d.pc.f0 = n.norm.eps;
          d.groups[0] = static_cast<uint32_t>(max_rows * n.width / group);
          break;
        }
        case OpKind::kRope: {
          TLM_RETURN_IF_ERROR(need_inputs(1));
          const RopeParams& p = n.rope;
          if (p.head_dim < 1 || n.width % p.head_dim != 0 || p.n_rot < 2 || p.n_rot > p.head_dim || p.n_rot % 2 != 0 ||
              nodes[n.inputs[0]].width != n.width)
            return InvalidArgument("{}: rope of n_rot {} over heads of {} in a row of {}", n.label, p.n_rot, p.head_dim,
                                   n.width);
          auto pipeline = ctx_->Pipeline(Shader::kRope, 0, p.mode == RopeMode::kNeox ? 1 : 0);
          if (!pipeline.ok()) return pipeline.status();
          // One cos/sin table per distinct rotation (frequency base, scale, n_rot) and row count.
          RopeTable table{p.n_rot, p.freq_base, p.freq_scale, rows_one, 0};
          auto it = std::find_if(rope_tables_.begin(), rope_tables_.end(), [&](const RopeTable& t) {
            return t.n_rot == table.n_rot && t.freq_base == table.freq_base && t.freq_scale == table.freq_scale &&
                   t.rows_one == table.rows_one;
          });
          if (it == rope_tables_.end()) {
            table.offset = step_words;
            step_words += static_cast<uint32_t>(max_rows * p.n_rot);
            rope_tables_.push_back(table);
            it = rope_tables_.end() - 1;
          }
          d.pipeline = *pipeline;
          d.pc.n[0] = width;
          d.pc.n[1] = static_cast<uint32_t>(p.head_dim);
          d.pc.n[2] = static_cast<uint32_t>(p.n_rot);
          d.pc.n[3] = it->offset;
          d.groups[0] = (width + wg - 1) / wg;
          d.groups[1] = max_rows32;
          break;
        }
        case OpKind::kAttention: {
          TLM_RETURN_IF_ERROR(need_inputs(3));
          const AttentionParams& a = n.attention;
          if (a.n_head < 1 || a.n_kv_head < 1 || a.n_head % a.n_kv_head != 0 || a.head_dim < 1 || a.layer < 0 ||
              a.window < 0)
            return InvalidArgument("{}: attention of {} heads over {} KV heads of {}", n.label, a.n_head, a.n_kv_head,
                                   a.head_dim);
          if (a.head_dim > 256 || a.head_dim > 4 * static_cast<int64_t>(wg))
            return Unimplemented("{}: vulkan attention takes head_dim up to {}, got {}", n.label,
                                 std::min<int64_t>(256, 4 * wg), a.head_dim);
          if (nodes[n.inputs[0]].width != a.n_head * a.head_dim ||
              nodes[n.inputs[1]].width != a.n_kv_head * a.head_dim ||
              nodes[n.inputs[2]].width != a.n_kv_head * a.head_dim || n.width != a.n_head * a.head_dim)
            return InvalidArgument("{}: attention input widths do not match {} heads / {} KV heads of {}", n.label,
                                   a.n_head, a.n_kv_head, a.head_dim);
          auto pipeline = ctx_->Pipeline(Shader::kAttention, 0, 0);
          if (!pipeline.ok()) return pipeline.status();
          auto store = ctx_->Pipeline(Shader::kKvStore, 0, 0);
          if (!store.ok()) return store.status();
          d.pipeline = *pipeline;
          d.kv_layer = a.layer;
          d.buffer[kKSlot] = d.buffer[kVSlot] = kNone;  // resolved at recording
          d.pc.n[0] = static_cast<uint32_t>(a.n_head);
          d.pc.n[1] = static_cast<uint32_t>(a.n_kv_head);
          d.pc.n[2] = static_cast<uint32_t>(a.head_dim);
          d.pc.n[3] = static_cast<uint32_t>(a.window);
          d.pc.f0 = a.scale;
          d.groups[0] = static_cast<uint32_t>(a.n_head);
          d.groups[1] = max_rows32;
          dispatches_.push_back(d);
          attention_layers_ = std::max(attention_layers_, static_cast<size_t>(a.layer) + 1);
          // Then the append of this step's keys and values to the cache.
          Dispatch s = d;
          s.pipeline = *store;
          s.label = d.label + " (kv store)";
          s.node = static_cast<int>(nodes.size() + i);  // a separate step: it overwrites what attention read
          s.buffer[kOutSlot] = kNone;
          s.buffer[kIn0] = kNone;
          s.pc.n[0] = static_cast<uint32_t>(a.n_kv_head * a.head_dim);
          s.groups[0] = (s.pc.n[0] + wg - 1) / wg;
          s.groups[1] = max_rows32;
          dispatches_.push_back(s);
          break;
        }
        case OpKind::kAdd:
        case OpKind::kGeluTanhGate:
        case OpKind::kSiluGate:
        case OpKind::kTakeLastRow: {
          const bool last = n.op == OpKind::kTakeLastRow;
          if (last) {
            if (n.inputs[0] < 0) return Internal("{}: needs an input", n.label);
          } else {
            TLM_RETURN_IF_ERROR(need_inputs(2));
            if (nodes[n.inputs[1]].width != n.width)
              return InvalidArgument("{}: operands of widths {} and {}", n.label, nodes[n.inputs[0]].width,
                                     nodes[n.inputs[1]].width);
          }
          if (nodes[n.inputs[0]].width != n.width)
            return InvalidArgument("{}: input width {} differs from {}", n.label, nodes[n.inputs[0]].width, n.width);
          const uint32_t variant = n.op == OpKind::kAdd            ? 0
                                   : n.op == OpKind::kGeluTanhGate ? 1
                                   : n.op == OpKind::kSiluGate     ? 2
                                                                   : 3;
          auto pipeline = ctx_->Pipeline(Shader::kEltwise, 0, variant);
          if (!pipeline.ok()) return pipeline.status();
          d.pipeline = *pipeline;
          d.pc.n[0] = width;
          if (last) {
            d.pc.rows_one = 1;
            d.pc.n[1] = rows_one_[n.inputs[0]] ? 1 : 0;
          }
          const uint64_t total = last ? n.width : static_cast<uint64_t>(max_rows * n.width);
          if ((total + wg - 1) / wg > 65535ull * 65535ull) return InvalidArgument("{}: too many elements", n.label);
          d.groups[0] = static_cast<uint32_t>((total + wg - 1) / wg);
          break;
        }
      }
      if (n.op != OpKind::kAttention) dispatches_.push_back(d);
      for (size_t j = first_dispatch; j < dispatches_.size(); ++j) {
        Dispatch& x = dispatches_[j];
        const WeightView* w = n.weight.empty() ? nullptr : weights.Find(n.weight);
        x.kind = n.op == OpKind::kMatMul           ? (max_rows <= 2 ? "matmul gemv " : "matmul gemm ")
                 : x.label.ends_with("(kv store)") ? "kv store "
                                                   : std::string(OpKindName(n.op)) + " ";
        x.kind += w ? DTypeName(w->type) : "";
      }
      for (int in : n.inputs)
        if (in >= 0 && last_use[in] == static_cast<int>(i) && node_buffer[in] >= 0) free_buffer[node_buffer[in]] = true;
    }
    // Dispatch grids wider than the device's limit (65535 per dimension): fold into y.
    for (Dispatch& d : dispatches_)
      if (d.groups[0] > 65535)
        return Unimplemented("{}: {} workgroups in one dimension exceed the vulkan limit", d.label, d.groups[0]);
    n_vocab_width_ = nodes[graph_.output].width;
    // Buffers.
    for (size_t b = 0; b < sizes.size(); ++b) {
      auto buf = ctx_->CreateBuffer(sizes[b] * 4, MemoryUse::kDevice, fmt::format("activation buffer {}", b));
      if (!buf.ok()) return buf.status();
      buffers_.push_back(*buf);
    }
    auto step = ctx_->CreateBuffer(static_cast<uint64_t>(step_words) * 4, MemoryUse::kHostWrite, "step buffer");
    if (!step.ok()) return step.status();
    step_ = *step;
    auto out = ctx_->CreateBuffer(output_floats_ * 4, MemoryUse::kDevice, "output buffer", !output_row_blocks_);
    if (!out.ok()) return out.status();
    output_ = *out;
    auto rb = ctx_->CreateBuffer(output_floats_ * 4, MemoryUse::kHostRead, "readback buffer", false);
    if (!rb.ok()) return rb.status();
    readback_ = *rb;
    auto dummy = ctx_->CreateBuffer(16, MemoryUse::kDevice, "unbound slot");
    if (!dummy.ok()) return dummy.status();
    dummy_ = *dummy;
    if (step_.mapped == nullptr || readback_.mapped == nullptr)
      return Internal("vulkan: host-visible buffers are not mapped");
    // Descriptor pool: one set of 8 storage buffers per dispatch.
    VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, static_cast<uint32_t>(dispatches_.size() * kSlots)};
    auto pci = Make<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
    pci.maxSets = static_cast<uint32_t>(dispatches_.size());
    pci.poolSizeCount = 1;
    pci.pPoolSizes = &size;
    if (ctx_->vk().vkCreateDescriptorPool(ctx_->device(), &pci, nullptr, &pool_) != VK_SUCCESS)
      return Internal("vulkan: vkCreateDescriptorPool failed");
    auto cb = ctx_->AllocateCommandBuffer();
    if (!cb.ok()) return cb.status();
    cb_ = *cb;
    // TLMBENCH_VULKAN_PROFILE=1: GPU time per dispatch kind, printed to stderr when the executable
    // goes (every dispatch then runs alone, after a barrier).
    if (const char* env = std::getenv("TLMBENCH_VULKAN_PROFILE");
        env && std::string(env) == "1" && ctx_->info().timestamp_period_ns > 0) {
      auto qci = Make<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
      qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
      qci.queryCount = static_cast<uint32_t>(dispatches_.size() + 1);
      if (ctx_->vk().vkCreateQueryPool(ctx_->device(), &qci, nullptr, &queries_) != VK_SUCCESS)
        queries_ = VK_NULL_HANDLE;
    }
    (void)ctx_->SaveCache();  // an unwritable cache folder costs the next start its warm cache only
    return Status::Ok();
  }

  Status Run(const StepInput& input, KvCache& kv_base, std::span<float> logits) override {
    auto* kv = dynamic_cast<VulkanKvCache*>(&kv_base);
    if (kv == nullptr) return InvalidArgument("KV cache was not created by the vulkan backend");
    const int64_t T = static_cast<int64_t>(input.tokens.size());
    if (T < 1 || T > graph_.max_tokens)
      return InvalidArgument("step of {} tokens; this executable takes 1..{}", T, graph_.max_tokens);
    if (input.pos0 < 0 || input.pos0 > (1ll << 30)) return InvalidArgument("position {} is out of range", input.pos0);
    if (kv->spec().layers.size() < attention_layers_)
      return InvalidArgument("KV cache has {} layers; the graph needs {}", kv->spec().layers.size(), attention_layers_);
    for (const KvLayerSpec& l : kv->spec().layers)
      if ((l.window == 0 || l.capacity < l.window) && input.pos0 + T > l.capacity)
        return ResourceExhausted("context full: positions {}..{} do not fit a context of {}", input.pos0,
                                 input.pos0 + T - 1, l.capacity);
    for (const Dispatch& d : dispatches_)
      if (d.kv_layer >= 0) {
        const KvLayerSpec& l = kv->spec().layers[d.kv_layer];
        if (l.n_kv_head != d.pc.n[1] || l.head_dim != d.pc.n[2] || l.capacity < 1)
          return InvalidArgument("{}: KV cache layer {} holds {} heads of {}; the graph needs {} of {}", d.label,
                                 d.kv_layer, l.n_kv_head, l.head_dim, d.pc.n[1], d.pc.n[2]);
      }
    for (int64_t t = 0; t < T; ++t)
      if (has_embedding_ && (input.tokens[t] < 0 || input.tokens[t] >= graph_.n_vocab))
        return InvalidArgument("token id {} at step position {} is outside the vocabulary [0, {})", input.tokens[t], t,
                               graph_.n_vocab);
    const int64_t out_rows = rows_one_[graph_.output] ? 1 : T;
    if (logits.size() < static_cast<size_t>(out_rows * n_vocab_width_))
      return InvalidArgument("logits buffer holds {} floats; {} rows of {} need {}", logits.size(), out_rows,
                             n_vocab_width_, out_rows * n_vocab_width_);
    if (recorded_kv_ != kv->id()) {
      TLM_RETURN_IF_ERROR(Record(*kv));
      recorded_kv_ = kv->id();
    }
    // Per-step values.
    auto* words = static_cast<uint32_t*>(step_.mapped);
    words[0] = static_cast<uint32_t>(T);
    words[1] = static_cast<uint32_t>(input.pos0);
    for (int64_t t = 0; t < T; ++t) words[tokens_offset_ + t] = static_cast<uint32_t>(input.tokens[t]);
    for (const RopeTable& table : rope_tables_) {
      // cos/sin in double, exactly as the CPU reference computes them.
      float* f = reinterpret_cast<float*>(words + table.offset);
      const int64_t rows = table.rows_one ? 1 : T, half = table.n_rot / 2;
      for (int64_t t = 0; t < rows; ++t) {
        const double pos = static_cast<double>(input.pos0 + t) * table.freq_scale;
        for (int64_t i = 0; i < half; ++i) {
          const double theta = pos * std::pow(static_cast<double>(table.freq_base), -2.0 * i / table.n_rot);
          f[2 * (t * half + i)] = static_cast<float>(std::cos(theta));
          f[2 * (t * half + i) + 1] = static_cast<float>(std::sin(theta));
        }
      }
    }
    TLM_RETURN_IF_ERROR(ctx_->SubmitAndWait(cb_));
    if (queries_) {
      std::vector<uint64_t> ts(dispatches_.size() + 1);
      if (ctx_->vk().vkGetQueryPoolResults(ctx_->device(), queries_, 0, static_cast<uint32_t>(ts.size()), ts.size() * 8,
                                           ts.data(), 8,
                                           VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT) == VK_SUCCESS) {
        for (size_t i = 0; i < dispatches_.size(); ++i) {
          auto& [calls, ms] = profile_[dispatches_[i].kind];
          ++calls;
          ms += static_cast<double>(ts[i + 1] - ts[i]) * ctx_->info().timestamp_period_ns * 1e-6;
        }
        ++profiled_runs_;
      }
    }
    std::memcpy(logits.data(), readback_.mapped, static_cast<size_t>(out_rows * n_vocab_width_) * sizeof(float));
    return Status::Ok();
  }

 private:
  struct RopeTable {
    int64_t n_rot;
    float freq_base, freq_scale;
    bool rows_one;
    uint32_t offset;
  };

  // The [k, rows] weight of a matmul or embedding: checked shape and a type the shaders read.
  Status MatrixWeight(const Node& n, const WeightSource& weights, int64_t k, int64_t rows, const WeightView** out,
                      uint64_t* row_bytes) {
    if (n.weight.empty()) return Internal("{}: {} without a weight", n.label, OpKindName(n.op));
    const WeightView* w = weights.Find(n.weight);
    if (w == nullptr) return NotFound("{}: weight '{}' not in the model", n.label, n.weight);
    if (w->dims.size() != 2 || w->dims[0] != k || w->dims[1] != rows)
      return InvalidArgument("{}: weight '{}' is not [{}, {}]", n.label, n.weight, k, rows);
    if (!SupportedWeightType(w->type))
      return Unimplemented("{}: weight '{}' has type {}, which the vulkan backend does not read", n.label, n.weight,
                           DTypeName(w->type));
    if (!ElemsToBytes(w->type, static_cast<uint64_t>(k), row_bytes))
      return InvalidArgument("{}: rows of {} do not fit type {}", n.label, k, DTypeName(w->type));
    if (*row_bytes * static_cast<uint64_t>(rows) > w->bytes)
      return InvalidArgument("{}: weight '{}' holds {} bytes; [{}, {}] of {} need {}", n.label, n.weight, w->bytes, k,
                             rows, DTypeName(w->type), *row_bytes * rows);
    if (*row_bytes * static_cast<uint64_t>(rows) >= (1ull << 32))
      return Unimplemented("{}: weight '{}' is over 4 GiB", n.label, n.weight);
    if (n.op == OpKind::kEmbedding) has_embedding_ = true;
    *out = w;
    return Status::Ok();
  }

  VkBuffer Resolve(int index, int slot, const VulkanKvCache& kv, const Dispatch& d) const {
    if (slot == kKSlot && d.kv_layer >= 0) return kv.k(d.kv_layer).buffer;
    if (slot == kVSlot && d.kv_layer >= 0) return kv.v(d.kv_layer).buffer;
    if (slot == kWeightSlot) return d.weight ? d.weight : dummy_.buffer;
    if (index == kStepBuffer) return step_.buffer;
    if (index == kOutputBuffer) return output_.buffer;
    if (index >= 0) return buffers_[index].buffer;
    return dummy_.buffer;
  }

  // Records the whole graph once: a descriptor set per dispatch, push constants, dispatches, a
  // barrier wherever a dispatch touches a buffer written (or, for a write, read) since the last
  // one, then the copy of the output to the host-visible readback buffer.
  Status Record(const VulkanKvCache& kv) {
    const VkApi& vk = ctx_->vk();
    VkDevice dev = ctx_->device();
    if (vk.vkResetDescriptorPool(dev, pool_, 0) != VK_SUCCESS) return Internal("vulkan: vkResetDescriptorPool failed");
    std::vector<VkDescriptorSetLayout> layouts(dispatches_.size(), ctx_->set_layout());
    std::vector<VkDescriptorSet> sets(dispatches_.size());
    auto ai = Make<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
    ai.descriptorPool = pool_;
    ai.descriptorSetCount = static_cast<uint32_t>(sets.size());
    ai.pSetLayouts = layouts.data();
    if (vk.vkAllocateDescriptorSets(dev, &ai, sets.data()) != VK_SUCCESS)
      return Internal("vulkan: vkAllocateDescriptorSets failed");
    std::vector<VkDescriptorBufferInfo> infos(dispatches_.size() * kSlots);
    std::vector<VkWriteDescriptorSet> writes(dispatches_.size());
    for (size_t i = 0; i < dispatches_.size(); ++i) {
      const Dispatch& d = dispatches_[i];
      for (int s = 0; s < kSlots; ++s)
        infos[i * kSlots + s] = {Resolve(d.buffer[s], s, kv, d), d.offset[s], d.range[s] ? d.range[s] : VK_WHOLE_SIZE};
      writes[i] = Make<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
      writes[i].dstSet = sets[i];
      writes[i].dstBinding = 0;
      writes[i].descriptorCount = kSlots;
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i * kSlots];
    }
    vk.vkUpdateDescriptorSets(dev, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);

    if (vk.vkResetCommandBuffer(cb_, 0) != VK_SUCCESS) return Internal("vulkan: vkResetCommandBuffer failed");
    auto bi = Make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
    if (vk.vkBeginCommandBuffer(cb_, &bi) != VK_SUCCESS) return Internal("vulkan: vkBeginCommandBuffer failed");
    std::map<VkBuffer, int> written, read;  // buffer -> the node that last wrote / read it
    auto barrier = [&](VkPipelineStageFlags dst_stage, VkAccessFlags dst_access) {
      auto mb = Make<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
      mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
      mb.dstAccessMask = dst_access;
      vk.vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, dst_stage, 0, 1, &mb, 0, nullptr, 0, nullptr);
      written.clear();
      read.clear();
      ++barriers_;
    };
    barriers_ = 0;
    if (queries_) {
      vk.vkCmdResetQueryPool(cb_, queries_, 0, static_cast<uint32_t>(dispatches_.size() + 1));
      vk.vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, 0);
    }
    for (size_t i = 0; i < dispatches_.size(); ++i) {
      const Dispatch& d = dispatches_[i];
      std::vector<VkBuffer> reads, writes_now;
      for (int s = kIn0; s <= kIn2; ++s)
        if (d.buffer[s] != kNone) reads.push_back(infos[i * kSlots + s].buffer);
      if (d.buffer[kOutSlot] != kNone) writes_now.push_back(infos[i * kSlots + kOutSlot].buffer);
      if (d.kv_layer >= 0) {
        const bool store = d.buffer[kOutSlot] == kNone;  // the kv store writes the cache
        for (int s : {kKSlot, kVSlot}) (store ? writes_now : reads).push_back(infos[i * kSlots + s].buffer);
      }
      bool hazard = false;
      for (VkBuffer b : reads) hazard |= written.count(b) > 0;
      for (VkBuffer b : writes_now) {
        auto w = written.find(b), r = read.find(b);
        hazard |= (w != written.end() && w->second != d.node) || (r != read.end() && r->second != d.node);
      }
      if (hazard) barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
      vk.vkCmdBindPipeline(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, d.pipeline);
      vk.vkCmdBindDescriptorSets(cb_, VK_PIPELINE_BIND_POINT_COMPUTE, ctx_->pipeline_layout(), 0, 1, &sets[i], 0,
                                 nullptr);
      PushConstants pc = d.pc;
      if (d.kv_layer >= 0) pc.n[4] = static_cast<uint32_t>(kv.spec().layers[d.kv_layer].capacity);
      vk.vkCmdPushConstants(cb_, ctx_->pipeline_layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(pc), &pc);
      vk.vkCmdDispatch(cb_, d.groups[0], d.groups[1], d.groups[2]);
      for (VkBuffer b : reads) read[b] = d.node;
      for (VkBuffer b : writes_now) written[b] = d.node;
      if (queries_) {  // profile: each dispatch alone between two timestamps
        barrier(VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
        vk.vkCmdWriteTimestamp(cb_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, static_cast<uint32_t>(i + 1));
      }
    }
    barrier(VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT);
    VkBufferCopy region{0, 0, output_floats_ * 4};
    vk.vkCmdCopyBuffer(cb_, output_.buffer, readback_.buffer, 1, &region);
    auto host = Make<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vk.vkCmdPipelineBarrier(cb_, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &host, 0, nullptr, 0,
                            nullptr);
    if (vk.vkEndCommandBuffer(cb_) != VK_SUCCESS) return Internal("vulkan: vkEndCommandBuffer failed");
    return Status::Ok();
  }

  std::shared_ptr<VkContext> ctx_;
  std::shared_ptr<WeightStore> weights_;
  Graph graph_;
  std::vector<Dispatch> dispatches_;
  std::vector<bool> rows_one_;
  std::vector<RopeTable> rope_tables_;
  std::vector<Buffer> buffers_;
  Buffer step_, output_, readback_, dummy_;
  uint64_t output_floats_ = 0;
  int64_t n_vocab_width_ = 0;
  uint32_t tokens_offset_ = 4;
  size_t attention_layers_ = 0;
  bool has_embedding_ = false;
  bool output_row_blocks_ = false;  // the output is bound in blocks of rows (larger than one binding)
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  VkCommandBuffer cb_ = VK_NULL_HANDLE;
  uint64_t recorded_kv_ = 0;
  int barriers_ = 0;
  VkQueryPool queries_ = VK_NULL_HANDLE;
  std::map<std::string, std::pair<int64_t, double>> profile_;  // kind -> dispatches, GPU ms
  int profiled_runs_ = 0;
};

class VulkanBackend final : public Backend {
 public:
  VulkanBackend(std::shared_ptr<VkContext> ctx, Activations activations)
      : ctx_(std::move(ctx)), weights_(std::make_shared<WeightStore>()), activations_(activations) {
    weights_->ctx = ctx_;
  }
  std::string name() const override { return "vulkan"; }
  // Matmuls always multiply f32 activations by the dequantized weights: a kQ8 or kQ8x2 request runs as f32.
  std::string device_description() const override {
    return ctx_->Describe() + (activations_ != Activations::kF32 ? fmt::format("; {} activations requested, run as f32",
                                                                               ActivationsName(activations_))
                                                                 : "");
  }
  BackendLoadInfo load_info() const override {
    BackendLoadInfo info;
    info.has_cache = true;
    info.cache_warm = ctx_->cache_warm();
    info.cache_path = ctx_->cache_path();
    return info;
  }
  StatusOr<std::unique_ptr<Executable>> Compile(const Graph& graph, const WeightSource& weights) override {
    auto exe = std::make_unique<VulkanExecutable>(ctx_, weights_, graph);
    TLM_RETURN_IF_ERROR(exe->Compile(weights));
    return std::unique_ptr<Executable>(std::move(exe));
  }
  StatusOr<std::unique_ptr<KvCache>> CreateKvCache(const KvSpec& spec) override {
    for (const KvLayerSpec& l : spec.layers)
      if (l.capacity < 0 || l.n_kv_head < 0 || l.head_dim < 0 || l.capacity * l.n_kv_head * l.head_dim > (1ll << 30))
        return InvalidArgument("KV layer of {} positions x {} heads x {} is out of range", l.capacity, l.n_kv_head,
                               l.head_dim);
    auto kv = std::make_unique<VulkanKvCache>(ctx_, spec);
    TLM_RETURN_IF_ERROR(kv->Init());
    return std::unique_ptr<KvCache>(std::move(kv));
  }

 private:
  std::shared_ptr<VkContext> ctx_;
  std::shared_ptr<WeightStore> weights_;
  Activations activations_;
};

const bool kRegistered = RegisterBackend({
    .name = "vulkan",
    .description = "Vulkan compute (GLSL shaders as SPIR-V; device by index or name: vulkan:0, vulkan:llvmpipe)",
    .probe = [] { return VkContext::Probe(); },
    .create = [](const BackendOptions& options) -> StatusOr<std::unique_ptr<Backend>> {
      auto ctx = VkContext::Create(options.device);
      if (!ctx.ok()) return ctx.status();
      return std::unique_ptr<Backend>(std::make_unique<VulkanBackend>(*ctx, options.activations));
    },
});

}  // namespace
}  // namespace tlm::vulkan
