"""Every gallery example and every doctest of the user guide runs as written.

The examples are the scripts in ``examples/`` that the documentation's
gallery executes; running them here keeps them from going stale between
documentation builds. The ``>>>`` snippets of ``docs/**/*.rst`` run as
doctests for the same reason.
"""

import doctest
import runpy
import warnings
from pathlib import Path

import pytest
from sklearn.exceptions import ConvergenceWarning

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
GUIDE_PAGES = sorted(
    p for p in (ROOT / "docs").rglob("*.rst") if "_build" not in p.parts and ">>>" in p.read_text()
)


def test_there_are_examples_and_each_says_what_it_shows():
    assert len(EXAMPLES) >= 7
    for path in EXAMPLES:
        assert path.name.startswith("plot_"), f"{path.name}: the gallery runs plot_*.py only"
        source = path.read_text()
        assert source.startswith('"""\n'), f"{path.name}: needs a docstring title"
        assert "# %%" in source, f"{path.name}: needs prose cells"


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # anything an example writes lands here
    try:
        with warnings.catch_warnings():
            # Examples train for a few epochs on purpose, and plt.show() is a
            # no-op under the Agg backend.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
            runpy.run_path(str(path), run_name="__main__")
    finally:
        plt.close("all")


@pytest.mark.parametrize(
    "path", GUIDE_PAGES, ids=[str(p.relative_to(ROOT / "docs")) for p in GUIDE_PAGES]
)
def test_user_guide_doctests(path):
    result = doctest.testfile(
        str(path),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctests failed in {path}"
