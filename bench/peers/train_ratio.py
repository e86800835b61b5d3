"""Reads pare-bench training and train_bench.py JSON lines (with a "round"
field) on stdin and prints the pare vs PyTorch training-throughput table:
medians over rounds, and the median of the per-round ratios."""
import json
import statistics
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
archs = sorted({r["arch"] for r in rows}, key=["simplecnn", "lenet5", "mlp"].index)
print("arch        pare-opencl img/s  pare-reference img/s  pytorch img/s  pare/pytorch (rounds)")
for arch in archs:
    pare = {r["round"]: r for r in rows if r["arch"] == arch and "peer" not in r}
    peer = {r["round"]: r for r in rows if r["arch"] == arch and "peer" in r}
    both = sorted(set(pare) & set(peer))
    if not both:
        continue
    ratios = [pare[k]["images_per_s"] / peer[k]["images_per_s"] for k in both]
    p = statistics.median(pare[k]["images_per_s"] for k in both)
    ref = statistics.median(pare[k]["reference_images_per_s"] for k in both)
    t = statistics.median(peer[k]["images_per_s"] for k in both)
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
    print(f"{arch:10s}  {p:17.0f}  {ref:20.0f}  {t:13.0f}  {statistics.median(ratios):7.2f}x"
          f" ({len(both)}: {spread})")
