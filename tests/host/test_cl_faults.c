/* OpenCL fault injection: the k-th call of clBuildProgram, clCreateBuffer,
 * clEnqueueNDRangeKernel, clEnqueueReadBuffer or clFinish fails (for every
 * k until a run meets none) under a model run on an AUTO context. Each run
 * must succeed: on the device when no fault came, else on the reference
 * backend with the reference's exact outputs; and the context keeps
 * working afterwards. The same for an accuracy pass, whose whole batches
 * run as a stream with two batches in flight: it must count what the
 * reference counts. The faults go in through the context's OpenCL
 * function table (host/cl_api.h). */
#include <string.h>

#include "engine/context_internal.h"
#include "host/runtime.h"
#include "pare/pare.h"
#include "tests/test_util.h"

static pare_cl_api real, faulty;
static int armed_kind = -1;
static long fail_at, calls, injected;

enum { BUILD, BUFFER, KERNEL, READ, FINISH, KINDS };
static const char *kind_names[KINDS] = {"clBuildProgram", "clCreateBuffer",
                                        "clEnqueueNDRangeKernel", "clEnqueueReadBuffer",
                                        "clFinish"};

static int hit(int kind) {
  if (armed_kind != kind) return 0;
  if (++calls != fail_at) return 0;
  injected = 1;
  return 1;
}

static cl_int CL_API_CALL f_build(cl_program p, cl_uint n, const cl_device_id *d, const char *o,
                                  void(CL_CALLBACK *cb)(cl_program, void *), void *u) {
  return hit(BUILD) ? CL_BUILD_PROGRAM_FAILURE : real.clBuildProgram(p, n, d, o, cb, u);
}
static cl_mem CL_API_CALL f_buffer(cl_context c, cl_mem_flags f, size_t s, void *h, cl_int *e) {
  if (hit(BUFFER)) {
    if (e) *e = CL_MEM_OBJECT_ALLOCATION_FAILURE;
    return NULL;
  }
  return real.clCreateBuffer(c, f, s, h, e);
}
static cl_int CL_API_CALL f_kernel(cl_command_queue q, cl_kernel k, cl_uint dim, const size_t *o,
                                   const size_t *g, const size_t *l, cl_uint n, const cl_event *w,
                                   cl_event *e) {
  return hit(KERNEL) ? CL_OUT_OF_RESOURCES
                     : real.clEnqueueNDRangeKernel(q, k, dim, o, g, l, n, w, e);
}
static cl_int CL_API_CALL f_read(cl_command_queue q, cl_mem b, cl_bool blk, size_t off, size_t s,
                                 void *p, cl_uint n, const cl_event *w, cl_event *e) {
  return hit(READ) ? CL_OUT_OF_RESOURCES : real.clEnqueueReadBuffer(q, b, blk, off, s, p, n, w, e);
}
static cl_int CL_API_CALL f_finish(cl_command_queue q) {
  return hit(FINISH) ? CL_OUT_OF_RESOURCES : real.clFinish(q);
}

/* A context on AUTO whose OpenCL calls go through the faulty table, armed
 * to fail the k-th call of `kind`; NULL (and skip) without a device. */
static pare_context *faulty_context(int kind, long k) {
  pare_context_options o = {0};
  o.backend = PARE_BACKEND_AUTO;
  o.no_cache = 1; /* programs are built, so builds can fail */
  pare_context *ctx = NULL;
  assert_int_equal(pare_context_create(&o, &ctx), PARE_OK);
  if (pare_context_backend(ctx) != PARE_BACKEND_OPENCL) { /* no device here */
    pare_context_destroy(ctx);
    return NULL;
  }
  real = *ctx->rt->cl;
  faulty = real;
  faulty.clBuildProgram = f_build;
  faulty.clCreateBuffer = f_buffer;
  faulty.clEnqueueNDRangeKernel = f_kernel;
  faulty.clEnqueueReadBuffer = f_read;
  faulty.clFinish = f_finish;
  ctx->rt->cl = &faulty;
  armed_kind = kind, fail_at = k, calls = 0, injected = 0;
  return ctx;
}

static int run(pare_context *ctx, pare_model *m, const float *x, float *y) {
  pare_tensor_view in = {NULL, PARE_DT_F32, 4, {2, 1, 28, 28}, (void *)x, sizeof(float) * 2 * 784},
                   out;
  if (pare_model_run(ctx, m, &in, 1, &out, 1) != PARE_OK) return 1;
  memcpy(y, out.data, sizeof(float) * 20);
  pare_free(out.data);
  return 0;
}

