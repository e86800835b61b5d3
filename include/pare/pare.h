/* pare: compress neural networks and run them on edge GPUs through OpenCL.
 *
 * The public C API. Every call that can fail returns a pare_status (0 on
 * success, negative on error); handles keep the text of their last error,
 * naming what failed. Nothing in the library calls abort() or exit(). */
#ifndef PARE_PARE_H
#define PARE_PARE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(PARE_BUILDING_LIBRARY) && defined(__GNUC__)
#define PARE_API __attribute__((visibility("default")))
#else
#define PARE_API
#endif

/* ---- status ---------------------------------------------------------- */

typedef enum pare_status {
  PARE_OK = 0,
  PARE_ERR_INVALID_ARG = -1, /* a bad argument, flag or shape */
  PARE_ERR_NO_MEMORY = -2,
  PARE_ERR_IO = -3,          /* a file could not be read or written */
  PARE_ERR_FORMAT = -4,      /* malformed input data or model */
  PARE_ERR_UNSUPPORTED = -5, /* valid, but not supported (op, attribute, dtype) */
  PARE_ERR_NO_DEVICE = -6,   /* no OpenCL platform/device that pare can use */
  PARE_ERR_OPENCL = -7,      /* an OpenCL call failed */
  PARE_ERR_BUILD = -8,       /* an OpenCL program failed to build */
  PARE_ERR_INTERNAL = -9
} pare_status;

/* A short constant description of a status, e.g. "invalid argument". */
PARE_API const char *pare_status_str(pare_status status);

/* "0.1.0"; the major number is the shared library's SONAME version. */
PARE_API const char *pare_version(void);

/* ---- tensors ------------------------------------------------------- */

typedef enum pare_dtype {
  PARE_DT_UNDEFINED = 0,
  PARE_DT_F32,
  PARE_DT_F16,
  PARE_DT_I64,
  PARE_DT_I32,
  PARE_DT_I8,
  PARE_DT_U8,
  PARE_DT_I4, /* two values a byte, low nibble first */
  PARE_DT_BOOL,
  PARE_DT_COUNT
} pare_dtype;

/* "f32", "f16", "i64", "i32", "i8", "u8", "i4", "bool" ("undefined" for 0). */
PARE_API const char *pare_dtype_str(pare_dtype dt);

#define PARE_MAX_RANK 8

/* A tensor passed in or out of a model: dense, row-major. */
typedef struct pare_tensor_view {
  const char *name; /* inputs: NULL means by position */
  pare_dtype dtype;
  int rank;
  int64_t dims[PARE_MAX_RANK]; /* -1: chosen at run time (model info only) */
  void *data;
  size_t nbytes;
} pare_tensor_view;

/* Frees memory pare allocated for the caller (model outputs). */
PARE_API void pare_free(void *p);

/* ---- logging --------------------------------------------------------- */

typedef enum pare_log_level {
  PARE_LOG_ERROR = 0,
  PARE_LOG_WARN = 1,
  PARE_LOG_INFO = 2,
  PARE_LOG_DEBUG = 3
} pare_log_level;

typedef void (*pare_log_fn)(pare_log_level level, const char *message, void *user);

/* Messages at or below `level` go to `fn` (NULL: standard error, the
 * default). The default level is WARN, or PARE_LOG_LEVEL=error|warn|info|debug. */
PARE_API void pare_log_set(pare_log_fn fn, void *user, pare_log_level level);

/* ---- devices --------------------------------------------------------- */

