/* Device profiles: tuning parameters and build options per device family.
 * Profiles layer: "generic" fills every parameter, and each other profile
 * overrides only what it changes, looked up through its parent chain
 * (e.g. pocl → cpu → generic). Tuning values are data, not code. */
#ifndef PARE_HOST_PROFILE_H
#define PARE_HOST_PROFILE_H

#include "engine/core/core.h"

#define PARE_PROFILE_MAX_PARAMS 24

typedef struct pare_profile_param {
  const char *key; /* "<kernel stem>.<parameter>", e.g. "gemm_f32.tm" */
  int value;
} pare_profile_param;

typedef struct pare_profile {
  const char *name;
  const char *parent;        /* NULL only for "generic" */
  const char *build_options; /* appended to the parent's */
  const char *summary;
  pare_profile_param params[PARE_PROFILE_MAX_PARAMS]; /* ends at key == NULL */
} pare_profile;

/* The profile of that name, or NULL. */
const pare_profile *pare_profile_find(const char *name);
/* All profiles (NULL-terminated list of pointers). */
const pare_profile *const *pare_profile_all(void);

/* A parameter looked up from `p` through its parents; `fallback` when no
 * profile in the chain sets it. */
int pare_profile_int(const pare_profile *p, const char *key, int fallback);

/* The build options of the chain, generic's first, into buf. */
void pare_profile_build_options(const pare_profile *p, char *buf, size_t size);

/* Family and profile names detected from what the device reports. */
typedef struct pare_family {
  char family[32];  /* "mali-valhall", "adreno-6xx", "nvidia", "cpu-pocl", ... */
  char profile[32]; /* the profile that family uses */
} pare_family;

pare_family pare_family_detect(const char *platform, const char *name, const char *vendor,
                               int is_cpu);

#endif
