// Proves the decode loop allocates nothing: this binary replaces the global operator new with a
// counting one, and a decode step plus sampling after warm-up must not call it.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "engine/model/model.h"
#include "engine/model/synthetic.h"
#include "engine/session/sampler.h"
#include "engine/session/session.h"

namespace {
std::atomic<long> g_allocations{0};
}  // namespace

void* operator new(size_t size) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace tlm {
namespace {

void ExpectDecodeAllocatesNothing(const std::string& arch, Activations activations, int threads) {
  SyntheticModelSpec spec;
  spec.arch = arch;
  spec.layers = 6;
  spec.embd = 256;
  spec.ff = 512;
  spec.heads = 4;
  spec.kv_heads = 2;
  spec.head_dim = 64;
  spec.vocab = 600;
  spec.type = DType::kQ4_K;
  spec.sliding_window = 8;
  const std::string path = (std::filesystem::temp_directory_path() / ("tlmbench-noalloc-" + arch + ".gguf")).string();
  ASSERT_TRUE(WriteSyntheticModel(spec, path).ok());
  auto model = Model::Load(path);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  auto session = Session::Create(**model, {.threads = threads, .n_ctx = 64, .activations = activations});
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  Sampler sampler(SamplerConfig{.temperature = 0.8f, .top_k = 40, .top_p = 0.95f, .min_p = 0.05f, .seed = 1},
                  spec.vocab);
  std::vector<float> logits;
  std::vector<int32_t> prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  ASSERT_TRUE((*session)->Prefill(prompt, &logits).ok());
  int32_t token = sampler.Sample(logits);
  // Warm-up: the attention scratch grows to the longest window once.
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE((*session)->Decode(token, &logits).ok());
    token = sampler.Sample(logits);
  }
  const long before = g_allocations.load();
  for (int i = 0; i < 24; ++i) {
    Status s = (*session)->Decode(token, &logits);
    if (!s.ok()) FAIL() << s.ToString();
    token = sampler.Sample(logits);
  }
  EXPECT_EQ(g_allocations.load() - before, 0) << arch << ": heap allocations in 24 decode steps";
}

TEST(NoAllocation, DecodeLoopGemma3F32Activations) { ExpectDecodeAllocatesNothing("gemma3", Activations::kF32, 2); }
TEST(NoAllocation, DecodeLoopGemma3Q8Activations) { ExpectDecodeAllocatesNothing("gemma3", Activations::kQ8, 2); }
TEST(NoAllocation, DecodeLoopGemma3Q8x2Activations) { ExpectDecodeAllocatesNothing("gemma3", Activations::kQ8x2, 2); }
TEST(NoAllocation, DecodeLoopLlamaOneThread) { ExpectDecodeAllocatesNothing("llama", Activations::kF32, 1); }

}  // namespace
}  // namespace tlm
