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
  char err[1024];
  pare_model *m = NULL;
  pare_dataset *ds = NULL;
  pare_context *ctx = NULL;
  if (pare_model_load(path, &m, err, sizeof err) != PARE_OK) return cli_fail("eval", "%s", err);
  int rc = 0;
  if (pare_dataset_open(dataset, split, &ds, err, sizeof err) != PARE_OK) {
    rc = cli_fail("eval", "%s", err);
    goto done;
  }
  rc = cli_open_context("eval", backend, device, &ctx);
  if (rc) goto done;
  pare_tensor_view info;
  pare_model_input_info(m, 0, &info);
  int64_t sdims[3];
  int classes = 0;
  pare_dataset_info(ds, sdims, &classes);
  int64_t sample = sdims[0] * sdims[1] * sdims[2];
  int64_t model_sample = 1;
  for (int d = 1; d < info.rank; d++) model_sample *= info.dims[d] > 0 ? info.dims[d] : 1;
  if (pare_model_input_count(m) != 1 || info.rank < 2 || model_sample != sample) {
    rc = cli_fail("eval",
                  "the model's input does not take %s images (one input of N x 1 x 28 x 28 "
                  "or N x 784 expected)",
                  dataset);
    goto done;
  }
  size_t total = pare_dataset_count(ds);
  if (limit && (size_t)limit < total) total = (size_t)limit;
  float *x = malloc(sizeof(float) * (size_t)batch * (size_t)sample);
  int64_t *labels = malloc(sizeof(int64_t) * (size_t)batch);
  size_t *idx = malloc(sizeof(size_t) * (size_t)batch);
  long *confusion = calloc((size_t)classes * (size_t)classes + 1, sizeof(long));
  if (!x || !labels || !idx || !confusion) {
    rc = cli_fail("eval", "out of memory%s", "");
    goto free_bufs;
  }
  size_t correct = 0;
  int tty = isatty(2);
  for (size_t first = 0; first < total; first += (size_t)batch) {
    size_t count = total - first < (size_t)batch ? total - first : (size_t)batch;
    for (size_t i = 0; i < count; i++) idx[i] = first + i;
    pare_dataset_batch(ds, idx, count, x, labels);
    pare_tensor_view in;
    memset(&in, 0, sizeof in);
    in.dtype = PARE_DT_F32;
    in.rank = info.rank;
    in.dims[0] = (int64_t)count;
    for (int d = 1; d < info.rank; d++) in.dims[d] = info.dims[d] > 0 ? info.dims[d] : 1;
    in.data = x;
    in.nbytes = sizeof(float) * count * (size_t)sample;
    pare_tensor_view out;
    if (pare_model_run(ctx, m, &in, 1, &out, 1) != PARE_OK) {
      rc = cli_fail("eval", "%s", pare_model_last_error(m));
      goto free_bufs;
    }
    int64_t k = out.rank >= 2 ? out.dims[out.rank - 1] : 0;
    if (out.dtype != PARE_DT_F32 || k < 1 ||
        (size_t)(out.nbytes / sizeof(float)) != count * (size_t)k) {
      pare_free(out.data);
      rc = cli_fail("eval", "the model's output is not N x classes scores%s", "");
      goto free_bufs;
    }
    const float *scores = out.data;
    for (size_t i = 0; i < count; i++) {
      int64_t best = 0;
      for (int64_t c = 1; c < k; c++)
        if (scores[i * (size_t)k + (size_t)c] > scores[i * (size_t)k + (size_t)best]) best = c;
      correct += best == labels[i];
      if (labels[i] < classes && best < classes) confusion[labels[i] * classes + best]++;
    }
    pare_free(out.data);
    if (tty) {
      fprintf(stderr, "\revaluating %zu/%zu  accuracy %.2f%%", first + count, total,
              100.0 * (double)correct / (double)(first + count));
    }
  }
  if (tty) fprintf(stderr, "\n");
  double acc = total ? (double)correct / (double)total : 0.0;
  if (json) {
    printf("{\"model\": ");
    cli_json_str(stdout, path);
    printf(", \"dataset\": \"%s\", \"split\": \"%s\", \"samples\": %zu, \"correct\": %zu, "
           "\"accuracy\": %.6f, \"confusion\": [",
           dataset, split, total, correct, acc);
    for (int r = 0; r < classes; r++) {
      printf("%s[", r ? ", " : "");
      for (int c = 0; c < classes; c++) printf("%s%ld", c ? ", " : "", confusion[r * classes + c]);
      printf("]");
    }
    printf("]}\n");
  } else {
    printf("%s on %s/%s: top-1 accuracy %.2f%% (%zu of %zu)\n", path, dataset, split, 100.0 * acc,
           correct, total);
    printf("confusion matrix (rows: true class, columns: predicted)\n     ");
    for (int c = 0; c < classes; c++) printf("%6d", c);
    printf("\n");
    for (int r = 0; r < classes; r++) {
      printf("%4d ", r);
      for (int c = 0; c < classes; c++) printf("%6ld", confusion[r * classes + c]);
      printf("\n");
    }
  }
free_bufs:
  free(x);
  free(labels);
  free(idx);
  free(confusion);
done:
  pare_context_destroy(ctx);
  pare_dataset_destroy(ds);
  pare_model_destroy(m);
  return rc;
}
