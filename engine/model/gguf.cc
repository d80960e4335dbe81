// GGUF v2/v3 reader (read-only mmap, every count and range validated) and v3 writer.
#include "engine/model/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <numeric>

#include <fmt/ranges.h>

namespace tlm {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the GGUF reader copies little-endian fields as they are");

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kWriteVersion = 3;
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;
constexpr uint64_t kInt64Max = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
// The smallest encodings of a metadata entry (key length, value type, a 1-byte value) and of a
// tensor info (name length, n_dims, one dim, type, offset): counts in the header that the rest
// of the file could not hold are refused before anything is reserved for them.
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;
constexpr uint64_t kReserveCap = 4096;

bool IsKnownValueType(uint32_t raw) { return raw <= static_cast<uint32_t>(GgufType::kF64); }

// Bytes of one element of a fixed-size type; 0 for strings and arrays.
uint64_t FixedSize(GgufType type) {
  switch (type) {
    case GgufType::kU8: case GgufType::kI8: case GgufType::kBool: return 1;
    case GgufType::kU16: case GgufType::kI16: return 2;
    case GgufType::kU32: case GgufType::kI32: case GgufType::kF32: return 4;
    case GgufType::kU64: case GgufType::kI64: case GgufType::kF64: return 8;
    case GgufType::kString: case GgufType::kArray: return 0;
  }
  return 0;
}

bool IsUnsigned(GgufType t) {
  return t == GgufType::kU8 || t == GgufType::kU16 || t == GgufType::kU32 || t == GgufType::kU64;
}
bool IsSigned(GgufType t) {
  return t == GgufType::kI8 || t == GgufType::kI16 || t == GgufType::kI32 || t == GgufType::kI64;
}
bool IsInteger(GgufType t) { return IsUnsigned(t) || IsSigned(t); }
bool IsFloat(GgufType t) { return t == GgufType::kF32 || t == GgufType::kF64; }

template <typename T>
T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}

// Decodes one fixed-size element into the variant family the reader keeps it in.
uint64_t LoadUnsigned(GgufType t, const uint8_t* p) {
  switch (t) {
    case GgufType::kU8: return Load<uint8_t>(p);
    case GgufType::kU16: return Load<uint16_t>(p);
    case GgufType::kU32: return Load<uint32_t>(p);
    default: return Load<uint64_t>(p);
  }
}
int64_t LoadSigned(GgufType t, const uint8_t* p) {
  switch (t) {
    case GgufType::kI8: return Load<int8_t>(p);
    case GgufType::kI16: return Load<int16_t>(p);
    case GgufType::kI32: return Load<int32_t>(p);
    default: return Load<int64_t>(p);
  }
}
double LoadFloat(GgufType t, const uint8_t* p) {
  return t == GgufType::kF32 ? static_cast<double>(Load<float>(p)) : Load<double>(p);
}