typedef struct pare_device_info {
  int platform_index; /* position among OpenCL platforms */
  int device_index;   /* position among all devices pare lists (PARE_DEVICE=N) */
  char platform[128];
  char name[128];
  char vendor[128];
  char version[128];        /* CL_DEVICE_VERSION */
  char driver_version[128]; /* CL_DRIVER_VERSION */
  char type[16];            /* "gpu", "cpu", "accelerator", "other" */
  char profile[32];         /* device profile pare uses: "pocl", "mali_valhall", ... */
  char family[32];          /* "mali-valhall", "adreno-6xx", "nvidia", "cpu-pocl", ... */
  unsigned compute_units;
  unsigned clock_mhz;
  uint64_t global_mem_bytes;
  uint64_t local_mem_bytes;
  uint64_t max_alloc_bytes;
  size_t max_work_group_size;
  int fp16;              /* cl_khr_fp16 advertised and a test kernel compiled */
  int int8_dot;          /* an int8 dot-product extension whose test kernel compiled */
  char int8_dot_ext[48]; /* which one, or "" */
  int subgroups;
  int images;
} pare_device_info;

/* Lists every OpenCL device of every platform into `out` (up to `capacity`
 * entries; `out` may be NULL to count) and sets *count to the number found.
 * Returns PARE_ERR_NO_DEVICE, with *count = 0, when OpenCL is unavailable;
 * `error` (may be NULL) receives the reason. */
PARE_API pare_status pare_devices_list(pare_device_info *out, size_t capacity, size_t *count,
                                       char *error, size_t error_size);

/* ---- context --------------------------------------------------------- */

typedef enum pare_backend {
  PARE_BACKEND_AUTO = 0,      /* OpenCL when a device works, else the reference */
  PARE_BACKEND_OPENCL = 1,    /* OpenCL or fail */
  PARE_BACKEND_REFERENCE = 2, /* the plain-C reference backend */
} pare_backend;

typedef struct pare_context_options {
  pare_backend backend;
  const char *device;    /* index or name substring; NULL: PARE_DEVICE, else the first GPU */
  const char *profile;   /* force a device profile; NULL: PARE_PROFILE, else detected */
  const char *cache_dir; /* program cache; NULL: PARE_CACHE_DIR, else $XDG_CACHE_HOME/pare */
  int no_cache;          /* 1: never read or write the program cache */
  int no_fuse;   /* 1: the OpenCL backend runs every node as its own launch: no Conv/Gemm epilogue
                  * fusion (BatchNormalization, bias, residual Add, ReLU/Clip), for comparisons;
                  * PARE_NO_FUSE=1 does the same for every context */
  int no_tune;   /* 1: kernels ignore the parameters `pare tune` stored for their shapes and use
                  * the device profile's (PARE_NO_TUNE=1 does the same for every context) */
  int one_queue; /* 1: the OpenCL backend enqueues every launch on one queue, running no
                  * independent branches of a graph side by side (PARE_QUEUES=1 does the same
                  * for every context) */
} pare_context_options;

typedef struct pare_context pare_context;

/* Opens a context. With PARE_BACKEND_AUTO a missing or failing OpenCL
 * falls back to the reference backend, saying so once on the log. */
PARE_API pare_status pare_context_create(const pare_context_options *options, pare_context **out);
PARE_API void pare_context_destroy(pare_context *ctx);

/* The backend in use, and the device's info (PARE_ERR_NO_DEVICE for the reference). */
PARE_API pare_backend pare_context_backend(const pare_context *ctx);
PARE_API pare_status pare_context_device(const pare_context *ctx, pare_device_info *info);

/* Text of the last error on this context ("" if none). Valid until the next call. */
PARE_API const char *pare_context_last_error(const pare_context *ctx);

/* ---- GEMM ------------------------------------------------------------ */

typedef struct pare_gemm_desc {
  int trans_a, trans_b; /* op(X) = X or Xᵀ */
  size_t m, n, k;       /* op(A) is m×k, op(B) is k×n, C is m×n, all row-major */
  size_t lda, ldb, ldc; /* leading dimensions; 0 means packed */
  float alpha, beta;
} pare_gemm_desc;

/* C = alpha·op(A)·op(B) + beta·C (+ bias[j] on every row when bias != NULL),
 * on host memory. With beta == 0, C is only written. Runs on the context's
 * backend; an OpenCL failure falls back to the reference and is logged. */
PARE_API pare_status pare_gemm_f32(pare_context *ctx, const pare_gemm_desc *desc, const float *a,
                                   const float *b, float *c, const float *bias);

