/* Reaching OpenCL: the linked ICD loader, or a vendor library opened with
 * dlopen. Android ships OpenCL under vendor-specific names and paths; the
 * Pixel library must be switched on through its enableOpenCL() hook. */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>

#include "host/cl_api.h"

const char *const pare_cl_library_candidates[] = {
    "libOpenCL.so",
    "libOpenCL.so.1",
    "/system/vendor/lib64/libOpenCL.so",
    "/system/lib64/libOpenCL.so",
    "/vendor/lib64/libOpenCL.so",
    "/system/vendor/lib64/egl/libGLES_mali.so",
    "/system/lib64/egl/libGLES_mali.so",
    "/vendor/lib64/egl/libGLES_mali.so",
    "libGLES_mali.so",
    "/system/vendor/lib64/libmali.so",
    "/vendor/lib64/libmali.so",
    "libmali.so",
    "/system/vendor/lib64/libOpenCL-pixel.so",
    "/vendor/lib64/libOpenCL-pixel.so",
    "libOpenCL-pixel.so",
    "/system/vendor/lib/libOpenCL.so",
    "/system/lib/libOpenCL.so",
    NULL,
};

static pare_status fill_from_handle(void *handle, const char *name, pare_cl_api *api,
                                    pare_error *err) {
  memset(api, 0, sizeof *api);
#define PARE_CL_DLSYM(ret, fn, params)                                                             \
  *(void **)(&api->fn) = dlsym(handle, #fn);                                                       \
  if (!api->fn)                                                                                    \
    return pare_error_set(err, PARE_ERR_NO_DEVICE, "%s: OpenCL library lacks %s", name, #fn);
  PARE_CL_FUNCTIONS(PARE_CL_DLSYM)
#undef PARE_CL_DLSYM
  /* The Pixel library stays dormant until its hook is called. */
  void (*enable)(void) = NULL;
  *(void **)(&enable) = dlsym(handle, "enableOpenCL");
  if (enable) enable();
  pare_strlcpy(api->source, name, sizeof api->source);
  return PARE_OK;
}

pare_status pare_cl_load_library(const char *name, pare_cl_api *api, void **handle,
                                 pare_error *err) {
  *handle = NULL;
  if (name) {
    void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (!h) return pare_error_set(err, PARE_ERR_NO_DEVICE, "cannot open %s: %s", name, dlerror());
    pare_status st = fill_from_handle(h, name, api, err);
    if (st != PARE_OK) {
      dlclose(h);
      return st;
    }
    *handle = h;
    return PARE_OK;
  }
  const char *forced = pare_env("PARE_OPENCL_LIBRARY");
  if (forced) return pare_cl_load_library(forced, api, handle, err);
  for (int i = 0; pare_cl_library_candidates[i]; i++) {
    if (pare_cl_load_library(pare_cl_library_candidates[i], api, handle, NULL) == PARE_OK)
      return PARE_OK;
  }
  return pare_error_set(err, PARE_ERR_NO_DEVICE,
                        "no OpenCL library found (tried libOpenCL.so, libGLES_mali.so, "
                        "libmali.so, libOpenCL-pixel.so and the /system/vendor paths; "
                        "set PARE_OPENCL_LIBRARY to its path)");
}

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static pare_cl_api loaded;
static int loaded_ok;
static pare_error load_error;

static void load(void) {
#ifdef PARE_OPENCL_DLOPEN
  void *handle = NULL;
  loaded_ok = pare_cl_load_library(NULL, &loaded, &handle, &load_error) == PARE_OK;
#else
#define PARE_CL_LINKED(ret, fn, params) loaded.fn = fn;
  PARE_CL_FUNCTIONS(PARE_CL_LINKED)
#undef PARE_CL_LINKED
  pare_strlcpy(loaded.source, "linked ICD loader", sizeof loaded.source);
  loaded_ok = 1;
#endif
}

const pare_cl_api *pare_cl_get(pare_error *err) {
  pthread_once(&load_once, load);
  if (!loaded_ok) {
    pare_error_set(err, PARE_ERR_NO_DEVICE, "%s", load_error.text);
    return NULL;
  }
  return &loaded;
}
