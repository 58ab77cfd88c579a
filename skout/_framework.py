"""Importing the deep-learning framework: once per process, on first use.

Everything a process pays to bring Keras and its backend up lives here, so
that the cost of a fresh interpreter or a joblib worker is decided in one
place:

* **Start-up notices.** TensorFlow's native code prints notices to the C-level
  stderr (file descriptor 2) while it is imported and its runtime starts
  (absl's "All log messages before absl::InitializeLog()", oneDNN, "Could not
  find cuda drivers", a failing ``cuInit`` on a machine without a GPU driver).
  ``TF_CPP_MIN_LOG_LEVEL`` does not reach them. During that window only, fd 2
  is read through a filter that drops the lines of :data:`KNOWN_NOTICES` and
  passes every other line on at once (a user's warning, a real error).
  ``SKOUT_FRAMEWORK_LOGS=1`` turns the filter (and skout's default
  ``TF_CPP_MIN_LOG_LEVEL=2``) off.
* **Thread pools.** A worker of a parallel run (joblib's loky backend, a Dask
  worker) is given a CPU budget through ``OMP_NUM_THREADS``; the framework's
  own pools (TensorFlow's intra- and inter-op pools, XLA's, PyTorch's) ignore
  it and size themselves to every core of the machine, so n workers would
  oversubscribe the cores n times. :func:`thread_budget` reads the budget and
  :func:`import_keras` applies it before the runtime starts.
* **When.** On the first fit, or earlier and in the background through the
  public :func:`warm_up`, so that a script's main process (which imports the
  framework for a search's final refit) or a Dask worker pays the import
  while other work goes on instead of in front of it.
"""

from __future__ import annotations

import os
import re
import sys
import threading
from concurrent.futures import Future
from contextlib import contextmanager, nullcontext

__all__ = ["KNOWN_NOTICES", "check_not_forked", "import_keras", "thread_budget", "warm_up"]

#: Start-up notices dropped from stderr while the framework comes up: regular
#: expressions searched in each line. Everything else passes through.
KNOWN_NOTICES = (
    # absl, before TensorFlow initialises its logging (printed once per library).
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    # oneDNN's notice: its kernels are on (numerics are unchanged by the filter).
    r"^I\d{4} .*\] oneDNN custom operations are on",
    # No GPU driver on this machine: TensorFlow runs on the CPU.
    r"^I\d{4} .*\] Could not find cuda drivers on your machine",
    # CPU instructions TensorFlow was not compiled for (a two-line notice).
    r"^I\d{4} .*\] This TensorFlow binary is optimized to use available CPU instructions",
    r"^To enable the following instructions: .* rebuild TensorFlow with the appropriate",
    # CUDA plugins registered twice when several libraries load them.
    r"^E\d{4} .*\] Unable to register cu(DNN|FFT|BLAS) factory",
    r"^W\d{4} .*\] TF-TRT Warning: Could not find TensorRT",
    r"computation placer already registered",
    r"^E\d{4} .*\] Attempting to register factory for plugin",
)

# ``cuInit`` failing is dropped only after "Could not find cuda drivers" was
# seen in the same window: without a driver it is expected; with one it is a
# real error and shows.
_NO_DRIVER = re.compile(r"Could not find cuda drivers on your machine")
_CUINIT = re.compile(r"^E\d{4} .*\] failed call to cuInit")

_LOGS_VARIABLE = "SKOUT_FRAMEWORK_LOGS"
#: Where a parallel runner puts a worker's CPU budget (loky, Dask, the user).
_BUDGET_VARIABLES = ("OMP_NUM_THREADS",)

_lock = threading.Lock()
_keras = None
_started_in = None  # the process id that brought the framework up


