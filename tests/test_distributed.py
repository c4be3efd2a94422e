"""Multi-process training with torch.distributed (gloo on CPU, loopback only)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from galgen.restoration.model import LearnedRestorer

CONFIG = """
name = "ddp"
out_dir = "{out}"
train_pairs = 8
val_pairs = 4
steps = 3
batch = 2
patch = 32
checkpoint_every = 3
val_every = 3
log_every = 1
device = "cpu"
threads = 1
[regime]
[architecture]
channels = 8
blocks = 1
"""


@pytest.mark.skipif(shutil.which("torchrun") is None and not os.path.exists(
    os.path.join(os.path.dirname(sys.executable), "torchrun")), reason="torchrun not installed")
def test_torchrun_two_processes_gloo(tmp_path):
    cfg = tmp_path / "ddp.toml"
    cfg.write_text(CONFIG.format(out=tmp_path / "run"))
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = dict(os.environ, OMP_NUM_THREADS="1", MASTER_ADDR="127.0.0.1")
    proc = subprocess.run(
        [torchrun, "--standalone", "--nnodes", "1", "--nproc_per_node", "2", "-m", "galgen.cli",
         "train", "--config", str(cfg), "--export", str(tmp_path / "model")],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert len(log) == 4  # header + 3 steps, written by rank 0 only
    assert LearnedRestorer(tmp_path / "model").card["training"]["steps"] == 3
