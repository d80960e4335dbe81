// Scenario specs: YAML parsing with errors located at "file:line:col", validation of every field,
// and expansion of the matrix (product, exclude, include) into RunSpecs.
#include "harness/spec/scenario.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <utility>

#include <fmt/format.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <yaml-cpp/yaml.h>

#include "engine/common/sha256.h"

namespace tlm {
namespace {

using tlmbench::v1::RunSpec;

constexpr double kDefaultTimeoutS = 900;
constexpr int kDefaultWarmup = 1;
constexpr int kDefaultMinReps = 3;
constexpr double kDefaultMinDurationS = 0;
constexpr int kDefaultMaxReps = 100;
constexpr uint64_t kDefaultSeed = 42;
constexpr double kDefaultNoisyCv = 0.10;
constexpr int64_t kMaxReps = 1000000;
constexpr int64_t kMaxThreads = 1024;
constexpr int64_t kMaxTokens = int64_t{1} << 24;

constexpr std::string_view kWorkloadGenerate = "generate";
constexpr std::string_view kWorkloadAccuracy = "accuracy";
constexpr std::string_view kWorkloadNull = "null";

// The matrix axes, in the order the product nests them (model slowest).
enum Axis : int { kModel, kBackend, kThreads, kNPrompt, kNGen, kNCtx, kActivations, kAxisCount };
constexpr std::array<std::string_view, kAxisCount> kAxisNames = {"model", "backend", "threads",    "n_prompt",
                                                                 "n_gen", "n_ctx",   "activations"};

bool IsIntegerAxis(int axis) { return axis == kThreads || axis == kNPrompt || axis == kNGen || axis == kNCtx; }

// One value of an axis. `text` is canonical (integers printed in decimal), so values compare by it.
struct AxisValue {
  std::string text;
  int64_t number = 0;
  bool operator==(const AxisValue& o) const { return text == o.text; }
};
using Combo = std::array<std::optional<AxisValue>, kAxisCount>;

AxisValue DefaultAxisValue(int axis) {
  switch (axis) {
    case kBackend:
      return {"cpu", 0};
    case kThreads:
      return {"0", 0};
    case kNPrompt:
      return {"512", 512};
    case kNGen:
      return {"128", 128};
    case kNCtx:
      return {"0", 0};
    case kActivations:
      return {"f32", 0};
    default:
      return {"", 0};  // model: none
  }
}

AxisValue Effective(const Combo& combo, int axis) {
  return combo[axis].has_value() ? *combo[axis] : DefaultAxisValue(axis);
}

std::string DescribeCombo(const Combo& combo) {
  std::string out;
  for (int a = 0; a < kAxisCount; ++a) {
    AxisValue v = Effective(combo, a);
    if (a == kModel && v.text.empty()) continue;
    if (!out.empty()) out += ", ";
    out += fmt::format("{}={}", kAxisNames[a], v.text);
  }
  return out;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const bool same =
          std::tolower(static_cast<unsigned char>(a[i - 1])) == std::tolower(static_cast<unsigned char>(b[j - 1]));
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean 'x'?)" when one candidate is close to `word`, else " (expected one of: ...)".
std::string Suggestion(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = SIZE_MAX;
  for (std::string_view c : candidates) {
    const size_t d = EditDistance(word, c);
    if (d < best_distance) best_distance = d, best = c;
  }
  if (!best.empty() && best_distance <= std::max<size_t>(2, word.size() / 3)) {
    return fmt::format(" (did you mean '{}'?)", best);
  }
  return fmt::format(" (expected one of: {})", fmt::join(candidates, ", "));
}

// A node of the document, with where errors about it point and its dotted name.
struct Field {
  YAML::Node node;
  YAML::Mark mark;
  std::string name;  // "matrix.threads[1]"
};

struct MapEntry {
  std::string key;
  YAML::Mark key_mark;
  Field value;
};

std::string Join(std::string_view parent, std::string_view key) {
  return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view path) : text_(text), path_(path) {}

  StatusOr<Scenario> Run();

 private:
  template <typename... Args>
  Status Error(const YAML::Mark& mark, std::string_view field, fmt::format_string<Args...> f, Args&&... args) const {
    const std::string what = fmt::format(f, std::forward<Args>(args)...);
    if (field.empty()) return InvalidArgument("{}: {}", Where(mark), what);
    return InvalidArgument("{}: {}: {}", Where(mark), field, what);
  }
  std::string Where(const YAML::Mark& mark) const {
    if (mark.is_null() || mark.line < 0) return path_;
    return fmt::format("{}:{}:{}", path_, mark.line + 1, mark.column + 1);
  }
  std::string Source(const YAML::Mark& mark) const {
    return fmt::format("{}:{}", path_, mark.is_null() || mark.line < 0 ? 1 : mark.line + 1);
  }

