"""Toy densities (exact log-densities) and resumable training."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from galgen.cli import main
from galgen.models.flows import affine_coupling_flow
from galgen.models.toy import DENSITIES, ToyTrainConfig, get_density, train_flow


@pytest.mark.parametrize("name", ["chessboard", "8gaussians", "rings"])
def test_exact_densities_are_normalised(name):
    d = get_density(name)
    g = np.linspace(-6, 6, 601)
    xx, yy = np.meshgrid(g, g)
    p = np.exp(d.log_prob(np.stack([xx.ravel(), yy.ravel()], 1)))
    # Riemann sum on a 0.02 grid: 1e-3 covers the discretisation of the chessboard edges
    assert p.sum() * (g[1] - g[0]) ** 2 == pytest.approx(1.0, abs=1e-3)


def test_chessboard_support_and_entropy(rng):
    d = get_density("chessboard")
    x = d.sample(10_000, rng)
    assert np.all(np.isfinite(d.log_prob(x)))
    assert d.entropy == pytest.approx(math.log(32))
    squares = {(int(np.floor(a)), int(np.floor(b))) for a, b in x}
    assert len(squares) == 32


@pytest.mark.parametrize("name", sorted(DENSITIES))
def test_every_density_samples(name, rng):
    x = DENSITIES[name].sample(1000, rng)
    assert x.shape == (1000, 2) and np.all(np.abs(x) < 6)


class _Stop(Exception):
    pass


def test_training_resumes_exactly(tmp_path):
    density = get_density("moons")
    torch.manual_seed(0)
    straight = affine_coupling_flow(2, layers=2, hidden=(16,))
    init = {k: v.clone() for k, v in straight.state_dict().items()}
    train_flow(straight, density, ToyTrainConfig(steps=20, batch=64, progress=False))

    ckpt = tmp_path / "ck.pt"
    interrupted = affine_coupling_flow(2, layers=2, hidden=(16,))
    interrupted.load_state_dict(init)
    calls = {"n": 0}
    original = density.sample

    def flaky(n, rng):
        calls["n"] += 1
        if calls["n"] > 15:
            raise _Stop
        return original(n, rng)

    broken = type(density)(density.name, flaky)
    with pytest.raises(_Stop):
        train_flow(interrupted, broken, ToyTrainConfig(steps=20, batch=64, checkpoint=ckpt,
                                                       checkpoint_every=10, progress=False))
    resumed = affine_coupling_flow(2, layers=2, hidden=(16,))
    resumed.load_state_dict(init)
    history = train_flow(resumed, density, ToyTrainConfig(steps=20, batch=64, checkpoint=ckpt,
                                                          checkpoint_every=10, progress=False))
    assert len(history) == 20
    for k, v in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v, atol=1e-6, rtol=1e-5)


def test_toy_cli_writes_panel(tmp_path, capsys):
    assert main(["toy", "flow", "--flow", "coupling", "--steps", "30", "-o", str(tmp_path), "-q"]) == 0
    out = capsys.readouterr().out
    assert "held-out NLL" in out and "3.466" in out
    assert (tmp_path / "toy_chessboard_coupling.png").stat().st_size > 10_000
    assert main(["toy", "gan", "--steps", "20", "-o", str(tmp_path), "-q"]) == 0
    assert main(["toy", "vae", "--steps", "20", "-o", str(tmp_path), "-q"]) == 0
    assert main(["toy", "flow", "--flow", "ode", "--solver", "euler", "--steps", "5",
                 "-o", str(tmp_path), "-q"]) == 0
    assert (tmp_path / "toy_chessboard_ode_euler_solvers.png").exists()


def test_toy_cli_sizes_and_checkpoint(tmp_path, capsys):
    from galgen.models.serialization import read_config

    args = ["toy", "flow", "--flow", "spline", "--bins", "6", "--layers", "2", "--hidden", "16",
            "--batch", "64", "--steps", "20", "-o", str(tmp_path), "-q",
            "--checkpoint", str(tmp_path / "ckpt.pt")]
    assert main(args) == 0
    card = read_config(tmp_path / "toy_chessboard_spline_model")
    assert card["flow_kwargs"] == {"bins": 6, "layers": 2, "hidden": [16, 16]} and card["batch"] == 64
    assert (tmp_path / "ckpt.pt").exists()
    assert main(args) == 0  # resumed at step 20 of 20: nothing left to train
    assert read_config(tmp_path / "toy_chessboard_spline_model")["nll"] == pytest.approx(card["nll"])
    capsys.readouterr()
    assert main(["toy", "flow", "--flow", "coupling", "--bins", "8", "--steps", "5", "-q",
                 "-o", str(tmp_path)]) == 2
    assert "--bins do(es) not apply to --flow coupling" in capsys.readouterr().err


def test_toy_cli_fourier_features(tmp_path, capsys):
    from galgen.models.serialization import read_config

    assert main(["toy", "flow", "--flow", "spline", "--layers", "2", "--hidden", "16",
                 "--fourier-features", "4", "--batch", "64", "--steps", "10", "-o", str(tmp_path), "-q"]) == 0
    card = read_config(tmp_path / "toy_chessboard_spline_model")
    assert card["flow_kwargs"]["fourier_features"] == 4 and np.isfinite(card["nll"])
    capsys.readouterr()
    assert main(["toy", "flow", "--flow", "coupling", "--fourier-features", "4", "--steps", "5", "-q",
                 "-o", str(tmp_path)]) == 2
    assert "--fourier-features do(es) not apply to --flow coupling" in capsys.readouterr().err
