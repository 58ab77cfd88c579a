"""Run scikit-learn's own MLP test-suite against skout's estimators.

The test module is read from the installed scikit-learn (never copied into
this repository), its one import of ``MLPClassifier``/``MLPRegressor`` is
pointed at ``AutoHeadClassifier``/``AutoHeadRegressor``, and pytest runs it
from a temporary folder. The summary line gives the pass count.

Usage::

    python tools/run_sklearn_mlp_tests.py [extra pytest args]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import sklearn

SKLEARN_IMPORT = "from sklearn.neural_network import MLPClassifier, MLPRegressor"
SKOUT_IMPORT = (
    "from skout import AutoHeadClassifier as MLPClassifier, AutoHeadRegressor as MLPRegressor"
)


def swapped_test_module() -> str:
    """Source of sklearn's test_mlp.py with skout's classes swapped in."""
    path = Path(sklearn.__file__).parent / "neural_network" / "tests" / "test_mlp.py"
    source = path.read_text()
    if SKLEARN_IMPORT not in source:
        raise SystemExit(f"Cannot find {SKLEARN_IMPORT!r} in {path}; update this script.")
    return source.replace(SKLEARN_IMPORT, SKOUT_IMPORT)


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "test_mlp_with_skout.py"
        target.write_text(swapped_test_module())
        command = [sys.executable, "-m", "pytest", str(target), "-q", "-p", "no:cacheprovider",
                   "-W", "ignore", "--rootdir", folder, *argv]  # fmt: skip
        return subprocess.call(command, cwd=folder)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
