// Private to engine/tokenizer/: the factories of the concrete tokenizers.
#pragma once

#include <memory>

#include "engine/tokenizer/tokenizer.h"

namespace tlm::tokenizer_internal {

StatusOr<std::unique_ptr<Tokenizer>> CreateSpmTokenizer(Vocab vocab);
StatusOr<std::unique_ptr<Tokenizer>> CreateBpeTokenizer(Vocab vocab);

}  // namespace tlm::tokenizer_internal
