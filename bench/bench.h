/* Shared parts of pare-bench: options, timing with warm-up and medians,
 * and one entry point per kernel stem of kernels/kernels.def:
 *   int pare_bench_<stem>(pare_cl_runtime *rt, const pare_bench_opts *o);
 * in bench/bench_<stem>.c. Rows are JSON lines on stdout, each carrying the
 * baseline measured in the same run; summaries go to stderr. */
#ifndef PARE_BENCH_H
#define PARE_BENCH_H

#include "host/runtime.h"

typedef struct pare_bench_opts {
  int warmup;
  int reps;
  int ref_max_reps;     /* the reference is slow: at most this many timed runs */
  const char *shapes;   /* bench-specific shape list, or NULL for the defaults */
  const char *model;    /* models: the .onnx or .pare file */
  const char *baseline; /* models: a second file timed in the same run (before/after) */
  const char *peers;    /* models: a Python with onnxruntime, torch and onnx2torch, or NULL */
  int unfused;          /* models: also time the model with no fusion, interleaved */
  int untuned;          /* models: also time it ignoring `pare tune`'s parameters, interleaved */
  int one_queue;        /* models: also time it with every launch on one queue, interleaved */
} pare_bench_opts;

typedef struct pare_bench_timing {
  double ms_min, ms_median;
  int ok;
  double ms_p90, ms_p99; /* percentiles of the timed runs (nearest rank) */
  double ms_first;       /* the first run, warm-up included: the cold start */
} pare_bench_timing;

/* Times `run` (one complete iteration, device work finished when it
 * returns; nonzero = failure): `warmup` untimed runs, then `reps` timed. */
pare_bench_timing pare_bench_time(int warmup, int reps, int (*run)(void *arg), void *arg);

/* The same for n variants timed interleaved (each round runs variant 0,
 * 1, ..., n-1 once, so that drifting machine load hits them alike): t[v]
 * for run(arg, v). Returns 1 (every t[v].ok 0) when a run fails. */
int pare_bench_time_variants(int warmup, int reps, int n, int (*run)(void *arg, int variant),
                             void *arg, pare_bench_timing *t);

/* One JSON row of a bandwidth-bound kernel: ms, GB/s for `bytes` moved,
 * and the ratio to the reference when ref_ms > 0. */
void pare_bench_row_gbs(pare_cl_runtime *rt, const char *kernel, const char *variant,
                        const char *name, const char *shape, pare_bench_timing t, double bytes,
                        double ref_ms);

/* A read-write device buffer of `bytes` (at least 1), filled from host when
 * not NULL; NULL on failure with err set. */
cl_mem pare_bench_buffer(pare_cl_runtime *rt, size_t bytes, const void *host, pare_error *err);

/* GEMM shapes from --shapes "M,N,K;M,N,K..." (at most 32, K <= max_k),
 * else the defaults. Returns 0, or 2 after saying what is wrong. */
int pare_bench_gemm_shapes(const pare_bench_opts *o, const size_t (*defaults)[3], int n_defaults,
                           size_t max_k, size_t shapes[32][3], int *ns);

/* Deterministic values in [-1, 1). */
void pare_bench_fill(float *x, size_t n, uint64_t seed);

#define PARE_KERNEL(stem, summary)                                                                 \
  int pare_bench_##stem(pare_cl_runtime *rt, const pare_bench_opts *o);
#include "kernels/kernels.def"
#undef PARE_KERNEL

/* Whole-model latency at batch 1 and 64, OpenCL vs reference (and fused
 * vs unfused with --unfused). */
int pare_bench_models(const pare_bench_opts *o, const char *path);
/* Training throughput of the built-in architectures (--model ARCH picks
 * one), OpenCL trainer vs reference trainer. */
int pare_bench_training(pare_cl_runtime *rt, const pare_bench_opts *o);

int pare_bench_startup(pare_cl_runtime *rt, const pare_bench_opts *o, const char *self);
/* Stored tensor bytes and decode time with and without the coded form,
 * for the constants of the .pare file `model`, or synthetic layers (NULL). */
int pare_bench_storage(const pare_bench_opts *o, const char *model);
/* The text of field `name` in one of pare-bench's flat JSON lines (a
 * string without its quotes, a number as written), or "" when absent. */
void pare_bench_json_field(const char *line, const char *name, char *out, size_t size);

/* --compare BASE NEW: ratios of the median times of rows in both files. */
int pare_bench_compare(const char *base_path, const char *new_path);
/* --plot RUN OUT.svg: GFLOP/s against size, and latency bars. */
int pare_bench_plot(const char *in_path, const char *out_path);
/* The child side of the start-up bench (`pare-bench --startup-child DIR`). */
int pare_bench_startup_child(const char *cache_dir);

#endif
