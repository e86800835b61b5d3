/* Shared prelude of every pare OpenCL program, prepended by the host. Keep it
 * valid OpenCL C 1.2; layouts shared with the host go here, guarded by
 * __OPENCL_C_VERSION__ where the host includes this file too. */
#ifndef PARE_KERNELS_COMMON_H
#define PARE_KERNELS_COMMON_H

#ifdef __OPENCL_C_VERSION__
#define PARE_RESTRICT restrict
#ifndef PARE_ACT_NONE
#define PARE_ACT_NONE 0
#define PARE_ACT_RELU 1
#endif
#endif

#endif
