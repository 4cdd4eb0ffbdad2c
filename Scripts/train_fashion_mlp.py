#!/usr/bin/env python3
"""Train a 784-50-50-10 ReLU MLP on Fashion-MNIST and ship it as ONNX + test data.

Reads the Fashion-MNIST IDX files (gzip) of the Debian package
``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist/``), parses
them with numpy, scales pixels to [0, 1] (float64), trains a scikit-learn
``MLPClassifier(hidden_layer_sizes=(50, 50), activation='relu')`` with a fixed
random seed and a fixed budget of 30 epochs (about 20 s on 2 cores), and
prints the test accuracy. It then writes into ``--out-dir`` (default
``Models/`` next to this script's folder):

* ``fashion_mlp_50x50.onnx``      the network up to the logits (float64), made
  by ``export_sklearn_onnx.export_mlp`` and checked with onnxruntime;
* ``fashion_test100_images.npy``  the first 100 test images, float64 (100, 784) in [0, 1];
* ``fashion_test100_labels.npy``  their true labels, int64 (100,);
* ``fashion_test100_logits.npy``  the network's logits on them, float64 (100, 10),
  from the exact numpy forward pass;
* optionally (``--save-joblib``) the fitted estimator as a joblib file.

Usage::

    python3 Scripts/train_fashion_mlp.py            # defaults used for Models/
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
import warnings
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_sklearn_onnx import export_mlp, numpy_logits, verify_export  # noqa: E402

DEFAULT_DATA_DIR = Path("/usr/share/datasets/fashion-mnist")
DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "Models"

#: Fashion-MNIST class names, index = label.
CLASS_NAMES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

# IDX type codes (third byte of the magic number) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8"),
}


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (optionally gzip-compressed) into a numpy array.

    Layout: 2 zero bytes, 1 byte type code, 1 byte number of dimensions, then
    one big-endian uint32 per dimension, then the data in row-major order.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (bad magic)")
    dtype = _IDX_DTYPES.get(raw[2])
    if dtype is None:
        raise ValueError(f"{path}: unknown IDX type code 0x{raw[2]:02x}")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    count = int(np.prod(shape))
    if len(raw) - offset != count * dtype.itemsize:
        raise ValueError(f"{path}: {len(raw) - offset} data bytes, expected {count * dtype.itemsize}")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=offset)
    return data.reshape(shape).astype(dtype.newbyteorder("="))


def load_split(data_dir: Path, prefix: str) -> tuple[np.ndarray, np.ndarray]:
    """Load one split ('train' or 't10k'): images float64 (n, 784) in [0, 1], labels int64."""
    images = read_idx(data_dir / f"{prefix}-images-idx3-ubyte.gz")
    labels = read_idx(data_dir / f"{prefix}-labels-idx1-ubyte.gz")
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{prefix}: unexpected shapes {images.shape}, {labels.shape}")
    X = images.reshape(len(images), -1).astype(np.float64) / 255.0
    return X, labels.astype(np.int64)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help="folder of the IDX .gz files")
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR, help="where the model and test files go")
    p.add_argument("--max-iter", type=int, default=30, help="training epochs (adam)")
    p.add_argument("--seed", type=int, default=0, help="random_state of the MLPClassifier")
    p.add_argument("--n-test-files", type=int, default=100,
                   help="number of test images to ship (file names say fashion_test<N>_...)")
    p.add_argument("--save-joblib", type=Path, default=None, help="also save the fitted estimator here")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    X_train, y_train = load_split(args.data_dir, "train")
    X_test, y_test = load_split(args.data_dir, "t10k")
    print(f"train {X_train.shape}, test {X_test.shape}")

    clf = MLPClassifier(
        hidden_layer_sizes=(50, 50),
        activation="relu",
        solver="adam",
        batch_size=200,
        learning_rate_init=1e-3,
        max_iter=args.max_iter,
        random_state=args.seed,
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # A fixed epoch budget is intended; the "did not converge" warning is noise.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X_train, y_train)
    train_seconds = time.perf_counter() - t0
    train_acc = clf.score(X_train, y_train)
    test_acc = clf.score(X_test, y_test)
    print(f"trained {clf.n_iter_} epochs in {train_seconds:.1f} s; "
          f"train accuracy {train_acc:.4f}, test accuracy {test_acc:.4f}")

    out = args.out_dir
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "fashion_mlp_50x50.onnx"
    export_mlp(clf, onnx_path, float32=False,
               doc=f"Fashion-MNIST MLP 784-50-50-10 ReLU, logits output; test accuracy {test_acc:.4f}")

    n = args.n_test_files
    images = np.ascontiguousarray(X_test[:n], dtype=np.float64)
    labels = np.ascontiguousarray(y_test[:n], dtype=np.int64)
    logits = numpy_logits(clf, images)
    verify_export(clf, onnx_path, images, ref_logits=logits)
    np.save(out / f"fashion_test{n}_images.npy", images)
    np.save(out / f"fashion_test{n}_labels.npy", labels)
    np.save(out / f"fashion_test{n}_logits.npy", logits)
    if args.save_joblib:
        import joblib
        joblib.dump(clf, args.save_joblib)

    predicted = logits.argmax(axis=1)
    print(f"first {n} test images: {int((predicted == labels).sum())} classified correctly")
    print(f"wrote {onnx_path} and fashion_test{n}_{{images,labels,logits}}.npy to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
