#!/usr/bin/env python3
"""Runs a model exported by `pare export` in onnxruntime and compares its
outputs with `pare run` on the same .npy inputs.

usage: check_export.py EXPORTED.onnx --input X.npy [--input NAME=Y.npy ...]
                       [--pare-model MODEL] [--pare PATH] [--atol A] [--rtol R]

--pare-model is what `pare run` executes (default: the exported file
itself; give the .pare it came from to compare against the original).
Inputs are taken in the model's order, or by name with NAME=FILE. Prints
one line per output (max abs difference, elements off) and exits 1 when an
output differs beyond atol + rtol*|pare| (or its shape or dtype differ).
Needs numpy and onnxruntime (not used by pare's own build or tests).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("onnx")
    ap.add_argument("--input", action="append", default=[], required=True)
    ap.add_argument("--pare-model", default=None)
    ap.add_argument("--pare", default="pare", help="the pare executable")
    ap.add_argument("--atol", type=float, default=1e-5)
    ap.add_argument("--rtol", type=float, default=1e-4)
    args = ap.parse_args()

    import onnxruntime as ort

    opts = ort.SessionOptions()
    # Compare the graph as written, not onnxruntime's fused rewrite of it.
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(args.onnx, opts, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    feeds = {}
    positional = []
    for spec in args.input:
        name, sep, path = spec.partition("=")
        if sep and name in names:
            feeds[name] = np.load(path)
        else:
            positional.append(spec)
    free = [n for n in names if n not in feeds]
    if len(positional) > len(free):
        sys.exit(f"check_export: {len(positional)} unnamed input(s) for {len(free)} free slot(s)")
    for name, path in zip(free, positional):
        feeds[name] = np.load(path)
    missing = [n for n in names if n not in feeds]
    if missing:
        sys.exit(f"check_export: no data for input(s) {', '.join(missing)}")
    got = sess.run(None, feeds)
    out_names = [o.name for o in sess.get_outputs()]

    with tempfile.TemporaryDirectory(prefix="pare-check-export-") as tmp:
        cmd = [args.pare, "run", args.pare_model or args.onnx, "--backend", "ref"]
        for name in names:
            p = os.path.join(tmp, f"in_{names.index(name)}.npy")
            np.save(p, feeds[name])
            cmd += ["--input", f"{name}={p}"]
        outs = [os.path.join(tmp, f"out_{k}.npy") for k in range(len(got))]
        for p in outs:
            cmd += ["--output", p]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"check_export: {' '.join(cmd)} failed:\n{r.stderr}")
        want = [np.load(p) for p in outs]

    bad = 0
    for name, o, w in zip(out_names, got, want):
        if o.shape != w.shape or o.dtype != w.dtype:
            print(f"{name}: onnxruntime {o.dtype}{list(o.shape)} vs pare {w.dtype}{list(w.shape)}")
            bad += 1
            continue
        of, wf = o.astype(np.float64), w.astype(np.float64)
        diff = np.abs(of - wf)
        off = int(np.count_nonzero(diff > args.atol + args.rtol * np.abs(wf)))
        exact = int(np.count_nonzero(o == w))
        print(f"{name}: {list(o.shape)} {o.dtype}, max |diff| {diff.max() if diff.size else 0:.3g}, "
              f"{exact}/{o.size} bit-equal, {off} beyond tolerance")
        bad += off > 0
    print("OK" if bad == 0 else f"FAIL: {bad} output(s) differ")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