  // The text of a scalar. yaml-cpp turns a plain `null` into a null node and forgets the word, so
  // the source text at the node's mark tells `workload: null` and a `null:` key from `~` or an
  // empty value. nullopt for a real null.
  std::optional<std::string> ScalarText(const YAML::Node& node, bool is_key) const;
  std::string Describe(const YAML::Node& node, bool is_key = false) const;

  StatusOr<std::vector<MapEntry>> ReadMap(const Field& field, const std::vector<std::string_view>* allowed) const;
  StatusOr<std::vector<Field>> ReadList(const Field& field, bool allow_scalar) const;
  StatusOr<std::string> ReadString(const Field& field) const;
  StatusOr<int64_t> ReadInt(const Field& field, int64_t lo, int64_t hi, std::string_view lo_reason = "") const;
  StatusOr<uint64_t> ReadUint64(const Field& field) const;
  StatusOr<double> ReadDouble(const Field& field, double lo, bool lo_exclusive) const;
  StatusOr<bool> ReadBool(const Field& field) const;
  StatusOr<std::string> ReadChoice(const Field& field, const std::vector<std::string_view>& choices) const;
  StatusOr<std::vector<std::string>> ReadNames(const Field& field, const std::vector<std::string_view>* choices) const;

  Status ParseMeasurement(const Field& field, tlmbench::v1::Measurement* m) const;
  Status ParseDevices(const Field& field, Scenario* s) const;
  Status ParseNullWorkload(const Field& field, tlmbench::v1::NullWorkload* n) const;
  StatusOr<AxisValue> ParseAxisValue(int axis, const Field& field) const;
  StatusOr<Combo> ParseMatrixEntry(const Field& field) const;
  Status ExpandMatrix(const MapEntry* matrix, const YAML::Mark& root_mark);

  std::string_view text_;
  std::string path_;
  std::string workload_ = std::string(kWorkloadGenerate);

  // The expanded points, each with the field and mark it came from.
  struct Point {
    Combo combo;
    YAML::Mark mark;
    std::string field;
  };
  std::vector<Point> points_;
};

std::optional<std::string> Parser::ScalarText(const YAML::Node& node, bool is_key) const {
  if (node.IsScalar()) return node.Scalar();
  if (!node.IsNull()) return std::nullopt;
  const YAML::Mark mark = node.Mark();
  if (mark.is_null() || mark.pos < 0 || static_cast<size_t>(mark.pos) >= text_.size()) return std::nullopt;
  std::string_view rest = text_.substr(static_cast<size_t>(mark.pos));
  for (std::string_view word : {"null", "Null", "NULL"}) {
    if (rest.substr(0, word.size()) != word) continue;
    size_t i = word.size();
    if (i < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[i])) || rest[i] == '_')) break;
    while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
    // An empty value's mark points at whatever follows it, possibly the next key: only a word that
    // is followed by ':' is a key, and only one that is not is a value.
    const bool followed_by_colon = i < rest.size() && rest[i] == ':';
    if (followed_by_colon == is_key) return std::string(word);
    break;
  }
  return std::nullopt;
}

std::string Parser::Describe(const YAML::Node& node, bool is_key) const {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Null: {
      std::optional<std::string> word = ScalarText(node, is_key);
      return word ? fmt::format("'{}'", *word) : "nothing";
    }
    default:
      return "nothing";
  }
}

StatusOr<std::vector<MapEntry>> Parser::ReadMap(const Field& field,
                                                const std::vector<std::string_view>* allowed) const {
  std::vector<MapEntry> entries;
  if (field.node.IsNull() && !ScalarText(field.node, false)) return entries;  // `measurement:` alone
  if (!field.node.IsMap()) {
    return Error(field.mark, field.name, "expected a mapping, got {}", Describe(field.node));
  }
  for (auto it = field.node.begin(); it != field.node.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: it-> yields a temporary
    const YAML::Mark key_mark = key.Mark();
    std::optional<std::string> name = ScalarText(key, true);
    if (!name || name->empty()) {
      return Error(key_mark, field.name, "expected a key name, got {}", Describe(key, true));
    }
    const std::string child = Join(field.name, *name);
    for (const MapEntry& e : entries) {
      if (e.key == *name) return Error(key_mark, child, "duplicate key (first given at line {})", e.key_mark.line + 1);
    }
    if (allowed != nullptr && std::find(allowed->begin(), allowed->end(), *name) == allowed->end()) {
      return Error(key_mark, child, "unknown key '{}'{}", *name, Suggestion(*name, *allowed));
    }
    const YAML::Node value = it->second;
    // An empty value's mark points past it; its key is the better place to point at.
    const YAML::Mark value_mark = value.IsNull() || value.Mark().is_null() ? key_mark : value.Mark();
    entries.push_back({*name, key_mark, Field{value, value_mark, child}});
  }
  return entries;
}

