"""The command line (skout.cli): ``skout inspect`` and ``skout check``."""

import doctest
import os
import subprocess
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
from keras import layers

import skout.cli
from skout.cli import main

ROOT = Path(__file__).resolve().parents[1]
# Keras's TensorFlow backend warns about NumPy 2's copy keyword when saving a model.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
N = 30


@pytest.fixture(scope="module")
def frame():
    rng = np.random.RandomState(0)
    species = np.array(["setosa", "versicolor", "virginica"])[np.arange(N) % 3]
    return pd.DataFrame(
        {
            "x1": rng.randn(N),
            "x2": rng.randn(N),
            "spam": np.where(np.arange(N) < 12, "spam", "ham"),  # 12 spam, 18 ham
            "species": species,
            "price": np.linspace(10.5, 300.0, N),
            "count": np.arange(N) % 7 * 3,
            "a": np.arange(N) % 2,
            "b": (np.arange(N) % 3 == 0).astype(int),
            "is_setosa": (species == "setosa").astype(int),
            "is_other": (species != "setosa").astype(int),
        }
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory, frame):
    d = tmp_path_factory.mktemp("data")
    frame.to_csv(d / "data.csv", index=False)
    frame.to_csv(d / "data.tsv", sep="\t", index=False)
    frame.to_parquet(d / "data.parquet")
    frame.to_parquet(d / "data.pq")
    return d


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """A good and a seed-003-style bad model for the 3-class target, saved untrained."""
    d = tmp_path_factory.mktemp("models")
    good = keras.Sequential([keras.Input((2,)), layers.Dense(3, activation="softmax")])
    good.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    good.save(d / "good.keras")
    bad = keras.Sequential(
        [keras.Input((2,)), layers.Dense(4, activation="relu"), layers.Dense(3, "sigmoid")]
    )
    bad.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    bad.save(d / "bad.keras")
    return d


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# ------------------------------------------------------------------ inspect


def test_inspect_binary_string_labels_from_csv(capsys, data_dir):
    status, out, err = run(capsys, "inspect", data_dir / "data.csv", "--target", "spam")
    assert status == 0, err
    assert f"rows:         {N}" in out
    assert "target type:  binary (2 classes)" in out
    lines = out.splitlines()
    assert any(line.split() == ["ham", "18", "60.0%"] for line in lines)
    assert any(line.split() == ["spam", "12", "40.0%"] for line in lines)
    assert "activation:  sigmoid" in out and "loss:        binary_crossentropy" in out
    assert "outputs = Dense(1, activation='sigmoid')(hidden)" in out
    assert "AutoHeadClassifier().fit(X, y)" in out


@pytest.mark.parametrize("name", ["data.parquet", "data.pq", "data.tsv"])
def test_inspect_multiclass_from_parquet_and_tsv(capsys, data_dir, name):
    status, out, _ = run(capsys, "inspect", data_dir / name, "--target", "species")
    assert status == 0
    assert "target type:  multiclass (3 classes)" in out
    assert any(line.split() == ["setosa", "10", "33.3%"] for line in out.splitlines())
    assert "units:       3" in out and "activation:  softmax" in out
    assert "loss:        sparse_categorical_crossentropy" in out
    assert "decoding:    argmax" in out
    assert "labels = classes[np.argmax(model.predict(X), axis=1)]" in out


def test_inspect_regression_prints_min_mean_max_std(capsys, data_dir, frame):
    status, out, _ = run(capsys, "inspect", data_dir / "data.csv", "--target", "price")
    assert status == 0
    assert "target type:  continuous" in out
    price = frame["price"]
    (row,) = [line.split() for line in out.splitlines() if line.strip().startswith("price")]
    assert [float(v) for v in row[1:]] == pytest.approx(
        [price.min(), price.mean(), price.max(), price.std()], rel=1e-4
    )
    assert "outputs = Dense(1, activation='linear')(hidden)" in out
    assert "AutoHeadRegressor().fit(X, y)" in out


def test_inspect_suggests_poisson_for_counts_with_many_zeros(capsys, tmp_path):
    visits = [0, 3, 0, 1, 0, 7, 2, 0, 5, 0]
    pd.DataFrame({"x": range(10), "visits": visits}).to_csv(tmp_path / "v.csv", index=False)
    status, out, _ = run(capsys, "inspect", tmp_path / "v.csv", "--target", "visits",
                         "--regressor")  # fmt: skip
    assert status == 0
    (line,) = [line for line in out.splitlines() if line.startswith("suggestion:")]
    assert "AutoHeadRegressor(loss='poisson')" in line and "50% of them 0" in line
    assert "loss:        mean_squared_error" in out  # the head itself stays the table's


