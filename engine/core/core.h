/* Internal helpers shared by every module: errors, logging, environment,
 * files, hashing and time. Not part of the public API. */
#ifndef PARE_ENGINE_CORE_H
#define PARE_ENGINE_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pare/pare.h"

#if defined(__GNUC__)
#define PARE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PARE_PRINTF(fmt, args)
#endif

#define PARE_ERROR_TEXT 1024

/* A last-error slot kept by every handle. */
typedef struct pare_error {
  char text[PARE_ERROR_TEXT];
} pare_error;

/* Formats the message into `err` (if not NULL) and returns `status`. */
pare_status pare_error_set(pare_error *err, pare_status status, const char *fmt, ...)
    PARE_PRINTF(3, 4);
void pare_error_clear(pare_error *err);

/* Logging (engine/core/log.c). */
void pare_log(pare_log_level level, const char *fmt, ...) PARE_PRINTF(2, 3);
/* Logs once per process for each distinct `key` (up to a small number of keys). */
void pare_log_once(const char *key, pare_log_level level, const char *fmt, ...) PARE_PRINTF(3, 4);
int pare_log_enabled(pare_log_level level);

/* Environment: NULL when unset or empty. */
const char *pare_env(const char *name);
/* 1 when the variable is set to exactly "1" (switches such as PARE_NO_FUSE). */
int pare_env_on(const char *name);
/* The most bytes one tensor (and all the decoded constants of one model
 * file) may take: PARE_MAX_TENSOR_BYTES when set, else 16 GiB. Untrusted
 * shapes beyond it fail with an error instead of a huge allocation. */
size_t pare_max_tensor_bytes(void);

/* Files (engine/core/fileio.c). */
/* Reads a whole file; *data is malloc'ed with a trailing NUL not counted in *size. */
pare_status pare_file_read(const char *path, void **data, size_t *size, pare_error *err);
/* Writes through a temporary file in the same folder and renames it into
 * place, so readers see the old file or the new one, never a torn one. */
pare_status pare_file_write_atomic(const char *path, const void *data, size_t size,
                                   pare_error *err);
/* mkdir -p with mode 0755. */
pare_status pare_mkdirs(const char *path, pare_error *err);

/* FNV-1a, 64 bit: stable across runs and machines. */
uint64_t pare_hash64(const void *data, size_t size, uint64_t seed);
#define PARE_HASH_SEED UINT64_C(0xcbf29ce484222325)

/* Monotonic clock in seconds. */
double pare_now(void);
/* The median of n > 0 values (sorted in place; the mean of the middle two
 * when n is even). */
double pare_median(double *v, int n);

/* Case-insensitive substring search; NULL when either is NULL or no match. */
const char *pare_str_find_ci(const char *haystack, const char *needle);

/* 1 when `name` is one of the items of a comma-separated list (NULL: 0). */
int pare_name_in_list(const char *list, const char *name);

/* Threads of the reference backend: PARE_THREADS, else the online cores
 * (1..64). */
int pare_thread_count(void);
/* Runs fn(ctx, begin, end) over pieces of [0, n) on up to
 * pare_thread_count() threads, fewer when `work` (multiply-adds, or any
 * comparable count) is small; each index runs once, in order within its
 * piece, so results match a serial loop. Returns when all are done. */
typedef void (*pare_range_fn)(void *ctx, size_t begin, size_t end);
void pare_parallel_for(size_t n, double work, pare_range_fn fn, void *ctx);

/* IEEE binary16 conversions (to half: round to nearest even, overflow to inf). */
float pare_f16_to_f32(uint16_t h);
uint16_t pare_f32_to_f16(float f);

/* snprintf into a fixed buffer that never overflows; returns dst. */
char *pare_strlcpy(char *dst, const char *src, size_t size);

#endif
