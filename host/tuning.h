/* The tuning database: measurements a device made of itself, kept beside
 * the program cache so that later sessions reuse them. One text file per
 * device, <cache dir>/tuning-<hash of device name, driver and platform
 * version>.txt, of "key value" lines; keys name what was measured (kernel,
 * shape, variant), values are numbers. Without a cache folder (PARE_NO_CACHE
 * or no_cache) the values live only as long as the runtime. Thread-safe. */
#ifndef PARE_HOST_TUNING_H
#define PARE_HOST_TUNING_H

#include "host/runtime.h"

/* 1 and *value when key has been measured on rt's device, else 0. */
int pare_tuning_get(pare_cl_runtime *rt, const char *key, double *value);

/* Records key = value for the device's file, which is rewritten
 * atomically at the next pare_tuning_flush (the executor's end of a run)
 * or when the runtime goes: one write for all the decisions of a run (a
 * write that fails is ignored: the values stay in memory). Keys hold no
 * spaces and are shorter than 192 bytes (longer ones are not stored). */
void pare_tuning_put(pare_cl_runtime *rt, const char *key, double value);
/* Writes the file when something was put since it was last written. */
void pare_tuning_flush(pare_cl_runtime *rt);

/* Records key = value in memory only (the auto-tuner's trials); the file
 * keeps its value until the next pare_tuning_put. */
void pare_tuning_set(pare_cl_runtime *rt, const char *key, double value);
/* Removes key from memory (not from the file until the next put). */
void pare_tuning_forget(pare_cl_runtime *rt, const char *key);
/* Rewrites the device's file from memory (atomically; failures ignored). */
void pare_tuning_save(pare_cl_runtime *rt);

/* Kernel parameters per shape. A launcher asks for "<stem>.<param>" of the
 * launch's shape (a short text without spaces, e.g. "m=64,n=128,k=784,t=00"):
 * the value the auto-tuner stored for that shape (key
 * "tune.<stem>.<param>@<shape>"), else the profile's "<stem>.<param>",
 * else fallback. Tuned values that `ok` (may be NULL) rejects are ignored, as
 * are all of them when rt->no_tune is set (PARE_NO_TUNE=1). */
int pare_tuned_int(pare_cl_runtime *rt, const char *stem, const char *param, const char *shape,
                   int fallback, int (*ok)(int value));

/* Recording of the shapes launchers ask about (for the auto-tuner): while
 * on, every pare_tuned_int call adds "<stem>@<shape>" to a list (each once).
 * pare_tuning_recorded returns the list (valid until the next
 * pare_tuning_record call) and its length. */
void pare_tuning_record(pare_cl_runtime *rt, int on);
const char *const *pare_tuning_recorded(pare_cl_runtime *rt, int *count);

/* Writes what was put and not yet written, then frees the in-memory table
 * (pare_cl_runtime_destroy calls it). */
void pare_tuning_free(pare_cl_runtime *rt);

#endif
