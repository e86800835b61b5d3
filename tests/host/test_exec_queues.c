/* Independent branches on two queues in the OpenCL executor (from a
 * plan's second run), and runs in flight while the host goes on
 * (pare_plan_run_cl_start/finish, the accuracy loop's stream of batches).
 * Every run gives the same bits as the plan run on one queue (a runtime
 * that allows one), fused or not, with the activations in one
 * arena or a buffer each, with a node run on the host inside a branch,
 * and agrees with the reference backend. */
#define _DEFAULT_SOURCE /* setenv */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/context_internal.h"
#include "engine/exec/exec.h"
#include "engine/model_internal.h"
#include "engine/train/zoo.h"
#include "host/exec_cl.h"
#include "tests/test_cl.h"
#include "tests/test_graph_util.h"

#define RUNS 3

/* Output 0 of each of RUNS runs of g (a fresh plan with `flags`) on the
 * device with `queues` queues allowed; *branches: launches on the second. */
static void run_runs(const pare_graph *g, const pare_tensor *in, int flags, int queues,
                     pare_tensor *out, int *branches) {
  rt->max_queues = queues;
  pare_plan *p;
  pare_error err;
  if (pare_plan_create_ex(g, in, 1, flags, &p, &err) != PARE_OK) fail_msg("%s", err.text);
  for (int r = 0; r < RUNS; r++)
    if (pare_plan_run_cl(p, rt, in, 1, &out[r], &err) != PARE_OK) fail_msg("%s", err.text);
  *branches = pare_exec_cl_branch_nodes(p);
  pare_plan_destroy(p);
}

enum { FORMS = 3 };

/* g at input shape dims: two queues against one, bit for bit, in every
 * plan form (fused in the arena, fused with a buffer per value, unfused
 * in the arena); the first form also against the reference. branches[f]
 * gets the launches form f's two-queue plan put on the second queue. */
static void check(const pare_graph *g, const int64_t *dims, const char *name, int branches[FORMS]) {
  int64_t numel = dims[0] * dims[1] * dims[2] * dims[3];
  float *x = malloc(sizeof(float) * (size_t)numel);
  assert_non_null(x);
  test_rng rng = {(uint64_t)numel};
  test_fill(&rng, x, (size_t)numel, -1, 1);
  pare_tensor in = {
      PARE_DT_F32, 4, {dims[0], dims[1], dims[2], dims[3]}, x, sizeof(float) * (size_t)numel, 0, 0};
  static const int forms[FORMS] = {PARE_PLAN_ARENA, 0, PARE_PLAN_ARENA | PARE_PLAN_NO_FUSE};
  for (int f = 0; f < FORMS; f++) {
    pare_tensor one[RUNS], two[RUNS];
    int b1 = 0;
    run_runs(g, &in, forms[f], 1, one, &b1);
    run_runs(g, &in, forms[f], 2, two, &branches[f]);
    assert_int_equal(b1, 0);
    size_t n = (size_t)pare_tensor_numel(&one[0]);
    for (int r = 0; r < RUNS; r++) {
      assert_int_equal(pare_tensor_numel(&two[r]), (int64_t)n);
      if (memcmp(one[r].data, two[r].data, n * sizeof(float)))
        fail_msg("%s, form %d, run %d: two queues differ from one", name, f, r);
    }
    if (f == 0) {
      pare_tensor want;
      test_run_ref(g, x, 4, dims, &want);
      float amax = 0;
      for (size_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(((const float *)want.data)[i]));
      test_assert_close(two[RUNS - 1].data, want.data, n, 1e-5 * (1.0 + amax), name);
      pare_tensor_release(&want);
    }
    for (int r = 0; r < RUNS; r++) {
      pare_tensor_release(&one[r]);
      pare_tensor_release(&two[r]);
    }
  }
  free(x);
}

static pare_graph *zoo(const char *arch) {
  pare_graph *g = NULL;
  pare_error err;
  if (pare_zoo_build(arch, 5, &g, &err) != PARE_OK) fail_msg("%s: %s", arch, err.text);
  return g;
}

/* GoogLeNet's inception 3a at batch 1 and 3: its branches run on both
 * queues. */
static void test_inception(void **state) {
  (void)state;
  pare_graph *g = zoo("inception-block");
  const int64_t batches[2] = {1, 3};
  for (int b = 0; b < 2; b++) {
    int64_t dims[4] = {batches[b], 192, 28, 28};
    int branches[FORMS];
    check(g, dims, "inception-block", branches);
    for (int f = 0; f < FORMS; f++) assert_true(branches[f] > 0);
  }
  pare_graph_destroy(g);
}

/* ResNet-18 unfused: each downsampling 1×1 convolution and its batch norm
 * run beside the block's main path (fused, the residual Add joins them
 * into one chain and one queue is used). */