/* ---- models ---------------------------------------------------------- */

typedef struct pare_model pare_model;

/* Loads an ONNX model or a .pare file (told apart by content). On failure
 * *out is NULL and `error` (may be NULL) names the file, node or tensor. */
PARE_API pare_status pare_model_load(const char *path, pare_model **out, char *error,
                                     size_t error_size);
/* A built-in architecture with fresh weights (PyTorch's default init from
 * `seed`): "simplecnn[:C1,C2]", "lenet5", "mlp[:H1,H2]" (28×28 images, 10
 * classes), "resnet18", "mobilenetv2" (3×224×224 images, 1000 classes:
 * for benchmarks and memory figures), "resnet-block" (ResNet-18's first
 * basic block, 64×56×56 in and out: for fusion benchmarks),
 * "inception-block" (GoogLeNet's module 3a, four branches from 192×28×28
 * concatenated to 256×28×28: for running branches side by side). */
PARE_API pare_status pare_model_create(const char *arch, uint64_t seed, pare_model **out,
                                       char *error, size_t error_size);

/* Writes the model as a .pare file, atomically. */
PARE_API pare_status pare_model_save(pare_model *m, const char *path);
PARE_API void pare_model_destroy(pare_model *m);
PARE_API const char *pare_model_last_error(const pare_model *m);

PARE_API int pare_model_input_count(const pare_model *m);
PARE_API int pare_model_output_count(const pare_model *m);
/* Name, dtype and shape (-1 for dimensions chosen at run time); data NULL. */
PARE_API pare_status pare_model_input_info(const pare_model *m, int i, pare_tensor_view *info);
PARE_API pare_status pare_model_output_info(const pare_model *m, int i, pare_tensor_view *info);

/* Runs the model. Inputs are matched by name when named, else by
 * position. Each outputs[i] receives dtype, shape and data allocated by
 * pare (release with pare_free). Runs on the context's backend. */
PARE_API pare_status pare_model_run(pare_context *ctx, pare_model *m,
                                    const pare_tensor_view *inputs, int n_inputs,
                                    pare_tensor_view *outputs, int n_outputs);

/* Where a run's time goes: one node of the model. */
typedef struct pare_node_time {
  const char *name, *op; /* valid while the model lives */
  double ms;             /* mean over the runs; 0 for nodes folded when planned */
  const char *backend;   /* "opencl", "reference" or "folded"; on OpenCL also "int8" (a
                          * layer on the integer kernels), "sparse" (on the sparse
                          * kernels) or "absorbed" (done inside another node's launch) */
} pare_node_time;

/* Runs the model `runs` times (after one untimed run) timing every node
 * (on a device each node is waited for, so the sum exceeds a normal run's
 * time by the synchronisations); *nodes (pare_free) lists every node in
 * graph order. */
PARE_API pare_status pare_model_profile(pare_context *ctx, pare_model *m,
                                        const pare_tensor_view *inputs, int n_inputs, int runs,
                                        pare_node_time **nodes, int *count);

/* Per-layer latency, the lookup table of automated compression: ms[l] is
 * the time node layers[l] takes at `batch` on ctx's device (the mean of
 * `runs` profiled runs, pare_model_profile), together with the nodes that
 * exist only to feed it (its weights' DequantizeLinear or Cast, its input's
 * QuantizeLinear and DequantizeLinear) and whatever fusion put inside its
 * launch. On OpenCL each figure is kept in the device's tuning database
 * (beside the program cache) under a key of what decides it: the op, the
 * input and weight shapes, the weights' dtype and share of zeros (to 0.01),
 * whether the input arrives quantized, the integer attributes and whether
 * fusion is on. A layer found there is not measured again, by any model;
 * the rest are measured by one profile of m and stored. *measured (may be
 * NULL) counts those measured now. On the reference backend every call
 * measures. PARE_ERR_INVALID_ARG names a node the model lacks. */
