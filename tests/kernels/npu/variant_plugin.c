/* Working variants of vnpu for the npu backend's tests, chosen at build time by VARIANT_KIND:
 *  PICKY: partition() takes only FULLY_CONNECTED ops with at most 256 output channels (the rest must
 *         fall back to the CPU), and calls itself "vnpu-picky";
 *  NEWER: vnpu itself under plugin version 1.1.0 (an artifact of vnpu 1.0.0 must be refused). */
#include <stdint.h>
#include <string.h>

#include "kernels/npu/vnpu/vnpu_core.h"

#define VARIANT_PICKY 1
#define VARIANT_NEWER 2

static TlmNpuPluginApi g_api;

#if VARIANT_KIND == VARIANT_PICKY
static TlmNpuStatus PickyPartition(const TlmNpuGraph* graph, const char* soc, uint8_t* taken, uint32_t num_taken) {
  TlmNpuStatus s = tlm_vnpu_reference_api()->partition(graph, soc, taken, num_taken);
  if (s != TLM_NPU_OK) return s;
  for (uint32_t i = 0; i < graph->num_ops; ++i) {
    const TlmNpuOp* op = &graph->ops[i];
    if (op->kind == TLM_NPU_OP_FULLY_CONNECTED && graph->tensors[op->output].dims[1] > 256) taken[i] = 0;
  }
  return TLM_NPU_OK;
}
#endif

__attribute__((visibility("default"))) const TlmNpuPluginApi* tlm_npu_plugin_get_api(uint32_t host_abi_version) {
  if (host_abi_version == 0) return NULL;
  memcpy(&g_api, tlm_vnpu_reference_api(), sizeof(g_api));
#if VARIANT_KIND == VARIANT_PICKY
  g_api.plugin_name = "vnpu-picky";
  g_api.partition = PickyPartition;
#elif VARIANT_KIND == VARIANT_NEWER
  g_api.plugin_version = "1.1.0";
#endif
  return &g_api;
}
