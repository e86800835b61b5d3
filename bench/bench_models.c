/* pare-bench models: whole-model latency at batch 1 and 64 on the OpenCL
 * backend and on the reference backend, in the same run; with --unfused,
 * the same model with no operator fusion (a second copy loaded under
 * PARE_NO_FUSE=1 on a no_fuse context) timed interleaved with the fused
 * one; with --untuned, the same model on a no_tune context (the device
 * profile's kernel parameters, not those `pare tune` stored) interleaved
 * with the tuned one; with --one-queue, on a one_queue context (no
 * independent branches side by side) interleaved with the default; each
 * variant a second copy of the model; with --baseline, a second model interleaved the same
 * way; with --peers, onnxruntime and PyTorch on the same ONNX file right
 * after (bench/peers/ort_bench.py, torch_bench.py), with one thread and with
 * every core. */
#define _DEFAULT_SOURCE /* popen, mkstemps */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/bench.h"
#include "engine/io/onnx_export.h"
#include "engine/model_internal.h"

enum { N_BATCHES = 2 };
static const int64_t batches[N_BATCHES] = {1, 64};

typedef struct peer {
  const char *script, *name;
  double ms[N_BATCHES]; /* medians; 0 when missing */
} peer;

/* Runs one peer script on the ONNX file and collects its medians; its JSON
 * lines go to stdout with pare's. */
static void run_peer(const pare_bench_opts *o, const char *onnx, int threads, peer *p) {
  const char *dir = getenv("PARE_PEERS_DIR") ? getenv("PARE_PEERS_DIR") : PARE_PEERS_DIR;
  if (strchr(o->peers, '\'') || strchr(dir, '\'') || strchr(onnx, '\'')) {
    fprintf(stderr, "pare-bench models: a quote in a path; peers not run\n");
    return;
  }
  /* Peers pick their kernels over the first runs (oneDNN, MLAS): at least
   * ten untimed runs. */
  int warmup = o->warmup > 10 ? o->warmup : 10;
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' '%s/%s' '%s' --reps %d --warmup %d --threads %d", o->peers, dir,
           p->script, onnx, o->reps, warmup, threads);
  FILE *f = popen(cmd, "r");
  if (!f) return;
  char line[2048];
  while (fgets(line, sizeof line, f)) {
    char batch[32], ms[32];
    pare_bench_json_field(line, "batch", batch, sizeof batch);
    pare_bench_json_field(line, "ms_median", ms, sizeof ms);
    for (int b = 0; b < N_BATCHES; b++)
      if (atoll(batch) == batches[b]) p->ms[b] = atof(ms);
    fputs(line, stdout);
  }
  if (pclose(f)) fprintf(stderr, "pare-bench models: %s failed: %s\n", p->name, cmd);
  fflush(stdout);
}

/* onnxruntime and PyTorch on the model (exported to ONNX first when it is
 * a .pare), then the side-by-side table on stderr. */
static void run_peers(const pare_bench_opts *o, const char *path, const pare_model *m,
                      const double *cl_ms, const double *ref_ms) {
  char tmp[] = "/tmp/pare-bench-XXXXXX.onnx";
  const char *onnx = path;
  size_t len = strlen(path);
  if (len < 5 || strcmp(path + len - 5, ".onnx")) {
    int fd = mkstemps(tmp, 5);
    pare_error err;
    if (fd < 0 || (close(fd), pare_onnx_export(m->graph, tmp, &err)) != PARE_OK) {
      fprintf(stderr, "pare-bench models: exporting %s for the peers: %s\n", path,
              fd < 0 ? "no temporary file" : err.text);
      if (fd >= 0) unlink(tmp);
      return;
    }
    onnx = tmp;
  }
  /* One thread, then every core (when there are more). */
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int threads[2] = {1, cpus > 1 ? (int)cpus : 0};
  peer peers[2][2];
  for (int t = 0; t < 2; t++) {
    peers[t][0] = (peer){"ort_bench.py", "onnxruntime", {0}};
    peers[t][1] = (peer){"torch_bench.py", "PyTorch", {0}};
    for (int k = 0; k < 2 && threads[t] > 0; k++) run_peer(o, onnx, threads[t], &peers[t][k]);
  }
  if (onnx == tmp) unlink(tmp);
  fprintf(stderr, "\nsame run: peer ms / pare ms (above 1: pare faster)\n");
  fprintf(stderr, "%7s %6s %12s %13s %12s %10s %12s %10s\n", "threads", "batch", "pare opencl",
          "pare reference", "onnxruntime", "ort/pare", "pytorch", "torch/pare");
  for (int t = 0; t < 2; t++) {
    for (int b = 0; b < N_BATCHES && threads[t] > 0; b++) {
      fprintf(stderr, "%7d %6lld %12.3f %13.3f", threads[t], (long long)batches[b], cl_ms[b],
              ref_ms[b]);
      for (int k = 0; k < 2; k++) /* a peer that failed shows as "-" */
        if (peers[t][k].ms[b] > 0)
          fprintf(stderr, " %12.3f %9.2fx", peers[t][k].ms[b], peers[t][k].ms[b] / cl_ms[b]);
        else
          fprintf(stderr, " %12s %10s", "-", "-");
      fprintf(stderr, "\n");
    }
  }
}

