"""Reads pare-bench models and ort_bench.py JSON lines on stdin and prints
the pare vs onnxruntime table (same model, same machine, same run)."""
import json
import sys

rows = [json.loads(line) for line in sys.stdin if line.strip()]
pare = {r["batch"]: r for r in rows if "peer" not in r}
ort = {r["batch"]: r for r in rows if "peer" in r}
print("batch  pare-opencl ms  pare-reference ms  onnxruntime ms  onnxruntime/pare")
for b in sorted(pare):
    p, o = pare[b], ort.get(b)
    ort_ms = o["ms_median"] if o else float("nan")
    print(f"{b:5d}  {p['ms_median']:14.3f}  {p['reference_ms_median']:17.3f}  {ort_ms:14.3f}"
          f"  {ort_ms / p['ms_median']:15.2f}x")
