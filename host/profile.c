/* The table of device profiles and the detection of device families.
 *
 * Only "pocl" has been tuned on real hardware so far (a 2-core Zen 4 under
 * PoCL 3.1); the GPU entries carry reasoned starting points that the
 * auto-tuner refines on the device. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "host/profile.h"

/* GEMM parameters (kernels/gemm_f32.cl): each work-item computes a tile of
 * tm rows × (vw·nv) columns; work-groups are wg0 × wg1 tiles. */
static const pare_profile profiles[] = {
    {"generic",
     NULL,
     "",
     "any OpenCL 1.2 device",
     {{"gemm_f32.tm", 4},
      {"gemm_f32.vw", 4},
      {"gemm_f32.nv", 1},
      {"gemm_f32.wg0", 8},
      {"gemm_f32.wg1", 8},
      {NULL, 0}}},
    /* CPUs: large register tiles in SIMD registers, one tile per
     * work-item, single-item groups (PoCL otherwise packs the whole NDRange
     * into a few groups and leaves cores idle). */
    {"cpu",
     "generic",
     "",
     "CPU devices",
     {{"gemm_f32.tm", 6},
      {"gemm_f32.vw", 16},
      {"gemm_f32.nv", 2},
      {"gemm_f32.wg0", 1},
      {"gemm_f32.wg1", 1},
      {"conv2d_f32.vw", 16},
      {"conv2d_f32.rows", 0},
      {"conv2d_f32.wg", 1},
      {"conv2d_f32.direct_max_k", 0},
      {"conv2d_f32.direct_max_mg", 2},
      {"conv2d_f32.batch_cols", 2048},
      {"conv2d_f32.scratch_mb", 64},
      {"conv2d_f32.winograd", 0}, /* measured slower than the implicit GEMM */
      /* One queue: a kernel already fills every core, and an inception
       * module on two queues measured 1.00-1.03x as fast for 1.6x the
       * device activation memory. */
      {"exec.queues", 1},
      {NULL, 0}}},
    {"pocl", "cpu", "", "PoCL CPU device (CI, laptops): measured on Zen 4, PoCL 3.1", {{NULL, 0}}},
    {"nvidia",
     "generic",
     "",
     "NVIDIA GPUs",
     {{"gemm_f32.wg0", 16}, {"gemm_f32.wg1", 16}, {NULL, 0}}},
    {"amd", "generic", "", "AMD GPUs", {{"gemm_f32.wg0", 16}, {"gemm_f32.wg1", 16}, {NULL, 0}}},
    {"intel_gpu", "generic", "", "Intel integrated GPUs", {{NULL, 0}}},
    {"mali",
     "generic",
     "",
     "Arm Mali GPUs (no fast local memory: registers and caches)",
     {{"gemm_f32.wg0", 4}, {"gemm_f32.wg1", 16}, {NULL, 0}}},
    {"mali_midgard",
     "mali",
     "",
     "Mali T6xx-T8xx (Midgard, vector ALUs)",
     {{"gemm_f32.nv", 2}, {NULL, 0}}},
    {"mali_bifrost", "mali", "", "Mali G31-G76 (Bifrost)", {{NULL, 0}}},
    {"mali_valhall",
     "mali",
     "",
     "Mali G57/G77 and later (Valhall)",
     {{"gemm_f32.wg0", 8}, {NULL, 0}}},
    {"adreno",
     "generic",
     "",
     "Qualcomm Adreno GPUs",
     {{"gemm_f32.wg0", 8}, {"gemm_f32.wg1", 16}, {NULL, 0}}},
    {"adreno_5xx", "adreno", "", "Adreno 5xx", {{NULL, 0}}},
    {"adreno_6xx", "adreno", "", "Adreno 6xx", {{NULL, 0}}},
    {"adreno_7xx", "adreno", "", "Adreno 7xx and later", {{"gemm_f32.wg1", 32}, {NULL, 0}}},
};

#define PROFILE_COUNT (sizeof profiles / sizeof profiles[0])

const pare_profile *pare_profile_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < PROFILE_COUNT; i++)
    if (!strcmp(profiles[i].name, name)) return &profiles[i];
  return NULL;
}

const pare_profile *const *pare_profile_all(void) {
  static const pare_profile *list[PROFILE_COUNT + 1];
  for (size_t i = 0; i < PROFILE_COUNT; i++) list[i] = &profiles[i];
  list[PROFILE_COUNT] = NULL;
  return list;
}

