"""The Sphinx documentation builds with warnings as errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).parents[1] / "docs"


def test_docs_build_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("myst_nb")
    proc = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", "-q",
                           str(DOCS), str(tmp_path / "html")], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "html" / "api" / "restoration.html").exists()
    # the tutorials are the notebooks, executed during the build: their outputs are in the pages
    page = (tmp_path / "html" / "tutorials" / "01_quickstart.html").read_text()
    assert "arcsec/px" in page and "cell_output" in page
