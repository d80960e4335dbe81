// vnpu: the reference virtual NPU. Its whole ABI table, for the plugin entry point and for test plugins
// that derive from it (tests/kernels/npu) by replacing one entry.
#pragma once

#include "kernels/npu/include/tlm_npu_plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

// The vnpu table (ABI TLM_NPU_ABI_VERSION). Static storage; never NULL.
const TlmNpuPluginApi* tlm_vnpu_reference_api(void);

#ifdef __cplusplus
}
#endif