int pare_profile_int(const pare_profile *p, const char *key, int fallback) {
  for (int depth = 0; p && depth < 16; depth++, p = pare_profile_find(p->parent)) {
    for (int i = 0; i < PARE_PROFILE_MAX_PARAMS && p->params[i].key; i++)
      if (!strcmp(p->params[i].key, key)) return p->params[i].value;
  }
  return fallback;
}

void pare_profile_build_options(const pare_profile *p, char *buf, size_t size) {
  const pare_profile *chain[16];
  int n = 0;
  for (; p && n < 16; p = pare_profile_find(p->parent)) chain[n++] = p;
  buf[0] = '\0';
  size_t used = 0;
  for (int i = n - 1; i >= 0; i--) {
    const char *o = chain[i]->build_options;
    if (!o || !o[0]) continue;
    int w = snprintf(buf + used, size - used, "%s%s", used ? " " : "", o);
    if (w < 0 || (size_t)w >= size - used) break;
    used += (size_t)w;
  }
}

/* The first number after `prefix` in `s`, or -1. */
static int number_after(const char *s, const char *prefix) {
  const char *p = pare_str_find_ci(s, prefix);
  if (!p) return -1;
  p += strlen(prefix);
  while (*p && !isdigit((unsigned char)*p)) p++;
  if (!*p) return -1;
  int v = 0;
  while (isdigit((unsigned char)*p) && v < 100000) v = v * 10 + (*p++ - '0');
  return v;
}

static void set(pare_family *f, const char *family, const char *profile) {
  pare_strlcpy(f->family, family, sizeof f->family);
  pare_strlcpy(f->profile, profile, sizeof f->profile);
}

static void detect_mali(pare_family *f, const char *name) {
  /* Midgard: Mali-T6xx/T7xx/T8xx. Valhall: G57, G77, G68, G78, G310 and the
   * G5xx/G6xx/G7xx of 2021 on (G510, G610, G710, G615, G715, G720, ...).
   * Bifrost: G31, G51, G52, G71, G72, G76. */
  if (pare_str_find_ci(name, "Mali-T")) {
    set(f, "mali-midgard", "mali_midgard");
    return;
  }
  int g = number_after(name, "Mali-G");
  if (g < 0) {
    set(f, "mali", "mali");
    return;
  }
  int valhall = g == 57 || g == 77 || g == 68 || g == 78 || g >= 100;
  if (valhall)
    set(f, "mali-valhall", "mali_valhall");
  else
    set(f, "mali-bifrost", "mali_bifrost");
}

static void detect_adreno(pare_family *f, const char *name) {
  int n = number_after(name, "Adreno");
  if (n >= 700)
    set(f, "adreno-7xx", "adreno_7xx");
  else if (n >= 600)
    set(f, "adreno-6xx", "adreno_6xx");
  else if (n >= 500)
    set(f, "adreno-5xx", "adreno_5xx");
  else
    set(f, "adreno", "adreno");
}

pare_family pare_family_detect(const char *platform, const char *name, const char *vendor,
                               int is_cpu) {
  pare_family f;
  set(&f, "generic", "generic");
  if (pare_str_find_ci(platform, "Portable Computing Language") ||
      pare_str_find_ci(platform, "PoCL")) {
    if (is_cpu) set(&f, "cpu-pocl", "pocl");
    return f;
  }
  if (pare_str_find_ci(name, "Mali") || pare_str_find_ci(vendor, "ARM")) {
    detect_mali(&f, name);
    return f;
  }
  if (pare_str_find_ci(name, "Adreno") || pare_str_find_ci(vendor, "Qualcomm")) {
    detect_adreno(&f, name);
    return f;
  }
  if (is_cpu) {
    set(&f, "cpu", "cpu");
    return f;
  }
  if (pare_str_find_ci(vendor, "NVIDIA"))
    set(&f, "nvidia", "nvidia");
  else if (pare_str_find_ci(vendor, "Advanced Micro Devices") || pare_str_find_ci(vendor, "AMD"))
    set(&f, "amd", "amd");
  else if (pare_str_find_ci(vendor, "Intel"))
    set(&f, "intel-gpu", "intel_gpu");
  return f;
}
