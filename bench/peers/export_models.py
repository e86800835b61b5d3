"""Exports models from PyTorch to ONNX (opset 13) for pare's peer checks.

usage: python export_models.py OUTDIR [--train-epochs N] [--torchvision]

Writes OUTDIR/simplecnn.onnx (trained on Fashion-MNIST for N epochs, default
2, seed 0) and, with --torchvision, OUTDIR/<name>.onnx for a few torchvision
classifiers with random weights, each with OUTDIR/<name>.input.npy and
OUTDIR/<name>.output.npy computed by PyTorch.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fashion_mnist  # noqa: E402
from models import SimpleCNN  # noqa: E402


def export(model, x, path, dynamic_batch=True):
    model.eval()
    with torch.no_grad():
        y = model(x)
    kwargs = dict(opset_version=13, input_names=["input"], output_names=["output"])
    if dynamic_batch:
        kwargs["dynamic_axes"] = {"input": {0: "batch"}, "output": {0: "batch"}}
    try:
        torch.onnx.export(model, x, path, dynamo=False, **kwargs)
    except TypeError:  # older torch without the dynamo flag
        torch.onnx.export(model, x, path, **kwargs)
    base = path[: -len(".onnx")]
    np.save(base + ".input.npy", x.numpy())
    np.save(base + ".output.npy", y.numpy())


def train_simplecnn(epochs):
    torch.manual_seed(0)
    x, y = fashion_mnist.load("train")
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    model = SimpleCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        t0 = time.time()
        for i in range(0, len(xt), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
        model.eval()
        xe, ye = fashion_mnist.load("test")
        with torch.no_grad():
            acc = (model(torch.from_numpy(xe)).argmax(1).numpy() == ye).mean()
        print(f"simplecnn epoch {epoch + 1}: test accuracy {acc:.4f} ({time.time() - t0:.0f} s)",
              flush=True)
    return model, acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--train-epochs", type=int, default=2)
    ap.add_argument("--torchvision", action="store_true")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    torch.set_num_threads(2)
    model, acc = train_simplecnn(a.train_epochs)
    xe, _ = fashion_mnist.load("test")
    export(model, torch.from_numpy(xe[:8].copy()), os.path.join(a.outdir, "simplecnn.onnx"))
    with open(os.path.join(a.outdir, "simplecnn.accuracy"), "w") as f:
        f.write(f"{acc:.6f}\n")
    if a.torchvision:
        import torchvision.models as tvm
        torch.manual_seed(0)
        for name in ["resnet18", "mobilenet_v2", "squeezenet1_1", "densenet121", "vgg11_bn",
                     "shufflenet_v2_x1_0", "efficientnet_b0"]:
            try:
                m = getattr(tvm, name)(weights=None)
            except Exception as e:  # noqa: BLE001
                print(f"{name}: skipped ({e})")
                continue
            x = torch.randn(1, 3, 224, 224)
            export(m, x, os.path.join(a.outdir, f"{name}.onnx"))
            print(f"exported {name}", flush=True)


if __name__ == "__main__":
    main()
