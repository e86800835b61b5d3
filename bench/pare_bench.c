/* pare-bench: kernel and start-up benchmarks. Every row is one JSON line
 * on standard output and carries its baseline measured in the same run
 * (CLBlast, the reference backend, or the cold start), with warm-up runs
 * and the median of the timed runs; a readable summary goes to stderr. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/ref/ref.h"
#include "host/launch/launch.h"

typedef struct bench_opts {
  int warmup;
  int reps;
  int ref_max_reps; /* the reference is slow: at most this many timed runs */
  const char *shapes; /* "M,N,K;M,N,K" or NULL for the default set */
} bench_opts;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

typedef struct timing {
  double ms_min, ms_median;
  int ok;
} timing;

typedef pare_status (*gemm_fn)(pare_cl_runtime *, const pare_gemm_f32_args *, cl_event *,
                               pare_error *);

/* Wall time of enqueue + finish: counts every kernel a path launches. */
static timing time_device_gemm(pare_cl_runtime *rt, gemm_fn fn, const pare_gemm_f32_args *g,
                               const bench_opts *o, const char *name) {
  timing t = {0, 0, 0};
  pare_error err;
  double *ms = calloc((size_t)o->reps, sizeof *ms);
  if (!ms) return t;
  for (int i = 0; i < o->warmup + o->reps; i++) {
    double t0 = pare_now();
    if (fn(rt, g, NULL, &err) != PARE_OK || pare_cl_finish(rt, &err) != PARE_OK) {
      fprintf(stderr, "pare-bench: %s failed: %s\n", name, err.text);
      free(ms);
      return t;
    }
    if (i >= o->warmup) ms[i - o->warmup] = (pare_now() - t0) * 1e3;
  }
  t.ms_min = ms[0];
  for (int i = 1; i < o->reps; i++)
    if (ms[i] < t.ms_min) t.ms_min = ms[i];
  t.ms_median = median(ms, o->reps);
  t.ok = 1;
  free(ms);
  return t;
}

static timing time_reference(const pare_gemm_f32_args *g, const float *a, const float *b,
                             float *c, const bench_opts *o) {
  timing t = {0, 0, 0};
  int reps = o->reps < o->ref_max_reps ? o->reps : o->ref_max_reps;
  double ms[64];
  if (reps > 64) reps = 64;
  for (int i = 0; i < reps; i++) {
    double t0 = pare_now();
    pare_ref_gemm_f32(g->trans_a, g->trans_b, g->m, g->n, g->k, g->alpha, a, g->lda, b, g->ldb,
                      g->beta, c, g->ldc, NULL);
    ms[i] = (pare_now() - t0) * 1e3;
  }
  t.ms_min = ms[0];
  for (int i = 1; i < reps; i++)
    if (ms[i] < t.ms_min) t.ms_min = ms[i];
  t.ms_median = median(ms, reps);
  t.ok = reps > 0;
  return t;
}

static void json_row(pare_cl_runtime *rt, const char *kernel, const char *variant, size_t m,
                     size_t n, size_t k, timing t, double flops, const char *baseline,
                     double baseline_ms) {
  double gflops = t.ms_median > 0 ? flops / (t.ms_median * 1e6) : 0;
  printf("{\"kernel\": \"%s\", \"variant\": \"%s\", \"profile\": \"%s\", \"device\": \"%s\", "
         "\"shape\": \"%zux%zux%zu\", \"ms_min\": %.4f, \"ms_median\": %.4f, \"gflops\": %.2f",
         kernel, variant, rt->profile->name, rt->info.name, m, n, k, t.ms_min, t.ms_median,
         gflops);
  if (baseline && baseline_ms > 0)
    printf(", \"ratio_vs_%s\": %.3f", baseline, baseline_ms / t.ms_median);
  printf("}\n");
  fflush(stdout);
}

