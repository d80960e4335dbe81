// Google Benchmark of the CPU kernels of each dispatch table (reference, AVX2): VecDotQ8 per
// weight type as a matrix-vector product over Gemma 3 270M row lengths, in weight bytes/s, and
// the prefill GEMMs (GemmQ8 against one vec_dot per output, GemmF32) in ops/s.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/tensor/dtype.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/ref/quant.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace tlm::cpu {
namespace {

// Rows per matrix: enough that the weights (0.2..2 MiB) leave L1, as in a real matmul.
constexpr int64_t kRows = 256;

std::vector<float> RandomRow(std::mt19937& rng, int64_t n) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (float& v : x) v = normal(rng);
  return x;
}

void BM_VecDotQ8(benchmark::State& state, const CpuKernels* kernels, DType type) {
  const int64_t n = state.range(0);
  uint64_t row_bytes = 0;
  if (!ElemsToBytes(type, static_cast<uint64_t>(n), &row_bytes)) {
    state.SkipWithError("length is not a multiple of the block size");
    return;
  }
  std::mt19937 rng(42);
  std::vector<uint8_t> weights(row_bytes * kRows);
  for (int64_t r = 0; r < kRows; ++r) {
    const std::vector<float> w = RandomRow(rng, n);
    if (!ref::QuantizeRow(type, w.data(), weights.data() + r * row_bytes, n).ok()) {
      state.SkipWithError("QuantizeRow failed");
      return;
    }
  }
  const std::vector<float> x = RandomRow(rng, n);
  std::vector<ref::BlockQ8> xq(static_cast<size_t>(n / ref::kQ8Block));
  ref::QuantizeRowQ8(x.data(), xq.data(), n);
  const VecDotQ8Fn dot = kernels->VecDotQ8For(type);
  std::vector<float> out(kRows);
  for (auto _ : state) {
    for (int64_t r = 0; r < kRows; ++r) out[r] = dot(weights.data() + r * row_bytes, xq.data(), n);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kRows * static_cast<int64_t>(row_bytes));
  state.counters["rows"] = static_cast<double>(kRows);
}

void BM_QuantizeRowQ8(benchmark::State& state, const CpuKernels* kernels) {
  const int64_t n = state.range(0);
  std::mt19937 rng(7);
  const std::vector<float> x = RandomRow(rng, n);
  std::vector<ref::BlockQ8> xq(static_cast<size_t>(n / ref::kQ8Block));
  for (auto _ : state) {
    kernels->quantize_row_q8(x.data(), xq.data(), n);
    benchmark::DoNotOptimize(xq.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 4);
}

void BM_DotF32(benchmark::State& state, const CpuKernels* kernels) {
  const int64_t n = state.range(0);
  std::mt19937 rng(9);
  const std::vector<float> a = RandomRow(rng, n), b = RandomRow(rng, n);
  for (auto _ : state) benchmark::DoNotOptimize(kernels->dot_f32(a.data(), b.data(), n));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * n * 4);
}

// Activation rows of the GEMM benchmarks: a chunk of a prefill.
constexpr int64_t kGemmActivationRows = 64;

std::vector<uint8_t> RandomWeights(std::mt19937& rng, DType type, int64_t n, uint64_t row_bytes) {
  std::vector<uint8_t> weights(row_bytes * kRows);
  for (int64_t r = 0; r < kRows; ++r) {
    const std::vector<float> w = RandomRow(rng, n);
    if (!ref::QuantizeRow(type, w.data(), weights.data() + r * row_bytes, n).ok()) return {};
  }
  return weights;
}