PARE_API pare_status pare_model_layer_latency(pare_context *ctx, pare_model *m, int64_t batch,
                                              int runs, const char *const *layers, int n_layers,
                                              double *ms, int *measured);

/* Auto-tuning: kernel parameters searched per launch shape on the device. */
typedef struct pare_tune_result {
  char kernel[32];   /* "conv2d_f32", "gemm_f32" */
  char shape[160];   /* the launch shape, as the tuning database keys it */
  char params[128];  /* the chosen parameters ("tm=6,vw=16,..."), or "untuned" */
  double untuned_ms; /* median of one launch with the profile's parameters */
  double tuned_ms;   /* with the chosen ones, same run (== untuned_ms if nothing won) */
  int tried;         /* candidates timed */
  int rejected;      /* candidates that failed to build or launch, or disagreed */
} pare_tune_result;

/* Called after each shape: `done` of `total` in the current round. */
typedef void (*pare_tune_progress_fn)(int done, int total, const pare_tune_result *last,
                                      void *user);

typedef struct pare_tune_options {
  double budget_seconds; /* 0: no limit; shapes not reached stay untuned */
  int reps;              /* timed launches per candidate (median); 0: 5 */
  pare_tune_progress_fn progress;
  void *user;
} pare_tune_options;

/* Tunes the kernels a run of m on these inputs launches, on ctx's OpenCL
 * device: records the launch shapes of one run, searches each one's
 * parameters (host/autotune.h: convolutions first, then the GEMMs of the
 * paths they chose) and stores the winners in the device's tuning
 * database, where every later run and session finds them (PARE_NO_TUNE=1
 * ignores them). *results (pare_free) lists every shape tuned.
 * PARE_ERR_NO_DEVICE on the reference backend. */
PARE_API pare_status pare_model_tune(pare_context *ctx, pare_model *m,
                                     const pare_tensor_view *inputs, int n_inputs,
                                     const pare_tune_options *options, pare_tune_result **results,
                                     int *count);

/* Sessions: a model's run state (its plan and device buffers) apart from
 * the model, so that threads can run one loaded model at once, each with
 * its own session and its own context (contexts and the plain
 * pare_model_run keep state and are for one thread at a time). The model
 * must outlive its sessions and not change while they run. */
typedef struct pare_session pare_session;
PARE_API pare_status pare_session_create(pare_model *m, pare_session **out);
PARE_API void pare_session_destroy(pare_session *s);
/* pare_model_run with the session's state. */
PARE_API pare_status pare_session_run(pare_context *ctx, pare_session *s,
                                      const pare_tensor_view *inputs, int n_inputs,
                                      pare_tensor_view *outputs, int n_outputs);
PARE_API const char *pare_session_last_error(const pare_session *s);

/* One node of a model, as `pare info` shows it. */
typedef struct pare_layer_info {
  const char *name;
  const char *op;
  int rank;                    /* of the first output */
  int64_t dims[PARE_MAX_RANK]; /* first output's shape for the batch asked */
  int64_t params;              /* elements of its constant inputs (weights, biases) */
  int64_t macs;                /* multiply-accumulates (Conv, Gemm, MatMul), else 0 */
  uint64_t weight_bytes;       /* bytes of its constant inputs as stored */
  pare_dtype weight_dtype;     /* dtype of its first constant input, or UNDEFINED */
  double sparsity;             /* fraction of zeros among its constant inputs */
  const char *backend;         /* where it runs: "opencl", "reference", or "folded" (computed
                                * once when the input shapes were bound) */
} pare_layer_info;

/* Describes every node for inputs with dynamic dimensions set to `batch`.
 * *layers is allocated by pare (pare_free). ctx may be NULL (reference). */
PARE_API pare_status pare_model_layers(pare_model *m, pare_context *ctx, int64_t batch,
                                       pare_layer_info **layers, int *count);

/* Activation memory of a run at `batch` (docs/models.md, "Memory"): every
 * activation in its own buffer (naive), the arena of pare's memory plan
 * (layout ops alias, elementwise ops in place, greedy placement), and the
 * most bytes alive at one step, which no placement can go under. */