static int bench_gemm(pare_cl_runtime *rt, const bench_opts *o) {
  static const size_t defaults[][3] = {{128, 128, 128},  {256, 256, 256}, {512, 512, 512},
                                       {1024, 1024, 1024}, {64, 3136, 576}, {256, 196, 2304},
                                       {64, 10, 1568}};
  size_t shapes[32][3];
  int ns = 0;
  if (o->shapes) {
    const char *p = o->shapes;
    while (*p && ns < 32) {
      unsigned long m, n, k;
      int used = 0;
      if (sscanf(p, "%lu,%lu,%lu%n", &m, &n, &k, &used) != 3 || !m || !n || !k) {
        fprintf(stderr, "pare-bench: --shapes: expected M,N,K;M,N,K... at \"%s\"\n", p);
        return 2;
      }
      shapes[ns][0] = m, shapes[ns][1] = n, shapes[ns][2] = k;
      ns++;
      p += used;
      if (*p == ';') p++;
    }
  } else {
    ns = (int)(sizeof defaults / sizeof defaults[0]);
    memcpy(shapes, defaults, sizeof defaults);
  }
  fprintf(stderr, "%-16s %10s %10s %10s %9s %9s\n", "shape MxNxK", "pare GF/s", "clblast",
          "reference", "vs clblast", "vs ref");
  int status = 0;
  for (int s = 0; s < ns; s++) {
    size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
    float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *c = calloc(m * n, 4);
    if (!a || !b || !c) return 1;
    uint64_t x = 12345;
    for (size_t i = 0; i < m * k; i++) a[i] = (float)((x = x * 6364136223846793005u + 1) >> 41) / 8388608.0f - 1.0f;
    for (size_t i = 0; i < k * n; i++) b[i] = (float)((x = x * 6364136223846793005u + 1) >> 41) / 8388608.0f - 1.0f;
    pare_error err;
    cl_mem ba, bb, bc;
    if (pare_cl_buffer(rt, CL_MEM_READ_ONLY, m * k * 4, a, &ba, &err) != PARE_OK ||
        pare_cl_buffer(rt, CL_MEM_READ_ONLY, k * n * 4, b, &bb, &err) != PARE_OK ||
        pare_cl_buffer(rt, CL_MEM_READ_WRITE, m * n * 4, c, &bc, &err) != PARE_OK) {
      fprintf(stderr, "pare-bench: %s\n", err.text);
      return 1;
    }
    pare_gemm_f32_args g = {0, 0, m, n, k, 1.0f, 0.0f, ba, bb, bc, NULL, 0, 0, 0, k, n, n};
    double flops = 2.0 * (double)m * (double)n * (double)k;
    /* Interleave: CLBlast, ours, CLBlast again, keep the better baseline. */
    timing tc = time_device_gemm(rt, pare_clblast_gemm_f32, &g, o, "clblast");
    timing tp = time_device_gemm(rt, pare_launch_gemm_f32, &g, o, "gemm_f32");
    timing tr = time_reference(&g, a, b, c, o);
    if (!tp.ok) status = 1;
    double base = tc.ok ? tc.ms_median : 0;
    if (tc.ok) json_row(rt, "gemm_f32", "clblast", m, n, k, tc, flops, NULL, 0);
    if (tr.ok) json_row(rt, "gemm_f32", "reference", m, n, k, tr, flops, NULL, 0);
    if (tp.ok) {
      /* ours, with both ratios */
      double gflops = flops / (tp.ms_median * 1e6);
      printf("{\"kernel\": \"gemm_f32\", \"variant\": \"pare\", \"profile\": \"%s\", "
             "\"device\": \"%s\", \"shape\": \"%zux%zux%zu\", \"ms_min\": %.4f, "
             "\"ms_median\": %.4f, \"gflops\": %.2f, \"ratio_vs_clblast\": %.3f, "
             "\"ratio_vs_reference\": %.3f}\n",
             rt->profile->name, rt->info.name, m, n, k, tp.ms_min, tp.ms_median, gflops,
             base > 0 ? base / tp.ms_median : 0.0, tr.ok ? tr.ms_median / tp.ms_median : 0.0);
      fflush(stdout);
    }
    char shape[48];
    snprintf(shape, sizeof shape, "%zux%zux%zu", m, n, k);
    fprintf(stderr, "%-16s %10.1f %10.1f %10.2f %8.2fx %8.1fx\n", shape,
            tp.ok ? flops / (tp.ms_median * 1e6) : 0, tc.ok ? flops / (tc.ms_median * 1e6) : 0,
            tr.ok ? flops / (tr.ms_median * 1e6) : 0,
            tp.ok && base > 0 ? base / tp.ms_median : 0,
            tp.ok && tr.ok ? tr.ms_median / tp.ms_median : 0);
    rt->cl->clReleaseMemObject(ba);
    rt->cl->clReleaseMemObject(bb);
    rt->cl->clReleaseMemObject(bc);
    free(a);
    free(b);
    free(c);
  }
  return status;
}

