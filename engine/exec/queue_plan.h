/* Which of two in-order queues each launch of a plan goes to, and where
 * one queue must wait for the other (engine/exec/queue_plan.c).
 *
 * An executor that runs a graph's independent branches side by side gives
 * each launch a queue: a launch stays on the queue of the launch whose
 * output it is the first to read, so a chain stays on one queue, and a
 * launch that reads only values others read first (the start of a
 * branch) goes to the queue with less work so far. A
 * launch then waits for the other queue wherever it reads what a launch
 * there writes, or writes memory a launch there reads or writes (values
 * laid out in one arena share bytes over time, so a launch may overwrite
 * a region another branch is still reading). Launches on the host read
 * device values back and so wait for every queue.
 *
 * Plain C, no OpenCL: the executor (host/exec_cl.c) turns the plan into
 * markers and barriers. */
#ifndef PARE_ENGINE_EXEC_QUEUE_PLAN_H
#define PARE_ENGINE_EXEC_QUEUE_PLAN_H

#include <stdint.h>

#include "engine/core/core.h"
#include "engine/graph/graph.h"

#define PARE_QUEUE_PLAN_MAX_MEMBERS 8

enum { PARE_LAUNCH_NONE = 0, PARE_LAUNCH_DEVICE, PARE_LAUNCH_HOST };

/* What node i does at its turn: nothing (folded, or run inside another
 * node's launch), a device launch, or a host computation. A launch reads
 * the inputs and writes the outputs of all its members: the node and the
 * nodes fused into it. */
typedef struct pare_launch_desc {
  int kind;
  double cost; /* its work, in any unit (multiply-adds, say): branches are
                * started on the queue with less work so far */
  int members[PARE_QUEUE_PLAN_MAX_MEMBERS];
  int n_members;
} pare_launch_desc;

typedef struct pare_queue_plan {
  int queues;     /* 1: every launch on queue 0 (nothing to run side by side) */
  int *queue;     /* per node: 0 or 1 (0 for nodes that launch nothing) */
  int *wait_for;  /* per node: before its launch its queue waits for the other
                   * queue up to this node's launch (a node index), -1: no wait */
  int n_branches; /* launches placed on queue 1 */
} pare_queue_plan;

/* Plans the queues of a graph's launches. launch: per node. range: per
 * value, the bytes [lo, hi) it occupies in a shared arena, lo < 0 for a
 * value with memory of its own (only its readers and writer order it);
 * NULL: every value has its own. const_value: per value, 1 for constants
 * (never written, never waited for). */
pare_status pare_queue_plan_build(const pare_graph *g, const pare_launch_desc *launch,
                                  const int64_t (*range)[2], const char *const_value,
                                  pare_queue_plan *qp, pare_error *err);
/* Widens per-node spans of steps (lo/hi as pare_memory_plan_opts takes
 * them, n nodes) so that each launch's members span every step at which
 * a launch of the other queue may run beside it: a memory plan made with
 * them gives values of launches that may run together separate bytes. */
void pare_queue_plan_spans(const pare_queue_plan *qp, const pare_launch_desc *launch, int n,
                           int *lo, int *hi);
void pare_queue_plan_free(pare_queue_plan *qp);

#endif
