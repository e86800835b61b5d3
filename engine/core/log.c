/* Logging to standard error or a user callback, with a level from
 * pare_log_set() or PARE_LOG_LEVEL. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine/core/core.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static pare_log_fn log_fn;
static void *log_user;
static int log_level = -1; /* -1: not yet read from the environment */

#define ONCE_KEYS 32
static char once_keys[ONCE_KEYS][64];
static int once_count;

static int level_from_env(void) {
  const char *v = pare_env("PARE_LOG_LEVEL");
  if (!v) return PARE_LOG_WARN;
  if (!strcasecmp(v, "error")) return PARE_LOG_ERROR;
  if (!strcasecmp(v, "info")) return PARE_LOG_INFO;
  if (!strcasecmp(v, "debug")) return PARE_LOG_DEBUG;
  return PARE_LOG_WARN;
}

void pare_log_set(pare_log_fn fn, void *user, pare_log_level level) {
  pthread_mutex_lock(&log_lock);
  log_fn = fn;
  log_user = user;
  log_level = (int)level;
  pthread_mutex_unlock(&log_lock);
}

int pare_log_enabled(pare_log_level level) {
  pthread_mutex_lock(&log_lock);
  if (log_level < 0) log_level = level_from_env();
  int on = (int)level <= log_level;
  pthread_mutex_unlock(&log_lock);
  return on;
}

static void log_emit(pare_log_level level, const char *fmt, va_list ap) {
  static const char *names[] = {"error", "warning", "info", "debug"};
  char msg[2048];
  vsnprintf(msg, sizeof msg, fmt, ap);
  pthread_mutex_lock(&log_lock);
  if (log_fn)
    log_fn(level, msg, log_user);
  else
    fprintf(stderr, "pare: %s: %s\n", names[level], msg);
  pthread_mutex_unlock(&log_lock);
}

void pare_log(pare_log_level level, const char *fmt, ...) {
  if (!pare_log_enabled(level)) return;
  va_list ap;
  va_start(ap, fmt);
  log_emit(level, fmt, ap);
  va_end(ap);
}

void pare_log_once(const char *key, pare_log_level level, const char *fmt, ...) {
  if (!pare_log_enabled(level)) return;
  pthread_mutex_lock(&log_lock);
  for (int i = 0; i < once_count; i++) {
    if (!strcmp(once_keys[i], key)) {
      pthread_mutex_unlock(&log_lock);
      return;
    }
  }
  if (once_count < ONCE_KEYS) pare_strlcpy(once_keys[once_count++], key, sizeof once_keys[0]);
  pthread_mutex_unlock(&log_lock);
  va_list ap;
  va_start(ap, fmt);
  log_emit(level, fmt, ap);
  va_end(ap);
}