typedef struct model_case {
  pare_context *ctx;
  pare_model *m;
  pare_tensor_view in;
} model_case;

static int run_model(void *arg) {
  model_case *c = arg;
  pare_tensor_view out[16];
  int n = pare_model_output_count(c->m);
  if (n > 16 || pare_model_run(c->ctx, c->m, &c->in, 1, out, n) != PARE_OK) return 1;
  for (int i = 0; i < n; i++) pare_free(out[i].data);
  return 0;
}

/* Variant v of an array of cases (the model, unfused or untuned, baseline). */
static int run_case(void *arg, int v) { return run_model((model_case *)arg + v); }

/* The model loaded again with PARE_NO_FUSE=1 set meanwhile, so that an
 * ONNX file keeps its BatchNormalization nodes. */
static pare_status load_unfused(const char *path, pare_model **out, char *err, size_t size) {
  const char *was = getenv("PARE_NO_FUSE");
  char saved[64] = "";
  if (was) snprintf(saved, sizeof saved, "%s", was);
  setenv("PARE_NO_FUSE", "1", 1);
  pare_status st = pare_model_load(path, out, err, size);
  if (was)
    setenv("PARE_NO_FUSE", saved, 1);
  else
    unsetenv("PARE_NO_FUSE");
  return st;
}

