// Reads architecture hyperparameters ("<arch>.<key>") from GGUF metadata with errors that name
// the key and the file.
#pragma once

#include <string>

#include "engine/arch/arch.h"
#include "engine/common/status.h"
#include "engine/model/gguf.h"

namespace tlm {

class ConfigReader {
 public:
  ConfigReader(const GgufFile& file, std::string arch) : file_(file), arch_(std::move(arch)) {}

  // A positive integer "<arch>.<key>", at most `max`.
  StatusOr<int64_t> Int(const std::string& key, int64_t max = int64_t{1} << 24) const {
    std::string full = arch_ + "." + key;
    auto v = file_.GetUInt(full);
    if (!v.ok()) return v.status().WithContext(file_.path());
    if (*v == 0 || *v > static_cast<uint64_t>(max))
      return DataLoss("{}: metadata '{}' = {} is out of range [1, {}]", file_.path(), full, *v, max);
    return static_cast<int64_t>(*v);
  }
  StatusOr<int64_t> IntOr(const std::string& key, int64_t fallback, int64_t max = int64_t{1} << 24) const {
    if (!file_.Find(arch_ + "." + key)) return fallback;
    return Int(key, max);
  }
  StatusOr<float> Float(const std::string& key, float lo, float hi) const {
    std::string full = arch_ + "." + key;
    auto v = file_.GetFloat(full);
    if (!v.ok()) return v.status().WithContext(file_.path());
    if (!(*v >= lo && *v <= hi))
      return DataLoss("{}: metadata '{}' = {} is out of range [{}, {}]", file_.path(), full, *v, lo, hi);
    return static_cast<float>(*v);
  }
  StatusOr<float> FloatOr(const std::string& key, float fallback, float lo, float hi) const {
    if (!file_.Find(arch_ + "." + key)) return fallback;
    return Float(key, lo, hi);
  }
  bool Has(const std::string& key) const { return file_.Find(arch_ + "." + key) != nullptr; }
  const GgufFile& file() const { return file_; }
  const std::string& arch() const { return arch_; }

 private:
  const GgufFile& file_;
  std::string arch_;
};

// Vocabulary size from the tokenizer token list (the embedding table must agree).
StatusOr<int64_t> ReadVocabSize(const GgufFile& file);

// Defaults where an architecture's metadata may omit a key.
struct DecoderDefaults {
  int64_t n_ctx_train = 4096;
  float norm_eps = 1e-5f;
  float rope_base = 10000.f;
};

// The hyperparameters every decoder-only architecture shares: layers, widths, heads (with GQA
// checks), head size, context, norm epsilon, RoPE base and linear scaling, vocabulary, tied output,
// attention scale 1/sqrt(head size). The caller sets what is particular to it.
Status ReadDecoderConfig(const ConfigReader& r, const DecoderDefaults& defaults, ModelConfig* c);

// Shapes of the tensors every such decoder has (embedding, output norm, optional output, per layer
// attention and gated FFN), plus `per_layer_extra` given as {suffix, dims} per layer.
struct LayerTensor {
  const char* suffix;
  std::vector<int64_t> dims;
};
std::vector<TensorRequirement> DecoderTensors(const ModelConfig& c, const std::vector<LayerTensor>& per_layer_extra);

}  // namespace tlm
