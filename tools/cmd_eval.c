/* pare eval: top-1 accuracy and the confusion matrix on a dataset. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli.h"

static long parse_count(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  return *end || v < 1 ? -1 : v;
}

static void show_progress(size_t done, size_t total, size_t correct, void *user) {
  (void)user;
  fprintf(stderr, "\revaluating %zu/%zu  accuracy %.2f%%", done, total,
          100.0 * (double)correct / (double)(done ? done : 1));
}

int cmd_eval(int argc, char **argv) {
  const char *path = NULL, *dataset = "fashion-mnist", *split = "test", *backend = "auto";
  const char *device = NULL;
  long batch = 64, limit = 0;
  int json = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage("eval");
      return 0;
    } else if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else if (cli_flag_value(argc, argv, &i, "--dataset", &v)) {
      dataset = v;
    } else if (cli_flag_value(argc, argv, &i, "--split", &v)) {
      split = v;
    } else if (cli_flag_value(argc, argv, &i, "--batch", &v)) {
      if ((batch = parse_count(v)) < 0)
        return cli_usage_error("eval", "--batch needs a positive number, not '%s'", v);
    } else if (cli_flag_value(argc, argv, &i, "--limit", &v)) {
      if ((limit = parse_count(v)) < 0)
        return cli_usage_error("eval", "--limit needs a positive number, not '%s'", v);
    } else if (cli_flag_value(argc, argv, &i, "--backend", &v)) {
      backend = v;
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("eval", "unknown option '%s'", argv[i]);
    } else if (!path) {
      path = argv[i];
    } else {
      return cli_usage_error("eval", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!path) return cli_usage_error("eval", "no model given%s", "");
  if (cli_parse_only()) return 0;
  char err[1024];
  pare_model *m = NULL;
  pare_context *ctx = NULL;
  if (pare_model_load(path, &m, err, sizeof err) != PARE_OK) return cli_fail("eval", "%s", err);
  int rc = cli_open_context("eval", backend, device, &ctx);
  pare_eval_result r;
  memset(&r, 0, sizeof r);
  if (!rc &&
      pare_model_evaluate(ctx, m, dataset, split, (size_t)limit, (int)batch,
                          isatty(2) ? show_progress : NULL, NULL, &r, err, sizeof err) != PARE_OK)
    rc = cli_fail("eval", "%s", err);
  if (isatty(2)) fprintf(stderr, "\n");
  if (!rc && json) {
    printf("{\"model\": ");
    cli_json_str(stdout, path);
    printf(", \"dataset\": \"%s\", \"split\": \"%s\", \"samples\": %zu, \"correct\": %zu, "
           "\"accuracy\": %.6f, \"confusion\": [",
           dataset, split, r.samples, r.correct, r.accuracy);
    for (int i = 0; i < r.classes; i++) {
      printf("%s[", i ? ", " : "");
      for (int c = 0; c < r.classes; c++)
        printf("%s%lld", c ? ", " : "", (long long)r.confusion[i * r.classes + c]);
      printf("]");
    }
    printf("]}\n");
  } else if (!rc) {
    printf("%s on %s/%s: top-1 accuracy %.2f%% (%zu of %zu)\n", path, dataset, split,
           100.0 * r.accuracy, r.correct, r.samples);
    printf("confusion matrix (rows: true class, columns: predicted)\n     ");
    for (int c = 0; c < r.classes; c++) printf("%6d", c);
    printf("\n");
    for (int i = 0; i < r.classes; i++) {
      printf("%4d ", i);
      for (int c = 0; c < r.classes; c++)
        printf("%6lld", (long long)r.confusion[i * r.classes + c]);
      printf("\n");
    }
  }
  pare_free(r.confusion);
  pare_context_destroy(ctx);
  pare_model_destroy(m);
  return rc;
}