def test_inspect_integer_target_as_classes_or_with_regressor(capsys, data_dir):
    status, out, _ = run(capsys, "inspect", data_dir / "data.csv", "--target", "count")
    assert status == 0 and "multiclass (7 classes)" in out and "--regressor" in out
    status, out, _ = run(
        capsys, "inspect", data_dir / "data.csv", "--target", "count", "--regressor"
    )
    assert status == 0 and "target type:  continuous" in out and "AutoHeadRegressor" in out


def test_inspect_indicator_columns(capsys, data_dir):
    status, out, _ = run(capsys, "inspect", data_dir / "data.csv", "--target", "a,b")
    assert status == 0
    assert "multilabel-indicator (2 labels)" in out
    assert any(line.split() == ["a", "15", "50.0%"] for line in out.splitlines())
    assert "Dense(2, activation='sigmoid')" in out and "threshold" in out
    status, out, _ = run(
        capsys, "inspect", data_dir / "data.parquet", "--target", "is_setosa, is_other"
    )
    assert status == 0
    assert "one-hot (2 classes" in out and "loss:        categorical_crossentropy" in out


def test_inspect_multi_output_labels_per_column(capsys, data_dir):
    status, out, _ = run(capsys, "inspect", data_dir / "data.csv", "--target", "species,spam")
    assert status == 0
    assert "multiclass-multioutput (2 columns with 3, 2 classes)" in out
    assert "column 'species':" in out and "column 'spam':" in out
    assert "Dense(3, activation='softmax')(hidden), Dense(1, activation='sigmoid')(hidden)" in out


def test_inspect_lists_the_top_20_classes(capsys, tmp_path):
    labels = [f"c{i:02d}" for i in range(25) for _ in range(i + 1)]
    pd.DataFrame({"y": labels}).to_csv(tmp_path / "many.csv", index=False)
    status, out, _ = run(capsys, "inspect", tmp_path / "many.csv", "--target", "y")
    assert status == 0
    assert "multiclass (25 classes)" in out
    assert "c24" in out and "c05" in out and "c04 " not in out
    assert "... and 5 more classes (15 rows, 4.6%)" in out


def test_inspect_leaves_out_rows_with_a_missing_target(capsys, tmp_path):
    (tmp_path / "gaps.csv").write_text("x,y\n1,a\n2,\n3,b\n4,a\n")
    status, out, _ = run(capsys, "inspect", tmp_path / "gaps.csv", "--target", "y")
    assert status == 0
    assert "rows:         3 (1 row with a missing target left out)" in out


def test_inspect_with_missing_targets_suggests_dropping_them_and_the_fit_then_works(
    capsys, tmp_path
):
    rng = np.random.RandomState(0)
    sex = np.where(rng.rand(40) < 0.5, "f", "m").astype(object)
    sex[[3, 17]] = np.nan
    pd.DataFrame({"x": rng.randn(40), "sex": sex}).to_csv(tmp_path / "d.csv", index=False)
    status, out, _ = run(capsys, "inspect", tmp_path / "d.csv", "--target", "sex")
    assert status == 0
    lines = [line.strip() for line in out.splitlines()]
    drop = "first data = data.dropna(subset=['sex'])"
    assert any(line.startswith(drop) and "2 rows with no target" in line for line in lines)
    # the suggestion, followed in order, fits; skipping the first line gets a clear error
    from skout import AutoHeadClassifier

    data = pd.read_csv(tmp_path / "d.csv")
    with pytest.raises(ValueError, match=r"no value \(NaN, None or NA\) in 2 row\(s\)"):
        AutoHeadClassifier(max_iter=2).fit(data.drop(columns=["sex"]), data["sex"])
    data = data.dropna(subset=["sex"])
    y, X = data["sex"], data.drop(columns=["sex"])
    AutoHeadClassifier(hidden_layer_sizes=(2,), max_iter=2, random_state=0).fit(X, y)
    # no missing target: no such line
    status, out, _ = run(capsys, "inspect", tmp_path / "d.csv", "--target", "x")
    assert "dropna" not in out