const MapEntry* Find(const std::vector<MapEntry>& entries, std::string_view key) {
  for (const MapEntry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

StatusOr<std::vector<Field>> Parser::ReadList(const Field& field, bool allow_scalar) const {
  std::vector<Field> items;
  if (field.node.IsSequence()) {
    if (field.node.size() == 0) return Error(field.mark, field.name, "empty list");
    for (size_t i = 0; i < field.node.size(); ++i) {
      const YAML::Node item = field.node[i];
      const YAML::Mark mark = item.IsNull() || item.Mark().is_null() ? field.mark : item.Mark();
      items.push_back(Field{item, mark, fmt::format("{}[{}]", field.name, i)});
    }
    return items;
  }
  if (allow_scalar && (field.node.IsScalar() || (field.node.IsNull() && ScalarText(field.node, false)))) {
    items.push_back(field);
    return items;
  }
  return Error(field.mark, field.name, "expected {}, got {}", allow_scalar ? "a value or a list of values" : "a list",
               Describe(field.node));
}

StatusOr<std::string> Parser::ReadString(const Field& field) const {
  std::optional<std::string> text = ScalarText(field.node, false);
  if (!text) return Error(field.mark, field.name, "expected a string, got {}", Describe(field.node));
  return *text;
}

StatusOr<int64_t> Parser::ReadInt(const Field& field, int64_t lo, int64_t hi, std::string_view lo_reason) const {
  if (!field.node.IsScalar()) {
    return Error(field.mark, field.name, "expected an integer, got {}", Describe(field.node));
  }
  std::string_view text = field.node.Scalar();
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return Error(field.mark, field.name, "{} is out of range ({}..{})", field.node.Scalar(), lo, hi);
  }
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Error(field.mark, field.name, "expected an integer, got '{}'", field.node.Scalar());
  }
  if (value < lo) {
    if (lo == 0) return Error(field.mark, field.name, "must be 0 or more, got {}", value);
    return Error(field.mark, field.name, "must be at least {}{}, got {}", lo, lo_reason, value);
  }
  if (value > hi) return Error(field.mark, field.name, "must be at most {}, got {}", hi, value);
  return value;
}

StatusOr<uint64_t> Parser::ReadUint64(const Field& field) const {
  if (!field.node.IsScalar()) {
    return Error(field.mark, field.name, "expected an integer, got {}", Describe(field.node));
  }
  std::string_view text = field.node.Scalar();
  if (!text.empty() && text[0] == '+') text.remove_prefix(1);
  if (!text.empty() && text[0] == '-') {
    int64_t negative = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), negative);
    if (ec == std::errc() && end == text.data() + text.size()) {
      return Error(field.mark, field.name, "must be 0 or more, got {}", text);
    }
  }
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return Error(field.mark, field.name, "{} is out of range (0..{})", text, UINT64_MAX);
  }
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Error(field.mark, field.name, "expected an integer, got '{}'", field.node.Scalar());
  }
  return value;
}

StatusOr<double> Parser::ReadDouble(const Field& field, double lo, bool lo_exclusive) const {
  if (!field.node.IsScalar()) {
    return Error(field.mark, field.name, "expected a number, got {}", Describe(field.node));
  }
  const std::string& text = field.node.Scalar();
  // strtod also takes "inf", "nan" and hex floats; a spec has no use for them.
  const bool plain = !text.empty() && text.find_first_not_of("0123456789+-.eE") == std::string::npos;
  char* end = nullptr;
  errno = 0;
  const double value = plain ? std::strtod(text.c_str(), &end) : 0;
  if (!plain || end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value)) {
    return Error(field.mark, field.name, "expected a number, got '{}'", text);
  }
  if (lo_exclusive && value <= lo) return Error(field.mark, field.name, "must be more than {}, got {}", lo, text);
  if (!lo_exclusive && value < lo) {
    return Error(field.mark, field.name, "must be {} or more, got {}", lo, text);
  }
  return value;
}

