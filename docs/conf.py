"""Sphinx configuration of galgen's documentation (built in CI with warnings as errors)."""

from __future__ import annotations

import galgen

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
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "api/generated"]
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
