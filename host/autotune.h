/* The auto-tuner: for a kernel launch shape recorded from a run of a model
 * (pare_tuning_recorded), times candidate parameters on the device with
 * scratch buffers of that shape, checks every candidate's output against
 * the untuned launch's, and stores the fastest parameters in the tuning
 * database (host/tuning.h), where the launchers find them.
 *
 * Kernels and parameters searched:
 *   gemm_f32   tm, vw, nv (register tile), wg0, wg1 (work-group)
 *   conv2d_f32 path (direct, 1×1 GEMM, im2col + GEMM, implicit GEMM,
 *              Winograd); then vw, rows, wg for the direct path; vw, tm,
 *              tr, wg for the implicit GEMM; vw for Winograd; scratch_mb
 *              (images per im2col chunk) for im2col
 * by coordinate descent from the untuned values: each parameter in turn
 * takes each of its candidate values with the others held, and a change is
 * kept when it is at least 3% faster than the best so far (the two
 * launched alternately, `reps` pairs, the median of the pairs' ratios). The
 * winner is then timed against the untuned values once more, launch for
 * launch in alternation (2·reps + 1 each), and stored only if it is still
 * 3% faster there; those medians are the figures reported. */
#ifndef PARE_HOST_AUTOTUNE_H
#define PARE_HOST_AUTOTUNE_H

#include "host/runtime.h"

typedef struct pare_autotune_result {
  char kernel[32];   /* "gemm_f32", "conv2d_f32" */
  char shape[160];   /* the shape key */
  char params[128];  /* what was chosen, "tm=6,vw=16,nv=2,wg0=1,wg1=1" */
  double untuned_ms; /* median of one launch without tuned values */
  double tuned_ms;   /* with the chosen ones, alternating with the untuned
                      * (== untuned_ms when nothing won) */
  int tried;         /* candidates timed */
  int rejected;      /* candidates that failed to launch or disagreed */
} pare_autotune_result;

/* 1 when `recorded` ("<stem>@<shape>") names a kernel the tuner searches. */
int pare_autotune_knows(const char *recorded);

/* Tunes one recorded shape: stops trying candidates once pare_now()
 * passes `deadline` (seconds; 0: no limit), `reps` timed launches per
 * candidate (< 1: 5). Stores the chosen values (pare_tuning_put) when
 * they beat the untuned ones, and removes the shape's earlier tuned values
 * otherwise. */
pare_status pare_autotune_shape(pare_cl_runtime *rt, const char *recorded, double deadline,
                                int reps, pare_autotune_result *res, pare_error *err);

#endif
