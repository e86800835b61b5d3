/* ONNX export: pare graph → ModelProto file (libpare_onnx only). */
#ifndef PARE_ENGINE_IO_ONNX_EXPORT_H
#define PARE_ENGINE_IO_ONNX_EXPORT_H

#include "engine/graph/graph.h"

/* Writes g as an ONNX model (atomically: temporary file, then rename).
 *
 * Every node keeps its op type, inputs, outputs and attributes; constants
 * that nodes read become initializers (raw little-endian data), constants
 * read only through TENSOR attributes stay inside the attribute. The opset
 * is the graph's, raised to what its ops need (QuantizeLinear and
 * DequantizeLinear: 10; with an axis or a per-channel scale: 13; Shrink 9,
 * HardSwish 14). Nodes whose interface changed on the way (Squeeze axes,
 * Clip min/max, legacy Softmax, ...) are rewritten to the newer form when
 * that keeps their meaning, else the export fails naming the node.
 *
 * Packed int4 constants are written as int8 (sign-extended): int4 tensors
 * need opset 21 and IR 10, which pare's importer and many runtimes do not
 * read, and DequantizeLinear gives the same floats on either. A
 * QuantizeLinear that produces int4 cannot be written that way and is
 * refused. */
pare_status pare_onnx_export(const pare_graph *g, const char *path, pare_error *err);

/* The same into a malloc'ed buffer (*data, *size). */
pare_status pare_onnx_export_buffer(const pare_graph *g, void **data, size_t *size,
                                    pare_error *err);

#endif