def framework_logs_wanted():
    """True when ``SKOUT_FRAMEWORK_LOGS`` asks for the framework's own messages."""
    return os.environ.get(_LOGS_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


def thread_budget(environ=None):
    """The number of threads a fit in this process may use, or None for all.

    joblib's process-based backend (loky) starts each worker with
    ``OMP_NUM_THREADS`` set to the cores divided among the jobs (``cpu_count
    // n_jobs``, at least 1, or what ``parallel_config(inner_max_num_threads=)``
    says); a Dask nanny starts its workers with ``OMP_NUM_THREADS=1``; a user
    may set it. Without it, the framework's defaults (every core) stand.

    Examples
    --------
    >>> thread_budget({"OMP_NUM_THREADS": "1"})
    1
    >>> thread_budget({}) is None
    True
    """
    environ = os.environ if environ is None else environ
    for name in _BUDGET_VARIABLES:
        try:
            value = int(environ.get(name, ""))
        except ValueError:
            continue
        if value >= 1:
            return value
    return None


def import_keras():
    """Import Keras (and its backend) on first use: quietly, within the thread budget."""
    if _keras is not None:
        check_not_forked()
        return _keras
    return _bring_up()


class ForkedFrameworkError(RuntimeError):
    """The framework was started before this process was forked: it cannot run here."""


def check_not_forked():
    """Refuse, at once, to run the framework in a process forked after it started.

    TensorFlow's (and XLA's, and PyTorch's) thread pools do not survive
    ``fork``: the child inherits their locks but not their threads, and its
    first computation waits forever. ``multiprocessing``'s default start
    method on Linux before Python 3.14 is ``fork``, so a ``Pool`` started
    after a fit used to hang. A dense network predicts in NumPy and never
    gets here.

    Raises
    ------
    ForkedFrameworkError
        A ``RuntimeError`` that says to start the processes with ``spawn``
        or ``forkserver``.
    """
    if _started_in is None or _started_in == os.getpid():
        return
    backend = _keras.backend.backend() if _keras is not None else "Keras"
    raise ForkedFrameworkError(
        f"This process was forked (os.fork, or multiprocessing's 'fork' start method) "
        f"from process {_started_in}, which had already started Keras's {backend} "
        "backend; its threads do not survive a fork, so training or a body's predict "
        "here would hang. Start the worker processes with 'spawn' or 'forkserver' "
        "(multiprocessing.get_context('spawn').Pool(...), "
        "concurrent.futures.ProcessPoolExecutor(mp_context=...)), or use joblib's "
        "default loky backend. A dense network (no body) predicts in a forked process."
    )


def warm_up(*, wait=True):
    """Bring the deep-learning framework up in this process now.

    The first ``fit`` of a process imports Keras and its backend (TensorFlow:
    about 4 s and 800 MiB) and starts its runtime, within the process's CPU
    budget and without TensorFlow's start-up notices. ``warm_up`` does the
    same thing earlier, so that the import overlaps other work:

    * in a script that runs a grid search on worker processes, the main
      process imports the framework only for the final refit, after the
      workers are done; ``warm_up(wait=False)`` before ``search.fit`` imports
      it while the workers train;
    * on a Dask cluster, ``client.run(skout.warm_up)`` brings every worker up
      before the first task reaches it;
    * in a notebook, ``warm_up(wait=False)`` in the first cell imports the
      framework while you load your data.

    Calling it again, or fitting while it runs, is safe: the framework comes
    up once per process, and a fit waits for a warm-up in progress.

    Parameters
    ----------
    wait : bool, default=True
        If True, return when the framework is up. If False, start it in a
        background thread and return at once. The thread is not a daemon, so
        a process that ends during the import waits for it to finish instead
        of being torn down in the middle of loading native libraries. As
        with any thread, do not ``os.fork`` while it runs (the child would
        inherit a half-imported framework); joblib's loky workers and Dask's
        worker processes start fresh interpreters and are not affected.

    Returns
    -------
    str or concurrent.futures.Future
        The Keras backend's name (``"tensorflow"``, ``"jax"``, ``"torch"``),
        or, with ``wait=False``, a future of it. An import that fails raises
        here (or from the future's ``result()``), and the next fit tries again
        and raises the same error.

    Examples
    --------
    >>> import skout
    >>> skout.warm_up() in ("tensorflow", "jax", "torch")
    True
    >>> skout.warm_up(wait=False).result() in ("tensorflow", "jax", "torch")
    True
    """
    if wait:
        return import_keras().backend.backend()
    future = Future()
    if _keras is not None:
        future.set_result(_keras.backend.backend())
        return future

    def bring_up():
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(import_keras().backend.backend())
        except BaseException as error:  # kept for result(); a fit raises it again
            future.set_exception(error)

    threading.Thread(target=bring_up, name="skout-warm-up").start()
    return future


def _bring_up():
    global _keras, _started_in
    with _lock:  # two threads' first fits: one brings the framework up
        if _keras is not None:
            check_not_forked()
            return _keras
        quiet = not framework_logs_wanted()
        if quiet:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        budget = thread_budget()
        if budget is not None and os.environ.get("KERAS_BACKEND") == "jax":
            _limit_xla(budget)
        with _filtered_stderr() if quiet else nullcontext():
            import keras

            backend = keras.backend.backend()
            if backend == "tensorflow":
                _start_tensorflow(budget)
            elif backend == "torch" and budget is not None:
                _limit_torch(budget)
        _started_in = os.getpid()
        _keras = keras
        return keras


def _start_tensorflow(budget):
    """Size TensorFlow's pools to ``budget``, then start its runtime.

    The pools can only be sized before the runtime starts; the runtime is
    started here, inside the filtered window, because starting it is what
    prints the ``cuInit`` line. A user who configured the pools (or started
    the runtime) before skout keeps their settings.
    """
    import tensorflow as tf

    threading_config = tf.config.threading
    if budget is not None:
        try:
            if threading_config.get_intra_op_parallelism_threads() == 0:
                threading_config.set_intra_op_parallelism_threads(budget)
            if threading_config.get_inter_op_parallelism_threads() == 0:
                threading_config.set_inter_op_parallelism_threads(budget)
        except RuntimeError:  # the runtime was already started by the user
            pass
    tf.config.list_logical_devices()


def _limit_xla(budget):
    """XLA's CPU client reads its threading from XLA_FLAGS when JAX starts."""
    if budget != 1 or "jax" in sys.modules:
        return  # XLA has a switch for single-threaded CPU code only
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" not in flags:
        extra = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        os.environ["XLA_FLAGS"] = f"{flags} {extra}".strip()


def _limit_torch(budget):
    import torch

    torch.set_num_threads(budget)
    try:
        torch.set_num_interop_threads(budget)
    except RuntimeError:  # only possible before torch's first parallel work
        pass


# -- the stderr filter ---------------------------------------------------------
_NOTICES = [re.compile(pattern) for pattern in KNOWN_NOTICES]


class _LineFilter:
    """Decides, line by line, what of fd 2 goes on to the real stderr."""

    def __init__(self):
        self.no_driver = False

    def keep(self, line):
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if _NO_DRIVER.search(text):
            self.no_driver = True
        if self.no_driver and _CUINIT.search(text):
            return False
        return not any(pattern.search(text) for pattern in _NOTICES)


def _pump(read_fd, write_fd, line_filter):
    """Copy lines from ``read_fd`` to ``write_fd``, dropping known notices.

    The pump owns both descriptors and closes them when the pipe ends: a
    child process started during the window inherits the pipe as its stderr,
    so the pipe may outlive the window, and its lines must still reach the
    real stderr, never a descriptor number that was reused meanwhile. A
    failing write (stderr closed, a broken pipe) does not stop the draining:
    a writer to a full pipe would block.
    """

    def write(data):
        try:
            os.write(write_fd, data)
        except OSError:
            pass

    pending = b""
    try:
        while True:
            try:
                chunk = os.read(read_fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            out = b"".join(line + b"\n" for line in lines if line_filter.keep(line))
            if out:
                write(out)
        if pending and line_filter.keep(pending):
            write(pending)
    finally:
        os.close(read_fd)
        os.close(write_fd)


@contextmanager
def _filtered_stderr():
    """Read fd 2 through the notice filter for the duration of the block."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (a daemon, pythonw): nothing to filter
        yield
        return
    _flush_python_stderr()
    read_fd, write_fd = os.pipe()
    try:  # a roomy pipe: native code may write while holding the GIL
        import fcntl

        fcntl.fcntl(write_fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    except (ImportError, OSError):
        pass
    os.dup2(write_fd, 2)
    os.close(write_fd)
    pump = threading.Thread(
        target=_pump, args=(read_fd, os.dup(saved), _LineFilter()), name="skout-stderr",
        daemon=True,
    )  # fmt: skip
    pump.start()
    try:
        yield
    finally:
        _flush_python_stderr()
        os.dup2(saved, 2)  # closes our last write end of the pipe: the pump sees EOF
        os.close(saved)
        # The lines written so far reach stderr before the caller goes on; a
        # child that inherited the pipe keeps the pump (and its output) alive.
        pump.join(timeout=1.0)


def _flush_python_stderr():
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
