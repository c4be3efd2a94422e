"""ODE solvers against the analytic solution of dz/dt = A z."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from galgen.models.ode import ODEStats, odeint

A = torch.tensor([[-0.5, 2.0], [-2.0, -0.3]], dtype=torch.float64)
Z0 = torch.tensor([1.0, 0.5], dtype=torch.float64)
T = 2.0


def _exact(t: float) -> torch.Tensor:
    return torch.linalg.matrix_exp(A * t) @ Z0


@pytest.mark.parametrize(("method", "order"), [("euler", 1), ("midpoint", 2), ("rk4", 4)])
def test_fixed_step_solvers_show_their_order(method, order):
    steps = np.array([20, 40, 80, 160])
    errors = [float((odeint(lambda t, z: z @ A.T, Z0, 0.0, T, method=method, steps=int(n))
                     - _exact(T)).norm()) for n in steps]
    slope = np.polyfit(np.log(T / steps), np.log(errors), 1)[0]
    # fitted slope of log(error) vs log(step) within 0.3 of the order (the bound)
    assert slope == pytest.approx(order, abs=0.3)


@pytest.mark.parametrize("rtol", [1e-4, 1e-7])
def test_dopri5_meets_its_tolerance(rtol):
    stats = ODEStats()
    z = odeint(lambda t, z: z @ A.T, Z0, 0.0, T, method="dopri5", rtol=rtol, atol=rtol * 1e-2,
               stats=stats)
    err = float((z - _exact(T)).norm() / _exact(T).norm())
    # global error is a small multiple of the local tolerance for this stable system
    assert err < 10 * rtol
    assert stats.accepted > 0 and stats.nfe == 1 + 6 * (stats.accepted + stats.rejected)


def test_backwards_integration_and_times():
    z1, path = odeint(lambda t, z: z @ A.T, Z0, 0.0, T, method="rk4", steps=200,
                      times=[0.5, 1.0])
    torch.testing.assert_close(path[0], _exact(0.5), atol=1e-8, rtol=0)
    back = odeint(lambda t, z: z @ A.T, z1, T, 0.0, method="rk4", steps=200)
    torch.testing.assert_close(back, Z0, atol=1e-8, rtol=0)


def test_gradients_flow_through_steps():
    a = A.clone().requires_grad_(True)
    z = odeint(lambda t, z: z @ a.T, Z0, 0.0, 1.0, method="rk4", steps=50)
    z.sum().backward()
    # d/dA of sum(expm(A) z0), by finite differences on one entry
    eps = 1e-6
    e = torch.zeros_like(A)
    e[0, 1] = eps
    fd = ((torch.linalg.matrix_exp(A + e) @ Z0).sum() - (torch.linalg.matrix_exp(A - e) @ Z0).sum()) / (
        2 * eps)
    assert float(a.grad[0, 1]) == pytest.approx(float(fd), rel=1e-5)
