/* Placing a plan's launches on two in-order queues (queue_plan.h). */
#include <stdlib.h>
#include <string.h>

#include "engine/exec/queue_plan.h"

/* The values a launch reads and writes, flattened over all launches. */
typedef struct launch_sets {
  int *vals;    /* reads then writes of each launch, back to back */
  int *start;   /* per node: where its values begin */
  int *n_read;  /* per node */
  int *n_write; /* per node */
  const int64_t (*range)[2];
} launch_sets;

static int has_value(const int *v, int n, int x) {
  for (int i = 0; i < n; i++)
    if (v[i] == x) return 1;
  return 0;
}

/* Collects node i's reads (non-constant inputs of its members that no
 * member writes), then its writes (its members' outputs), at vals, which
 * has room for all its members' inputs and outputs; returns the count. */
static int collect(const pare_graph *g, const pare_launch_desc *d, const char *const_value,
                   int *vals, int *n_read, int *n_write) {
  int cap_r = 0, w = 0, r = 0;
  for (int m = 0; m < d->n_members; m++) cap_r += g->nodes[d->members[m]].n_inputs;
  int *writes = vals + cap_r; /* moved down behind the reads at the end */
  for (int m = 0; m < d->n_members; m++) {
    const pare_node *n = &g->nodes[d->members[m]];
    for (int k = 0; k < n->n_outputs; k++)
      if (n->outputs[k] >= 0 && !has_value(writes, w, n->outputs[k])) writes[w++] = n->outputs[k];
  }
  for (int m = 0; m < d->n_members; m++) {
    const pare_node *n = &g->nodes[d->members[m]];
    for (int k = 0; k < n->n_inputs; k++) {
      int v = n->inputs[k];
      if (v < 0 || const_value[v] || has_value(writes, w, v) || has_value(vals, r, v)) continue;
      vals[r++] = v;
    }
  }
  memmove(vals + r, writes, sizeof(int) * (size_t)w);
  *n_read = r;
  *n_write = w;
  return r + w;
}

static int overlap(const launch_sets *s, int a, int b) {
  if (a == b) return 1;
  if (!s->range) return 0;
  const int64_t *x = s->range[a], *y = s->range[b];
  return x[0] >= 0 && y[0] >= 0 && x[0] < y[1] && y[0] < x[1];
}

/* 1 when any value of list a shares memory with any of list b. */
static int lists_meet(const launch_sets *s, const int *a, int na, const int *b, int nb) {
  for (int i = 0; i < na; i++)
    for (int j = 0; j < nb; j++)
      if (overlap(s, a[i], b[j])) return 1;
  return 0;
}

/* 1 when launch i must follow launch k: k writes what i reads or writes,
 * or reads what i writes. */
static int must_follow(const launch_sets *s, int i, int k) {
  const int *ri = s->vals + s->start[i], *wi = ri + s->n_read[i];
  const int *rk = s->vals + s->start[k], *wk = rk + s->n_read[k];
  return lists_meet(s, wk, s->n_write[k], ri, s->n_read[i]) ||
         lists_meet(s, wk, s->n_write[k], wi, s->n_write[i]) ||
         lists_meet(s, rk, s->n_read[k], wi, s->n_write[i]);
}

