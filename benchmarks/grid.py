"""A realistic grid search, run every parallel way, skout beside MLPClassifier.

The grid of issue 15: digits in a ``StandardScaler`` pipeline,
``hidden_layer_sizes`` (50,), (100,), (100, 50) x ``alpha`` 1e-4, 1e-2 x
``learning_rate_init`` 1e-3, 1e-2, 5 folds, ``max_iter=100`` (60 fits).
Each route runs in a fresh interpreter, so that every run pays what a user
pays (importing the framework in the main process and in each worker):

* ``n_jobs=1``;
* ``n_jobs=2`` with joblib's process backend (loky);
* ``loky+warm_up``: the same, with ``skout.warm_up(wait=False)`` called in
  the main process as the search starts (inside the timed wall), so the
  import the final refit needs overlaps the workers;
* ``n_jobs=2`` with joblib's threading backend;
* a Dask ``LocalCluster`` of 2 single-threaded worker processes;
* ``dask-processes+warm_up``: the same cluster brought up for skout when it
  starts (``client.run(skout.warm_up)``, and ``warm_up`` in the main
  process); that time is reported as set-up, outside the search's wall. For
  MLPClassifier the workers import scikit-learn's neural network instead;
* a Dask ``LocalCluster`` of 1 worker with 2 threads (in-process).

For each it reports the wall time of the first ``GridSearchCV.fit`` (worker
start-up included) and of a second, identical search in the same process
(its workers already up: the notebook case), the time to start a Dask
cluster, the CPU time of the main process and all its workers during the
first search (on two cores, a route that needs more than twice the wall time
of ``n_jobs=1`` in CPU cannot beat it), the peak resident memory of the main
process and of each worker process (sampled with psutil every 50 ms), and
checks that the scores equal those of ``n_jobs=1``.

Usage::

    python benchmarks/grid.py                 # the full grid (several minutes)
    python benchmarks/grid.py --quick         # 2 settings, 3 folds, 20 epochs
    python benchmarks/grid.py --repeat 3      # medians of 3 fresh runs per route
    python benchmarks/grid.py --epochs 300    # every fit runs 300 epochs: a bigger grid
    python benchmarks/grid.py --markdown out.md --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

ROUTES = (
    "n_jobs=1",
    "loky",
    "loky+warm_up",
    "threading",
    "dask-processes",
    "dask-processes+warm_up",
    "dask-threads",
)
ESTIMATORS = ("skout", "MLPClassifier")


def grid(quick):
    if quick:
        return (
            {
                "hidden_layer_sizes": [(50,), (100,)],
                "alpha": [1e-4],
                "learning_rate_init": [1e-3],
            },
            3,
            20,
        )
    return (
        {
            "hidden_layer_sizes": [(50,), (100,), (100, 50)],
            "alpha": [1e-4, 1e-2],
            "learning_rate_init": [1e-3, 1e-2],
        },
        5,
        100,
    )


class PeakRSS:
    """Peak RSS and CPU time of this process and of each of its descendants, sampled."""

    def __init__(self, interval=0.05):
        import psutil

        self._me = psutil.Process()
        self.peaks = {}
        self.cpu = {}  # pid -> user + system seconds at the last sample
        self.cpu_start = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _sample(self):
        procs = [self._me]
        try:
            procs += self._me.children(recursive=True)
        except Exception:  # a child may vanish while we list them
            pass
        for proc in procs:
            try:
                rss = proc.memory_info().rss
                name = " ".join(proc.cmdline()[:3])[-80:]
                times = proc.cpu_times()
            except Exception:
                continue
            with self._lock:
                old = self.peaks.get(proc.pid, (0, name))[0]
                self.peaks[proc.pid] = (max(old, rss), name)
                self.cpu[proc.pid] = times.user + times.system

    def cpu_seconds(self):
        """CPU time of the whole tree since ``__enter__`` (a process gone
        between two samples loses at most its last 50 ms)."""
        self._sample()
        with self._lock:
            return sum(t - self.cpu_start.get(pid, 0.0) for pid, t in self.cpu.items())

    def _run(self, interval):
        while not self._stop.wait(interval):
            self._sample()

    def __enter__(self):
        self._sample()
        self.cpu_start = dict(self.cpu)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


def run_one(estimator_name, route, quick, epochs=None):
    """One route, in this (fresh) process: JSON on stdout."""
    t_start = time.perf_counter()
    import warnings

    import numpy as np
    from joblib import parallel_config
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from skout import AutoHeadClassifier

    warnings.simplefilter("ignore", ConvergenceWarning)
    os.environ["PYTHONWARNINGS"] = "ignore"  # the same in worker processes
    t_imports = time.perf_counter() - t_start
    params, folds, default_epochs = grid(quick)
    epochs = epochs or default_epochs
    X, y = load_digits(return_X_y=True)
    cls = AutoHeadClassifier if estimator_name == "skout" else MLPClassifier
    net = cls(max_iter=epochs, random_state=0)
    if epochs != default_epochs:  # every fit runs all its epochs: E times the training
        net.set_params(n_iter_no_change=epochs)
    pipe = Pipeline([("scale", StandardScaler()), ("net", net)])

    cluster = client = None
    setup = 0.0
    warm = route.endswith("+warm_up")
    route = route.removesuffix("+warm_up")
    if route.startswith("dask"):
        from dask.distributed import Client, LocalCluster

        start = time.perf_counter()
        if warm and estimator_name == "skout":
            import skout

            skout.warm_up(wait=False)  # the main process, while the cluster starts
        processes = route == "dask-processes"
        cluster = LocalCluster(
            n_workers=2 if processes else 1,
            threads_per_worker=1 if processes else 2,
            processes=processes,
            # Processes talk over TCP on the loopback only; threads in-process.
            **({"host": "127.0.0.1"} if processes else {}),
            dashboard_address=None,
            memory_limit="6GiB",
        )
        client = Client(cluster)
        if warm:
            client.run(_warm_up_worker, estimator_name)
            if estimator_name == "skout":
                skout.warm_up()
        setup = time.perf_counter() - start
        config = dict(backend="dask", n_jobs=2)
    elif route == "n_jobs=1":
        config = dict(n_jobs=1)
    else:
        config = dict(backend=route, n_jobs=2)
    walls, cpus = [], []
    try:
        with PeakRSS() as memory:
            for _ in range(2):  # a fresh process, then the same workers again
                search = GridSearchCV(pipe, {f"net__{k}": v for k, v in params.items()}, cv=folds)
                start = time.perf_counter()
                if warm and route == "loky" and estimator_name == "skout":
                    import skout

                    skout.warm_up(wait=False)
                with parallel_config(**config):
                    search.fit(X, y)
                walls.append(time.perf_counter() - start)
                cpus.append(memory.cpu_seconds() - sum(cpus))
    finally:
        if client is not None:
            client.close()
            cluster.close()
    main = memory.peaks.pop(os.getpid())[0]
    workers = sorted(
        (rss for rss, name in memory.peaks.values() if "resource_tracker" not in name),
        reverse=True,
    )
    return {
        "estimator": estimator_name,
        "route": f"{route}+warm_up" if warm else route,
        "wall_s": round(walls[0], 2),
        "second_wall_s": round(walls[1], 2),
        "setup_s": round(setup, 2),
        "cpu_s": round(cpus[0], 1),
        "second_cpu_s": round(cpus[1], 1),
        "imports_s": round(t_imports, 2),
        "main_peak_mib": round(main / 2**20),
        "worker_peak_mib": [round(w / 2**20) for w in workers],
        "mean_test_score": np.asarray(search.cv_results_["mean_test_score"]).tolist(),
        "best_params": {k: str(v) for k, v in search.best_params_.items()},
    }


def _warm_up_worker(estimator_name):
    """What a cluster set up for this estimator brings up in each worker."""
    if estimator_name == "skout":
        import skout

        return skout.warm_up()
    import sklearn.neural_network  # noqa: F401

    return "sklearn"


def run_fresh(estimator_name, route, quick, epochs=None):
    cmd = [sys.executable, __file__, "--one", estimator_name, route]
    if quick:
        cmd.append("--quick")
    if epochs:
        cmd += ["--epochs", str(epochs)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        return {"estimator": estimator_name, "route": route, "error": out.stderr[-2000:]}
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["stderr_lines"] = len([line for line in out.stderr.splitlines() if line.strip()])
    return result


def median_run(runs):
    """One result from repeated fresh runs: the median of every time."""
    good = [r for r in runs if "error" not in r]
    if not good:
        return runs[0]
    result = dict(good[0])
    for key in ("wall_s", "second_wall_s", "setup_s", "cpu_s", "second_cpu_s"):
        result[key] = statistics.median(r[key] for r in good)
        result[f"{key}_all"] = [r[key] for r in good]
    return result


def table(results):
    by = {(r["estimator"], r["route"]): r for r in results}
    lines = [
        "| route | skout (s) | MLPClassifier (s) | skout, 2nd search (s) "
        "| MLP, 2nd search (s) | CPU, first search, skout / MLP (s) "
        "| cluster set-up skout / MLP (s) "
        "| skout peak RSS main / per worker (MiB) "
        "| MLP peak RSS main / per worker (MiB) | skout scores = n_jobs=1 |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    base = by.get(("skout", "n_jobs=1"), {}).get("mean_test_score")
    for route in ROUTES:
        if not any((name, route) in by for name in ESTIMATORS):
            continue
        cells = [route]
        for key in ("wall_s", "second_wall_s"):
            for name in ESTIMATORS:
                r = by.get((name, route), {})
                cells.append(f"{r[key]:.1f}" if key in r else "error")
        cpus = [by.get((name, route), {}).get("cpu_s") for name in ESTIMATORS]
        cells.append(" / ".join("-" if t is None else f"{t:.1f}" for t in cpus))
        setups = [by.get((name, route), {}).get("setup_s") for name in ESTIMATORS]
        setup = " / ".join("-" if t is None else f"{t:.1f}" for t in setups)
        cells.append(setup if route.startswith("dask") else "-")
        for name in ESTIMATORS:
            r = by.get((name, route), {})
            if "wall_s" not in r:
                cells.append("")
                continue
            # The 2 workers; the rest are helpers (loky's resource tracker, a nanny).
            workers = ", ".join(str(w) for w in r["worker_peak_mib"][:2]) or "-"
            cells.append(f"{r['main_peak_mib']} / {workers}")
        r = by.get(("skout", route), {})
        scores = r.get("mean_test_score")
        if scores is None or base is None:
            cells.append("")
        else:
            diff = max(abs(a - b) for a, b in zip(scores, base))
            cells.append("yes" if diff == 0 else f"max diff {diff:.2g}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def goals(results):
    """The issue's goals, for the first search and for the second one."""
    lines = []
    for key, label in (("wall_s", "first search"), ("second_wall_s", "second search")):
        by = {(r["estimator"], r["route"]): r.get(key) for r in results}
        one = by.get(("skout", "n_jobs=1"))
        for route in ROUTES[1:]:
            two, mlp = by.get(("skout", route)), by.get(("MLPClassifier", route))
            if None in (one, two, mlp):
                continue
            faster = "PASS" if two < one else "FAIL"
            beside = "PASS" if two <= mlp else "FAIL"
            lines.append(
                f"- {label}, {route}: 2 workers {two:.1f} s vs 1 job {one:.1f} s: {faster}; "
                f"vs MLPClassifier {mlp:.1f} s: {beside}"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small grid, to smoke-test")
    parser.add_argument("--routes", default=",".join(ROUTES), help="comma-separated routes")
    parser.add_argument("--estimators", default=",".join(ESTIMATORS))
    parser.add_argument(
        "--epochs",
        type=int,
        help="run every fit for exactly E epochs (default: max_iter=100, early stop on tol)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="fresh runs per route (medians)")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--markdown", help="also write the table here")
    parser.add_argument("--one", nargs=2, metavar=("ESTIMATOR", "ROUTE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(*args.one, args.quick, args.epochs)))
        return
    # Repeats go round the routes, so a slow spell of the machine hits them all.
    runs = {}
    for _ in range(args.repeat):
        for route in args.routes.split(","):
            for name in args.estimators.split(","):
                print(f"{name} / {route} ...", file=sys.stderr, flush=True)
                r = run_fresh(name, route, args.quick, args.epochs)
                runs.setdefault((name, route), []).append(r)
                print(
                    f"  {r.get('wall_s', 'error')} s, then {r.get('second_wall_s', '-')} s",
                    r.get("error", ""),
                    file=sys.stderr,
                )
    results = [median_run(group) for group in runs.values()]
    report = f"{table(results)}\n\n{goals(results)}\n"
    print(report)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    if args.markdown:
        Path(args.markdown).write_text(report)


if __name__ == "__main__":
    main()
