// Metadata helpers shared by the architecture readers.
#include "engine/arch/config_reader.h"

namespace tlm {

StatusOr<int64_t> ReadVocabSize(const GgufFile& file) {
  const GgufValue* tokens = file.Find("tokenizer.ggml.tokens");
  if (tokens == nullptr) return DataLoss("{}: missing tokenizer.ggml.tokens (no vocabulary)", file.path());
  auto* list = std::get_if<std::vector<std::string>>(&tokens->data);
  if (list == nullptr || list->empty())
    return DataLoss("{}: tokenizer.ggml.tokens at offset {} is not a non-empty string array", file.path(),
                    tokens->file_offset);
  return static_cast<int64_t>(list->size());
}

}  // namespace tlm
