"""The notebooks (jupytext percent scripts) run top to bottom with fast settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))


def test_all_seven_notebooks_present():
    assert [p.stem[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04", "05", "06", "07"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(notebook, tmp_path):
    env = dict(os.environ, GALGEN_FAST="1", GALGEN_OUT=str(tmp_path), MPLBACKEND="Agg")
    # exec the source like a notebook kernel does (a script's __main__ would be re-imported by
    # the spawned Dask workers of notebook 04; a kernel's is not)
    code = f"exec(compile(open({str(notebook)!r}).read(), {notebook.name!r}, 'exec'))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
