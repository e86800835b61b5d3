/* OpenCL device discovery and capability probing. */
#ifndef PARE_HOST_DEVICE_H
#define PARE_HOST_DEVICE_H

#include "host/cl_api.h"

typedef struct pare_cl_device {
  cl_platform_id platform;
  cl_device_id device;
  pare_device_info info;
} pare_cl_device;

#define PARE_MAX_DEVICES 32

/* Every device of every platform, with its info and detected profile.
 * Probes fp16 and int8 dot products with test compiles when the device
 * advertises them (never trusting the extension string alone). */
pare_status pare_cl_devices_enumerate(const pare_cl_api *cl, pare_cl_device *out, size_t capacity,
                                      size_t *count, pare_error *err);

/* Picks a device: `selector` is an index or a case-insensitive name
 * substring; NULL picks the first GPU, else the first device. */
pare_status pare_cl_device_select(const pare_cl_device *devices, size_t count, const char *selector,
                                  size_t *index, pare_error *err);

#endif