int pare_bench_models(const pare_bench_opts *o, const char *path) {
  if (!path) {
    fprintf(stderr, "pare-bench models: --model FILE (.onnx or .pare) is required\n");
    return 2;
  }
  char err[1024];
  pare_model *m = NULL;
  if (pare_model_load(path, &m, err, sizeof err) != PARE_OK) {
    fprintf(stderr, "pare-bench models: %s\n", err);
    return 1;
  }
  if (pare_model_input_count(m) != 1) {
    fprintf(stderr, "pare-bench models: %s has %d inputs; one is supported here\n", path,
            pare_model_input_count(m));
    pare_model_destroy(m);
    return 1;
  }
  pare_tensor_view info;
  pare_model_input_info(m, 0, &info);
  pare_model *base = NULL;
  if (o->baseline && pare_model_load(o->baseline, &base, err, sizeof err) != PARE_OK) {
    fprintf(stderr, "pare-bench models: baseline: %s\n", err);
    pare_model_destroy(m);
    return 1;
  }
  if (o->unfused + o->untuned + o->one_queue > 1) {
    fprintf(stderr, "pare-bench models: one of --unfused, --untuned and --one-queue\n");
    pare_model_destroy(m);
    pare_model_destroy(base);
    return 2;
  }
  /* The variant timed against the model as it runs: unfused, untuned or
   * on one queue. */
  const char *vname = o->unfused ? "unfused" : o->untuned ? "untuned" : "one_queue";
  const char *mine = o->unfused ? "fused" : o->untuned ? "tuned" : "two_queues";
  /* A second copy of the model for the variant's context: a plan's device
   * state belongs to one context, so one model run on two would make it
   * anew on every switch. */
  pare_model *unf = NULL;
  if (((o->untuned || o->one_queue) && pare_model_load(path, &unf, err, sizeof err) != PARE_OK) ||
      (o->unfused && load_unfused(path, &unf, err, sizeof err) != PARE_OK)) {
    fprintf(stderr, "pare-bench models: %s\n", err);
    pare_model_destroy(m);
    pare_model_destroy(base);
    return 1;
  }
  pare_context *cl = NULL, *ref = NULL, *clu = NULL;
  pare_context_options oc = {0}, orf = {0}, ou = {0};
  oc.backend = ou.backend = PARE_BACKEND_OPENCL;
  orf.backend = PARE_BACKEND_REFERENCE;
  ou.no_fuse = o->unfused;
  ou.no_tune = o->untuned;
  ou.one_queue = o->one_queue;
  int status = 0;
  if (pare_context_create(&oc, &cl) != PARE_OK || pare_context_create(&orf, &ref) != PARE_OK ||
      (unf && pare_context_create(&ou, &clu) != PARE_OK)) {
    fprintf(stderr, "pare-bench models: %s\n", cl ? pare_context_last_error(cl) : "no context");
    status = 1;
  }
  double cl_ms[N_BATCHES] = {0}, ref_ms[N_BATCHES] = {0};
  fprintf(stderr, "%-10s %6s %12s %12s %10s%s\n", "model", "batch", "opencl ms", "reference ms",
          "vs ref",
          !unf         ? ""
          : o->unfused ? "   unfused ms  fused speed-up"
          : o->untuned ? "   untuned ms  tuned speed-up"
                       : " one-queue ms  two-queue speed-up");
  for (int b = 0; b < N_BATCHES && !status; b++) {
    model_case c = {NULL, m, {0}};
    c.in.dtype = PARE_DT_F32;
    c.in.rank = info.rank;
    int64_t numel = 1;
    for (int d = 0; d < info.rank; d++) {
      c.in.dims[d] = info.dims[d] < 0 ? batches[b] : info.dims[d];
      if (d == 0) c.in.dims[d] = batches[b];
      numel *= c.in.dims[d];
    }
    c.in.nbytes = sizeof(float) * (size_t)numel;
    c.in.data = malloc(c.in.nbytes);
    if (!c.in.data) return 1;
    pare_bench_fill(c.in.data, (size_t)numel, 7);
    c.ctx = cl;
    /* Interleaved round by round: [0] the model (fused, tuned), [1] with
     * --unfused (--untuned, --one-queue) that variant, then with
     * --baseline the baseline model on the same device and input. */
    model_case cases[3] = {c, c, c};
    int nv = 1, ib = -1;
    if (unf) {
      cases[nv].ctx = clu;
      cases[nv++].m = unf;
    }
    if (base) {
      ib = nv++;
      cases[ib].m = base;
    }
    pare_bench_timing tv[3];
    memset(tv, 0, sizeof tv);
    if (nv > 1)
      pare_bench_time_variants(o->warmup, o->reps, nv, run_case, cases, tv);
    else
      tv[0] = pare_bench_time(o->warmup, o->reps, run_model, &c);
    pare_bench_timing tc = tv[0], tb = {0};
    tb.ok = 1;
    if (base) tb = tv[ib];
    c.ctx = ref;
    int ref_reps = o->reps < 3 ? o->reps : 3;
    pare_bench_timing tr = {0};
    tr.ok = 1;
    if (o->ref_max_reps > 0) tr = pare_bench_time(1, ref_reps, run_model, &c);
    free(c.in.data);
    if (!tb.ok) {
      fprintf(stderr, "pare-bench models: baseline: %s\n", pare_model_last_error(base));
      status = 1;
      break;
    }
    if (!tc.ok || !tr.ok || (unf && !tv[1].ok)) {
      fprintf(stderr, "pare-bench models: %s\n",
              unf && !tv[1].ok ? pare_model_last_error(unf) : pare_model_last_error(m));
      status = 1;
      break;
    }
    cl_ms[b] = tc.ms_median;
    ref_ms[b] = tr.ms_median;
    pare_device_info dev;
    pare_context_device(cl, &dev);
    printf("{\"bench\": \"models\", \"model\": \"%s\", \"batch\": %lld, %s\"profile\": \"%s\", "
           "\"device\": \"%s\", \"ms_min\": %.4f, \"ms_median\": %.4f, \"ms_p90\": %.4f, "
           "\"ms_p99\": %.4f, \"first_run_ms\": %.4f",
           path, (long long)batches[b],
           !unf         ? ""
           : o->unfused ? "\"variant\": \"fused\", "
           : o->untuned ? "\"variant\": \"tuned\", "
                        : "\"variant\": \"two_queues\", ",
           dev.profile, dev.name, tc.ms_min, tc.ms_median, tc.ms_p90, tc.ms_p99, tc.ms_first);
    if (tr.ms_median > 0)
      printf(", \"reference_ms_median\": %.4f, \"ratio_vs_reference\": %.3f", tr.ms_median,
             tr.ms_median / tc.ms_median);
    if (unf)
      printf(", \"%s_ms_median\": %.4f, \"speedup_vs_%s\": %.3f", vname, tv[1].ms_median, vname,
             tv[1].ms_median / tc.ms_median);
    /* Throughput, and memory: the activation arena pare's plan gives at this
     * batch (with the naive total beside it), the device arena the timed
     * runs used, and the process's peak RSS. */
    uint64_t naive = 0, planned = 0, lower = 0;
    pare_model_memory(m, batches[b], &naive, &planned, &lower);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf(", \"images_per_s\": %.1f, \"activation_bytes_planned\": %llu, "
           "\"activation_bytes_naive\": %llu, \"activation_bytes_device\": %llu, "
           "\"peak_rss_kb\": %ld",
           1000.0 * (double)batches[b] / tc.ms_median, (unsigned long long)planned,
           (unsigned long long)naive, (unsigned long long)pare_model_device_activation_bytes(m),
           ru.ru_maxrss);
    if (base)
      printf(", \"baseline\": \"%s\", \"baseline_ms_median\": %.4f, \"speedup_vs_baseline\": %.3f",
             o->baseline, tb.ms_median, tb.ms_median / tc.ms_median);
    printf("}\n");
    if (unf)
      printf("{\"bench\": \"models\", \"model\": \"%s\", \"batch\": %lld, \"variant\": "
             "\"%s\", \"profile\": \"%s\", \"device\": \"%s\", \"ms_min\": %.4f, "
             "\"ms_median\": %.4f, \"ms_p90\": %.4f, \"ms_p99\": %.4f, \"first_run_ms\": %.4f, "
             "\"images_per_s\": %.1f, \"%s_ms_median\": %.4f, \"%s_speedup\": %.3f}\n",
             path, (long long)batches[b], vname, dev.profile, dev.name, tv[1].ms_min,
             tv[1].ms_median, tv[1].ms_p90, tv[1].ms_p99, tv[1].ms_first,
             1000.0 * (double)batches[b] / tv[1].ms_median, mine, tc.ms_median, mine,
             tv[1].ms_median / tc.ms_median);
    fflush(stdout);
    const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    /* With the reference left out (--ref-reps 0) its columns show "-". */
    if (tr.ms_median > 0)
      fprintf(stderr, "%-10.10s %6lld %12.3f %12.3f %9.2fx", name, (long long)batches[b],
              tc.ms_median, tr.ms_median, tr.ms_median / tc.ms_median);
    else
      fprintf(stderr, "%-10.10s %6lld %12.3f %12s %10s", name, (long long)batches[b], tc.ms_median,
              "-", "-");
    if (unf) fprintf(stderr, "   %10.3f %13.2fx", tv[1].ms_median, tv[1].ms_median / tc.ms_median);
    if (base)
      fprintf(stderr, "   baseline %.3f ms: %.2fx faster", tb.ms_median,
              tb.ms_median / tc.ms_median);
    fprintf(stderr, "\n");
  }
  if (!status && o->peers) run_peers(o, path, m, cl_ms, ref_ms);
  pare_context_destroy(cl);
  pare_context_destroy(clu);
  pare_context_destroy(ref);
  pare_model_destroy(unf);
  pare_model_destroy(m);
  pare_model_destroy(base);
  return status;
}
