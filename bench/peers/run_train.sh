#!/bin/sh
# pare vs PyTorch training throughput on the same machine with the same
# thread count: rounds alternate pare-bench training (OpenCL and reference
# trainers) and PyTorch on the CPU, so both see the same background load;
# the ratio of each round is formed within the round and the median over
# rounds is reported.
# usage: run_train.sh [PYTHON] [THREADS] [ROUNDS]   (PYTHON has torch)
set -eu
py="${1:-python3}"
threads="${2:-2}"
rounds="${3:-3}"
here=$(dirname "$0")
bench="${PARE_BENCH:-$here/../../build/bench/pare-bench}"
all=""
r=1
while [ "$r" -le "$rounds" ]; do
  pare_out=$("$bench" training --reps 7 2>/dev/null | sed "s/^{/{\"round\": $r, /")
  torch_out=$(cd "$here" && "$py" train_bench.py --reps 7 --threads "$threads" |
    sed "s/^{/{\"round\": $r, /")
  printf '%s\n%s\n' "$pare_out" "$torch_out"
  all=$(printf '%s\n%s\n%s' "$all" "$pare_out" "$torch_out")
  r=$((r + 1))
done
printf '%s\n' "$all" | "$py" "$here/train_ratio.py" >&2
