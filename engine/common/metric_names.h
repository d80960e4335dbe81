// Metric names and units used everywhere: results, the wire, the dataset and reports.
#pragma once

#include <string_view>

namespace tlm {

// Metric names and units as ARCHITECTURE.md fixes them; every output format uses these. A metric
// with several statistics (itl_ms) gets one name per statistic: itl_ms_p50, itl_ms_p90, ...
namespace metric {
inline constexpr std::string_view kLoadMs = "load_ms";
inline constexpr std::string_view kTtftMs = "ttft_ms";
inline constexpr std::string_view kPrefillTps = "prefill_tps";
inline constexpr std::string_view kDecodeTps = "decode_tps";
inline constexpr std::string_view kItlMs = "itl_ms";
inline constexpr std::string_view kItlMsP50 = "itl_ms_p50";
inline constexpr std::string_view kItlMsP90 = "itl_ms_p90";
inline constexpr std::string_view kItlMsP99 = "itl_ms_p99";
inline constexpr std::string_view kRssPeakAnonBytes = "rss_peak_anon_bytes";
inline constexpr std::string_view kRssPeakFileBytes = "rss_peak_file_bytes";
inline constexpr std::string_view kWeightsResidentBytes = "weights_resident_bytes";
inline constexpr std::string_view kWeightsBytes = "weights_bytes";
inline constexpr std::string_view kEmbdResidentBytes = "embd_resident_bytes";
inline constexpr std::string_view kEmbdBytes = "embd_bytes";
inline constexpr std::string_view kEmbdResidentFrac = "embd_resident_frac";
inline constexpr std::string_view kFaultsMajor = "faults_major";
inline constexpr std::string_view kFaultsMinor = "faults_minor";
inline constexpr std::string_view kKvBytes = "kv_bytes";
inline constexpr std::string_view kContextTokens = "context_tokens";
inline constexpr std::string_view kPpl = "ppl";
inline constexpr std::string_view kKldMean = "kld_mean";
inline constexpr std::string_view kTop1Agree = "top1_agree";
inline constexpr std::string_view kTaskAcc = "task_acc";
inline constexpr std::string_view kNullRepMs = "null_rep_ms";  // one repetition of the null workload
inline constexpr std::string_view kBackendInitMs = "backend_init_ms";
inline constexpr std::string_view kCompileMs = "compile_ms";
// Weights repacked at load into a kernel's own layout (part of compile_ms): time and bytes.
inline constexpr std::string_view kRepackMs = "repack_ms";
inline constexpr std::string_view kRepackBytes = "repack_bytes";
// GPU backends: 1 when every program/pipeline came from the on-disk cache (a warm start), 0 cold.
inline constexpr std::string_view kProgramCacheWarm = "program_cache_warm";
inline constexpr std::string_view kModelNParams = "model_n_params";
inline constexpr std::string_view kInstructions = "instructions";  // retired, per repetition (--counter instructions)
}  // namespace metric

namespace unit {
inline constexpr std::string_view kMs = "ms";
inline constexpr std::string_view kTokensPerS = "tokens/s";
inline constexpr std::string_view kBytes = "bytes";
inline constexpr std::string_view kFraction = "fraction";  // 0..1
inline constexpr std::string_view kCount = "count";
inline constexpr std::string_view kTokens = "tokens";
inline constexpr std::string_view kNats = "nats";
inline constexpr std::string_view kRatio = "ratio";
}  // namespace unit

}  // namespace tlm