static void test_faults(void **state) {
  (void)state;
  pare_log_set(NULL, NULL, PARE_LOG_ERROR); /* the fallback warnings are expected */
  char err[256];
  pare_model *m = NULL;
  assert_int_equal(pare_model_create("simplecnn:4,8", 3, &m, err, sizeof err), PARE_OK);
  float x[2 * 784], want[20], got[20];
  test_rng rng = {5};
  test_fill(&rng, x, 2 * 784, 0, 1);
  pare_context_options ro = {0};
  ro.backend = PARE_BACKEND_REFERENCE;
  pare_context *ref = NULL;
  assert_int_equal(pare_context_create(&ro, &ref), PARE_OK);
  assert_int_equal(run(ref, m, x, want), 0);
  pare_context_destroy(ref);
  long total = 0;
  for (int kind = 0; kind < KINDS; kind++) {
    long faults = 0;
    for (long k = 1; k < 400; k++) {
      pare_context *ctx = faulty_context(kind, k);
      if (!ctx) {
        pare_model_destroy(m);
        skip();
      }
      pare_model *mk = NULL; /* a fresh model: no plan from an earlier run */
      assert_int_equal(pare_model_create("simplecnn:4,8", 3, &mk, err, sizeof err), PARE_OK);
      if (kind == FINISH) { /* profiling waits for every node: clFinish is called there */
        pare_tensor_view in = {NULL, PARE_DT_F32, 4, {2, 1, 28, 28}, x, sizeof x};
        pare_node_time *t = NULL;
        int nt = 0;
        assert_int_equal(pare_model_profile(ctx, mk, &in, 1, 1, &t, &nt), PARE_OK);
        pare_free(t);
      }
      assert_int_equal(run(ctx, mk, x, got), 0);
      armed_kind = -1;
      if (injected) {
        faults++;
        assert_int_equal(pare_context_backend(ctx), PARE_BACKEND_REFERENCE);
        assert_memory_equal(got, want, sizeof want); /* the reference's numbers */
      } else {
        for (int i = 0; i < 20; i++) assert_float_equal(got[i], want[i], 1e-4);
      }
      assert_int_equal(run(ctx, mk, x, got), 0); /* still usable */
      pare_model_destroy(mk);
      pare_context_destroy(ctx);
      if (!injected) break; /* k passed the last call of this kind */
    }
    printf("%-24s %ld faults injected, each run fell back with the reference's outputs\n",
           kind_names[kind], faults);
    assert_true(faults > 0);
    total += faults;
  }
  assert_true(total > 10);
  pare_model_destroy(m);
}

/* Accuracy passes of six whole batches (the stream) under the same faults:
 * each counts what the reference counts. */
static void test_stream_faults(void **state) {
  (void)state;
  pare_log_set(NULL, NULL, PARE_LOG_ERROR);
  char err[256];
  pare_dataset *ds;
  if (pare_dataset_open("fashion-mnist", "test", &ds, err, sizeof err) != PARE_OK)
    skip(); /* no Fashion-MNIST here */
  pare_dataset_destroy(ds);
  pare_context_options ro = {0};
  ro.backend = PARE_BACKEND_REFERENCE;
  pare_context *ref = NULL;
  assert_int_equal(pare_context_create(&ro, &ref), PARE_OK);
  pare_model *m = NULL;
  assert_int_equal(pare_model_create("simplecnn:4,8", 3, &m, err, sizeof err), PARE_OK);
  pare_eval_result want;
  pare_status st = pare_model_evaluate(ref, m, "fashion-mnist", "test", 48, 8, NULL, NULL, &want,
                                       err, sizeof err);
  pare_model_destroy(m);
  pare_context_destroy(ref);
  if (st != PARE_OK) fail_msg("reference evaluation: %s", err);
  for (int kind = 0; kind < KINDS; kind++) {
    long faults = 0;
    for (long k = 1; k < 400; k++) {
      pare_context *ctx = faulty_context(kind, k);
      if (!ctx) {
        pare_free(want.confusion);
        skip();
      }
      pare_model *mk = NULL;
      assert_int_equal(pare_model_create("simplecnn:4,8", 3, &mk, err, sizeof err), PARE_OK);
      pare_eval_result got;
      st = pare_model_evaluate(ctx, mk, "fashion-mnist", "test", 48, 8, NULL, NULL, &got, err,
                               sizeof err);
      armed_kind = -1;
      if (st != PARE_OK) fail_msg("%s fault %ld: %s", kind_names[kind], k, err);
      assert_int_equal(got.correct, want.correct);
      assert_memory_equal(got.confusion, want.confusion,
                          sizeof(int64_t) * (size_t)want.classes * (size_t)want.classes);
      if (injected) {
        faults++;
        assert_int_equal(pare_context_backend(ctx), PARE_BACKEND_REFERENCE);
      }
      pare_free(got.confusion);
      pare_model_destroy(mk);
      pare_context_destroy(ctx);
      if (!injected) break;
    }
    printf("%-24s %ld faults injected into accuracy passes, each counted as the reference\n",
           kind_names[kind], faults);
    assert_true(faults > 0);
  }
  pare_free(want.confusion);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_faults),
                                     cmocka_unit_test(test_stream_faults)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
