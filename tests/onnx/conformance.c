/* Runs ONNX backend test cases (a folder with model.onnx and
 * test_data_set_N/{input,output}_K.pb) on pare and compares the outputs.
 *
 * usage: conformance [--backend ref|opencl] [--optimize] [--min-pass N] [--verbose] DIR...
 * --optimize runs pare's graph passes (folding) on each model first.
 * Each DIR is a case or a folder of cases. A case whose model uses anything
 * pare does not support is SKIPped with the reason; a case that runs must
 * match (|got - want| <= atol + rtol·|want|) or it FAILs. Exits non-zero on
 * any failure or when fewer than N cases pass. */
#define _DEFAULT_SOURCE
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/exec/exec.h"
#include "engine/io/onnx.h"
#include "engine/passes/passes.h"
#ifdef PARE_HAVE_OPENCL
#include "host/exec_cl.h"
#else
typedef struct pare_cl_runtime pare_cl_runtime;
#endif

typedef struct counts {
  int pass, fail, skip;
} counts;

static int verbose;
static int optimize;        /* run the graph passes after import */
static pare_cl_runtime *rt; /* --backend opencl */
static double tol_rel = 1e-3, tol_abs = 1e-5;

static int is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int file_exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void to_tensor(const pare_onnx_tensor *o, pare_tensor *t) {
  memset(t, 0, sizeof *t);
  t->dtype = o->dtype;
  t->rank = o->rank;
  memcpy(t->dims, o->dims, sizeof t->dims);
  t->data = o->data;
  t->nbytes = o->nbytes;
}

static double value_at(const pare_tensor *t, int64_t i) {
  switch (t->dtype) {
  case PARE_DT_F32: return ((const float *)t->data)[i];
  case PARE_DT_I64: return (double)((const int64_t *)t->data)[i];
  case PARE_DT_I32: return ((const int32_t *)t->data)[i];
  case PARE_DT_I8: return ((const int8_t *)t->data)[i];
  case PARE_DT_U8:
  case PARE_DT_BOOL: return ((const uint8_t *)t->data)[i];
  default: return 0;
  }
}

/* 0 when equal within tolerance, else writes why. */
static int compare(const pare_tensor *got, const pare_tensor *want, char *why, size_t n) {
  if (got->rank != want->rank ||
      memcmp(got->dims, want->dims, sizeof(int64_t) * (size_t)got->rank)) {
    int64_t gn = pare_tensor_numel(got), wn = pare_tensor_numel(want);
    /* Scalars vs [1] and similar rank-only differences are accepted. */
    if (gn != wn) {
      snprintf(why, n, "shape differs (%lld vs %lld elements, rank %d vs %d)", (long long)gn,
               (long long)wn, got->rank, want->rank);
      return 1;
    }
  }
  if (got->dtype != want->dtype) {
    snprintf(why, n, "dtype %s, want %s", pare_dtype_name(got->dtype),
             pare_dtype_name(want->dtype));
    return 1;
  }
  int64_t count = pare_tensor_numel(want);
  for (int64_t i = 0; i < count; i++) {
    double g = value_at(got, i), w = value_at(want, i);
    if (isnan(w) && isnan(g)) continue;
    if (isinf(w) && g == w) continue;
    if (!(fabs(g - w) <= tol_abs + tol_rel * fabs(w))) {
      snprintf(why, n, "element %lld is %.8g, want %.8g", (long long)i, g, w);
      return 1;
    }
  }
  return 0;
}

typedef enum outcome { PASS, FAIL, SKIP } outcome;

static outcome run_set(const pare_graph *g, const char *set, char *why, size_t wn) {
  pare_tensor in[16], want[16], got[16];
  pare_onnx_tensor raw_in[16], raw_out[16];
  int ni = 0, no = 0;
  pare_error err;
  outcome res = PASS;
  char path[4096];
  memset(raw_in, 0, sizeof raw_in);
  memset(raw_out, 0, sizeof raw_out);
  memset(got, 0, sizeof got);
  for (; ni < 16; ni++) {
    snprintf(path, sizeof path, "%s/input_%d.pb", set, ni);
    if (!file_exists(path)) break;
    if (pare_onnx_tensor_read_file(path, &raw_in[ni], &err) != PARE_OK) {
      snprintf(why, wn, "%s", err.text);
      res = SKIP;
      goto done;
    }
    to_tensor(&raw_in[ni], &in[ni]);
  }
  for (; no < 16; no++) {
    snprintf(path, sizeof path, "%s/output_%d.pb", set, no);
    if (!file_exists(path)) break;
    if (pare_onnx_tensor_read_file(path, &raw_out[no], &err) != PARE_OK) {
      snprintf(why, wn, "%s", err.text);
      res = SKIP;
      goto done;
    }
    to_tensor(&raw_out[no], &want[no]);
  }
  if (ni != g->n_inputs || no != g->n_outputs) {
    snprintf(why, wn, "test data has %d inputs/%d outputs, the model %d/%d", ni, no, g->n_inputs,
             g->n_outputs);
    res = FAIL;
    goto done;
  }
  /* With the activations in one arena, as pare_model_run runs a model. */
  pare_plan *plan = NULL;
  pare_status st = pare_plan_create_ex(g, in, ni, PARE_PLAN_ARENA, &plan, &err);
#ifdef PARE_HAVE_OPENCL
  if (st == PARE_OK && rt)
    st = pare_plan_run_cl(plan, rt, in, ni, got, &err);
  else
#endif
      if (st == PARE_OK)
    st = pare_plan_run_ref(plan, in, ni, got, &err);
  pare_plan_destroy(plan);
  if (st != PARE_OK) {
    snprintf(why, wn, "%s", err.text);
    res = st == PARE_ERR_UNSUPPORTED ? SKIP : FAIL;
    goto done;
  }
  for (int i = 0; i < no && res == PASS; i++) {
    char w[300];
    if (compare(&got[i], &want[i], w, sizeof w)) {
      snprintf(why, wn, "output %d: %s", i, w);
      res = FAIL;
    }
  }
done:
  for (int i = 0; i < 16; i++) {
    free(raw_in[i].data);
    free(raw_out[i].data);
    pare_tensor_release(&got[i]);
  }
  return res;
}

