"""The ``skout`` command line: what head a target needs, and whether a model has it.

``skout --version`` prints the version. ``skout inspect DATA --target
COLUMN`` reads a CSV, TSV or Parquet file and prints the target's type,
its class balance (or range), the head skout would choose and the Keras
code for it. ``skout check MODEL.keras DATA --target
COLUMN`` loads a saved Keras model and runs :func:`skout.doctor.diagnose_head`
on it; the exit status is 1 when the doctor finds an error.

Bad input (a missing file or column, an unknown format, empty data) exits
with status 2 and one line on stderr starting with ``skout: error:``.
Labels and column names are printed through :func:`skout._text.shown`:
control characters escaped, long names cut, so data cannot write escape
codes or megabytes to the terminal.

Examples
--------
>>> main(["inspect", "no-such-file.csv", "--target", "y"])
2
"""

from __future__ import annotations

import argparse
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np

from ._text import shown
from ._version import __version__

__all__ = ["main"]

_FORMATS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSIONS = (".gz", ".bz2", ".xz", ".zip", ".zst")
_TOP = 20
_WIDTH = 100
_LABEL = 40


class _CliError(Exception):
    """Bad input: reported as one ``skout: error:`` line, exit status 2."""


def _one_line(exc):
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------
# Reading data
# --------------------------------------------------------------------------