// A cursor over the file bytes. `what` callables name the field being read; they run only when
// an error message is built, so the happy path formats nothing.
class Reader {
 public:
  Reader(const std::string& file, const uint8_t* data, uint64_t size)
      : file_(file), data_(data), size_(size) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }
  const uint8_t* here() const { return data_ + pos_; }
  void Skip(uint64_t n) { pos_ += n; }  // callers checked Need(n) first

  template <typename What>
  Status Need(uint64_t n, const What& what) const {
    if (n <= remaining()) return Status::Ok();
    return DataLoss("{}: {} at offset {}: needs {} bytes, only {} remain (file truncated?)", file_,
                    what(), pos_, n, remaining());
  }

  template <typename T, typename What>
  Status Read(T* out, const What& what) {
    TLM_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, data_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  template <typename What>
  Status ReadString(std::string* out, const What& what) {
    const uint64_t at = pos_;
    uint64_t len = 0;
    TLM_RETURN_IF_ERROR(Read(&len, what));
    if (len > remaining()) {
      return DataLoss("{}: {} at offset {}: string length {} exceeds remaining {} bytes", file_,
                      what(), at, len, remaining());
    }
    out->assign(reinterpret_cast<const char*>(data_ + pos_), len);
    pos_ += len;
    return Status::Ok();
  }

 private:
  const std::string& file_;
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

template <typename What>
Status ParseValue(const std::string& file, Reader& r, uint32_t raw_type, uint64_t type_at,
                  const What& what, GgufValue* v) {
  if (!IsKnownValueType(raw_type)) {
    return Unimplemented("{}: {} at offset {}: unknown metadata value type {}", file, what(),
                         type_at, raw_type);
  }
  v->type = static_cast<GgufType>(raw_type);
  v->file_offset = r.pos();
  const GgufType type = v->type;
  if (type == GgufType::kString) {
    std::string s;
    TLM_RETURN_IF_ERROR(r.ReadString(&s, what));
    v->data = std::move(s);
    return Status::Ok();
  }
  if (type != GgufType::kArray) {
    const uint64_t n = FixedSize(type);
    TLM_RETURN_IF_ERROR(r.Need(n, what));
    const uint8_t* p = r.here();
    if (type == GgufType::kBool) {
      if (*p > 1) {
        return DataLoss("{}: {} at offset {}: bool value {} is not 0 or 1", file, what(), r.pos(),
                        *p);
      }
      v->data = *p == 1;
    } else if (IsUnsigned(type)) {
      v->data = LoadUnsigned(type, p);
    } else if (IsSigned(type)) {
      v->data = LoadSigned(type, p);
    } else {
      v->data = LoadFloat(type, p);
    }
    r.Skip(n);
    return Status::Ok();
  }

  // Arrays: element type, count, then the elements.
  uint32_t raw_elem = 0;
  const uint64_t elem_at = r.pos();
  TLM_RETURN_IF_ERROR(r.Read(&raw_elem, what));
  if (raw_elem == static_cast<uint32_t>(GgufType::kArray)) {
    return Unimplemented("{}: {} at offset {}: arrays of arrays are not supported", file, what(),
                         elem_at);
  }
  if (!IsKnownValueType(raw_elem)) {
    return Unimplemented("{}: {} at offset {}: unknown array element type {}", file, what(),
                         elem_at, raw_elem);
  }
  const GgufType elem = static_cast<GgufType>(raw_elem);
  v->elem_type = elem;
  uint64_t count = 0;
  const uint64_t count_at = r.pos();
  TLM_RETURN_IF_ERROR(r.Read(&count, what));
  const uint64_t min_elem = elem == GgufType::kString ? 8 : FixedSize(elem);
  if (count > r.remaining() / min_elem) {
    return DataLoss(
        "{}: {} at offset {}: array length {} of {} exceeds what the remaining {} bytes could hold",
        file, what(), count_at, count, GgufTypeName(elem), r.remaining());
  }
  if (elem == GgufType::kString) {
    std::vector<std::string> out(count);
    for (uint64_t i = 0; i < count; ++i) {
      TLM_RETURN_IF_ERROR(
          r.ReadString(&out[i], [&] { return fmt::format("{} element {}", what(), i); }));
    }
    v->data = std::move(out);
    return Status::Ok();
  }
  const uint8_t* p = r.here();
  const uint64_t n = FixedSize(elem);
  if (IsFloat(elem)) {
    std::vector<double> out(count);
    for (uint64_t i = 0; i < count; ++i) out[i] = LoadFloat(elem, p + i * n);
    v->data = std::move(out);
  } else {
    std::vector<int64_t> out(count);
    for (uint64_t i = 0; i < count; ++i) {
      const uint8_t* e = p + i * n;
      if (elem == GgufType::kBool) {
        if (*e > 1) {
          return DataLoss("{}: {} element {} at offset {}: bool value {} is not 0 or 1", file,
                          what(), i, r.pos() + i * n, *e);
        }
        out[i] = *e;
      } else if (IsUnsigned(elem)) {
        const uint64_t u = LoadUnsigned(elem, e);
        if (u > kInt64Max) {
          return Unimplemented("{}: {} element {} at offset {}: u64 value {} exceeds int64 range",
                               file, what(), i, r.pos() + i * n, u);
        }
        out[i] = static_cast<int64_t>(u);
      } else {
        out[i] = LoadSigned(elem, e);
      }
    }
    v->data = std::move(out);
  }
  r.Skip(count * n);  // count * n <= remaining, checked above
  return Status::Ok();
}

std::string DescribeType(const GgufValue& v) {
  if (v.type == GgufType::kArray) return fmt::format("array of {}", GgufTypeName(v.elem_type));
  return std::string(GgufTypeName(v.type));
}

std::string DimsString(const std::vector<int64_t>& dims) {
  return fmt::format("[{}]", fmt::join(dims, ", "));
}

}  // namespace

