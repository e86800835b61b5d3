/* pare_model_evaluate: top-1 accuracy and the confusion matrix of a model
 * on a dataset split (include/pare/pare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/model_internal.h"

pare_status pare_model_evaluate(pare_context *ctx, pare_model *m, const char *dataset,
                                const char *split, size_t limit, int batch,
                                pare_eval_progress_fn progress, void *user, pare_eval_result *out,
                                char *error, size_t error_size) {
  if (out) memset(out, 0, sizeof *out);
  if (!m || !out) return PARE_ERR_INVALID_ARG;
  if (batch <= 0) batch = 64;
  pare_dataset *ds = NULL;
  char msg[1024] = "";
  pare_status st = pare_dataset_open(dataset ? dataset : "fashion-mnist", split ? split : "test",
                                     &ds, msg, sizeof msg);
  int64_t sdims[3] = {0, 0, 0}, sample = 0, model_sample = 1;
  int classes = 0;
  pare_tensor_view info;
  memset(&info, 0, sizeof info);
  if (st == PARE_OK) {
    pare_dataset_info(ds, sdims, &classes);
    sample = sdims[0] * sdims[1] * sdims[2];
    pare_model_input_info(m, 0, &info);
    for (int d = 1; d < info.rank; d++) model_sample *= info.dims[d] > 0 ? info.dims[d] : 1;
    if (pare_model_input_count(m) != 1 || info.rank < 2 || model_sample != sample) {
      snprintf(msg, sizeof msg,
               "the model's input does not take the dataset's %lldx%lldx%lld images (one input "
               "of N x C x H x W or N x C*H*W expected)",
               (long long)sdims[0], (long long)sdims[1], (long long)sdims[2]);
      st = PARE_ERR_INVALID_ARG;
    }
  }
  size_t total = ds ? pare_dataset_count(ds) : 0;
  if (limit && limit < total) total = limit;
  float *x = st == PARE_OK ? malloc(sizeof(float) * (size_t)batch * (size_t)sample) : NULL;
  int64_t *labels = st == PARE_OK ? malloc(sizeof(int64_t) * (size_t)batch) : NULL;
  size_t *idx = st == PARE_OK ? malloc(sizeof(size_t) * (size_t)batch) : NULL;
  int64_t *confusion =
      st == PARE_OK ? calloc((size_t)classes * (size_t)classes + 1, sizeof(int64_t)) : NULL;
  if (st == PARE_OK && (!x || !labels || !idx || !confusion)) {
    snprintf(msg, sizeof msg, "out of memory");
    st = PARE_ERR_NO_MEMORY;
  }
  size_t correct = 0;
  for (size_t first = 0; first < total && st == PARE_OK; first += (size_t)batch) {
    size_t count = total - first < (size_t)batch ? total - first : (size_t)batch;
    for (size_t i = 0; i < count; i++) idx[i] = first + i;
    st = pare_dataset_batch(ds, idx, count, x, labels);
    pare_tensor_view in;
    memset(&in, 0, sizeof in);
    in.dtype = PARE_DT_F32;
    in.rank = info.rank;
    in.dims[0] = (int64_t)count;
    for (int d = 1; d < info.rank; d++) in.dims[d] = info.dims[d] > 0 ? info.dims[d] : 1;
    in.data = x;
    in.nbytes = sizeof(float) * count * (size_t)sample;
    pare_tensor_view y;
    if (st == PARE_OK && (st = pare_model_run(ctx, m, &in, 1, &y, 1)) != PARE_OK) {
      snprintf(msg, sizeof msg, "%s", pare_model_last_error(m));
      break;
    }
    int64_t k = y.rank >= 2 ? y.dims[y.rank - 1] : 0;
    if (y.dtype != PARE_DT_F32 || k < 1 ||
        (size_t)(y.nbytes / sizeof(float)) != count * (size_t)k) {
      pare_free(y.data);
      snprintf(msg, sizeof msg, "the model's output is not N x classes scores");
      st = PARE_ERR_INVALID_ARG;
      break;
    }
    const float *scores = y.data;
    for (size_t i = 0; i < count; i++) {
      int64_t best = 0;
      for (int64_t c = 1; c < k; c++)
        if (scores[i * (size_t)k + (size_t)c] > scores[i * (size_t)k + (size_t)best]) best = c;
      correct += best == labels[i];
      if (labels[i] < classes && best < classes) confusion[labels[i] * classes + best]++;
    }
    pare_free(y.data);
    if (progress) progress(first + count, total, correct, user);
  }
  free(x);
  free(labels);
  free(idx);
  pare_dataset_destroy(ds);
  if (st != PARE_OK) {
    free(confusion);
    if (error && error_size) snprintf(error, error_size, "%s", msg);
    return st;
  }
  out->samples = total;
  out->correct = correct;
  out->accuracy = total ? (double)correct / (double)total : 0.0;
  out->classes = classes;
  out->confusion = confusion;
  return PARE_OK;
}
