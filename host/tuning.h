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

/* Records key = value and rewrites the device's file atomically (a write
 * that fails is ignored: the value stays in memory). Keys hold no spaces
 * and are shorter than 192 bytes (longer ones are not stored). */
void pare_tuning_put(pare_cl_runtime *rt, const char *key, double value);

/* Frees the in-memory table (pare_cl_runtime_destroy calls it). */
void pare_tuning_free(pare_cl_runtime *rt);

#endif