/* Seconds to open a runtime and build the session's programs (the four
 * GEMM variants) with the given cache folder. */
static double session_start(const char *cache_dir, int *cached, pare_error *err) {
  double t0 = pare_now();
  pare_cl_runtime *rt;
  pare_cl_runtime_options opt = {0};
  opt.cache_dir = cache_dir;
  if (pare_cl_runtime_create(&opt, &rt, err) != PARE_OK) return -1;
  static const char *variants[] = {"-DTRANS_A=0 -DTRANS_B=0", "-DTRANS_A=0 -DTRANS_B=1",
                                   "-DTRANS_A=1 -DTRANS_B=0", "-DTRANS_A=1 -DTRANS_B=1"};
  *cached = 1;
  for (int i = 0; i < 4; i++) {
    cl_program p;
    if (pare_cl_program(rt, PARE_KERNEL_gemm_f32, variants[i], &p, err) != PARE_OK) {
      pare_cl_runtime_destroy(rt);
      return -1;
    }
    *cached &= rt->last_build_cached;
  }
  double s = pare_now() - t0;
  pare_cl_runtime_destroy(rt);
  return s;
}

/* Runs this program as `--startup-child DIR` in a fresh process whose
 * driver cache (PoCL's POCL_CACHE_DIR) is `driver_dir`; returns the
 * child's session-start milliseconds, or -1. A fresh process makes the
 * cold start honest: nothing is warm in memory, and with empty folders
 * nothing is warm on disk either. */
static double startup_child(const char *self, const char *pare_dir, const char *driver_dir,
                            int *cached) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    setenv("POCL_CACHE_DIR", driver_dir, 1);
    execl(self, self, "--startup-child", pare_dir, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char buf[128] = "";
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  double ms = -1;
  if (n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    buf[n] = '\0';
    if (sscanf(buf, "%lf %d", &ms, cached) != 2) ms = -1;
  }
  return ms;
}

static int bench_startup(pare_cl_runtime *rt, const bench_opts *o, const char *self) {
  /* A cold start compiles everything: a few seconds each on PoCL. */
  int reps = o->reps < 3 ? 3 : o->reps > 5 ? 5 : o->reps;
  double cold[5], warm[5];
  int status = 0;
  for (int i = 0; i < reps && !status; i++) {
    char pare_dir[] = "/tmp/pare-bench-cache-XXXXXX", driver_dir[] = "/tmp/pare-bench-drv-XXXXXX";
    if (!mkdtemp(pare_dir) || !mkdtemp(driver_dir)) return 1;
    int cached_cold = 1, cached_warm = 0;
    cold[i] = startup_child(self, pare_dir, driver_dir, &cached_cold);
    warm[i] = startup_child(self, pare_dir, driver_dir, &cached_warm);
    if (cold[i] < 0 || warm[i] < 0 || cached_cold || !cached_warm) status = 1;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", pare_dir, driver_dir);
    if (system(cmd) != 0) status = 1;
  }
  if (status) {
    fprintf(stderr, "pare-bench startup: a child run failed or the cache was not used\n");
    return 1;
  }
  double c = median(cold, reps), w = median(warm, reps);
  printf("{\"bench\": \"startup\", \"profile\": \"%s\", \"device\": \"%s\", \"programs\": 4, "
         "\"cold_ms_median\": %.2f, \"warm_ms_median\": %.2f, \"warm_over_cold\": %.4f}\n",
         rt->profile->name, rt->info.name, c, w, w / c);
  fprintf(stderr,
          "session start (4 GEMM programs, fresh process): cold %.1f ms, warm %.1f ms, "
          "warm/cold %.3f\n",
          c, w, w / c);
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "usage: pare-bench [OPTIONS] BENCH...\n\n"
             "benches:\n"
             "  gemm_f32   fp32 GEMM: pare's kernel vs CLBlast vs the reference (alias: gemm)\n"
             "  startup    session start with an empty vs a warm program cache\n"
             "  all        every bench\n\n"
             "options:\n"
             "  --reps N       timed runs per case (default 7); the median is reported\n"
             "  --warmup N     untimed runs first (default 2)\n"
             "  --ref-reps N   timed runs of the slow reference (default 1)\n"
             "  --shapes S     GEMM shapes as M,N,K;M,N,K (default: 128..1024 square and\n"
             "                 64,3136,576;256,196,2304;64,10,1568)\n\n"
             "Rows are JSON lines on stdout; a summary goes to stderr.\n"
             "PARE_DEVICE and PARE_PROFILE choose the device and profile.\n");
}

