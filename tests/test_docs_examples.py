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
