// Golden-data helper (built by make_tokenizer_golden.py against a llama.cpp checkout, never by
// our build): prints, for every token of a model, llama.cpp's piece with and without special
// rendering and whether the token ends generation, one line per token:
//   <id> <is_eog> <hex of piece, special=false> <hex of piece, special=true>
// An empty piece is written as "-".
#include <cstdio>
#include <string>

#include "llama.h"

namespace {

void Quiet(ggml_log_level, const char*, void*) {}

std::string Piece(const llama_vocab* vocab, llama_token id, bool special) {
  std::string buf(64, '\0');
  int n = llama_token_to_piece(vocab, id, buf.data(), static_cast<int32_t>(buf.size()), 0, special);
  if (n < 0) {
    buf.resize(static_cast<size_t>(-n));
    n = llama_token_to_piece(vocab, id, buf.data(), static_cast<int32_t>(buf.size()), 0, special);
  }
  buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
  return buf;
}

std::string Hex(const std::string& s) {
  if (s.empty()) return "-";
  std::string out;
  char byte[3];
  for (unsigned char c : s) {
    std::snprintf(byte, sizeof byte, "%02x", c);
    out += byte;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s MODEL.gguf\n", argv[0]);
    return 2;
  }
  llama_log_set(Quiet, nullptr);
  llama_backend_init();
  llama_model_params params = llama_model_default_params();
  params.vocab_only = true;
  llama_model* model = llama_model_load_from_file(argv[1], params);
  if (model == nullptr) {
    std::fprintf(stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int32_t n = llama_vocab_n_tokens(vocab);
  for (llama_token id = 0; id < n; ++id) {
    std::printf("%d %d %s %s\n", id, llama_vocab_is_eog(vocab, id) ? 1 : 0,
                Hex(Piece(vocab, id, false)).c_str(), Hex(Piece(vocab, id, true)).c_str());
  }
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