static int parse_int(const char *flag, const char *v, int lo, int *out) {
  char *end = NULL;
  long x = v ? strtol(v, &end, 10) : 0;
  if (!v || *end || x < lo || x > 100000) {
    fprintf(stderr, "pare-bench: %s needs a number >= %d\n", flag, lo);
    return 0;
  }
  *out = (int)x;
  return 1;
}

int main(int argc, char **argv) {
  if (argc == 3 && !strcmp(argv[1], "--startup-child")) {
    pare_error err;
    int cached = 0;
    double s = session_start(argv[2], &cached, &err);
    if (s < 0) {
      fprintf(stderr, "pare-bench: %s\n", err.text);
      return 1;
    }
    printf("%.3f %d\n", s * 1e3, cached);
    return 0;
  }
  bench_opts o = {2, 7, 1, NULL};
  const char *benches[8];
  int nb = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(a, "--reps")) {
      if (!parse_int(a, i + 1 < argc ? argv[++i] : NULL, 1, &o.reps)) return 2;
    } else if (!strcmp(a, "--warmup")) {
      if (!parse_int(a, i + 1 < argc ? argv[++i] : NULL, 0, &o.warmup)) return 2;
    } else if (!strcmp(a, "--ref-reps")) {
      if (!parse_int(a, i + 1 < argc ? argv[++i] : NULL, 0, &o.ref_max_reps)) return 2;
    } else if (!strcmp(a, "--shapes")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "pare-bench: --shapes needs a value\n");
        return 2;
      }
      o.shapes = argv[++i];
    } else if (a[0] == '-') {
      fprintf(stderr, "pare-bench: unknown option '%s' (see pare-bench --help)\n", a);
      return 2;
    } else if (!strcmp(a, "gemm") || !strcmp(a, "gemm_f32") || !strcmp(a, "startup") ||
               !strcmp(a, "all")) {
      if (nb < 8) benches[nb++] = a;
    } else {
      fprintf(stderr, "pare-bench: unknown bench '%s' (see pare-bench --help)\n", a);
      return 2;
    }
  }
  if (nb == 0) {
    usage(stderr);
    return 2;
  }
  pare_cl_runtime *rt;
  pare_error err;
  pare_cl_runtime_options ro = {0};
  if (pare_cl_runtime_create(&ro, &rt, &err) != PARE_OK) {
    fprintf(stderr, "pare-bench: no OpenCL device: %s\n", err.text);
    return 1;
  }
  fprintf(stderr, "device: %s, profile %s\n", rt->info.name, rt->profile->name);
  int status = 0;
  for (int i = 0; i < nb && !status; i++) {
    int all = !strcmp(benches[i], "all");
    if (all || !strncmp(benches[i], "gemm", 4)) status = bench_gemm(rt, &o);
    if (!status && (all || !strcmp(benches[i], "startup"))) status = bench_startup(rt, &o, "/proc/self/exe");
  }
  pare_cl_runtime_destroy(rt);
  return status;
}
