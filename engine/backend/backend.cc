// Backend registry and the KV layout derived from a graph.
#include "engine/backend/backend.h"

#include <algorithm>
#include <mutex>

namespace tlm {
namespace {

std::vector<BackendRegistration>& Registry() {
  static std::vector<BackendRegistration> registry;
  return registry;
}

}  // namespace

const char* ActivationsName(Activations a) {
  switch (a) {
    case Activations::kF32:
      return "f32";
    case Activations::kQ8:
      return "q8";
    case Activations::kQ8x2:
      return "q8x2";
  }
  return "?";
}

namespace {
constexpr Activations kAllActivations[] = {Activations::kF32, Activations::kQ8, Activations::kQ8x2};
}  // namespace

bool ParseActivations(std::string_view name, Activations* out) {
  for (Activations a : kAllActivations)
    if (name == ActivationsName(a)) {
      *out = a;
      return true;
    }
  return false;
}

const std::vector<std::string>& ActivationsNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> all;
    for (Activations a : kAllActivations) all.emplace_back(ActivationsName(a));
    return all;
  }();
  return names;
}

KvSpec KvSpecFor(const Graph& graph, int64_t n_ctx) {
  KvSpec spec;
  spec.n_ctx = n_ctx;
  for (const Node* node : graph.AttentionNodes()) {
    const AttentionParams& a = node->attention;
    KvLayerSpec layer;
    layer.n_kv_head = a.n_kv_head;
    layer.head_dim = a.head_dim;
    layer.window = a.window;
    layer.capacity = a.window > 0 ? std::min<int64_t>(a.window, n_ctx) : n_ctx;
    if (static_cast<size_t>(a.layer) >= spec.layers.size()) spec.layers.resize(a.layer + 1);
    spec.layers[a.layer] = layer;
  }
  return spec;
}

bool RegisterBackend(BackendRegistration registration) {
  Registry().push_back(std::move(registration));
  return true;
}

std::vector<const BackendRegistration*> RegisteredBackends() {
  std::vector<const BackendRegistration*> out;
  for (const auto& r : Registry()) out.push_back(&r);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name < b->name; });
  return out;
}

StatusOr<std::unique_ptr<Backend>> CreateBackend(std::string_view spec, BackendOptions options) {
  std::string_view name = spec;
  if (size_t colon = spec.find(':'); colon != std::string_view::npos) {
    name = spec.substr(0, colon);
    options.device = std::string(spec.substr(colon + 1));
  }
  for (const auto& r : Registry()) {
    if (r.name != name) continue;
    if (Status s = r.probe(); !s.ok()) return Unavailable("backend '{}' unavailable: {}", name, s.message());
    return r.create(options);
  }
  std::string known;
  for (const auto* r : RegisteredBackends()) known += (known.empty() ? "" : ", ") + r->name;
  return InvalidArgument("unknown backend '{}' (available: {})", name, known);
}

}  // namespace tlm
