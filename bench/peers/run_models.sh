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
printf '%s\n%s\n' "$pare_out" "$ort_out" | "$py" -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
pare = {r["batch"]: r for r in rows if "peer" not in r}
ort = {r["batch"]: r for r in rows if "peer" in r}
print("batch  pare-opencl ms  reference ms  onnxruntime ms  pare/ort speed")
for b in sorted(pare):
    p, o = pare[b], ort.get(b)
    ratio = o["ms_median"] / p["ms_median"] if o else float("nan")
    print(f"{b:5d}  {p[\"ms_median\"]:14.3f}  {p[\"reference_ms_median\"]:12.3f}  "
          f"{o[\"ms_median\"] if o else float(\"nan\"):14.3f}  {ratio:13.2f}x")
' >&2
