"""Checks pare against PyTorch on models exported by export_models.py: for
each OUTDIR/<name>.onnx, `pare run` on <name>.input.npy must match
<name>.output.npy within TOL relative to the output's largest magnitude.

usage: python check_exported.py OUTDIR [--pare build/tools/pare] [--backend ref|opencl]
       [--tol 1e-4]
Prints one line per model and exits non-zero if any model fails.
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--pare", default="build/tools/pare")
    ap.add_argument("--backend", default="opencl")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    failed = 0
    models = sorted(glob.glob(os.path.join(a.outdir, "*.onnx")))
    if not models:
        print(f"no models in {a.outdir}")
        return 1
    for model in models:
        base = model[: -len(".onnx")]
        want = np.load(base + ".output.npy")
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out.npy")
            t0 = time.time()
            r = subprocess.run([a.pare, "run", model, "--input", base + ".input.npy", "--output", out,
                                "--backend", a.backend], capture_output=True, text=True)
            secs = time.time() - t0
            if r.returncode != 0:
                print(f"FAIL {os.path.basename(model)}: {r.stderr.strip()}")
                failed += 1
                continue
            got = np.load(out)
        scale = float(np.abs(want).max()) or 1.0
        err = float(np.abs(got.reshape(want.shape) - want).max()) / scale
        ok = got.size == want.size and err <= a.tol
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {os.path.basename(model)}: max error {err:.2e} of "
              f"max |output| {scale:.3g} ({secs:.1f} s, {a.backend})")
    print(f"{len(models) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
