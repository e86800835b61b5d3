/* The OpenCL runtime: context and queue creation, program building with
 * the binary cache, buffers and launches, each error naming what failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/device.h"
#include "host/program_cache.h"
#include "host/runtime.h"
#include "host/tuning.h"

static void release_program(pare_cl_runtime *rt, pare_rt_program *p) {
  for (int k = 0; k < p->kernel_count; k++) rt->cl->clReleaseKernel(p->kernels[k].kernel);
  rt->cl->clReleaseProgram(p->program);
}

static pare_status cl_fail(pare_error *err, cl_int rc, const char *what) {
  return pare_error_set(err, PARE_ERR_OPENCL, "%s failed: %s (%d)", what, pare_cl_error_name(rc),
                        (int)rc);
}

pare_status pare_cl_runtime_create(const pare_cl_runtime_options *opt, pare_cl_runtime **out,
                                   pare_error *err) {
  *out = NULL;
  pare_cl_runtime_options none = {0};
  if (!opt) opt = &none;
  const pare_cl_api *cl = pare_cl_get(err);
  if (!cl) return PARE_ERR_NO_DEVICE;

  pare_cl_device *devs = calloc(PARE_MAX_DEVICES, sizeof *devs);
  if (!devs) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  size_t count = 0, pick = 0;
  pare_status st = pare_cl_devices_enumerate(cl, devs, PARE_MAX_DEVICES, &count, err);
  if (count > PARE_MAX_DEVICES) count = PARE_MAX_DEVICES;
  const char *selector = opt->device ? opt->device : pare_env("PARE_DEVICE");
  if (st == PARE_OK) st = pare_cl_device_select(devs, count, selector, &pick, err);
  if (st != PARE_OK) {
    free(devs);
    return st;
  }

  pare_cl_runtime *rt = calloc(1, sizeof *rt);
  if (!rt) {
    free(devs);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  pthread_mutex_init(&rt->lock, NULL);
  static uint64_t next_id = 1;
  static pthread_mutex_t id_lock = PTHREAD_MUTEX_INITIALIZER;
  pthread_mutex_lock(&id_lock);
  rt->id = next_id++;
  pthread_mutex_unlock(&id_lock);
  rt->cl = cl;
  rt->platform = devs[pick].platform;
  rt->device = devs[pick].device;
  rt->info = devs[pick].info;
  free(devs);

  const char *forced = opt->profile ? opt->profile : pare_env("PARE_PROFILE");
  rt->profile = pare_profile_find(forced ? forced : rt->info.profile);
  if (!rt->profile) {
    pare_cl_runtime_destroy(rt);
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "unknown device profile \"%s\" (PARE_PROFILE; `pare devices --profiles` "
                          "lists them)",
                          forced ? forced : rt->info.profile);
  }
  pare_strlcpy(rt->info.profile, rt->profile->name, sizeof rt->info.profile);
  rt->no_tune = opt->no_tune || pare_env_on("PARE_NO_TUNE");
  const char *queues = pare_env("PARE_QUEUES");
  rt->max_queues =
      queues && *queues ? atoi(queues) : pare_profile_int(rt->profile, "exec.queues", 2);
  if (opt->one_queue || rt->max_queues < 1) rt->max_queues = 1;
  if (rt->max_queues > PARE_RT_QUEUES) rt->max_queues = PARE_RT_QUEUES;
  pare_log(PARE_LOG_DEBUG, "device \"%s\" (%s), profile %s%s", rt->info.name, rt->info.family,
           rt->profile->name, forced ? " (forced)" : "");
  pare_profile_build_options(rt->profile, rt->build_options, sizeof rt->build_options);

  if (!opt->no_cache &&
      pare_program_cache_dir(opt->cache_dir, rt->cache_dir, sizeof rt->cache_dir) != PARE_OK)
    rt->cache_dir[0] = '\0';

  cl_int rc;
  rt->context = cl->clCreateContext(NULL, 1, &rt->device, NULL, NULL, &rc);
  if (rc != CL_SUCCESS || !rt->context) {
    rt->context = NULL;
    pare_cl_runtime_destroy(rt);
    return cl_fail(err, rc, "clCreateContext");
  }
  st = pare_cl_use_queue(rt, 0, err);
  if (st != PARE_OK) {
    pare_cl_runtime_destroy(rt);
    return st;
  }
  *out = rt;
  return PARE_OK;
}

void pare_cl_runtime_destroy(pare_cl_runtime *rt) {
  if (!rt) return;
  for (int i = 0; i < rt->program_count; i++) release_program(rt, &rt->programs[i]);
  for (int q = 0; q < PARE_RT_QUEUES; q++)
    if (rt->queues[q]) rt->cl->clReleaseCommandQueue(rt->queues[q]);
  if (rt->context) rt->cl->clReleaseContext(rt->context);
  pare_tuning_free(rt);
  free(rt->conv_plans);
  pthread_mutex_destroy(&rt->lock);
  free(rt);
}

pare_status pare_cl_kernel_source(pare_kernel_id id, char **out, pare_error *err) {
  *out = NULL;
  if ((int)id < 0 || id >= PARE_KERNEL_COUNT)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "unknown kernel id %d", (int)id);
  const pare_kernel_source *common = &pare_kernel_sources[PARE_KERNEL_COUNT];
  const pare_kernel_source *ks = &pare_kernel_sources[id];
  const char *dir = pare_env("PARE_KERNEL_DIR");
  void *disk_common = NULL, *disk_kernel = NULL;
  size_t common_len = common->length, kernel_len = ks->length;
  const char *common_text = common->text, *kernel_text = ks->text;
  if (dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/common.h", dir);
    pare_status st = pare_file_read(path, &disk_common, &common_len, err);
    if (st != PARE_OK) return st;
    snprintf(path, sizeof path, "%s/%s.cl", dir, ks->name);
    st = pare_file_read(path, &disk_kernel, &kernel_len, err);
    if (st != PARE_OK) {
      free(disk_common);
      return st;
    }
    common_text = disk_common;
    kernel_text = disk_kernel;
  }
  size_t total = common_len + kernel_len + 128;
  char *src = malloc(total);
  if (src) {
    size_t at = (size_t)snprintf(src, total, "#line 1 \"common.h\"\n");
    memcpy(src + at, common_text, common_len);
    at += common_len;
    at += (size_t)snprintf(src + at, total - at, "\n#line 1 \"%.40s.cl\"\n", ks->name);
    memcpy(src + at, kernel_text, kernel_len);
    src[at + kernel_len] = '\0';
  }
  free(disk_common);
  free(disk_kernel);
  if (!src) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  *out = src;
  return PARE_OK;
}

/* The end of the build log, where compilers put the first error last. */
static void build_log_excerpt(pare_cl_runtime *rt, cl_program prog, char *buf, size_t size) {
  size_t n = 0;
  buf[0] = '\0';
  if (rt->cl->clGetProgramBuildInfo(prog, rt->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n) !=
          CL_SUCCESS ||
      n == 0)
    return;
  char *log = malloc(n + 1);
  if (!log) return;
  if (rt->cl->clGetProgramBuildInfo(prog, rt->device, CL_PROGRAM_BUILD_LOG, n, log, NULL) ==
      CL_SUCCESS) {
    log[n] = '\0';
    size_t len = strlen(log);
    const char *start = len > size - 1 ? log + len - (size - 1) : log;
    pare_strlcpy(buf, start, size);
  }
  free(log);
}

