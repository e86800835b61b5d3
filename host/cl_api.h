/* The OpenCL entry points pare uses, reached through one table so that the
 * same code runs with the ICD loader linked in (Linux) or with a vendor
 * library opened at run time (Android: libOpenCL.so, libGLES_mali.so, ...). */
#ifndef PARE_HOST_CL_API_H
#define PARE_HOST_CL_API_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#ifndef CL_USE_DEPRECATED_OPENCL_1_2_APIS
#define CL_USE_DEPRECATED_OPENCL_1_2_APIS
#endif
#include <CL/cl.h>

#include "engine/core/core.h"

/* X(return type, name, parameter list) for every function in the table. */
#define PARE_CL_FUNCTIONS(X)                                                                       \
  X(cl_int, clGetPlatformIDs, (cl_uint, cl_platform_id *, cl_uint *))                              \
  X(cl_int, clGetPlatformInfo, (cl_platform_id, cl_platform_info, size_t, void *, size_t *))       \
  X(cl_int, clGetDeviceIDs, (cl_platform_id, cl_device_type, cl_uint, cl_device_id *, cl_uint *))  \
  X(cl_int, clGetDeviceInfo, (cl_device_id, cl_device_info, size_t, void *, size_t *))             \
  X(cl_context, clCreateContext,                                                                   \
    (const cl_context_properties *, cl_uint, const cl_device_id *,                                 \
     void(CL_CALLBACK *)(const char *, const void *, size_t, void *), void *, cl_int *))           \
  X(cl_int, clReleaseContext, (cl_context))                                                        \
  X(cl_int, clRetainContext, (cl_context))                                                         \
  X(cl_command_queue, clCreateCommandQueue,                                                        \
    (cl_context, cl_device_id, cl_command_queue_properties, cl_int *))                             \
  X(cl_int, clReleaseCommandQueue, (cl_command_queue))                                             \
  X(cl_mem, clCreateBuffer, (cl_context, cl_mem_flags, size_t, void *, cl_int *))                  \
  X(cl_mem, clCreateSubBuffer,                                                                     \
    (cl_mem, cl_mem_flags, cl_buffer_create_type, const void *, cl_int *))                         \
  X(cl_int, clReleaseMemObject, (cl_mem))                                                          \
  X(cl_int, clRetainMemObject, (cl_mem))                                                           \
  X(cl_int, clEnqueueCopyBuffer,                                                                   \
    (cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint, const cl_event *,          \
     cl_event *))                                                                                  \
  X(cl_int, clEnqueueReadBuffer,                                                                   \
    (cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint, const cl_event *,         \
     cl_event *))                                                                                  \
  X(cl_int, clEnqueueWriteBuffer,                                                                  \
    (cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint, const cl_event *,   \
     cl_event *))                                                                                  \
  X(cl_program, clCreateProgramWithSource,                                                         \
    (cl_context, cl_uint, const char **, const size_t *, cl_int *))                                \
  X(cl_program, clCreateProgramWithBinary,                                                         \
    (cl_context, cl_uint, const cl_device_id *, const size_t *, const unsigned char **, cl_int *,  \
     cl_int *))                                                                                    \
  X(cl_int, clBuildProgram,                                                                        \
    (cl_program, cl_uint, const cl_device_id *, const char *,                                      \
     void(CL_CALLBACK *)(cl_program, void *), void *))                                             \
  X(cl_int, clGetProgramInfo, (cl_program, cl_program_info, size_t, void *, size_t *))             \
  X(cl_int, clGetProgramBuildInfo,                                                                 \
    (cl_program, cl_device_id, cl_program_build_info, size_t, void *, size_t *))                   \
  X(cl_int, clReleaseProgram, (cl_program))                                                        \
  X(cl_kernel, clCreateKernel, (cl_program, const char *, cl_int *))                               \
  X(cl_int, clReleaseKernel, (cl_kernel))                                                          \
  X(cl_int, clRetainKernel, (cl_kernel))                                                           \
  X(cl_int, clSetKernelArg, (cl_kernel, cl_uint, size_t, const void *))                            \
  X(cl_int, clGetKernelWorkGroupInfo,                                                              \
    (cl_kernel, cl_device_id, cl_kernel_work_group_info, size_t, void *, size_t *))                \
  X(cl_int, clEnqueueNDRangeKernel,                                                                \
    (cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *,         \
     cl_uint, const cl_event *, cl_event *))                                                       \
  X(cl_int, clFinish, (cl_command_queue))                                                          \
  X(cl_int, clEnqueueMarkerWithWaitList,                                                           \
    (cl_command_queue, cl_uint, const cl_event *, cl_event *))                                     \
  X(cl_int, clEnqueueBarrierWithWaitList,                                                          \
    (cl_command_queue, cl_uint, const cl_event *, cl_event *))                                     \
  X(cl_int, clFlush, (cl_command_queue))                                                           \
  X(cl_int, clWaitForEvents, (cl_uint, const cl_event *))                                          \
  X(cl_int, clGetEventProfilingInfo, (cl_event, cl_profiling_info, size_t, void *, size_t *))      \
  X(cl_int, clReleaseEvent, (cl_event))

typedef struct pare_cl_api {
#define PARE_CL_MEMBER(ret, name, params) ret(CL_API_CALL *name) params;
  PARE_CL_FUNCTIONS(PARE_CL_MEMBER)
#undef PARE_CL_MEMBER
  char source[256]; /* "linked ICD loader" or the path of the opened library */
} pare_cl_api;

/* The table in use, loaded once (thread-safe) the way the build chose:
 * linked, or dlopen of PARE_OPENCL_LIBRARY then the known vendor paths.
 * NULL when OpenCL cannot be reached; `err` says why. */
const pare_cl_api *pare_cl_get(pare_error *err);

/* Opens an OpenCL library with dlopen and fills `api`: the named one, or
 * (name == NULL) the first of PARE_OPENCL_LIBRARY and the known vendor
 * paths that opens. Used by pare_cl_get in dlopen builds, and by tests. */
pare_status pare_cl_load_library(const char *name, pare_cl_api *api, void **handle,
                                 pare_error *err);

/* The candidate library paths, in the order tried (NULL-terminated). */
extern const char *const pare_cl_library_candidates[];

/* "CL_OUT_OF_RESOURCES" for -5, and so on. */
const char *pare_cl_error_name(cl_int code);

#endif
