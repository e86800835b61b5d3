/* pare-bench training: images per second of training steps (forward,
 * backward, SGD with momentum) of a built-in architecture at batch 64, on
 * the OpenCL trainer and on the reference trainer, in the same run. Each
 * timed run is 10 steps on fixed random images; PyTorch's figure for the
 * same architecture comes from bench/peers/train_bench.py. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/train/trainer.h"
#include "engine/train/zoo.h"

enum { STEPS = 10, BATCH = 64 };

typedef struct train_case {
  pare_trainer *t;
  float *x;
  int64_t labels[BATCH];
} train_case;

static int run_steps(void *arg) {
  train_case *c = arg;
  pare_error err;
  for (int s = 0; s < STEPS; s++) {
    float loss;
    if (pare_trainer_step(c->t, c->x, c->labels, NULL, &loss, NULL, &err) != PARE_OK) {
      fprintf(stderr, "pare-bench training: %s\n", err.text);
      return 1;
    }
  }
  return 0;
}

/* Median images/s of `reps` timed runs of STEPS steps (rt NULL: reference). */
static int time_trainer(const char *arch, pare_cl_runtime *rt, int warmup, int reps,
                        pare_bench_timing *out) {
  pare_graph *g;
  pare_error err;
  if (pare_zoo_build(arch, 1, &g, &err) != PARE_OK) {
    fprintf(stderr, "pare-bench training: %s\n", err.text);
    return 1;
  }
  pare_train_config cfg;
  pare_train_config_init(&cfg);
  cfg.batch = BATCH;
  train_case c = {NULL, malloc(sizeof(float) * BATCH * 784), {0}};
  int status = 0;
  if (!c.x || pare_trainer_create(g, &cfg, rt, &c.t, &err) != PARE_OK) {
    fprintf(stderr, "pare-bench training: %s\n", c.x ? err.text : "out of memory");
    status = 1;
  } else {
    pare_bench_fill(c.x, BATCH * 784, 3);
    for (int i = 0; i < BATCH; i++) c.labels[i] = i % 10;
    *out = pare_bench_time(warmup, reps, run_steps, &c);
    status = !out->ok;
  }
  pare_trainer_destroy(c.t);
  free(c.x);
  pare_graph_destroy(g);
  return status;
}

int pare_bench_training(pare_cl_runtime *rt, const pare_bench_opts *o) {
  static const char *archs[] = {"simplecnn", "lenet5", "mlp"};
  fprintf(stderr, "%-10s %6s %14s %14s %9s\n", "arch", "batch", "opencl img/s", "reference img/s",
          "ratio");
  for (size_t a = 0; a < sizeof archs / sizeof archs[0]; a++) {
    if (o->model && strcmp(o->model, archs[a])) continue;
    pare_bench_timing tc, tr;
    int ref_reps = o->ref_max_reps > 0 ? o->ref_max_reps : 1;
    if (time_trainer(archs[a], rt, o->warmup, o->reps, &tc) ||
        time_trainer(archs[a], NULL, 0, ref_reps, &tr))
      return 1;
    double per_run = (double)STEPS * BATCH;
    double cl_ips = per_run / (tc.ms_median / 1e3), ref_ips = per_run / (tr.ms_median / 1e3);
    printf("{\"bench\": \"training\", \"arch\": \"%s\", \"batch\": %d, \"profile\": \"%s\", "
           "\"device\": \"%s\", \"images_per_s\": %.1f, \"images_per_s_best\": %.1f, "
           "\"reference_images_per_s\": %.1f, \"ratio_vs_reference\": %.2f}\n",
           archs[a], BATCH, rt->profile->name, rt->info.name, cl_ips, per_run / (tc.ms_min / 1e3),
           ref_ips, cl_ips / ref_ips);
    fflush(stdout);
    fprintf(stderr, "%-10s %6d %14.0f %14.0f %8.1fx\n", archs[a], BATCH, cl_ips, ref_ips,
            cl_ips / ref_ips);
  }
  return 0;
}
