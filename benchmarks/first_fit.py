"""First contact: a fresh interpreter imports skout, fits iris and predicts.

The time is split into what the framework costs and what skout adds:

* ``import``     -- ``from skout import AutoHeadClassifier`` (no framework);
* ``framework``  -- Keras and TensorFlow imported and the runtime started
  (``skout._framework.import_keras``, what the first fit would do first);
* ``first fit``  -- the first ``fit`` + ``predict`` on iris: skout's own share
  (validation, encoding, the first trace of the compiled training loop);
* ``second fit`` -- the same fit again: the trace is cached, so the
  difference with ``first fit`` is the trace.

MLPClassifier is timed the same way (it has no framework). Each estimator
runs ``--repeat`` times, each in its own fresh process; the median is shown.

Usage::

    python benchmarks/first_fit.py            # 3 fresh processes each
    python benchmarks/first_fit.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 0.5  # skout's share of a first fit, beyond the framework

ONE = r"""
import json, sys, time, warnings
t0 = time.perf_counter()
name = sys.argv[1]
if name == "skout":
    from skout import AutoHeadClassifier as Estimator
else:
    from sklearn.neural_network import MLPClassifier as Estimator
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_iris(return_X_y=True)
t1 = time.perf_counter()
if name == "skout":
    from skout._framework import import_keras
    import_keras()
t2 = time.perf_counter()
Estimator(random_state=0).fit(X, y).predict(X)
t3 = time.perf_counter()
Estimator(random_state=1).fit(X, y).predict(X)
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "framework": t2 - t1, "first fit": t3 - t2,
                  "second fit": t4 - t3}))
"""


def measure(name):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", ONE, name], capture_output=True, text=True, env=env, cwd=ROOT
    )
    total = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process"] = total
    result["stderr lines"] = len(out.stderr.splitlines())
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    columns = ("import", "framework", "first fit", "second fit", "process", "stderr lines")
    print("| estimator | " + " | ".join(columns) + " |")
    print("|---" * (len(columns) + 1) + "|")
    medians = {}
    for name in ("skout", "MLPClassifier"):
        runs = [measure(name) for _ in range(args.repeat)]
        medians[name] = {c: statistics.median(r[c] for r in runs) for c in columns}
        cells = [f"{medians[name][c]:.2f}" for c in columns[:-1]]
        cells.append(str(int(medians[name]["stderr lines"])))
        print(f"| {name} | " + " | ".join(cells) + " |")
    share = medians["skout"]["first fit"]
    trace = share - medians["skout"]["second fit"]
    verdict = "PASS" if share < GOAL_S else "FAIL"
    print(
        f"\nskout's share of the first fit: {share:.2f} s (goal < {GOAL_S} s: {verdict}); "
        f"of which the first trace: about {trace:.2f} s"
    )


if __name__ == "__main__":
    main()
