/* Lists OpenCL devices, fills pare_device_info and verifies optional
 * features by compiling a small kernel that uses them. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "host/device.h"
#include "host/profile.h"

static void info_str(const pare_cl_api *cl, cl_device_id d, cl_device_info what, char *buf,
                     size_t size) {
  buf[0] = '\0';
  if (cl->clGetDeviceInfo(d, what, size, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
  buf[size - 1] = '\0';
}

/* Extensions string (malloc'ed, "" on failure). */
static char *extensions(const pare_cl_api *cl, cl_device_id d) {
  size_t n = 0;
  if (cl->clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, 0, NULL, &n) != CL_SUCCESS) n = 0;
  char *s = calloc(n + 1, 1);
  if (s && n) cl->clGetDeviceInfo(d, CL_DEVICE_EXTENSIONS, n, s, NULL);
  return s;
}

static int has_ext(const char *exts, const char *name) {
  size_t n = strlen(name);
  for (const char *p = exts; p && (p = strstr(p, name)) != NULL; p += n) {
    int starts = p == exts || isspace((unsigned char)p[-1]);
    int ends = p[n] == '\0' || isspace((unsigned char)p[n]);
    if (starts && ends) return 1;
  }
  return 0;
}

/* 1 when `source` builds for the device. */
static int test_compile(const pare_cl_api *cl, cl_device_id d, const char *source) {
  cl_int rc;
  cl_context ctx = cl->clCreateContext(NULL, 1, &d, NULL, NULL, &rc);
  if (rc != CL_SUCCESS || !ctx) return 0;
  int ok = 0;
  cl_program prog = cl->clCreateProgramWithSource(ctx, 1, &source, NULL, &rc);
  if (rc == CL_SUCCESS && prog) {
    ok = cl->clBuildProgram(prog, 1, &d, "", NULL, NULL) == CL_SUCCESS;
    cl->clReleaseProgram(prog);
  }
  cl->clReleaseContext(ctx);
  return ok;
}

static const char probe_fp16[] =
    "#pragma OPENCL EXTENSION cl_khr_fp16 : enable\n"
    "__kernel void probe(__global half *x) { half4 v = vload4(0, x); x[0] = v.x * v.y + v.z; }\n";

/* Integer dot products, each with a kernel that calls its built-in. */
static const struct {
  const char *ext;
  const char *source;
} probe_dot[] = {
    {"cl_khr_integer_dot_product",
     "#pragma OPENCL EXTENSION cl_khr_integer_dot_product : enable\n"
     "__kernel void probe(__global char4 *a, __global int *o) {\n"
     "  o[0] = dot(a[0], a[1]); o[1] = dot_acc_sat(a[0], a[1], o[1]); }\n"},
    {"cl_arm_integer_dot_product_int8",
     "#pragma OPENCL EXTENSION cl_arm_integer_dot_product_int8 : enable\n"
     "__kernel void probe(__global char4 *a, __global int *o) { o[0] = arm_dot(a[0], a[1]); }\n"},
    {"cl_qcom_dot_product8", "#pragma OPENCL EXTENSION cl_qcom_dot_product8 : enable\n"
                             "__kernel void probe(__global uint *a, __global int *o) {\n"
                             "  o[0] = qcom_dot8_acc(a[0], a[1], o[0]); }\n"},
};