std::string_view GgufTypeName(GgufType type) {
  switch (type) {
    case GgufType::kU8: return "u8";
    case GgufType::kI8: return "i8";
    case GgufType::kU16: return "u16";
    case GgufType::kI16: return "i16";
    case GgufType::kU32: return "u32";
    case GgufType::kI32: return "i32";
    case GgufType::kF32: return "f32";
    case GgufType::kBool: return "bool";
    case GgufType::kString: return "string";
    case GgufType::kArray: return "array";
    case GgufType::kU64: return "u64";
    case GgufType::kI64: return "i64";
    case GgufType::kF64: return "f64";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// Reader

StatusOr<std::unique_ptr<GgufFile>> GgufFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound("{}: no such file", path);
    return InvalidArgument("{}: cannot open: {}", path, std::strerror(err));
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return InvalidArgument("{}: cannot stat: {}", path, std::strerror(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return InvalidArgument("{}: not a regular file", path);
  }
  if (st.st_size == 0) {
    ::close(fd);
    return DataLoss("{}: file is 0 bytes, too short for the GGUF magic at offset 0", path);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_err = errno;
  ::close(fd);  // the mapping keeps the file referenced
  if (map == MAP_FAILED) {
    if (map_err == ENOMEM) {
      return ResourceExhausted("{}: cannot map {} bytes: {}", path, size, std::strerror(map_err));
    }
    return Unavailable("{}: cannot map {} bytes: {}", path, size, std::strerror(map_err));
  }
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->base_ = static_cast<const uint8_t*>(map);
  file->size_ = size;
  file->mapped_ = true;
  TLM_RETURN_IF_ERROR(file->Parse());
  return file;
}

StatusOr<std::unique_ptr<GgufFile>> GgufFile::FromBuffer(const uint8_t* data, size_t size,
                                                         std::string name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(name);
  file->base_ = data;
  file->size_ = size;
  file->mapped_ = false;
  TLM_RETURN_IF_ERROR(file->Parse());
  return file;
}

void GgufFile::DropPages(const void* data, uint64_t bytes) const {
  if (!mapped_ || base_ == nullptr) return;
  const auto begin = reinterpret_cast<uintptr_t>(data), end = begin + bytes;
  const auto file_begin = reinterpret_cast<uintptr_t>(base_), file_end = file_begin + size_;
  if (begin < file_begin || end > file_end || begin >= end) return;
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
  if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

GgufFile::~GgufFile() {
  if (mapped_ && base_ != nullptr) {
    ::munmap(const_cast<uint8_t*>(base_), size_);
  }
}

Status GgufFile::Parse() {
  const std::string& file = path_;
  if (size_ < 4 || base_ == nullptr) {
    return DataLoss("{}: file is {} bytes, too short for the GGUF magic at offset 0", file, size_);
  }
  Reader r(file, base_, size_);
  uint32_t magic = 0;
  TLM_RETURN_IF_ERROR(r.Read(&magic, [] { return std::string("magic"); }));
  if (magic != kMagic) {
    return DataLoss("{}: bad magic at offset 0: expected \"GGUF\" (47 47 55 46), found {:02x} {:02x} "
                    "{:02x} {:02x}; not a GGUF file",
                    file, base_[0], base_[1], base_[2], base_[3]);
  }
  TLM_RETURN_IF_ERROR(r.Read(&version_, [] { return std::string("header version"); }));
  if (version_ == 1) {
    return Unimplemented("{}: header version at offset 4: GGUF version 1 is not supported "
                         "(only v2 and v3); convert the model again with a current llama.cpp",
                         file);
  }
  if (version_ == 0x02000000u || version_ == 0x03000000u) {
    return Unimplemented("{}: header version at offset 4: big-endian GGUF (version {} byte-swapped) "
                         "is not supported",
                         file, __builtin_bswap32(version_));
  }
  if (version_ != 2 && version_ != 3) {
    return Unimplemented("{}: header version at offset 4: unsupported GGUF version {} "
                         "(supported: 2, 3)",
                         file, version_);
  }
  uint64_t tensor_count = 0, kv_count = 0;
  TLM_RETURN_IF_ERROR(r.Read(&tensor_count, [] { return std::string("header tensor count"); }));
  TLM_RETURN_IF_ERROR(r.Read(&kv_count, [] { return std::string("header metadata key count"); }));
  const uint64_t rest = r.remaining();
  if (tensor_count > rest / kMinTensorInfoBytes) {
    return DataLoss("{}: header tensor count at offset 8: {} tensors exceed what the remaining {} "
                    "bytes could hold",
                    file, tensor_count, rest);
  }
  if (kv_count > rest / kMinKvBytes) {
    return DataLoss("{}: header metadata key count at offset 16: {} keys exceed what the remaining "
                    "{} bytes could hold",
                    file, kv_count, rest);
  }
  // Both fit individually, so neither product overflows; the sum of two values <= rest cannot.
  if (tensor_count * kMinTensorInfoBytes + kv_count * kMinKvBytes > rest) {
    return DataLoss("{}: header counts at offset 8: {} tensors and {} metadata keys exceed what "
                    "the remaining {} bytes could hold",
                    file, tensor_count, kv_count, rest);
  }

  // Metadata.
  // Counts are bounded by the file size, but each entry costs more in memory than its smallest
  // encoding; reserve only a little up front so memory follows what is actually parsed.
  kv_.reserve(std::min<uint64_t>(kv_count, kReserveCap));
  kv_index_.reserve(std::min<uint64_t>(kv_count, kReserveCap));
  for (uint64_t i = 0; i < kv_count; ++i) {
    const uint64_t key_at = r.pos();
    std::string key;
    TLM_RETURN_IF_ERROR(r.ReadString(&key, [&] { return fmt::format("metadata key #{}", i); }));
    auto what = [&] { return fmt::format("metadata key #{} '{}'", i, key); };
    if (auto it = kv_index_.find(key); it != kv_index_.end()) {
      return DataLoss("{}: {} at offset {}: duplicate key (first defined as key #{})", file,
                      what(), key_at, it->second);
    }
    uint32_t raw_type = 0;
    const uint64_t type_at = r.pos();
    TLM_RETURN_IF_ERROR(r.Read(&raw_type, what));
    GgufValue value;
    TLM_RETURN_IF_ERROR(ParseValue(file, r, raw_type, type_at, what, &value));
    kv_index_.emplace(key, kv_.size());
    kv_.emplace_back(std::move(key), std::move(value));
  }

  alignment_ = kDefaultAlignment;
  if (const GgufValue* a = Find("general.alignment")) {
    uint64_t align = 0;
    if (IsUnsigned(a->type)) {
      align = std::get<uint64_t>(a->data);
    } else if (IsSigned(a->type) && std::get<int64_t>(a->data) > 0) {
      align = static_cast<uint64_t>(std::get<int64_t>(a->data));
    } else if (!IsSigned(a->type)) {
      return DataLoss("{}: metadata key 'general.alignment' at offset {}: type {}, expected an "
                      "unsigned integer",
                      file, a->file_offset, DescribeType(*a));
    }
    if (!std::has_single_bit(align)) {
      return DataLoss("{}: metadata key 'general.alignment' at offset {}: value {} is not a power "
                      "of two",
                      file, a->file_offset,
                      IsSigned(a->type) ? fmt::format("{}", std::get<int64_t>(a->data))
                                        : fmt::format("{}", align));
    }
    alignment_ = align;
  }

  // Tensor infos.
  tensors_.reserve(std::min<uint64_t>(tensor_count, kReserveCap));
  tensor_index_.reserve(std::min<uint64_t>(tensor_count, kReserveCap));
  for (uint64_t i = 0; i < tensor_count; ++i) {
    const uint64_t info_at = r.pos();
    GgufTensor t;
    TLM_RETURN_IF_ERROR(r.ReadString(&t.name, [&] { return fmt::format("tensor #{} name", i); }));
    auto what = [&] { return fmt::format("tensor #{} '{}'", i, t.name); };
    if (t.name.empty()) {
      return DataLoss("{}: tensor #{} at offset {}: empty name", file, i, info_at);
    }
    if (auto it = tensor_index_.find(t.name); it != tensor_index_.end()) {
      return DataLoss("{}: {} at offset {}: duplicate tensor name (first defined as tensor #{})",
                      file, what(), info_at, it->second);
    }
    uint32_t n_dims = 0;
    const uint64_t dims_at = r.pos();
    TLM_RETURN_IF_ERROR(r.Read(&n_dims, what));
    if (n_dims < 1 || n_dims > kMaxDims) {
      return DataLoss("{}: {} at offset {}: n_dims {} is outside 1..{}", file, what(), dims_at,
                      n_dims, kMaxDims);
    }
    uint64_t elems = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      uint64_t dim = 0;
      const uint64_t dim_at = r.pos();
      TLM_RETURN_IF_ERROR(r.Read(&dim, what));
      if (dim == 0) {
        return DataLoss("{}: {} at offset {}: dim {} is 0", file, what(), dim_at, d);
      }
      if (dim > kInt64Max || __builtin_mul_overflow(elems, dim, &elems) || elems > kInt64Max) {
        return DataLoss("{}: {} at offset {}: dim {} = {} makes the element count overflow int64",
                        file, what(), dim_at, d, dim);
      }
      t.dims.push_back(static_cast<int64_t>(dim));
    }
    uint32_t raw_type = 0;
    const uint64_t type_at = r.pos();
    TLM_RETURN_IF_ERROR(r.Read(&raw_type, what));
    const DTypeInfo* info = FindDType(raw_type);
    if (info == nullptr) {
      return Unimplemented("{}: {} at offset {}: unknown tensor type {}", file, what(), type_at,
                           raw_type);
    }
    t.type = info->type;
    if (info->block_elems <= 0 ||
        static_cast<uint64_t>(t.dims[0]) % static_cast<uint64_t>(info->block_elems) != 0) {
      return DataLoss("{}: {} at offset {}: dims[0] = {} is not a multiple of the {} block size {}",
                      file, what(), dims_at, t.dims[0], info->name, info->block_elems);
    }
    t.elems = elems;
    if (!ElemsToBytes(t.type, elems, &t.bytes)) {
      return DataLoss("{}: {} at offset {}: {} elements of {} overflow the byte size", file,
                      what(), dims_at, elems, info->name);
    }
    const uint64_t offset_at = r.pos();
    TLM_RETURN_IF_ERROR(r.Read(&t.file_offset, what));  // relative until the data start is known
    if (t.file_offset % alignment_ != 0) {
      return DataLoss("{}: {} at offset {}: data offset {} is not a multiple of the alignment {}",
                      file, what(), offset_at, t.file_offset, alignment_);
    }
    tensor_index_.emplace(t.name, tensors_.size());
    tensors_.push_back(std::move(t));
  }

  // Data section: starts at the next multiple of the alignment after the tensor infos.
  const uint64_t infos_end = r.pos();
  const uint64_t pad = (alignment_ - infos_end % alignment_) % alignment_;
  if (__builtin_add_overflow(infos_end, pad, &data_offset_)) {
    return DataLoss("{}: data section after padding offset {} to alignment {} overflows", file,
                    infos_end, alignment_);
  }
  if (!tensors_.empty() && data_offset_ > size_) {
    return DataLoss("{}: data section at offset {} (tensor infos end at {}, aligned to {}) is past "
                    "the end of file (size {})",
                    file, data_offset_, infos_end, alignment_, size_);
  }
  for (GgufTensor& t : tensors_) {
    const uint64_t rel = t.file_offset;
    uint64_t start = 0, end = 0;
    if (__builtin_add_overflow(data_offset_, rel, &start)) {
      return DataLoss("{}: tensor '{}' data offset {} (relative to the data section at offset {}) "
                      "overflows",
                      file, t.name, rel, data_offset_);
    }
    if (__builtin_add_overflow(start, t.bytes, &end) || end > size_) {
      return DataLoss("{}: tensor '{}' data [offset {}, {} bytes] runs past end of file (size {})",
                      file, t.name, start, t.bytes, size_);
    }
    t.file_offset = start;
    t.data = base_ + start;
  }

  // No two tensors may share bytes: sort by start and compare neighbours.
  std::vector<size_t> order(tensors_.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return tensors_[a].file_offset < tensors_[b].file_offset;
  });
  for (size_t k = 1; k < order.size(); ++k) {
    const GgufTensor& prev = tensors_[order[k - 1]];
    const GgufTensor& cur = tensors_[order[k]];
    if (cur.file_offset < prev.file_offset + prev.bytes) {  // prev's end <= size_, no overflow
      return DataLoss("{}: tensor '{}' data [offset {}, {} bytes] overlaps tensor '{}' data "
                      "[offset {}, {} bytes]",
                      file, cur.name, cur.file_offset, cur.bytes, prev.name, prev.file_offset,
                      prev.bytes);
    }
  }
  return Status::Ok();
}

const GgufValue* GgufFile::Find(std::string_view key) const {
  auto it = kv_index_.find(std::string(key));
  return it == kv_index_.end() ? nullptr : &kv_[it->second].second;
}

const GgufTensor* GgufFile::FindTensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

Status Missing(const std::string& file, std::string_view key) {
  return NotFound("{}: metadata key '{}' not found", file, key);
}

Status WrongType(const std::string& file, std::string_view key, const GgufValue& v,
                 std::string_view expected) {
  return InvalidArgument("{}: metadata key '{}' at offset {} has type {}, expected {}", file, key,
                         v.file_offset, DescribeType(v), expected);
}

}  // namespace

StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufType::kString) return WrongType(path_, key, *v, "string");
  return std::get<std::string>(v->data);
}

