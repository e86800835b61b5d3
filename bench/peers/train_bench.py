"""PyTorch CPU training throughput (images/s) of SimpleCNN, LeNet-5 and
LeNet-300-100 at batch 64: the peer figure for `pare-bench training`, on
the same machine with the same thread count, the same step (forward,
cross-entropy, backward, SGD with momentum 0.9) and runs of 10 steps.

usage: python train_bench.py [--arch simplecnn] [--reps 7] [--warmup 2] [--threads 2]
Prints one JSON line per architecture.
"""
import argparse
import json
import statistics
import time

import torch

from models import MLP, LeNet5, SimpleCNN

ARCHS = {"simplecnn": SimpleCNN, "lenet5": LeNet5, "mlp": MLP}
STEPS, BATCH = 10, 64


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=sorted(ARCHS), action="append")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    for arch in a.arch or ["simplecnn", "lenet5", "mlp"]:
        model = ARCHS[arch]()
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        x = torch.rand(BATCH, 1, 28, 28)
        y = torch.arange(BATCH) % 10

        def run():
            for _ in range(STEPS):
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.cross_entropy(model(x), y)
                loss.backward()
                opt.step()

        for _ in range(a.warmup):
            run()
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        print(json.dumps({"bench": "training", "peer": f"pytorch {torch.__version__}",
                          "arch": arch, "batch": BATCH, "threads": a.threads,
                          "images_per_s": STEPS * BATCH / med,
                          "images_per_s_best": STEPS * BATCH / min(times)}), flush=True)


if __name__ == "__main__":
    main()