PARE_API pare_status pare_model_memory(pare_model *m, int64_t batch, uint64_t *naive,
                                       uint64_t *planned, uint64_t *lower_bound);

/* The bytes of the device buffer that held the activations of the model's
 * last OpenCL run: one arena laid out by the memory plan over the steps the
 * fused launches run at, aligned for the device, and laid out again after
 * the first run without the values no launch wrote (PARE_NO_ARENA=1: a
 * buffer per activation, and 0 here). 0 also when the last run was not on
 * OpenCL. */
PARE_API uint64_t pare_model_device_activation_bytes(const pare_model *m);

/* ---- compression -------------------------------------------------------- */

/* One Gemm, MatMul or Conv considered by pare_model_factorize. */
typedef struct pare_factor_layer {
  char node[128];
  const char *op;
  int64_t rows, cols; /* the matrix factored (see docs/compression.md) */
  int64_t full_rank;  /* min(rows, cols) */
  int64_t rank;       /* chosen; 0 when the node is not eligible */
  int64_t params_before, params_after;
  double energy;              /* fraction of Σσ² kept */
  double ms_before, ms_after; /* the layer alone on the device, both forms (0: not timed) */
  double accuracy; /* auto: validation accuracy with it (and the layers after it) factored */
  int factored;    /* 1 when the node was replaced by two layers */
  int data_aware;  /* fitted to the layer's inputs (data_images > 0) */
  char why[96];    /* why it was left as it is */
} pare_factor_layer;

/* Low-rank factorization by truncated SVD. spec: "energy=E" (0 < E <= 1:
 * the smallest rank keeping E of Σσ²), "ratio=R" (0 < R < 1: factors hold at
 * most R of the layer's parameters), "rank=N", or "auto=D": per layer from a
 * sensitivity scan on 2000 images of the dataset's training split (NULL:
 * fashion-mnist), the smallest rank of an energy ladder (0.5 ... 0.99) that
 * keeps the model within D points of its accuracy, layers taken from the
 * output backwards with the earlier choices in place. conv: "channel"
 * (default; k×k conv with r filters then 1×1), "spatial" (k×1 then 1×k) or
 * "none". skip: comma-separated node names left dense, or NULL. The SVDs
 * (and the scan) run on ctx's OpenCL device when it has one (else the
 * reference). measure_batch > 0 (needs an OpenCL ctx): each layer is timed
 * alone on the device at that batch in both forms and left as it is where
 * the factored form is not faster. *layers (pare_free; may be NULL)
 * describes every candidate node. data_images > 0: Gemm and MatMul factors
 * are fitted to the layer's inputs on that many training images (they
 * minimise ‖(W − W_r)·x‖ over those inputs x rather than ‖W − W_r‖;
 * docs/compression.md), which loses less accuracy at the same rank. */
PARE_API pare_status pare_model_factorize(pare_context *ctx, pare_model *m, const char *spec,
                                          const char *conv, const char *skip, int64_t measure_batch,
                                          const char *dataset, int64_t data_images,
                                          pare_factor_layer **layers, int *count);

/* One Conv, Gemm or MatMul node as pare_model_prune left it. */
typedef struct pare_prune_layer_info {
  char node[128];
  const char *op;
  int64_t params_before, params;     /* weight elements */
  int64_t zeros_before, zeros;       /* zero weights */
  int64_t channels_before, channels; /* output channels */
  int pruned;
  char why[96]; /* why it was left as it is */
} pare_prune_layer_info;

