/* pare tune: kernel parameters searched for a model's launch shapes on the
 * device and kept in its tuning database (pare_model_tune). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"

typedef struct tune_progress {
  int tty, round;
  double t0;
} tune_progress;

static void show_progress(int done, int total, const pare_tune_result *last, void *user) {
  tune_progress *p = user;
  if (done == 1) p->round++;
  if (!p->tty) return;
  int width = 24, fill = total ? done * width / total : width;
  char bar[32];
  for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
  bar[width] = '\0';
  fprintf(stderr, "\rround %d [%s] %d/%d  %-10s %6.3f -> %6.3f ms  %.0fs   ", p->round, bar, done,
          total, last->kernel, last->untuned_ms, last->tuned_ms, (cli_now_ms() - p->t0) / 1e3);
  if (done == total) fputc('\n', stderr);
}

/* Median batch latency of m on a context with or without tuned values. */
static int latency_on(const char *device, int no_tune, pare_model *m, long batch, int reps,
                      double *ms) {
  pare_context_options o = {0};
  o.backend = PARE_BACKEND_OPENCL;
  o.device = device;
  o.no_tune = no_tune;
  pare_context *ctx = NULL;
  if (pare_context_create(&o, &ctx) != PARE_OK) {
    pare_context_destroy(ctx);
    return 1;
  }
  int rc = cli_latency(ctx, m, batch, reps, ms);
  pare_context_destroy(ctx);
  return rc;
}

int cmd_tune(int argc, char **argv) {
  const char *path = NULL, *device = NULL;
  long long batch = 1, reps = 5;
  float budget = 120.0f;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage("tune");
      return 0;
    } else if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else if (cli_flag_value(argc, argv, &i, "--batch", &v)) {
      if (cli_parse_count("tune", "--batch", v, 1, 1 << 20, &batch)) return 2;
    } else if (cli_flag_value(argc, argv, &i, "--reps", &v)) {
      if (cli_parse_count("tune", "--reps", v, 1, 64, &reps)) return 2;
    } else if (cli_flag_value(argc, argv, &i, "--budget-seconds", &v)) {
      if (cli_parse_float("tune", "--budget-seconds", v, &budget)) return 2;
      if (budget < 0)
        return cli_usage_error("tune", "--budget-seconds must be 0 or more, not '%s'", v);
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("tune", "unknown option '%s'", argv[i]);
    } else if (!path) {
      path = argv[i];
    } else {
      return cli_usage_error("tune", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!path) return cli_usage_error("tune", "no model given%s", "");
  if (cli_parse_only()) return 0;
  char err[1024];
  pare_model *m = NULL;
  if (pare_model_load(path, &m, err, sizeof err) != PARE_OK) return cli_fail("tune", "%s", err);
  pare_context *ctx = NULL;
  int rc = cli_open_context("tune", "opencl", device, &ctx);
  if (rc) {
    pare_model_destroy(m);
    return rc;
  }
  pare_tensor_view in;
  float *x = cli_fixed_input(m, batch, &in);
  if (!x) {
    pare_context_destroy(ctx);
    pare_model_destroy(m);
    return cli_fail("tune", "%s: cannot make an input (out of memory?)", path);
  }
  tune_progress prog = {isatty(2), 0, cli_now_ms()};
  pare_tune_options o = {budget, (int)reps, show_progress, &prog};
  pare_tune_result *res = NULL;
  int n = 0;
  pare_status st = pare_model_tune(ctx, m, &in, 1, &o, &res, &n);
  free(x);
  if (st != PARE_OK) {
    rc = cli_fail("tune", "%s", pare_model_last_error(m));
    pare_context_destroy(ctx);
    pare_model_destroy(m);
    return rc;
  }
  pare_device_info dev;
  pare_context_device(ctx, &dev);
  pare_context_destroy(ctx);
  /* The model before and after, same run: contexts without and with the tuned values. */
  double before = 0, after = 0;
  int timed =
      !latency_on(device, 1, m, batch, 20, &before) && !latency_on(device, 0, m, batch, 20, &after);
  if (json) {
    printf("{\"model\": ");
    cli_json_str(stdout, path);
    printf(", \"device\": ");
    cli_json_str(stdout, dev.name);
    printf(", \"batch\": %lld, \"shapes\": [", batch);
    for (int i = 0; i < n; i++) {
      printf("%s{\"kernel\": ", i ? ", " : "");
      cli_json_str(stdout, res[i].kernel);
      printf(", \"shape\": ");
      cli_json_str(stdout, res[i].shape);
      printf(", \"params\": ");
      cli_json_str(stdout, res[i].params);
      printf(", \"untuned_ms\": %.6f, \"tuned_ms\": %.6f, \"tried\": %d, \"rejected\": %d}",
             res[i].untuned_ms, res[i].tuned_ms, res[i].tried, res[i].rejected);
    }
    printf("]");
    if (timed) printf(", \"model_untuned_ms\": %.6f, \"model_tuned_ms\": %.6f", before, after);
    printf("}\n");
  } else {
    printf("tuned %d shape(s) of %s at batch %lld on %s\n", n, path, batch, dev.name);
    printf("%-10s %-80s %9s %9s %6s  %s\n", "kernel", "shape", "untuned", "tuned", "gain",
           "parameters");
    for (int i = 0; i < n; i++)
      printf("%-10s %-80.80s %7.3fms %7.3fms %5.2fx  %s\n", res[i].kernel, res[i].shape,
             res[i].untuned_ms, res[i].tuned_ms,
             res[i].tuned_ms > 0 ? res[i].untuned_ms / res[i].tuned_ms : 1.0, res[i].params);
    if (timed)
      printf("model at batch %lld: %.3f ms untuned, %.3f ms tuned (%.2fx), medians of 20 runs\n",
             batch, before, after, after > 0 ? before / after : 1.0);
  }
  pare_free(res);
  pare_model_destroy(m);
  return 0;
}
