// Small helpers shared by the architecture builders to emit graph nodes tersely.
#pragma once

#include <string>

#include "engine/graph/graph.h"

namespace tlm {

class GraphBuilder {
 public:
  explicit GraphBuilder(Graph* graph) : g_(graph) {}

  int Tokens(int64_t max_tokens) {
    g_->max_tokens = max_tokens;
    return Emit(Make(OpKind::kTokens, 1, "tokens"));
  }
  int Embedding(int tokens, const std::string& weight, int64_t width, float scale) {
    Node n = Make(OpKind::kEmbedding, width, weight, tokens);
    n.weight = weight;
    n.scale = scale;
    return Emit(n);
  }
  int MatMul(int x, const std::string& weight, int64_t out_width) {
    Node n = Make(OpKind::kMatMul, out_width, weight, x);
    n.weight = weight;
    return Emit(n);
  }
  int RmsNorm(int x, const std::string& weight, int64_t width, float eps, int64_t group = 0) {
    Node n = Make(OpKind::kRmsNorm, width, weight, x);
    n.weight = weight;
    n.norm.eps = eps;
    n.norm.group = group > 0 ? group : width;
    return Emit(n);
  }
  int Rope(int x, int64_t width, const RopeParams& p, const std::string& label) {
    Node n = Make(OpKind::kRope, width, label, x);
    n.rope = p;
    return Emit(n);
  }
  int Attention(int q, int k, int v, int64_t width, const AttentionParams& p, const std::string& label) {
    Node n = Make(OpKind::kAttention, width, label, q, k, v);
    n.attention = p;
    return Emit(n);
  }
  int Binary(OpKind op, int a, int b, int64_t width, const std::string& label) {
    return Emit(Make(op, width, label, a, b));
  }
  int TakeLastRow(int x, int64_t width) { return Emit(Make(OpKind::kTakeLastRow, width, "last_row", x)); }

 private:
  static Node Make(OpKind op, int64_t width, const std::string& label, int a = -1, int b = -1, int c = -1) {
    Node n;
    n.op = op;
    n.width = width;
    n.label = label;
    n.inputs[0] = a;
    n.inputs[1] = b;
    n.inputs[2] = c;
    return n;
  }
  int Emit(Node n) { return g_->Add(std::move(n)); }
  Graph* g_;
};

}  // namespace tlm
