"""onnxruntime latency of a model at batch 1 and 64 on this CPU: the peer
figure for `pare-bench models`, on the same file and machine.

usage: python ort_bench.py MODEL.onnx [--reps 7] [--warmup 2] [--threads 2]
Prints one JSON line per batch size.
"""
import os
import sys

import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_timing import BATCHES, input_for, parse_args, time_and_print  # noqa: E402


def main():
    a = parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    for batch in BATCHES:
        x = input_for(inp.shape, batch)
        time_and_print(lambda: sess.run(None, {inp.name: x}), "onnxruntime", ort.__version__,
                       a.model, batch, a.threads, a.warmup, a.reps)


if __name__ == "__main__":
    main()