StatusOr<bool> Parser::ReadBool(const Field& field) const {
  if (field.node.IsScalar()) {
    const std::string& t = field.node.Scalar();
    if (t == "true" || t == "True" || t == "TRUE") return true;
    if (t == "false" || t == "False" || t == "FALSE") return false;
  }
  return Error(field.mark, field.name, "expected true or false, got {}", Describe(field.node));
}

StatusOr<std::string> Parser::ReadChoice(const Field& field, const std::vector<std::string_view>& choices) const {
  TLM_ASSIGN_OR_RETURN(std::string value, ReadString(field));
  if (std::find(choices.begin(), choices.end(), value) == choices.end()) {
    return Error(field.mark, field.name, "'{}' is not allowed{}", value, Suggestion(value, choices));
  }
  return value;
}

// A list of distinct non-empty names (a single name is taken as a list of one); restricted to
// `choices` when given.
StatusOr<std::vector<std::string>> Parser::ReadNames(const Field& field,
                                                     const std::vector<std::string_view>* choices) const {
  TLM_ASSIGN_OR_RETURN(std::vector<Field> items, ReadList(field, true));
  std::vector<std::string> names;
  for (const Field& item : items) {
    std::string name;
    if (choices != nullptr) {
      TLM_ASSIGN_OR_RETURN(name, ReadChoice(item, *choices));
    } else {
      TLM_ASSIGN_OR_RETURN(name, ReadString(item));
    }
    if (name.empty()) return Error(item.mark, item.name, "empty name");
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      return Error(item.mark, item.name, "'{}' is given twice", name);
    }
    names.push_back(std::move(name));
  }
  return names;
}

Status Parser::ParseMeasurement(const Field& field, tlmbench::v1::Measurement* m) const {
  static const std::vector<std::string_view> kKeys = {"warmup",   "min_reps", "min_duration_s",
                                                      "max_reps", "seed",     "noisy_cv"};
  TLM_ASSIGN_OR_RETURN(std::vector<MapEntry> entries, ReadMap(field, &kKeys));
  for (const MapEntry& e : entries) {
    if (e.key == "warmup") {
      TLM_ASSIGN_OR_RETURN(int64_t v, ReadInt(e.value, 0, kMaxReps));
      m->set_warmup(static_cast<int32_t>(v));
    } else if (e.key == "min_reps") {
      TLM_ASSIGN_OR_RETURN(int64_t v, ReadInt(e.value, 1, kMaxReps));
      m->set_min_reps(static_cast<int32_t>(v));
    } else if (e.key == "min_duration_s") {
      TLM_ASSIGN_OR_RETURN(double v, ReadDouble(e.value, 0, false));
      m->set_min_duration_s(v);
    } else if (e.key == "max_reps") {
      TLM_ASSIGN_OR_RETURN(int64_t v, ReadInt(e.value, 0, kMaxReps));
      m->set_max_reps(static_cast<int32_t>(v));
    } else if (e.key == "seed") {
      TLM_ASSIGN_OR_RETURN(uint64_t v, ReadUint64(e.value));
      m->set_seed(v);
    } else if (e.key == "noisy_cv") {
      TLM_ASSIGN_OR_RETURN(double v, ReadDouble(e.value, 0, true));
      m->set_noisy_cv(v);
    }
  }
  if (m->max_reps() != 0 && m->max_reps() < m->min_reps()) {
    const MapEntry* e = Find(entries, "max_reps");
    return Error(e != nullptr ? e->value.mark : field.mark, e != nullptr ? e->value.name : field.name,
                 "max_reps {} is less than min_reps {} (0 means no cap)", m->max_reps(), m->min_reps());
  }
  return Status::Ok();
}

Status Parser::ParseDevices(const Field& field, Scenario* s) const {
  static const std::vector<std::string_view> kKeys = {"labels", "capabilities"};
  TLM_ASSIGN_OR_RETURN(std::vector<MapEntry> entries, ReadMap(field, &kKeys));
  if (const MapEntry* labels = Find(entries, "labels")) {
    TLM_ASSIGN_OR_RETURN(std::vector<MapEntry> pairs, ReadMap(labels->value, nullptr));
    for (const MapEntry& p : pairs) {
      TLM_ASSIGN_OR_RETURN(std::string value, ReadString(p.value));
      s->labels[p.key] = std::move(value);
    }
  }
  if (const MapEntry* caps = Find(entries, "capabilities")) {
    TLM_ASSIGN_OR_RETURN(s->capabilities, ReadNames(caps->value, nullptr));
  }
  return Status::Ok();
}

