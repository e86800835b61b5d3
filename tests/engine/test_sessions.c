/* Concurrency: threads running one loaded model, each with its own
 * session and context, get the same outputs as one thread alone, bit for
 * bit (and ThreadSanitizer finds no race: scripts/tsan.sh). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pare/pare.h"
#include "tests/test_util.h"

enum { THREADS = 4, RUNS = 3, BATCH = 5 };

typedef struct job {
  pare_model *model;
  const float *x;
  float *y; /* RUNS outputs of BATCH × 10 */
  int failed;
} job;

static void *run_thread(void *arg) {
  job *j = arg;
  pare_context_options o = {0};
  o.backend = PARE_BACKEND_REFERENCE;
  pare_context *ctx = NULL;
  pare_session *s = NULL;
  if (pare_context_create(&o, &ctx) != PARE_OK || pare_session_create(j->model, &s) != PARE_OK) {
    j->failed = 1;
  }
  pare_tensor_view in = {
      NULL, PARE_DT_F32, 4, {BATCH, 1, 28, 28}, (void *)j->x, sizeof(float) * BATCH * 784};
  for (int r = 0; r < RUNS && !j->failed; r++) {
    pare_tensor_view out;
    if (pare_session_run(ctx, s, &in, 1, &out, 1) != PARE_OK ||
        out.nbytes != sizeof(float) * BATCH * 10) {
      j->failed = 1;
      break;
    }
    memcpy(j->y + r * BATCH * 10, out.data, out.nbytes);
    pare_free(out.data);
  }
  pare_session_destroy(s);
  pare_context_destroy(ctx);
  return NULL;
}

static void test_threads_agree(void **state) {
  (void)state;
  char err[256];
  pare_model *m = NULL;
  assert_int_equal(pare_model_create("simplecnn", 4, &m, err, sizeof err), PARE_OK);
  static float x[BATCH * 784];
  test_rng rng = {21};
  test_fill(&rng, x, BATCH * 784, 0, 1);
  job alone = {m, x, malloc(sizeof(float) * RUNS * BATCH * 10), 0};
  run_thread(&alone);
  assert_false(alone.failed);
  job jobs[THREADS];
  pthread_t ids[THREADS];
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (job){m, x, malloc(sizeof(float) * RUNS * BATCH * 10), 0};
    assert_int_equal(pthread_create(&ids[t], NULL, run_thread, &jobs[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) {
    pthread_join(ids[t], NULL);
    assert_false(jobs[t].failed);
    assert_memory_equal(jobs[t].y, alone.y, sizeof(float) * RUNS * BATCH * 10);
    free(jobs[t].y);
  }
  /* A session's errors are its own; the model's stay clean. */
  pare_session *s;
  assert_int_equal(pare_session_create(m, &s), PARE_OK);
  pare_context_options o = {0};
  o.backend = PARE_BACKEND_REFERENCE;
  pare_context *ctx;
  assert_int_equal(pare_context_create(&o, &ctx), PARE_OK);
  pare_tensor_view bad = {NULL, PARE_DT_F32, 2, {1, 3}, x, sizeof(float) * 3}, out;
  assert_int_not_equal(pare_session_run(ctx, s, &bad, 1, &out, 1), PARE_OK);
  assert_true(strlen(pare_session_last_error(s)) > 0);
  assert_string_equal(pare_model_last_error(m), "");
  pare_context_destroy(ctx);
  pare_session_destroy(s);
  free(alone.y);
  pare_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_threads_agree)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
