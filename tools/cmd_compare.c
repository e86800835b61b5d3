/* pare compare: models side by side on a dataset and a device — accuracy,
 * size on disk, weights, MACs and latency — as a table, CSV and an HTML
 * report with plots. The first model is the baseline. */
#define _POSIX_C_SOURCE 200809L
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/report.h"

/* Name i of a comma-separated list, else the file's base name. */
static void name_of(const char *names, int i, const char *path, char *out, size_t size) {
  const char *p = names;
  for (int k = 0; p && k < i; k++) {
    p = strchr(p, ',');
    if (p) p++;
  }
  if (p && *p) {
    size_t len = strcspn(p, ",");
    snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), p);
    return;
  }
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  size_t len = strlen(base);
  if (len > 5 && !strcmp(base + len - 5, ".pare")) len -= 5;
  snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), base);
}

static void show_progress(size_t done, size_t total, size_t correct, void *user) {
  fprintf(stderr, "\r%s: evaluating %zu/%zu  accuracy %.2f%%   ", (const char *)user, done, total,
          100.0 * (double)correct / (double)(done ? done : 1));
}

int cmd_compare(int argc, char **argv) {
  const char *cmd = "compare", *names = NULL, *dataset = "fashion-mnist", *html = NULL;
  const char *csv = NULL, *backend = "auto", *device = NULL, *title = "pare: model comparison";
  const char *paths[64];
  int n = 0;
  long long limit = 0, reps = 20;
  int no_latency = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc = 0;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage(cmd);
      return 0;
    } else if (cli_flag_value(argc, argv, &i, "--names", &v)) {
      names = v;
    } else if (cli_flag_value(argc, argv, &i, "--dataset", &v)) {
      dataset = v;
    } else if (cli_flag_value(argc, argv, &i, "--limit", &v)) {
      rc = cli_parse_count(cmd, "--limit", v, 1, 1 << 30, &limit);
    } else if (cli_flag_value(argc, argv, &i, "--reps", &v)) {
      rc = cli_parse_count(cmd, "--reps", v, 1, 100000, &reps);
    } else if (cli_flag_value(argc, argv, &i, "--html", &v)) {
      html = v;
    } else if (cli_flag_value(argc, argv, &i, "--csv", &v)) {
      csv = v;
    } else if (cli_flag_value(argc, argv, &i, "--title", &v)) {
      title = v;
    } else if (!strcmp(argv[i], "--no-latency")) {
      no_latency = 1;
    } else if (cli_flag_value(argc, argv, &i, "--backend", &v)) {
      backend = v;
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else if (argv[i][0] == '-') {
      return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[i]);
    } else if (n < 64) {
      paths[n++] = argv[i];
    } else {
      return cli_usage_error(cmd, "at most 64 models%s", "");
    }
    if (rc) return rc;
  }
  if (!n) return cli_usage_error(cmd, "no model given%s", "");
  if (cli_parse_only()) return 0;
  pare_context *ctx = NULL;
  int rc = cli_open_context(cmd, backend, device, &ctx);
  if (rc) return rc;
  report_row *rows = calloc((size_t)n, sizeof *rows);
  pare_model *models[64] = {0}; /* kept loaded, to be timed together */
  if (!rows) rc = cli_fail(cmd, "out of memory%s", "");
  int tty = isatty(2);
  for (int i = 0; i < n && !rc; i++) {
    report_row *r = &rows[i];
    name_of(names, i, paths[i], r->name, sizeof r->name);
    snprintf(r->path, sizeof r->path, "%s", paths[i]);
    char err[1024];
    if (pare_model_load(paths[i], &models[i], err, sizeof err) != PARE_OK) {
      rc = cli_fail(cmd, "%s", err);
      break;
    }
    pare_model *m = models[i];
    struct stat sb;
    r->bytes = stat(paths[i], &sb) == 0 ? (uint64_t)sb.st_size : 0;
    pare_eval_result e;
    if (pare_model_evaluate(ctx, m, dataset, "test", (size_t)limit, 64, tty ? show_progress : NULL,
                            r->name, &e, err, sizeof err) != PARE_OK) {
      if (tty) fprintf(stderr, "\n");
      rc = cli_fail(cmd, "%s", err);
      break;
    }
    r->accuracy = e.accuracy;
    pare_free(e.confusion);
    pare_layer_info *layers = NULL;
    int nl = 0;
    if (pare_model_layers(m, ctx, 1, &layers, &nl) == PARE_OK) {
      for (int k = 0; k < nl; k++) {
        r->params += layers[k].params;
        r->nonzero += (int64_t)((double)layers[k].params * (1.0 - layers[k].sparsity) + 0.5);
        r->macs += layers[k].macs;
      }
      pare_free(layers);
    }
    if (tty) fprintf(stderr, "\r%60s\r", "");
  }
  /* Timed together, in rounds (each model once a round): the machine's
   * load moving meanwhile hits every model alike. */
  double b1[64], b64[64];
  if (!rc && !no_latency) {
    if (tty) fprintf(stderr, "timing %d model(s) at batch 1 and 64...", n);
    int bad = cli_latency_interleaved(ctx, models, n, 1, (int)reps, b1);
    if (!bad) bad = cli_latency_interleaved(ctx, models, n, 64, (int)reps, b64);
    if (bad > n)
      rc = cli_fail(cmd, "out of memory%s", "");
    else if (bad)
      rc = cli_fail(cmd, "%s", pare_model_last_error(models[bad - 1]));
    for (int i = 0; i < n && !rc; i++) rows[i].ms_b1 = b1[i], rows[i].ms_b64 = b64[i];
    if (tty) fprintf(stderr, "\r%60s\r", "");
  }
  for (int i = 0; i < n; i++) pare_model_destroy(models[i]);
  if (!rc) {
    pare_device_info dev;
    if (pare_context_device(ctx, &dev) == PARE_OK)
      printf("device: %s (%s)\n", dev.name, dev.profile);
    else
      printf("device: the reference backend\n");
    report_print(stdout, rows, n);
    char err[1200];
    if (csv && report_write_csv(csv, rows, n, err, sizeof err)) rc = cli_fail(cmd, "%s", err);
    if (!rc && html && report_write_html(html, title, rows, n, err, sizeof err))
      rc = cli_fail(cmd, "%s", err);
    if (!rc && html) printf("report: %s\n", html);
  }
  free(rows);
  pare_context_destroy(ctx);
  return rc;
}