def _format_of(path):
    suffixes = [s.lower() for s in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in _COMPRESSIONS and suffixes[-2] in (".csv", ".tsv"):
        return _FORMATS[suffixes[-2]]
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in _FORMATS:
        found = shown(repr(suffix)) if suffix else "no extension"
        raise _CliError(
            f"cannot read {path}: unknown data format ({found}); use a .csv, .tsv, "
            ".parquet or .pq file"
        )
    return _FORMATS[suffix]


def _compression_of(path):
    suffix = path.suffix.lower()
    return suffix if suffix in _COMPRESSIONS else None


def _read_table(name, max_bytes=None):
    from . import _files

    max_bytes = _files.MAX_BYTES if max_bytes is None else max_bytes
    path = Path(name)
    if not path.exists():
        raise _CliError(f"{path}: no such file")
    if path.is_dir():
        raise _CliError(f"{path} is a directory, not a data file")
    fmt = _format_of(path)
    try:
        data = _read_within_limits(path, fmt, max_bytes)
    except _files.FileLimitError as exc:
        raise _CliError(str(exc)) from None
    if len(data) == 0:
        raise _CliError(f"{path} has no rows (columns: {_columns_text(data)})")
    return data


def _read_within_limits(path, fmt, max_bytes):
    """The table in ``path``; its size (decompressed) is checked first, or as it is read."""
    from . import _files

    try:
        import pandas as pd
    except ImportError:
        raise _CliError("reading data files needs pandas: pip install pandas") from None
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise _CliError("reading Parquet files needs pyarrow: pip install pyarrow") from None
    compression = _compression_of(path)
    try:
        if fmt == "parquet":
            _files.check_parquet(path, max_bytes)
            return pd.read_parquet(path)
        sep = "\t" if fmt == "tsv" else ","
        if compression is None:
            _files.check_file_size(path, max_bytes)
            return pd.read_csv(path, sep=sep)
        # Decompressed first, within the limits, then parsed: the parser never
        # sees more than the limits let through.
        with _files.decompressed_copy(path, compression, max_bytes) as copy:
            return pd.read_csv(copy, sep=sep)
    except _files.FileLimitError:
        raise
    except pd.errors.EmptyDataError:
        raise _CliError(f"{path} is empty: no columns, no rows") from None
    except ImportError as exc:
        raise _CliError(str(exc)) from None
    except Exception as exc:  # a parser, codec or Arrow error: say which file
        cause = exc.__context__ if isinstance(exc.__context__, _files.FileLimitError) else None
        if cause is not None:  # pandas may wrap an error of the stream it reads
            raise cause from None
        raise _CliError(f"cannot read {path} as {fmt}: {_one_line(exc)}") from None


def _column_text(column):
    """A column name as shown in a list: quoted when spaces or commas make it ambiguous."""
    name = str(column)
    if name != name.strip() or "," in name or not name:
        return shown(repr(name))
    return shown(column)


def _columns_text(data):
    names = [_column_text(c) for c in data.columns[:10]]
    return ", ".join(names) + (
        f", ... ({len(data.columns)} in all)" if len(data.columns) > 10 else ""
    )


def _target_columns(data, spec, path):
    """The columns ``--target`` names: one column's exact name (spaces and commas
    included), else comma-separated names, each exact or stripped of spaces."""
    by_name = {str(c): c for c in data.columns}
    if spec in by_name:
        return [by_name[spec]]
    wanted = [c for c in spec.split(",") if c.strip()]
    if not wanted:
        raise _CliError("--target names no column")
    columns = []
    for name in wanted:
        column = by_name.get(name, by_name.get(name.strip()))
        if column is None:
            raise _CliError(
                f"no column {shown(repr(name.strip()))} in {path}; available columns: "
                f"{_columns_text(data)}"
            )
        columns.append(column)
    return columns


def _read_target(args):
    """(data, target frame with complete rows, number of rows left out)."""
    data = _read_table(args.data, args.max_size)
    columns = _target_columns(data, args.target, args.data)
    frame = data[columns]
    complete = frame.notna().all(axis=1).to_numpy()
    frame = frame[complete]
    if len(frame) == 0:
        raise _CliError(f"the target {shown(repr(args.target))} has no values in {args.data}")
    _refuse_infinite(frame, args.data)
    return data, frame, int((~complete).sum())


def _refuse_infinite(frame, path):
    """A target with inf is bad input: neither class labels nor numbers to regress."""
    for column in frame.columns:
        values = frame[column]
        if values.dtype.kind != "f":
            continue
        infinite = np.flatnonzero(np.isinf(values.to_numpy()))
        if len(infinite):
            raise _CliError(
                f"the target column {_column_text(column)} holds inf in {_rows(len(infinite))} "
                f"of {path} (e.g. data rows {infinite[:5].tolist()}): a target needs finite "
                "values; drop or fix those rows"
            )


def _y_of(frame):
    if frame.shape[1] == 1:
        return frame.iloc[:, 0].to_numpy()
    return frame.to_numpy()


def _estimator(args, y):
    if args.regressor:
        return "regressor"
    if args.classifier:
        return "classifier"
    from sklearn.utils.multiclass import type_of_target

    try:
        kind = type_of_target(y)
    except (ValueError, TypeError):
        return "classifier"
    return "regressor" if kind.startswith("continuous") else "classifier"


def _choose(y, estimator, asked):
    """The head for ``y``; ``asked``: the estimator the user named with a flag."""
    from .heads import choose_head

    try:
        return choose_head(y, estimator=estimator)
    except ValueError as exc:
        message = " ".join(str(exc).split())
        if asked == "regressor" and np.asarray(y).dtype.kind not in "biuf":
            # The advice is about the flag the user gave, not an estimator to use.
            message = (
                "--regressor reads the target as numbers, but it holds labels that are "
                "not numbers: drop --regressor, and skout reads them as class labels"
            )
        raise _CliError(message) from None


# --------------------------------------------------------------------------
# skout inspect
# --------------------------------------------------------------------------


def _rows(n):
    return f"{n} row" if n == 1 else f"{n} rows"


def _share(n, total):
    return f"{100.0 * n / total:.1f}%"


def _balance_lines(values, indent="  "):
    import pandas as pd

    counts = pd.Series(values).value_counts(sort=True)
    total = int(counts.sum())
    labels = [shown(k) for k in counts.index[:_TOP]]
    width = max(5, *(len(label) for label in labels))
    lines = [f"{indent}{'class':<{width}}  {'count':>7}  {'share':>6}"]
    for label, n in zip(labels, counts.iloc[:_TOP]):
        lines.append(f"{indent}{label:<{width}}  {int(n):>7}  {_share(int(n), total):>6}")
    if len(counts) > _TOP:
        rest = int(counts.iloc[_TOP:].sum())
        lines.append(
            f"{indent}... and {len(counts) - _TOP} more classes "
            f"({rest} rows, {_share(rest, total)})"
        )
    return lines


def _indicator_lines(frame):
    total = len(frame)
    names = [shown(c) for c in frame.columns]
    width = max(5, *(len(n) for n in names[:_TOP]))
    lines = [f"  {'label':<{width}}  {'rows with 1':>11}  {'share':>6}"]
    values = frame.to_numpy().astype(np.float64)
    for j, name in enumerate(names[:_TOP]):
        n = int(values[:, j].sum())
        lines.append(f"  {name:<{width}}  {n:>11}  {_share(n, total):>6}")
    if len(names) > _TOP:
        lines.append(f"  ... and {len(names) - _TOP} more columns")
    return lines


def _regression_lines(frame):
    names = [shown(c) for c in frame.columns]
    width = max(6, *(len(n) for n in names))
    lines = [f"  {'column':<{width}}  {'min':>11}  {'mean':>11}  {'max':>11}  {'std':>11}"]
    for name, col in zip(names, frame.columns):
        v = frame[col].to_numpy().astype(np.float64)
        stats = (v.min(), v.mean(), v.max(), v.std(ddof=1) if len(v) > 1 else 0.0)
        lines.append(f"  {name:<{width}}  " + "  ".join(f"{s:>11.5g}" for s in stats))
    return lines


def _type_text(head):
    kind = head.target_type
    if kind in ("binary", "multiclass"):
        return f"{kind} ({max(head.units, 2)} classes)"
    if kind == "one-hot":
        return f"one-hot ({head.units} classes, one column each)"
    if kind == "multilabel-indicator":
        return f"multilabel-indicator ({head.units} labels)"
    if kind == "multiclass-multioutput":
        ks = ", ".join(str(max(o.units, 2)) for o in head.outputs)
        return f"multiclass-multioutput ({len(head.outputs)} columns with {ks} classes)"
    if kind == "continuous-multioutput":
        return f"continuous-multioutput ({head.units} columns)"
    return kind


def _names(columns):
    shown_names = [shown(c) for c in columns[:_TOP]]
    more = f", ... ({len(columns)} in all)" if len(columns) > _TOP else ""
    return ", ".join(shown_names) + more


def _quoted(column):
    """A column name as a Python string literal, escaped and cut."""
    return shown(repr(str(column)), limit=2 * _LABEL)


def _xy_lines(frame, dropped):
    """How to cut the data into X and y: a 1-D y for one column, a 2-D y for several.

    Rows without a target were left out of what ``inspect`` shows; a fit needs
    them left out too, so the suggestion drops them first.
    """
    cols = frame.columns
    names = ", ".join(_quoted(c) for c in cols[:_TOP]) + (", ..." if len(cols) > _TOP else "")
    lines = []
    if dropped:
        lines.append(
            f"  first data = data.dropna(subset=[{names}])  "
            f"# {_rows(dropped)} with no target: a fit needs a target in every row"
        )
    if len(cols) == 1:
        # data['col'] is a Series: predict returns (n,) labels, as y had. data[['col']]
        # would be an (n, 1) frame, and predict would return an (n, 1) column.
        y, shape = f"data[{names}]", "1-D: predict returns shape (n,)"
    else:
        y, shape = f"data[[{names}]]", f"2-D: predict returns shape (n, {len(cols)})"
    lines.append(f"  with y = {y} ({shape}), X = data.drop(columns=[{names}])")
    return lines


def _inspect(args):
    from .heads import DECODINGS

    data, frame, dropped = _read_target(args)
    y = _y_of(frame)
    estimator = _estimator(args, y)
    head = _choose(y, estimator, "regressor" if args.regressor else None)
    out = [
        f"data:         {args.data} ({len(data)} rows, {data.shape[1]} columns)",
        f"target:       {_names(frame.columns)}",
        f"rows:         {len(frame)}"
        + (f" ({_rows(dropped)} with a missing target left out)" if dropped else ""),
        f"target type:  {_type_text(head)}",
    ]
    kind = head.target_type
    if kind in ("binary", "multiclass"):
        out += ["class balance:", *_balance_lines(y)]
    elif kind in ("one-hot", "multilabel-indicator"):
        out += ["class balance (rows with a 1 in each column):", *_indicator_lines(frame)]
    elif kind == "multiclass-multioutput":
        out.append("class balance, per column:")
        for col in frame.columns:
            out += [f"  column {_quoted(col)}:", *_balance_lines(frame[col].to_numpy(), "    ")]
    else:
        out += ["target values:", *_regression_lines(frame)]
    units = head.units if isinstance(head.units, int) else list(head.units)
    activation = head.activation if isinstance(head.activation, str) else list(head.activation)
    loss = head.loss if isinstance(head.loss, str) else list(head.loss)
    out += [
        "head skout would choose:",
        f"  units:       {units}",
        f"  activation:  {activation}",
        f"  loss:        {loss}",
        f"  decoding:    {head.decoding} ({DECODINGS[head.decoding].summary})",
        "Keras code:",
        *(f"  {line}" for line in head.keras_code().splitlines()),
    ]
    cls = "AutoHeadClassifier" if head.is_classifier else "AutoHeadRegressor"
    out += ["skout:", f"  {cls}().fit(X, y)  # picks this head itself", *_xy_lines(frame, dropped)]
    if kind == "binary":
        out.append("  (binary_head='softmax' gives Dense(2, activation='softmax') instead)")
    if head.suggestion:
        loss, _, why = head.suggestion.partition(": ")
        out.append(
            f"suggestion:   AutoHeadRegressor({loss}): {why}; its log link predicts a "
            "positive mean (Dense(1, activation='exponential') in Keras)"
        )
    numeric_labels = kind in ("multiclass", "multiclass-multioutput") and y.dtype.kind in "iuf"
    if numeric_labels and not args.classifier:
        out.append(
            "note: the target holds numbers read as class labels; if they are quantities, "
            "add --regressor"
        )
    print("\n".join(out))
    return 0


# --------------------------------------------------------------------------
# skout check
# --------------------------------------------------------------------------


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_ZIP_SIGNATURE = b"PK"


def _check_model_file(path, max_bytes):
    """Check a model file's format and sizes before Keras reads any of it."""
    import io
    import zipfile

    from . import _files

    with open(path, "rb") as f:
        head = f.read(8)
    suffix = path.suffix.lower()
    if head == _HDF5_SIGNATURE:
        if suffix == ".keras":
            raise _CliError(
                f"{path} is an HDF5 file (Keras's older .h5 format), not a .keras archive: "
                "Keras reads a file by its name, so rename it to end in .h5 and check again"
            )
        _files.check_file_size(path, max_bytes)
        _files.check_hdf5(path, path, max_bytes)
        return
    if suffix != ".keras" or not head.startswith(_ZIP_SIGNATURE):
        return  # not ours to check: Keras says what it makes of it
    try:
        members = {m.filename: m for m in _files.check_zip(path, max_bytes)}
    except zipfile.BadZipFile as exc:
        raise _CliError(f"cannot load model {path}: not a .keras archive ({exc})") from None
    weights = members.get("model.weights.h5")
    if weights is not None:  # its datasets may be compressed again, inside HDF5
        with zipfile.ZipFile(path) as archive:
            data = archive.read(weights)  # no more than its checked declared size
        _files.check_hdf5(io.BytesIO(data), f"{path} (model.weights.h5)", max_bytes, len(data))


def _load_model(name):
    """Keras's model from ``name`` (checked by :func:`_check_model_file` first)."""
    path = Path(name)
    if not path.exists():
        raise _CliError(f"{path}: no such file")
    if path.is_dir():
        raise _CliError(f"{path} is a directory, not a model file")
    from ._framework import import_keras

    try:
        # Through skout's loader: quietly (no start-up notices), within the budget.
        keras = import_keras()
    except ImportError:
        raise _CliError("checking a model needs keras: pip install keras tensorflow") from None
    note = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = keras.saving.load_model(path, compile=True)
        except Exception as exc:  # any loading failure becomes one line
            try:
                model = keras.saving.load_model(path, compile=False)
            except Exception:
                raise _CliError(f"cannot load model {path}: {_one_line(exc)}") from None
            note = (
                f"note: the model's compiled loss could not be restored ({_one_line(exc)}); "
                "only its layers are checked (give the loss with --loss)"
            )
    return model, note


def _check_model_file_or_exit(path, max_bytes):
    from . import _files

    try:
        _check_model_file(path, _files.MAX_BYTES if max_bytes is None else max_bytes)
    except _files.FileLimitError as exc:
        raise _CliError(str(exc)) from None
    except OSError as exc:  # an HDF5 file h5py cannot read, say
        raise _CliError(f"cannot load model {path}: {_one_line(exc)}") from None


def _wrap(text, first, rest):
    return textwrap.fill(
        text, width=_WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    )


def _check(args):
    from .doctor import diagnose_head

    model_path = Path(args.model)
    if model_path.is_file():  # its sizes, before anything is read or imported
        _check_model_file_or_exit(model_path, args.max_size)
    data, frame, dropped = _read_target(args)
    y = _y_of(frame)
    model, note = _load_model(args.model)
    estimator = "regressor" if args.regressor else "classifier" if args.classifier else "auto"
    try:
        findings = diagnose_head(model, y, loss=args.loss, estimator=estimator)
    except ValueError as exc:
        raise _CliError(" ".join(str(exc).split())) from None
    print(f"model:   {args.model}")
    print(
        f"data:    {args.data} ({len(frame)} rows"
        + (f", {_rows(dropped)} with a missing target left out" if dropped else "")
        + f"), target {_names(frame.columns)}"
    )
    if note:
        print(note)
    for f in findings:
        print()
        print(_wrap(f.message, f"{f.severity.upper():<8}[{f.code}] ", " " * 8))
        if f.fix:
            print(_wrap(f.fix, " " * 8 + "fix: ", " " * 13))
    errors = sum(f.severity == "error" for f in findings)
    warns = sum(f.severity == "warning" for f in findings)
    verdict = (
        "the head does not fit the target"
        if errors
        else "the head fits the target" + (", with warnings" if warns else "")
    )
    print()
    print(f"{errors} error(s), {warns} warning(s): {verdict}")
    return 1 if errors else 0


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def _add_target_options(sub):
    sub.add_argument("data", metavar="DATA", help="a .csv, .tsv, .parquet or .pq file")
    sub.add_argument(
        "--target",
        required=True,
        metavar="COLUMN",
        help="the target column; several comma-separated columns for a multi-output "
        "or indicator target",
    )
    kind = sub.add_mutually_exclusive_group()
    kind.add_argument(
        "--regressor", action="store_true", help="read the target as numbers to regress"
    )
    kind.add_argument("--classifier", action="store_true", help="read the target as class labels")
    sub.add_argument(
        "--max-size",
        type=_size,
        default=None,
        metavar="SIZE",
        help="the most data a file may hold, decompressed (e.g. 500M, 8G; default 4G); "
        "a compressed file may also expand at most 100 times",
    )


def _size(text):
    from . import _files

    try:
        return _files.parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser():
    parser = argparse.ArgumentParser(
        prog="skout",
        description="Which output layer, loss and decoding a target needs, and whether a "
        "saved Keras model has them.",
    )
    parser.add_argument(
        "--version", action="version", version=f"skout {__version__}", help="print the version"
    )
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inspect = subs.add_parser(
        "inspect",
        help="show a target's type, balance and the head skout would choose",
        description="Show a target's type, class balance (or range), the head skout "
        "would choose and the Keras code for it.",
    )
    _add_target_options(inspect)
    inspect.set_defaults(func=_inspect)
    check = subs.add_parser(
        "check",
        help="check a saved Keras model's output layer and loss against a target",
        description="Check a saved Keras model's output layer(s) and loss against the "
        "target. Exit status: 0 no error found, 1 an error found, 2 bad input.",
    )
    check.add_argument("model", metavar="MODEL", help="a saved Keras model (.keras)")
    _add_target_options(check)
    check.add_argument(
        "--loss", default=None, help="check this loss instead of the model's compiled one"
    )
    check.set_defaults(func=_check)
    return parser


def main(argv=None):
    """Run the ``skout`` command line; return its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments, without the program name; ``None`` reads
        ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 on success (``check``: no error finding), 1 when ``check`` finds an
        error, 2 on bad input or usage.
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return args.func(args)
    except _CliError as exc:
        # one line, whatever the data put in it
        print(f"skout: error: {shown(exc, limit=2000)}", file=sys.stderr)
        return 2