static void test_resnet18(void **state) {
  (void)state;
  pare_graph *g = zoo("resnet18");
  int64_t dims[4] = {1, 3, 224, 224};
  int branches[FORMS];
  check(g, dims, "resnet18", branches);
  assert_int_equal(branches[0], 0);
  assert_true(branches[2] >= 3 * 2); /* three downsampling convolutions and batch norms */
  pare_graph_destroy(g);
}

/* The inception module with an LRN (run on the host) after the pooling of
 * its fourth branch: the host node waits for both queues, and its output
 * goes to the device before any launch may overwrite what it reads. */
static void test_host_node_in_branch(void **state) {
  (void)state;
  pare_graph *g = zoo("inception-block");
  int pool = -1;
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i].name, "3a.branch4.pool")) pool = i;
  assert_true(pool >= 0);
  int pooled = g->nodes[pool].outputs[0];
  int v = pare_graph_add_value(g, "3a.branch4.lrn/out", PARE_DT_F32, -1, NULL);
  int at = pare_graph_insert_node(g, pool + 1, "3a.branch4.lrn", PARE_OP_LRN, 1, 1);
  assert_true(v >= 0 && at == pool + 1);
  g->nodes[at].inputs[0] = pooled;
  g->nodes[at].outputs[0] = v;
  g->values[v].producer = at;
  pare_attr *size = pare_node_add_attr(&g->nodes[at], "size", PARE_ATTR_INT);
  assert_non_null(size);
  size->i = 3;
  for (int i = at + 1; i < g->n_nodes; i++)
    if (g->nodes[i].inputs[0] == pooled) g->nodes[i].inputs[0] = v;
  pare_error err;
  if (pare_graph_validate(g, &err) != PARE_OK) fail_msg("%s", err.text);
  int64_t dims[4] = {2, 192, 28, 28};
  int branches[FORMS];
  check(g, dims, "inception-block with an LRN", branches);
  assert_true(branches[0] > 0);
  pare_graph_destroy(g);
}

/* Two plans of the inception module (with branches on both queues) in
 * flight by turns, batch i on plan i % 2 with queue i % 2 as its home, the
 * next one started before the last is waited for: each output the same
 * bits as the batch run alone, on one queue. */
static void test_two_plans_in_flight(void **state) {
  (void)state;
  enum { BATCHES = 6 };
  pare_graph *g = zoo("inception-block");
  const int64_t numel = 2 * 192 * 28 * 28;
  float *x[BATCHES];
  pare_tensor in[BATCHES], want[BATCHES];
  pare_error err;
  test_rng rng = {31};
  for (int i = 0; i < BATCHES; i++) {
    x[i] = malloc(sizeof(float) * (size_t)numel);
    assert_non_null(x[i]);
    test_fill(&rng, x[i], (size_t)numel, -1, 1);
    pare_tensor t = {PARE_DT_F32, 4, {2, 192, 28, 28}, x[i], sizeof(float) * (size_t)numel, 0, 0};
    in[i] = t;
  }
  rt->max_queues = 1;
  pare_plan *alone;
  if (pare_plan_create_ex(g, &in[0], 1, PARE_PLAN_ARENA, &alone, &err) != PARE_OK)
    fail_msg("%s", err.text);
  for (int i = 0; i < BATCHES; i++)
    if (pare_plan_run_cl(alone, rt, &in[i], 1, &want[i], &err) != PARE_OK) fail_msg("%s", err.text);
  pare_plan_destroy(alone);

  rt->max_queues = 2;
  pare_plan *plans[2];
  for (int k = 0; k < 2; k++)
    if (pare_plan_create_ex(g, &in[0], 1, PARE_PLAN_ARENA, &plans[k], &err) != PARE_OK)
      fail_msg("%s", err.text);
  if (pare_plan_run_cl_start(plans[0], rt, 0, &in[0], 1, &err) != PARE_OK) fail_msg("%s", err.text);
  for (int i = 0; i < BATCHES; i++) {
    int k = i % 2;
    if (i + 1 < BATCHES &&
        pare_plan_run_cl_start(plans[1 - k], rt, 1 - k, &in[i + 1], 1, &err) != PARE_OK)
      fail_msg("%s", err.text);
    if (i == 2) /* a second start of a plan in flight is refused */
      assert_int_equal(pare_plan_run_cl_start(plans[1 - k], rt, 1 - k, &in[i], 1, &err),
                       PARE_ERR_INVALID_ARG);
    pare_tensor y;
    if (pare_plan_run_cl_finish(plans[k], rt, &y, &err) != PARE_OK) fail_msg("%s", err.text);
    size_t n = (size_t)pare_tensor_numel(&want[i]);
    assert_int_equal(pare_tensor_numel(&y), (int64_t)n);
    if (memcmp(y.data, want[i].data, n * sizeof(float)))
      fail_msg("batch %d in flight beside another differs from the batch alone", i);
    pare_tensor_release(&y);
  }
  assert_true(pare_exec_cl_branch_nodes(plans[0]) > 0);
  for (int k = 0; k < 2; k++) pare_plan_destroy(plans[k]);
  for (int i = 0; i < BATCHES; i++) {
    pare_tensor_release(&want[i]);
    free(x[i]);
  }
  rt->max_queues = 1;
  pare_graph_destroy(g);
}