StatusOr<uint64_t> GgufFile::GetUInt(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (IsUnsigned(v->type)) return std::get<uint64_t>(v->data);
  if (IsSigned(v->type)) {
    const int64_t s = std::get<int64_t>(v->data);
    if (s < 0) {
      return InvalidArgument("{}: metadata key '{}' at offset {}: value {} is negative, expected "
                             "an unsigned integer",
                             path_, key, v->file_offset, s);
    }
    return static_cast<uint64_t>(s);
  }
  return WrongType(path_, key, *v, "an integer");
}

StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (IsFloat(v->type)) return std::get<double>(v->data);
  if (IsUnsigned(v->type)) return static_cast<double>(std::get<uint64_t>(v->data));
  if (IsSigned(v->type)) return static_cast<double>(std::get<int64_t>(v->data));
  return WrongType(path_, key, *v, "a number");
}

StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufType::kBool) return WrongType(path_, key, *v, "bool");
  return std::get<bool>(v->data);
}

StatusOr<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type != GgufType::kArray || v->elem_type != GgufType::kString) {
    return WrongType(path_, key, *v, "array of string");
  }
  return std::get<std::vector<std::string>>(v->data);
}

StatusOr<std::vector<double>> GgufFile::GetFloatArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type == GgufType::kArray && IsFloat(v->elem_type)) {
    return std::get<std::vector<double>>(v->data);
  }
  if (v->type == GgufType::kArray && IsInteger(v->elem_type)) {
    const auto& ints = std::get<std::vector<int64_t>>(v->data);
    return std::vector<double>(ints.begin(), ints.end());
  }
  return WrongType(path_, key, *v, "array of numbers");
}

StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const GgufValue* v = Find(key);
  if (v == nullptr) return Missing(path_, key);
  if (v->type == GgufType::kArray && (IsInteger(v->elem_type) || v->elem_type == GgufType::kBool)) {
    return std::get<std::vector<int64_t>>(v->data);
  }
  return WrongType(path_, key, *v, "array of integers");
}

// ---------------------------------------------------------------------------------------------
// Writer

namespace {

template <typename T>
void Append(std::vector<uint8_t>* out, T v) {
  const size_t at = out->size();
  out->resize(at + sizeof(T));
  std::memcpy(out->data() + at, &v, sizeof(T));
}

void AppendString(std::vector<uint8_t>* out, std::string_view s) {
  Append<uint64_t>(out, s.size());
  out->insert(out->end(), s.begin(), s.end());
}

void PadTo(std::vector<uint8_t>* out, uint64_t alignment) {
  if (alignment <= 1) return;
  const uint64_t rem = out->size() % alignment;
  if (rem != 0) out->resize(out->size() + (alignment - rem), 0);
}

template <typename T>
std::vector<uint8_t> Encode(T v) {
  std::vector<uint8_t> out;
  Append(&out, v);
  return out;
}

}  // namespace

#define TLM_GGUF_SCALAR_SETTER(Name, CType, Tag)                                           \
  void GgufWriter::Name(std::string key, CType value) {                                    \
    RemoveKey(key);                                                                        \
    kv_.push_back(Entry{std::move(key), GgufType::Tag, GgufType::kU8, Encode(value), 1});  \
  }