static void fill_info(const pare_cl_api *cl, cl_platform_id p, cl_device_id d, int pi,
                      pare_device_info *info) {
  memset(info, 0, sizeof *info);
  info->platform_index = pi;
  info->platform[0] = '\0';
  cl->clGetPlatformInfo(p, CL_PLATFORM_NAME, sizeof info->platform, info->platform, NULL);
  info->platform[sizeof info->platform - 1] = '\0';
  info_str(cl, d, CL_DEVICE_NAME, info->name, sizeof info->name);
  info_str(cl, d, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
  info_str(cl, d, CL_DEVICE_VERSION, info->version, sizeof info->version);
  info_str(cl, d, CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version);

  cl_device_type type = 0;
  cl->clGetDeviceInfo(d, CL_DEVICE_TYPE, sizeof type, &type, NULL);
  const char *t = (type & CL_DEVICE_TYPE_GPU)           ? "gpu"
                  : (type & CL_DEVICE_TYPE_CPU)         ? "cpu"
                  : (type & CL_DEVICE_TYPE_ACCELERATOR) ? "accelerator"
                                                        : "other";
  pare_strlcpy(info->type, t, sizeof info->type);

  cl_uint u = 0;
  cl_ulong ul = 0;
  size_t sz = 0;
  if (cl->clGetDeviceInfo(d, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof u, &u, NULL) == CL_SUCCESS)
    info->compute_units = u;
  u = 0;
  if (cl->clGetDeviceInfo(d, CL_DEVICE_MAX_CLOCK_FREQUENCY, sizeof u, &u, NULL) == CL_SUCCESS)
    info->clock_mhz = u;
  if (cl->clGetDeviceInfo(d, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
    info->global_mem_bytes = ul;
  ul = 0;
  if (cl->clGetDeviceInfo(d, CL_DEVICE_LOCAL_MEM_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
    info->local_mem_bytes = ul;
  ul = 0;
  if (cl->clGetDeviceInfo(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof ul, &ul, NULL) == CL_SUCCESS)
    info->max_alloc_bytes = ul;
  if (cl->clGetDeviceInfo(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof sz, &sz, NULL) == CL_SUCCESS)
    info->max_work_group_size = sz;
  cl_bool img = CL_FALSE;
  if (cl->clGetDeviceInfo(d, CL_DEVICE_IMAGE_SUPPORT, sizeof img, &img, NULL) == CL_SUCCESS)
    info->images = img == CL_TRUE;

  char *exts = extensions(cl, d);
  info->subgroups = has_ext(exts, "cl_khr_subgroups") || has_ext(exts, "cl_intel_subgroups") ||
                    has_ext(exts, "cl_qcom_reqd_sub_group_size") ||
                    has_ext(exts, "cl_arm_subgroups");
  if (has_ext(exts, "cl_khr_fp16")) info->fp16 = test_compile(cl, d, probe_fp16);
  for (size_t i = 0; i < sizeof probe_dot / sizeof probe_dot[0]; i++) {
    if (has_ext(exts, probe_dot[i].ext) && test_compile(cl, d, probe_dot[i].source)) {
      info->int8_dot = 1;
      pare_strlcpy(info->int8_dot_ext, probe_dot[i].ext, sizeof info->int8_dot_ext);
      break;
    }
  }
  free(exts);

  pare_family fam = pare_family_detect(info->platform, info->name, info->vendor,
                                       (type & CL_DEVICE_TYPE_CPU) != 0);
  pare_strlcpy(info->family, fam.family, sizeof info->family);
  pare_strlcpy(info->profile, fam.profile, sizeof info->profile);
}

pare_status pare_cl_devices_enumerate(const pare_cl_api *cl, pare_cl_device *out, size_t capacity,
                                      size_t *count, pare_error *err) {
  *count = 0;
  cl_platform_id platforms[16];
  cl_uint np = 0;
  cl_int rc = cl->clGetPlatformIDs(16, platforms, &np);
  if (rc != CL_SUCCESS || np == 0)
    return pare_error_set(err, PARE_ERR_NO_DEVICE, "no OpenCL platform found (%s)",
                          rc == CL_SUCCESS ? "the ICD loader lists none" : pare_cl_error_name(rc));
  if (np > 16) np = 16;
  size_t n = 0;
  for (cl_uint pi = 0; pi < np; pi++) {
    cl_device_id devs[PARE_MAX_DEVICES];
    cl_uint nd = 0;
    if (cl->clGetDeviceIDs(platforms[pi], CL_DEVICE_TYPE_ALL, PARE_MAX_DEVICES, devs, &nd) !=
        CL_SUCCESS)
      continue;
    if (nd > PARE_MAX_DEVICES) nd = PARE_MAX_DEVICES;
    for (cl_uint di = 0; di < nd; di++) {
      if (out && n < capacity) {
        out[n].platform = platforms[pi];
        out[n].device = devs[di];
        fill_info(cl, platforms[pi], devs[di], (int)pi, &out[n].info);
        out[n].info.device_index = (int)n;
      }
      n++;
    }
  }
  *count = n;
  if (n == 0)
    return pare_error_set(err, PARE_ERR_NO_DEVICE, "OpenCL platforms found, but no devices");
  return PARE_OK;
}

pare_status pare_cl_device_select(const pare_cl_device *devices, size_t count, const char *selector,
                                  size_t *index, pare_error *err) {
  if (count == 0) return pare_error_set(err, PARE_ERR_NO_DEVICE, "no OpenCL device");
  if (!selector) {
    for (size_t i = 0; i < count; i++) {
      if (!strcmp(devices[i].info.type, "gpu")) {
        *index = i;
        return PARE_OK;
      }
    }
    *index = 0;
    return PARE_OK;
  }
  char *end = NULL;
  long v = strtol(selector, &end, 10);
  if (end && end != selector && *end == '\0') {
    if (v < 0 || (size_t)v >= count)
      return pare_error_set(err, PARE_ERR_INVALID_ARG,
                            "device index %ld out of range: %zu device(s) (see `pare devices`)", v,
                            count);
    *index = (size_t)v;
    return PARE_OK;
  }
  for (size_t i = 0; i < count; i++) {
    if (pare_str_find_ci(devices[i].info.name, selector)) {
      *index = i;
      return PARE_OK;
    }
  }
  return pare_error_set(err, PARE_ERR_INVALID_ARG,
                        "no OpenCL device matches \"%s\" (see `pare devices`)", selector);
}
