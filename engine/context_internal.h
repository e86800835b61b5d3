/* The context behind the public pare_context handle. */
#ifndef PARE_ENGINE_CONTEXT_INTERNAL_H
#define PARE_ENGINE_CONTEXT_INTERNAL_H

#include "engine/core/core.h"

#ifdef PARE_HAVE_OPENCL
#include "host/runtime.h"
#else
typedef struct pare_cl_runtime pare_cl_runtime;
#endif

struct pare_context {
  pare_backend backend; /* PARE_BACKEND_OPENCL or PARE_BACKEND_REFERENCE, never AUTO */
  pare_backend requested;
  pare_cl_runtime *rt; /* NULL for the reference backend */
  int no_fuse;         /* pare_context_options.no_fuse */
  pare_error error;
};

/* Moves a context that was on OpenCL onto the reference backend after an
 * OpenCL failure (AUTO contexts only), saying so once; returns 1 if moved. */
int pare_context_fall_back(pare_context *ctx, const char *what);

#endif
