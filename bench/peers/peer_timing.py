"""Timing shared by the peer scripts (ort_bench.py, torch_bench.py): the
batch sizes pare-bench models uses, warm-up plus timed runs, and the JSON
line pare-bench reads back."""
import argparse
import json
import statistics
import time

import numpy as np

BATCHES = (1, 64)


def parse_args():
    """MODEL.onnx [--reps 7] [--warmup 2] [--threads 2], as pare-bench passes them."""
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    return ap.parse_args()


def input_for(dims, batch):
    """A fixed random input of the model's shape at this batch (unknown or
    symbolic dimensions after the first taken as given by dims, else 1)."""
    shape = [batch if i == 0 else (d if isinstance(d, int) and d > 0 else 1)
             for i, d in enumerate(dims)]
    return np.random.default_rng(7).uniform(-1, 1, shape).astype(np.float32)


def time_and_print(run, peer, version, model, batch, threads, warmup, reps):
    """Calls run() warmup times untimed, then reps times, and prints the row."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"bench": "models", "peer": peer, "version": version, "model": model,
                      "batch": batch, "threads": threads, "ms_min": round(min(times), 4),
                      "ms_median": round(statistics.median(times), 4)}), flush=True)
