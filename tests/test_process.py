"""What a process pays for skout: quiet start-up, a light notebook view.

The start-up checks run in fresh interpreters (the framework's notices are
printed once per process, by native code, on file descriptor 2); the two
interpreters that import TensorFlow run side by side to save time.
"""

import os
import pickle
import re
import subprocess
import sys
import textwrap
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skout import AutoHeadClassifier, AutoHeadRegressor
from skout._framework import KNOWN_NOTICES, _filtered_stderr, thread_budget

ROOT = Path(__file__).resolve().parents[1]
FIT_DONE = "--- fit done ---"

# A default fit, then the user's own warning, then a real error (uncaught).
FIT_SCRIPT = textwrap.dedent(
    f"""
    import pickle, sys, warnings
    from sklearn.datasets import load_iris
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skout import AutoHeadClassifier
    warnings.simplefilter("ignore", ConvergenceWarning)  # the user's choice, not noise
    X, y = load_iris(return_X_y=True)
    clf = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=3, early_stopping=True,
                             random_state=0)
    pipe = make_pipeline(StandardScaler(), clf).fit(X, y)
    pipe.predict(X)
    with open(sys.argv[1], "wb") as f:
        pickle.dump(pipe, f)
    sys.stderr.write("{FIT_DONE}\\n")
    sys.stderr.flush()
    warnings.warn("the user's own warning")
    AutoHeadClassifier().fit(X, y[:3])  # inconsistent lengths: a real error
    """
)

LOGS_SCRIPT = "from skout._framework import import_keras; import_keras()"

VIEW_SCRIPT = textwrap.dedent(
    """
    import pickle, sys
    import sklearn
    with open(sys.argv[1], "rb") as f:
        pipe = pickle.load(f)
    clf = pipe[-1]
    html = clf._repr_html_()
    text = clf._repr_mimebundle_()["text/plain"]
    pipeline_html = pipe._repr_html_()
    names = dir(clf)
    loaded = [m for m in ("tensorflow", "jax", "torch", "keras") if m in sys.modules]
    print(repr(loaded))
    print(html)
    print("=== text ===")
    print(text)
    print("=== pipeline ===")
    print(pipeline_html)
    """
)


