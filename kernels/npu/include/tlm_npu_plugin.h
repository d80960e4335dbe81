/* tlm_npu_plugin.h: the versioned C ABI between tlmbench and an NPU vendor plugin (no C++ crosses it).
 *
 * A plugin is a shared library with ONE exported symbol, tlm_npu_plugin_get_api(). It returns a table
 * whose first two fields (abi_version, struct_size) never move: the host reads them before it touches
 * anything else and refuses a plugin built for another ABI, plainly and at load time.
 *
 * Two halves, as in LiteRT: a compiler half (capabilities, partition, compile a subgraph for a SoC into
 * a blob, ahead of time) and a dispatch half (context, load blob, bind buffers, invoke, synchronize,
 * metrics, destroy). Every call returns a TlmNpuStatus; last_error() says what went wrong in words.
 * Handles are validated by the plugin: a stale or foreign handle is an error code, never a crash.
 *
 * The contract `tlmbench qualify` checks (docs/npu.md):
 *  - a NULL pointer argument: TLM_NPU_ERR_INVALID_ARGUMENT (a NULL context may give INVALID_HANDLE);
 *  - a destroyed context: TLM_NPU_ERR_INVALID_HANDLE (so a second destroy is an error, not a double free);
 *  - out of order: TLM_NPU_ERR_BAD_STATE for bind/invoke before load_blob, a second load_blob, invoke with
 *    a buffer unbound, a second invoke before synchronize, synchronize with nothing invoked, get_metrics
 *    before any invoke completed;
 *  - a blob that is not this plugin's, is corrupt, truncated, extended or made for another SoC:
 *    TLM_NPU_ERR_BAD_BLOB, and the context stays empty and usable;
 *  - bind sizes must equal the tensor's byte size exactly; a plugin never writes past a bound buffer;
 *  - every failure sets a message that last_error() returns. */
#ifndef TLM_NPU_PLUGIN_H_
#define TLM_NPU_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The ABI this header describes. Any change to a struct layout or a function signature bumps it. */
#define TLM_NPU_ABI_VERSION 1u
#define TLM_NPU_ENTRY_POINT "tlm_npu_plugin_get_api"
#define TLM_NPU_MAX_RANK 4
#define TLM_NPU_MAX_OP_INPUTS 4

typedef enum TlmNpuStatus {
  TLM_NPU_OK = 0,
  TLM_NPU_ERR_INVALID_ARGUMENT = 1, /* a NULL pointer, an index out of range, a bad shape or size */
  TLM_NPU_ERR_UNSUPPORTED = 2,      /* an op, data type or SoC this plugin does not handle */
  TLM_NPU_ERR_BAD_BLOB = 3,         /* not a blob of this plugin, corrupt, or compiled for another SoC */
  TLM_NPU_ERR_BAD_STATE = 4,        /* a call out of order (invoke before load, ...) */
  TLM_NPU_ERR_INVALID_HANDLE = 5,   /* a context that was destroyed or never created */
  TLM_NPU_ERR_OUT_OF_MEMORY = 6,
  TLM_NPU_ERR_INTERNAL = 7
} TlmNpuStatus;

typedef enum TlmNpuDType {
  TLM_NPU_DTYPE_INT8 = 1,
  TLM_NPU_DTYPE_INT16 = 2,
  TLM_NPU_DTYPE_INT32 = 3,
  TLM_NPU_DTYPE_FLOAT32 = 4
} TlmNpuDType;

typedef enum TlmNpuOpKind {
  /* out[m][n] = sum_k in[m][k] * w[n][k]. inputs: {activations [M,K], weights [N,K] int8 constant with
   * per-channel (per-n) scales}. Output INT32: the raw accumulators. Output INT8/INT16: requantized,
   * round_half_away(acc * in.scale * w.channel_scales[n] / out.scale), saturated. Output FLOAT32:
   * acc * in.scale * w.channel_scales[n]. Quantization is symmetric (zero point 0). */
  TLM_NPU_OP_FULLY_CONNECTED = 1,
  /* out = requantize(a * a.scale + b * b.scale) elementwise; a, b, out of one shape and dtype (INT8/INT16). */
  TLM_NPU_OP_ADD = 2
} TlmNpuOpKind;

/* A tensor of the graph. data != NULL marks a constant (weights), copied into the blob at compile time;
 * data == NULL marks a runtime tensor: a graph input, an intermediate or a graph output. */
typedef struct TlmNpuTensor {
  uint32_t dtype; /* TlmNpuDType */
  uint32_t rank;  /* 1..TLM_NPU_MAX_RANK */
  int64_t dims[TLM_NPU_MAX_RANK];
  float scale;                 /* per-tensor scale (activations, outputs) */
  const float* channel_scales; /* per-channel scales of constant weights (dims[0] of them), or NULL */
  const void* data;            /* constant contents, or NULL */
} TlmNpuTensor;

