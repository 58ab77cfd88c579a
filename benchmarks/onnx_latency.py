"""Prediction latency: onnxruntime against NumPy, for skout and MLPClassifier.

On ``load_digits`` (64 features, 10 classes), ``AutoHeadClassifier`` and
``MLPClassifier`` with the same hidden layer are fitted, exported with
``skout.onnx.to_onnx`` (float32 input, ``zipmap=False``: the probability
matrix), and timed four ways for 1 row and for 1,000 rows:

* skout's ``predict_proba`` (its NumPy forward pass and decoding);
* the skout graph in onnxruntime;
* ``MLPClassifier.predict_proba``;
* the MLPClassifier graph in onnxruntime (skl2onnx's own converter).

Each cell is the median of many calls (``--repeat`` for one row, a tenth of
it for 1,000 rows). onnxruntime runs with ``--threads`` intra-op threads and
one inter-op thread, set explicitly on the session; NumPy's BLAS is limited
to the same number of threads (threadpoolctl), so both sides use the same
cores. Before timing, each graph's probabilities are checked against
``predict_proba``.

Usage::

    python benchmarks/onnx_latency.py                # 1 thread, 2000 repeats
    python benchmarks/onnx_latency.py --threads 2 --repeat 5000
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np


def median_us(function, repeat):
    """Median wall time of ``function()`` in microseconds, after a warm-up."""
    for _ in range(max(3, repeat // 20)):
        function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def session(onx, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(onx.SerializeToString(), options)


def fitted(hidden, max_iter):
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    from skout import AutoHeadClassifier

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    params = dict(hidden_layer_sizes=(hidden,), max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return X, AutoHeadClassifier(**params).fit(X, y), MLPClassifier(**params).fit(X, y)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="onnxruntime and BLAS threads")
    parser.add_argument("--repeat", type=int, default=2000, help="calls timed for one row")
    parser.add_argument("--hidden", type=int, default=100, help="hidden units (default 100)")
    parser.add_argument("--max-iter", type=int, default=30, help="training epochs")
    args = parser.parse_args(argv)

    import onnxruntime
    import skl2onnx
    from threadpoolctl import threadpool_limits

    import skout
    import skout.onnx

    X, skout_clf, mlp = fitted(args.hidden, args.max_iter)
    graphs = {}
    for name, model in (("skout", skout_clf), ("MLPClassifier", mlp)):
        onx = skout.onnx.to_onnx(model, X[:1], options={id(model): {"zipmap": False}})
        graphs[name] = (model, session(onx, args.threads))
        _, proba = graphs[name][1].run(None, {"X": X})
        error = float(np.abs(proba - model.predict_proba(X)).max())
        assert error < 1e-5, f"{name}: the graph is off by {error}"

    batches = {1: X[:1], 1000: X[:1000]}
    rows = []
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for n, batch in batches.items():
            repeat = args.repeat if n == 1 else max(10, args.repeat // 10)
            for name, (model, sess) in graphs.items():
                numpy_us = median_us(lambda m=model, b=batch: m.predict_proba(b), repeat)
                onnx_us = median_us(lambda s=sess, b=batch: s.run(None, {"X": b}), repeat)
                rows.append((name, n, numpy_us, onnx_us))

    print(
        f"load_digits, hidden_layer_sizes=({args.hidden},), float32 input; median of "
        f"{args.repeat} calls (1 row) / {max(10, args.repeat // 10)} calls (1,000 rows); "
        f"onnxruntime {onnxruntime.__version__} with intra_op_num_threads={args.threads}, "
        f"inter_op_num_threads=1; BLAS limited to {args.threads} thread(s)."
    )
    print(
        f"Python {platform.python_version()}, skout {skout.__version__}, skl2onnx "
        f"{skl2onnx.__version__}, {os.cpu_count()} CPUs ({platform.machine()}).\n"
    )
    print("| model | rows | predict_proba (NumPy) | onnxruntime | speed-up |")
    print("|---|---:|---:|---:|---:|")
    for name, n, numpy_us, onnx_us in rows:
        print(
            f"| {name} | {n:,} | {numpy_us:,.1f} us | {onnx_us:,.1f} us | "
            f"{numpy_us / onnx_us:.1f}x |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
