/* Calibration: a model run on the reference backend over images of a
 * dataset's training split, batch by batch, with a visitor that reads any
 * value of the run (layer inputs for activation statistics, second
 * moments, ...). Used by data-aware low rank, activation pruning and
 * quantization. */
#ifndef PARE_ENGINE_COMPRESS_CALIB_H
#define PARE_ENGINE_COMPRESS_CALIB_H

#include "engine/exec/exec.h"

/* After each batch: the plan holds every value of the run; x is the batch
 * fed to the graph input (the plan does not keep it), count its images. */
typedef pare_status (*pare_calib_visit)(void *user, const pare_plan *p, const float *x,
                                        size_t count, pare_error *err);

/* Runs g over `images` images of the dataset's training split (NULL:
 * fashion-mnist), spread over the whole split, and calls visit after each
 * batch. `what` starts error messages. */
pare_status pare_calib_run(const pare_graph *g, const char *dataset, int64_t images,
                           const char *what, pare_calib_visit visit, void *user, pare_error *err);

/* The data of value v after a run (the graph input is x) and its element
 * count; NULL when it is not fp32. */
const float *pare_calib_value(const pare_plan *p, int v, const float *x, int64_t *count);

/* Samples of values of a run: every value's exact extremes and up to
 * PARE_CALIB_SAMPLES of its elements taken at an even stride over each
 * batch (so every image contributes), zeros counted among them. */
enum { PARE_CALIB_SAMPLES = 1 << 20 };

typedef struct pare_calib_samples {
  int value;      /* the graph value watched */
  float *samples; /* PARE_CALIB_SAMPLES floats (allocated by the caller) */
  size_t n, zeros;
  float min, max; /* start at +inf / -inf */
} pare_calib_samples;

typedef struct pare_calib_sampling {
  pare_calib_samples *items;
  int n;
} pare_calib_sampling;

/* A pare_calib_visit over a pare_calib_sampling. */
pare_status pare_calib_sample(void *user, const pare_plan *p, const float *x, size_t count,
                              pare_error *err);

#endif
