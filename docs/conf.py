"""Sphinx configuration for skout's documentation.

Build with ``sphinx-build -W --keep-going -b html docs docs/_build/html``
(``tox -e docs``): warnings are errors, and the gallery in ``../examples``
is executed.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # skout from this checkout
sys.path.insert(0, str(HERE / "_ext"))

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # quiet TensorFlow's C++ logging

import skout  # noqa: E402
from skout._framework import import_keras  # noqa: E402

# Bring the framework up through skout first, so its start-up notices are
# filtered (docs/user_guide/quiet.rst) before the gallery's own `import keras`.
import_keras()

# -- Project -------------------------------------------------------------------
project = "skout"
author = "skout developers"
copyright = "skout developers"
release = skout.__version__
version = ".".join(release.split(".")[:2])

# -- General -------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
    "skout_docs",
]
# No intersphinx: the docs build offline.

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "_templates", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]
default_role = "literal"
pygments_style = "sphinx"

# Autosummary writes a page per public name under docs/generated/.
autosummary_generate = True
autodoc_typehints = "none"

# numpydoc renders skout's numpydoc docstrings; member tables come from our
# autosummary templates, and docstring validation is the test-suite's job.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks = set()
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

myst_heading_anchors = 3

# Every Markdown page in docs/ (benchmarks.md, bad_input.md and the notes
# written beside the code) goes in the "Notes and measurements" toctree of
# the index, so a page added there is never left out of the site.
_MARKDOWN_PAGES = sorted(p.stem for p in HERE.glob("*.md"))
(HERE / "generated").mkdir(exist_ok=True)
(HERE / "generated" / "markdown_pages.inc").write_text(
    ".. toctree::\n   :maxdepth: 1\n   :caption: Notes and measurements\n\n"
    + "".join(f"   {name}\n" for name in _MARKDOWN_PAGES)
)

# -- Gallery -------------------------------------------------------------------


sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": "/plot_",
    "within_subsection_order": "FileNameSortKey",
    "reset_modules": ("matplotlib", "skout_docs.quiet_examples"),
    "backreferences_dir": "generated/backreferences",
    "doc_module": ("skout",),
    "reference_url": {"skout": None},
    "capture_repr": ("_repr_html_", "__repr__"),
    "remove_config_comments": True,
    "show_memory": False,
    "write_computation_times": False,
    "plot_gallery": "True",
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
}

# -- HTML ----------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"skout {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False
