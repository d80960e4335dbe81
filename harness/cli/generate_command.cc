// `tlmbench generate`: text generation from a prompt or a chat message, streamed to stdout. Used
// to see that a model answers coherently, and to compare greedy output across backends.
#include <chrono>
#include <cstdio>

#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/session/sampler.h"
#include "engine/session/session.h"
#include "harness/cli/commands.h"
#include "harness/cli/compile_command.h"
#include "harness/cli/model_path.h"

namespace tlm {
namespace {

struct GenerateOptions {
  std::string model;
  std::string backend = "cpu";
  std::string chat;    // a user message, wrapped in the model's chat template
  std::string system;  // optional system message
  std::string prompt;  // raw text (no template)
  int threads = 0;
  int n_gen = 64;
  int n_ctx = 0;
  bool show_ids = false;
  std::string activations = "f32";
  bool pin = false;
  NpuBackendOptions npu;  // --backend npu
  SamplerConfig sampler;
};

int Fail(const Status& s) {
  fmt::print(stderr, "error: {}\n", s.message());
  return s.code() == StatusCode::kInternal || s.code() == StatusCode::kResourceExhausted ? kExitFailure : kExitBadInput;
}

int Generate(const GenerateOptions& o) {
  if (o.chat.empty() == o.prompt.empty()) return Fail(InvalidArgument("give exactly one of --chat or --prompt"));
  if (o.n_gen < 1) return Fail(InvalidArgument("-n/--gen-tokens must be at least 1, got {}", o.n_gen));
  if (Status s = ValidateSamplerConfig(o.sampler); !s.ok()) return Fail(s);
  auto path = ResolveModelPath(o.model);
  if (!path.ok()) return Fail(path.status());
  auto model = Model::Load(*path);
  if (!model.ok()) return Fail(model.status());
  const Tokenizer& tok = (*model)->tokenizer();

  std::string text = o.prompt;
  if (!o.chat.empty()) {
    std::vector<ChatMessage> messages;
    if (!o.system.empty()) messages.push_back({"system", o.system});
    messages.push_back({"user", o.chat});
    auto rendered = ApplyChatTemplate(tok.vocab(), messages, /*add_generation_prompt=*/true);
    if (!rendered.ok()) return Fail(rendered.status());
    text = *rendered;
  }
  const std::vector<int32_t> prompt = tok.Encode(text, /*add_bos=*/true, /*parse_special=*/!o.chat.empty());
  if (prompt.empty()) return Fail(InvalidArgument("the prompt encodes to no tokens"));

  SessionOptions so;
  so.backend = o.backend;
  so.threads = o.threads;
  ParseActivations(o.activations, &so.activations);  // checked by --activations' IsMember
  so.pin_threads = o.pin;
  so.npu = o.npu;
  so.n_ctx = o.n_ctx > 0 ? o.n_ctx : static_cast<int64_t>(prompt.size()) + o.n_gen;
  auto session = Session::Create(**model, so);
  if (!session.ok()) return Fail(session.status());
  Session& s = **session;
  Sampler sampler(o.sampler, static_cast<int32_t>(s.n_vocab()));

  std::vector<float> logits;
  const auto t0 = std::chrono::steady_clock::now();
  if (Status st = s.Prefill(prompt, &logits); !st.ok()) return Fail(st);
  std::vector<int32_t> generated;
  for (int i = 0; i < o.n_gen; ++i) {
    const int32_t token = sampler.Sample(logits);
    if (tok.IsEndOfGeneration(token)) break;
    generated.push_back(token);
    const std::string piece = tok.TokenToPiece(token);
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    if (i + 1 == o.n_gen) break;
    if (Status st = s.Decode(token, &logits); !st.ok()) return Fail(st);
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fputc('\n', stdout);
  if (o.show_ids) {
    std::string ids;
    for (int32_t id : generated) ids += fmt::format("{} ", id);
    fmt::print("ids: {}\n", ids);
  }
  fmt::print(stderr, "[generate] {} prompt tokens, {} generated in {:.2f} s ({})\n", prompt.size(), generated.size(),
             secs, s.backend().device_description());
  return kExitOk;
}

}  // namespace

void RegisterGenerateCommand(CLI::App& app) {
  auto o = std::make_shared<GenerateOptions>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate text from a prompt or a chat message");
  cmd->add_option("-m,--model", o->model, "GGUF model: a path, or a file name in the model cache")->required();
  cmd->add_option("--chat", o->chat, "A user message, wrapped in the model's chat template");
  cmd->add_option("--system", o->system, "A system message for --chat");
  cmd->add_option("--prompt", o->prompt, "Raw prompt text (no chat template)");
  cmd->add_option("-b,--backend", o->backend,
                  "Backend: cpu (hand-tuned kernels), cpu-xnnpack[:cache] (matmuls through XNNPACK, f32; :cache keeps "
                  "the dequantized weights on disk), opencl[:N or :name] "
                  "(OpenCL C kernels, docs/opencl.md), vulkan[:N or :name] "
                  "(Vulkan compute shaders, docs/vulkan.md) or npu (an NPU plugin "
                  "runs the matmuls it took, see --plugin/--artifact; the CPU the rest)")
      ->capture_default_str();
  cmd->add_option("--activations", o->activations,
                  "Matmul activations: f32 (exact), q8 (8-bit) or q8x2 (8-bit plus an 8-bit pass over the residue)")
      ->check(CLI::IsMember(ActivationsNames()))
      ->capture_default_str();
  cmd->add_option("-t,--threads", o->threads, "Worker threads (0: all cores)")->capture_default_str();
  cmd->add_flag("--pin", o->pin, "Bind each worker thread to one CPU (in the order this process may use them)");
  cmd->add_option("-n,--gen-tokens", o->n_gen, "Maximum tokens to generate")->capture_default_str();
  cmd->add_option("-c,--ctx", o->n_ctx, "Context size (0: prompt + generated)")->capture_default_str();
  cmd->add_option("--temp", o->sampler.temperature, "Temperature (0: greedy)")->capture_default_str();
  cmd->add_option("--top-k", o->sampler.top_k, "Top-k (0: off)")->capture_default_str();
  cmd->add_option("--top-p", o->sampler.top_p, "Top-p (1: off)")->capture_default_str();
  cmd->add_option("--min-p", o->sampler.min_p, "Min-p (0: off)")->capture_default_str();
  cmd->add_option("--seed", o->sampler.seed, "Sampling seed")->capture_default_str();
  cmd->add_flag("--ids", o->show_ids, "Also print the generated token ids");
  AddNpuBackendOptions(cmd, &o->npu);
  cmd->callback([o] { SetCommandAction([o] { return Generate(*o); }); });
}

}  // namespace tlm
