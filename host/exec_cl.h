/* Running a plan on the OpenCL backend. */
#ifndef PARE_HOST_EXEC_CL_H
#define PARE_HOST_EXEC_CL_H

#include "engine/exec/exec.h"
#include "host/runtime.h"

/* Runs the plan on rt: nodes with an OpenCL kernel run on the device, the
 * others on the reference backend with their inputs read back; values stay
 * on the device between kernels and the queue is waited on only where a
 * reference node needs data and at the end. Outputs as pare_plan_run_ref. */
pare_status pare_plan_run_cl(pare_plan *p, pare_cl_runtime *rt, const pare_tensor *inputs,
                             int n_inputs, pare_tensor *outputs, pare_error *err);

#endif
