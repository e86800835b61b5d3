"""PyTorch latency of an ONNX model at batch 1 and 64 on this CPU: the
second peer figure for `pare-bench models`, on the same file and machine.

usage: python torch_bench.py MODEL.onnx [--reps 7] [--warmup 2] [--threads 2]
The ONNX graph becomes a torch.nn.Module with onnx2torch (PyPI), run in
eval mode under torch.inference_mode with `threads` intra-op threads: the
same file and weights as pare and onnxruntime run, in PyTorch's kernels.
Prints one JSON line per batch size, as ort_bench.py does.
"""
import os
import sys

import onnx
import torch
from onnx2torch import convert

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_timing import BATCHES, input_for, parse_args, time_and_print  # noqa: E402


def constants_as_initializers(proto):
    """onnx2torch wants Conv/Gemm weights as initializers; exporters also
    hand them over through Identity (deduplicated weights) or Constant
    nodes. Those become initializers of their own."""
    inits = {i.name: i for i in proto.graph.initializer}
    keep = []
    for node in proto.graph.node:
        tensor = None
        if node.op_type == "Identity" and node.input[0] in inits:
            tensor = onnx.TensorProto()
            tensor.CopyFrom(inits[node.input[0]])
        elif node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            tensor = onnx.TensorProto()
            tensor.CopyFrom(node.attribute[0].t)
        if tensor is None:
            keep.append(node)
            continue
        tensor.name = node.output[0]
        proto.graph.initializer.append(tensor)
        inits[tensor.name] = tensor
    del proto.graph.node[:]
    proto.graph.node.extend(keep)
    return proto


def main():
    a = parse_args()
    torch.set_num_threads(a.threads)
    # The rewrite only adds initializers: the graph inputs stay as they are.
    proto = constants_as_initializers(onnx.load(a.model))
    net = convert(proto).eval()
    inits = {i.name for i in proto.graph.initializer}
    inp = [i for i in proto.graph.input if i.name not in inits][0]
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in inp.type.tensor_type.shape.dim]
    for batch in BATCHES:
        x = torch.from_numpy(input_for(dims, batch))
        with torch.inference_mode():
            time_and_print(lambda: net(x), "pytorch", torch.__version__, a.model, batch,
                           a.threads, a.warmup, a.reps)


if __name__ == "__main__":
    main()
