"""Sphinx configuration of galgen's documentation (built in CI with warnings as errors)."""

from __future__ import annotations

import os
from pathlib import Path

import galgen

# the tutorials are the notebooks, executed at build time with fast settings
os.environ.setdefault("GALGEN_FAST", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

project = "galgen"
author = "The galgen developers"
copyright = "2026, The galgen developers"  # noqa: A001
version = release = galgen.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".py": "myst-nb"}
nb_custom_formats = {".py": ["jupytext.reads", {"fmt": "py:percent"}]}
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_in_temp = True
exclude_patterns = ["_build", "api/generated", "conf.py"]
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
autodoc_typehints = "none"
autodoc_member_order = "bysource"
suppress_warnings = ["myst.header"]
html_theme = "pydata_sphinx_theme"
html_static_path = ["_static"]
html_title = f"galgen {release}"
nitpicky = False