/* The stream itself: batches of SimpleCNN in flight by turns, each output
 * the same bits as the batch run alone. */
typedef struct stream_check {
  pare_context *ctx;
  pare_model *alone; /* a second copy, run one batch at a time */
  pare_tensor shape;
  float *x[5];
} stream_check;

static pare_status stream_fill(void *user, size_t i, float *x) {
  stream_check *c = user;
  memcpy(x, c->x[i], c->shape.nbytes);
  return PARE_OK;
}

static pare_status stream_take(void *user, size_t i, const pare_tensor *y) {
  stream_check *c = user;
  pare_tensor_view in = {NULL, PARE_DT_F32, 4, {0}, c->x[i], c->shape.nbytes}, out;
  memcpy(in.dims, c->shape.dims, sizeof in.dims);
  assert_int_equal(pare_model_run(c->ctx, c->alone, &in, 1, &out, 1), PARE_OK);
  assert_int_equal(out.nbytes, y->nbytes);
  if (memcmp(out.data, y->data, y->nbytes)) fail_msg("batch %zu of the stream differs", i);
  pare_free(out.data);
  return PARE_OK;
}

/* The accuracy loop on the device: whole batches as a stream (two plans in
 * turn) count the same top-1 and confusion matrix as one by one
 * (PARE_NO_STREAM=1), with a last batch that is not whole. */
static void test_accuracy_stream(void **state) {
  (void)state;
  pare_context_options o = {0};
  o.backend = PARE_BACKEND_OPENCL;
  o.no_cache = 1;
  pare_context *ctx;
  if (pare_context_create(&o, &ctx) != PARE_OK) fail_msg("no OpenCL context");
  pare_model *m, *alone;
  char e[256];
  if (pare_model_create("simplecnn", 3, &m, e, sizeof e) != PARE_OK ||
      pare_model_create("simplecnn", 3, &alone, e, sizeof e) != PARE_OK)
    fail_msg("%s", e);
  /* The stream runs (it is not declined) and matches batch by batch. */
  stream_check c = {ctx, alone, {PARE_DT_F32, 4, {16, 1, 28, 28}, NULL, 0, 0, 0}, {NULL}};
  c.shape.nbytes = sizeof(float) * 16 * 784;
  test_rng rng = {17};
  for (int i = 0; i < 5; i++) {
    c.x[i] = malloc(c.shape.nbytes);
    assert_non_null(c.x[i]);
    test_fill(&rng, c.x[i], 16 * 784, 0, 1);
  }
  pare_error err = {0};
  size_t done = 0;
  pare_status st =
      pare_model_run_stream(ctx, m, &c.shape, 5, stream_fill, stream_take, &c, &done, &err);
  if (st != PARE_OK) fail_msg("stream: status %d (%s)", (int)st, err.text);
  assert_int_equal(done, 5);
  for (int i = 0; i < 5; i++) free(c.x[i]);
  pare_model_destroy(alone);

  pare_dataset *ds;
  if (pare_dataset_open("fashion-mnist", "test", &ds, e, sizeof e) != PARE_OK) {
    pare_model_destroy(m);
    pare_context_destroy(ctx);
    skip(); /* no Fashion-MNIST here */
  }
  pare_dataset_destroy(ds);
  pare_eval_result r[2];
  for (int v = 0; v < 2; v++) {
    setenv("PARE_NO_STREAM", v ? "0" : "1", 1);
    st = pare_model_evaluate(ctx, m, "fashion-mnist", "test", 5 * 64 + 37, 64, NULL, NULL, &r[v], e,
                             sizeof e);
    unsetenv("PARE_NO_STREAM");
    if (st != PARE_OK) fail_msg("evaluate: %s", e);
  }
  assert_int_equal(pare_context_backend(ctx), PARE_BACKEND_OPENCL);
  assert_int_equal(r[0].samples, 5 * 64 + 37);
  assert_int_equal(r[1].samples, r[0].samples);
  assert_int_equal(r[1].correct, r[0].correct);
  assert_int_equal(r[1].classes, r[0].classes);
  assert_memory_equal(r[1].confusion, r[0].confusion,
                      sizeof(int64_t) * (size_t)r[0].classes * (size_t)r[0].classes);
  for (int v = 0; v < 2; v++) pare_free(r[v].confusion);
  pare_model_destroy(m);
  pare_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inception),           cmocka_unit_test(test_resnet18),
      cmocka_unit_test(test_host_node_in_branch), cmocka_unit_test(test_two_plans_in_flight),
      cmocka_unit_test(test_accuracy_stream),
  };
  return cmocka_run_group_tests_name("exec_queues", tests, test_cl_setup, test_cl_teardown);
}
