// The cpu-xnnpack backend against the cpu backend on synthetic models: logits of prefill and
// decode (f32, f16 and quantized weights, tied and untied output) within atol + rtol * |ref|, and
// clear errors for bad input. The real models are in xnnpack_golden_test.cc.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "tests/support/tolerance.h"
#include "engine/backend/backend.h"
#include "engine/model/model.h"
#include "engine/model/synthetic.h"
#include "engine/session/session.h"
#include "kernels/xnnpack/weight_cache.h"

namespace tlm {
namespace {

namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "tlmbench-xnnpack-test";
  fs::create_directories(dir);
  return (dir / name).string();
}

std::unique_ptr<Model> LoadSynthetic(const SyntheticModelSpec& spec, const std::string& name) {
  const std::string path = TempPath(name);
  Status s = WriteSyntheticModel(spec, path);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto model = Model::Load(path);
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  return model.ok() ? std::move(model).value() : nullptr;
}

std::vector<int32_t> RandomTokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int32_t> dist(0, vocab - 1);
  std::vector<int32_t> t(n);
  for (auto& x : t) x = dist(rng);
  return t;
}

using testing::Mismatches;

TEST(XnnpackBackendTest, IsRegisteredAndRunsHere) {
  bool found = false;
  for (const BackendRegistration* r : RegisteredBackends())
    if (r->name == "cpu-xnnpack") {
      found = true;
      Status probe = r->probe();
      EXPECT_TRUE(probe.ok()) << probe.ToString();
    }
  EXPECT_TRUE(found);
  BackendOptions two_threads;
  two_threads.threads = 2;
  auto b = CreateBackend("cpu-xnnpack", two_threads);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*b)->name(), "cpu-xnnpack");
  EXPECT_NE((*b)->device_description().find("2 threads"), std::string::npos) << (*b)->device_description();
}

struct Case {
  std::string arch;
  DType type;
  bool tie;
};

class XnnpackMatchesCpuTest : public ::testing::TestWithParam<Case> {};

TEST_P(XnnpackMatchesCpuTest, PrefillAndDecodeLogits) {
  const Case& c = GetParam();
  SyntheticModelSpec spec;
  spec.arch = c.arch;
  spec.layers = c.arch == "gemma3" ? 6 : 2;
  spec.embd = 256;  // K-quants need rows of 256
  spec.ff = 512;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.head_dim = 64;
  spec.vocab = 600;
  spec.type = c.type;
  spec.seed = 11;
  spec.context_length = 256;
  spec.sliding_window = 5;
  spec.tie_embeddings = c.tie;
  auto model = LoadSynthetic(spec, fmt::format("{}-{}-{}.gguf", c.arch, DTypeName(c.type), c.tie));
  ASSERT_NE(model, nullptr);
  const auto tokens = RandomTokens(20, spec.vocab, 3);
  const int64_t V = model->config().n_vocab;

  auto run = [&](const std::string& backend, std::vector<float>* prefill, std::vector<float>* decode) {
    auto s = Session::Create(*model, {.backend = backend, .threads = 2, .n_ctx = 64, .prefill_chunk = 8});
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    if (backend == "cpu-xnnpack") {  // every matmul weight went to XNNPACK: 7 per layer, plus the output
      const int weights = spec.layers * 7 + 1;
      EXPECT_NE((*s)->backend().device_description().find(fmt::format("; {} weights", weights)), std::string::npos)
          << (*s)->backend().device_description();
    }
    // Prefill 16 tokens in chunks of 8 (all rows), then decode 4 one by one.
    ASSERT_TRUE((*s)->Prefill(std::span<const int32_t>(tokens).first(16), prefill, true).ok());
    std::vector<float> step;
    for (size_t i = 16; i < tokens.size(); ++i) {
      ASSERT_TRUE((*s)->Decode(tokens[i], &step).ok());
      decode->insert(decode->end(), step.begin(), step.end());
    }
  };
  std::vector<float> ref_prefill, ref_decode, x_prefill, x_decode;
  run("cpu", &ref_prefill, &ref_decode);
  run("cpu-xnnpack", &x_prefill, &x_decode);
  ASSERT_EQ(ref_prefill.size(), static_cast<size_t>(16 * V));
  ASSERT_EQ(ref_decode.size(), static_cast<size_t>(4 * V));
  // Both multiply f32 activations by the same dequantized f32 weights; only summation order differs.
  constexpr float kAtol = 2e-3f, kRtol = 2e-3f;
  double max_abs = 0;
  EXPECT_EQ(Mismatches(x_prefill, ref_prefill, kAtol, kRtol, &max_abs), 0) << "prefill max |diff| " << max_abs;
  EXPECT_EQ(Mismatches(x_decode, ref_decode, kAtol, kRtol, &max_abs), 0) << "decode max |diff| " << max_abs;
}

