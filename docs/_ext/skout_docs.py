"""Small Sphinx directives that keep skout's docs in step with the code.

``.. head-table::``
    The head table, rendered from :data:`skout.heads.HEAD_TABLE`.

``.. skout-cli:: ARGS``
    Runs ``skout ARGS`` in-process, in a folder holding two sample files
    (``iris.csv`` and a Keras model with the wrong head, ``wrong_head.keras``),
    and shows the command, its output and its exit status.

``.. estimator-html::``
    Evaluates its content (Python; the last line an expression) and embeds
    the result's HTML representation, as a notebook would show it.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import tempfile
import warnings
from pathlib import Path

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

_SAMPLES: Path | None = None


_CODE_TOKEN = re.compile(r"^(\w+='[^']*'|\w+_)([,.;:)]*)$")


def _cell(text):
    """A head-table cell: code-like words (``classes_``, ``x='y'``) as literals."""
    words = []
    for word in str(text).split(" "):
        match = _CODE_TOKEN.match(word)
        words.append(f"``{match.group(1)}``{match.group(2)}" if match else word)
    return " ".join(words)


def _escape(text):
    """Plain text for reST: a trailing underscore (``classes_``) is no link."""
    return re.sub(r"(\w)_(?=\W|$)", r"\1\\_", str(text))


class HeadTable(SphinxDirective):
    """The head table from ``skout.heads.HEAD_TABLE``, as a list-table."""

    has_content = False

    def run(self):
        from skout.heads import HEAD_TABLE

        header = [
            "target given to ``fit``",
            "target type",
            "units",
            "activation",
            "loss",
            "``predict`` returns",
            "``predict_proba`` returns",
        ]
        lines = [
            ".. list-table::",
            "   :header-rows: 1",
            "   :class: head-table",
            "",
        ]
        rows = [header] + [
            [
                _cell(row.given_as),
                f"``{row.target_type}``",
                _cell(row.units),
                _cell(row.activation),
                f"``{row.loss}``" if " " not in row.loss else _cell(row.loss),
                _cell(row.predict),
                _cell(row.predict_proba),
            ]
            for row in HEAD_TABLE
        ]
        for row in rows:
            lines.append(f"   * - {row[0]}")
            lines.extend(f"     - {cell}" for cell in row[1:])
        node = nodes.container()
        self.state.nested_parse(StringList(lines, source="HEAD_TABLE"), self.content_offset, node)
        return node.children


def _samples():
    """A folder with a small CSV and a saved Keras model with the wrong head."""
    global _SAMPLES
    if _SAMPLES is not None:
        return _SAMPLES
    import keras
    import numpy as np
    from sklearn.datasets import load_iris

    folder = Path(tempfile.mkdtemp(prefix="skout-docs-"))
    iris = load_iris(as_frame=True)
    frame = iris.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = np.asarray(iris.target_names)[frame.pop("target")]
    frame.to_csv(folder / "iris.csv", index=False)
    # The model of a user question: three sigmoids trained with categorical
    # cross-entropy on three exclusive classes.
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu", name="hidden"),
            keras.layers.Dense(3, activation="sigmoid", name="output"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.save(folder / "wrong_head.keras")
    _SAMPLES = folder
    return folder


class SkoutCli(SphinxDirective):
    """Run ``skout ARGS`` and show the console session."""

    required_arguments = 1
    final_argument_whitespace = True
    has_content = False

    def run(self):
        from skout.cli import main

        argv = shlex.split(self.arguments[0])
        out = io.StringIO()
        old_cwd, old_columns = os.getcwd(), os.environ.get("COLUMNS")
        os.environ["COLUMNS"] = "88"
        try:
            os.chdir(_samples())
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                try:
                    status = main(argv)
                except SystemExit as exc:  # argparse's --help
                    status = exc.code
        finally:
            os.chdir(old_cwd)
            if old_columns is None:
                os.environ.pop("COLUMNS", None)
            else:
                os.environ["COLUMNS"] = old_columns
        status = 0 if status is None else status
        text = f"$ skout {self.arguments[0]}\n{out.getvalue().rstrip()}"
        if argv and argv[0] != "--help" and "--help" not in argv:
            text += f"\n$ echo $?\n{status}"
        block = nodes.literal_block(text, text)
        block["language"] = "console"
        return [block]


class EstimatorHtml(SphinxDirective):
    """Embed the HTML representation of the estimator the content builds."""

    has_content = True

    def run(self):
        code = "\n".join(self.content)
        *body, last = code.strip().splitlines()
        namespace: dict = {}
        with warnings.catch_warnings():
            # A short fit for show: "not converged" is expected.
            warnings.simplefilter("ignore")
            exec("\n".join(body), namespace)  # noqa: S102 - our own docs' code
            obj = eval(last, namespace)  # noqa: S307
        source = nodes.literal_block(code, code)
        source["language"] = "python"
        return [source, nodes.raw("", obj._repr_html_(), format="html")]


_FIELD = re.compile(r"^(\s*[\w*][\w, *]* : )(.+)$")
_REF = re.compile(r":ref:`([^`<]*?)\s*(?:<[^`>]*>)?`")


def escape_type_underscores(app, what, name, obj, options, lines):
    """In ``name : type`` lines, keep ``(n_features_in_,)`` from being a link.

    A word ending in ``_`` is a reference in reStructuredText; numpydoc
    copies the type of a parameter or attribute as it is, so a shape such as
    ``ndarray of shape (n_features_in_,)`` would be an unknown target. Runs
    before numpydoc (a lower priority). In docstrings inherited from
    scikit-learn, ``:ref:`` links into its user guide become plain text.
    """
    foreign = getattr(obj, "__module__", None) or ""
    for i, line in enumerate(lines):
        match = _FIELD.match(line)
        if match:
            line = lines[i] = match.group(1) + _escape(match.group(2))
        if foreign.startswith("sklearn."):
            # Methods inherited from scikit-learn point into its user guide,
            # which these docs do not hold (no intersphinx offline).
            lines[i] = _REF.sub(lambda m: f"``{m.group(1)}``", line)


def setup(app):
    app.connect("autodoc-process-docstring", escape_type_underscores, priority=100)
    app.add_directive("head-table", HeadTable)
    app.add_directive("skout-cli", SkoutCli)
    app.add_directive("estimator-html", EstimatorHtml)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}


def quiet_examples(gallery_conf, fname, when=None):
    """Run by sphinx-gallery before each example (``reset_modules``).

    The examples stop after a few epochs on purpose, so scikit-learn's
    "not converged" warnings are expected noise; ``plt.show()`` is a no-op
    under the build's non-interactive backend.
    """
    from sklearn.exceptions import ConvergenceWarning

    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message=".*non-interactive.*", category=UserWarning)
