// Prompt tokens as llama-bench makes them: random ids drawn from the normal (non-control) tokens,
// after BOS when the model adds one. Same seed, same prompt.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/tokenizer/tokenizer.h"

namespace tlm {

std::vector<int32_t> MakeRandomPrompt(const Tokenizer& tokenizer, int n_tokens, uint64_t seed);

}  // namespace tlm
