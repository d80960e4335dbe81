// Random benchmark prompts (see random_prompt.h).
#include "engine/session/random_prompt.h"

#include <random>

namespace tlm {

std::vector<int32_t> MakeRandomPrompt(const Tokenizer& tokenizer, int n_tokens, uint64_t seed) {
  std::vector<int32_t> normal;
  const Vocab& v = tokenizer.vocab();
  for (int32_t id = 0; id < static_cast<int32_t>(v.kinds.size()); ++id)
    if (v.kinds[id] == TokenKind::kNormal) normal.push_back(id);
  if (normal.empty())
    for (int32_t id = 0; id < tokenizer.n_vocab(); ++id) normal.push_back(id);
  std::mt19937_64 rng(seed);
  std::vector<int32_t> prompt;
  if (v.add_bos && v.bos >= 0) prompt.push_back(v.bos);
  while (static_cast<int>(prompt.size()) < n_tokens) prompt.push_back(normal[rng() % normal.size()]);
  return prompt;
}

}  // namespace tlm
