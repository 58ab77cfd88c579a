"""Fit time on each Keras backend against scikit-learn's MLP (and against another tree).

Each backend runs in a fresh subprocess (the Keras backend is fixed per
process) that times, on the bundled data sets (digits, wine, breast_cancer),
the same fixed-epoch fits as ``bench.py``'s ``fit`` case: hidden layer (100,),
``batch_size="auto"``, exactly ``--epochs`` epochs; and ``MLPClassifier`` with
the same parameters, interleaved, in the same process. Cold is the first fit of
the architecture in the process (after a tiny fit of another architecture has
started the backend up); warm is the median of ``--warm-fits`` further fits.
The goal is warm <= 1.0x MLP.

``--via estimator`` (the default) times ``AutoHeadClassifier.fit``, whichever
loop the engine picks for the backend; ``--via loop`` times the backend's
loop (``run_chunk`` of ``skout._engine.jax_loop`` / ``torch_loop`` /
``tf_loop``) on the data and network the estimator would train, without the
estimator around it.

``--dtypes float32,float64`` times both precisions (``dtype=``; JAX's
float64 runs with ``JAX_ENABLE_X64=1``). ``--trees new=.,old=/path/to/clone``
runs the same workers on other checkouts of skout in the same run (each
worker imports skout from its tree), for a before/after table.

Usage::

    python benchmarks/backends.py                       # jax and torch, 200 epochs
    python benchmarks/backends.py --backends tensorflow,jax,torch --dtypes float32,float64
    python benchmarks/backends.py --trees new=.,old=/tmp/skout-old --backends tensorflow,jax
    python benchmarks/backends.py --via loop --backends jax --markdown out.md
"""

# ruff: noqa: E402
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import argparse
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATASETS = ("digits", "wine", "breast_cancer")


def worker(args):
    """In the backend's own process: time every data set, print one JSON line."""
    sys.path.insert(0, str(HERE))
    import bench  # the shared data sets and estimator settings
    import keras

    rows = []
    with bench.quiet_fits():
        warm_up(bench, args.via)
        for name in DATASETS:
            data = bench.load_dataset(name)
            fit = make_fit(bench, args.via, data, args.epochs, args.dtype)
            mlp_fit = make_mlp_fit(bench, data, args.epochs)
            cold, _ = bench.timed(fit)
            warm, mlp = [], []
            for _ in range(args.warm_fits):  # interleaved, so noise hits both
                warm.append(bench.timed(fit)[0])
                mlp.append(bench.timed(mlp_fit)[0])
            rows.append(
                {
                    "dataset": data.label,
                    "cold": cold,
                    "warm": statistics.median(warm),
                    "mlp": statistics.median(mlp),
                }
            )
    import skout

    result = {"backend": keras.backend.backend(), "dtype": args.dtype, "rows": rows}
    print(json.dumps({**result, "skout": str(Path(skout.__file__).parent.parent)}))


def make_mlp_fit(bench, data, epochs):
    return lambda: bench.make_mlp(data.kind, epochs, data.batch_size).fit(
        data.X_train, data.y_train
    )


def warm_up(bench, via):
    """Start the backend up with a tiny fit of an architecture no case uses."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 2)), np.arange(16) % 2
    data = bench.Dataset("warm-up", "classifier", X, X, y, y)
    make_fit(bench, via, data, 1)()


def make_fit(bench, via, data, epochs, dtype="float32"):
    """A no-argument function that runs one fit of ``data``."""
    X, y = data.X_train, data.y_train

    def estimator(n_epochs):
        est = bench.make_skout(data.kind, n_epochs, data.batch_size)
        # An older tree may not have the parameter: set it only when asked.
        return est.set_params(dtype=dtype) if dtype != "float32" else est

    if via == "estimator":
        return lambda: estimator(epochs).fit(X, y)
    from skout._engine import driver
    from skout._engine.contract import Carry, Schedule

    # The network, encoded data and key the estimator trains with (one short
    # fit, not timed, builds them).
    est = estimator(1).fit(X, y)
    spec = est._spec
    Y = np.asarray(est._encoder.transform(y), dtype)
    Xf, W = np.asarray(X, dtype), np.ones(len(X), dtype)
    backend = driver.backend_name()
    key = driver.trainer_key(driver.EngineOptions.from_estimator(est), spec, None, backend)
    schedule = Schedule(
        learning_rate=est.learning_rate_init, alpha=est.alpha, batch_size=data.batch_size,
        max_epochs=epochs, tol=0.0, n_iter_no_change=epochs, seed=0,
    )  # fmt: skip
    loop = driver.loop_for(backend)

    def fit():
        weights = spec.initial_weights(np.random.RandomState(0))
        carry = Carry.fresh(est.learning_rate_init)
        return loop.run_chunk(key, weights, (Xf, Y, W), None, schedule, carry)

    return fit


def run_backend(backend, args, tree=HERE.parent, dtype="float32"):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env["PYTHONPATH"] = os.pathsep.join([str(tree), env.get("PYTHONPATH", "")])
    env["SKOUT_BENCH_TREE"] = str(tree)  # bench.py would otherwise put this checkout first
    if backend == "jax" and dtype == "float64":
        env["JAX_ENABLE_X64"] = "1"
    command = [sys.executable, __file__, "--worker", "--via", args.via,
               "--epochs", str(args.epochs), "--warm-fits", str(args.warm_fits),
               "--dtype", dtype]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"{backend} worker failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(results, args):
    lines = [
        f"Fit time, {args.epochs} epochs, hidden (100,), via {args.via}; "
        f"ratio = skout / MLPClassifier in the same process "
        f"({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs).",
        "",
        "| tree | backend | dtype | data set | skout cold (s) | skout warm (s) | MLP (s) "
        "| cold / MLP | warm / MLP | warm <= 1.0x |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        for r in result["rows"]:
            warm = r["warm"] / r["mlp"]
            lines.append(
                f"| {result['tree']} | {result['backend']} | {result.get('dtype', 'float32')} "
                f"| {r['dataset']} | {r['cold']:.2f} | {r['warm']:.3f} "
                f"| {r['mlp']:.3f} | {r['cold'] / r['mlp']:.2f}x | {warm:.2f}x "
                f"| {'PASS' if warm <= 1.0 else 'FAIL'} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="jax,torch")
    parser.add_argument("--via", choices=("estimator", "loop"), default="estimator")
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--warm-fits", type=int, default=3)
    parser.add_argument("--dtypes", default="float32", help="float32, float64 or both")
    parser.add_argument(
        "--trees",
        default=f"this={HERE.parent}",
        help="label=path of each skout checkout to time, comma-separated",
    )
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--dtype", default="float32", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    results = []
    for backend in args.backends.split(","):
        if importlib.util.find_spec(backend) is None:
            print(f"{backend}: not installed, skipped", file=sys.stderr)
            continue
        for dtype in args.dtypes.split(","):
            # Trees alternate inside each (backend, dtype): load drifts hit both.
            for label, tree in (t.split("=", 1) for t in args.trees.split(",")):
                tree = Path(tree).resolve()
                result = run_backend(backend, args, tree, dtype)
                if Path(result["skout"]) != tree:  # the comparison would be void
                    raise RuntimeError(f"asked for {tree}, timed {result['skout']}")
                results.append({**result, "tree": label})
    text = table(results, args)
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text + "\n")


if __name__ == "__main__":
    main()
