/* Shared pieces of the `pare` command line. */
#ifndef PARE_TOOLS_CLI_H
#define PARE_TOOLS_CLI_H

#include <stdio.h>

#include "pare/pare.h"

/* Prints "pare CMD: <message> (see `pare help CMD`)" and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, const char *arg);
/* A finite number / an integer in [lo, hi] for `flag`; else the usage
 * error (returns 2). */
int cli_parse_float(const char *cmd, const char *flag, const char *v, float *out);
int cli_parse_count(const char *cmd, const char *flag, const char *v, long long lo, long long hi,
                    long long *out);
/* Prints "pare CMD: <message>" and returns 1. */
int cli_fail(const char *cmd, const char *fmt, const char *arg);
/* Writes s as a JSON string. */
void cli_json_str(FILE *f, const char *s);
/* 1 when argv[i] is `flag` and a value follows (then *value is set, i advanced). */
int cli_flag_value(int argc, char **argv, int *i, const char *flag, const char **value);
/* Opens a context from --backend ref|opencl|auto and --device (and
 * --no-fuse: pare_context_options.no_fuse). */
int cli_open_context(const char *cmd, const char *backend, const char *device, pare_context **ctx);
int cli_open_context_fuse(const char *cmd, const char *backend, const char *device, int no_fuse,
                          pare_context **ctx);
/* 1 when PARE_CLI_PARSE_ONLY=1: commands stop after parsing their arguments
 * (exit 0 when they are valid), so that the parsing can be fuzzed. */
int cli_parse_only(void);
/* Milliseconds on a monotonic clock. */
double cli_now_ms(void);
/* The fixed input of cli_latency (batch rows, other dynamic dims 1, values
 * in [0, 1)) in *in; returns its data (free), NULL without memory. */
float *cli_fixed_input(pare_model *m, int64_t batch, pare_tensor_view *in);
/* Median latency of m on ctx at `batch` (dynamic dims of the input set to
 * it, a fixed input), over `reps` runs after 3 warm-up runs; 0 or 1. */
int cli_latency(pare_context *ctx, pare_model *m, int64_t batch, int reps, double *ms);
/* The same for n models timed in rounds (each round runs every model
 * once, so that the machine's load changing meanwhile hits them alike):
 * ms[i] for models[i]. 0, or 1 + the index of the model whose run failed
 * (its error says why), or n + 1 out of memory. */
int cli_latency_interleaved(pare_context *ctx, pare_model *const *models, int n, int64_t batch,
                            int reps, double *ms);
/* Prints the usage text of a command (from the command table). */
void cli_print_usage(const char *cmd);

int cmd_import(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_distill(int argc, char **argv);
int cmd_compress(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_auto(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_tune(int argc, char **argv);

#endif