TLM_GGUF_SCALAR_SETTER(SetU8, uint8_t, kU8)
TLM_GGUF_SCALAR_SETTER(SetI8, int8_t, kI8)
TLM_GGUF_SCALAR_SETTER(SetU16, uint16_t, kU16)
TLM_GGUF_SCALAR_SETTER(SetI16, int16_t, kI16)
TLM_GGUF_SCALAR_SETTER(SetU32, uint32_t, kU32)
TLM_GGUF_SCALAR_SETTER(SetI32, int32_t, kI32)
TLM_GGUF_SCALAR_SETTER(SetU64, uint64_t, kU64)
TLM_GGUF_SCALAR_SETTER(SetI64, int64_t, kI64)
TLM_GGUF_SCALAR_SETTER(SetF32, float, kF32)
TLM_GGUF_SCALAR_SETTER(SetF64, double, kF64)
#undef TLM_GGUF_SCALAR_SETTER

void GgufWriter::SetBool(std::string key, bool value) {
  RemoveKey(key);
  kv_.push_back(Entry{std::move(key), GgufType::kBool, GgufType::kU8,
                      Encode<uint8_t>(value ? 1 : 0), 1});
}

void GgufWriter::SetString(std::string key, std::string value) {
  RemoveKey(key);
  std::vector<uint8_t> payload;
  AppendString(&payload, value);
  kv_.push_back(Entry{std::move(key), GgufType::kString, GgufType::kU8, std::move(payload), 1});
}

