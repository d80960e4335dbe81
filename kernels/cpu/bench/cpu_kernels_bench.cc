// Google Benchmark of the CPU kernels of each dispatch table (reference, AVX2): VecDotQ8 per
// weight type as a matrix-vector product over Gemma 3 270M row lengths, in weight bytes/s; the
// decode GEMVs at model shapes with weights streamed from memory, in bytes/s and as a fraction of
// the measured read bandwidth (roofline_frac); the prefill GEMMs (GemmQ8 against one vec_dot per
// output, GemmF32) in ops/s; attention (decode rows and prefill tiles), the row kernels (RMS
// norm, add, GELU-tanh and SiLU gates, exp, tanh) and embedding rows in flops and bytes/s; and
// the machine's ceilings (read bandwidth, peak FMA).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "engine/tensor/dtype.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/huge_pages.h"
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

// --- decode GEMV against the memory roofline ---

// The last-level cache's size in bytes: the largest cache of the highest level sysfs lists for
// cpu0, else glibc's _SC_LEVEL3_CACHE_SIZE, else 32 MiB. A VM reports its host's (the 2-core Intel
// Xeon VM of docs/performance.md: 260 MiB, shared with other tenants).
size_t LastLevelCacheBytes() {
  static const size_t bytes = [] {
    size_t best = 0;
    int best_level = 0;
    for (int i = 0;; ++i) {
      const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
      std::ifstream level_file(dir + "level"), size_file(dir + "size");
      int level = 0;
      size_t size = 0;
      char unit = 0;
      if (!(level_file >> level) || !(size_file >> size)) break;
      if (size_file >> unit) size <<= unit == 'K' ? 10 : unit == 'M' ? 20 : unit == 'G' ? 30 : 0;
      if (level > best_level || (level == best_level && size > best)) best_level = level, best = size;
    }
    if (best == 0) {
      const long conf = ::sysconf(_SC_LEVEL3_CACHE_SIZE);
      best = conf > 0 ? static_cast<size_t>(conf) : size_t{32} << 20;
    }
    return best;
  }();
  return bytes;
}

// MiB a benchmark reads to read from memory rather than from a cache: twice the last-level
// cache, and at least `floor_mib`.
int64_t BeyondCachesMiB(int64_t floor_mib) {
  return std::max<int64_t>(floor_mib, static_cast<int64_t>((2 * LastLevelCacheBytes() + (1 << 20) - 1) >> 20));
}

// The ceilings and the GEMV weights live in AnonymousMemory: 4 KiB pages, or 2 MiB huge pages as
// the cpu backend's weight copies.
using BenchBuffer = AnonymousMemory;

// The one-thread read bandwidth in bytes/s (best of a few passes over a buffer far larger than
// the caches), measured once before the benchmarks run: the ceiling roofline_frac divides by.
double g_read_bytes_per_s = 0.0;

// Sums `floats` floats with 32 independent partial sums (the compiler vectorizes them into
// several registers, so no one chain of adds limits the rate), asking for the bytes 4 KiB ahead
// into L1 and 16 KiB ahead into L2 as the decode kernels do (kernels/cpu/x86/gemv_avx512.cc): the
// read rate of the memory, not of one add chain or of the hardware prefetchers alone.
float ReadBandwidthPass(const float* data, size_t floats) {
  float acc[32] = {};
  const auto base = reinterpret_cast<uintptr_t>(data);
  size_t i = 0;
  for (; i + 32 <= floats; i += 32) {
    for (uintptr_t line = 0; line < 128; line += 64) {
      __builtin_prefetch(reinterpret_cast<const void*>(base + i * sizeof(float) + 4096 + line), 0, 3);
      __builtin_prefetch(reinterpret_cast<const void*>(base + i * sizeof(float) + 16384 + line), 0, 2);
    }
    for (int j = 0; j < 32; ++j) acc[j] += data[i + j];
  }
  float total = 0;
  for (; i < floats; ++i) total += data[i];
  for (float a : acc) total += a;
  return total;
}

// --ceiling_mib=N: the read ceilings' buffer in MiB (0: the default below).
int64_t g_ceiling_mib = 0;

