/* Top-1 accuracy of a model on dataset samples: the one loop behind
 * pare_model_evaluate, the trainer's validation and the low-rank
 * sensitivity scan (model_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/context_internal.h"
#include "engine/model_internal.h"

/* What the loop counts, for the stream's callbacks too. */
typedef struct accuracy_run {
  const pare_dataset *ds;
  const size_t *idx;
  size_t *own;
  size_t n;
  int batch, classes;
  int64_t *labels, *confusion;
  size_t *correct;
  pare_eval_progress_fn progress;
  void *user;
} accuracy_run;

/* Samples first .. first+count of the run into x, their labels kept. */
static pare_status load_batch(accuracy_run *r, size_t first, size_t count, float *x) {
  for (size_t i = 0; r->own && i < count; i++) r->own[i] = first + i;
  return pare_dataset_batch(r->ds, r->idx ? r->idx + first : r->own, count, x, r->labels);
}

/* Top-1 of the scores y of the `count` samples from `first` against the
 * labels kept by load_batch. */
static pare_status count_batch(accuracy_run *r, size_t first, size_t count, const void *data,
                               pare_dtype dtype, int rank, const int64_t *dims, size_t nbytes,
                               pare_error *err) {
  int64_t k = rank >= 2 ? dims[rank - 1] : 0;
  if (dtype != PARE_DT_F32 || k < 1 || (size_t)(nbytes / sizeof(float)) != count * (size_t)k)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "the model's output is not N x classes scores");
  const float *scores = data;
  for (size_t i = 0; i < count; i++) {
    int64_t best = 0;
    for (int64_t c = 1; c < k; c++)
      if (scores[i * (size_t)k + (size_t)c] > scores[i * (size_t)k + (size_t)best]) best = c;
    *r->correct += best == r->labels[i];
    if (r->confusion && r->labels[i] < r->classes && best < r->classes)
      r->confusion[r->labels[i] * r->classes + best]++;
  }
  if (r->progress) r->progress(first + count, r->n, *r->correct, r->user);
  return PARE_OK;
}

/* The stream's callbacks: full batches only. Batch i's labels are loaded
 * when its input is, one batch ahead of its scores, so two sets are kept. */
typedef struct accuracy_stream {
  accuracy_run *run;
  int64_t *labels[2];
  pare_error *err;
  int failed; /* a batch could not be loaded or counted (not the device's doing) */
} accuracy_stream;

static pare_status stream_fill(void *user, size_t i, float *x) {
  accuracy_stream *a = user;
  a->run->labels = a->labels[i % 2];
  pare_status st = load_batch(a->run, i * (size_t)a->run->batch, (size_t)a->run->batch, x);
  if (st != PARE_OK) {
    a->failed = 1;
    pare_error_set(a->err, st, "reading batch %zu of the dataset failed", i);
  }
  return st;
}

static pare_status stream_take(void *user, size_t i, const pare_tensor *y) {
  accuracy_stream *a = user;
  a->run->labels = a->labels[i % 2];
  pare_status st = count_batch(a->run, i * (size_t)a->run->batch, (size_t)a->run->batch, y->data,
                               y->dtype, y->rank, y->dims, y->nbytes, a->err);
  a->failed |= st != PARE_OK;
  return st;
}

pare_status pare_accuracy_on(pare_context *ctx, pare_model *m, const pare_dataset *ds,
                             const size_t *idx, size_t n, int batch, int64_t *confusion,
                             size_t *correct, pare_eval_progress_fn progress, void *user,
                             pare_error *err) {
  *correct = 0;
  if (batch <= 0) batch = 64;
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
  /* Candidates of pare auto and each epoch's validation are evaluated
   * once: no program is built for one version of their weights. */
  int was_evaluating = m->evaluating;
  m->evaluating = 1;
  float *x = malloc(sizeof(float) * (size_t)batch * (size_t)sample);
  int64_t *labels = malloc(sizeof(int64_t) * (size_t)batch * 2);
  size_t *own = idx ? NULL : malloc(sizeof(size_t) * (size_t)batch);
  pare_status st = x && labels && (idx || own)
                       ? PARE_OK
                       : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  accuracy_run r = {ds, idx, own, n, batch, classes, labels, confusion, correct, progress, user};
  /* Whole batches as a stream where the backend can overlap them (the
   * next batch made and sent while one computes), the rest one by one. */
  size_t first = 0, whole = n / (size_t)batch, done = 0;
  if (st == PARE_OK && whole >= 3) {
    pare_tensor shape;
    memset(&shape, 0, sizeof shape);
    shape.dtype = PARE_DT_F32;
    shape.rank = xv->rank;
    for (int d = 0; d < xv->rank; d++)
      shape.dims[d] = d == 0 ? batch : xv->dims[d] > 0 ? xv->dims[d] : 1;
    shape.nbytes = sizeof(float) * (size_t)batch * (size_t)sample;
    pare_error e = {0};
    accuracy_stream a = {&r, {labels, labels + batch}, &e, 0};
    pare_status ss =
        pare_model_run_stream(ctx, m, &shape, whole, stream_fill, stream_take, &a, &done, &e);
    first = done * (size_t)batch;
    r.labels = labels;
    /* A device failure moves an AUTO context to the reference backend, and
     * the remaining batches run there one by one. */
    if (ss != PARE_OK && ss != PARE_ERR_UNSUPPORTED &&
        (a.failed || !pare_context_fall_back(ctx, "running the model"))) {
      pare_error_set(err, ss, "%s", e.text);
      st = ss;
    }
  }
  for (; first < n && st == PARE_OK; first += (size_t)batch) {
    size_t count = n - first < (size_t)batch ? n - first : (size_t)batch;
    st = load_batch(&r, first, count, x);
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
    if (st == PARE_OK) {
      st = count_batch(&r, first, count, y.data, y.dtype, y.rank, y.dims, y.nbytes, err);
      pare_free(y.data);
    }
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