pare_status pare_queue_plan_build(const pare_graph *g, const pare_launch_desc *launch,
                                  const int64_t (*range)[2], const char *const_value,
                                  pare_queue_plan *qp, pare_error *err) {
  memset(qp, 0, sizeof *qp);
  int n = g->n_nodes;
  size_t total = 0;
  for (int i = 0; i < n; i++)
    for (int m = 0; launch[i].kind != PARE_LAUNCH_NONE && m < launch[i].n_members; m++)
      total += (size_t)(g->nodes[launch[i].members[m]].n_inputs +
                        g->nodes[launch[i].members[m]].n_outputs);
  launch_sets s = {malloc(sizeof(int) * (total + 1)), malloc(sizeof(int) * (size_t)(n + 1)),
                   calloc((size_t)n + 1, sizeof(int)), calloc((size_t)n + 1, sizeof(int)), range};
  int *producer = malloc(sizeof(int) * (size_t)(g->n_values + 1));
  char *claimed = calloc((size_t)g->n_values + 1, 1);
  double(*since)[2] = malloc(sizeof *since * (size_t)(n + 1)), zero[2] = {0, 0};
  qp->queue = calloc((size_t)n + 1, sizeof(int));
  qp->wait_for = malloc(sizeof(int) * (size_t)(n + 1));
  pare_status st = PARE_OK;
  if (!s.vals || !s.start || !s.n_read || !s.n_write || !producer || !claimed || !since ||
      !qp->queue || !qp->wait_for)
    st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  size_t at = 0;
  for (int i = 0; st == PARE_OK && i < n; i++) {
    s.start[i] = (int)at;
    qp->wait_for[i] = -1;
    if (launch[i].kind == PARE_LAUNCH_NONE) continue;
    at += (size_t)collect(g, &launch[i], const_value, s.vals + at, &s.n_read[i], &s.n_write[i]);
  }
  for (int v = 0; st == PARE_OK && v < g->n_values; v++) producer[v] = -1;

  /* Queues: a launch continues the queue of the latest launch whose output
   * it is the first to read (graph inputs count as queue 0's); a launch
   * whose every input another launch read first starts a branch on the
   * queue with less work enqueued since its latest producer. Host launches
   * stay on 0. */
  double work[2] = {0, 0}; /* enqueued so far */
  for (int i = 0; st == PARE_OK && i < n; i++) {
    if (launch[i].kind == PARE_LAUNCH_NONE) continue;
    const int *r = s.vals + s.start[i];
    int q = 0;
    if (launch[i].kind == PARE_LAUNCH_DEVICE) {
      int best = -2, best_v = -1, latest = -1;
      for (int k = 0; k < s.n_read[i]; k++) {
        int p = producer[r[k]];
        if (p > latest) latest = p;
        if (!claimed[r[k]] && p > best) best = p, best_v = r[k];
      }
      if (best_v >= 0) {
        claimed[best_v] = 1;
        q = best >= 0 ? qp->queue[best] : 0;
      } else {
        const double *then = latest >= 0 ? since[latest] : zero;
        q = work[1] - then[1] < work[0] - then[0];
      }
    }
    qp->queue[i] = q;
    work[q] += launch[i].cost > 0 ? launch[i].cost : 1;
    since[i][0] = work[0], since[i][1] = work[1];
    qp->n_branches += q;
    const int *w = r + s.n_read[i];
    for (int k = 0; k < s.n_write[i]; k++) producer[w[k]] = i;
  }

  /* Waits: the latest launch on the other queue that this one must follow
   * (any, for a host launch). */
  for (int i = 0; st == PARE_OK && qp->n_branches && i < n; i++) {
    if (launch[i].kind == PARE_LAUNCH_NONE) continue;
    for (int k = i - 1; k >= 0; k--) {
      if (launch[k].kind == PARE_LAUNCH_NONE || qp->queue[k] == qp->queue[i]) continue;
      if (launch[i].kind == PARE_LAUNCH_HOST || must_follow(&s, i, k)) {
        qp->wait_for[i] = k;
        break;
      }
    }
  }
  qp->queues = qp->n_branches ? 2 : 1;
  free(s.vals);
  free(s.start);
  free(s.n_read);
  free(s.n_write);
  free(producer);
  free(claimed);
  free(since);
  if (st != PARE_OK) pare_queue_plan_free(qp);
  return st;
}

void pare_queue_plan_spans(const pare_queue_plan *qp, const pare_launch_desc *launch, int n,
                           int *lo, int *hi) {
  if (qp->queues < 2) return;
  int *after = malloc(sizeof(int) * (size_t)(n + 1)); /* per launch: the other queue's launch it
                                                       * follows (its own queue's waits included) */
  if (!after) { /* every launch may run beside every other: the widest spans */
    for (int i = 0; i < n; i++)
      if (launch[i].kind != PARE_LAUNCH_NONE)
        for (int m = 0; m < launch[i].n_members; m++)
          lo[launch[i].members[m]] = 0, hi[launch[i].members[m]] = n - 1;
    return;
  }
  int reached[2] = {-1, -1};
  for (int i = 0; i < n; i++) {
    if (launch[i].kind == PARE_LAUNCH_NONE) continue;
    int q = qp->queue[i];
    if (qp->wait_for[i] > reached[q]) reached[q] = qp->wait_for[i];
    after[i] = reached[q];
  }
  for (int i = 0; i < n; i++) {
    if (launch[i].kind == PARE_LAUNCH_NONE) continue;
    /* Beside it may run the other queue's launches after the one it
     * follows, up to the first that follows it. */
    int first = after[i] + 1, last = n - 1;
    for (int j = i + 1; j < n; j++)
      if (launch[j].kind != PARE_LAUNCH_NONE && qp->queue[j] != qp->queue[i] && after[j] >= i) {
        last = j - 1;
        break;
      }
    for (int m = 0; m < launch[i].n_members; m++) {
      int k = launch[i].members[m];
      if (first < lo[k]) lo[k] = first;
      if (last > hi[k]) hi[k] = last;
    }
  }
  free(after);
}

void pare_queue_plan_free(pare_queue_plan *qp) {
  free(qp->queue);
  free(qp->wait_for);
  memset(qp, 0, sizeof *qp);
}
