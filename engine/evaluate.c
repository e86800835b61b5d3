/* Top-1 accuracy of a model on dataset samples: the one loop behind
 * pare_model_evaluate, the trainer's validation and the low-rank
 * sensitivity scan (model_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"

pare_status pare_accuracy_on(pare_context *ctx, pare_model *m, const pare_dataset *ds,
                             const size_t *idx, size_t n, int batch, int64_t *confusion,
                             size_t *correct, pare_eval_progress_fn progress, void *user,
                             pare_error *err) {
  *correct = 0;
  if (batch <= 0) batch = 64;
  /* Candidates of pare auto and each epoch's validation are evaluated
   * once: no program is built for one version of their weights. */
  int was_evaluating = m->evaluating;
  m->evaluating = 1;
  int64_t sd[3];
  int classes = 0;
  pare_dataset_info(ds, sd, &classes);
  int64_t sample = sd[0] * sd[1] * sd[2], model_sample = 1;
  const pare_graph *g = m->graph;
  const pare_value *xv = g->n_inputs == 1 ? &g->values[g->inputs[0]] : NULL;
  for (int d = 1; xv && d < xv->rank; d++) model_sample *= xv->dims[d] > 0 ? xv->dims[d] : 1;
  if (!xv || xv->rank < 2 || model_sample != sample)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "the model's input does not take the dataset's %lldx%lldx%lld images "
                          "(one input of N x C x H x W or N x C*H*W expected)",
                          (long long)sd[0], (long long)sd[1], (long long)sd[2]);
  float *x = malloc(sizeof(float) * (size_t)batch * (size_t)sample);
  int64_t *labels = malloc(sizeof(int64_t) * (size_t)batch);
  size_t *own = idx ? NULL : malloc(sizeof(size_t) * (size_t)batch);
  pare_status st = x && labels && (idx || own)
                       ? PARE_OK
                       : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (size_t first = 0; first < n && st == PARE_OK; first += (size_t)batch) {
    size_t count = n - first < (size_t)batch ? n - first : (size_t)batch;
    for (size_t i = 0; own && i < count; i++) own[i] = first + i;
    st = pare_dataset_batch(ds, idx ? idx + first : own, count, x, labels);
    pare_tensor_view in;
    memset(&in, 0, sizeof in);
    in.dtype = PARE_DT_F32;
    in.rank = xv->rank;
    for (int d = 0; d < xv->rank; d++)
      in.dims[d] = d == 0 ? (int64_t)count : xv->dims[d] > 0 ? xv->dims[d] : 1;
    in.data = x;
    in.nbytes = sizeof(float) * count * (size_t)sample;
    pare_tensor_view y;
    if (st == PARE_OK && (st = pare_model_run(ctx, m, &in, 1, &y, 1)) != PARE_OK) {
      pare_error_set(err, st, "%s", pare_model_last_error(m));
      break;
    }
    int64_t k = y.rank >= 2 ? y.dims[y.rank - 1] : 0;
    if (y.dtype != PARE_DT_F32 || k < 1 ||
        (size_t)(y.nbytes / sizeof(float)) != count * (size_t)k) {
      pare_free(y.data);
      st =
          pare_error_set(err, PARE_ERR_INVALID_ARG, "the model's output is not N x classes scores");
      break;
    }
    const float *scores = y.data;
    for (size_t i = 0; i < count; i++) {
      int64_t best = 0;
      for (int64_t c = 1; c < k; c++)
        if (scores[i * (size_t)k + (size_t)c] > scores[i * (size_t)k + (size_t)best]) best = c;
      *correct += best == labels[i];
      if (confusion && labels[i] < classes && best < classes)
        confusion[labels[i] * classes + best]++;
    }
    pare_free(y.data);
    if (progress) progress(first + count, n, *correct, user);
  }
  free(x);
  free(labels);
  free(own);
  m->evaluating = was_evaluating;
  return st;
}

pare_status pare_model_evaluate(pare_context *ctx, pare_model *m, const char *dataset,
                                const char *split, size_t limit, int batch,
                                pare_eval_progress_fn progress, void *user, pare_eval_result *out,
                                char *error, size_t error_size) {
  if (out) memset(out, 0, sizeof *out);
  if (!m || !out) return PARE_ERR_INVALID_ARG;
  pare_dataset *ds = NULL;
  pare_error err = {{0}};
  char msg[512];
  pare_status st = pare_dataset_open(dataset ? dataset : "fashion-mnist", split ? split : "test",
                                     &ds, msg, sizeof msg);
  if (st != PARE_OK) pare_error_set(&err, st, "%s", msg);
  int64_t sd[3];
  int classes = 0;
  if (st == PARE_OK) pare_dataset_info(ds, sd, &classes);
  size_t total = ds ? pare_dataset_count(ds) : 0, correct = 0;
  if (limit && limit < total) total = limit;
  int64_t *confusion =
      st == PARE_OK ? calloc((size_t)classes * (size_t)classes + 1, sizeof(int64_t)) : NULL;
  if (st == PARE_OK && !confusion) st = pare_error_set(&err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK)
    st =
        pare_accuracy_on(ctx, m, ds, NULL, total, batch, confusion, &correct, progress, user, &err);
  pare_dataset_destroy(ds);
  if (st != PARE_OK) {
    free(confusion);
    if (error && error_size) snprintf(error, error_size, "%s", err.text);
    return st;
  }
  out->samples = total;
  out->correct = correct;
  out->accuracy = total ? (double)correct / (double)total : 0.0;
  out->classes = classes;
  out->confusion = confusion;
  return PARE_OK;
}
