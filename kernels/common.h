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

/* The activation fused into the conv2d_f32 and gemm_f32 epilogues, in
 * place on v, a float or a vector of type T: ACT (a compile-time constant)
 * 1 is ReLU, 2 clips to [lo, hi], anything else does nothing (the host's
 * PARE_CONV2D_ACT_* and PARE_GEMM_ACT_*). Comparisons are false for NaN, so
 * NaN passes through, as ONNX Relu and Clip give it. */
#define PARE_EPILOGUE_ACT(ACT, T, v, lo, hi)                                                       \
  do {                                                                                             \
    if ((ACT) == 1) (v) = select((v), (T)(0.0f), (v) < (T)(0.0f));                                 \
    if ((ACT) == 2) {                                                                              \
      (v) = select((v), (T)(lo), (v) < (T)(lo));                                                   \
      (v) = select((v), (T)(hi), (v) > (T)(hi));                                                   \
    }                                                                                              \
  } while (0)

/* A QuantizeLinear → DequantizeLinear pair on v (a float or a vector of
 * type T) with a per-tensor scale: clamp(rint(v / scale), lo, hi)·scale,
 * lo = qmin − zero point, hi = qmax − zero point (the value the integer
 * grid gives back); NaN becomes 0 and −0 becomes +0, as the reference's
 * pare_ref_qdq_f32. */
#define PARE_FAKE_QUANT(T, v, scale, lo, hi)                                                       \
  (select(fmin(fmax(rint((v) / (scale)) + 0.0f, (T)(lo)), (T)(hi)), (T)(0.0f),                     \
          isnan(rint((v) / (scale)))) *                                                            \
   (scale))
#endif

#endif
