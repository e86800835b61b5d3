/* The OpenCL sources embedded into libpare at build time (see kernels.def). */
#ifndef PARE_KERNEL_SOURCES_H
#define PARE_KERNEL_SOURCES_H

#include <stddef.h>

typedef struct pare_kernel_source {
  const char *name; /* stem, e.g. "gemm_f32"; "common" is the shared prelude */
  const char *text;
  size_t length;
} pare_kernel_source;

typedef enum pare_kernel_id {
#define PARE_KERNEL(stem, summary) PARE_KERNEL_##stem,
#include "kernels/kernels.def"
#undef PARE_KERNEL
  PARE_KERNEL_COUNT
} pare_kernel_id;

/* Index PARE_KERNEL_COUNT holds kernels/common.h, prepended to every program. */
extern const pare_kernel_source pare_kernel_sources[];
extern const int pare_kernel_source_count;

#endif
