// The vnpu plugin's one exported symbol: negotiates the ABI version and hands out the vnpu table.
#include "kernels/npu/vnpu/vnpu_core.h"

extern "C" __attribute__((visibility("default"))) const TlmNpuPluginApi* tlm_npu_plugin_get_api(
    uint32_t host_abi_version) {
  // A host older than ABI 1 does not exist; a newer host gets our table and sees our (older) version.
  if (host_abi_version == 0) return nullptr;
  return tlm_vnpu_reference_api();
}
