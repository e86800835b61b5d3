/* pare-bench: kernel and start-up benchmarks. Every row is one JSON line
 * on standard output and carries its baseline measured in the same run
 * (CLBlast, the reference backend, or the cold start), with warm-up runs
 * and the median of the timed runs; a readable summary goes to stderr.
 * The kernel benches come from kernels/kernels.def: one per kernel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"
#include "git_revision.h"
#include "pare/pare_onnx.h"

static const struct {
  const char *name;
  int (*run)(pare_cl_runtime *, const pare_bench_opts *);
} kernel_benches[] = {
#define PARE_KERNEL(stem, summary) {#stem, pare_bench_##stem},
#include "kernels/kernels.def"
#undef PARE_KERNEL
};

static int find_bench(const char *name) {
  for (size_t k = 0; k < sizeof kernel_benches / sizeof kernel_benches[0]; k++)
    if (!strcmp(name, kernel_benches[k].name)) return 1;
  return 0;
}

static void usage(FILE *f) {
  fprintf(f, "usage: pare-bench [OPTIONS] BENCH...\n\n"
             "benches:\n"
             "  gemm_f32   fp32 GEMM: pare's kernel vs CLBlast vs the reference (alias: gemm)\n"
             "  gemm_i8    int8 GEMM and weight-only int8/int4 GEMM vs pare's fp32 GEMM and\n"
             "             CLBlast (alias: int8)\n"
             "  sparse_f32 sparse weight x dense activation vs pare's dense GEMM and CLBlast\n"
             "             (alias: sparse)\n"
             "  <stem>     any kernel of kernels/kernels.def: pare's kernel vs its baseline\n"
             "  startup    session start with an empty vs a warm program cache\n"
             "  storage    stored bytes and load-time decoding with and without the coded\n"
             "             form (--model FILE, or synthetic layers)\n"
             "  models     whole-model latency, batch 1 and 64, OpenCL vs reference (--model)\n"
             "  training   training images/s at batch 64, OpenCL vs reference trainer\n"
             "             (--model simplecnn|lenet5|mlp for one; default all three)\n"
             "  all        every bench\n\n"
             "options:\n"
             "  --reps N       timed runs per case (default 7); the median is reported\n"
             "  --warmup N     untimed runs first (default 2)\n"
             "  --ref-reps N   timed runs of the slow reference (default 1; `models`: at\n"
             "                 most 3, and 0 leaves the reference out)\n"
             "  --model FILE   the model for `models` (.onnx or .pare)\n"
             "  --plot RUN.jsonl OUT.svg   (alone) GFLOP/s against m*n*k per kernel and\n"
             "                 variant, and latency bars of the models rows\n"
             "  --compare BASE.jsonl NEW.jsonl   (alone) the rows of two runs side by side:\n"
             "                 baseline ms / new ms for every row both have\n"
             "  --baseline FILE  `models`: also time FILE on the device in the same run\n"
             "                 (e.g. the model before compression) and print the speed-up\n"
             "  --unfused      `models`: also time the model with no fusion (every node its\n"
             "                 own launch, BatchNormalization unfolded: PARE_NO_FUSE=1),\n"
             "                 interleaved with the fused runs; rows get \"variant\"\n"
             "                 \"fused\"/\"unfused\" and the fused speed-up\n"
             "  --untuned      `models`: also time the model with the device profile's kernel\n"
             "                 parameters instead of those `pare tune` stored (PARE_NO_TUNE=1),\n"
             "                 interleaved; rows get \"variant\" \"tuned\"/\"untuned\"\n"
             "  --one-queue    `models`: also time the model with every launch on one queue\n"
             "                 (no independent branches side by side: PARE_QUEUES=1),\n"
             "                 interleaved; rows get \"variant\" \"two_queues\"/\"one_queue\"\n"
             "  --peers PYTHON   `models`: also time the same model in onnxruntime and\n"
             "                 PyTorch (bench/peers/ort_bench.py, torch_bench.py; PYTHON has\n"
             "                 onnxruntime, torch and onnx2torch) and print them side by side\n"
             "  --shapes S     GEMM shapes as M,N,K;M,N,K (default: 128..1024 square and\n"
             "                 64,3136,576;256,196,2304;64,10,1568)\n\n"
             "Rows are JSON lines on stdout; a summary goes to stderr.\n"
             "PARE_DEVICE and PARE_PROFILE choose the device and profile.\n");
}

/* The first JSON line of a run: what every row below was measured with
 * (revision, device, profile, settings, command line). --compare and
 * --plot skip it (it has no timings). */