typedef struct TlmNpuOp {
  uint32_t kind; /* TlmNpuOpKind */
  uint32_t num_inputs;
  uint32_t inputs[TLM_NPU_MAX_OP_INPUTS]; /* tensor indices */
  uint32_t output;                        /* tensor index */
} TlmNpuOp;

/* A graph in topological order. Graph inputs and outputs are bound by their position in these lists. */
typedef struct TlmNpuGraph {
  uint32_t struct_size; /* sizeof(TlmNpuGraph) */
  uint32_t num_tensors;
  const TlmNpuTensor* tensors;
  uint32_t num_ops;
  const TlmNpuOp* ops;
  uint32_t num_inputs;
  const uint32_t* inputs;
  uint32_t num_outputs;
  const uint32_t* outputs;
} TlmNpuGraph;

/* Compiled bytecode, owned by the plugin until free_blob(). The host may write it to disk and load
 * it later into a context of the same plugin and SoC. */
typedef struct TlmNpuBlob {
  const uint8_t* data;
  size_t size;
  void* opaque; /* plugin-private */
} TlmNpuBlob;

/* Measured and modelled cost: of the last invoke (whole graph) or of one op of it. */
typedef struct TlmNpuMetrics {
  uint32_t struct_size; /* set by the host to sizeof(TlmNpuMetrics) */
  uint32_t num_ops;     /* ops in the loaded blob */
  uint64_t wall_ns;          /* wall-clock time spent executing */
  uint64_t modelled_cycles;  /* cycles the plugin's hardware model predicts */
  uint64_t modelled_ns;      /* modelled_cycles at the SoC's clock */
  uint64_t macs;             /* multiply-accumulates performed */
  uint64_t dma_bytes;        /* bytes moved between DRAM and on-chip memory in the model */
} TlmNpuMetrics;

typedef struct TlmNpuContext TlmNpuContext; /* opaque, one per loaded blob */

typedef struct TlmNpuPluginApi {
  /* These two first, forever: the host checks them before anything else. */
  uint32_t abi_version; /* TLM_NPU_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /* sizeof(TlmNpuPluginApi) of that ABI */

  /* Identity. */
  const char* vendor;
  const char* plugin_name;
  const char* plugin_version;
  uint32_t num_socs;
  const char* const* socs;

  /* Compiler half. supports(): 1 if the plugin runs op `kind` from `input_dtype` to `output_dtype`. */
  int (*supports)(uint32_t kind, uint32_t input_dtype, uint32_t output_dtype);
  /* taken[i] = 1 for each op of the graph the plugin takes on this SoC, 0 otherwise. */
  TlmNpuStatus (*partition)(const TlmNpuGraph* graph, const char* soc, uint8_t* taken, uint32_t num_taken);
  /* Compiles the whole graph (a subgraph chosen by partition) for one SoC into *blob. */
  TlmNpuStatus (*compile)(const TlmNpuGraph* graph, const char* soc, TlmNpuBlob* blob);
  /* Frees a blob from compile and zeroes *blob; freeing a zeroed blob is a no-op. */
  TlmNpuStatus (*free_blob)(TlmNpuBlob* blob);

  /* Dispatch half, in call order. */
  TlmNpuStatus (*create_context)(const char* soc, TlmNpuContext** context);
  /* Copies what it needs: the host may free `data` once load_blob returns. */
  TlmNpuStatus (*load_blob)(TlmNpuContext* context, const void* data, size_t size);
  TlmNpuStatus (*bind_input)(TlmNpuContext* context, uint32_t index, const void* data, size_t size);
  TlmNpuStatus (*bind_output)(TlmNpuContext* context, uint32_t index, void* data, size_t size);
  TlmNpuStatus (*invoke)(TlmNpuContext* context);      /* may return before the work is done */
  TlmNpuStatus (*synchronize)(TlmNpuContext* context); /* waits for the last invoke; outputs are then valid */
  /* op_index == UINT32_MAX: the whole last invoke; otherwise one op of it. */
  TlmNpuStatus (*get_metrics)(TlmNpuContext* context, uint32_t op_index, TlmNpuMetrics* metrics);
  TlmNpuStatus (*destroy_context)(TlmNpuContext* context);

  /* The message of the last failed call on this thread (context may be NULL); never NULL. */
  const char* (*last_error)(void);
} TlmNpuPluginApi;

/* The one exported symbol. Returns NULL when the plugin cannot serve a host of this ABI version (e.g.
 * host_abi_version 0); otherwise its table, whose abi_version the host compares with its own. */
typedef const TlmNpuPluginApi* (*TlmNpuGetApiFn)(uint32_t host_abi_version);
const TlmNpuPluginApi* tlm_npu_plugin_get_api(uint32_t host_abi_version);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TLM_NPU_PLUGIN_H_ */
