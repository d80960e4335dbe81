// Loading NPU plugins: allowlisted folder, dlopen, ABI check first, then the table's completeness.
#include "kernels/npu/loader/plugin_loader.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace tlm {

NpuPlugin::NpuPlugin(void* handle, const TlmNpuPluginApi* api, TlmNpuGetApiFn get_api, std::string path)
    : handle_(handle), api_(api), get_api_(get_api), path_(std::move(path)) {}

NpuPlugin::~NpuPlugin() {
  if (handle_ != nullptr) dlclose(handle_);
}

bool NpuPlugin::SupportsSoc(const std::string& soc) const {
  for (uint32_t i = 0; i < api_->num_socs; ++i)
    if (api_->socs[i] != nullptr && soc == api_->socs[i]) return true;
  return false;
}

std::string NpuPlugin::SocList() const {
  std::string out;
  for (uint32_t i = 0; i < api_->num_socs; ++i) {
    if (!out.empty()) out += ", ";
    out += api_->socs[i] != nullptr ? api_->socs[i] : "(null)";
  }
  return out;
}

const char* NpuStatusName(TlmNpuStatus status) {
  switch (status) {
    case TLM_NPU_OK: return "OK";
    case TLM_NPU_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case TLM_NPU_ERR_UNSUPPORTED: return "UNSUPPORTED";
    case TLM_NPU_ERR_BAD_BLOB: return "BAD_BLOB";
    case TLM_NPU_ERR_BAD_STATE: return "BAD_STATE";
    case TLM_NPU_ERR_INVALID_HANDLE: return "INVALID_HANDLE";
    case TLM_NPU_ERR_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case TLM_NPU_ERR_INTERNAL: return "INTERNAL";
  }
  return "UNKNOWN_STATUS";
}

Status NpuPlugin::Check(TlmNpuStatus status, std::string_view call) const {
  if (status == TLM_NPU_OK) return Status::Ok();
  const char* msg = api_->last_error != nullptr ? api_->last_error() : nullptr;
  const std::string text = fmt::format("{} {} failed with {}: {}", api_->plugin_name, call, NpuStatusName(status),
                                       msg != nullptr ? msg : "(no message)");
  switch (status) {
    case TLM_NPU_ERR_INVALID_ARGUMENT: return Status(StatusCode::kInvalidArgument, text);
    case TLM_NPU_ERR_UNSUPPORTED: return Status(StatusCode::kUnimplemented, text);
    case TLM_NPU_ERR_BAD_BLOB: return Status(StatusCode::kDataLoss, text);
    case TLM_NPU_ERR_OUT_OF_MEMORY: return Status(StatusCode::kResourceExhausted, text);
    default: return Status(StatusCode::kInternal, text);
  }
}

std::string DefaultNpuPluginDir() {
  if (const char* env = std::getenv("TLMBENCH_PLUGIN_DIR"); env != nullptr && *env != '\0') return env;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "plugins";
  return (exe.parent_path().parent_path() / "plugins").string();
}

namespace {

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) == nullptr) return "";
  return buf;
}

}  // namespace

StatusOr<std::unique_ptr<NpuPlugin>> LoadNpuPlugin(const std::string& plugin, const std::string& plugin_dir) {
  if (plugin.empty()) return InvalidArgument("no NPU plugin named");
  const std::string dir = RealPath(plugin_dir);
  if (dir.empty()) return NotFound("NPU plugin folder '{}' does not exist", plugin_dir);
  // "vnpu" -> <dir>/tlm_npu_vnpu.so; "x.so" -> <dir>/x.so; anything with a slash is a path (still checked).
  const std::string candidate =
      plugin.find('/') != std::string::npos ? plugin
      : plugin.ends_with(".so")             ? (std::filesystem::path(plugin_dir) / plugin).string()
                                            : (std::filesystem::path(plugin_dir) / ("tlm_npu_" + plugin + ".so")).string();
  const std::string real = RealPath(candidate);
  if (real.empty()) return NotFound("NPU plugin '{}' not found (looked for {})", plugin, candidate);
  if (!real.starts_with(dir + "/"))
    return InvalidArgument("NPU plugin '{}' resolves to {}, outside the allowlisted plugin folder {}", plugin, real,
                           dir);
  struct stat st {};
  if (stat(real.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    return InvalidArgument("NPU plugin {} is not a regular file", real);
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
    return InvalidArgument("NPU plugin {} is writable by group or others; refusing to load it", real);

  dlerror();
  void* handle = dlopen(real.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* e = dlerror();
    return Unavailable("cannot load NPU plugin {}: {}", real, e != nullptr ? e : "dlopen failed");
  }
  auto fail = [&](Status s) {
    dlclose(handle);
    return s;
  };
  auto get_api = reinterpret_cast<TlmNpuGetApiFn>(dlsym(handle, TLM_NPU_ENTRY_POINT));
  if (get_api == nullptr)
    return fail(Unavailable("{} is not a tlmbench NPU plugin: it does not export {}()", real, TLM_NPU_ENTRY_POINT));
  const TlmNpuPluginApi* api = get_api(TLM_NPU_ABI_VERSION);
  if (api == nullptr)
    return fail(Unavailable("NPU plugin {} cannot serve this tlmbench's ABI {} ({}() returned NULL)", real,
                            TLM_NPU_ABI_VERSION, TLM_NPU_ENTRY_POINT));
  // The version first: nothing else in the table may be read before we know its layout.
  if (api->abi_version != TLM_NPU_ABI_VERSION)
    return fail(Unavailable("NPU plugin {} was built for ABI {}, this tlmbench speaks ABI {}; rebuild the plugin "
                            "against this tlm_npu_plugin.h or use a matching tlmbench",
                            real, api->abi_version, TLM_NPU_ABI_VERSION));
  if (api->struct_size < sizeof(TlmNpuPluginApi))
    return fail(Unavailable("NPU plugin {} claims ABI {} but its table is {} bytes, ABI {} has {}", real,
                            api->abi_version, api->struct_size, TLM_NPU_ABI_VERSION, sizeof(TlmNpuPluginApi)));
  if (api->vendor == nullptr || api->plugin_name == nullptr || api->plugin_version == nullptr ||
      api->num_socs == 0 || api->socs == nullptr)
    return fail(Unavailable("NPU plugin {} has no identity (vendor, name, version, SoCs)", real));
  for (uint32_t i = 0; i < api->num_socs; ++i)
    if (api->socs[i] == nullptr) return fail(Unavailable("NPU plugin {} lists a NULL SoC name", real));
  const void* fns[] = {reinterpret_cast<const void*>(api->supports),    reinterpret_cast<const void*>(api->partition),
                       reinterpret_cast<const void*>(api->compile),     reinterpret_cast<const void*>(api->free_blob),
                       reinterpret_cast<const void*>(api->create_context), reinterpret_cast<const void*>(api->load_blob),
                       reinterpret_cast<const void*>(api->bind_input),  reinterpret_cast<const void*>(api->bind_output),
                       reinterpret_cast<const void*>(api->invoke),      reinterpret_cast<const void*>(api->synchronize),
                       reinterpret_cast<const void*>(api->get_metrics), reinterpret_cast<const void*>(api->destroy_context),
                       reinterpret_cast<const void*>(api->last_error)};
  for (const void* f : fns)
    if (f == nullptr) return fail(Unavailable("NPU plugin {} leaves a required ABI {} function NULL", real,
                                              TLM_NPU_ABI_VERSION));
  return std::make_unique<NpuPlugin>(handle, api, get_api, real);
}

}  // namespace tlm
