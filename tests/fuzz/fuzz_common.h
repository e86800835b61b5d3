/* Shared pieces of the libFuzzer targets: a private scratch folder, the
 * memory cap the engine honours, and "plan and run once" for a graph that
 * a parser accepted. */
#ifndef PARE_TESTS_FUZZ_COMMON_H
#define PARE_TESTS_FUZZ_COMMON_H

#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/exec/exec.h"
#include "engine/io/pare_format.h"
#include "engine/model_internal.h"
#include "engine/passes/passes.h"

/* Inputs larger than this many elements in all are not run. */
#define FUZZ_MAX_INPUT_ELEMENTS 1000000
/* Multiply-adds above which a graph is planned but not run (about half a
 * second in the instrumented build). */
#define FUZZ_MAX_MACS 10000000

static char fuzz_dir[256];

/* What one node costs the reference backend, roughly: its multiply-adds,
 * a pooling window per output element, and one unit per element written
 * (so long chains of elementwise ops on large tensors count too). */
static inline int64_t fuzz_node_work(const pare_graph *g, const pare_plan *p, const pare_node *nd) {
  int64_t work = pare_node_macs(g, p, nd);
  if (nd->n_outputs < 1 || nd->outputs[0] < 0) return work;
  int64_t out = pare_tensor_numel(&p->values[nd->outputs[0]]);
  if (nd->op == PARE_OP_MAX_POOL || nd->op == PARE_OP_AVERAGE_POOL) {
    int k = 0;
    const int64_t *ks = pare_node_attr_ints(nd, "kernel_shape", &k);
    int64_t window = 1;
    for (int i = 0; i < k && ks && window <= FUZZ_MAX_MACS; i++) window *= ks[i] > 0 ? ks[i] : 1;
    work += out * window;
  } else if (nd->op == PARE_OP_GLOBAL_AVERAGE_POOL || nd->op == PARE_OP_GLOBAL_MAX_POOL) {
    if (nd->n_inputs > 0 && nd->inputs[0] >= 0)
      work += pare_tensor_numel(&p->values[nd->inputs[0]]);
  }
  return work + out;
}

static inline void fuzz_cleanup(void) {
  if (!fuzz_dir[0]) return;
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir);
  if (system(cmd) != 0) fprintf(stderr, "fuzz: could not remove %s\n", fuzz_dir);
}

/* Creates the scratch folder (once) and caps tensor allocations well below
 * libFuzzer's malloc limit, so that a graph asking for gigabytes is an
 * error, not an out-of-memory report. */
static inline void fuzz_setup(void) {
  if (fuzz_dir[0]) return;
  const char *tmp = getenv("TMPDIR");
  snprintf(fuzz_dir, sizeof fuzz_dir, "%s/pare-fuzz-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
  if (!mkdtemp(fuzz_dir)) {
    perror("fuzz: mkdtemp");
    abort();
  }
  atexit(fuzz_cleanup);
  setenv("PARE_MAX_TENSOR_BYTES", "268435456", 0);
  setenv("PARE_LOG_LEVEL", "error", 0);
}

/* Writes bytes to a file of the scratch folder; returns its path. */
static inline const char *fuzz_write(const char *name, const void *data, size_t size) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", fuzz_dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || (size && fwrite(data, 1, size, f) != size)) {
    perror("fuzz: write");
    abort();
  }
  fclose(f);
  return path;
}

/* Plans g for zero inputs of its declared shapes and runs it once on the
 * reference backend, when every input shape is static and small. Errors
 * are fine; crashes, leaks and undefined behaviour are not. */
static inline void fuzz_run_graph(const pare_graph *g) {
  pare_tensor in[16];
  int n = g->n_inputs;
  if (n > 16) return;
  memset(in, 0, sizeof in);
  int64_t total = 0;
  for (int i = 0; i < n; i++) {
    const pare_value *v = &g->values[g->inputs[i]];
    int64_t numel = pare_value_numel(v);
    if (numel < 0 || v->dtype == PARE_DT_UNDEFINED || v->dtype == PARE_DT_I4) {
      if (getenv("PARE_FUZZ_VERBOSE")) fprintf(stderr, "fuzz: input %d is not static\n", i);
      return;
    }
    total += numel;
    if (total > FUZZ_MAX_INPUT_ELEMENTS) return;
    in[i].dtype = v->dtype;
    in[i].rank = v->rank;
    memcpy(in[i].dims, v->dims, sizeof in[i].dims);
  }
  int ok = 1;
  for (int i = 0; i < n; i++) {
    size_t bytes = pare_dtype_bytes(in[i].dtype, (size_t)pare_tensor_numel(&in[i]));
    in[i].data = calloc(1, bytes ? bytes : 1);
    in[i].nbytes = bytes;
    in[i].owns = 1;
    if (!in[i].data) ok = 0;
  }
  pare_error err = {{0}};
  pare_plan *p = NULL;
  /* A graph of more than FUZZ_MAX_MACS units of work is planned, not run:
   * the reference backend would spend seconds on one input (a legitimate
   * workload, not a hang) and starve the search. */
  int64_t macs = 0;
  if (ok && pare_plan_create(g, in, n, &p, &err) == PARE_OK)
    for (int i = 0; i < g->n_nodes && macs <= FUZZ_MAX_MACS; i++)
      macs += fuzz_node_work(g, p, &g->nodes[i]);
  if (p && macs > FUZZ_MAX_MACS && getenv("PARE_FUZZ_VERBOSE"))
    fprintf(stderr, "fuzz: %lld units of work: not run\n", (long long)macs);
  if (p && macs <= FUZZ_MAX_MACS) {
    pare_tensor *out = calloc((size_t)g->n_outputs + 1, sizeof *out);
    if (out && pare_plan_run_ref(p, in, n, out, &err) == PARE_OK)
      for (int i = 0; i < g->n_outputs; i++) pare_tensor_release(&out[i]);
    free(out);
  }
  if (getenv("PARE_FUZZ_VERBOSE")) fprintf(stderr, "fuzz: run: %s\n", ok ? err.text : "no memory");
  pare_plan_destroy(p);
  for (int i = 0; i < n; i++) pare_tensor_release(&in[i]);
}

/* Saves g as .pare in memory and reads it back: what the writer emits the
 * reader must accept. */
static inline void fuzz_roundtrip(const pare_graph *g) {
  void *buf = NULL;
  size_t size = 0;
  pare_error err;
  if (pare_format_write_buffer(g, &buf, &size, &err) != PARE_OK) return;
  pare_graph *h = NULL;
  if (pare_format_read_buffer(buf, size, "roundtrip", &h, &err) != PARE_OK) {
    fprintf(stderr, "fuzz: the reader refuses what the writer wrote: %s\n", err.text);
    abort();
  }
  pare_graph_destroy(h);
  free(buf);
}

#endif
