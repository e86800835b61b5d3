/* pare train and pare distill. */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"

static volatile int stop_requested;

static void on_interrupt(int sig) {
  (void)sig;
  stop_requested = 1;
}

typedef struct progress_state {
  int tty;
} progress_state;

static void progress(const pare_train_progress *p, void *user) {
  progress_state *s = user;
  if (s->tty) {
    int width = 24, filled = (int)(width * p->batch / (p->batches ? p->batches : 1));
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld loss %.4f acc %.2f%% %.0f img/s ETA %.0fs   ",
            p->epoch, p->epochs, bar, (long long)p->batch, (long long)p->batches, p->loss,
            100.0 * p->accuracy, p->images_per_second, p->eta_seconds);
    if (p->epoch_done) fprintf(stderr, "\n");
  }
  if (p->epoch_done) {
    FILE *f = s->tty ? stderr : stdout;
    fprintf(f, "epoch %d/%d: loss %.4f, train accuracy %.2f%%", p->epoch, p->epochs, p->loss,
            100.0 * p->accuracy);
    if (p->val_accuracy >= 0) fprintf(f, ", validation accuracy %.2f%%", 100.0 * p->val_accuracy);
    fprintf(f, ", %.0f img/s\n", p->images_per_second);
    fflush(f);
  }
}

/* An int option in [lo, 10^6]. */
static int parse_int(const char *cmd, const char *flag, const char *v, int lo, int *out) {
  long long d;
  int rc = cli_parse_count(cmd, flag, v, lo, 1000000, &d);
  if (!rc) *out = (int)d;
  return rc;
}

static int train_common(const char *cmd, int argc, char **argv, int distill) {
  pare_train_options o;
  pare_train_options_init(&o);
  const char *output = NULL, *backend = "auto", *device = NULL, *checkpoint = NULL;
  int resume = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc = 0;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage(cmd);
      return 0;
    } else if (!distill && cli_flag_value(argc, argv, &i, "--arch", &v)) {
      o.arch = v;
    } else if (distill && cli_flag_value(argc, argv, &i, "--student", &v)) {
      o.arch = v;
    } else if (distill && cli_flag_value(argc, argv, &i, "--teacher", &v)) {
      o.teacher = v;
    } else if (distill && cli_flag_value(argc, argv, &i, "--alpha", &v)) {
      rc = cli_parse_float(cmd, "--alpha", v, &o.alpha);
    } else if (distill && cli_flag_value(argc, argv, &i, "--temperature", &v)) {
      rc = cli_parse_float(cmd, "--temperature", v, &o.temperature);
    } else if (cli_flag_value(argc, argv, &i, "--dataset", &v)) {
      o.dataset = v;
    } else if (cli_flag_value(argc, argv, &i, "--epochs", &v)) {
      rc = parse_int(cmd, "--epochs", v, 1, &o.epochs);
    } else if (cli_flag_value(argc, argv, &i, "--batch", &v)) {
      rc = parse_int(cmd, "--batch", v, 1, &o.batch);
    } else if (cli_flag_value(argc, argv, &i, "--lr", &v)) {
      rc = cli_parse_float(cmd, "--lr", v, &o.lr);
    } else if (cli_flag_value(argc, argv, &i, "--momentum", &v)) {
      rc = cli_parse_float(cmd, "--momentum", v, &o.momentum);
    } else if (cli_flag_value(argc, argv, &i, "--weight-decay", &v)) {
      rc = cli_parse_float(cmd, "--weight-decay", v, &o.weight_decay);
    } else if (cli_flag_value(argc, argv, &i, "--optimizer", &v)) {
      o.optimizer = v;
    } else if (cli_flag_value(argc, argv, &i, "--schedule", &v)) {
      o.schedule = v;
    } else if (cli_flag_value(argc, argv, &i, "--warmup-epochs", &v)) {
      rc = parse_int(cmd, "--warmup-epochs", v, 0, &o.warmup_epochs);
    } else if (cli_flag_value(argc, argv, &i, "--step-epochs", &v)) {
      rc = parse_int(cmd, "--step-epochs", v, 1, &o.step_epochs);
    } else if (cli_flag_value(argc, argv, &i, "--val-split", &v)) {
      rc = cli_parse_float(cmd, "--val-split", v, &o.val_split);
      if (!rc && (o.val_split < 0 || o.val_split >= 1))
        return cli_usage_error(cmd, "--val-split must be in [0, 1), not %s", v);
    } else if (cli_flag_value(argc, argv, &i, "--seed", &v)) {
      long long seed;
      rc = cli_parse_count(cmd, "--seed", v, 0, INT64_MAX, &seed);
      o.seed = (uint64_t)seed;
    } else if (cli_flag_value(argc, argv, &i, "-o", &v) ||
               cli_flag_value(argc, argv, &i, "--output", &v)) {
      output = v;
    } else if (cli_flag_value(argc, argv, &i, "--checkpoint", &v)) {
      checkpoint = v;
    } else if (!strcmp(argv[i], "--resume")) {
      resume = 1;
    } else if (cli_flag_value(argc, argv, &i, "--backend", &v)) {
      backend = v;
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else {
      return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[i]);
    }
    if (rc) return rc;
  }
  if (!output) return cli_usage_error(cmd, "no output given (-o model.pare)%s", "");
  if (distill && !o.teacher) return cli_usage_error(cmd, "no --teacher given%s", "");
  /* The checkpoint sits beside the output unless named. */
  char default_checkpoint[4096];
  snprintf(default_checkpoint, sizeof default_checkpoint, "%s.ckpt", output);
  o.checkpoint = checkpoint ? checkpoint : default_checkpoint;
  if (resume) {
    if (access(o.checkpoint, R_OK) != 0)
      return cli_usage_error(cmd, "--resume: no checkpoint at %s", o.checkpoint);
    o.resume = o.checkpoint;
  }
  if (cli_parse_only()) return 0;
  pare_context *ctx = NULL;
  int rc = cli_open_context(cmd, backend, device, &ctx);
  if (rc) return rc;
  progress_state ps = {isatty(2)};
  o.progress = progress;
  o.user = &ps;
  o.stop = &stop_requested;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, &old);
  char err[1024];
  pare_model *m = NULL;
  pare_status st = pare_train(ctx, &o, &m, err, sizeof err);
  sigaction(SIGINT, &old, NULL);
  if (st != PARE_OK) {
    rc = cli_fail(cmd, "%s", err);
  } else {
    if (pare_model_save(m, output) != PARE_OK)
      rc = cli_fail(cmd, "%s", pare_model_last_error(m));
    else if (stop_requested)
      fprintf(stderr,
              "\ninterrupted: the model as trained so far is saved to %s and the checkpoint to "
              "%s; add --resume to continue\n",
              output, o.checkpoint);
    else
      printf("saved %s\n", output);
  }
  pare_model_destroy(m);
  pare_context_destroy(ctx);
  return rc ? rc : stop_requested ? 130 : 0;
}

int cmd_train(int argc, char **argv) { return train_common("train", argc, argv, 0); }
int cmd_distill(int argc, char **argv) { return train_common("distill", argc, argv, 1); }
