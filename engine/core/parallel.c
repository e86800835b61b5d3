/* Parallel loops for the reference backend (core.h): the range is cut in
 * as many contiguous pieces as threads, each run by one pthread (the
 * calling thread takes the first). Every index is computed by exactly one
 * thread in the same order as a serial loop, so results do not depend on
 * the thread count. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/core/core.h"

enum { MAX_THREADS = 64 };

int pare_thread_count(void) {
  const char *env = pare_env("PARE_THREADS");
  long n = env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
  return n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
}

typedef struct piece {
  pare_range_fn fn;
  void *ctx;
  size_t begin, end;
} piece;

static void *run_piece(void *arg) {
  piece *p = arg;
  p->fn(p->ctx, p->begin, p->end);
  return NULL;
}

void pare_parallel_for(size_t n, double work, pare_range_fn fn, void *ctx) {
  int threads = pare_thread_count();
  /* Below ~1e6 multiply-adds a thread costs more than it brings. */
  if (threads > 1 && work < 1e6 * threads) threads = (int)(work / 1e6) > 1 ? (int)(work / 1e6) : 1;
  if ((size_t)threads > n) threads = n ? (int)n : 1;
  if (threads <= 1) {
    if (n) fn(ctx, 0, n);
    return;
  }
  piece pieces[MAX_THREADS];
  pthread_t ids[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  for (int t = 0; t < threads; t++)
    pieces[t] =
        (piece){fn, ctx, n * (size_t)t / (size_t)threads, n * (size_t)(t + 1) / (size_t)threads};
  for (int t = 1; t < threads; t++)
    started[t] = pthread_create(&ids[t], NULL, run_piece, &pieces[t]) == 0;
  run_piece(&pieces[0]);
  for (int t = 1; t < threads; t++) {
    if (started[t])
      pthread_join(ids[t], NULL);
    else
      run_piece(&pieces[t]); /* no thread to be had: this one does it */
  }
}
