"""The README's example and the demo run as written."""

import re
from pathlib import Path

from skout import demo

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_runs(capsys):
    readme = (ROOT / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "softmax" in printed and "(3, 3)" in printed


def test_demo_fits_every_target_type(capsys):
    demo.main()
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
