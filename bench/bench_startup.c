/* pare-bench startup: session start with an empty vs a warm program cache,
 * each in a fresh process. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"

/* Seconds to open a runtime and build the session's programs (the four
 * GEMM variants) with the given cache folder. */
static double session_start(const char *cache_dir, int *cached, pare_error *err) {
  double t0 = pare_now();
  pare_cl_runtime *rt;
  pare_cl_runtime_options opt = {0};
  opt.cache_dir = cache_dir;
  if (pare_cl_runtime_create(&opt, &rt, err) != PARE_OK) return -1;
  static const char *variants[] = {"-DTRANS_A=0 -DTRANS_B=0", "-DTRANS_A=0 -DTRANS_B=1",
                                   "-DTRANS_A=1 -DTRANS_B=0", "-DTRANS_A=1 -DTRANS_B=1"};
  *cached = 1;
  for (int i = 0; i < 4; i++) {
    cl_program p;
    if (pare_cl_program(rt, PARE_KERNEL_gemm_f32, variants[i], &p, err) != PARE_OK) {
      pare_cl_runtime_destroy(rt);
      return -1;
    }
    *cached &= rt->last_build_cached;
  }
  double s = pare_now() - t0;
  pare_cl_runtime_destroy(rt);
  return s;
}

/* Runs this program as `--startup-child DIR` in a fresh process whose
 * driver cache (PoCL's POCL_CACHE_DIR) is `driver_dir`; returns the
 * child's session-start milliseconds, or -1. A fresh process makes the
 * cold start honest: nothing is warm in memory, and with empty folders
 * nothing is warm on disk either. */
static double startup_child(const char *self, const char *pare_dir, const char *driver_dir,
                            int *cached) {
  int fds[2];
  if (pipe(fds) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(fds[1], 1);
    close(fds[0]);
    close(fds[1]);
    setenv("POCL_CACHE_DIR", driver_dir, 1);
    execl(self, self, "--startup-child", pare_dir, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  char buf[128] = "";
  ssize_t n = read(fds[0], buf, sizeof buf - 1);
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  double ms = -1;
  if (n > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    buf[n] = '\0';
    if (sscanf(buf, "%lf %d", &ms, cached) != 2) ms = -1;
  }
  return ms;
}

int pare_bench_startup(pare_cl_runtime *rt, const pare_bench_opts *o, const char *self) {
  /* A cold start compiles everything: a few seconds each on PoCL. */
  int reps = o->reps < 3 ? 3 : o->reps > 5 ? 5 : o->reps;
  double cold[5], warm[5];
  int status = 0;
  for (int i = 0; i < reps && !status; i++) {
    char pare_dir[] = "/tmp/pare-bench-cache-XXXXXX", driver_dir[] = "/tmp/pare-bench-drv-XXXXXX";
    if (!mkdtemp(pare_dir) || !mkdtemp(driver_dir)) return 1;
    int cached_cold = 1, cached_warm = 0;
    cold[i] = startup_child(self, pare_dir, driver_dir, &cached_cold);
    warm[i] = startup_child(self, pare_dir, driver_dir, &cached_warm);
    if (cold[i] < 0 || warm[i] < 0 || cached_cold || !cached_warm) status = 1;
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", pare_dir, driver_dir);
    if (system(cmd) != 0) status = 1;
  }
  if (status) {
    fprintf(stderr, "pare-bench startup: a child run failed or the cache was not used\n");
    return 1;
  }
  double c = pare_median(cold, reps), w = pare_median(warm, reps);
  printf("{\"bench\": \"startup\", \"profile\": \"%s\", \"device\": \"%s\", \"programs\": 4, "
         "\"cold_ms_median\": %.2f, \"warm_ms_median\": %.2f, \"warm_over_cold\": %.4f}\n",
         rt->profile->name, rt->info.name, c, w, w / c);
  fprintf(stderr,
          "session start (4 GEMM programs, fresh process): cold %.1f ms, warm %.1f ms, "
          "warm/cold %.3f\n",
          c, w, w / c);
  return 0;
}

int pare_bench_startup_child(const char *cache_dir) {
  pare_error err;
  int cached = 0;
  double s = session_start(cache_dir, &cached, &err);
  if (s < 0) {
    fprintf(stderr, "pare-bench: %s\n", err.text);
    return 1;
  }
  printf("%.3f %d\n", s * 1e3, cached);
  return 0;
}
