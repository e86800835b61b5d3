/* The OpenCL runtime of a context: one device, its context and in-order
 * profiled queues, built programs (memory and disk cached), buffers and launches. */
#ifndef PARE_HOST_RUNTIME_H
#define PARE_HOST_RUNTIME_H

#include <pthread.h>

#include "host/cl_api.h"
#include "host/profile.h"
#include "kernels/kernel_sources.h"

#define PARE_RT_MAX_PROGRAMS 64

#define PARE_RT_KERNELS_PER_PROGRAM 8

/* In-order queues of a runtime: the executor runs independent branches of
 * a graph on the second (host/exec_cl.c). */
#define PARE_RT_QUEUES 2

typedef struct pare_rt_program {
  pare_kernel_id id;
  uint64_t defines_hash;
  cl_program program;
  /* Kernel objects made from it, kept for the next launch. */
  struct {
    char name[48];
    cl_kernel kernel;
  } kernels[PARE_RT_KERNELS_PER_PROGRAM];
  int kernel_count;
} pare_rt_program;

typedef struct pare_cl_runtime {
  uint64_t id; /* unique per runtime in this process */
  const pare_cl_api *cl;
  cl_platform_id platform;
  cl_device_id device;
  cl_context context;
  /* Where launches, copies and finishes go: queues[0] unless the executor
   * switched (pare_cl_use_queue). All in order, with profiling. */
  cl_command_queue queue;
  cl_command_queue queues[PARE_RT_QUEUES]; /* [0] made with the runtime, the rest on first use */
  pare_device_info info;
  const pare_profile *profile;
  char build_options[512];
  char cache_dir[1024]; /* "" when the disk cache is off */
  pthread_mutex_t lock;
  pare_rt_program programs[PARE_RT_MAX_PROGRAMS];
  int program_count;
  /* The last program build, for pare-bench's start-up figures. */
  double last_build_seconds;
  int last_build_cached;      /* 1: loaded from the disk cache */
  struct pare_tuning *tuning; /* host/tuning.c, loaded on first use */
  unsigned tuning_version;    /* changes whenever a tuned value does (host/tuning.c) */
  int no_tune;                /* 1: launchers ignore tuned parameters (PARE_NO_TUNE=1) */
  /* Queues the executor may run a plan's independent branches on: 1 or 2
   * (pare_cl_runtime_options.one_queue, else PARE_QUEUES, else the
   * profile's exec.queues). */
  int max_queues;
  /* Recent convolution plans (host/launch/conv2d_geom.c), valid while
   * tuning_version and no_tune stay as they were. */
  struct pare_conv2d_memo *conv_plans;
} pare_cl_runtime;

typedef struct pare_cl_runtime_options {
  const char *device;    /* index or name substring; NULL: PARE_DEVICE or first GPU */
  const char *profile;   /* NULL: PARE_PROFILE or detected */
  const char *cache_dir; /* NULL: PARE_CACHE_DIR or the XDG cache */
  int no_cache;
  int no_tune;   /* 1: launchers ignore tuned parameters (as PARE_NO_TUNE=1) */
  int one_queue; /* 1: the executor uses one queue (as PARE_QUEUES=1) */
} pare_cl_runtime_options;

pare_status pare_cl_runtime_create(const pare_cl_runtime_options *opt, pare_cl_runtime **out,
                                   pare_error *err);
void pare_cl_runtime_destroy(pare_cl_runtime *rt);

/* The program for a kernel source built with `defines` (appended to the
 * profile's options), from memory, the disk cache, or a fresh build. */
pare_status pare_cl_program(pare_cl_runtime *rt, pare_kernel_id id, const char *defines,
                            cl_program *out, pare_error *err);
/* The kernel object `name` of that program, kept by the runtime between
 * calls (clCreateKernel once, not per launch) and retained for the caller,
 * who releases it. Like the queue, it is for one thread at a time. */
pare_status pare_cl_kernel(pare_cl_runtime *rt, pare_kernel_id id, const char *defines,
                           const char *name, cl_kernel *out, pare_error *err);
/* The same for a program whose source starts with generated text
 * `prefix` (NULL or "": none) before the kernel file: code a launcher
 * writes for one layer (conv2d_f32's weights baked into the convolution).
 * Programs are told apart by prefix and defines together; prefix_hash is
 * the prefix's pare_hash64 (seed PARE_HASH_SEED) taken by its writer, so
 * that a launch does not hash kilobytes of text (0: hashed here). */
pare_status pare_cl_program_ex(pare_cl_runtime *rt, pare_kernel_id id, const char *prefix,
                               uint64_t prefix_hash, const char *defines, cl_program *out,
                               pare_error *err);
pare_status pare_cl_kernel_ex(pare_cl_runtime *rt, pare_kernel_id id, const char *prefix,
                              uint64_t prefix_hash, const char *defines, const char *name,
                              cl_kernel *out, pare_error *err);

/* Buffers. flags: CL_MEM_READ_ONLY etc.; `host` (may be NULL) is copied in. */
pare_status pare_cl_buffer(pare_cl_runtime *rt, cl_mem_flags flags, size_t size, const void *host,
                           cl_mem *out, pare_error *err);