static pare_status build_from_binary(pare_cl_runtime *rt, const unsigned char *bin, size_t size,
                                     const char *options, cl_program *out) {
  cl_int rc, bin_rc;
  cl_program prog =
      rt->cl->clCreateProgramWithBinary(rt->context, 1, &rt->device, &size, &bin, &bin_rc, &rc);
  if (rc != CL_SUCCESS || bin_rc != CL_SUCCESS || !prog) {
    if (prog) rt->cl->clReleaseProgram(prog);
    return PARE_ERR_BUILD;
  }
  if (rt->cl->clBuildProgram(prog, 1, &rt->device, options, NULL, NULL) != CL_SUCCESS) {
    rt->cl->clReleaseProgram(prog);
    return PARE_ERR_BUILD;
  }
  *out = prog;
  return PARE_OK;
}

static void store_binary(pare_cl_runtime *rt, cl_program prog, const char *key) {
  size_t size = 0;
  if (rt->cl->clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) !=
          CL_SUCCESS ||
      size == 0)
    return;
  unsigned char *bin = malloc(size);
  if (!bin) return;
  pare_error e;
  if (rt->cl->clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bin, &bin, NULL) == CL_SUCCESS &&
      pare_program_cache_store(rt->cache_dir, key, bin, size, &e) != PARE_OK)
    pare_log_once("cache-store", PARE_LOG_WARN, "program cache not written: %s", e.text);
  free(bin);
}

