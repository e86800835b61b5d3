#!/bin/sh
# pare vs PyTorch training throughput, same machine, same run: pare-bench
# training (OpenCL and reference trainers), then PyTorch on the CPU with
# the same thread count, then the ratio.
# usage: run_train.sh [PYTHON] [THREADS]   (PYTHON has torch)
set -eu
py="${1:-python3}"
threads="${2:-2}"
here=$(dirname "$0")
bench="${PARE_BENCH:-$here/../../build/bench/pare-bench}"
pare_out=$("$bench" training --reps 7 2>/dev/null)
torch_out=$(cd "$here" && "$py" train_bench.py --reps 7 --threads "$threads")
printf '%s\n%s\n' "$pare_out" "$torch_out"
printf '%s\n%s\n' "$pare_out" "$torch_out" | "$py" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
pare = {r["arch"]: r for r in rows if "peer" not in r}
peer = {r["arch"]: r for r in rows if "peer" in r}
print("arch        pare-opencl img/s  pare-reference img/s  pytorch img/s  pare/pytorch")
for a, p in pare.items():
    t = peer.get(a, {}).get("images_per_s", float("nan"))
    print(f"{a:10s}  {p[\"images_per_s\"]:17.0f}  {p[\"reference_images_per_s\"]:20.0f}"
          f"  {t:13.0f}  {p[\"images_per_s\"] / t:11.2f}x")
' >&2
