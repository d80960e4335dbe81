// Architecture registry.
#include "engine/arch/arch.h"

#include <vector>

namespace tlm {
namespace {
const std::vector<ArchDef>& Registry() {
  static const std::vector<ArchDef> registry = {Gemma3Arch(), LlamaArch()};
  return registry;
}
}  // namespace

StatusOr<const ArchDef*> FindArch(const std::string& name) {
  std::string known;
  for (const ArchDef& def : Registry()) {
    if (def.name == name) return &def;
    known += (known.empty() ? "" : ", ") + def.name;
  }
  return Unimplemented("architecture '{}' is not supported (supported: {})", name, known);
}

}  // namespace tlm
