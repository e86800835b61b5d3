/* Contexts: the choice of backend, and the fall-back to the reference
 * backend when OpenCL is missing or fails. */
#include <stdlib.h>
#include <string.h>

#include "engine/context_internal.h"

pare_status pare_context_create(const pare_context_options *options, pare_context **out) {
  if (!out) return PARE_ERR_INVALID_ARG;
  *out = NULL;
  pare_context_options none = {0};
  if (!options) options = &none;
  if (options->backend != PARE_BACKEND_AUTO && options->backend != PARE_BACKEND_OPENCL &&
      options->backend != PARE_BACKEND_REFERENCE)
    return PARE_ERR_INVALID_ARG;
  pare_context *ctx = calloc(1, sizeof *ctx);
  if (!ctx) return PARE_ERR_NO_MEMORY;
  ctx->requested = options->backend;
  ctx->no_fuse = options->no_fuse != 0;
  ctx->backend = PARE_BACKEND_REFERENCE;
  if (options->backend == PARE_BACKEND_REFERENCE) {
    *out = ctx;
    return PARE_OK;
  }
#ifdef PARE_HAVE_OPENCL
  pare_cl_runtime_options ro = {options->device,   options->profile, options->cache_dir,
                                options->no_cache, options->no_tune, options->one_queue};
  pare_status st = pare_cl_runtime_create(&ro, &ctx->rt, &ctx->error);
  if (st == PARE_OK) {
    ctx->backend = PARE_BACKEND_OPENCL;
    *out = ctx;
    return PARE_OK;
  }
  /* A device or profile the user named that does not exist is their error,
   * not a reason to fall back silently. */
  if (options->backend == PARE_BACKEND_OPENCL || st == PARE_ERR_INVALID_ARG) {
    *out = ctx; /* keeps the error text for pare_context_last_error */
    ctx->backend = PARE_BACKEND_REFERENCE;
    return st;
  }
  pare_log_once("fallback", PARE_LOG_WARN, "%s; falling back to the reference backend (CPU)",
                ctx->error.text);
  pare_error_clear(&ctx->error);
#else
  if (options->backend == PARE_BACKEND_OPENCL) {
    pare_error_set(&ctx->error, PARE_ERR_NO_DEVICE,
                   "this libpare was built without OpenCL (PARE_OPENCL=OFF)");
    *out = ctx;
    return PARE_ERR_NO_DEVICE;
  }
#endif
  *out = ctx;
  return PARE_OK;
}

void pare_context_destroy(pare_context *ctx) {
  if (!ctx) return;
#ifdef PARE_HAVE_OPENCL
  pare_cl_runtime_destroy(ctx->rt);
#endif
  free(ctx);
}

pare_backend pare_context_backend(const pare_context *ctx) {
  return ctx ? ctx->backend : PARE_BACKEND_REFERENCE;
}

pare_status pare_context_device(const pare_context *ctx, pare_device_info *info) {
  if (!ctx || !info) return PARE_ERR_INVALID_ARG;
#ifdef PARE_HAVE_OPENCL
  if (ctx->rt) {
    *info = ctx->rt->info;
    return PARE_OK;
  }
#endif
  memset(info, 0, sizeof *info);
  return PARE_ERR_NO_DEVICE;
}

const char *pare_context_last_error(const pare_context *ctx) {
  return ctx ? ctx->error.text : "no context";
}

int pare_context_fall_back(pare_context *ctx, const char *what) {
  if (ctx->requested != PARE_BACKEND_AUTO || ctx->backend != PARE_BACKEND_OPENCL) return 0;
  pare_log_once("fallback-runtime", PARE_LOG_WARN,
                "%s failed on OpenCL (%s); falling back to the reference backend (CPU)", what,
                ctx->error.text);
#ifdef PARE_HAVE_OPENCL
  pare_cl_runtime_destroy(ctx->rt);
#endif
  ctx->rt = NULL;
  ctx->backend = PARE_BACKEND_REFERENCE;
  return 1;
}