static pare_status build_program(pare_cl_runtime *rt, pare_kernel_id id, const char *prefix,
                                 const char *defines, cl_program *out, pare_error *err) {
  char *src = NULL;
  pare_status st = pare_cl_kernel_source(id, &src, err);
  if (st != PARE_OK) return st;
  if (prefix[0]) { /* generated text first, then the kernel file (its #line restarts the count) */
    size_t plen = strlen(prefix), slen = strlen(src);
    char *joined = malloc(plen + slen + 2);
    if (!joined) {
      free(src);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    memcpy(joined, prefix, plen);
    joined[plen] = '\n';
    memcpy(joined + plen + 1, src, slen + 1);
    free(src);
    src = joined;
  }
  size_t opt_len = strlen(rt->build_options) + strlen(defines) + 2;
  char *options = malloc(opt_len);
  size_t key_cap = opt_len + 3 * 128 + 256;
  char *key = malloc(key_cap);
  if (!options || !key) {
    free(src);
    free(options);
    free(key);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  snprintf(options, opt_len, "%s %s", rt->build_options, defines);
  char platform_version[128] = "";
  rt->cl->clGetPlatformInfo(rt->platform, CL_PLATFORM_VERSION, sizeof platform_version,
                            platform_version, NULL);
  platform_version[sizeof platform_version - 1] = '\0';
  snprintf(key, key_cap, "src=%016llx\nopts=%s\ndevice=%s\ndriver=%s\nplatform=%s\n",
           (unsigned long long)pare_hash64(src, strlen(src), PARE_HASH_SEED), options,
           rt->info.name, rt->info.driver_version, platform_version);

  double t0 = pare_now();
  cl_program prog = NULL;
  int cached = 0;
  if (rt->cache_dir[0]) {
    unsigned char *bin = NULL;
    size_t bin_size = 0;
    pare_error e;
    pare_status cst = pare_program_cache_load(rt->cache_dir, key, &bin, &bin_size, &e);
    if (cst == PARE_OK) {
      cached = build_from_binary(rt, bin, bin_size, options, &prog) == PARE_OK;
      if (!cached)
        pare_log(PARE_LOG_INFO, "program cache entry for %s rejected by the driver; rebuilding",
                 pare_kernel_sources[id].name);
    } else if (cst == PARE_ERR_FORMAT) {
      pare_log(PARE_LOG_INFO, "%s; rebuilding", e.text);
    }
    free(bin);
  }
  if (!prog) {
    cl_int rc;
    const char *text = src;
    prog = rt->cl->clCreateProgramWithSource(rt->context, 1, &text, NULL, &rc);
    if (rc != CL_SUCCESS || !prog) {
      st = cl_fail(err, rc, "clCreateProgramWithSource");
      goto done;
    }
    rc = rt->cl->clBuildProgram(prog, 1, &rt->device, options, NULL, NULL);
    if (rc != CL_SUCCESS) {
      char log[600];
      build_log_excerpt(rt, prog, log, sizeof log);
      rt->cl->clReleaseProgram(prog);
      prog = NULL;
      st = pare_error_set(err, PARE_ERR_BUILD, "kernel %s.cl failed to build (%s) with \"%s\": %s",
                          pare_kernel_sources[id].name, pare_cl_error_name(rc), options, log);
      goto done;
    }
    if (rt->cache_dir[0]) store_binary(rt, prog, key);
  }
  rt->last_build_seconds = pare_now() - t0;
  rt->last_build_cached = cached;
  *out = prog;
done:
  free(src);
  free(options);
  free(key);
  return st;
}

pare_status pare_cl_program(pare_cl_runtime *rt, pare_kernel_id id, const char *defines,
                            cl_program *out, pare_error *err) {
  return pare_cl_program_ex(rt, id, NULL, 0, defines, out, err);
}

pare_status pare_cl_program_ex(pare_cl_runtime *rt, pare_kernel_id id, const char *prefix,
                               uint64_t prefix_hash, const char *defines, cl_program *out,
                               pare_error *err) {
  if (!defines) defines = "";
  if (!prefix) prefix = "";
  uint64_t dh = pare_hash64(defines, strlen(defines), PARE_HASH_SEED);
  if (prefix[0]) {
    if (!prefix_hash) prefix_hash = pare_hash64(prefix, strlen(prefix), PARE_HASH_SEED);
    dh ^= prefix_hash * UINT64_C(0x9e3779b97f4a7c15);
  }
  pthread_mutex_lock(&rt->lock);
  for (int i = 0; i < rt->program_count; i++) {
    if (rt->programs[i].id == id && rt->programs[i].defines_hash == dh) {
      *out = rt->programs[i].program;
      pthread_mutex_unlock(&rt->lock);
      return PARE_OK;
    }
  }
  cl_program prog = NULL;
  pare_status st = build_program(rt, id, prefix, defines, &prog, err);
  if (st == PARE_OK) {
    if (rt->program_count == PARE_RT_MAX_PROGRAMS) {
      /* Full: drop the oldest; kernels handed out keep it alive. */
      release_program(rt, &rt->programs[0]);
      memmove(rt->programs, rt->programs + 1, sizeof rt->programs[0] * (PARE_RT_MAX_PROGRAMS - 1));
      rt->program_count--;
    }
    pare_rt_program *slot = &rt->programs[rt->program_count++];
    memset(slot, 0, sizeof *slot);
    slot->id = id;
    slot->defines_hash = dh;
    slot->program = prog;
    *out = prog;
  }
  pthread_mutex_unlock(&rt->lock);
  return st;
}

pare_status pare_cl_kernel(pare_cl_runtime *rt, pare_kernel_id id, const char *defines,
                           const char *name, cl_kernel *out, pare_error *err) {
  return pare_cl_kernel_ex(rt, id, NULL, 0, defines, name, out, err);
}

pare_status pare_cl_kernel_ex(pare_cl_runtime *rt, pare_kernel_id id, const char *prefix,
                              uint64_t prefix_hash, const char *defines, const char *name,
                              cl_kernel *out, pare_error *err) {
  cl_program prog;
  *out = NULL;
  pare_status st = pare_cl_program_ex(rt, id, prefix, prefix_hash, defines, &prog, err);
  if (st != PARE_OK) return st;
  pthread_mutex_lock(&rt->lock);
  pare_rt_program *slot = NULL;
  for (int i = 0; i < rt->program_count && !slot; i++)
    if (rt->programs[i].program == prog) slot = &rt->programs[i];
  for (int k = 0; slot && k < slot->kernel_count && !*out; k++)
    if (!strcmp(slot->kernels[k].name, name)) *out = slot->kernels[k].kernel;
  if (!*out) {
    cl_int rc;
    cl_kernel kern = rt->cl->clCreateKernel(prog, name, &rc);
    if (rc != CL_SUCCESS || !kern) {
      pthread_mutex_unlock(&rt->lock);
      return pare_error_set(err, PARE_ERR_OPENCL, "clCreateKernel(%s) failed: %s", name,
                            pare_cl_error_name(rc));
    }
    if (slot && slot->kernel_count < PARE_RT_KERNELS_PER_PROGRAM &&
        strlen(name) < sizeof slot->kernels[0].name) {
      pare_strlcpy(slot->kernels[slot->kernel_count].name, name, sizeof slot->kernels[0].name);
      slot->kernels[slot->kernel_count++].kernel = kern;
      rt->cl->clRetainKernel(kern); /* one reference kept here, one for the caller */
    }
    *out = kern;
  } else {
    rt->cl->clRetainKernel(*out);
  }
  pthread_mutex_unlock(&rt->lock);
  return PARE_OK;
}

pare_status pare_cl_buffer(pare_cl_runtime *rt, cl_mem_flags flags, size_t size, const void *host,
                           cl_mem *out, pare_error *err) {
  cl_int rc;
  if (size == 0) size = 4; /* OpenCL forbids empty buffers */
  *out = rt->cl->clCreateBuffer(rt->context, flags, size, NULL, &rc);
  if (rc != CL_SUCCESS || !*out) {
    *out = NULL;
    return pare_error_set(err, PARE_ERR_OPENCL, "clCreateBuffer(%zu bytes) failed: %s", size,
                          pare_cl_error_name(rc));
  }
  if (host) {
    pare_status st = pare_cl_write(rt, *out, 0, size, host, err);
    if (st != PARE_OK) {
      rt->cl->clReleaseMemObject(*out);
      *out = NULL;
      return st;
    }
  }
  return PARE_OK;
}

static pare_status transfer(pare_cl_runtime *rt, int write, cl_bool blocking, cl_mem buf,
                            size_t offset, size_t size, void *host, pare_error *err) {
  cl_int rc = write ? rt->cl->clEnqueueWriteBuffer(rt->queue, buf, blocking, offset, size, host, 0,
                                                   NULL, NULL)
                    : rt->cl->clEnqueueReadBuffer(rt->queue, buf, blocking, offset, size, host, 0,
                                                  NULL, NULL);
  if (rc == CL_SUCCESS) return PARE_OK;
  return cl_fail(err, rc, write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer");
}

pare_status pare_cl_write(pare_cl_runtime *rt, cl_mem buf, size_t offset, size_t size,
                          const void *src, pare_error *err) {
  return transfer(rt, 1, CL_TRUE, buf, offset, size, (void *)src, err);
}

pare_status pare_cl_read(pare_cl_runtime *rt, cl_mem buf, size_t offset, size_t size, void *dst,
                         pare_error *err) {
  return transfer(rt, 0, CL_TRUE, buf, offset, size, dst, err);
}

pare_status pare_cl_write_async(pare_cl_runtime *rt, cl_mem buf, size_t offset, size_t size,
                                const void *src, pare_error *err) {
  return transfer(rt, 1, CL_FALSE, buf, offset, size, (void *)src, err);
}

pare_status pare_cl_read_async(pare_cl_runtime *rt, cl_mem buf, size_t offset, size_t size,
                               void *dst, pare_error *err) {
  return transfer(rt, 0, CL_FALSE, buf, offset, size, dst, err);
}

pare_status pare_cl_set_arg(pare_cl_runtime *rt, cl_kernel k, cl_uint index, size_t size,
                            const void *value, const char *what, pare_error *err) {
  cl_int rc = rt->cl->clSetKernelArg(k, index, size, value);
  if (rc == CL_SUCCESS) return PARE_OK;
  return pare_error_set(err, PARE_ERR_OPENCL, "clSetKernelArg(%s, arg %u) failed: %s", what,
                        (unsigned)index, pare_cl_error_name(rc));
}

pare_status pare_cl_launch(pare_cl_runtime *rt, cl_kernel k, const char *what, cl_uint dims,
                           const size_t *global, const size_t *local, cl_event *event,
                           pare_error *err) {
  cl_int rc =
      rt->cl->clEnqueueNDRangeKernel(rt->queue, k, dims, NULL, global, local, 0, NULL, event);
  if (rc == CL_SUCCESS) return PARE_OK;
  return pare_error_set(err, PARE_ERR_OPENCL,
                        "launching %s (global %zux%zu, local %zux%zu) failed: %s", what, global[0],
                        dims > 1 ? global[1] : 1, local ? local[0] : 0,
                        local && dims > 1 ? local[1] : 0, pare_cl_error_name(rc));
}

pare_status pare_cl_finish(pare_cl_runtime *rt, pare_error *err) {
  cl_int rc = rt->cl->clFinish(rt->queue);
  return rc == CL_SUCCESS ? PARE_OK : cl_fail(err, rc, "clFinish");
}

pare_status pare_cl_use_queue(pare_cl_runtime *rt, int q, pare_error *err) {
  if (q < 0 || q >= PARE_RT_QUEUES)
    return pare_error_set(err, PARE_ERR_INTERNAL, "queue %d of a runtime with %d", q,
                          PARE_RT_QUEUES);
  if (!rt->queues[q]) {
    cl_int rc = CL_SUCCESS;
    rt->queues[q] =
        rt->cl->clCreateCommandQueue(rt->context, rt->device, CL_QUEUE_PROFILING_ENABLE, &rc);
    if (rc != CL_SUCCESS || !rt->queues[q]) {
      rt->queues[q] = NULL;
      return cl_fail(err, rc, "clCreateCommandQueue");
    }
  }
  rt->queue = rt->queues[q];
  return PARE_OK;
}

pare_status pare_cl_queue_after(pare_cl_runtime *rt, int waiter, int waited, pare_error *err) {
  cl_command_queue a = waiter >= 0 && waiter < PARE_RT_QUEUES ? rt->queues[waiter] : NULL;
  cl_command_queue b = waited >= 0 && waited < PARE_RT_QUEUES ? rt->queues[waited] : NULL;
  if (!a || !b)
    return pare_error_set(err, PARE_ERR_INTERNAL, "queue %d or %d was never made", waiter, waited);
  cl_event marker = NULL;
  cl_int rc = rt->cl->clEnqueueMarkerWithWaitList(b, 0, NULL, &marker);
  if (rc != CL_SUCCESS) return cl_fail(err, rc, "clEnqueueMarkerWithWaitList");
  rc = rt->cl->clEnqueueBarrierWithWaitList(a, 1, &marker, NULL);
  rt->cl->clReleaseEvent(marker);
  return rc == CL_SUCCESS ? PARE_OK : cl_fail(err, rc, "clEnqueueBarrierWithWaitList");
}

pare_status pare_cl_finish_queue(pare_cl_runtime *rt, int q, pare_error *err) {
  cl_int rc =
      q >= 0 && q < PARE_RT_QUEUES && rt->queues[q] ? rt->cl->clFinish(rt->queues[q]) : CL_SUCCESS;
  return rc == CL_SUCCESS ? PARE_OK : cl_fail(err, rc, "clFinish");
}

pare_status pare_cl_flush_queue(pare_cl_runtime *rt, int q, pare_error *err) {
  cl_int rc =
      q >= 0 && q < PARE_RT_QUEUES && rt->queues[q] ? rt->cl->clFlush(rt->queues[q]) : CL_SUCCESS;
  return rc == CL_SUCCESS ? PARE_OK : cl_fail(err, rc, "clFlush");
}

pare_status pare_cl_finish_all(pare_cl_runtime *rt, pare_error *err) {
  pare_status st = PARE_OK;
  for (int q = 0; q < PARE_RT_QUEUES && st == PARE_OK; q++) st = pare_cl_finish_queue(rt, q, err);
  return st;
}

double pare_cl_event_ms(pare_cl_runtime *rt, cl_event ev) {
  cl_ulong start = 0, end = 0;
  rt->cl->clWaitForEvents(1, &ev);
  rt->cl->clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL);
  rt->cl->clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
  return end > start ? (double)(end - start) * 1e-6 : 0.0;
}

cl_event *pare_cl_seq_event(pare_cl_seq *seq) {
  if (!seq->want_event) return NULL;
  if (seq->last) seq->rt->cl->clReleaseEvent(seq->last);
  seq->last = NULL;
  return &seq->last;
}

static pare_status seq_launch(pare_cl_seq *seq, cl_kernel k, const char *name,
                              const pare_cl_arg *args, size_t nargs, size_t g0, size_t g1,
                              int use_local, pare_error *err) {
  pare_status st = PARE_OK;
  for (cl_uint i = 0; i < nargs && st == PARE_OK; i++)
    st = pare_cl_set_arg(seq->rt, k, i, args[i].size, args[i].value, name, err);
  if (st != PARE_OK) return st;
  if (use_local) g0 = (g0 + seq->local[0] - 1) / seq->local[0] * seq->local[0];
  size_t global[2] = {g0, g1};
  return pare_cl_launch(seq->rt, k, name, 2, global, use_local ? seq->local : NULL,
                        pare_cl_seq_event(seq), err);
}

pare_status pare_cl_seq_launch(pare_cl_seq *seq, cl_kernel k, const char *name,
                               const pare_cl_arg *args, size_t nargs, size_t g0, size_t g1,
                               pare_error *err) {
  return seq_launch(seq, k, name, args, nargs, g0, g1, seq->use_local, err);
}

pare_status pare_cl_seq_launch_driver_local(pare_cl_seq *seq, cl_kernel k, const char *name,
                                            const pare_cl_arg *args, size_t nargs, size_t g0,
                                            size_t g1, pare_error *err) {
  return seq_launch(seq, k, name, args, nargs, g0, g1, 0, err);
}

int pare_cl_is_cpu(const pare_cl_runtime *rt) { return !strcmp(rt->info.type, "cpu"); }

static size_t round_to(size_t x, size_t to) { return (x + to - 1) / to * to; }

pare_status pare_cl_chunks_of(pare_cl_runtime *rt, const char *stem, int cpu_chunk,
                              pare_cl_chunks *g, pare_error *err) {
  const pare_profile *p = rt->profile;
  int cpu = pare_cl_is_cpu(rt);
  char key[96];
  snprintf(key, sizeof key, "%s.vw", stem);
  g->vw = pare_profile_int(p, key, cpu ? 16 : 4);
  snprintf(key, sizeof key, "%s.chunk", stem);
  int chunk = pare_profile_int(p, key, cpu ? cpu_chunk : 4);
  snprintf(key, sizeof key, "%s.wg", stem);
  int wg = pare_profile_int(p, key, cpu ? 1 : 64);
  if ((g->vw != 1 && g->vw != 2 && g->vw != 4 && g->vw != 8 && g->vw != 16) || chunk < 1 ||
      chunk > (1 << 20) || wg < 1 || wg > 1024)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad %s vw/chunk/wg", p->name,
                          stem);
  g->chunk = round_to((size_t)chunk, (size_t)g->vw);
  g->wg = (size_t)wg;
  return PARE_OK;
}

size_t pare_cl_chunk_for(const pare_cl_runtime *rt, const pare_cl_chunks *g, size_t n) {
  size_t chunk = g->chunk;
  if (pare_cl_is_cpu(rt)) {
    size_t units = rt->info.compute_units ? rt->info.compute_units : 1;
    size_t want = round_to((n + 2 * units - 1) / (2 * units), (size_t)g->vw);
    size_t floor_ = 16 * (size_t)g->vw;
    if (want < floor_) want = floor_;
    if (want < chunk) chunk = want;
  }
  return chunk;
}
