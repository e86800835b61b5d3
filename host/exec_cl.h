/* Running a plan on the OpenCL backend. */
#ifndef PARE_HOST_EXEC_CL_H
#define PARE_HOST_EXEC_CL_H

#include "engine/exec/exec.h"
#include "host/launch/conv2d_f32.h"
#include "host/runtime.h"

/* Runs the plan on rt: nodes with an OpenCL kernel run on the device, the
 * others on the reference backend with their inputs read back; values stay
 * on the device between kernels and the queue is waited on only where a
 * reference node needs data and at the end. Outputs as pare_plan_run_ref. */
pare_status pare_plan_run_cl(pare_plan *p, pare_cl_runtime *rt, const pare_tensor *inputs,
                             int n_inputs, pare_tensor *outputs, pare_error *err);

/* pare_plan_run_cl in two halves, so that the host works (or a second plan
 * runs) while the device computes: start binds the inputs and enqueues
 * every launch and the outputs' reads on queue `home` (0 or 1; branches on
 * the other), without waiting; finish waits for the plan's queues and
 * copies the outputs. The plan's host copies of its inputs and outputs are
 * in use until then. A plan's first run (its choices timed) runs whole in
 * start. Another start before finish is an error. */
pare_status pare_plan_run_cl_start(pare_plan *p, pare_cl_runtime *rt, int home,
                                   const pare_tensor *inputs, int n_inputs, pare_error *err);
pare_status pare_plan_run_cl_finish(pare_plan *p, pare_cl_runtime *rt, pare_tensor *outputs,
                                    pare_error *err);

/* Node by node (the OpenCL trainer drives the executor this way):
 * begin binds the inputs' host data and invalidates every non-constant
 * value; run_node runs node i on the device where a kernel exists, else
 * on the reference with its inputs read back; a Conv or Gemm runs the
 * nodes fused into it (see pare_exec_cl_fused_nodes), which are then
 * skipped. */
pare_status pare_exec_cl_begin(pare_plan *p, pare_cl_runtime *rt, const pare_tensor *inputs,
                               int n_inputs, pare_error *err);
pare_status pare_exec_cl_run_node(pare_plan *p, int i, pare_error *err);
/* Value v made current on the device: its buffer (owned by the plan), or
 * NULL with err set. */
cl_mem pare_exec_cl_device_value(pare_plan *p, int v, pare_error *err);
/* A device buffer for value v that the caller is about to write (its
 * shape is known from planning): marked current on the device. */
cl_mem pare_exec_cl_output_value(pare_plan *p, int v, pare_error *err);
/* Value v made current in the plan tensor's host data. */
pare_status pare_exec_cl_host_value(pare_plan *p, int v, pare_error *err);
/* Value v was changed in place on the device (on_device) or on the host:
 * the other copy is stale. No effect before the first begin. */
void pare_exec_cl_value_changed(pare_plan *p, int v, int on_device);

/* The geometry of Conv node idx as conv2d_f32 arguments (buffers unset,
 * no activation). */
pare_status pare_exec_cl_conv_geometry(const pare_plan *p, int idx, pare_conv2d_f32_args *a,
                                       pare_error *err);

/* Nodes of the plan that run on the sparse kernels (kernels/sparse_f32.cl).
 * Each Conv, Gemm and MatMul whose constant weight is at least 30% zeros
 * is timed on its first run in both forms and takes the faster (the
 * figures are kept in the tuning database, host/tuning.h); PARE_SPARSE=
 * always takes the sparse form without timing, never keeps every node
 * dense. */
int pare_exec_cl_sparse_nodes(const pare_plan *p);

/* Nodes of the plan that run inside the launch of another (0 before the
 * first run). A Conv absorbs the BatchNormalization after it (folded into
 * its weight and bias on the host, in double, once), then an Add of a
 * residual of the same shape computed earlier, then a Relu or Clip with
 * constant bounds, then (no residual) a MaxPool/AveragePool without pads,
 * counted here though a convolution that runs direct, sparse or integer
 * leaves it to its own launch; a Gemm or MatMul absorbs a Relu or Clip;
 * each step only where the value so far has no other reader. Plans made with
 * PARE_PLAN_NO_FUSE, or any plan under PARE_NO_FUSE=1, fuse nothing (every
 * node its own launch); plans that keep parameters (training) fuse only a
 * Conv's activation. */
int pare_exec_cl_fused_nodes(const pare_plan *p);
/* The bytes of the device buffer that holds the activations of the plan's
 * last OpenCL run (PARE_PLAN_ARENA), 0 when each value has its own. */
size_t pare_exec_cl_arena_bytes(const pare_plan *p);
/* Launches of the plan that its runs put on the second queue, beside the
 * first: the independent branches of the graph (engine/exec/queue_plan.h),
 * from the second run on; 0 when runs use one queue (no branches,
 * PARE_QUEUES=1, the profile's exec.queues 1, or before the second run). */
int pare_exec_cl_branch_nodes(const pare_plan *p);

/* Conv, Gemm and MatMul nodes of the plan that run on the integer kernels
 * (host/exec_int8.h: a QuantizeLinear → DequantizeLinear input and an int8
 * weight), 0 before the first run. */
int pare_exec_cl_int8_nodes(const pare_plan *p);

/* Integer Conv layers run in float whose quantize/dequantize pair ran in the
 * convolution's own input copy (the implicit GEMM, no fake-quantization
 * launch) in the last run. */
int pare_exec_cl_qdq_conv_nodes(const pare_plan *p);

/* How node i ran in the plan's last run: "int8", "sparse", "absorbed" (a
 * node fused into another's launch, or the quantize pair of an integer
 * layer), "opencl" (its own kernel) or "reference" (declared in
 * engine/exec/exec.h, which builds without OpenCL also see). */

#endif
