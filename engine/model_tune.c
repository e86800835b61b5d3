/* pare_model_tune: the launch shapes of a model's run, tuned on the
 * context's device (host/autotune.h) in two rounds: the convolutions (whose
 * path decides which GEMMs run), then the GEMMs of a run recorded again. */
#include <stdlib.h>
#include <string.h>

#include "engine/context_internal.h"
#include "engine/model_internal.h"
#ifdef PARE_HAVE_OPENCL
#include "host/autotune.h"
#include "host/tuning.h"
#endif

#ifdef PARE_HAVE_OPENCL
/* One run of m with launch shapes recorded; a copy of the recorded
 * "<kernel>@<shape>" list that starts with `prefix` into *keys. */
static pare_status record_run(pare_context *ctx, pare_model *m, const pare_tensor_view *inputs,
                              int n_inputs, const char *prefix, char ***keys, int *n_keys) {
  const pare_graph *g = m->graph;
  pare_tensor_view outs[64];
  if (g->n_outputs > 64) return pare_error_set(&m->error, PARE_ERR_UNSUPPORTED, "too many outputs");
  pare_tuning_record(ctx->rt, 1);
  pare_status st = pare_model_run(ctx, m, inputs, n_inputs, outs, g->n_outputs);
  pare_tuning_record(ctx->rt, 0);
  for (int k = 0; st == PARE_OK && k < g->n_outputs; k++) pare_free(outs[k].data);
  if (st != PARE_OK) return st;
  if (pare_context_backend(ctx) != PARE_BACKEND_OPENCL)
    return pare_error_set(&m->error, PARE_ERR_NO_DEVICE,
                          "pare_model_tune: the run fell back to the reference backend (%s)",
                          pare_context_last_error(ctx));
  int n = 0;
  const char *const *asked = pare_tuning_recorded(ctx->rt, &n);
  *keys = calloc((size_t)n + 1, sizeof **keys);
  if (!*keys) return pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
  *n_keys = 0;
  for (int i = 0; i < n; i++) {
    if (strncmp(asked[i], prefix, strlen(prefix)) || !pare_autotune_knows(asked[i])) continue;
    size_t len = strlen(asked[i]) + 1;
    char *copy = malloc(len);
    if (!copy) break;
    memcpy(copy, asked[i], len);
    (*keys)[(*n_keys)++] = copy;
  }
  return PARE_OK;
}

static void free_keys(char **keys, int n) {
  for (int i = 0; keys && i < n; i++) free(keys[i]);
  free(keys);
}
#endif

pare_status pare_model_tune(pare_context *ctx, pare_model *m, const pare_tensor_view *inputs,
                            int n_inputs, const pare_tune_options *options,
                            pare_tune_result **results, int *count) {
  if (!ctx || !m || !results || !count) return PARE_ERR_INVALID_ARG;
  *results = NULL;
  *count = 0;
  pare_tune_options opt = {0};
  if (options) opt = *options;
  if (opt.budget_seconds < 0)
    return pare_error_set(&m->error, PARE_ERR_INVALID_ARG, "pare_model_tune: negative time budget");
#ifndef PARE_HAVE_OPENCL
  (void)inputs;
  (void)n_inputs;
  return pare_error_set(&m->error, PARE_ERR_NO_DEVICE,
                        "pare_model_tune: this libpare was built without OpenCL");
#else
  if (pare_context_backend(ctx) != PARE_BACKEND_OPENCL)
    return pare_error_set(&m->error, PARE_ERR_NO_DEVICE,
                          "pare_model_tune: tuning needs an OpenCL device (the context runs the "
                          "reference backend)");
  double deadline = opt.budget_seconds > 0 ? pare_now() + opt.budget_seconds : 0;
  pare_tune_result *out = NULL;
  int n_out = 0, cap = 0;
  pare_status st = PARE_OK;
  static const char *const rounds[] = {"conv2d_f32@", "gemm_f32@"};
  for (int r = 0; r < 2 && st == PARE_OK; r++) {
    char **keys = NULL;
    int n_keys = 0;
    st = record_run(ctx, m, inputs, n_inputs, rounds[r], &keys, &n_keys);
    for (int i = 0; st == PARE_OK && i < n_keys; i++) {
      if (deadline > 0 && pare_now() > deadline) break;
      if (n_out == cap) {
        cap = cap ? 2 * cap : 16;
        pare_tune_result *grown = realloc(out, sizeof *out * (size_t)cap);
        if (!grown) {
          st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
          break;
        }
        out = grown;
      }
      pare_autotune_result res;
      st = pare_autotune_shape(ctx->rt, keys[i], deadline, opt.reps, &res, &m->error);
      if (st != PARE_OK) break;
      pare_tune_result *o = &out[n_out++];
      memset(o, 0, sizeof *o);
      memcpy(o->kernel, res.kernel, sizeof o->kernel);
      memcpy(o->shape, res.shape, sizeof o->shape);
      memcpy(o->params, res.params, sizeof o->params);
      o->untuned_ms = res.untuned_ms;
      o->tuned_ms = res.tuned_ms;
      o->tried = res.tried;
      o->rejected = res.rejected;
      if (opt.progress) opt.progress(i + 1, n_keys, o, opt.user);
    }
    free_keys(keys, n_keys);
  }
  if (st != PARE_OK) {
    free(out);
    return st;
  }
  *results = out;
  *count = n_out;
  return PARE_OK;
#endif
}
