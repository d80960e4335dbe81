// `tlmbench make-model`: writes a synthetic gemma3/llama GGUF with seeded random weights.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "engine/model/synthetic.h"
#include "harness/cli/commands.h"

namespace tlm {
namespace {

struct MakeModelOptions {
  SyntheticModelSpec spec;
  std::string type = "q8_0";
  bool untied = false;
  std::string output;
};

[[noreturn]] void BadInput(const std::string& message) {
  fmt::print(stderr, "error: make-model: {}\n", message);
  throw CLI::RuntimeError(kExitBadInput);
}

int RunMakeModel(const MakeModelOptions& o) {
  StatusOr<GgufWriter> w = BuildSyntheticModel(o.spec);
  Status st = w.ok() ? w->WriteFile(o.output) : w.status();
  if (!st.ok()) {
    fmt::print(stderr, "error: make-model: {}\n", st.message());
    return st.code() == StatusCode::kInvalidArgument ? kExitBadInput : kExitFailure;
  }
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(o.output, ec);
  const SyntheticModelSpec& s = o.spec;
  fmt::print("wrote {}: {} {} layers, embd {}, ff {}, heads {}/{} x {}, vocab {}, {}, seed {}: "
             "{} tensors, {:.2f} MiB\n",
             o.output, s.arch, s.layers, s.embd, s.ff, s.heads, s.kv_heads, s.head_dim, s.vocab,
             DTypeName(s.type), s.seed, w->tensor_count(),
             ec ? 0.0 : static_cast<double>(bytes) / (1024.0 * 1024.0));
  return kExitOk;
}

}  // namespace

void RegisterMakeModelCommand(CLI::App& app) {
  auto o = std::make_shared<MakeModelOptions>();
  CLI::App* cmd = app.add_subcommand(
      "make-model",
      "Write a synthetic GGUF model (llama.cpp layout, random weights, working tokenizer)");
  SyntheticModelSpec& s = o->spec;
  cmd->add_option("--arch", s.arch, "Architecture: gemma3 or llama")->capture_default_str();
  cmd->add_option("--layers", s.layers, "Transformer blocks")->capture_default_str();
  cmd->add_option("--embd", s.embd, "Embedding width")->capture_default_str();
  cmd->add_option("--ff", s.ff, "Feed-forward width")->capture_default_str();
  cmd->add_option("--heads", s.heads, "Attention heads")->capture_default_str();
  cmd->add_option("--kv-heads", s.kv_heads, "Key/value heads (divides --heads)")
      ->capture_default_str();
  cmd->add_option("--head-dim", s.head_dim, "Size of one head")->capture_default_str();
  cmd->add_option("--vocab", s.vocab, "Vocabulary size")->capture_default_str();
  cmd->add_option("--type", o->type, "Weight type: f32, f16, q8_0, q4_0 or q4_k")
      ->capture_default_str();
  cmd->add_option("--seed", s.seed, "Seed of the random weights")->capture_default_str();
  cmd->add_option("--context", s.context_length, "Context length written to the metadata")
      ->capture_default_str();
  cmd->add_flag("--untied", o->untied, "llama: write a separate output.weight");
  cmd->add_option("-o,--output", o->output, "Output .gguf file");
  cmd->callback([o] {
    if (o->output.empty()) BadInput("-o/--output is required");
    if (o->spec.arch != "gemma3" && o->spec.arch != "llama") {
      BadInput(fmt::format("--arch '{}' is not one of gemma3, llama", o->spec.arch));
    }
    DType type{};
    if (o->type != "f32" && o->type != "f16" && o->type != "q8_0" && o->type != "q4_0" &&
        o->type != "q4_k") {
      BadInput(fmt::format("--type '{}' is not one of f32, f16, q8_0, q4_0, q4_k", o->type));
    }
    if (!ParseDType(o->type, &type)) BadInput(fmt::format("--type '{}' is unknown", o->type));
    o->spec.type = type;
    o->spec.tie_embeddings = !o->untied;
    if (o->untied && o->spec.arch != "llama") BadInput("--untied applies to --arch llama only");
    // Fields are named as in SyntheticModelSpec (kv_heads for --kv-heads, head_dim for
    // --head-dim); the message carries the value and the bound, which is what a user needs.
    if (Status st = ValidateSyntheticSpec(o->spec); !st.ok()) BadInput(st.message());
    SetCommandAction([o] { return RunMakeModel(*o); });
  });
}

}  // namespace tlm
