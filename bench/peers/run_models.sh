#!/bin/sh
# pare vs onnxruntime on one model, same machine, same run: pare-bench
# models (OpenCL and reference backends), then onnxruntime, then the ratio.
# usage: run_models.sh MODEL.onnx [PYTHON]   (PYTHON has onnxruntime and numpy)
set -eu
model="$1"
py="${2:-python3}"
here=$(dirname "$0")
bench="${PARE_BENCH:-$here/../../build/bench/pare-bench}"
pare_out=$("$bench" models --model "$model" --reps 7 2>/dev/null)
ort_out=$("$py" "$here/ort_bench.py" "$model" --reps 7)
printf '%s\n%s\n' "$pare_out" "$ort_out"
printf '%s\n%s\n' "$pare_out" "$ort_out" | "$py" "$here/ratio_table.py" >&2