/* Prunes the weights of every Conv, Gemm and MatMul node. mode:
 *   "layer"      each layer to `amount` (0 <= amount < 1) zeros, smallest |w| first;
 *   "global"     one magnitude cut over all those layers, `amount` zeros in total;
 *   "threshold"  every |w| <= amount becomes zero;
 *   "N:M"        e.g. "2:4": the N largest |w| of every M consecutive inputs of
 *                each output stay (amount unused);
 *   "structured" (or "structured-l2") removes `amount` of each layer's output
 *                channels, smallest L1 (L2) norm first, and the matching inputs
 *                of the layer that reads them (through activations, batch
 *                norm, pooling and Flatten): the model really shrinks.
 * dense: comma-separated nodes left as they are, where "first" and "last"
 * name the first and last such layers and "none" prunes all; NULL means
 * "first,last" (structured: "none"). *layers (pare_free; may be NULL)
 * describes every such node. Fine-tune afterwards with keep_zeros set in
 * pare_train_options so that the pruned weights stay zero. */
PARE_API pare_status pare_model_prune(pare_model *m, const char *mode, double amount,
                                      const char *dense, pare_prune_layer_info **layers,
                                      int *count);

/* One layer considered by pare_model_prune_activations. */
typedef struct pare_act_prune_info {
  char node[128];                   /* the layer whose input is pruned */
  float threshold;                  /* |a| <= threshold becomes 0 (0: left as it is) */
  double sparsity_before, sparsity; /* zeros among its inputs on the calibration set */
  int pruned;
} pare_act_prune_info;

/* Activation pruning: before every Conv, Gemm and MatMul that reads an
 * activation (not the model's input), activations with |a| <= θ become
 * zero at run time (an ONNX Shrink node, bias 0, lambd θ), θ per layer
 * calibrated on `images` images of the dataset's training split (NULL:
 * fashion-mnist) so that `sparsity` of the layer's inputs are zero
 * (layers already that sparse, e.g. after a ReLU, are left alone). dense:
 * comma-separated layers to leave alone, or NULL. *layers (pare_free; may
 * be NULL) describes every layer considered. */
PARE_API pare_status pare_model_prune_activations(pare_model *m, double sparsity,
                                                  const char *dataset, int64_t images,
                                                  const char *dense, pare_act_prune_info **layers,
                                                  int *count);

/* Stores every quantized weight as float: each DequantizeLinear of
 * integer constants (and any other node of constants) is evaluated and
 * replaced by its float result, so the model computes the same and its
 * file holds float weights. For exporting to runtimes that would run those
 * nodes on every inference (onnxruntime does, and then misses its
 * prepacked convolutions). *count (may be NULL): the nodes folded. */
PARE_API pare_status pare_model_dequantize_weights(pare_model *m, int *count);

/* One Conv, Gemm or MatMul as pare_model_quantize left it. */
typedef struct pare_quant_layer_info {
  char node[128];
  const char *op;
  int weight_bits;      /* 2..8, 16 (fp16), 0 when left in float */
  double weight_error;  /* relative RMS error of its quantized weight */
  float act_lo, act_hi; /* calibrated range of its input (uint8 activations) */
  float act_scale;
  int32_t act_zero_point;
  uint64_t bytes_before, bytes_after; /* its weight's bytes */
  char why[96];                       /* why it was left in float */
} pare_quant_layer_info;

/* Post-training quantization (docs/compression.md, "Quantization"). spec:
 * "int8" (int8 weights, uint8 activations), "int4" (int4 weights, uint8
 * activations), "fp16" (fp16 weights), "wN" (N-bit weights only, N =
 * 2..8) or "wNa8". Weights are symmetric, per output channel unless
 * per_tensor; activations asymmetric per tensor, their range calibrated
 * on calib_images images of the dataset's training split (weights alone,
 * "wN" and "fp16", need none: 0 is accepted; dataset NULL:
 * fashion-mnist) by calib: "minmax" (default), "percentile" (99.99%),
 * "entropy" or "mse". dense: layers left in float ("first", "last", names)
 * or NULL. The graph gains ONNX QuantizeLinear / DequantizeLinear (or Cast)
 * nodes, so the file holds the small weights and every backend, and
 * onnxruntime after export, runs the same integer numerics. */
PARE_API pare_status pare_model_quantize(pare_model *m, const char *spec, const char *calib,
                                         const char *dataset, int64_t calib_images,
                                         const char *dense, int per_tensor,
                                         pare_quant_layer_info **layers, int *count);

