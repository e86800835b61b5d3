/* pare export: a model (.pare or .onnx) written as ONNX. */
#include <stdio.h>
#include <string.h>

#include "pare/pare_onnx.h"
#include "tools/cli.h"

int cmd_export(int argc, char **argv);

int cmd_export(int argc, char **argv) {
  const char *in = NULL, *out = NULL;
  int float_weights = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage("export");
      return 0;
    } else if (cli_flag_value(argc, argv, &i, "-o", &v) ||
               cli_flag_value(argc, argv, &i, "--output", &v)) {
      out = v;
    } else if (!strcmp(argv[i], "--float-weights")) {
      float_weights = 1;
    } else if (argv[i][0] == '-') {
      return cli_usage_error("export", "unknown option '%s'", argv[i]);
    } else if (!in) {
      in = argv[i];
    } else {
      return cli_usage_error("export", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!in) return cli_usage_error("export", "no model given%s", "");
  if (!out) return cli_usage_error("export", "no output given (-o model.onnx)%s", "");
  if (cli_parse_only()) return 0;
  char err[1024];
  pare_model *m;
  if (pare_model_load(in, &m, err, sizeof err) != PARE_OK) return cli_fail("export", "%s", err);
  int folded = 0;
  if (float_weights && pare_model_dequantize_weights(m, &folded) != PARE_OK) {
    int rc = cli_fail("export", "%s", pare_model_last_error(m));
    pare_model_destroy(m);
    return rc;
  }
  if (float_weights) printf("%d node(s) of constants folded into float weights\n", folded);
  if (pare_model_export_onnx(m, out) != PARE_OK) {
    int rc = cli_fail("export", "%s", pare_model_last_error(m));
    pare_model_destroy(m);
    return rc;
  }
  printf("exported %s -> %s (%d input(s), %d output(s))\n", in, out, pare_model_input_count(m),
         pare_model_output_count(m));
  pare_model_destroy(m);
  return 0;
}
