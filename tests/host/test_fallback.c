/* With no OpenCL platform (the ctest runs this with OCL_ICD_VENDORS set to
 * an empty folder), pare says once that it falls back to the reference
 * backend, and its results equal the reference. */
#include <string.h>

#include "engine/ref/ref.h"
#include "pare/pare.h"
#include "tests/test_util.h"

static int fallback_messages;
static char last_message[1024];

static void capture(pare_log_level level, const char *message, void *user) {
  (void)user;
  if (level == PARE_LOG_WARN && strstr(message, "reference backend")) {
    fallback_messages++;
    snprintf(last_message, sizeof last_message, "%s", message);
  }
}

static void test_falls_back_once(void **state) {
  (void)state;
  pare_log_set(capture, NULL, PARE_LOG_WARN);
  for (int i = 0; i < 3; i++) {
    pare_context *ctx = NULL;
    assert_int_equal(pare_context_create(NULL, &ctx), PARE_OK);
    assert_int_equal(pare_context_backend(ctx), PARE_BACKEND_REFERENCE);
    pare_device_info info;
    assert_int_equal(pare_context_device(ctx, &info), PARE_ERR_NO_DEVICE);

    test_rng r = {7 + (uint64_t)i};
    float a[13 * 7], b[7 * 11], c[13 * 11], want[13 * 11];
    test_fill(&r, a, 13 * 7, -2, 2);
    test_fill(&r, b, 7 * 11, -2, 2);
    pare_gemm_desc d = {0, 0, 13, 11, 7, 0, 0, 0, 1.0f, 0.0f};
    assert_int_equal(pare_gemm_f32(ctx, &d, a, b, c, NULL), PARE_OK);
    pare_ref_gemm_f32(0, 0, 13, 11, 7, 1.0f, a, 7, b, 11, 0.0f, want, 11, NULL);
    assert_memory_equal(c, want, sizeof c);
    pare_context_destroy(ctx);
  }
  assert_int_equal(fallback_messages, 1);
  assert_non_null(strstr(last_message, "no OpenCL platform"));
  pare_log_set(NULL, NULL, PARE_LOG_WARN);
}

/* Asking for OpenCL explicitly fails cleanly, with a reason. */
static void test_opencl_required_fails_cleanly(void **state) {
  (void)state;
  pare_context_options opt = {0};
  opt.backend = PARE_BACKEND_OPENCL;
  pare_context *ctx = NULL;
  assert_int_equal(pare_context_create(&opt, &ctx), PARE_ERR_NO_DEVICE);
  assert_non_null(ctx);
  assert_true(strlen(pare_context_last_error(ctx)) > 0);
  pare_context_destroy(ctx);

  size_t count = 99;
  char err[256];
  assert_int_equal(pare_devices_list(NULL, 0, &count, err, sizeof err), PARE_ERR_NO_DEVICE);
  assert_int_equal(count, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_falls_back_once),
      cmocka_unit_test(test_opencl_required_fails_cleanly),
  };
  return cmocka_run_group_tests_name("fallback", tests, NULL, NULL);
}