/* One Conv, Gemm or MatMul node as pare_model_share_weights left it. */
typedef struct pare_share_layer_info {
  char node[128];
  const char *op;
  int64_t params, zeros; /* weight elements, zeros among them */
  int64_t values;        /* distinct values afterwards, zero included (0: not shared) */
  int bits;              /* codebook of 2^bits values, 0 when left as it is */
  double rms_error;      /* relative RMS error of the shared weight */
  int shared;
  char why[96]; /* why it was left as it is */
} pare_share_layer_info;

/* Weight sharing (docs/compression.md, "Weight sharing"): a 1-D k-means
 * over the nonzero weights of every Conv, Gemm and MatMul replaces each
 * weight by its cluster's centroid, so that a layer holds at most 2^bits
 * distinct values (bits 1..8): 2^bits centroids, or 2^bits - 1 and zero
 * when the layer has zeros (pruned weights stay exactly zero). The weights
 * stay fp32. dense: comma-separated nodes left as they are, where "first"
 * and "last" name the first and last such layers; NULL or "none" shares
 * all. *layers (pare_free; may be NULL) describes every such node. */
PARE_API pare_status pare_model_share_weights(pare_model *m, int bits, const char *dense,
                                              pare_share_layer_info **layers, int *count);

/* ---- tensors on disk and datasets ----------------------------------- */

/* Reads a NumPy .npy file (C order; <f4 <f2 <i8 <i4 |i1 |u1 |b1) into *out;
 * out->data is allocated by pare (pare_free). */
PARE_API pare_status pare_npy_read(const char *path, pare_tensor_view *out, char *error,
                                   size_t error_size);
/* Writes a tensor as .npy, atomically. */
PARE_API pare_status pare_npy_write(const char *path, const pare_tensor_view *t, char *error,
                                    size_t error_size);

/* Reads a tensor from .npy or from a serialized ONNX TensorProto (.pb, the
 * ONNX test data format), told apart by content. */
PARE_API pare_status pare_tensor_load(const char *path, pare_tensor_view *out, char *error,
                                      size_t error_size);

typedef struct pare_dataset pare_dataset;

/* Opens an image-classification dataset: "fashion-mnist" (Debian's
 * dataset-fashion-mnist, or PARE_FASHION_MNIST_DIR), or a folder holding
 * the four IDX files (train-/t10k-images-idx3-ubyte.gz, ...-labels-...).
 * split: "train" or "test". */
PARE_API pare_status pare_dataset_open(const char *name, const char *split, pare_dataset **out,
                                       char *error, size_t error_size);
PARE_API void pare_dataset_destroy(pare_dataset *ds);
PARE_API size_t pare_dataset_count(const pare_dataset *ds);
/* Per-sample shape (C, H, W) and the number of classes. */
PARE_API pare_status pare_dataset_info(const pare_dataset *ds, int64_t sample_dims[3],
                                       int *classes);
/* Samples `indices[0..count)`: images as floats in [0, 1] (count×C×H×W),
 * labels as int64; either output may be NULL. */
PARE_API pare_status pare_dataset_batch(const pare_dataset *ds, const size_t *indices, size_t count,
                                        float *images, int64_t *labels);

/* ---- evaluation ------------------------------------------------------- */

typedef struct pare_eval_result {
  size_t samples, correct;
  double accuracy; /* top-1 */
  int classes;
  int64_t *confusion; /* classes × classes, rows the true class (pare_free) */
} pare_eval_result;

/* Called after each batch with the running figures. */
typedef void (*pare_eval_progress_fn)(size_t done, size_t total, size_t correct, void *user);

/* Top-1 accuracy of a model whose one input takes the dataset's images
 * (N×C×H×W, or N×(C·H·W)) and whose output is N × classes scores, over
 * the first `limit` samples of the split (0: all), `batch` at a time
 * (0: 64), on ctx's backend (NULL: reference). */