void GgufWriter::SetStringArray(std::string key, std::vector<std::string> value) {
  RemoveKey(key);
  std::vector<uint8_t> payload;
  for (const std::string& s : value) AppendString(&payload, s);
  kv_.push_back(
      Entry{std::move(key), GgufType::kArray, GgufType::kString, std::move(payload), value.size()});
}

void GgufWriter::SetF32Array(std::string key, std::vector<float> value) {
  std::vector<uint8_t> payload(value.size() * sizeof(float));
  if (!value.empty()) std::memcpy(payload.data(), value.data(), payload.size());
  SetArray(std::move(key), GgufType::kF32, value.size(), std::move(payload));
}

void GgufWriter::SetI32Array(std::string key, std::vector<int32_t> value) {
  std::vector<uint8_t> payload(value.size() * sizeof(int32_t));
  if (!value.empty()) std::memcpy(payload.data(), value.data(), payload.size());
  SetArray(std::move(key), GgufType::kI32, value.size(), std::move(payload));
}

void GgufWriter::SetArray(std::string key, GgufType elem_type, uint64_t count,
                          std::vector<uint8_t> encoded) {
  RemoveKey(key);
  kv_.push_back(Entry{std::move(key), GgufType::kArray, elem_type, std::move(encoded), count});
}

bool GgufWriter::RemoveKey(std::string_view key) {
  auto it = std::find_if(kv_.begin(), kv_.end(), [&](const Entry& e) { return e.key == key; });
  if (it == kv_.end()) return false;
  kv_.erase(it);
  return true;
}

void GgufWriter::AddTensor(std::string name, DType type, std::vector<int64_t> dims,
                           std::vector<uint8_t> data) {
  RemoveTensor(name);
  tensors_.push_back(Tensor{std::move(name), type, std::move(dims), std::move(data)});
}

bool GgufWriter::RemoveTensor(std::string_view name) {
  auto it =
      std::find_if(tensors_.begin(), tensors_.end(), [&](const Tensor& t) { return t.name == name; });
  if (it == tensors_.end()) return false;
  tensors_.erase(it);
  return true;
}

std::vector<uint8_t> GgufWriter::SerializeHeader(std::vector<uint64_t>* offsets) const {
  const uint64_t alignment = alignment_ == 0 ? 1 : alignment_;
  const bool auto_alignment_key =
      alignment_ != kDefaultAlignment && std::none_of(kv_.begin(), kv_.end(), [](const Entry& e) {
        return e.key == "general.alignment";
      });

  std::vector<uint8_t> out;
  Append<uint32_t>(&out, kMagic);
  Append<uint32_t>(&out, kWriteVersion);
  Append<uint64_t>(&out, tensors_.size());
  Append<uint64_t>(&out, kv_.size() + (auto_alignment_key ? 1 : 0));
  auto write_entry = [&](const Entry& e) {
    AppendString(&out, e.key);
    Append<uint32_t>(&out, static_cast<uint32_t>(e.type));
    if (e.type == GgufType::kArray) {
      Append<uint32_t>(&out, static_cast<uint32_t>(e.elem_type));
      Append<uint64_t>(&out, e.count);
    }
    out.insert(out.end(), e.payload.begin(), e.payload.end());
  };
  if (auto_alignment_key) {
    write_entry(Entry{"general.alignment", GgufType::kU32, GgufType::kU8, Encode(alignment_), 1});
  }
  for (const Entry& e : kv_) write_entry(e);

  uint64_t offset = 0;
  offsets->clear();
  for (const Tensor& t : tensors_) {
    AppendString(&out, t.name);
    Append<uint32_t>(&out, static_cast<uint32_t>(t.dims.size()));
    for (int64_t d : t.dims) Append<uint64_t>(&out, static_cast<uint64_t>(d));
    Append<uint32_t>(&out, static_cast<uint32_t>(t.type));
    Append<uint64_t>(&out, offset);
    offsets->push_back(offset);
    offset += t.data.size();
    offset += (alignment - offset % alignment) % alignment;
  }
  PadTo(&out, alignment);
  return out;
}