// Bytes the read ceilings sum: --ceiling_mib, else at least 256 MiB and twice the last-level
// cache (the memory's rate, not a cache's). scripts/decode-roofline sets it to the model's weight
// bytes, so that its ceiling is a stream of the size the decode reads, cached or not alike.
size_t CeilingBytes() { return static_cast<size_t>(g_ceiling_mib > 0 ? g_ceiling_mib : BeyondCachesMiB(256)) << 20; }

// The better of 4 KiB and huge pages, over twice the last-level cache (at least 256 MiB) whatever
// --ceiling_mib says: the memory's rate, for every GEMV's roofline_frac.
double MeasureReadBandwidth() {
  const size_t bytes = static_cast<size_t>(BeyondCachesMiB(256)) << 20;
  double best = 0.0;
  for (bool huge : {false, true}) {
    BenchBuffer buffer(bytes, huge);
    auto* floats = reinterpret_cast<float*>(buffer.data());
    std::fill(floats, floats + bytes / sizeof(float), 1.0f);
    for (int pass = 0; pass < 5; ++pass) {
      const auto t0 = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(ReadBandwidthPass(floats, bytes / sizeof(float)));
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      best = std::max(best, static_cast<double>(bytes) / s);
    }
  }
  return best;
}

// Bytes of weights a GEMV benchmark cycles through at least: copies of a small matrix, so that
// each call reads its weights from memory (twice the last-level cache, at least 96 MiB), as
// decode does.
size_t StreamBytes() { return static_cast<size_t>(BeyondCachesMiB(96)) << 20; }

// One weight matrix (and its copies) shared by the threads of a benchmark.
struct GemvMatrix {
  DType type = DType::kF32;
  int64_t n_out = 0, k = 0;
  uint64_t row_bytes = 0;
  size_t copies = 0;
  std::unique_ptr<BenchBuffer> weights;  // copies * n_out * row_bytes, in huge pages as the backend's
  const PackedGemv* packed = nullptr;
  std::unique_ptr<BenchBuffer> packed_weights;  // the same, repacked into packed->layout (packed != null)
  std::vector<ref::BlockQ8> x;
};

// The last matrix built is kept: the threads of one benchmark share it, the next shape frees it.
std::shared_ptr<const GemvMatrix> SharedGemvMatrix(DType type, int64_t n_out, int64_t k, const PackedGemv* packed) {
  static std::mutex mutex;
  static std::shared_ptr<const GemvMatrix> last;
  std::lock_guard<std::mutex> lock(mutex);
  if (last && last->type == type && last->n_out == n_out && last->k == k && last->packed == packed) return last;
  last.reset();
  auto m = std::make_shared<GemvMatrix>();
  m->type = type;
  m->n_out = n_out;
  m->k = k;
  if (!ElemsToBytes(type, static_cast<uint64_t>(k), &m->row_bytes)) return nullptr;
  // kRows distinct rows quantized from random floats, repeated over the matrix.
  std::mt19937 rng(42);
  const std::vector<uint8_t> distinct = RandomWeights(rng, type, k, m->row_bytes);
  if (distinct.empty()) return nullptr;
  const size_t matrix_bytes = static_cast<size_t>(n_out) * m->row_bytes;
  m->copies = std::max<size_t>(1, (StreamBytes() + matrix_bytes - 1) / matrix_bytes);
  m->weights = std::make_unique<BenchBuffer>(m->copies * matrix_bytes, /*huge=*/true);
  for (size_t off = 0; off < m->weights->size(); off += distinct.size()) {
    std::memcpy(m->weights->data() + off, distinct.data(), std::min(distinct.size(), m->weights->size() - off));
  }
  if (packed != nullptr) {
    m->packed = packed;
    m->packed_weights = std::make_unique<BenchBuffer>(m->weights->size(), /*huge=*/true);
    packed->pack(m->weights->data(), m->row_bytes, static_cast<int64_t>(m->copies) * n_out, k,
                 m->packed_weights->data());
  }
  const std::vector<float> x = RandomRow(rng, k);
  m->x.resize(static_cast<size_t>(k / ref::kQ8Block));
  ref::QuantizeRowQ8(x.data(), m->x.data(), k);
  last = m;
  return last;
}