static void run_header(const pare_cl_runtime *rt, const pare_bench_opts *o, int argc, char **argv) {
  time_t now = time(NULL);
  char date[32];
  strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  printf("{\"bench\": \"run\", \"git\": \"%s\", \"date\": \"%s\", \"device\": \"%s\", "
         "\"profile\": \"%s\", \"driver\": \"%s\", \"warmup\": %d, \"reps\": %d, \"ref_reps\": %d, "
         "\"args\": \"",
         PARE_GIT_REVISION, date, rt->info.name, rt->profile->name, rt->info.driver_version,
         o->warmup, o->reps, o->ref_max_reps);
  for (int i = 1; i < argc; i++) {
    if (i > 1) printf(" ");
    for (const char *c = argv[i]; *c; c++) printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
  }
  printf("\"}\n");
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
  if (argc == 3 && !strcmp(argv[1], "--startup-child")) return pare_bench_startup_child(argv[2]);
  if (argc >= 2 && !strcmp(argv[1], "--plot")) {
    if (argc != 4) {
      fprintf(stderr, "usage: pare-bench --plot RUN.jsonl OUT.svg\n");
      return 2;
    }
    return pare_bench_plot(argv[2], argv[3]);
  }
  if (argc >= 2 && !strcmp(argv[1], "--compare")) {
    if (argc != 4) {
      fprintf(stderr, "usage: pare-bench --compare BASE.jsonl NEW.jsonl\n");
      return 2;
    }
    return pare_bench_compare(argv[2], argv[3]);
  }
  pare_onnx_enable();
  pare_bench_opts o = {2, 7, 1, NULL, NULL, NULL, NULL, 0, 0, 0};
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
    } else if (!strcmp(a, "--model")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "pare-bench: --model needs a file\n");
        return 2;
      }
      o.model = argv[++i];
    } else if (!strcmp(a, "--baseline")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "pare-bench: --baseline needs a file\n");
        return 2;
      }
      o.baseline = argv[++i];
    } else if (!strcmp(a, "--unfused")) {
      o.unfused = 1;
    } else if (!strcmp(a, "--untuned")) {
      o.untuned = 1;
    } else if (!strcmp(a, "--one-queue")) {
      o.one_queue = 1;
    } else if (!strcmp(a, "--peers")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "pare-bench: --peers needs a Python interpreter\n");
        return 2;
      }
      o.peers = argv[++i];
    } else if (!strcmp(a, "--shapes")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "pare-bench: --shapes needs a value\n");
        return 2;
      }
      o.shapes = argv[++i];
    } else if (a[0] == '-') {
      fprintf(stderr, "pare-bench: unknown option '%s' (see pare-bench --help)\n", a);
      return 2;
    } else if (find_bench(a) || !strcmp(a, "gemm") || !strcmp(a, "int8") || !strcmp(a, "sparse") ||
               !strcmp(a, "startup") || !strcmp(a, "storage") || !strcmp(a, "models") ||
               !strcmp(a, "training") || !strcmp(a, "all")) {
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
  run_header(rt, &o, argc, argv);
  int status = 0;
  for (int i = 0; i < nb && !status; i++) {
    const char *b = !strcmp(benches[i], "gemm")     ? "gemm_f32"
                    : !strcmp(benches[i], "sparse") ? "sparse_f32"
                    : !strcmp(benches[i], "int8")   ? "gemm_i8"
                                                    : benches[i];
    int all = !strcmp(b, "all");
    for (size_t k = 0; k < sizeof kernel_benches / sizeof kernel_benches[0] && !status; k++)
      if (all || !strcmp(b, kernel_benches[k].name)) {
        fprintf(stderr, "\n== %s ==\n", kernel_benches[k].name);
        status = kernel_benches[k].run(rt, &o);
      }
    if (!status && (all || !strcmp(b, "startup")))
      status = pare_bench_startup(rt, &o, "/proc/self/exe");
    if (!status && (all || !strcmp(b, "storage"))) /* `all` times the synthetic layers */
      status = pare_bench_storage(&o, all ? NULL : o.model);
    if (!status && (!strcmp(b, "models") || (all && o.model)))
      status = pare_bench_models(&o, o.model);
    if (!status && (all || !strcmp(b, "training"))) status = pare_bench_training(rt, &o);
  }
  pare_cl_runtime_destroy(rt);
  return status;
}