// kRows weight rows times kGemmActivationRows quantized activation rows: through gemm_q8, or
// (by_vec_dot) as the backend did before it, one vec_dot_q8 per output. Counter "ops": 2 per
// multiply-add, per second.
void BM_GemmQ8(benchmark::State& state, const CpuKernels* kernels, DType type, bool by_vec_dot) {
  const int64_t n = state.range(0);
  uint64_t row_bytes = 0;
  if (!ElemsToBytes(type, static_cast<uint64_t>(n), &row_bytes)) {
    state.SkipWithError("length is not a multiple of the block size");
    return;
  }
  std::mt19937 rng(42);
  const std::vector<uint8_t> weights = RandomWeights(rng, type, n, row_bytes);
  if (weights.empty()) {
    state.SkipWithError("QuantizeRow failed");
    return;
  }
  const int64_t nb = n / ref::kQ8Block;
  std::vector<ref::BlockQ8> xq(static_cast<size_t>(nb * kGemmActivationRows));
  for (int64_t r = 0; r < kGemmActivationRows; ++r) {
    const std::vector<float> x = RandomRow(rng, n);
    ref::QuantizeRowQ8(x.data(), xq.data() + r * nb, n);
  }
  std::vector<float> out(static_cast<size_t>(kRows * kGemmActivationRows));
  const GemmQ8Fn gemm = kernels->GemmQ8For(type);
  const VecDotQ8Fn dot = kernels->VecDotQ8For(type);
  for (auto _ : state) {
    if (by_vec_dot) {
      for (int64_t o = 0; o < kRows; ++o)
        for (int64_t r = 0; r < kGemmActivationRows; ++r)
          out[r * kRows + o] = dot(weights.data() + o * row_bytes, xq.data() + r * nb, n);
    } else {
      gemm(weights.data(), row_bytes, kRows, xq.data(), kGemmActivationRows, n, out.data(), kRows);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["ops"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(kRows * kGemmActivationRows * n),
      benchmark::Counter::kIsRate);
}

// The f32 micro-kernel alone: kRows f32 weight rows (already dequantized) times
// kGemmActivationRows f32 activation rows. Counter "flops".
void BM_GemmF32(benchmark::State& state, const CpuKernels* kernels) {
  const int64_t n = state.range(0);
  std::mt19937 rng(11);
  const std::vector<float> w = RandomRow(rng, n * kRows), x = RandomRow(rng, n * kGemmActivationRows);
  std::vector<float> out(static_cast<size_t>(kRows * kGemmActivationRows));
  for (auto _ : state) {
    kernels->gemm_f32(w.data(), n, kRows, x.data(), n, kGemmActivationRows, n, out.data(), kRows);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["flops"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(kRows * kGemmActivationRows * n),
      benchmark::Counter::kIsRate);
}

// Machine ceiling: read bandwidth, STREAM-like. Sums a buffer far larger than the caches with
// eight independent partial sums; bytes_per_second is the sustained read rate from memory.
void BM_ReadBandwidth(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  std::vector<float> buffer(bytes / sizeof(float));
  for (size_t i = 0; i < buffer.size(); ++i) buffer[i] = static_cast<float>(i & 1023);
  for (auto _ : state) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (size_t i = 0; i + 8 <= buffer.size(); i += 8)
      for (int j = 0; j < 8; ++j) acc[j] += buffer[i + j];
    benchmark::DoNotOptimize(acc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(bytes));
}

#if defined(__x86_64__)
// Machine ceiling: peak f32 FMA throughput of one core, ten independent 8-wide FMA chains (enough
// to cover the latency of two FMA pipes). Reported as flops (2 per lane per FMA) per second.
__attribute__((target("avx2,fma"), noinline)) float FmaChains(int64_t iterations) {
  __m256 acc[10];
  for (int j = 0; j < 10; ++j) acc[j] = _mm256_set1_ps(0.001f * static_cast<float>(j));
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  for (int64_t i = 0; i < iterations; ++i) {
    for (int j = 0; j < 10; ++j) acc[j] = _mm256_fmadd_ps(acc[j], a, b);
    // An empty asm that "changes" the accumulators: no instruction, but the chains cannot be folded.
    for (int j = 0; j < 10; ++j) asm volatile("" : "+x"(acc[j]));
  }
  __m256 sum = acc[0];
  for (int j = 1; j < 10; ++j) sum = _mm256_add_ps(sum, acc[j]);
  float out[8];
  _mm256_storeu_ps(out, sum);
  return out[0];
}

void BM_PeakFmaF32(benchmark::State& state) {
  constexpr int64_t kIterations = 1 << 20;
  for (auto _ : state) benchmark::DoNotOptimize(FmaChains(kIterations));
  state.counters["flops"] = benchmark::Counter(static_cast<double>(state.iterations()) * kIterations * 10 * 8 * 2,
                                               benchmark::Counter::kIsRate);
}
#endif

void RegisterAll() {
  benchmark::RegisterBenchmark("Ceiling/ReadBandwidth", BM_ReadBandwidth)->Arg(256)->Unit(benchmark::kMillisecond);
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    benchmark::RegisterBenchmark("Ceiling/PeakFmaF32", BM_PeakFmaF32)->Unit(benchmark::kMillisecond);
#endif
  std::vector<const CpuKernels*> tables = {&ReferenceCpuKernels()};
  if (const CpuKernels* avx2 = Avx2CpuKernels()) tables.push_back(avx2);
  if (const CpuKernels* neon = NeonCpuKernels()) tables.push_back(neon);
  if (const CpuKernels* neon_dotprod = NeonDotprodCpuKernels()) tables.push_back(neon_dotprod);
  // Weight types of Gemma 3 270M (Q8_0, Q5_0, Q4_K, Q6_K) and SmolLM2 (Q4_1, Q8_0), plus Q4_0.
  const DType types[] = {DType::kQ8_0, DType::kQ4_0, DType::kQ4_1, DType::kQ5_0, DType::kQ4_K, DType::kQ6_K};
  for (DType type : types) {
    for (const CpuKernels* k : tables) {
      const std::string name = "VecDotQ8/" + std::string(DTypeName(type)) + "/" + k->isa;
      auto* bench = benchmark::RegisterBenchmark(name.c_str(), BM_VecDotQ8, k, type);
      // 640 is not a multiple of a K-quant superblock (256): Gemma stores those rows in
      // 32-element formats.
      for (int64_t n : {640, 1024, 2048}) {
        if (n % Info(type).block_elems == 0) bench->Arg(n);
      }
    }
  }
  for (DType type : types) {
    for (const CpuKernels* k : tables) {
      for (bool by_vec_dot : {false, true}) {
        const std::string name =
            std::string(by_vec_dot ? "GemmQ8ByVecDot/" : "GemmQ8/") + std::string(DTypeName(type)) + "/" + k->isa;
        auto* bench = benchmark::RegisterBenchmark(name.c_str(), BM_GemmQ8, k, type, by_vec_dot);
        for (int64_t n : {640, 1024, 2048}) {
          if (n % Info(type).block_elems == 0) bench->Arg(n);
        }
      }
    }
  }
  for (const CpuKernels* k : tables) {
    benchmark::RegisterBenchmark((std::string("GemmF32/") + k->isa).c_str(), BM_GemmF32, k)->Arg(640)->Arg(2048);
  }
  for (const CpuKernels* k : tables) {
    benchmark::RegisterBenchmark((std::string("QuantizeRowQ8/") + k->isa).c_str(), BM_QuantizeRowQ8, k)
        ->Arg(640)
        ->Arg(2048);
    benchmark::RegisterBenchmark((std::string("DotF32/") + k->isa).c_str(), BM_DotF32, k)->Arg(640)->Arg(2048);
  }
  benchmark::AddCustomContext("tlm_cpu_isa_selected", SelectCpuKernels().isa);
  benchmark::AddCustomContext("tlm_rows_per_matrix", std::to_string(kRows));
}

}  // namespace
}  // namespace tlm::cpu

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  tlm::cpu::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
