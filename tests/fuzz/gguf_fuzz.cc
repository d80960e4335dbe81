// libFuzzer target for the GGUF reader: parses the input, touches every key and tensor, and
// checks that what was read writes back (GgufWriter) into a file that reads back the same.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <variant>

#include "engine/model/gguf.h"

namespace {

using tlm::GgufFile;
using tlm::GgufType;
using tlm::GgufValue;
using tlm::GgufWriter;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

template <typename T>
void AppendRaw(std::vector<uint8_t>* out, T v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

// Re-encodes a parsed value with the writer, in its original GGUF type.
void Rewrite(GgufWriter* w, const std::string& key, const GgufValue& v) {
  switch (v.type) {
    case GgufType::kU8: w->SetU8(key, static_cast<uint8_t>(std::get<uint64_t>(v.data))); return;
    case GgufType::kU16: w->SetU16(key, static_cast<uint16_t>(std::get<uint64_t>(v.data))); return;
    case GgufType::kU32: w->SetU32(key, static_cast<uint32_t>(std::get<uint64_t>(v.data))); return;
    case GgufType::kU64: w->SetU64(key, std::get<uint64_t>(v.data)); return;
    case GgufType::kI8: w->SetI8(key, static_cast<int8_t>(std::get<int64_t>(v.data))); return;
    case GgufType::kI16: w->SetI16(key, static_cast<int16_t>(std::get<int64_t>(v.data))); return;
    case GgufType::kI32: w->SetI32(key, static_cast<int32_t>(std::get<int64_t>(v.data))); return;
    case GgufType::kI64: w->SetI64(key, std::get<int64_t>(v.data)); return;
    case GgufType::kF32: w->SetF32(key, static_cast<float>(std::get<double>(v.data))); return;
    case GgufType::kF64: w->SetF64(key, std::get<double>(v.data)); return;
    case GgufType::kBool: w->SetBool(key, std::get<bool>(v.data)); return;
    case GgufType::kString: w->SetString(key, std::get<std::string>(v.data)); return;
    case GgufType::kArray: break;
  }
  if (v.elem_type == GgufType::kString) {
    w->SetStringArray(key, std::get<std::vector<std::string>>(v.data));
    return;
  }
  std::vector<uint8_t> raw;
  uint64_t count = 0;
  if (v.elem_type == GgufType::kF32 || v.elem_type == GgufType::kF64) {
    for (double d : std::get<std::vector<double>>(v.data)) {
      if (v.elem_type == GgufType::kF32) AppendRaw(&raw, static_cast<float>(d));
      else AppendRaw(&raw, d);
      ++count;
    }
  } else {
    for (int64_t i : std::get<std::vector<int64_t>>(v.data)) {
      switch (v.elem_type) {
        case GgufType::kU8: case GgufType::kI8: case GgufType::kBool:
          AppendRaw(&raw, static_cast<uint8_t>(i)); break;
        case GgufType::kU16: case GgufType::kI16: AppendRaw(&raw, static_cast<uint16_t>(i)); break;
        case GgufType::kU32: case GgufType::kI32: AppendRaw(&raw, static_cast<uint32_t>(i)); break;
        default: AppendRaw(&raw, i); break;
      }
      ++count;
    }
  }
  w->SetArray(key, v.elem_type, count, std::move(raw));
}

bool SameValue(const GgufValue& a, const GgufValue& b) {
  if (a.type != b.type || (a.type == GgufType::kArray && a.elem_type != b.elem_type)) return false;
  if (const auto* da = std::get_if<double>(&a.data)) {
    const auto* db = std::get_if<double>(&b.data);
    return db != nullptr && std::memcmp(da, db, sizeof(double)) == 0;
  }
  if (const auto* va = std::get_if<std::vector<double>>(&a.data)) {
    const auto* vb = std::get_if<std::vector<double>>(&b.data);
    return vb != nullptr && va->size() == vb->size() &&
           (va->empty() || std::memcmp(va->data(), vb->data(), va->size() * sizeof(double)) == 0);
  }
  return a.data == b.data;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parsed = GgufFile::FromBuffer(data, size, "fuzz.gguf");
  if (!parsed.ok()) {
    const std::string& m = parsed.status().message();
    Check(m.rfind("fuzz.gguf: ", 0) == 0);
    return 0;
  }
  const GgufFile& f = *parsed.value();
  Check(f.version() == 2 || f.version() == 3);
  Check(f.alignment() != 0 && (f.alignment() & (f.alignment() - 1)) == 0);

  uint64_t sink = 0;
  for (const auto& [key, v] : f.metadata()) {
    Check(f.Find(key) == &v);
    Check(v.file_offset < f.size());
    sink += f.GetString(key).ok() + f.GetUInt(key).ok() + f.GetFloat(key).ok() +
            f.GetBool(key).ok() + f.GetStringArray(key).ok() + f.GetFloatArray(key).ok() +
            f.GetIntArray(key).ok();
  }
  for (const tlm::GgufTensor& t : f.tensors()) {
    Check(f.FindTensor(t.name) == &t);
    Check(!t.dims.empty() && t.dims.size() <= 4 && t.bytes > 0);
    Check(t.file_offset % f.alignment() == 0 && t.file_offset >= f.data_offset());
    Check(t.file_offset + t.bytes <= f.size() && t.data == f.base() + t.file_offset);
    sink += t.data[0] + t.data[t.bytes - 1];
  }

  // Write back what was read and read it again: the same keys, values and tensors.
  if (f.alignment() > (1u << 20)) return 0;
  GgufWriter w;
  w.set_alignment(static_cast<uint32_t>(f.alignment()));
  for (const auto& [key, v] : f.metadata()) Rewrite(&w, key, v);
  for (const tlm::GgufTensor& t : f.tensors()) {
    w.AddTensor(t.name, t.type, t.dims, std::vector<uint8_t>(t.data, t.data + t.bytes));
  }
  const std::vector<uint8_t> bytes = w.Serialize();
  auto again = GgufFile::FromBuffer(bytes.data(), bytes.size(), "rewritten.gguf");
  if (!again.ok()) {
    fprintf(stderr, "rewrite failed: %s\n", again.status().ToString().c_str());
    __builtin_trap();
  }
  const GgufFile& g = *again.value();
  Check(g.metadata().size() == f.metadata().size());
  for (size_t i = 0; i < f.metadata().size(); ++i) {
    Check(g.metadata()[i].first == f.metadata()[i].first);
    Check(SameValue(g.metadata()[i].second, f.metadata()[i].second));
  }
  Check(g.tensors().size() == f.tensors().size());
  for (size_t i = 0; i < f.tensors().size(); ++i) {
    const tlm::GgufTensor& a = f.tensors()[i];
    const tlm::GgufTensor& b = g.tensors()[i];
    Check(a.name == b.name && a.type == b.type && a.dims == b.dims && a.bytes == b.bytes);
    Check(std::memcmp(a.data, b.data, a.bytes) == 0);
  }
  return sink == UINT64_MAX ? 1 : 0;  // keeps `sink` alive
}
