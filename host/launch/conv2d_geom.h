/* Geometry shared by the forward and backward convolution launchers:
 * checking a pare_conv2d_f32_args and describing it in messages. */
#ifndef PARE_HOST_LAUNCH_CONV2D_GEOM_H
#define PARE_HOST_LAUNCH_CONV2D_GEOM_H

#include "host/launch/conv2d_f32.h"

/* Checks groups, window, sizes (every size below 2^20 but the batch,
 * tensors below 2^31 elements) and that oh/ow match the window; errors
 * start with "<kernel> (<shape>): ". The activation is the caller's to check. */
pare_status pare_conv2d_check(const pare_conv2d_f32_args *a, const char *kernel, const char *shape,
                              pare_error *err);

/* How a convolution (forward or backward) is carried out. The implicit
 * GEMM (patches read in place from a zero-bordered copy of the input)
 * exists forward only, for stride 1; so does Winograd F(2x2, 3x3), for 3x3
 * windows of stride 1, dilation 1 and one group. */
enum {
  PARE_CONV2D_DIRECT,
  PARE_CONV2D_GEMM_1X1,
  PARE_CONV2D_IM2COL,
  PARE_CONV2D_IMPLICIT,
  PARE_CONV2D_WINOGRAD
};

typedef struct pare_conv2d_plan {
  int path;
  size_t cg, mg, kred, p; /* channels per group, reduction length, OH·OW */
  size_t nb;              /* images per im2col or implicit chunk */
  size_t col_elems;       /* patch matrix (implicit: bordered input) of one chunk */
  size_t chunk_elems;     /* [M][nb·P] buffer of a chunk when nb > 1, else 0 */
  int vw, rows, wg;       /* rows 0: whole planes, split while work-items are few */
  /* Implicit GEMM: tile of tm channels x tr rows x vw columns, rb x cb
   * tiles per plane, bordered planes of hp x wp. */
  int tm, tr;
  size_t rb, cb, hp, wp;
  /* Winograd: th x tw tiles of 2x2 outputs per plane; the scratch holds
   * the transformed weights U[16][M][C], then per chunk the transformed
   * input V[16][C][T] and the products P[16][M][T] (T = nb·th·tw). */
  size_t th, tw;
} pare_conv2d_plan;

/* The plan for a checked shape, from the "<stem>.*" tunables (tuned for
 * the shape, else the profile's; host/tuning.h): the tuned path, else
 * direct when few output channels per group (direct_max_mg) or a short
 * reduction (direct_max_k), a GEMM on the input for 1×1 stride-1 unpadded
 * convolutions, Winograd for 3×3 windows it takes when `implicit_ok` and
 * both channel counts reach the profile's `winograd` (0: never), the
 * implicit GEMM for other stride-1 windows when `implicit_ok` and the
 * profile's `implicit` allow it, else im2col; small images are batched up
 * to scratch_mb. */
void pare_conv2d_plan_make(pare_cl_runtime *rt, const char *stem, const pare_conv2d_f32_args *a,
                           int implicit_ok, pare_conv2d_plan *pl);
/* The same for a launch that pools its output (pool NULL: none): its
 * tunables are keyed by the shape with the pooling appended, since the
 * best path differs (the implicit GEMM and Winograd pool in their
 * epilogue, im2col needs a pass of its own). */
void pare_conv2d_plan_make_pooled(pare_cl_runtime *rt, const char *stem,
                                  const pare_conv2d_f32_args *a, int implicit_ok,
                                  const pare_conv2d_pool *pool, pare_conv2d_plan *pl);

/* 1 for a 1×1, stride-1, unpadded window (the input is the patch matrix). */
int pare_conv2d_is_1x1(const pare_conv2d_f32_args *a);
/* 1 for a window Winograd F(2×2, 3×3) computes: 3×3, stride 1, dilation
 * 1, one group. */
int pare_conv2d_winograd_fits(const pare_conv2d_f32_args *a);

/* The shape as the tuning database keys it ("n=..,c=..,h=..,w=..,m=..,
 * k=KHxKW,g=..,s=SHxSW,d=DHxDW,p=T,L,B,R"), and back (buffers NULL, oh/ow
 * computed; 0 when the text is not such a key or the window does not fit). */
void pare_conv2d_shape_key(const pare_conv2d_f32_args *a, char *buf, size_t size);
int pare_conv2d_shape_parse(const char *key, pare_conv2d_f32_args *a);
/* The key of a pooled launch: the shape's, then ",pool=K:KHxKW/SHxSW"
 * (K: PARE_CONV2D_POOL_MAX or _AVG) when pool is not NULL; and back (no
 * suffix: pool->kind 0). */
void pare_conv2d_pool_shape_key(const pare_conv2d_f32_args *a, const pare_conv2d_pool *pool,
                                char *buf, size_t size);
int pare_conv2d_pool_shape_parse(const char *key, pare_conv2d_f32_args *a, pare_conv2d_pool *pool);

/* "x NxCxHxW, w ..., y NxMxOHxOW" with `y_name` for the output's name. */
void pare_conv2d_shape_text(const pare_conv2d_f32_args *a, const char *y_name, char *buf,
                            size_t size);

#endif
