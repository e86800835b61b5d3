/* pare_devices_list: the OpenCL devices pare can see, with their profiles. */
#include <stdlib.h>
#include <string.h>

#include "engine/core/core.h"
#ifdef PARE_HAVE_OPENCL
#include "host/device.h"
#endif

pare_status pare_devices_list(pare_device_info *out, size_t capacity, size_t *count, char *error,
                              size_t error_size) {
  if (!count) return PARE_ERR_INVALID_ARG;
  *count = 0;
  pare_error err = {{0}};
#ifdef PARE_HAVE_OPENCL
  const pare_cl_api *cl = pare_cl_get(&err);
  pare_status st = PARE_ERR_NO_DEVICE;
  if (cl) {
    pare_cl_device *devs = calloc(PARE_MAX_DEVICES, sizeof *devs);
    if (!devs) return PARE_ERR_NO_MEMORY;
    size_t n = 0;
    st = pare_cl_devices_enumerate(cl, devs, PARE_MAX_DEVICES, &n, &err);
    if (n > PARE_MAX_DEVICES) n = PARE_MAX_DEVICES;
    for (size_t i = 0; out && i < n && i < capacity; i++) out[i] = devs[i].info;
    *count = n;
    free(devs);
  }
#else
  pare_status st = pare_error_set(&err, PARE_ERR_NO_DEVICE, "built without OpenCL");
  (void)out;
  (void)capacity;
#endif
  if (error && error_size) pare_strlcpy(error, err.text, error_size);
  return st;
}