INSTANTIATE_TEST_SUITE_P(Models, XnnpackMatchesCpuTest,
                         ::testing::Values(Case{"gemma3", DType::kF32, true}, Case{"gemma3", DType::kQ4_K, true},
                                           Case{"gemma3", DType::kQ8_0, true}, Case{"llama", DType::kQ4_1, false},
                                           Case{"llama", DType::kF16, true}),
                         [](const auto& info) {
                           return info.param.arch + "_" + std::string(DTypeName(info.param.type)) +
                                  (info.param.tie ? "_tied" : "_untied");
                         });

TEST(XnnpackBackendTest, ClearErrors) {
  // A device part other than the cache option is not accepted.
  auto b = CreateBackend("cpu-xnnpack:1", {});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().ToString().find("unknown option '1' in 'cpu-xnnpack:1' (options: cache, cache=DIR)"),
            std::string::npos)
      << b.status().ToString();
  // A cache folder that cannot be made fails at once, naming it.
  const std::string file = TempPath("not-a-folder");
  std::FILE* f = std::fopen(file.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto c = CreateBackend("cpu-xnnpack:cache=" + file + "/cache", {});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().ToString().find("cannot create the weight cache folder " + file + "/cache"), std::string::npos)
      << c.status().ToString();
  // Out-of-range threads.
  BackendOptions negative;
  negative.threads = -3;
  auto t = CreateBackend("cpu-xnnpack", negative);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.status().ToString().find("out of range"), std::string::npos) << t.status().ToString();

  SyntheticModelSpec spec;
  spec.layers = 1;
  spec.vocab = MinSyntheticVocab("gemma3");
  auto model = LoadSynthetic(spec, "errors.gguf");
  ASSERT_NE(model, nullptr);
  auto s = Session::Create(*model, {.backend = "cpu-xnnpack", .threads = 1, .n_ctx = 16});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::vector<float> logits;
  // Token ids outside the vocabulary are rejected by the shared executable.
  const std::vector<int32_t> bad = {1, static_cast<int32_t>(spec.vocab) + 5};
  Status st = (*s)->Prefill(bad, &logits);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find("outside the vocabulary"), std::string::npos) << st.ToString();

  // A corrupt model file fails to load with a clear error before any backend runs.
  const std::string path = TempPath("corrupt.gguf");
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::fputs("GGUF not really", f);
    std::fclose(f);
  }
  auto corrupt = Model::Load(path);
  ASSERT_FALSE(corrupt.ok());
  EXPECT_FALSE(corrupt.status().ToString().empty());
}

TEST(XnnpackWeightCacheTest, HashTellsBytesAndLengthsApart) {
  std::vector<uint8_t> bytes(1000);
  std::mt19937 rng(5);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  const uint64_t h = xnnpack::HashBytes(bytes.data(), bytes.size());
  EXPECT_EQ(h, xnnpack::HashBytes(bytes.data(), bytes.size()));
  for (size_t at : {size_t{0}, size_t{31}, size_t{500}, size_t{990}, size_t{999}}) {  // body and tail
    std::vector<uint8_t> flipped = bytes;
    flipped[at] ^= 1;
    EXPECT_NE(h, xnnpack::HashBytes(flipped.data(), flipped.size())) << "bit flipped at " << at;
  }
  // A tail and the same tail with a zero byte more (the zero padding of the last word).
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_NE(h, xnnpack::HashBytes(longer.data(), longer.size()));
  EXPECT_NE(xnnpack::HashBytes(bytes.data(), 0), xnnpack::HashBytes(longer.data() + 999, 1));
}

