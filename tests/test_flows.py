"""Invariants of every flow transform (zuko-style) and the ODE machinery."""

from __future__ import annotations

import math

import pytest
import torch

from galgen.models.flows import (
    ActNorm,
    AffineCoupling,
    Chain,
    ConvAffineCoupling,
    MultiscaleImageTransform,
    ODEFlowTransform,
    Permutation,
    SplineCoupling,
    exact_trace,
    hutchinson_trace,
    image_flow,
    make_flow,
    squeeze,
    unsqueeze,
)
from galgen.models.serialization import load_state, save_module

D = 4


def _randomise(module: torch.nn.Module) -> None:
    """Non-trivial parameters (zero-initialised last layers would make identities)."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))


def _vector_transforms():
    mask = torch.tensor([True, False, True, False])
    return {
        "affine": AffineCoupling(mask, (16, 16)),
        "affine_ctx": AffineCoupling(mask, (16, 16), context=3),
        "spline": SplineCoupling(mask, bins=5, bound=3.0, hidden=(16,)),
        "spline_ctx": SplineCoupling(~mask, bins=5, bound=3.0, hidden=(16,), context=3),
        "actnorm": ActNorm(D),
        "permutation": Permutation(D, "random", torch.Generator().manual_seed(0)),
        "ode_rk4": ODEFlowTransform(D, (16, 16), solver="rk4", steps=16),
        "ode_ctx": ODEFlowTransform(D, (16,), context=3, solver="midpoint", steps=32),
        "chain": Chain([ActNorm(D), AffineCoupling(mask, (8,)), Permutation(D),
                        SplineCoupling(mask, bins=4, hidden=(8,))]),
    }


@pytest.mark.parametrize("name", list(_vector_transforms()))
def test_vector_transform_invariants(name, tmp_path):
    t = _vector_transforms()[name].double()
    _randomise(t)
    t.eval()
    ctx = torch.randn(6, 3, dtype=torch.float64) if name.endswith("ctx") else None
    x = 1.5 * torch.randn(6, D, dtype=torch.float64)
    z, ladj = t(x, ctx)
    # 1. inverse round trip (atol 1e-4; the ODE inverse re-integrates backwards, error O(h^4))
    x_back, ladj_inv = t.inverse(z, ctx)
    torch.testing.assert_close(x_back, x, atol=1e-4, rtol=0)
    torch.testing.assert_close(ladj_inv, -ladj, atol=1e-4, rtol=0)
    # 2. log|det J| against autograd's full Jacobian (atol 1e-3)
    for i in range(2):
        c = None if ctx is None else ctx[i:i + 1]
        jac = torch.autograd.functional.jacobian(lambda v, c=c: t(v[None], c)[0][0], x[i])
        assert abs(torch.linalg.slogdet(jac).logabsdet - ladj[i]) < 1e-3
    # 3. gradients reach every parameter
    t.train()
    t.zero_grad()
    z, ladj = t(x, ctx)
    if any(True for _ in t.parameters()):
        (z.pow(2).sum() - ladj.sum()).backward()
    for pname, p in t.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, pname
    # 4. save -> load gives the same outputs
    t.eval()
    save_module(t, tmp_path / "m", {"name": name})
    fresh = _vector_transforms()[name].double()
    load_state(fresh, tmp_path / "m")
    fresh.eval()
    torch.testing.assert_close(fresh(x, ctx)[1], t(x, ctx)[1])


def test_spline_is_identity_outside_its_bound():
    t = SplineCoupling(torch.tensor([True, False]), bins=4, bound=2.0, hidden=(8,)).double()
    _randomise(t)
    x = torch.tensor([[0.3, 5.0], [0.1, -7.0]], dtype=torch.float64)
    z, ladj = t(x)
    torch.testing.assert_close(z, x)
    assert torch.all(ladj == 0)


@pytest.mark.parametrize("module", [
    lambda: ConvAffineCoupling(4, hidden=8),
    lambda: MultiscaleImageTransform((1, 8, 8), scales=2, depth=2, hidden=8),
])
def test_image_transform_invariants(module):
    t = module().double()
    x = torch.randn(3, 4 if isinstance(t, ConvAffineCoupling) else 1, 8, 8, dtype=torch.float64)
    t.train()
    t(x)  # ActNorm data-dependent initialisation
    _randomise(t)
    t.eval()
    z, ladj = t(x)
    x_back, ladj_inv = t.inverse(z)
    torch.testing.assert_close(x_back.reshape(x.shape), x, atol=1e-4, rtol=0)
    torch.testing.assert_close(ladj_inv, -ladj, atol=1e-4, rtol=0)
    jac = torch.autograd.functional.jacobian(lambda v: t(v[None])[0].flatten(), x[0])
    jac = jac.reshape(x[0].numel(), x[0].numel())
    assert abs(torch.linalg.slogdet(jac).logabsdet - ladj[0]) < 1e-3


def test_squeeze_round_trip():
    x = torch.arange(2 * 3 * 4 * 6.0).view(2, 3, 4, 6)
    assert squeeze(x).shape == (2, 12, 2, 3)
    torch.testing.assert_close(unsqueeze(squeeze(x)), x)


@pytest.mark.parametrize("kind", ["coupling", "spline", "ode"])
def test_flow_sample_and_log_prob_agree(kind):
    flow = make_flow(kind, features=2, **({"steps": 20} if kind == "ode" else {})).double()
    _randomise(flow)
    flow.eval()
    g = torch.Generator().manual_seed(3)
    x, logp = flow.sample_and_log_prob(8, generator=g)
    assert x.shape == (8, 2)
    torch.testing.assert_close(flow.log_prob(x), logp, atol=1e-4, rtol=0)


def test_flow_density_integrates_to_one():
    # a trained-looking random spline flow: its density over a 2D grid sums to ~1
    flow = make_flow("spline", features=2, layers=2, bins=4, hidden=(16,)).double()
    _randomise(flow)
    with torch.no_grad():
        # the (0.05 grid) Riemann sum over [-8, 8]^2 of p(x): tolerance 1 % for the tails
        g = torch.linspace(-8, 8, 321, dtype=torch.float64)
        xx, yy = torch.meshgrid(g, g, indexing="ij")
        p = flow.log_prob(torch.stack([xx.flatten(), yy.flatten()], 1)).exp()
        total = p.sum() * (g[1] - g[0]) ** 2
    assert float(total) == pytest.approx(1.0, abs=0.01)


def test_hutchinson_is_unbiased():
    torch.manual_seed(0)
    lin = torch.nn.Sequential(torch.nn.Linear(5, 16), torch.nn.Tanh(), torch.nn.Linear(16, 5))
    z = torch.randn(1, 5, requires_grad=True)
    f = lin(z)
    exact = exact_trace(f, z, create_graph=False)
    n = 4000
    zs = z.detach().expand(n, 5).clone().requires_grad_(True)
    fs = lin(zs)
    est = hutchinson_trace(fs, zs, torch.randn_like(zs), create_graph=False)
    # mean of n probes within 3 standard errors of the exact trace
    assert abs(est.mean() - exact[0]) < 3 * est.std() / math.sqrt(n)


def test_ode_flow_hutchinson_matches_exact_on_average():
    t = ODEFlowTransform(3, (16,), trace="exact", steps=8).double()
    _randomise(t)
    x = torch.randn(1, 3, dtype=torch.float64)
    with torch.no_grad():
        exact = t(x)[1]
    t.trace = "hutchinson"
    torch.manual_seed(0)
    with torch.no_grad():
        est = torch.stack([t(x)[1] for _ in range(400)])
    assert abs(est.mean() - exact) < 3 * est.std() / 20


def test_image_flow_shapes():
    flow = image_flow((1, 16, 16), scales=2, depth=1, hidden=8)
    x = torch.randn(2, 1, 16, 16)
    flow.train()
    assert flow.log_prob(x).shape == (2,)
    flow.eval()
    s = flow.sample(3)
    assert s.shape == (3, 1, 16, 16)


def _gaussian_velocity(z: torch.Tensor, t: torch.Tensor, mu: torch.Tensor, s: float) -> torch.Tensor:
    """Marginal velocity of the straight path ``z_t = (1 - t) x + t eps`` for ``x ~ N(mu, s^2 I)``:
    ``E[eps - x | z_t]``, from the joint Gaussian of ``(x, eps, z_t)``."""
    v = (1 - t) ** 2 * s**2 + t**2
    return (t - (1 - t) * s**2) / v * (z - (1 - t) * mu) - mu


def test_flow_matching_learns_the_analytic_velocity_and_density():
    from galgen.models.flows import ode_flow

    mu, s = torch.tensor([1.0, -0.5]), 0.5
    torch.manual_seed(0)
    flow = ode_flow(2, hidden=(64, 64), activation="silu", time_features=2, solver="rk4", steps=32)
    opt = torch.optim.Adam(flow.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 1500)
    g = torch.Generator().manual_seed(1)
    for _ in range(1500):
        x = mu + s * torch.randn(512, 2, generator=g)
        loss = flow.transform.flow_matching_loss(x, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    # velocity where the paths carry mass (t in [0.1, 0.9], points drawn along the paths)
    t = torch.rand(2000, 1, generator=g) * 0.8 + 0.1
    z = (1 - t) * (mu + s * torch.randn(2000, 2, generator=g)) + t * torch.randn(2000, 2, generator=g)
    with torch.no_grad():
        learned = flow.transform.velocity(t, z)
    truth = _gaussian_velocity(z, t, mu, s)
    # a 2x64 MLP after 1,500 noisy regression steps: 10 % of the field's rms
    assert (learned - truth).pow(2).mean().sqrt() < 0.1 * truth.pow(2).mean().sqrt()
    # exact log-density through the solvers: RK4 (64 steps) agrees with Dopri5 at tight tolerance
    x = mu + s * torch.randn(500, 2, generator=g)
    flow.transform.solver, flow.transform.steps = "rk4", 64
    with torch.no_grad():
        rk4 = flow.log_prob(x)
    flow.transform.solver, flow.transform.rtol, flow.transform.atol = "dopri5", 1e-7, 1e-7
    with torch.no_grad():
        dopri = flow.log_prob(x)
    assert torch.allclose(rk4, dopri, atol=1e-3)  # both integrate the same field to ~1e-5
    analytic = torch.distributions.Normal(mu, s).log_prob(x).sum(-1)
    assert abs(float(dopri.mean() - analytic.mean())) < 0.05  # the learned density is the Gaussian's


def test_flow_matching_ot_coupling_shortens_the_paths():
    from galgen.models.flows import ode_flow

    flow = ode_flow(2, hidden=(8,))
    with torch.no_grad():  # a zero velocity field: the loss is then the mean squared path length
        flow.transform.dynamics.net[-1].weight.zero_()
        flow.transform.dynamics.net[-1].bias.zero_()
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(0)) * 0.3 + 2.0
    lengths = {c: float(flow.transform.flow_matching_loss(x, generator=torch.Generator().manual_seed(5),
                                                          coupling=c).detach())
               for c in ("independent", "ot")}
    # the same noise draws, re-paired: the optimal assignment can only shorten the total
    assert lengths["ot"] < lengths["independent"]
    with pytest.raises(ValueError, match="coupling"):
        flow.transform.flow_matching_loss(x, coupling="sinkhorn")


def test_fourier_features_are_fixed_saved_and_keep_the_density_normalised():
    from galgen.models.flows import ode_flow

    torch.manual_seed(0)
    flow = ode_flow(2, hidden=(16,), activation="silu", fourier_features=8, fourier_scale=2.0, solver="rk4",
                    steps=16)
    b = flow.state_dict()["transform.dynamics.fourier"]
    assert b.shape == (2, 8) and float(b.std()) == pytest.approx(2.0, rel=0.6)
    torch.manual_seed(1)  # another network: loading its state gives back the same features and field
    other = ode_flow(2, hidden=(16,), activation="silu", fourier_features=8, fourier_scale=2.0, solver="rk4",
                     steps=16)
    other.load_state_dict(flow.state_dict())
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(other.log_prob(x), flow.log_prob(x))
    # the change of variables holds through the features: the density integrates to one on a grid
    # (an untrained field is smooth; the base Gaussian's mass outside +-6 is negligible)
    g = torch.linspace(-6, 6, 121)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        mass = float(torch.cat([flow.log_prob(c) for c in grid.split(4000)]).exp().sum() * (g[1] - g[0]) ** 2)
    assert mass == pytest.approx(1.0, abs=0.02)


def test_spline_coupling_with_fourier_features_stays_invertible_and_normalised():
    from galgen.models.flows import spline_flow

    torch.manual_seed(0)
    flow = spline_flow(2, layers=4, bins=8, hidden=(32,), fourier_features=8, fourier_scale=1.5)
    with torch.no_grad():  # leave the identity start: random last layers make real (smooth) splines
        for m in flow.modules():
            if isinstance(m, torch.nn.Linear) and m.out_features == 3 * 8 - 1:
                m.weight.normal_(0, 0.1)
    flow = flow.double()  # float64: the inverse is then exact to rounding, not to float32's 1e-4
    x = torch.randn(256, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 1.5
    with torch.no_grad():
        z, ladj = flow.transform(x)
        back, ladj_inv = flow.transform.inverse(z)
    torch.testing.assert_close(back, x, atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(ladj_inv, -ladj, atol=1e-8, rtol=1e-8)
    assert float((z - x).abs().max()) > 0.05  # not the identity
    # a smooth density on a 0.05 grid: the Riemann sum is within 1e-4 of the integral here
    g = torch.linspace(-7, 7, 281, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    with torch.no_grad():
        mass = float(flow.log_prob(grid).exp().sum() * (g[1] - g[0]) ** 2)
    assert mass == pytest.approx(1.0, abs=0.002)