std::vector<uint8_t> GgufWriter::Serialize() const {
  std::vector<uint64_t> offsets;
  std::vector<uint8_t> out = SerializeHeader(&offsets);
  const uint64_t data_start = out.size();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    out.resize(data_start + offsets[i], 0);
    out.insert(out.end(), tensors_[i].data.begin(), tensors_[i].data.end());
    PadTo(&out, alignment_ == 0 ? 1 : alignment_);
  }
  return out;
}

Status GgufWriter::WriteFile(const std::string& path) const {
  if (!std::has_single_bit(alignment_) || alignment_ > (1u << 20)) {
    return InvalidArgument("{}: alignment {} is not a power of two up to 1 MiB", path, alignment_);
  }
  for (const Tensor& t : tensors_) {
    if (t.dims.empty() || t.dims.size() > kMaxDims) {
      return InvalidArgument("{}: tensor '{}' has {} dims, expected 1..{}", path, t.name,
                             t.dims.size(), kMaxDims);
    }
    uint64_t elems = 1;
    for (int64_t d : t.dims) {
      if (d < 1 || __builtin_mul_overflow(elems, static_cast<uint64_t>(d), &elems)) {
        return InvalidArgument("{}: tensor '{}' has invalid dims {}", path, t.name,
                               DimsString(t.dims));
      }
    }
    uint64_t bytes = 0;
    if (!ElemsToBytes(t.type, elems, &bytes) ||
        t.dims[0] % Info(t.type).block_elems != 0) {
      return InvalidArgument("{}: tensor '{}' dims {} do not fit {} blocks of {} elements", path,
                             t.name, DimsString(t.dims), DTypeName(t.type),
                             Info(t.type).block_elems);
    }
    if (bytes != t.data.size()) {
      return InvalidArgument("{}: tensor '{}' {} dims {} need {} bytes, got {}", path, t.name,
                             DTypeName(t.type), DimsString(t.dims), bytes, t.data.size());
    }
  }
  // The header is built in memory; tensor data is written straight from the tensors, so a large
  // model is not copied a second time.
  std::vector<uint64_t> offsets;
  const std::vector<uint8_t> header = SerializeHeader(&offsets);
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return InvalidArgument("{}: cannot create {}: {}", path, tmp, std::strerror(errno));
  }
  uint64_t written = 0;
  auto write_all = [&](const uint8_t* p, size_t n) -> Status {
    size_t done = 0;
    while (done < n) {
      const ssize_t k = ::write(fd, p + done, n - done);
      if (k < 0) {
        if (errno == EINTR) continue;
        return Unavailable("{}: writing {} failed at offset {}: {}", path, tmp, written + done,
                           std::strerror(errno));
      }
      done += static_cast<size_t>(k);
    }
    written += n;
    return Status::Ok();
  };
  Status st = write_all(header.data(), header.size());
  const std::vector<uint8_t> zeros(alignment_, 0);
  for (size_t i = 0; i < tensors_.size() && st.ok(); ++i) {
    const uint64_t target = header.size() + offsets[i];
    if (written < target) st = write_all(zeros.data(), target - written);
    if (st.ok()) st = write_all(tensors_[i].data.data(), tensors_[i].data.size());
    if (st.ok() && written % alignment_ != 0) {
      st = write_all(zeros.data(), alignment_ - written % alignment_);
    }
  }
  if (!st.ok()) {
    ::close(fd);
    ::unlink(tmp.c_str());
    return st;
  }
  const bool synced = ::fsync(fd) == 0;
  const int sync_err = errno;
  if (::close(fd) != 0 || !synced) {
    const int err = synced ? errno : sync_err;
    ::unlink(tmp.c_str());
    return Unavailable("{}: flushing {} failed: {}", path, tmp, std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return Unavailable("{}: renaming {} into place failed: {}", path, tmp, std::strerror(err));
  }
  return Status::Ok();
}

}  // namespace tlm
