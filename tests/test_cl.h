/* The OpenCL runtime shared by the kernel tests: one per test program,
 * opened by the group setup (no program cache, so builds are exercised). */
#ifndef PARE_TEST_CL_H
#define PARE_TEST_CL_H

#include <stdio.h>

#include "host/runtime.h"

static pare_cl_runtime *rt;

static int test_cl_setup(void **state) {
  (void)state;
  pare_error err;
  pare_cl_runtime_options opt = {0};
  opt.no_cache = 1;
  if (pare_cl_runtime_create(&opt, &rt, &err) != PARE_OK) {
    fprintf(stderr, "no OpenCL device: %s\n", err.text);
    return -1;
  }
  return 0;
}

static int test_cl_teardown(void **state) {
  (void)state;
  pare_cl_runtime_destroy(rt);
  return 0;
}

#endif
