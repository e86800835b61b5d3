"""Fashion-MNIST from Debian's dataset-fashion-mnist (IDX, gzip) as tensors."""
import gzip
import os

import numpy as np

DIR = os.environ.get("PARE_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")


def load(split):
    prefix = "t10k" if split == "test" else "train"
    with gzip.open(os.path.join(DIR, f"{prefix}-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(DIR, f"{prefix}-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return images.astype(np.float32) / 255.0, labels.astype(np.int64)
