// Graph IR: the ops of one model phase (a prefill chunk or a decode step) over f32 activation
// rows, with weights referenced by name. Backends compile a Graph into an Executable.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tlm {

enum class OpKind : uint8_t {
  kTokens,        // input: the step's token ids (one row per token)
  kEmbedding,     // out[t] = dequant(weight[token[t]]) * scale
  kMatMul,        // out[t][n] = sum_k in[t][k] * weight[n][k]   (weight dims {k, n})
  kRmsNorm,       // per group of `norm.group` elements: x / rms(x) * weight (weight optional)
  kRope,          // rotary embedding per head at position pos0 + t
  kAttention,     // causal attention of q against the KV cache plus this step's k, v
  kAdd,           // a + b
  kGeluTanhGate,  // gelu_tanh(a) * b
  kSiluGate,      // silu(a) * b
  kTakeLastRow,   // keeps only the last row (logits of the last token)
};
const char* OpKindName(OpKind kind);

enum class RopeMode : uint8_t {
  kNormal,  // rotates adjacent pairs (x[2i], x[2i+1])  (llama)
  kNeox,    // rotates halves (x[i], x[i + n_rot/2])     (gemma, neox)
};

struct NormParams {
  float eps = 1e-6f;
  int64_t group = 0;  // normalise each run of `group` elements (head_dim for q/k norms)
};

struct RopeParams {
  int64_t head_dim = 0;
  int64_t n_rot = 0;  // leading dims of each head that rotate
  float freq_base = 10000.f;
  float freq_scale = 1.f;  // linear position scaling (1 / rope scaling factor)
  RopeMode mode = RopeMode::kNormal;
};

struct AttentionParams {
  int layer = 0;  // KV cache slot
  int64_t n_head = 0;
  int64_t n_kv_head = 0;
  int64_t head_dim = 0;
  float scale = 1.f;
  int64_t window = 0;  // 0: full causal; else a key is visible iff 0 <= q_pos - k_pos < window
};

struct Node {
  OpKind op = OpKind::kAdd;
  int inputs[3] = {-1, -1, -1};  // indices of earlier nodes
  int64_t width = 0;             // elements per output row
  std::string weight;            // weight tensor name (matmul, embedding, norm); may be empty
  std::string label;             // for errors and profiles, e.g. "blk.3.ffn_down"
  float scale = 1.f;             // embedding scale
  NormParams norm;
  RopeParams rope;
  AttentionParams attention;
};

struct Graph {
  std::vector<Node> nodes;
  int output = -1;         // the logits node
  int64_t max_tokens = 1;  // rows of the kTokens input the executable must accept
  int64_t n_vocab = 0;

  int Add(Node node) {
    nodes.push_back(std::move(node));
    return static_cast<int>(nodes.size()) - 1;
  }
  // Per-layer attention nodes, in layer order (the KV cache is laid out from these).
  std::vector<const Node*> AttentionNodes() const;
};

}  // namespace tlm