def test_inspect_regressor_flag_on_labels_says_to_drop_the_flag(capsys, data_dir):
    status, out, err = run(
        capsys, "inspect", data_dir / "data.csv", "--target", "species", "--regressor"
    )
    assert_one_line_error(status, out, err, "drop --regressor")
    assert "AutoHeadClassifier" not in err


def test_inspect_suggests_a_1d_target_whose_predict_returns_labels(capsys, data_dir, frame):
    status, out, _ = run(capsys, "inspect", data_dir / "data.csv", "--target", "species")
    assert status == 0
    assert "y = data['species'] (1-D: predict returns shape (n,))" in out
    assert "X = data.drop(columns=['species'])" in out
    assert "data[['species']]" not in out
    # the suggestion, followed: predict gives one label per row, not an (n, 1) column
    from skout import AutoHeadClassifier

    data = pd.read_csv(data_dir / "data.csv")
    y, X = data["species"], data.drop(columns=["species"])[["x1", "x2"]]
    clf = AutoHeadClassifier(hidden_layer_sizes=(2,), max_iter=2, random_state=0).fit(X, y)
    assert clf.predict(X).shape == (N,)
    # several columns make a 2-D target, and the suggestion says so
    status, out, _ = run(capsys, "inspect", data_dir / "data.csv", "--target", "a,b")
    assert "y = data[['a', 'b']] (2-D: predict returns shape (n, 2))" in out


def test_inspect_binary_decoding_is_the_threshold_its_code_applies(capsys, data_dir):
    status, out, _ = run(capsys, "inspect", data_dir / "data.csv", "--target", "spam")
    assert status == 0
    (decoding,) = [line for line in out.splitlines() if line.startswith("  decoding:")]
    assert "binary threshold" in decoding and "P(class 1) > 0.5" in decoding
    assert "argmax" not in decoding
    (code,) = [line.strip() for line in out.splitlines() if line.strip().startswith("labels =")]
    assert code == "labels = classes[(model.predict(X)[:, 0] > 0.5).astype(int)]"
    # the printed line decodes as stated, and as skout's own predict does (a tie
    # at exactly 0.5 is class 0, as in MLPClassifier): classes[1] above 0.5
    model = type("Model", (), {"predict": lambda self, X: np.array([[0.2], [0.5], [0.9]])})()
    scope = {"np": np, "classes": np.array(["ham", "spam"]), "model": model, "X": None}
    exec(code, scope)
    assert scope["labels"].tolist() == ["ham", "ham", "spam"]


def test_inspect_prints_hostile_labels_escaped_and_cut(capsys, tmp_path):
    ansi = "\x1b[31mRED\x1b[0m"
    huge = "z" * 3_000_000
    pd.DataFrame(
        {"x": [1, 2, 3, 4, 5, 6], "\x1b[2Jlabel": ["ok", ansi, huge, "ok", ansi, huge]}
    ).to_csv(tmp_path / "hostile.csv", index=False)
    status, out, err = run(capsys, "inspect", tmp_path / "hostile.csv", "--target", "\x1b[2Jlabel")
    assert status == 0, err
    assert "\x1b" not in out  # no raw escape reaches the terminal
    assert "\\x1b[31mRED\\x1b[0m" in out  # shown escaped, as repr would
    assert "z" * 37 + "..." in out and "z" * 41 not in out
    assert len(out) < 3_000  # not 3 copies of a 3 MB label
    # a missing column is named escaped in the one-line error
    status, out, err = run(capsys, "inspect", tmp_path / "hostile.csv", "--target", "y\x07")
    assert_one_line_error(status, out, err, "\\x07")


# -------------------------------------------------------------------- check


def test_check_a_good_model_exits_0(capsys, models, data_dir):
    status, out, err = run(
        capsys, "check", models / "good.keras", data_dir / "data.csv", "--target", "species"
    )
    assert status == 0, err
    assert "INFO    [ok]" in out and "[decode-probabilities]" in out
    assert "0 error(s), 0 warning(s): the head fits the target" in out


def test_check_a_seed_003_model_exits_1_with_the_fix(capsys, models, data_dir):
    status, out, _ = run(
        capsys, "check", models / "bad.keras", data_dir / "data.csv", "--target", "species"
    )
    assert status == 1
    assert "ERROR   [sigmoid-multiclass]" in out
    assert "Dense(3, activation='sigmoid')" in out
    assert "fix: Dense(3, activation='softmax') with" in out
    assert "sparse_categorical_crossentropy" in out
    assert "1 error(s)" in out


