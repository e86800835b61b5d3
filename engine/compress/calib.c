/* Calibration runs (calib.h). */
#include "engine/compress/calib.h"

#include <stdlib.h>
#include <string.h>

enum { CALIB_BATCH = 200 };

pare_status pare_calib_run(const pare_graph *g, const char *dataset, int64_t images,
                           const char *what, pare_calib_visit visit, void *user, pare_error *err) {
  if (g->n_inputs != 1)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: the model needs one input", what);
  pare_dataset *ds = NULL;
  char msg[512];
  pare_status st =
      pare_dataset_open(dataset ? dataset : "fashion-mnist", "train", &ds, msg, sizeof msg);
  if (st != PARE_OK) return pare_error_set(err, st, "%s: %s", what, msg);
  int64_t sd[3];
  int classes;
  pare_dataset_info(ds, sd, &classes);
  size_t total = pare_dataset_count(ds), n = (size_t)images < total ? (size_t)images : total;
  int64_t sample = sd[0] * sd[1] * sd[2];
  float *x = malloc(sizeof(float) * CALIB_BATCH * (size_t)sample);
  size_t idx[CALIB_BATCH];
  if (!x) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  const pare_value *xv = &g->values[g->inputs[0]];
  for (size_t first = 0; first < n && st == PARE_OK; first += CALIB_BATCH) {
    size_t count = n - first < CALIB_BATCH ? n - first : CALIB_BATCH;
    for (size_t i = 0; i < count; i++) idx[i] = (first + i) * (total / n);
    st = pare_dataset_batch(ds, idx, count, x, NULL);
    pare_tensor in;
    memset(&in, 0, sizeof in);
    in.dtype = PARE_DT_F32;
    in.rank = xv->rank;
    for (int d = 0; d < xv->rank; d++) in.dims[d] = xv->dims[d] > 0 ? xv->dims[d] : 1;
    in.dims[0] = (int64_t)count;
    in.data = x;
    in.nbytes = sizeof(float) * count * (size_t)sample;
    if (st == PARE_OK && pare_shape_numel(in.rank, in.dims) != (int64_t)count * sample)
      st = pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "%s: the model's input does not hold one image per sample", what);
    pare_plan *p = NULL;
    pare_tensor out;
    memset(&out, 0, sizeof out);
    if (st == PARE_OK) st = pare_plan_create(g, &in, 1, &p, err);
    if (st == PARE_OK) st = pare_plan_run_ref(p, &in, 1, &out, err);
    if (st == PARE_OK) st = visit(user, p, x, count, err);
    pare_tensor_release(&out);
    pare_plan_destroy(p);
  }
  free(x);
  pare_dataset_destroy(ds);
  return st;
}

const float *pare_calib_value(const pare_plan *p, int v, const float *x, int64_t *count) {
  const pare_graph *g = p->graph;
  const pare_tensor *t = &p->values[v];
  if (v == g->inputs[0]) {
    *count = pare_tensor_numel(t);
    return x;
  }
  *count = pare_tensor_numel(t);
  return t->dtype == PARE_DT_F32 ? t->data : NULL;
}

pare_status pare_calib_sample(void *user, const pare_plan *p, const float *x, size_t count,
                              pare_error *err) {
  (void)count;
  (void)err;
  pare_calib_sampling *sp = user;
  for (int k = 0; k < sp->n; k++) {
    pare_calib_samples *s = &sp->items[k];
    int64_t elems;
    const float *a = pare_calib_value(p, s->value, x, &elems);
    if (!a || elems <= 0) continue;
    for (int64_t i = 0; i < elems; i++) {
      if (a[i] < s->min) s->min = a[i];
      if (a[i] > s->max) s->max = a[i];
    }
    size_t left = PARE_CALIB_SAMPLES - s->n, step = (size_t)elems / (left ? left : 1);
    if (step < 1) step = 1;
    for (int64_t i = 0; i < elems && s->n < PARE_CALIB_SAMPLES; i += (int64_t)step) {
      s->zeros += a[i] == 0.0f;
      s->samples[s->n++] = a[i];
    }
  }
  return PARE_OK;
}
