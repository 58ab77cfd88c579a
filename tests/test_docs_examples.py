"""The README's example and the demo run as written."""

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

from skout import demo

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "softmax" in printed and "(3, 3)" in printed


def _readme_commands():
    """The command lines of the README's "Two commands" block."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Two commands.*?```bash\n(.*?)```", readme, re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_first_command_runs_the_demo_on_the_core_install_only():
    demo_cmd, test_cmd = _readme_commands()
    assert demo_cmd == "python -m pip install -e . && python -m skout.demo"
    assert test_cmd == 'python -m pip install -e ".[test]" && python -m pytest'
    if tomllib is None:
        return
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = " ".join(project["dependencies"])
    test_extra = " ".join(project["optional-dependencies"]["test"])
    # The heavy test tools stay out of the first command's install.
    for tool in ("jax", "distributed", "pyarrow", "hypothesis", "pytest"):
        assert tool not in core and tool in test_extra, tool
    assert project["license"] == "BSD-3-Clause"  # an SPDX string (PEP 639), not a table


def test_ci_runs_exactly_the_readme_test_command():
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.strip()]
    test_cmd = _readme_commands()[1]
    install, run = test_cmd.split(" && ")
    extra = install.split()[-1]  # -e ".[test]"
    assert any(line.startswith("python -m pip install") and extra in line for line in ci)
    assert ci[-1] == run  # the last thing CI does is the README's test command


def test_demo_fits_every_target_type_beside_its_baselines(capsys):
    # max_iter=3: this checks what the demo prints, not how well it trains
    # (the full demo takes about 30 s; its scores are quoted in the README).
    demo.main(max_iter=3)
    out = capsys.readouterr().out
    for target_type in (
        "binary",
        "multiclass",
        "one-hot",
        "multilabel-indicator",
        "multiclass-multioutput",
        "continuous",
        "continuous-multioutput",
    ):
        assert f"target_type_ = {target_type!r}" in out
    # every case scores skout beside a linear and a dummy model
    n_cases = out.count("target_type_ = ")
    assert n_cases == 8
    for baseline in ("skout", "LogisticRegression|Ridge", "dummy \\((most frequent|mean)\\)"):
        scores = re.findall(rf"^    (?:{baseline}) +-?[01]\.\d{{3}}", out, re.M)
        assert len(scores) == n_cases, (baseline, out)


def _rst_block(path, name):
    """The code of the ``.. code-block::`` named ``name`` in ``path``, dedented."""
    import textwrap

    text = (ROOT / path).read_text()
    match = re.search(rf"\.\. code-block:: python\n   :name: {name}\n\n((?:   .*\n|\n)+)", text)
    assert match, f"no code block named {name!r} in {path}"
    return textwrap.dedent(match.group(1))


def test_the_parallel_guides_dask_script_runs_as_a_script(tmp_path):
    """The guide's Dask snippet, saved as a file and run with ``python``: its
    worker processes import it again, so it must hold the ``__main__`` guard
    (without it, each worker tries to start a cluster and the run fails)."""
    import os
    import subprocess

    import pytest

    pytest.importorskip("distributed")
    script = tmp_path / "dask_search.py"
    script.write_text(_rst_block("docs/user_guide/parallel.rst", "dask-script"))
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'alpha'" in result.stdout
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
