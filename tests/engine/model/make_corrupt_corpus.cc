// Writes the corrupt-GGUF corpus into a directory: `tlm_make_corrupt_corpus <dir>`.
#include <cstdio>

#include "tests/engine/model/corrupt_corpus.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output-dir>\n", argv[0]);
    return 2;
  }
  const tlm::Status st = tlm::testing::WriteCorruptCorpus(argv[1]);
  if (!st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("wrote %zu cases to %s\n", tlm::testing::MakeCorruptCorpus().size(), argv[1]);
  return 0;
}