def test_check_on_one_hot_columns_and_with_a_loss_override(capsys, models, data_dir):
    # three one-hot columns built from species
    frame = pd.read_csv(data_dir / "data.csv")
    onehot = pd.get_dummies(frame["species"]).astype(int)
    path = data_dir / "onehot.csv"
    onehot.to_csv(path, index=False)
    status, out, _ = run(
        capsys, "check", models / "bad.keras", path, "--target", "setosa,versicolor,virginica"
    )
    assert status == 1 and "fix: Dense(3, activation='softmax') with" in out
    assert "loss='categorical_crossentropy'" in out
    status, out, _ = run(
        capsys,
        "check",
        models / "good.keras",
        path,
        "--target",
        "setosa,versicolor,virginica",
        "--loss",
        "categorical_crossentropy",
    )
    assert status == 0 and "[ok]" in out


def test_check_a_file_that_is_not_a_model(capsys, tmp_path, data_dir):
    (tmp_path / "junk.keras").write_bytes(b"not a zip file")
    status, out, err = run(
        capsys, "check", tmp_path / "junk.keras", data_dir / "data.csv", "--target", "species"
    )
    assert status == 2 and out == ""
    assert err.startswith("skout: error: cannot load model")
    assert len(err.strip().splitlines()) == 1


# --------------------------------------------------------------- bad input


def assert_one_line_error(status, out, err, *words):
    assert status == 2
    assert out == ""
    assert err.startswith("skout: error: ")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    for word in words:
        assert word in err


def test_missing_file(capsys, tmp_path):
    status, out, err = run(capsys, "inspect", tmp_path / "nope.csv", "--target", "y")
    assert_one_line_error(status, out, err, "nope.csv", "no such file")


def test_missing_model_file(capsys, tmp_path, data_dir):
    status, out, err = run(
        capsys, "check", tmp_path / "nope.keras", data_dir / "data.csv", "--target", "species"
    )
    assert_one_line_error(status, out, err, "nope.keras", "no such file")


def test_missing_column_names_the_first_10_columns(capsys, data_dir):
    status, out, err = run(capsys, "inspect", data_dir / "data.csv", "--target", "label")
    assert_one_line_error(status, out, err, "'label'", "x1, x2, spam", "is_other")
    status, out, err = run(capsys, "inspect", data_dir / "data.csv", "--target", "x1,z")
    assert_one_line_error(status, out, err, "'z'")


def test_missing_column_lists_only_10_of_many(capsys, tmp_path):
    pd.DataFrame({f"col{i}": [1, 2] for i in range(12)}).to_csv(tmp_path / "w.csv", index=False)
    status, out, err = run(capsys, "inspect", tmp_path / "w.csv", "--target", "y")
    assert_one_line_error(status, out, err, "col9, ...", "(12 in all)")
    assert "col10" not in err


def test_unknown_extension(capsys, tmp_path):
    (tmp_path / "data.xlsx").write_text("y\n1\n")
    status, out, err = run(capsys, "inspect", tmp_path / "data.xlsx", "--target", "y")
    assert_one_line_error(status, out, err, "'.xlsx'", ".csv")


@pytest.mark.parametrize(
    ("content", "words"),
    [("", ["is empty"]), ("x,y\n", ["no rows", "x, y"])],
    ids=["empty", "header-only"],
)
def test_empty_data(capsys, tmp_path, content, words):
    (tmp_path / "empty.csv").write_text(content)
    status, out, err = run(capsys, "inspect", tmp_path / "empty.csv", "--target", "y")
    assert_one_line_error(status, out, err, *words)


def test_unreadable_parquet(capsys, tmp_path):
    (tmp_path / "bad.parquet").write_bytes(b"this is not parquet")
    status, out, err = run(capsys, "inspect", tmp_path / "bad.parquet", "--target", "y")
    assert_one_line_error(status, out, err, "cannot read", "as parquet")


def test_a_target_skout_cannot_learn(capsys, tmp_path):
    (tmp_path / "one.csv").write_text("x,y\n1,a\n2,a\n")
    status, out, err = run(capsys, "inspect", tmp_path / "one.csv", "--target", "y")
    assert_one_line_error(status, out, err, "one class")


