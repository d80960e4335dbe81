// Llama-family decoder (SmolLM2 and friends): RMSNorm, GQA, RoPE on adjacent pairs, SwiGLU FFN,
// tied or untied output.
#include <cmath>

#include "engine/arch/arch.h"
#include "engine/arch/config_reader.h"
#include "engine/arch/decoder_graph.h"

namespace tlm {
namespace {

StatusOr<ModelConfig> ReadLlamaConfig(const GgufFile& f) {
  ModelConfig c;
  c.arch = "llama";
  TLM_RETURN_IF_ERROR(ReadDecoderConfig(ConfigReader(f, "llama"), DecoderDefaults{}, &c));
  c.rope_mode = RopeMode::kNormal;
  return c;
}

std::vector<TensorRequirement> LlamaTensors(const ModelConfig& c) { return DecoderTensors(c, {}); }

Graph BuildLlamaGraph(const ModelConfig& c, const GraphPhase& phase) {
  return BuildDecoderGraph(c, phase, {.qk_norm = false, .post_norms = false, .ffn_activation = OpKind::kSiluGate});
}

}  // namespace

ArchDef LlamaArch() {
  return {.name = "llama", .read_config = ReadLlamaConfig, .tensors = LlamaTensors, .build_graph = BuildLlamaGraph};
}

}  // namespace tlm
