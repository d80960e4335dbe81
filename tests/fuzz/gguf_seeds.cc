// Writes the seed corpus of the GGUF fuzzer: small valid files of several shapes (synthetic
// gemma3/llama models included) and every case of the corrupt-file corpus.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/model/gguf.h"
#include "engine/model/synthetic.h"
#include "tests/engine/model/corrupt_corpus.h"

namespace {

bool Write(const std::string& dir, const std::string& name, const std::vector<uint8_t>& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

std::vector<uint8_t> Filled(size_t n, uint8_t v) { return std::vector<uint8_t>(n, v); }

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <seed-dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::filesystem::create_directories(dir);
  int n = 0;
  auto put = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    if (!Write(dir, name, bytes)) {
      std::fprintf(stderr, "error: cannot write %s/%s\n", dir.c_str(), name.c_str());
      std::exit(1);
    }
    ++n;
  };

  put("valid_base.gguf", tlm::testing::MakeCorpusBaseFile());
  {
    tlm::GgufWriter w;  // no tensors, one key of every scalar type
    w.SetU8("u8", 1); w.SetI8("i8", -1); w.SetU16("u16", 2); w.SetI16("i16", -2);
    w.SetU32("u32", 3); w.SetI32("i32", -3); w.SetU64("u64", 4); w.SetI64("i64", -4);
    w.SetF32("f32", 0.5f); w.SetF64("f64", 0.25); w.SetBool("b", true); w.SetString("s", "str");
    w.SetI32Array("ai32", {1, 2, 3});
    w.SetF32Array("af32", {1.0f});
    w.SetStringArray("as", {"x", "yy"});
    put("valid_scalars.gguf", w.Serialize());
  }
  {
    tlm::GgufWriter w;  // alignment 64, every block geometry
    w.set_alignment(64);
    w.SetString("general.architecture", "llama");
    w.AddTensor("f32", tlm::DType::kF32, {4, 2}, Filled(32, 0));
    w.AddTensor("f16", tlm::DType::kF16, {8}, Filled(16, 0x3c));
    w.AddTensor("q4_0", tlm::DType::kQ4_0, {32}, Filled(18, 0x11));
    w.AddTensor("q8_0", tlm::DType::kQ8_0, {32, 1, 1, 2}, Filled(68, 0x22));
    w.AddTensor("q4_k", tlm::DType::kQ4_K, {256}, Filled(144, 0x33));
    w.AddTensor("q6_k", tlm::DType::kQ6_K, {256}, Filled(210, 0x44));
    w.AddTensor("bf16", tlm::DType::kBF16, {2}, Filled(4, 0x3f));
    put("valid_align64.gguf", w.Serialize());
    auto v2 = w.Serialize();
    v2[4] = 2;
    put("valid_v2.gguf", v2);
  }
  for (const char* arch : {"gemma3", "llama"}) {
    tlm::SyntheticModelSpec s;
    s.arch = arch;
    s.layers = 1;
    s.embd = 32;
    s.ff = 64;
    s.heads = 2;
    s.kv_heads = 1;
    s.head_dim = 16;
    s.vocab = tlm::MinSyntheticVocab(arch) + 20;
    s.type = tlm::DType::kQ8_0;
    auto w = tlm::BuildSyntheticModel(s);
    if (!w.ok()) {
      std::fprintf(stderr, "error: %s\n", w.status().ToString().c_str());
      return 1;
    }
    put(std::string("synthetic_") + arch + ".gguf", w->Serialize());
  }
  for (const tlm::testing::CorruptCase& c : tlm::testing::MakeCorruptCorpus()) {
    put("corrupt_" + c.name + ".gguf", c.bytes);
  }
  std::printf("wrote %d seeds to %s\n", n, dir.c_str());
  return 0;
}