Status Parser::ParseNullWorkload(const Field& field, tlmbench::v1::NullWorkload* n) const {
  static const std::vector<std::string_view> kKeys = {"sleep_ms", "hang_s", "crash", "alloc_bytes"};
  TLM_ASSIGN_OR_RETURN(std::vector<MapEntry> entries, ReadMap(field, &kKeys));
  for (const MapEntry& e : entries) {
    if (e.key == "sleep_ms") {
      TLM_ASSIGN_OR_RETURN(double v, ReadDouble(e.value, 0, false));
      n->set_sleep_ms(v);
    } else if (e.key == "hang_s") {
      TLM_ASSIGN_OR_RETURN(double v, ReadDouble(e.value, 0, false));
      n->set_hang_s(v);
    } else if (e.key == "crash") {
      TLM_ASSIGN_OR_RETURN(bool v, ReadBool(e.value));
      n->set_crash(v);
    } else if (e.key == "alloc_bytes") {
      TLM_ASSIGN_OR_RETURN(uint64_t v, ReadUint64(e.value));
      n->set_alloc_bytes(v);
    }
  }
  return Status::Ok();
}

StatusOr<AxisValue> Parser::ParseAxisValue(int axis, const Field& field) const {
  if (IsIntegerAxis(axis)) {
    // A prompt of no tokens has nothing to measure, except for the null workload that ignores it.
    const bool needs_prompt = axis == kNPrompt && workload_ != kWorkloadNull;
    const std::string reason = needs_prompt ? fmt::format(" for workload {}", workload_) : std::string();
    TLM_ASSIGN_OR_RETURN(int64_t v,
                         ReadInt(field, needs_prompt ? 1 : 0, axis == kThreads ? kMaxThreads : kMaxTokens, reason));
    return AxisValue{std::to_string(v), v};
  }
  if (axis == kActivations) {
    TLM_ASSIGN_OR_RETURN(std::string v, ReadChoice(field, {"f32", "q8", "q8x2"}));
    return AxisValue{v, 0};
  }
  TLM_ASSIGN_OR_RETURN(std::string v, ReadString(field));
  if (v.empty()) return Error(field.mark, field.name, "empty {} name", kAxisNames[axis]);
  if (axis == kBackend) {
    for (char c : v) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != ':' && c != '.') {
        return Error(field.mark, field.name, "'{}' is not a backend name (letters, digits, '-', '_', '.', ':')", v);
      }
    }
    return AxisValue{v, 0};
  }
  // A model is a file name under the agent's --models-dir; a spec must not reach outside it.
  if (v[0] == '/' || v[0] == '~') {
    return Error(field.mark, field.name,
                 "'{}' is an absolute path; give a file name relative to the agent's --models-dir", v);
  }
  std::string_view rest = v;
  while (!rest.empty()) {
    const size_t slash = rest.find_first_of("/\\");
    const std::string_view part = rest.substr(0, slash);
    if (part == "..") {
      return Error(field.mark, field.name,
                   "'{}' has a '..' component; give a file name relative to the agent's --models-dir", v);
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return AxisValue{v, 0};
}

StatusOr<Combo> Parser::ParseMatrixEntry(const Field& field) const {
  static const std::vector<std::string_view> kKeys(kAxisNames.begin(), kAxisNames.end());
  TLM_ASSIGN_OR_RETURN(std::vector<MapEntry> entries, ReadMap(field, &kKeys));
  if (entries.empty()) return Error(field.mark, field.name, "empty entry");
  Combo combo;
  for (const MapEntry& e : entries) {
    const int axis = static_cast<int>(std::find(kAxisNames.begin(), kAxisNames.end(), e.key) - kAxisNames.begin());
    if (e.value.node.IsSequence()) {
      return Error(e.value.mark, e.value.name, "expected a single value, got a list (give one entry per value)");
    }
    TLM_ASSIGN_OR_RETURN(combo[axis], ParseAxisValue(axis, e.value));
  }
  return combo;
}

// Expands `matrix` as GitHub Actions does: the product of the axes given, less the combinations an
// exclude entry matches; then each include entry extends every remaining product combination whose
// axes it matches (on the axes the matrix declares), or is added as a point of its own.
Status Parser::ExpandMatrix(const MapEntry* matrix, const YAML::Mark& root_mark) {
  static const std::vector<std::string_view> kKeys = {"model", "backend",     "threads", "n_prompt", "n_gen",
                                                      "n_ctx", "activations", "include", "exclude"};
  std::array<std::vector<AxisValue>, kAxisCount> lists;
  std::array<bool, kAxisCount> declared{};
  std::array<YAML::Mark, kAxisCount> axis_marks{};
  struct Entry {
    Combo combo;
    YAML::Mark mark;
    std::string name;
  };
  std::vector<Entry> includes, excludes;
  YAML::Mark matrix_mark = root_mark;
  std::string matrix_name = "matrix";
  YAML::Mark exclude_mark;

  if (matrix != nullptr) {
    matrix_mark = matrix->key_mark;  // points of the product come from the `matrix:` line
    TLM_ASSIGN_OR_RETURN(std::vector<MapEntry> entries, ReadMap(matrix->value, &kKeys));
    for (const MapEntry& e : entries) {
      if (e.key == "include" || e.key == "exclude") {
        TLM_ASSIGN_OR_RETURN(std::vector<Field> items, ReadList(e.value, false));
        for (const Field& item : items) {
          TLM_ASSIGN_OR_RETURN(Combo combo, ParseMatrixEntry(item));
          (e.key == "include" ? includes : excludes).push_back({combo, item.mark, item.name});
        }
        if (e.key == "exclude") exclude_mark = e.key_mark;
        continue;
      }
      const int axis = static_cast<int>(std::find(kAxisNames.begin(), kAxisNames.end(), e.key) - kAxisNames.begin());
      TLM_ASSIGN_OR_RETURN(std::vector<Field> items, ReadList(e.value, true));
      for (const Field& item : items) {
        TLM_ASSIGN_OR_RETURN(AxisValue v, ParseAxisValue(axis, item));
        for (size_t i = 0; i < lists[axis].size(); ++i) {
          if (lists[axis][i] == v) return Error(item.mark, item.name, "'{}' is given twice (also at [{}])", v.text, i);
        }
        lists[axis].push_back(std::move(v));
      }
      declared[axis] = true;
      axis_marks[axis] = e.key_mark;
    }
  }

  // The product, model slowest and activations fastest.
  const bool any_axis = std::find(declared.begin(), declared.end(), true) != declared.end();
  std::vector<Combo> product;
  if (any_axis || includes.empty()) product.emplace_back();
  for (int a = 0; a < kAxisCount && any_axis; ++a) {
    if (!declared[a]) continue;
    std::vector<Combo> next;
    for (const Combo& c : product) {
      for (const AxisValue& v : lists[a]) {
        next.push_back(c);
        next.back()[a] = v;
      }
    }
    product = std::move(next);
  }

  for (const Entry& ex : excludes) {
    auto matches = [&](const Combo& c) {
      for (int a = 0; a < kAxisCount; ++a) {
        if (ex.combo[a] && !(Effective(c, a) == *ex.combo[a])) return false;
      }
      return true;
    };
    const size_t before = product.size();
    product.erase(std::remove_if(product.begin(), product.end(), matches), product.end());
    if (product.size() == before) return Error(ex.mark, ex.name, "matches no combination of the matrix");
  }

  for (const Combo& c : product) points_.push_back({c, matrix_mark, matrix_name});
  const size_t originals = points_.size();
  for (const Entry& in : includes) {
    bool extended = false;
    for (size_t i = 0; i < originals; ++i) {
      Combo& c = points_[i].combo;
      bool match = true;
      for (int a = 0; a < kAxisCount && match; ++a) {
        if (declared[a] && in.combo[a] && !(*c[a] == *in.combo[a])) match = false;
      }
      if (!match) continue;
      extended = true;
      for (int a = 0; a < kAxisCount; ++a) {
        if (!declared[a] && in.combo[a]) c[a] = in.combo[a];
      }
    }
    if (!extended) points_.push_back({in.combo, in.mark, in.name});
  }

  if (points_.empty()) {
    return Error(exclude_mark.is_null() ? matrix_mark : exclude_mark, "matrix.exclude",
                 "every combination of the matrix is excluded; nothing is left to run");
  }

  for (const Point& p : points_) {
    const AxisValue model = Effective(p.combo, kModel);
    if (model.text.empty() && workload_ != kWorkloadNull) {
      if (p.field == matrix_name) {
        return Error(p.mark, "matrix.model", "required for workload {} (a model file name or a list of them)",
                     workload_);
      }
      return Error(p.mark, p.field, "adds a point with no model ({}); workload {} needs one", DescribeCombo(p.combo),
                   workload_);
    }
    const int64_t n_ctx = Effective(p.combo, kNCtx).number;
    const int64_t needed = Effective(p.combo, kNPrompt).number + Effective(p.combo, kNGen).number;
    if (n_ctx != 0 && n_ctx < needed) {
      const bool from_axis = p.field == matrix_name && declared[kNCtx];
      return Error(from_axis ? axis_marks[kNCtx] : p.mark, from_axis ? "matrix.n_ctx" : p.field,
                   "n_ctx {} is less than n_prompt + n_gen = {} ({})", n_ctx, needed, DescribeCombo(p.combo));
    }
  }
  return Status::Ok();
}

StatusOr<Scenario> Parser::Run() {
  YAML::Node root;
  try {
    std::vector<YAML::Node> documents = YAML::LoadAll(std::string(text_));
    if (documents.size() > 1) {
      return Error(documents[1].Mark(), "", "a scenario is one YAML document; found {}", documents.size());
    }
    if (!documents.empty()) root = documents[0];
  } catch (const YAML::ParserException& e) {
    return Error(e.mark, "", "YAML syntax error: {}", e.msg);
  } catch (const YAML::Exception& e) {
    return Error(e.mark, "", "YAML error: {}", e.msg);
  }
  YAML::Mark root_mark = root.Mark();
  if (root_mark.is_null()) root_mark.line = root_mark.column = root_mark.pos = 0;
  if (!root.IsMap()) {
    return Error(root_mark, "", "expected a mapping of scenario fields (name, matrix, ...), got {}", Describe(root));
  }

  static const std::vector<std::string_view> kKeys = {"name",    "description", "workload", "timeout_s", "measurement",
                                                      "devices", "accuracy",    "null",     "matrix",    "counter"};
  TLM_ASSIGN_OR_RETURN(std::vector<MapEntry> entries, ReadMap(Field{root, root_mark, ""}, &kKeys));

  Scenario s;
  s.path = path_;
  s.text = std::string(text_);

  const MapEntry* name = Find(entries, "name");
  if (name == nullptr) return Error(root_mark, "name", "required (letters a-z, digits, '_' and '-')");
  TLM_ASSIGN_OR_RETURN(s.name, ReadString(name->value));
  if (s.name.empty() || s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos) {
    return Error(name->value.mark, "name", "'{}' must be made of a-z, 0-9, '_' and '-'", s.name);
  }
  if (const MapEntry* e = Find(entries, "description")) {
    TLM_ASSIGN_OR_RETURN(s.description, ReadString(e->value));
  }
  if (const MapEntry* e = Find(entries, "workload")) {
    TLM_ASSIGN_OR_RETURN(workload_, ReadChoice(e->value, {kWorkloadGenerate, kWorkloadAccuracy, kWorkloadNull}));
  }
  double timeout_s = kDefaultTimeoutS;
  if (const MapEntry* e = Find(entries, "timeout_s")) {
    TLM_ASSIGN_OR_RETURN(timeout_s, ReadDouble(e->value, 0, false));
  }

  std::string counter;
  if (const MapEntry* e = Find(entries, "counter")) {
    TLM_ASSIGN_OR_RETURN(counter, ReadChoice(e->value, {"wall", "instructions"}));
    if (counter == "wall") counter.clear();
  }

  tlmbench::v1::Measurement measurement;
  measurement.set_warmup(kDefaultWarmup);
  measurement.set_min_reps(kDefaultMinReps);
  measurement.set_min_duration_s(kDefaultMinDurationS);
  measurement.set_max_reps(kDefaultMaxReps);
  measurement.set_seed(kDefaultSeed);
  measurement.set_noisy_cv(kDefaultNoisyCv);
  if (const MapEntry* e = Find(entries, "measurement")) TLM_RETURN_IF_ERROR(ParseMeasurement(e->value, &measurement));

  if (const MapEntry* e = Find(entries, "devices")) TLM_RETURN_IF_ERROR(ParseDevices(e->value, &s));

  std::vector<std::string> tasks;
  const MapEntry* accuracy = Find(entries, "accuracy");
  if (accuracy != nullptr) {
    if (workload_ != kWorkloadAccuracy) {
      return Error(accuracy->key_mark, "accuracy", "only allowed with workload: accuracy (workload is {})", workload_);
    }
    static const std::vector<std::string_view> kAccuracyKeys = {"tasks"};
    static const std::vector<std::string_view> kTasks = {"ppl", "kld"};
    TLM_ASSIGN_OR_RETURN(std::vector<MapEntry> acc, ReadMap(accuracy->value, &kAccuracyKeys));
    if (const MapEntry* t = Find(acc, "tasks")) {
      TLM_ASSIGN_OR_RETURN(tasks, ReadNames(t->value, &kTasks));
    }
  }
  if (workload_ == kWorkloadAccuracy && tasks.empty()) {
    return Error(accuracy != nullptr ? accuracy->key_mark : root_mark, "accuracy.tasks",
                 "required for workload accuracy (one or more of: ppl, kld)");
  }

  tlmbench::v1::NullWorkload null_workload;
  if (const MapEntry* e = Find(entries, "null")) {
    if (workload_ != kWorkloadNull) {
      return Error(e->key_mark, "null", "only allowed with workload: null (workload is {})", workload_);
    }
    TLM_RETURN_IF_ERROR(ParseNullWorkload(e->value, &null_workload));
  }

  const MapEntry* matrix = Find(entries, "matrix");
  TLM_RETURN_IF_ERROR(ExpandMatrix(matrix, root_mark));

  for (const Point& p : points_) {
    RunSpec r;
    r.set_scenario(s.name);
    r.set_workload(workload_);
    r.set_model(Effective(p.combo, kModel).text);
    r.set_backend(Effective(p.combo, kBackend).text);
    r.set_threads(static_cast<int32_t>(Effective(p.combo, kThreads).number));
    r.set_n_prompt(static_cast<int32_t>(Effective(p.combo, kNPrompt).number));
    r.set_n_gen(static_cast<int32_t>(Effective(p.combo, kNGen).number));
    r.set_n_ctx(static_cast<int32_t>(Effective(p.combo, kNCtx).number));
    r.set_activations(Effective(p.combo, kActivations).text);
    *r.mutable_measurement() = measurement;
    for (const std::string& t : tasks) r.add_accuracy_tasks(t);
    r.set_timeout_s(timeout_s);
    r.mutable_labels()->insert(s.labels.begin(), s.labels.end());
    for (const std::string& c : s.capabilities) r.add_capabilities(c);
    if (workload_ == kWorkloadNull) *r.mutable_null_workload() = null_workload;
    r.set_counter(counter);
    r.set_source(Source(p.mark));
    r.set_spec_hash(ComputeSpecHash(r));
    s.runs.push_back(std::move(r));
  }
  return s;
}

}  // namespace

