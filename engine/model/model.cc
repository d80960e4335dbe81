// Model loading: architecture dispatch, weight validation and tokenizer construction.
#include "engine/model/model.h"

#include <map>

#include "engine/common/status.h"

namespace tlm {
namespace {

std::string DimsToString(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + "]";
}

// llama.cpp's LLAMA_FTYPE numbering, for the labels users know.
const char* FileTypeName(uint64_t ftype) {
  switch (ftype) {
    case 0: return "F32";
    case 1: return "F16";
    case 2: return "Q4_0";
    case 3: return "Q4_1";
    case 7: return "Q8_0";
    case 8: return "Q5_0";
    case 9: return "Q5_1";
    case 10: return "Q2_K";
    case 11: return "Q3_K_S";
    case 12: return "Q3_K_M";
    case 13: return "Q3_K_L";
    case 14: return "Q4_K_S";
    case 15: return "Q4_K_M";
    case 16: return "Q5_K_S";
    case 17: return "Q5_K_M";
    case 18: return "Q6_K";
    case 32: return "BF16";
    default: return nullptr;
  }
}

}  // namespace

StatusOr<std::unique_ptr<Model>> Model::Load(const std::string& path) {
  std::unique_ptr<Model> m(new Model());
  TLM_ASSIGN_OR_RETURN(m->file_, GgufFile::Open(path));
  const GgufFile& f = *m->file_;

  auto arch_name = f.GetString("general.architecture");
  if (!arch_name.ok()) return DataLoss("{}: no general.architecture ({})", path, arch_name.status().message());
  auto arch = FindArch(*arch_name);
  if (!arch.ok()) return arch.status().WithContext(path);
  m->arch_ = *arch;
  TLM_ASSIGN_OR_RETURN(m->config_, m->arch_->read_config(f));
  const ModelConfig& c = m->config_;

  for (const TensorRequirement& req : m->arch_->tensors(c)) {
    const GgufTensor* t = f.FindTensor(req.name);
    if (t == nullptr) {
      if (req.optional) continue;
      return DataLoss("{}: missing tensor '{}' required by {} (expected shape {})", path, req.name, c.arch,
                      DimsToString(req.dims));
    }
    if (t->dims != req.dims)
      return DataLoss("{}: tensor '{}' at offset {} has shape {}, expected {}", path, req.name, t->file_offset,
                      DimsToString(t->dims), DimsToString(req.dims));
    const DTypeInfo& info = Info(t->type);
    if (!info.engine_supported)
      return Unimplemented("{}: tensor '{}' has type {}, which the engine does not support", path, req.name,
                           info.name);
    if (req.dims.size() > 1 && t->type != DType::kF32 && t->type != DType::kF16 && t->type != DType::kBF16 &&
        t->dims[0] % 32 != 0)
      return Unimplemented("{}: tensor '{}' rows of {} elements are not a multiple of 32", path, req.name,
                           t->dims[0]);
    if (req.dims.size() == 1 && t->type != DType::kF32)
      return Unimplemented("{}: norm tensor '{}' has type {}, expected f32", path, req.name, info.name);
    m->weights_[req.name] = WeightView{t->name, t->type, t->dims, t->data, t->bytes};
  }
  for (const GgufTensor& t : f.tensors()) {
    m->n_params_ += t.elems;
    m->weights_bytes_ += t.bytes;
  }

  auto vocab = LoadVocab(f);
  if (!vocab.ok()) return vocab.status();
  if (static_cast<int64_t>(vocab->tokens.size()) != c.n_vocab)
    return DataLoss("{}: tokenizer has {} tokens but the model's vocabulary is {}", path, vocab->tokens.size(),
                    c.n_vocab);
  auto tokenizer = Tokenizer::Create(std::move(vocab).value());
  if (!tokenizer.ok()) return tokenizer.status().WithContext(path);
  m->tokenizer_ = std::move(tokenizer).value();
  return m;
}

const WeightView* Model::Find(std::string_view name) const {
  auto it = weights_.find(std::string(name));
  return it == weights_.end() ? nullptr : &it->second;
}

std::string Model::file_type() const {
  if (auto ft = file_->GetUInt("general.file_type"); ft.ok())
    if (const char* name = FileTypeName(*ft)) return name;
  std::map<std::string, uint64_t> bytes_by_type;
  for (const auto& t : file_->tensors()) bytes_by_type[std::string(DTypeName(t.type))] += t.bytes;
  std::string best;
  uint64_t most = 0;
  for (const auto& [name, bytes] : bytes_by_type)
    if (bytes > most) most = bytes, best = name;
  return best;
}

std::string Model::description() const {
  std::string size;
  if (auto label = file_->GetString("general.size_label"); label.ok()) {
    size = *label;
  } else {
    double p = static_cast<double>(n_params_);
    size = p >= 1e9 ? fmt::format("{:.1f}B", p / 1e9) : fmt::format("{:.0f}M", p / 1e6);
  }
  return fmt::format("{} {} {}", config_.arch, size, file_type());
}

}  // namespace tlm