@pytest.mark.parametrize(("module", "name"), [("pandas", "data.csv"), ("pyarrow", "data.parquet")])
def test_a_missing_package_is_named(capsys, monkeypatch, data_dir, module, name):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    status, out, err = run(capsys, "inspect", data_dir / name, "--target", "spam")
    assert_one_line_error(status, out, err, f"pip install {module}")


def test_usage_errors_exit_2(capsys):
    assert main([]) == 2
    assert main(["inspect", "data.csv"]) == 2  # --target is required
    err = capsys.readouterr().err
    assert "skout: error:" in err and "--target" in err


# ------------------------------------------------------------ entry points


def test_python_m_skout_help():
    result = subprocess.run(
        [sys.executable, "-m", "skout", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: skout")
    assert "inspect" in result.stdout and "check" in result.stdout


FRAMEWORKS = ("keras", "tensorflow", "jax", "torch")
# What --version must not import either: it answers at once (scikit-learn
# alone takes seconds to import on a small machine).
HEAVY = (*FRAMEWORKS, "sklearn", "scipy", "pandas")


def test_version_in_a_fresh_interpreter_imports_no_framework_and_no_scikit_learn():
    """``python -m skout --version``, run as ``-m`` does, then the modules it left loaded."""
    from skout._version import __version__

    code = (
        "import runpy, sys\n"
        "sys.argv = ['skout', '--version']\n"
        "try:\n"
        "    runpy.run_module('skout', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as exc:\n"
        "    status = exc.code\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "sys.exit(status)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [f"skout {__version__}", "[]"]


def test_check_in_a_fresh_interpreter_prints_nothing_on_stderr_for_a_correct_head(
    models, data_dir
):
    """``skout check`` loads Keras through skout's quiet loader: stderr holds only
    findings and real errors, never TensorFlow's start-up notices (here with
    TF_CPP_MIN_LOG_LEVEL unset, TensorFlow's loudest default)."""
    env = {k: v for k, v in os.environ.items() if k != "SKOUT_FRAMEWORK_LOGS"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-m", "skout", "check", str(models / "good.keras"),
         str(data_dir / "data.csv"), "--target", "species"],
        capture_output=True, text=True, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
        timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "the head fits the target" in result.stdout
    assert result.stderr == ""


def test_the_skout_script_is_declared():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["skout"] == "skout.cli:main"


def test_docstring_examples_run():
    result = doctest.testmod(skout.cli)
    assert result.attempted >= 1 and result.failed == 0


# -- issue 23: a loss the doctor cannot read is bad input ----------------------------------
def test_check_with_a_mistyped_loss_exits_2_with_a_suggestion(tmp_path, capsys):
    import keras

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    model.save(tmp_path / "m.keras")
    data = tmp_path / "d.csv"
    data.write_text("a,b,y\n1,2,cat\n3,4,dog\n5,6,bird\n")
    status = main([
        "check", str(tmp_path / "m.keras"), str(data), "--target", "y",
        "--loss", "categorical_crossentropyy",
    ])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 2
    assert "Did you mean 'categorical_crossentropy'" in err


# -- issue 23: misleading command-line errors -------------------------------------------------
@pytest.mark.parametrize("column", [" label ", "a,b", "kind, of"])
def test_target_selects_a_column_named_with_spaces_or_commas(tmp_path, capsys, column):
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], column: ["p", "q", "p", "q"]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    assert main(["inspect", str(tmp_path / "d.csv"), "--target", column]) == 0
    assert "binary (2 classes)" in capsys.readouterr().out


def test_a_missing_column_lists_odd_names_quoted(tmp_path, capsys):
    pd.DataFrame({" label ": [1, 2], "x": [1, 2]}).to_csv(tmp_path / "d.csv", index=False)
    assert main(["inspect", str(tmp_path / "d.csv"), "--target", "nope"]) == 2
    assert "available columns: ' label ', x" in capsys.readouterr().err


@pytest.mark.parametrize("flag", [[], ["--regressor"], ["--classifier"]])
def test_a_target_with_inf_is_bad_input(tmp_path, capsys, flag):
    frame = pd.DataFrame({"x": [1.0, 2, 3, 4, 5], "y": [1.5, np.inf, 2.5, 3.5, -np.inf]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy warnings on the way
        status = main(["inspect", str(tmp_path / "d.csv"), "--target", "y", *flag])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert "the target column y holds inf in 2 rows" in err and "[1, 4]" in err