// `cpu-xnnpack:cache=DIR`: a cold load writes one file per quantized matrix, a warm one maps them
// all, and a damaged file is a miss that is written anew; the logits are those of the uncached
// backend, bit for bit, every time.
TEST(XnnpackWeightCacheTest, ColdWarmAndDamagedFilesGiveTheSameLogits) {
  SyntheticModelSpec spec;
  spec.arch = "gemma3";
  spec.layers = 2;
  spec.embd = 256;
  spec.ff = 512;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.head_dim = 64;
  spec.vocab = 600;
  spec.type = DType::kQ4_K;
  spec.seed = 23;
  spec.tie_embeddings = true;
  auto model = LoadSynthetic(spec, "cache-q4_k.gguf");
  ASSERT_NE(model, nullptr);
  const std::string dir = TempPath("weight-cache");
  fs::remove_all(dir);
  const auto tokens = RandomTokens(12, spec.vocab, 9);
  struct Load {
    std::vector<float> logits;
    BackendLoadInfo info;
    std::string description;
  };
  auto run = [&](const std::string& backend) {
    Load out;
    auto s = Session::Create(*model, {.backend = backend, .threads = 2, .n_ctx = 32});
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return out;
    std::vector<float> step;
    EXPECT_TRUE((*s)->Prefill(std::span<const int32_t>(tokens).first(8), &out.logits, true).ok());
    for (size_t i = 8; i < tokens.size(); ++i) {
      EXPECT_TRUE((*s)->Decode(tokens[i], &step).ok());
      out.logits.insert(out.logits.end(), step.begin(), step.end());
    }
    out.info = (*s)->backend().load_info();
    out.description = (*s)->backend().device_description();
    return out;
  };
  auto cache_files = [&] {
    std::vector<fs::path> files;
    if (fs::exists(dir))
      for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
  };
  const int matrices = spec.layers * 7 + 1;  // every matmul weight is Q4_K, the tied output too

  const Load plain = run("cpu-xnnpack");
  EXPECT_FALSE(plain.info.has_cache);
  const Load cold = run("cpu-xnnpack:cache=" + dir);
  EXPECT_TRUE(cold.info.has_cache);
  EXPECT_FALSE(cold.info.cache_warm);
  EXPECT_EQ(cold.info.cache_path, dir);
  EXPECT_NE(cold.description.find(fmt::format("0 of {} from it", matrices)), std::string::npos) << cold.description;
  const auto files = cache_files();
  ASSERT_EQ(files.size(), static_cast<size_t>(matrices));  // no temporary left behind
  for (const fs::path& f : files) EXPECT_EQ(f.extension(), ".f32") << f;

  const Load warm = run("cpu-xnnpack:cache=" + dir);
  EXPECT_TRUE(warm.info.cache_warm);
  EXPECT_NE(warm.description.find(fmt::format("{} of {} from it", matrices, matrices)), std::string::npos)
      << warm.description;

  // One file cut short and one whose header names other source bytes: two misses, written anew.
  fs::resize_file(files[0], fs::file_size(files[0]) - 4);
  {
    std::FILE* f = std::fopen(files[1].c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 40, SEEK_SET);  // source_hash in the header
    std::fputc(0x5a, f);
    std::fclose(f);
  }
  const Load repaired = run("cpu-xnnpack:cache=" + dir);
  EXPECT_FALSE(repaired.info.cache_warm);
  EXPECT_NE(repaired.description.find(fmt::format("{} of {} from it", matrices - 2, matrices)), std::string::npos)
      << repaired.description;
  EXPECT_EQ(cache_files(), files);
  const Load warm_again = run("cpu-xnnpack:cache=" + dir);
  EXPECT_TRUE(warm_again.info.cache_warm);

  ASSERT_EQ(plain.logits.size(), static_cast<size_t>(12 * spec.vocab));
  for (const Load* l : {&cold, &warm, &repaired, &warm_again})
    EXPECT_EQ(l->logits, plain.logits) << "the cache changed the logits";
  fs::remove_all(dir);
}

}  // namespace
}  // namespace tlm