static void run_case(const char *dir, counts *c) {
  char path[4096], why[1024] = "";
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  pare_graph *g = NULL;
  pare_error err;
  outcome res = PASS;
  pare_status st = pare_onnx_import_file(path, &g, &err);
  if (st == PARE_OK && optimize) st = pare_graph_optimize(g, &err);
  if (st != PARE_OK) {
    snprintf(why, sizeof why, "%s", err.text);
    res = st == PARE_ERR_UNSUPPORTED ? SKIP : FAIL;
  }
  int sets = 0;
  for (int s = 0; res == PASS && s < 64; s++) {
    char set[4096];
    snprintf(set, sizeof set, "%s/test_data_set_%d", dir, s);
    if (!is_dir(set)) break;
    res = run_set(g, set, why, sizeof why);
    sets++;
  }
  if (res == PASS && sets == 0) {
    res = SKIP;
    snprintf(why, sizeof why, "no test data");
  }
  pare_graph_destroy(g);
  const char *name = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
  if (res == PASS) c->pass++;
  if (res == FAIL) c->fail++;
  if (res == SKIP) c->skip++;
  if (res == FAIL || verbose)
    printf("%s %s%s%s\n",
           res == PASS   ? "PASS"
           : res == FAIL ? "FAIL"
                         : "SKIP",
           name, why[0] ? ": " : "", why);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *dir, counts *c) {
  char path[4096];
  snprintf(path, sizeof path, "%s/model.onnx", dir);
  if (file_exists(path)) {
    run_case(dir, c);
    return;
  }
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "conformance: cannot open %s\n", dir);
    c->fail++;
    return;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 256;
      char **bigger = realloc(names, cap * sizeof *names);
      if (!bigger) break;
      names = bigger;
    }
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (is_dir(path)) run_path(path, c);
    free(names[i]);
  }
  free(names);
}

int main(int argc, char **argv) {
  int min_pass = 0;
  counts c = {0, 0, 0};
  int ndirs = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--verbose"))
      verbose = 1;
    else if (!strcmp(argv[i], "--optimize"))
      optimize = 1;
    else if (!strcmp(argv[i], "--min-pass") && i + 1 < argc)
      min_pass = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
      const char *b = argv[++i];
      if (!strcmp(b, "opencl")) {
#ifndef PARE_HAVE_OPENCL
        fprintf(stderr, "conformance: built without OpenCL\n");
        return 1;
#else
        pare_error err;
        pare_cl_runtime_options opt = {0};
        if (pare_cl_runtime_create(&opt, &rt, &err) != PARE_OK) {
          fprintf(stderr, "conformance: no OpenCL device: %s\n", err.text);
          return 1;
        }
#endif
      } else if (strcmp(b, "ref")) {
        fprintf(stderr, "conformance: --backend ref|opencl\n");
        return 2;
      }
    } else {
      run_path(argv[i], &c);
      ndirs++;
    }
  }
  if (!ndirs) {
    fprintf(stderr, "usage: conformance [--optimize] [--min-pass N] [--verbose] DIR...\n");
    return 2;
  }
  printf("conformance (%s backend%s): %d passed, %d failed, %d skipped\n",
         rt ? "opencl" : "reference", optimize ? ", optimized" : "", c.pass, c.fail, c.skip);
#ifdef PARE_HAVE_OPENCL
  pare_cl_runtime_destroy(rt);
#endif
  printf("%d passed, %d failed, %d skipped\n", c.pass, c.fail, c.skip);
  if (c.pass < min_pass) printf("fewer than the %d passes required\n", min_pass);
  return c.fail > 0 || c.pass < min_pass;
}