enum class GemvPath { kRows, kByRow, kPacked, kPackedX2 };

// y = W x for one activation row (a decode matmul), W n_out x k of `type`, through
// vec_dot_q8_rows (kByRow: one vec_dot_q8 per weight row, as the backend did before; kPacked:
// the table's packed_gemv kernel over the weights repacked as the backend does at load;
// kPackedX2: its rows_x2 over the same weights, the q8x2 decode's one pass for two activation
// rows, here the row and a second, 1/256 its size, as a residue would be). With
// several threads each takes a contiguous share of the rows, as the backend's pool does.
// Counters: bytes_per_second (weights read), roofline_frac (that over the one-thread read
// bandwidth measured at start; for N threads compare with Ceiling/ReadBandwidth/threads:N).
void BM_Gemv(benchmark::State& state, const CpuKernels* kernels, DType type, GemvPath path) {
  const int64_t n_out = state.range(0), k = state.range(1);
  const PackedGemv* packed =
      path == GemvPath::kPacked || path == GemvPath::kPackedX2 ? &kernels->PackedGemvFor(type) : nullptr;
  const std::shared_ptr<const GemvMatrix> m = SharedGemvMatrix(type, n_out, k, packed);
  if (!m) {
    state.SkipWithError("k is not a multiple of the block size");
    return;
  }
  // Each thread's rows: whole panels of a packed layout that interleaves rows.
  const int64_t panel = packed != nullptr ? packed->row_panel : 1, panels = n_out / panel;
  if (panels * panel != n_out) {
    state.SkipWithError("the layout's panels do not divide n_out");
    return;
  }
  const int64_t begin = panels * state.thread_index() / state.threads() * panel;
  const int64_t end = panels * (state.thread_index() + 1) / state.threads() * panel;
  const uint64_t row_bytes = m->row_bytes;
  const size_t matrix_bytes = static_cast<size_t>(n_out) * row_bytes;
  std::vector<float> out(static_cast<size_t>(n_out));
  const VecDotQ8RowsFn dot_rows = packed != nullptr ? packed->rows : kernels->VecDotQ8RowsFor(type);
  const VecDotQ8Fn dot = kernels->VecDotQ8For(type);
  const uint8_t* weights = packed != nullptr ? m->packed_weights->data() : m->weights->data();
  std::vector<ref::BlockQ8> residue(m->x);
  for (ref::BlockQ8& b : residue) b.d /= 256;
  size_t copy = 0;
  for (auto _ : state) {
    const uint8_t* w = weights + copy * matrix_bytes;
    if (path == GemvPath::kByRow) {
      for (int64_t o = begin; o < end; ++o) out[o] = dot(w + o * row_bytes, m->x.data(), k);
    } else if (path == GemvPath::kPackedX2) {
      packed->rows_x2(w + begin * row_bytes, row_bytes, end - begin, m->x.data(), residue.data(), k,
                      out.data() + begin);
    } else {
      dot_rows(w + begin * row_bytes, row_bytes, end - begin, m->x.data(), k, out.data() + begin);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    copy = copy + 1 == m->copies ? 0 : copy + 1;
  }
  const double bytes = static_cast<double>(state.iterations()) * static_cast<double>((end - begin) * row_bytes);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  if (g_read_bytes_per_s > 0) {
    state.counters["roofline_frac"] = benchmark::Counter(bytes / g_read_bytes_per_s, benchmark::Counter::kIsRate);
  }
  state.counters["matrix_MiB"] =
      benchmark::Counter(static_cast<double>(matrix_bytes) / (1 << 20), benchmark::Counter::kAvgThreads);
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

// --- the other kernels of the table: attention, norms, activations, embedding rows ---

// Attention shapes {n_head, n_kv_head, head_dim}: Gemma 3 270M and Gemma 3 1B (4 query heads on
// one KV head of 256), SmolLM2 135M (9 on 3 of 64).
struct AttentionShape {
  const char* model;
  int64_t n_head, n_kv_head, head_dim;
};
constexpr AttentionShape kAttentionShapes[] = {{"gemma3", 4, 1, 256}, {"smollm2", 9, 3, 64}};

// One attention layer of `rows` query rows at the end of a context of `keys` positions (a decode
// row when rows == 1, else a causal prefill of rows new keys after keys - rows cached ones) in one
// call of the table's kernel, as the backend calls it for one piece. Counters: flops (2 per
// multiply-add of q.k and p.v over the visible keys), bytes_per_second (the keys and values read,
// once per query row: a decode row's reads are the KV cache's).
void BM_Attention(benchmark::State& state, const CpuKernels* kernels, AttentionShape shape) {
  const int64_t keys = state.range(0), rows = state.range(1);
  const int64_t hd = shape.head_dim, kv_width = shape.n_kv_head * hd, q_width = shape.n_head * hd;
  std::mt19937 rng(13);
  const std::vector<float> q = RandomRow(rng, rows * q_width);
  const std::vector<float> k_cache = RandomRow(rng, keys * kv_width), v_cache = RandomRow(rng, keys * kv_width);
  const std::vector<float> k_new = RandomRow(rng, rows * kv_width), v_new = RandomRow(rng, rows * kv_width);
  std::vector<float> out(static_cast<size_t>(rows * q_width));
  std::vector<float> scratch(static_cast<size_t>(ref::AttentionScratchFloats(shape.n_head, shape.n_kv_head, hd, keys)));
  const ref::AttentionArgs args{.q = q.data(),
                                .k_cache = k_cache.data(),
                                .v_cache = v_cache.data(),
                                .capacity = keys,
                                .k_new = k_new.data(),
                                .v_new = v_new.data(),
                                .pos0 = keys - rows,
                                .rows = rows,
                                .n_head = shape.n_head,
                                .n_kv_head = shape.n_kv_head,
                                .head_dim = hd,
                                .window = 0,
                                .scale = 1.f / std::sqrt(static_cast<float>(hd)),
                                .out = out.data()};
  const ref::AttentionWork all{.row_begin = 0, .row_end = rows, .kv_head_begin = 0, .kv_head_end = shape.n_kv_head};
  for (auto _ : state) {
    kernels->attention_f32(args, all, nullptr, scratch.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  double visible = 0;  // keys seen, summed over the query rows
  for (int64_t t = 0; t < rows; ++t) visible += static_cast<double>(keys - rows + t + 1);
  const auto iterations = static_cast<double>(state.iterations());
  state.counters["flops"] =
      benchmark::Counter(iterations * visible * 4.0 * static_cast<double>(q_width), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(iterations * visible * 2.0 * static_cast<double>(kv_width) * 4.0));
}

// Row kernels over `n` floats, cache-resident (the vectors of one decode step): bytes/s of the
// floats read and written; flops where the op has a natural count.
enum class RowKernel { kRmsNorm, kAdd, kGeluTanhGate, kSiluGate, kExp, kTanh };

void BM_RowKernel(benchmark::State& state, const CpuKernels* kernels, RowKernel op) {
  const int64_t n = state.range(0);
  std::mt19937 rng(17);
  const std::vector<float> a = RandomRow(rng, n), b = RandomRow(rng, n), w = RandomRow(rng, n);
  std::vector<float> out(static_cast<size_t>(n));
  int64_t floats_moved = 0;  // per call
  double flops = 0;          // per call
  for (auto _ : state) {
    switch (op) {
      case RowKernel::kRmsNorm:
        kernels->rms_norm_f32(a.data(), w.data(), out.data(), n, 1e-6f);
        break;
      case RowKernel::kAdd:
        kernels->add_f32(a.data(), b.data(), out.data(), n);
        break;
      case RowKernel::kGeluTanhGate:
        kernels->gelu_tanh_gate_f32(a.data(), b.data(), out.data(), n);
        break;
      case RowKernel::kSiluGate:
        kernels->silu_gate_f32(a.data(), b.data(), out.data(), n);
        break;
      case RowKernel::kExp:
        kernels->exp_f32(a.data(), out.data(), n);
        break;
      case RowKernel::kTanh:
        kernels->tanh_f32(a.data(), out.data(), n);
        break;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  switch (op) {
    case RowKernel::kRmsNorm:  // x^2 summed, scaled, weighted
      floats_moved = 3 * n, flops = 4.0 * static_cast<double>(n);
      break;
    case RowKernel::kAdd:
      floats_moved = 3 * n, flops = static_cast<double>(n);
      break;
    case RowKernel::kGeluTanhGate:
    case RowKernel::kSiluGate:
      floats_moved = 3 * n;
      break;
    case RowKernel::kExp:
    case RowKernel::kTanh:
      floats_moved = 2 * n;
      break;
  }
  const auto iterations = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(iterations * static_cast<double>(floats_moved) * 4.0));
  state.counters["elements"] = benchmark::Counter(iterations * static_cast<double>(n), benchmark::Counter::kIsRate);
  if (flops > 0) state.counters["flops"] = benchmark::Counter(iterations * flops, benchmark::Counter::kIsRate);
}

// Embedding lookup: one row of a quantized table dequantized to f32 per token, rows picked at
// random from a table larger than the last-level cache (Gemma 3's 262144-row Q8_0 table, tied
// with the LM head). bytes_per_second: the quantized bytes read.
void BM_EmbeddingRows(benchmark::State& state, const CpuKernels* kernels, DType type) {
  const int64_t width = state.range(0), vocab = state.range(1);
  uint64_t row_bytes = 0;
  if (!ElemsToBytes(type, static_cast<uint64_t>(width), &row_bytes)) {
    state.SkipWithError("width is not a multiple of the block size");
    return;
  }
  std::mt19937 rng(19);
  const std::vector<uint8_t> distinct = RandomWeights(rng, type, width, row_bytes);
  BenchBuffer table(static_cast<size_t>(vocab) * row_bytes, /*huge=*/false);
  for (size_t off = 0; off < table.size(); off += distinct.size())
    std::memcpy(table.data() + off, distinct.data(), std::min(distinct.size(), table.size() - off));
  // Token ids drawn up front (a pause per iteration would cost about as much as the lookups):
  // kTokens a call, cycling through kCalls calls' worth.
  constexpr int64_t kTokens = 64, kCalls = 256;
  std::uniform_int_distribution<int64_t> token(0, vocab - 1);
  std::vector<int64_t> ids(static_cast<size_t>(kTokens * kCalls));
  for (int64_t& id : ids) id = token(rng);
  std::vector<float> out(static_cast<size_t>(kTokens * width));
  const DequantizeRowFn dequantize = kernels->DequantizeRowFor(type);
  int64_t call = 0;
  for (auto _ : state) {
    const int64_t* call_ids = ids.data() + call * kTokens;
    for (int64_t t = 0; t < kTokens; ++t)
      dequantize(table.data() + call_ids[t] * row_bytes, out.data() + t * width, width);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
    call = call + 1 == kCalls ? 0 : call + 1;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * kTokens * static_cast<int64_t>(row_bytes));
  state.counters["rows"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * kTokens, benchmark::Counter::kIsRate);
}

// Machine ceiling: read bandwidth, STREAM-like. Each thread sums its share of a buffer far
// larger than the caches (CeilingBytes in all, the argument in MiB) with ReadBandwidthPass; bytes_per_second
// (over all threads, real time) is the sustained read rate from memory.
// Ceiling/ReadBandwidth: 4 KiB pages (as a mapped model); Ceiling/ReadBandwidthHugePages: 2 MiB
// pages (as the cpu backend's weight copies). The roofline is the better of the two.
void BM_ReadBandwidth(benchmark::State& state, bool huge) {
  const size_t bytes = (static_cast<size_t>(state.range(0)) << 20) / static_cast<size_t>(state.threads());
  BenchBuffer buffer(bytes, huge);
  auto* floats = reinterpret_cast<float*>(buffer.data());
  const size_t n = bytes / sizeof(float);
  for (size_t i = 0; i < n; ++i) floats[i] = static_cast<float>(i & 1023);
  for (auto _ : state) benchmark::DoNotOptimize(ReadBandwidthPass(floats, n));
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

// Repetitions of the roofline benchmarks, and their "max" statistic: on a shared machine a
// preempted repetition only ever lowers a rate, so the best one is the figure to compare with
// the ceiling (read its rate counters; for the times, "max" is the worst repetition).
constexpr int kRooflineRepetitions = 3;
double MaxOf(const std::vector<double>& v) { return v.empty() ? 0.0 : *std::max_element(v.begin(), v.end()); }

void RegisterAll() {
  const int hardware_threads = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  for (bool huge : {false, true}) {
    benchmark::RegisterBenchmark(huge ? "Ceiling/ReadBandwidthHugePages" : "Ceiling/ReadBandwidth", BM_ReadBandwidth,
                                 huge)
        ->Arg(static_cast<int64_t>(CeilingBytes() >> 20))
        ->ThreadRange(1, hardware_threads)
        ->UseRealTime()
        ->Repetitions(kRooflineRepetitions)
        ->ComputeStatistics("max", MaxOf)
        ->Unit(benchmark::kMillisecond);
  }
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    benchmark::RegisterBenchmark("Ceiling/PeakFmaF32", BM_PeakFmaF32)->Unit(benchmark::kMillisecond);
#endif
  std::vector<const CpuKernels*> tables = {&ReferenceCpuKernels()};
  if (const CpuKernels* avx2 = Avx2CpuKernels()) tables.push_back(avx2);
  if (const CpuKernels* avx512 = Avx512VnniCpuKernels()) tables.push_back(avx512);
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
  // Decode GEMVs at model shapes {n_out, k}: Gemma 3 270M (k = 640 rows are Q5_0, the tied LM
  // head Q8_0, the rest Q4_K / Q6_K), Gemma 3 1B (hidden 1152, FFN 6912), SmolLM2 135M (Q4_1),
  // and a Q4_K matrix larger than the last-level cache on its own (twice its size, at least 16384
  // rows of 4096: 36 MiB). One thread and all of them;
  // GemvByRow: one vec_dot_q8 per weight row (the path before vec_dot_q8_rows); GemvPacked: over
  // the weights repacked into the table's packed layout (the backend's decode path for that type).
  struct GemvShape {
    DType type;
    int64_t n_out, k;
  };
  uint64_t q4k_row_bytes = 0;
  ElemsToBytes(DType::kQ4_K, 4096, &q4k_row_bytes);
  const int64_t beyond_llc_rows =
      std::max<int64_t>(16384, ((BeyondCachesMiB(0) << 20) / static_cast<int64_t>(q4k_row_bytes) + 63) / 64 * 64);
  const GemvShape gemv_shapes[] = {
      {DType::kQ5_0, 2048, 640},  {DType::kQ5_0, 1024, 640},
      {DType::kQ4_K, 640, 2048},  {DType::kQ6_K, 640, 2048},
      {DType::kQ4_K, 640, 1024},  {DType::kQ8_0, 262144, 640},
      {DType::kQ5_0, 6912, 1152}, {DType::kQ4_K, 1152, 6912},
      {DType::kQ6_K, 1152, 6912}, {DType::kQ4_K, beyond_llc_rows, 4096},
      {DType::kQ4_1, 1536, 576},
  };
  for (const CpuKernels* k : tables) {
    if (k == &ReferenceCpuKernels()) continue;  // far from any roofline; VecDotQ8/ covers it
    for (const GemvShape& shape : gemv_shapes) {
      for (GemvPath path : {GemvPath::kRows, GemvPath::kByRow, GemvPath::kPacked, GemvPath::kPackedX2}) {
        if (path == GemvPath::kPacked && k->PackedGemvFor(shape.type).layout == nullptr) continue;
        if (path == GemvPath::kPackedX2 && k->PackedGemvFor(shape.type).rows_x2 == nullptr) continue;
        const char* prefix = path == GemvPath::kByRow      ? "GemvByRow/"
                             : path == GemvPath::kPacked   ? "GemvPacked/"
                             : path == GemvPath::kPackedX2 ? "GemvPackedX2/"
                                                           : "Gemv/";
        const std::string name = prefix + std::string(DTypeName(shape.type)) + "/" + k->isa;
        benchmark::RegisterBenchmark(name.c_str(), BM_Gemv, k, shape.type, path)
            ->Args({shape.n_out, shape.k})
            ->ThreadRange(1, hardware_threads)
            ->UseRealTime()
            ->Repetitions(kRooflineRepetitions)
            ->ComputeStatistics("max", MaxOf)
            ->Unit(benchmark::kMicrosecond);
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
  // Attention at model shapes: decode rows (one query, keys = the context) and a 64-row causal
  // prefill tile at the start of a context, Gemma 3 270M / 1B and SmolLM2.
  for (const CpuKernels* k : tables) {
    for (const AttentionShape& shape : kAttentionShapes) {
      const std::string name = std::string("Attention/") + shape.model + "/" + k->isa;
      benchmark::RegisterBenchmark(name.c_str(), BM_Attention, k, shape)
          ->ArgNames({"keys", "rows"})
          ->Args({128, 1})
          ->Args({512, 1})
          ->Args({2048, 1})
          ->Args({64, 64})
          ->Args({512, 64})
          ->Unit(benchmark::kMicrosecond);
    }
  }
  // Row kernels at the widths of a decode step: hidden 640 (Gemma 3 270M) and 1152 (Gemma 3 1B),
  // FFN 2048 and 6912.
  const std::pair<const char*, RowKernel> row_kernels[] = {
      {"RmsNorm", RowKernel::kRmsNorm},   {"Add", RowKernel::kAdd}, {"GeluTanhGate", RowKernel::kGeluTanhGate},
      {"SiluGate", RowKernel::kSiluGate}, {"Exp", RowKernel::kExp}, {"Tanh", RowKernel::kTanh}};
  for (const CpuKernels* k : tables) {
    for (const auto& [name, op] : row_kernels) {
      auto* bench = benchmark::RegisterBenchmark((std::string(name) + "/" + k->isa).c_str(), BM_RowKernel, k, op);
      if (op == RowKernel::kRmsNorm || op == RowKernel::kAdd)
        bench->Arg(640)->Arg(1152);
      else
        bench->Arg(2048)->Arg(6912);
    }
    benchmark::RegisterBenchmark((std::string("EmbeddingRows/q8_0/") + k->isa).c_str(), BM_EmbeddingRows, k,
                                 DType::kQ8_0)
        ->ArgNames({"width", "vocab"})
        ->Args({640, 262144})
        ->Args({1152, 262144});
  }
  benchmark::AddCustomContext("tlm_cpu_isa_selected", SelectCpuKernels().isa);
  benchmark::AddCustomContext("tlm_rows_per_matrix", std::to_string(kRows));
  benchmark::AddCustomContext("tlm_read_GBps_1thread", std::to_string(g_read_bytes_per_s / 1e9));
}

}  // namespace
}  // namespace tlm::cpu

int main(int argc, char** argv) {
  // Our one flag, taken out before Google Benchmark reads the rest.
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--ceiling_mib=", 0) != 0) {
      argv[kept++] = argv[i];
      continue;
    }
    char* end = nullptr;
    const long mib = std::strtol(arg.c_str() + 14, &end, 10);
    if (end == arg.c_str() + 14 || *end != '\0' || mib < 1 || mib > (1 << 20)) {
      std::fprintf(stderr, "error: --ceiling_mib takes a size in MiB, 1 to 1048576; got '%s'\n", arg.c_str() + 14);
      return 1;
    }
    tlm::cpu::g_ceiling_mib = mib;
  }
  argc = kept;
  if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h"))
    std::printf(
        "bench_cpu_kernels: the CPU kernels' Google Benchmark suite.\n"
        "  --ceiling_mib=N   the read ceilings' buffer in MiB (default: twice the last-level cache,\n"
        "                    at least 256); Google Benchmark's own flags follow.\n\n");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  tlm::cpu::g_read_bytes_per_s = tlm::cpu::MeasureReadBandwidth();
  tlm::cpu::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
