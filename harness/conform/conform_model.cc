// The end-to-end cases of the conformance suite on a real model: teacher-forced logits over a fixed
// text against the CPU f32 reference (mean KL divergence, top-1 agreement, perplexity ratio), and
// greedy generation of a chat answer on both backends (same token ids).
#include <chrono>
#include <cmath>
#include <filesystem>

#include <fmt/format.h>

#include "devices/worker/workload.h"
#include "engine/model/model.h"
#include "engine/session/logit_agreement.h"
#include "engine/session/session.h"
#include "engine/tokenizer/tokenizer.h"
#include "harness/conform/conform_internal.h"

namespace tlm::conform {
namespace {

constexpr const char* kChatPrompt = "Write a short story about a lighthouse keeper who finds a message in a bottle.";

double Since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string Detokenize(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  std::string text;
  for (int32_t id : ids) text += tok.TokenToPiece(id);
  return text;
}

// Greedy decoding of up to n tokens after `prompt` (stops after an end-of-generation token).
Status Greedy(Session& s, const Tokenizer& tok, const std::vector<int32_t>& prompt, int n, std::vector<int32_t>* out) {
  s.Reset();
  std::vector<float> logits;
  TLM_RETURN_IF_ERROR(s.Prefill(prompt, &logits));
  for (int i = 0; i < n; ++i) {
    const int32_t token = static_cast<int32_t>(Argmax(logits));
    out->push_back(token);
    if (tok.IsEndOfGeneration(token) || i + 1 == n) break;
    TLM_RETURN_IF_ERROR(s.Decode(token, &logits));
  }
  return Status::Ok();
}

}  // namespace

std::vector<std::string> ModelCaseNames() { return {"model.teacher_forced", "model.greedy"}; }

StatusOr<std::vector<ConformCase>> RunModelCases(const ConformOptions& options, const std::regex* filter) {
  std::vector<ConformCase> cases;
  const bool want_tf = filter == nullptr || std::regex_search("model.teacher_forced", *filter);
  const bool want_greedy = filter == nullptr || std::regex_search("model.greedy", *filter);
  if (!want_tf && !want_greedy) return cases;
  auto t0 = std::chrono::steady_clock::now();
  if (options.progress) options.progress(fmt::format("loading {}", options.model_path));
  TLM_ASSIGN_OR_RETURN(std::unique_ptr<Model> model, Model::Load(options.model_path));
  const Tokenizer& tok = model->tokenizer();
  const std::string model_name = std::filesystem::path(options.model_path).filename().string();

  std::vector<int32_t> text = tok.Encode(AccuracyText(), /*add_bos=*/true, /*parse_special=*/false);
  const int64_t limit = options.text_tokens > 0 ? options.text_tokens : options.quick ? 128 : 512;
  if (static_cast<int64_t>(text.size()) > limit) text.resize(static_cast<size_t>(limit));
  if (text.size() < 2) return InvalidArgument("the fixed text gives fewer than 2 tokens with {}", model_name);

  const std::vector<ChatMessage> messages = {{"user", kChatPrompt}};
  TLM_ASSIGN_OR_RETURN(std::string chat, ApplyChatTemplate(tok.vocab(), messages, /*add_generation_prompt=*/true));
  const std::vector<int32_t> prompt = tok.Encode(chat, /*add_bos=*/true, /*parse_special=*/true);
  const int64_t n_ctx =
      std::max<int64_t>(static_cast<int64_t>(text.size()), static_cast<int64_t>(prompt.size()) + options.gen_tokens);

  SessionOptions ref_options;
  ref_options.backend = "cpu";
  ref_options.threads = options.threads;
  ref_options.n_ctx = n_ctx;
  SessionOptions test_options = ref_options;
  test_options.backend = options.backend;
  test_options.activations = options.activations;
  TLM_ASSIGN_OR_RETURN(std::unique_ptr<Session> ref, Session::Create(*model, ref_options));
  auto test_or = Session::Create(*model, test_options);
  const double load_s = Since(t0);
  const int64_t n_vocab = model->config().n_vocab;

  if (want_tf) {
    t0 = std::chrono::steady_clock::now();
    ConformCase c =
        NewCase("model.teacher_forced", "model", model_name, fmt::format("tokens={} vocab={}", text.size(), n_vocab));
    const std::string what = fmt::format("model {} teacher-forced over {} tokens", model_name, text.size());
    if (options.progress) options.progress(fmt::format("{} on {} and on the CPU reference", what, options.backend));
    std::vector<float> want, got;
    Status st = test_or.ok() ? (*test_or)->Prefill(text, &got, /*all_logits=*/true) : test_or.status();
    if (!st.ok()) {
      c.message = fmt::format("{}: {}", what, st.message());
    } else {
      TLM_RETURN_IF_ERROR(ref->Prefill(text, &want, /*all_logits=*/true));
      const LogitAgreement a = CompareLogits(want, got, n_vocab);
      const double ppl_ref = Perplexity(want, n_vocab, text), ppl_test = Perplexity(got, n_vocab, text);
      c.kld = a.kld_mean;
      c.top1 = a.top1_agree;
      c.ppl_ratio = ppl_test / ppl_ref;
      c.elements = static_cast<int64_t>(want.size());
      double max_err = 0;
      for (size_t i = 0; i < want.size() && i < got.size(); ++i)
        if (!(std::abs(got[i] - want[i]) <= max_err)) max_err = std::abs(got[i] - want[i]);
      c.max_abs_err = max_err;
      std::vector<std::string> bad;
      if (!(c.kld < kMaxMeanKld)) bad.push_back(fmt::format("mean KLD {:.4g} >= {:g}", c.kld, kMaxMeanKld));
      if (!(c.top1 >= kMinTop1)) bad.push_back(fmt::format("top-1 {:.2f}% < {:g}%", 100 * c.top1, 100 * kMinTop1));
      if (!(std::abs(c.ppl_ratio - 1) <= kMaxPplDrift))
        bad.push_back(fmt::format("perplexity ratio {:.4f} outside 1 ± {:g}", c.ppl_ratio, kMaxPplDrift));
      c.pass = bad.empty();
      c.message = fmt::format("{}: mean KLD {:.3g}, top-1 {:.2f}%, ppl {:.4f} vs {:.4f} (ratio {:.4f})", what, c.kld,
                              100 * c.top1, ppl_test, ppl_ref, c.ppl_ratio);
      if (!c.pass) {
        std::string why;
        for (const std::string& b : bad) why += (why.empty() ? "" : "; ") + b;
        c.message = fmt::format("{}: {} (ppl {:.4f} vs reference {:.4f})", what, why, ppl_test, ppl_ref);
      }
    }
    c.seconds = Since(t0) + load_s;
    cases.push_back(std::move(c));
  }

  if (want_greedy) {
    t0 = std::chrono::steady_clock::now();
    ConformCase c =
        NewCase("model.greedy", "model", model_name, fmt::format("prompt={} gen={}", prompt.size(), options.gen_tokens));
    const std::string what =
        fmt::format("model {} greedy {} tokens after a {}-token chat prompt", model_name, options.gen_tokens,
                    prompt.size());
    if (options.progress) options.progress(what);
    std::vector<int32_t> want, got;
    Status st = test_or.ok() ? Greedy(**test_or, tok, prompt, options.gen_tokens, &got) : test_or.status();
    if (!st.ok()) {
      c.message = fmt::format("{}: {}", what, st.message());
    } else {
      TLM_RETURN_IF_ERROR(Greedy(*ref, tok, prompt, options.gen_tokens, &want));
      size_t same = 0;
      while (same < want.size() && same < got.size() && want[same] == got[same]) ++same;
      c.pass = same == want.size() && same == got.size();
      c.top1 = want.empty() ? NAN : static_cast<double>(same) / static_cast<double>(want.size());
      c.detail = fmt::format("reference: {}\n{:>9}: {}", Detokenize(tok, want), options.backend, Detokenize(tok, got));
      if (c.pass) {
        c.message = fmt::format("{}: the same {} token ids", what, want.size());
      } else if (same < want.size() && same < got.size()) {
        c.message = fmt::format("{}: first difference at token {}: got {} '{}', want {} '{}'", what, same,
                                got[same], tok.TokenToPiece(got[same]), want[same], tok.TokenToPiece(want[same]));
      } else {
        c.message = fmt::format("{}: {} tokens, want {} (the first {} agree)", what, got.size(), want.size(), same);
      }
    }
    c.seconds = Since(t0);
    cases.push_back(std::move(c));
  }
  return cases;
}

}  // namespace tlm::conform
