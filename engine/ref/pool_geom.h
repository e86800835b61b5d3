/* Pooling geometry shared by the forward (pool.c) and backward
 * (grad_pool.c) reference pools: the problem lifted to 3 spatial dims. */
#ifndef PARE_ENGINE_REF_POOL_GEOM_H
#define PARE_ENGINE_REF_POOL_GEOM_H

#include "engine/ref/ops.h"

typedef struct pare_ref_pool_geom {
  int64_t planes;                                        /* N·C */
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3]; /* pe: the end pads */
} pare_ref_pool_geom;

/* Validates the problem and lifts it, size-1 axes in front. */
int pare_ref_pool_geom_of(const pare_ref_pool_params *p, const int64_t *x_dims,
                          pare_ref_pool_geom *g);

/* AveragePool's divisor for the window at output index o[3]: the taps
 * inside the input, or with count_include_pad those inside input + pads. */
int64_t pare_ref_pool_divisor(const pare_ref_pool_geom *g, const int64_t *o, int count_include_pad);

#endif
