/* Status codes and the last-error slot of handles. */
#include <stdio.h>

#include "engine/core/core.h"

const char *pare_status_str(pare_status status) {
  switch (status) {
  case PARE_OK: return "ok";
  case PARE_ERR_INVALID_ARG: return "invalid argument";
  case PARE_ERR_NO_MEMORY: return "out of memory";
  case PARE_ERR_IO: return "input/output error";
  case PARE_ERR_FORMAT: return "malformed input";
  case PARE_ERR_UNSUPPORTED: return "unsupported";
  case PARE_ERR_NO_DEVICE: return "no usable OpenCL device";
  case PARE_ERR_OPENCL: return "OpenCL error";
  case PARE_ERR_BUILD: return "OpenCL program build failed";
  case PARE_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

pare_status pare_error_set(pare_error *err, pare_status status, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
  }
  return status;
}

void pare_error_clear(pare_error *err) {
  if (err) err->text[0] = '\0';
}
