/* The dlopen loader (used on Android) tested on Linux by opening the ICD
 * loader through it, and its errors for libraries that are not there. */
#include <dlfcn.h>
#include <string.h>

#include "host/cl_api.h"
#include "tests/test_util.h"

static void test_dlopen_icd_loader(void **state) {
  (void)state;
  pare_cl_api api;
  void *handle = NULL;
  pare_error err;
  assert_int_equal(pare_cl_load_library("libOpenCL.so.1", &api, &handle, &err), PARE_OK);
  assert_non_null(handle);
  cl_uint n = 0;
  assert_int_equal(api.clGetPlatformIDs(0, NULL, &n), CL_SUCCESS);
  assert_true(n >= 1);
  cl_platform_id p;
  assert_int_equal(api.clGetPlatformIDs(1, &p, NULL), CL_SUCCESS);
  char name[128] = "";
  assert_int_equal(api.clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof name, name, NULL), CL_SUCCESS);
  assert_true(strlen(name) > 0);
  dlclose(handle);
}

static void test_search_order_finds_library(void **state) {
  (void)state;
  /* PARE_OPENCL_LIBRARY is unset here: the candidate list must reach the
   * ICD loader by its plain name. */
  pare_cl_api api;
  void *handle = NULL;
  pare_error err;
  assert_int_equal(pare_cl_load_library(NULL, &api, &handle, &err), PARE_OK);
  assert_true(strstr(api.source, "libOpenCL") != NULL);
  dlclose(handle);
  int has_mali = 0, has_pixel = 0;
  for (int i = 0; pare_cl_library_candidates[i]; i++) {
    has_mali |= strstr(pare_cl_library_candidates[i], "libGLES_mali.so") != NULL;
    has_pixel |= strstr(pare_cl_library_candidates[i], "libOpenCL-pixel.so") != NULL;
  }
  assert_true(has_mali && has_pixel);
}

static void test_missing_library_is_an_error(void **state) {
  (void)state;
  pare_cl_api api;
  void *handle = (void *)1;
  pare_error err;
  assert_int_equal(pare_cl_load_library("/nonexistent/libOpenCL.so", &api, &handle, &err),
                   PARE_ERR_NO_DEVICE);
  assert_null(handle);
  assert_non_null(strstr(err.text, "/nonexistent/libOpenCL.so"));
  /* A library that exists but is not OpenCL names the missing symbol. */
  assert_int_equal(pare_cl_load_library("libm.so.6", &api, &handle, &err), PARE_ERR_NO_DEVICE);
  assert_non_null(strstr(err.text, "clGetPlatformIDs"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_dlopen_icd_loader),
      cmocka_unit_test(test_search_order_finds_library),
      cmocka_unit_test(test_missing_library_is_an_error),
  };
  return cmocka_run_group_tests_name("cl_loader", tests, NULL, NULL);
}
