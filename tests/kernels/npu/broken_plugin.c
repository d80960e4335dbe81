/* Deliberately broken NPU plugins for the qualification suite's own tests: each is vnpu with one thing
 * broken, chosen at build time by BROKEN_KIND (see tests/kernels/npu/CMakeLists.txt). */
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "kernels/npu/vnpu/vnpu_core.h"

#define BROKEN_CRASH 1         /* segfaults in invoke */
#define BROKEN_HANG 2          /* never returns from invoke */
#define BROKEN_WRONG_ABI 3     /* built for ABI 2 */
#define BROKEN_WRONG_RESULTS 4 /* adds 3 to every output byte after synchronize */
#define BROKEN_OVERRUN 5       /* writes one byte past the end of each output buffer */
#define BROKEN_LOAD_CRASH 6    /* segfaults when the host asks for its table, i.e. while loading */

static TlmNpuPluginApi g_api;
static void* g_out;
static size_t g_out_size;

static TlmNpuStatus BrokenInvoke(TlmNpuContext* context) {
#if BROKEN_KIND == BROKEN_CRASH
  (void)context;
  raise(SIGSEGV);
  return TLM_NPU_ERR_INTERNAL;
#elif BROKEN_KIND == BROKEN_HANG
  (void)context;
  for (;;) pause();
  return TLM_NPU_ERR_INTERNAL; /* not reached */
#else
  return tlm_vnpu_reference_api()->invoke(context);
#endif
}

static TlmNpuStatus BrokenBindOutput(TlmNpuContext* context, uint32_t index, void* data, size_t size) {
  TlmNpuStatus s = tlm_vnpu_reference_api()->bind_output(context, index, data, size);
  if (s == TLM_NPU_OK) {
    g_out = data;
    g_out_size = size;
  }
  return s;
}

static TlmNpuStatus BrokenSynchronize(TlmNpuContext* context) {
  TlmNpuStatus s = tlm_vnpu_reference_api()->synchronize(context);
  if (s != TLM_NPU_OK || g_out == NULL) return s;
#if BROKEN_KIND == BROKEN_WRONG_RESULTS
  for (size_t i = 0; i < g_out_size; ++i) ((uint8_t*)g_out)[i] += 3;
#elif BROKEN_KIND == BROKEN_OVERRUN
  ((uint8_t*)g_out)[g_out_size] = 0;
#endif
  return s;
}

__attribute__((visibility("default"))) const TlmNpuPluginApi* tlm_npu_plugin_get_api(uint32_t host_abi_version) {
  if (host_abi_version == 0) return NULL;
#if BROKEN_KIND == BROKEN_LOAD_CRASH
  raise(SIGSEGV);
#endif
  memcpy(&g_api, tlm_vnpu_reference_api(), sizeof(g_api));
  g_api.plugin_name = "broken";
  g_api.invoke = BrokenInvoke;
  g_api.bind_output = BrokenBindOutput;
  g_api.synchronize = BrokenSynchronize;
#if BROKEN_KIND == BROKEN_WRONG_ABI
  g_api.abi_version = TLM_NPU_ABI_VERSION + 1;
#endif
  return &g_api;
}
