// Graph IR helpers.
#include "engine/graph/graph.h"

#include <algorithm>

namespace tlm {

const char* OpKindName(OpKind kind) {
  switch (kind) {
    case OpKind::kTokens: return "tokens";
    case OpKind::kEmbedding: return "embedding";
    case OpKind::kMatMul: return "matmul";
    case OpKind::kRmsNorm: return "rms_norm";
    case OpKind::kRope: return "rope";
    case OpKind::kAttention: return "attention";
    case OpKind::kAdd: return "add";
    case OpKind::kGeluTanhGate: return "gelu_tanh_gate";
    case OpKind::kSiluGate: return "silu_gate";
    case OpKind::kTakeLastRow: return "take_last_row";
  }
  return "?";
}

std::vector<const Node*> Graph::AttentionNodes() const {
  std::vector<const Node*> out;
  for (const Node& n : nodes)
    if (n.op == OpKind::kAttention) out.push_back(&n);
  std::sort(out.begin(), out.end(),
            [](const Node* a, const Node* b) { return a->attention.layer < b->attention.layer; });
  return out;
}

}  // namespace tlm
