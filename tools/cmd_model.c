/* pare import, pare info and pare run. */
#define _POSIX_C_SOURCE 200809L /* setenv */
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

int cmd_import(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage("import");
      return 0;
    } else if (cli_flag_value(argc, argv, &i, "-o", &v) ||
               cli_flag_value(argc, argv, &i, "--output", &v)) {
      out = v;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("import", "unknown option '%s'", argv[i]);
    } else if (!in) {
      in = argv[i];
    } else {
      return cli_usage_error("import", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!in) return cli_usage_error("import", "no model given%s", "");
  if (!out) return cli_usage_error("import", "no output given (-o model.pare)%s", "");
  if (cli_parse_only()) return 0;
  char err[1024];
  pare_model *m;
  if (pare_model_load(in, &m, err, sizeof err) != PARE_OK) return cli_fail("import", "%s", err);
  pare_status st = pare_model_save(m, out);
  if (st != PARE_OK) {
    int rc = cli_fail("import", "%s", pare_model_last_error(m));
    pare_model_destroy(m);
    return rc;
  }
  printf("imported %s -> %s (%d input(s), %d output(s))\n", in, out, pare_model_input_count(m),
         pare_model_output_count(m));
  pare_model_destroy(m);
  return 0;
}

static void shape_str(char *buf, size_t size, int rank, const int64_t *dims) {
  size_t used = (size_t)snprintf(buf, size, "[");
  for (int i = 0; i < rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "," : "", (long long)dims[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

static void human_count(char *buf, size_t size, double v) {
  if (v >= 1e9)
    snprintf(buf, size, "%.2fG", v / 1e9);
  else if (v >= 1e6)
    snprintf(buf, size, "%.2fM", v / 1e6);
  else if (v >= 1e3)
    snprintf(buf, size, "%.1fk", v / 1e3);
  else
    snprintf(buf, size, "%.0f", v);
}

int cmd_info(int argc, char **argv) {
  const char *path = NULL, *backend = "auto", *device = NULL, *batch_s = "1";
  int json = 0, memory = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage("info");
      return 0;
    } else if (!strcmp(argv[i], "--json")) {
      json = 1;
    } else if (!strcmp(argv[i], "--memory")) {
      memory = 1;
    } else if (cli_flag_value(argc, argv, &i, "--batch", &v)) {
      batch_s = v;
    } else if (cli_flag_value(argc, argv, &i, "--backend", &v)) {
      backend = v;
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("info", "unknown option '%s'", argv[i]);
    } else if (!path) {
      path = argv[i];
    } else {
      return cli_usage_error("info", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!path) return cli_usage_error("info", "no model given%s", "");
  char *end;
  long long batch = strtoll(batch_s, &end, 10);
  if (*end || batch < 1)
    return cli_usage_error("info", "--batch needs a positive number, not '%s'", batch_s);
  if (cli_parse_only()) return 0;
  char err[1024];
  pare_model *m;
  if (pare_model_load(path, &m, err, sizeof err) != PARE_OK) return cli_fail("info", "%s", err);
  pare_context *ctx = NULL;
  int rc = cli_open_context("info", backend, device, &ctx);
  if (rc) {
    pare_model_destroy(m);
    return rc;
  }
  pare_layer_info *layers = NULL;
  int n = 0;
  if (pare_model_layers(m, ctx, batch, &layers, &n) != PARE_OK) {
    rc = cli_fail("info", "%s", pare_model_last_error(m));
    goto done;
  }
  int64_t params = 0, macs = 0;
  uint64_t bytes = 0;
  for (int i = 0; i < n; i++) {
    params += layers[i].params;
    macs += layers[i].macs;
    bytes += layers[i].weight_bytes;
  }
  uint64_t naive = 0, planned = 0, lower = 0;
  if (memory && pare_model_memory(m, batch, &naive, &planned, &lower) != PARE_OK) {
    rc = cli_fail("info", "%s", pare_model_last_error(m));
    goto done;
  }
  if (json) {
    printf("{\"model\": ");
    cli_json_str(stdout, path);
    printf(", \"batch\": %lld, \"layers\": [\n", batch);
    for (int i = 0; i < n; i++) {
      const pare_layer_info *l = &layers[i];
      char shape[160];
      shape_str(shape, sizeof shape, l->rank, l->dims);
      printf("  {\"name\": ");
      cli_json_str(stdout, l->name);
      printf(", \"op\": \"%s\", \"shape\": %s, \"params\": %lld, \"macs\": %lld, \"bytes\": %llu, "
             "\"dtype\": \"%s\", \"sparsity\": %.4f, \"backend\": \"%s\"}%s\n",
             l->op, shape, (long long)l->params, (long long)l->macs,
             (unsigned long long)l->weight_bytes,
             l->weight_dtype ? pare_dtype_str(l->weight_dtype) : "", l->sparsity, l->backend,
             i + 1 < n ? "," : "");
    }
    printf("], \"totals\": {\"params\": %lld, \"macs\": %lld, \"bytes\": %llu}", (long long)params,
           (long long)macs, (unsigned long long)bytes);
    if (memory)
      printf(", \"memory\": {\"naive\": %llu, \"planned\": %llu, \"lower_bound\": %llu}",
             (unsigned long long)naive, (unsigned long long)planned, (unsigned long long)lower);
    printf("}\n");
  } else {
    printf("%s: %d layer(s), batch %lld\n", path, n, batch);
    printf("%-24s %-18s %-20s %10s %10s %10s %-5s %8s %-9s\n", "name", "op", "output", "params",
           "MACs", "bytes", "dtype", "sparsity", "backend");
    for (int i = 0; i < n; i++) {
      const pare_layer_info *l = &layers[i];
      char shape[160], p[32], mac[32], b[32];
      shape_str(shape, sizeof shape, l->rank, l->dims);
      human_count(p, sizeof p, (double)l->params);
      human_count(mac, sizeof mac, (double)l->macs);
      human_count(b, sizeof b, (double)l->weight_bytes);
      printf("%-24.24s %-18.18s %-20.20s %10s %10s %10s %-5s %7.1f%% %-9s\n", l->name, l->op, shape,
             p, mac, b, l->weight_dtype ? pare_dtype_str(l->weight_dtype) : "-",
             100.0 * l->sparsity, l->backend);
    }
    char p[32], mac[32], b[32];
    human_count(p, sizeof p, (double)params);
    human_count(mac, sizeof mac, (double)macs);
    human_count(b, sizeof b, (double)bytes);
    printf("total: %s parameters, %s MACs, %s bytes of weights\n", p, mac, b);
    if (memory)
      printf("activation memory at batch %lld: naive %llu bytes, planned %llu (%.2fx the lower "
             "bound), lower bound %llu\n",
             batch, (unsigned long long)naive, (unsigned long long)planned,
             lower ? (double)planned / (double)lower : 0.0, (unsigned long long)lower);
  }
done:
  pare_free(layers);
  pare_context_destroy(ctx);
  pare_model_destroy(m);
  return rc;
}

int cmd_run(int argc, char **argv) {
  const char *path = NULL, *backend = "auto", *device = NULL;
  const char *inputs[64], *outputs[64];
  int ni = 0, no = 0, profile = 0, no_fuse = 0;
  long long runs = 10;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage("run");
      return 0;
    } else if (!strcmp(argv[i], "--profile")) {
      profile = 1;
    } else if (!strcmp(argv[i], "--no-fuse")) {
      no_fuse = 1;
    } else if (cli_flag_value(argc, argv, &i, "--runs", &v)) {
      int prc = cli_parse_count("run", "--runs", v, 1, 1000000, &runs);
      if (prc) return prc;
    } else if (cli_flag_value(argc, argv, &i, "--input", &v)) {
      if (ni == 64) return cli_usage_error("run", "too many inputs%s", "");
      inputs[ni++] = v;
    } else if (cli_flag_value(argc, argv, &i, "--output", &v) ||
               cli_flag_value(argc, argv, &i, "-o", &v)) {
      if (no == 64) return cli_usage_error("run", "too many outputs%s", "");
      outputs[no++] = v;
    } else if (cli_flag_value(argc, argv, &i, "--backend", &v)) {
      backend = v;
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("run", "unknown option '%s'", argv[i]);
    } else if (!path) {
      path = argv[i];
    } else {
      return cli_usage_error("run", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!path) return cli_usage_error("run", "no model given%s", "");
  if (!ni) return cli_usage_error("run", "no --input given%s", "");
  if (cli_parse_only()) return 0;
  /* The ONNX importer reads it: BatchNormalization stays a node. */
  if (no_fuse) setenv("PARE_NO_FUSE", "1", 1);
  char err[1024];
  pare_model *m;
  if (pare_model_load(path, &m, err, sizeof err) != PARE_OK) return cli_fail("run", "%s", err);
  int n_out = pare_model_output_count(m);
  if (no > n_out) {
    pare_model_destroy(m);
    return cli_usage_error("run", "more --output files than the model's outputs%s", "");
  }
  pare_tensor_view in[64], out[64];
  char names[64][256];
  int rc = 0;
  memset(in, 0, sizeof in);
  memset(out, 0, sizeof out);
  for (int i = 0; i < ni && !rc; i++) {
    /* NAME=file.npy gives the input by name, file.npy by position. */
    const char *file = inputs[i], *eq = strchr(inputs[i], '=');
    if (eq && !strstr(inputs[i], ".npy=")) {
      size_t len = (size_t)(eq - inputs[i]);
      if (len >= sizeof names[i]) len = sizeof names[i] - 1;
      memcpy(names[i], inputs[i], len);
      names[i][len] = '\0';
      file = eq + 1;
    } else {
      names[i][0] = '\0';
    }
    if (pare_tensor_load(file, &in[i], err, sizeof err) != PARE_OK) rc = cli_fail("run", "%s", err);
    in[i].name = names[i][0] ? names[i] : NULL;
  }
  pare_context *ctx = NULL;
  if (!rc) rc = cli_open_context_fuse("run", backend, device, no_fuse, &ctx);
  if (!rc && profile) {
    pare_node_time *t = NULL;
    int n = 0;
    if (pare_model_profile(ctx, m, in, ni, (int)runs, &t, &n) != PARE_OK) {
      rc = cli_fail("run", "%s", pare_model_last_error(m));
    } else {
      double total = 0;
      for (int i = 0; i < n; i++) total += t[i].ms;
      printf("%-28s %-18s %-9s %10s %7s   (mean of %lld runs, each node waited for)\n", "node",
             "op", "backend", "ms", "share", runs);
      for (int i = 0; i < n; i++)
        printf("%-28.28s %-18.18s %-9s %10.4f %6.1f%%\n", t[i].name, t[i].op, t[i].backend, t[i].ms,
               total > 0 ? 100.0 * t[i].ms / total : 0.0);
      printf("%-28s %-18s %-9s %10.4f %6.1f%%\n", "total", "", "", total, 100.0);
    }
    pare_free(t);
  }
  if (!rc && pare_model_run(ctx, m, in, ni, out, n_out) != PARE_OK)
    rc = cli_fail("run", "%s", pare_model_last_error(m));
  uint64_t arena = rc ? 0 : pare_model_device_activation_bytes(m);
  if (profile && arena)
    printf("device activations: %llu bytes in one buffer (the memory plan's arena)\n",
           (unsigned long long)arena);
  for (int i = 0; i < n_out && !rc; i++) {
    if (i < no) {
      if (pare_npy_write(outputs[i], &out[i], err, sizeof err) != PARE_OK)
        rc = cli_fail("run", "%s", err);
      else
        printf("%s -> %s\n", out[i].name, outputs[i]);
    } else {
      char shape[160];
      shape_str(shape, sizeof shape, out[i].rank, out[i].dims);
      printf("%s: %s %s (not written: no --output for it)\n", out[i].name,
             out[i].dtype == PARE_DT_F32 ? "f32" : "tensor", shape);
    }
  }
  for (int i = 0; i < 64; i++) {
    pare_free(in[i].data);
    pare_free(out[i].data);
  }
  pare_context_destroy(ctx);
  pare_model_destroy(m);
  return rc;
}

int cmd_create(int argc, char **argv) {
  const char *arch = NULL, *output = NULL;
  long long seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage("create");
      return 0;
    } else if (cli_flag_value(argc, argv, &i, "-o", &v) ||
               cli_flag_value(argc, argv, &i, "--output", &v)) {
      output = v;
    } else if (cli_flag_value(argc, argv, &i, "--seed", &v)) {
      int rc = cli_parse_count("create", "--seed", v, 0, INT64_MAX, &seed);
      if (rc) return rc;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("create", "unknown option '%s'", argv[i]);
    } else if (!arch) {
      arch = argv[i];
    } else {
      return cli_usage_error("create", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!arch) return cli_usage_error("create", "no architecture given%s", "");
  if (!output) return cli_usage_error("create", "no output given (-o out.pare)%s", "");
  if (cli_parse_only()) return 0;
  char err[1024];
  pare_model *m = NULL;
  if (pare_model_create(arch, (uint64_t)seed, &m, err, sizeof err) != PARE_OK)
    return cli_fail("create", "%s", err);
  int rc = pare_model_save(m, output) != PARE_OK
               ? cli_fail("create", "%s", pare_model_last_error(m))
               : 0;
  if (!rc) printf("saved %s (%s, untrained)\n", output, arch);
  pare_model_destroy(m);
  return rc;
}
