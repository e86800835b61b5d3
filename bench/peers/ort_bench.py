"""onnxruntime latency of a model at batch 1 and 64 on this CPU: the peer
figure for `pare-bench models`, on the same file and machine.

usage: python ort_bench.py MODEL.onnx [--reps 7] [--warmup 2] [--threads 2]
Prints one JSON line per batch size.
"""
import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    so = ort.SessionOptions()
    so.intra_op_num_threads = a.threads
    sess = ort.InferenceSession(a.model, so, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    for batch in (1, 64):
        shape = [batch if i == 0 or not isinstance(d, int) else d for i, d in enumerate(inp.shape)]
        x = np.random.default_rng(7).uniform(-1, 1, shape).astype(np.float32)
        for _ in range(a.warmup):
            sess.run(None, {inp.name: x})
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            sess.run(None, {inp.name: x})
            times.append((time.perf_counter() - t0) * 1e3)
        print(json.dumps({"bench": "models", "peer": "onnxruntime", "version": ort.__version__,
                          "model": a.model, "batch": batch, "threads": a.threads,
                          "ms_min": round(min(times), 4),
                          "ms_median": round(statistics.median(times), 4)}), flush=True)


if __name__ == "__main__":
    main()
