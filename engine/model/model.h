// A loaded model: the mapped GGUF file, its architecture config, validated weight views and its
// tokenizer. Immutable after Load; many sessions may share it.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "engine/arch/arch.h"
#include "engine/backend/backend.h"
#include "engine/common/status.h"
#include "engine/model/gguf.h"
#include "engine/tokenizer/tokenizer.h"

namespace tlm {

class Model : public WeightSource {
 public:
  // Opens, validates (architecture, every required tensor's presence, shape and type, the
  // tokenizer) and maps `path`. Errors name the file and what is wrong.
  static StatusOr<std::unique_ptr<Model>> Load(const std::string& path);

  const ModelConfig& config() const { return config_; }
  const ArchDef& arch() const { return *arch_; }
  const GgufFile& file() const { return *file_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const std::string& path() const { return file_->path(); }
  const WeightView* Find(std::string_view name) const override;
  // The pages of the mapped file inside the range leave this process's memory (GgufFile::DropPages).
  void ReleaseResidency(const void* data, uint64_t bytes) const override { file_->DropPages(data, bytes); }

  uint64_t n_params() const { return n_params_; }
  uint64_t weights_bytes() const { return weights_bytes_; }
  // "gemma3 270M Q4_K_M"-style description, from metadata where present.
  std::string description() const;
  // The file type label from general.file_type ("Q4_K_M"), or the dominant tensor type.
  std::string file_type() const;

 private:
  Model() = default;

  std::unique_ptr<GgufFile> file_;
  const ArchDef* arch_ = nullptr;
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unordered_map<std::string, WeightView> weights_;
  uint64_t n_params_ = 0;
  uint64_t weights_bytes_ = 0;
};

}  // namespace tlm