PARE_API pare_status pare_model_evaluate(pare_context *ctx, pare_model *m, const char *dataset,
                                         const char *split, size_t limit, int batch,
                                         pare_eval_progress_fn progress, void *user,
                                         pare_eval_result *out, char *error, size_t error_size);

/* ---- training --------------------------------------------------------- */

typedef struct pare_train_progress {
  int epoch, epochs;      /* 1-based */
  int64_t batch, batches; /* 1-based, within the epoch */
  double loss;            /* running mean over the epoch so far */
  double accuracy;        /* running training accuracy over the epoch so far */
  double images_per_second;
  double eta_seconds;  /* for the whole run */
  int epoch_done;      /* 1 on the call that ends an epoch */
  double val_accuracy; /* with epoch_done, when a validation split is used; else -1 */
} pare_train_progress;

typedef void (*pare_train_progress_fn)(const pare_train_progress *p, void *user);

typedef struct pare_train_options {
  const char *arch;    /* "simplecnn", "lenet5", "mlp", or a .pare/.onnx file */
  const char *dataset; /* "fashion-mnist" (default) or a folder of IDX files */
  int epochs;          /* default 1 */
  int batch;           /* default 64 */
  float
      lr; /* default 0.05 (SGD; 0.05/temperature when distilling without warm-up) / 0.001 (Adam) */
  float momentum;        /* SGD, default 0.9 */
  float weight_decay;    /* default 0 */
  const char *optimizer; /* "sgd" (default) or "adam" */
  const char *schedule;  /* "constant" (default), "step" (x0.1 every step_epochs) or "cosine" */
  int step_epochs;       /* for "step", default 1 */
  uint64_t seed;         /* shuffling and initialisation, default 1 */
  float val_split;       /* fraction of the training set held out, default 0 */
  const char *teacher;   /* distillation: teacher model file, or NULL */
  float alpha;           /* distillation: weight of the label loss, default 0.1 */
  float temperature;     /* distillation: default 4 */
  volatile int *stop;    /* set to nonzero (e.g. from a signal handler) to stop early */
  pare_train_progress_fn progress;
  void *user;
  const char *checkpoint; /* written atomically after every epoch and on a stop, or NULL */
  const char *resume;     /* a checkpoint to continue from (same batch, seed, optimizer) */
  int warmup_epochs;      /* the rate rises linearly from lr/10 over these first epochs;
                           * -1 (default): 1 when distilling with SGD, else 0 */
  int keep_zeros;         /* 1: weights (parameters of rank >= 2) that are zero at the
                           * start stay zero: fine-tuning a pruned model */
  int qat_bits;           /* 2..16: quantization-aware training: the forward sees every
                           * weight (rank >= 2) fake-quantized to this many bits,
                           * symmetric per output channel, with float master weights
                           * updated by the straight-through gradient; 0: off */
  int keep_shared;        /* 1: weights (rank >= 2) with at most 255 distinct nonzero
                           * values (pare compress --share-bits) keep them shared: each
                           * distinct value is a centroid that trains with the mean
                           * gradient of the weights holding it, assignments fixed, zeros
                           * kept (Deep Compression's trained quantization); 0: off */
  const char *qat_layers; /* quantization-aware training per layer: "NODE:BITS,..."
                           * (Conv, Gemm and MatMul nodes, 2..16 bits, symmetric per
                           * row of the stored weight, as qat_bits: the output
                           * channels of Conv and of Gemm with transB), overriding
                           * qat_bits for those layers; NULL: none */
} pare_train_options;

/* Fills the defaults documented above (lr 0: 0.05 for SGD, 0.001 for Adam). */
PARE_API void pare_train_options_init(pare_train_options *o);

/* Trains a model on the dataset and returns it: on ctx's OpenCL device
 * when it has one, else (or with ctx NULL) on the reference backend. With
 * *stop set, returns early with PARE_OK and the model as trained so far
 * (and writes the checkpoint when one is asked for). */
PARE_API pare_status pare_train(pare_context *ctx, const pare_train_options *o, pare_model **out,
                                char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
