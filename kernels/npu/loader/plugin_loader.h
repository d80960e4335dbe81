// Host side of the NPU plugin ABI: finds a plugin in the allowlisted plugin folder, dlopens it, and
// checks its ABI version before any other call, so a mismatch fails at load time and says so plainly.
#pragma once

#include <memory>
#include <string>

#include "engine/common/status.h"
#include "kernels/npu/include/tlm_npu_plugin.h"

namespace tlm {

// A loaded plugin; dlcloses it when destroyed.
class NpuPlugin {
 public:
  NpuPlugin(void* handle, const TlmNpuPluginApi* api, TlmNpuGetApiFn get_api, std::string path);
  ~NpuPlugin();
  NpuPlugin(const NpuPlugin&) = delete;
  NpuPlugin& operator=(const NpuPlugin&) = delete;

  const TlmNpuPluginApi& api() const { return *api_; }
  TlmNpuGetApiFn get_api() const { return get_api_; }  // for version-negotiation tests
  const std::string& path() const { return path_; }
  bool SupportsSoc(const std::string& soc) const;
  std::string SocList() const;  // "a, b"

  // A plugin call's status as a tlm::Status with the plugin's own message.
  Status Check(TlmNpuStatus status, std::string_view call) const;

 private:
  void* handle_;
  const TlmNpuPluginApi* api_;
  TlmNpuGetApiFn get_api_;
  std::string path_;
};

const char* NpuStatusName(TlmNpuStatus status);

// The plugin folder: $TLMBENCH_PLUGIN_DIR, else <folder of this executable>/../plugins.
std::string DefaultNpuPluginDir();

// Resolves `plugin` (a name such as "vnpu" meaning <dir>/tlm_npu_vnpu.so, or a file path) and loads it.
// Refused: a file whose real path (symlinks resolved) is outside the real path of `plugin_dir`, one that is
// not a regular file or is writable by group or others, a missing entry point, a NULL table, an ABI
// version other than TLM_NPU_ABI_VERSION, a table smaller than this ABI's, missing identity or functions.
StatusOr<std::unique_ptr<NpuPlugin>> LoadNpuPlugin(const std::string& plugin, const std::string& plugin_dir);

}  // namespace tlm