pare_status pare_cl_write(pare_cl_runtime *rt, cl_mem buf, size_t offset, size_t size,
                          const void *src, pare_error *err);
pare_status pare_cl_read(pare_cl_runtime *rt, cl_mem buf, size_t offset, size_t size, void *dst,
                         pare_error *err);
/* The same, enqueued without waiting: the host memory must stay untouched
 * (and alive) until a later blocking call or pare_cl_finish returns. */
pare_status pare_cl_write_async(pare_cl_runtime *rt, cl_mem buf, size_t offset, size_t size,
                                const void *src, pare_error *err);
pare_status pare_cl_read_async(pare_cl_runtime *rt, cl_mem buf, size_t offset, size_t size,
                               void *dst, pare_error *err);

/* Sets kernel arguments from (size, pointer) pairs; `what` names the kernel. */
pare_status pare_cl_set_arg(pare_cl_runtime *rt, cl_kernel k, cl_uint index, size_t size,
                            const void *value, const char *what, pare_error *err);
/* Enqueues an NDRange (local may be NULL); `event` may be NULL. */
pare_status pare_cl_launch(pare_cl_runtime *rt, cl_kernel k, const char *what, cl_uint dims,
                           const size_t *global, const size_t *local, cl_event *event,
                           pare_error *err);
pare_status pare_cl_finish(pare_cl_runtime *rt, pare_error *err);
/* Makes queue q (0 .. PARE_RT_QUEUES-1) the one launches, copies and
 * finishes go to, creating it on first use. */
pare_status pare_cl_use_queue(pare_cl_runtime *rt, int q, pare_error *err);
/* Commands enqueued on queue `waiter` from now on start only after every
 * command enqueued so far on queue `waited` has finished (a marker there,
 * a barrier waiting for it here); neither queue is waited on by the host. */
pare_status pare_cl_queue_after(pare_cl_runtime *rt, int waiter, int waited, pare_error *err);
/* Waits for every queue the runtime has made. */
pare_status pare_cl_finish_all(pare_cl_runtime *rt, pare_error *err);
/* Waits for queue q (nothing to wait for when it was never made). */
pare_status pare_cl_finish_queue(pare_cl_runtime *rt, int q, pare_error *err);
/* Starts queue q's commands on the device without waiting for them. */
pare_status pare_cl_flush_queue(pare_cl_runtime *rt, int q, pare_error *err);
/* A kernel argument: size and pointer, as clSetKernelArg takes them. */
typedef struct pare_cl_arg {
  size_t size;
  const void *value;
} pare_cl_arg;

/* A sequence of launches on the in-order queue that keeps only the event
 * of the last one (when the caller wants an event at all). */
typedef struct pare_cl_seq {
  pare_cl_runtime *rt;
  int want_event;
  cl_event last;
  size_t local[2];
  int use_local; /* 0: the driver picks the local size */
} pare_cl_seq;

/* Where the next launch should put its event: NULL, or seq->last (the
 * previous one released). */
cl_event *pare_cl_seq_event(pare_cl_seq *seq);
/* Sets the arguments and launches a 2-D NDRange of g0 × g1 (g0 rounded up
 * to the local size). `name` names the kernel in errors. */
pare_status pare_cl_seq_launch(pare_cl_seq *seq, cl_kernel k, const char *name,
                               const pare_cl_arg *args, size_t nargs, size_t g0, size_t g1,
                               pare_error *err);
/* The same with the local size left to the driver, whatever seq's is. */
pare_status pare_cl_seq_launch_driver_local(pare_cl_seq *seq, cl_kernel k, const char *name,
                                            const pare_cl_arg *args, size_t nargs, size_t g0,
                                            size_t g1, pare_error *err);

/* 1 for a CPU device. */
int pare_cl_is_cpu(const pare_cl_runtime *rt);

/* Geometry of a 1-D elementwise kernel: each work-item handles `chunk`
 * elements as vectors of `vw`, in groups of `wg`, from the profile's
 * "<stem>.vw/.chunk/.wg" (CPUs: 16-wide vectors, long chunks of
 * `cpu_chunk`, one item per group so PoCL spreads groups over threads;
 * GPUs: 4-wide vectors, one vector per item, groups of 64). */
typedef struct pare_cl_chunks {
  int vw;
  size_t chunk, wg;
} pare_cl_chunks;

pare_status pare_cl_chunks_of(pare_cl_runtime *rt, const char *stem, int cpu_chunk,
                              pare_cl_chunks *g, pare_error *err);
/* The chunk for n elements: on CPUs small enough that every compute unit
 * gets two chunks (down to 16 vectors). */
size_t pare_cl_chunk_for(const pare_cl_runtime *rt, const pare_cl_chunks *g, size_t n);

/* Milliseconds between an event's start and end (after it completed). */
double pare_cl_event_ms(pare_cl_runtime *rt, cl_event ev);

/* The full source of a kernel program: common.h then the kernel's text,
 * from PARE_KERNEL_DIR when set (for development), else embedded. */
pare_status pare_cl_kernel_source(pare_kernel_id id, char **out, pare_error *err);

#endif
