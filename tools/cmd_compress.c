/* pare compress: low-rank factorization (pruning and quantization join
 * here as they land), then optional fine-tuning, into a new model file. */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

static void print_factor_table(const pare_factor_layer *l, int n) {
  int64_t before = 0, after = 0;
  printf("%-24s %-6s %11s %6s %10s %10s %7s %17s  %s\n", "node", "op", "matrix", "rank", "params",
         "after", "energy", "ms alone/factored", "");
  for (int i = 0; i < n; i++) {
    char shape[32] = "-";
    if (l[i].rows)
      snprintf(shape, sizeof shape, "%lldx%lld", (long long)l[i].rows, (long long)l[i].cols);
    char ms[40] = "-";
    if (l[i].ms_before > 0) snprintf(ms, sizeof ms, "%.3f/%.3f", l[i].ms_before, l[i].ms_after);
    char how[160];
    snprintf(how, sizeof how, "%s", l[i].factored ? "factored" : l[i].why);
    if (l[i].factored && l[i].accuracy > 0)
      snprintf(how, sizeof how, "factored (validation %.2f%%)", 100.0 * l[i].accuracy);
    printf("%-24.24s %-6s %11s %6lld %10lld %10lld %6.1f%% %17s  %s\n", l[i].node, l[i].op, shape,
           (long long)l[i].rank, (long long)l[i].params_before, (long long)l[i].params_after,
           100.0 * l[i].energy, ms, how);
    before += l[i].params_before;
    after += l[i].factored ? l[i].params_after : l[i].params_before;
  }
  if (before)
    printf("weights of these layers: %lld -> %lld parameters (%.1f%%)\n", (long long)before,
           (long long)after, 100.0 * (double)after / (double)before);
}

int cmd_compress(int argc, char **argv) {
  const char *cmd = "compress", *input = NULL, *output = NULL, *lowrank = NULL;
  const char *conv = "channel", *skip = NULL, *dataset = "fashion-mnist";
  const char *backend = "auto", *device = NULL;
  const char *schedule = "cosine";
  long long epochs = 0, batch = 64, seed = 1, measure = 0;
  float lr = 0.01f;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc = 0;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage(cmd);
      return 0;
    } else if (cli_flag_value(argc, argv, &i, "--lowrank", &v)) {
      lowrank = v;
    } else if (cli_flag_value(argc, argv, &i, "--lowrank-conv", &v)) {
      conv = v;
    } else if (cli_flag_value(argc, argv, &i, "--measure-batch", &v)) {
      rc = cli_parse_count(cmd, "--measure-batch", v, 1, 1 << 20, &measure);
    } else if (cli_flag_value(argc, argv, &i, "--skip", &v)) {
      skip = v;
    } else if (cli_flag_value(argc, argv, &i, "--finetune-epochs", &v)) {
      rc = cli_parse_count(cmd, "--finetune-epochs", v, 1, 1000000, &epochs);
    } else if (cli_flag_value(argc, argv, &i, "--lr", &v)) {
      rc = cli_parse_float(cmd, "--lr", v, &lr);
      if (!rc && !(lr > 0)) return cli_usage_error(cmd, "--lr must be positive, not %s", v);
    } else if (cli_flag_value(argc, argv, &i, "--schedule", &v)) {
      schedule = v;
    } else if (cli_flag_value(argc, argv, &i, "--batch", &v)) {
      rc = cli_parse_count(cmd, "--batch", v, 1, 1000000, &batch);
    } else if (cli_flag_value(argc, argv, &i, "--seed", &v)) {
      rc = cli_parse_count(cmd, "--seed", v, 0, INT64_MAX, &seed);
    } else if (cli_flag_value(argc, argv, &i, "--dataset", &v)) {
      dataset = v;
    } else if (cli_flag_value(argc, argv, &i, "-o", &v) ||
               cli_flag_value(argc, argv, &i, "--output", &v)) {
      output = v;
    } else if (cli_flag_value(argc, argv, &i, "--backend", &v)) {
      backend = v;
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else if (argv[i][0] != '-' && !input) {
      input = argv[i];
    } else {
      return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[i]);
    }
    if (rc) return rc;
  }
  if (!input) return cli_usage_error(cmd, "no model given%s", "");
  if (!output) return cli_usage_error(cmd, "no output given (-o out.pare)%s", "");
  if (!lowrank) return cli_usage_error(cmd, "nothing to do: give --lowrank%s", "");
  char err[1024];
  pare_model *m = NULL;
  if (pare_model_load(input, &m, err, sizeof err) != PARE_OK) return cli_fail(cmd, "%s", err);
  pare_context *ctx = NULL;
  int rc = cli_open_context(cmd, backend, device, &ctx);
  if (rc) {
    pare_model_destroy(m);
    return rc;
  }
  pare_factor_layer *layers = NULL;
  int n = 0;
  if (pare_model_factorize(ctx, m, lowrank, conv, skip, (int64_t)measure, dataset, &layers, &n) !=
      PARE_OK) {
    rc = cli_fail(cmd, "%s", pare_model_last_error(m));
  } else {
    print_factor_table(layers, n);
    if (pare_model_save(m, output) != PARE_OK) rc = cli_fail(cmd, "%s", pare_model_last_error(m));
  }
  pare_free(layers);
  pare_model_destroy(m);
  if (!rc && epochs > 0) { /* fine-tune the factored model in place */
    pare_train_options o;
    pare_train_options_init(&o);
    o.arch = output;
    o.dataset = dataset;
    o.epochs = (int)epochs;
    o.lr = lr;
    o.batch = (int)batch;
    o.seed = (uint64_t)seed;
    o.schedule = schedule;
    pare_model *tuned = NULL;
    printf("fine-tuning %d epoch(s) at lr %g (%s)\n", o.epochs, lr, schedule);
    if (pare_train(ctx, &o, &tuned, err, sizeof err) != PARE_OK)
      rc = cli_fail(cmd, "fine-tuning: %s", err);
    else if (pare_model_save(tuned, output) != PARE_OK)
      rc = cli_fail(cmd, "%s", pare_model_last_error(tuned));
    pare_model_destroy(tuned);
  }
  if (!rc) printf("saved %s\n", output);
  pare_context_destroy(ctx);
  return rc;
}