StatusOr<Scenario> ParseScenario(std::string_view yaml_text, std::string_view path) {
  try {
    return Parser(yaml_text, path).Run();
  } catch (const YAML::Exception& e) {
    // The parser checks node types before use; this is a safety net, not a path we expect.
    return InvalidArgument("{}: YAML error: {}", path, e.what());
  }
}

StatusOr<Scenario> LoadScenario(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return InvalidArgument("{}: is a directory, not a scenario file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("{}: cannot read: {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return NotFound("{}: cannot read: {}", path, std::strerror(errno));
  return ParseScenario(text.str(), path);
}

std::string ComputeSpecHash(const RunSpec& spec) {
  RunSpec canonical = spec;
  canonical.clear_run_id();
  canonical.clear_sweep_id();
  canonical.clear_attempt();
  canonical.clear_spec_hash();
  canonical.clear_source();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);  // map entries (labels) in key order
    canonical.SerializeToCodedStream(&coded);
  }
  return Sha256Hex(bytes.data(), bytes.size());
}

std::string MakeRunId(std::string_view sweep_id, const RunSpec& spec, int ordinal) {
  const std::string key = fmt::format("{}/{}/{}", sweep_id, ComputeSpecHash(spec), ordinal);
  return Sha256Hex(key.data(), key.size()).substr(0, 20);
}

void AssignRunIds(std::string_view sweep_id, std::vector<RunSpec>* runs) {
  std::map<std::string, int> seen;
  for (RunSpec& r : *runs) {
    const int ordinal = seen[ComputeSpecHash(r)]++;
    r.set_run_id(MakeRunId(sweep_id, r, ordinal));
    r.set_sweep_id(std::string(sweep_id));
  }
}

}  // namespace tlm
