"""pare against onnxruntime on a whole test set: the share of top-1
predictions they agree on, and each one's accuracy.

usage: python agree.py MODEL.pare [PARE] [--backend ref|opencl|auto]
Exports MODEL.pare with `pare export`, runs it in onnxruntime and the
.pare with `pare run` on the Fashion-MNIST test set (Debian's
dataset-fashion-mnist, or PARE_FASHION_MNIST_DIR). Needs onnxruntime and
numpy (a venv: python3 -m venv v && v/bin/pip install onnxruntime numpy).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(__file__))
import fashion_mnist  # noqa: E402


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    backend = "auto"
    if "--backend" in sys.argv:
        backend = sys.argv[sys.argv.index("--backend") + 1]
        args = [a for a in args if a != backend]
    model = args[0]
    pare = args[1] if len(args) > 1 else os.path.join(os.path.dirname(__file__), "../../build/tools/pare")
    x, labels = fashion_mnist.load("test")
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path, x_path, y_path = (os.path.join(tmp, n) for n in ("m.onnx", "x.npy", "y.npy"))
        subprocess.run([pare, "export", model, "-o", onnx_path], check=True, stdout=subprocess.DEVNULL)
        np.save(x_path, x)
        subprocess.run([pare, "run", model, "--input", x_path, "-o", y_path, "--backend", backend],
                       check=True, stdout=subprocess.DEVNULL)
        pare_pred = np.load(y_path).argmax(axis=1)
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        ort_pred = np.concatenate([sess.run(None, {name: x[i:i + 1000]})[0].argmax(axis=1)
                                   for i in range(0, len(x), 1000)])
    agree = float((pare_pred == ort_pred).mean())
    print(f"{model}: pare and onnxruntime {ort.__version__} agree on {100 * agree:.2f}% of "
          f"{len(x)} top-1 predictions; accuracy pare {100 * (pare_pred == labels).mean():.2f}%, "
          f"onnxruntime {100 * (ort_pred == labels).mean():.2f}%")


if __name__ == "__main__":
    main()