def _python(script, *args, **env):
    return subprocess.Popen(
        [sys.executable, "-c", script, *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def fresh_runs(tmp_path_factory):
    """A default fit (quiet) and a bare import with the logs on, side by side."""
    path = tmp_path_factory.mktemp("process") / "clf.pkl"
    env = {k: v for k, v in os.environ.items() if k != "SKOUT_FRAMEWORK_LOGS"}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    quiet = subprocess.Popen(
        [sys.executable, "-c", FIT_SCRIPT, str(path)],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    loud = subprocess.Popen(
        [sys.executable, "-c", LOGS_SCRIPT],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT), "SKOUT_FRAMEWORK_LOGS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    quiet_out = quiet.communicate(timeout=300)
    loud_out = loud.communicate(timeout=300)
    return {
        "quiet": (quiet.returncode, *quiet_out),
        "loud": (loud.returncode, *loud_out),
        "pickle": path,
    }


def test_a_default_fit_prints_nothing_but_the_users_warnings_and_errors(fresh_runs):
    code, _, err = fresh_runs["quiet"]
    assert FIT_DONE in err, err[-3000:]
    before, after = err.split(FIT_DONE)
    assert before == "", f"the fit printed on stderr:\n{before}"
    assert "the user's own warning" in after
    assert code == 1 and "Traceback" in after and "ValueError" in after, after[-2000:]


def test_framework_logs_variable_shows_the_notices_again(fresh_runs):
    code, _, err = fresh_runs["loud"]
    assert code == 0, err[-3000:]
    # Whatever this machine prints at start-up, the filter would have dropped
    # some of it: with the variable set, those lines are back.
    dropped = [line for line in err.splitlines() if any(re.search(p, line) for p in KNOWN_NOTICES)]
    assert dropped, f"no known start-up notice on stderr with SKOUT_FRAMEWORK_LOGS=1:\n{err}"


def test_the_notebook_view_of_an_unpickled_model_imports_no_framework(fresh_runs):
    run = _python(VIEW_SCRIPT, fresh_runs["pickle"])
    out, err = run.communicate(timeout=120)
    assert run.returncode == 0, err[-3000:]
    loaded, rest = out.split("\n", 1)
    assert loaded == "[]", f"the view imported {loaded}"
    html, rest = rest.split("=== text ===")
    text, pipeline_html = rest.split("=== pipeline ===")
    for view in (html, text, pipeline_html):
        assert "multiclass" in view and "softmax" in view  # the head
        assert "4 inputs → 4 relu → 3 softmax" in view  # the architecture
        assert "3 epochs" in view and "best validation score" in view  # the training
    # The Network block, in the estimator's own view and as a step of a pipeline.
    assert "<summary>Network</summary>" in html
    assert pipeline_html.count("<summary>Network</summary>") == 1
    # No link to a documentation site: skout publishes none.
    assert "skout.readthedocs" not in html + pipeline_html
    assert "href='http" not in html and 'href="http' not in html
    assert err == ""


# -- in this process: the filter itself, the view, the budget ------------------


def test_the_filter_drops_known_notices_only(capfd):
    notices = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1.5 7 port.cc:153] oneDNN custom operations are on. You may see ...\n"
        "I0000 00:00:1.6 7 cudart_stub.cc:31] Could not find cuda drivers on your machine, "
        "GPU will not be used.\n"
        "E0000 00:00:1.7 7 cuda_platform.cc:52] failed call to cuInit: UNKNOWN ERROR (303)\n"
    )
    mine = "E0000 00:00:1.8 7 kernel.cc:1] a real error from native code\nuser line\n"
    with _filtered_stderr():
        os.write(2, notices.encode())
        os.write(2, mine.encode())
        os.write(2, b"no newline at the end")
    os.write(2, b"\nafter the window: oneDNN custom operations are on\n")
    err = capfd.readouterr().err
    assert err == (
        mine + "no newline at the end\nafter the window: oneDNN custom operations are on\n"
    )


def test_cuinit_failing_with_a_driver_present_is_a_real_error(capfd):
    line = "E0000 00:00:1.7 7 cuda_platform.cc:52] failed call to cuInit: CUDA_ERROR_NO_DEVICE\n"
    with _filtered_stderr():
        os.write(2, line.encode())
    assert capfd.readouterr().err == line


def test_thread_budget_reads_the_workers_share():
    assert thread_budget({"OMP_NUM_THREADS": "2"}) == 2
    assert thread_budget({"OMP_NUM_THREADS": "0"}) is None
    assert thread_budget({"OMP_NUM_THREADS": "many"}) is None
    assert thread_budget({}) is None


def test_the_view_and_dir_never_build_the_keras_model():
    X = np.random.RandomState(0).randn(30, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = AutoHeadRegressor(hidden_layer_sizes=(5,), max_iter=2).fit(X, X[:, 0])
    reg = pickle.loads(pickle.dumps(reg))
    # Listed once built, not before: skl2onnx (and other tools) read every
    # fitted attribute that dir() lists, which would build it.
    assert "model_" not in dir(reg)
    html = reg._repr_html_()
    text = reg._repr_mimebundle_()["text/plain"]
    from sklearn.pipeline import make_pipeline

    make_pipeline(reg)._repr_html_()  # a pipeline lists its steps' fitted attributes
    assert reg._fitted.keras_model is None  # the fitted state never built it
    assert reg.model_ is not None  # built on first read
    assert "model_" in dir(reg)
    assert "continuous" in html and "3 inputs → 5 relu → 1 linear" in text
    assert "2 epochs" in text and text.startswith(repr(reg))
    # Not fitted: scikit-learn's view, no summary; no model_ in dir().
    fresh = AutoHeadClassifier()
    assert "model_" not in dir(fresh)
    assert fresh._repr_mimebundle_()["text/plain"] == repr(fresh)
    assert "skout-network-summary" not in fresh._repr_html_()


def test_the_stderr_pump_drains_and_closes_even_when_stderr_is_gone():
    # A stderr nobody reads (a closed pipe) must not stop the draining, or a
    # writer to the full pipe would block; and the pump closes what it owns.
    from skout import _framework

    read_fd, write_fd = os.pipe()
    gone_r, gone_w = os.pipe()
    os.close(gone_r)
    os.write(write_fd, b"a real error\n" * 100)
    os.close(write_fd)
    _framework._pump(read_fd, gone_w, _framework._LineFilter())
    for fd in (read_fd, gone_w):
        with pytest.raises(OSError):
            os.fstat(fd)


# -- warm_up: the framework earlier, in the background -------------------------

WARM_FIT_SCRIPT = textwrap.dedent(
    """
    import json, warnings
    import skout
    from sklearn.datasets import load_iris
    from sklearn.exceptions import ConvergenceWarning
    warnings.simplefilter("ignore", ConvergenceWarning)
    X, y = load_iris(return_X_y=True)
    future = skout.warm_up(wait=False)  # returns at once; the fit below waits for it
    clf = skout.AutoHeadClassifier(hidden_layer_sizes=(8,), max_iter=100,
                                   learning_rate_init=0.05, random_state=0).fit(X, y)
    print(json.dumps({"future": type(future).__name__, "backend": future.result(),
                      "again": skout.warm_up(), "score": clf.score(X, y)}))
    """
)

WARM_EXIT_SCRIPT = textwrap.dedent(
    """
    import threading
    import skout
    skout.warm_up(wait=False)
    # The script ends while the framework is still importing.
    print(any(t.name == "skout-warm-up" and t.is_alive() for t in threading.enumerate()))
    """
)

WARM_BROKEN_SCRIPT = textwrap.dedent(
    """
    import numpy as np
    import skout
    error = skout.warm_up(wait=False).exception()
    try:
        skout.AutoHeadRegressor(max_iter=1).fit(np.ones((4, 1)), np.arange(4.0))
    except Exception as again:
        print(type(error).__name__, type(again).__name__, str(error) == str(again))
    """
)


@pytest.fixture(scope="module")
def warm_runs():
    env = {"SKOUT_FRAMEWORK_LOGS": "", "TF_CPP_MIN_LOG_LEVEL": ""}
    runs = {
        "fit": _python(WARM_FIT_SCRIPT, **env),
        "exit": _python(WARM_EXIT_SCRIPT, **env),
        "broken": _python(WARM_BROKEN_SCRIPT, **env, KERAS_BACKEND="no_such_backend"),
    }
    return {name: (run, *run.communicate(timeout=300)) for name, run in runs.items()}


def test_warm_up_in_the_background_then_fit_at_once_is_quiet_and_fits(warm_runs):
    import json

    run, out, err = warm_runs["fit"]
    assert run.returncode == 0, err[-3000:]
    result = json.loads(out)
    assert result["future"] == "Future"
    assert result["backend"] == result["again"] == os.environ.get("KERAS_BACKEND", "tensorflow")
    assert result["score"] > 0.8
    assert err == "", f"the warm-up printed on stderr:\n{err}"


def test_a_process_that_ends_during_a_background_warm_up_exits_cleanly(warm_runs):
    run, out, err = warm_runs["exit"]
    assert out.strip() == "True"  # the import was still running at the end of the script
    assert run.returncode == 0 and err == "", err[-3000:]


def test_a_warm_up_that_fails_is_raised_again_by_the_next_fit(warm_runs):
    run, out, err = warm_runs["broken"]
    assert run.returncode == 0, err[-3000:]
    error, again, same_message = out.split()
    assert error == again and same_message == "True", out


def test_warm_up_in_this_process_returns_the_backend_from_every_thread():
    import keras

    from skout import warm_up

    with ThreadPoolExecutor(4) as pool:
        names = list(pool.map(lambda wait: warm_up(wait=wait), [True, False, True, False]))
    names = [n if isinstance(n, str) else n.result(timeout=60) for n in names]
    assert names == [keras.backend.backend()] * 4


def test_the_framework_module_examples_run_as_written():
    import doctest

    import skout._framework

    result = doctest.testmod(skout._framework)
    assert result.attempted >= 4 and result.failed == 0


# -- issue 23, finding 7: a fit in a process forked after the parent fitted ----------------
FORK_SCRIPT = textwrap.dedent(
    """
    import multiprocessing, sys, time, warnings
    import numpy as np
    from skout import AutoHeadClassifier, KerasBody
    warnings.simplefilter("ignore")
    X = np.random.RandomState(0).randn(40, 3)
    y = np.where(X[:, 0] > 0, "a", "b")

    def body(shape):
        import keras
        return keras.Sequential([keras.Input(shape), keras.layers.Dense(3)])

    dense = AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=5).fit(X, y)
    with_body = AutoHeadClassifier(body=KerasBody(body), max_iter=5).fit(X, y)
    with_body.predict(X)

    def attempt(what):
        start = time.perf_counter()
        try:
            if what == "fit":
                AutoHeadClassifier(hidden_layer_sizes=(4,), max_iter=5).fit(X, y)
            elif what == "body-predict":
                with_body.predict(X)
            else:
                return ("ok", dense.predict(X).tolist())
        except Exception as exc:
            return (type(exc).__name__, str(exc), time.perf_counter() - start)
        return ("ok",)

    with multiprocessing.get_context("fork").Pool(1) as pool:
        for what in ("fit", "body-predict", "dense-predict"):
            print(what, pool.apply_async(attempt, (what,)).get(timeout=30))
    print("expected", dense.predict(X).tolist())
    """
)


def test_a_fit_in_a_forked_child_fails_at_once_saying_spawn():
    try:
        out = subprocess.run(
            [sys.executable, "-c", FORK_SCRIPT], capture_output=True, text=True, timeout=180
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a fit in a forked child hung")
    assert out.returncode == 0, out.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    for what in ("fit", "body-predict"):
        kind, message, seconds = eval(lines[what])  # noqa: S307 -- our own script's tuple
        assert kind == "ForkedFrameworkError" and "'spawn' or 'forkserver'" in message
        assert seconds < 1.0
    assert eval(lines["dense-predict"])[1] == eval(lines["expected"])  # noqa: S307
