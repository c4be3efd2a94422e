"""ODE integrators written out for teaching: Euler, midpoint, RK4 and Dormand-Prince (RK45).

The state is a tuple of tensors (e.g. ``(z, log_p)`` for a continuous flow);
the right-hand side is ``f(t, state) -> tuple`` of the same shapes. Every
solver is plain autograd-friendly torch code, so gradients flow through the
steps ("discretise-then-optimise"; no adjoint).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from galgen.errors import GalgenValueError

__all__ = ["odeint", "SOLVERS", "FIXED_STEP_SOLVERS", "ODEStats"]

State = tuple[Tensor, ...]
RHS = Callable[[float | Tensor, State], State]


def _axpy(y: State, h: float, *terms: tuple[float, State]) -> State:
    """``y + h * sum(c_i * k_i)`` over tuples of tensors."""
    out = []
    for i, yi in enumerate(y):
        acc = None
        for c, k in terms:
            if c == 0:
                continue
            acc = c * k[i] if acc is None else acc + c * k[i]
        out.append(yi if acc is None else yi + h * acc)
    return tuple(out)


def euler_step(f: RHS, t: float, y: State, h: float) -> tuple[State, int]:
    """One explicit Euler step (order 1): ``y + h f(t, y)``. Returns (state, function evaluations)."""
    return _axpy(y, h, (1.0, f(t, y))), 1


def midpoint_step(f: RHS, t: float, y: State, h: float) -> tuple[State, int]:
    """One explicit midpoint step (order 2)."""
    k1 = f(t, y)
    k2 = f(t + h / 2, _axpy(y, h / 2, (1.0, k1)))
    return _axpy(y, h, (1.0, k2)), 2


def rk4_step(f: RHS, t: float, y: State, h: float) -> tuple[State, int]:
    """One classical Runge-Kutta step (order 4)."""
    k1 = f(t, y)
    k2 = f(t + h / 2, _axpy(y, h / 2, (1.0, k1)))
    k3 = f(t + h / 2, _axpy(y, h / 2, (1.0, k2)))
    k4 = f(t + h, _axpy(y, h, (1.0, k3)))
    return _axpy(y, h, (1 / 6, k1), (1 / 3, k2), (1 / 3, k3), (1 / 6, k4)), 4


FIXED_STEP_SOLVERS = {"euler": euler_step, "midpoint": midpoint_step, "rk4": rk4_step}

# Dormand-Prince 5(4) Butcher tableau (Dormand & Prince 1980)
_DP_C = (0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_DP_A = (
    (),
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_DP_B5 = (35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0)
_DP_B4 = (5179 / 57600, 0.0, 7571 / 16695, 393 / 640, -92097 / 339200, 187 / 2100, 1 / 40)


class ODEStats:
    """Counters of one integration: function evaluations, accepted and rejected steps."""

    def __init__(self) -> None:
        self.nfe = 0
        self.accepted = 0
        self.rejected = 0

    def __repr__(self) -> str:
        return f"ODEStats(nfe={self.nfe}, accepted={self.accepted}, rejected={self.rejected})"


def _dopri5(f: RHS, t0: float, t1: float, y: State, rtol: float, atol: float, stats: ODEStats,
            max_steps: int) -> State:
    direction = 1.0 if t1 >= t0 else -1.0
    span = abs(t1 - t0)
    h = direction * span / 10
    t = t0
    k1 = f(t, y)
    stats.nfe += 1
    for _ in range(max_steps):
        if direction * (t1 - t) <= 1e-12 * max(1.0, span):
            return y
        if direction * (t + h - t1) > 0:
            h = t1 - t
        ks = [k1]
        for i in range(1, 7):
            yi = _axpy(y, h, *zip(_DP_A[i], ks, strict=True))
            ks.append(f(t + _DP_C[i] * h, yi))
        stats.nfe += 6
        y5 = _axpy(y, h, *zip(_DP_B5, ks, strict=True))
        err_terms = tuple(b5 - b4 for b5, b4 in zip(_DP_B5, _DP_B4, strict=True))
        err = _axpy(tuple(torch.zeros_like(v) for v in y), h, *zip(err_terms, ks, strict=True))
        # RMS norm of the error relative to the tolerance (Hairer, Norsett & Wanner II.4)
        ratios = []
        for e, a, b in zip(err, y, y5, strict=True):
            scale = atol + rtol * torch.maximum(a.detach().abs(), b.detach().abs())
            ratios.append(((e.detach() / scale) ** 2).mean())
        err_norm = float(torch.sqrt(torch.stack(ratios).mean()))
        if err_norm <= 1.0:
            t = t + h
            y = y5
            k1 = ks[6]  # first-same-as-last
            stats.accepted += 1
        else:
            stats.rejected += 1
        factor = 0.9 * (err_norm + 1e-10) ** (-1 / 5)
        h = h * min(5.0, max(0.2, factor))
    msg = f"dopri5 did not reach t1={t1} in {max_steps} steps; loosen rtol/atol"
    raise GalgenValueError(msg)


def odeint(f: RHS, y0: State | Tensor, t0: float, t1: float, *, method: str = "rk4",
           steps: int = 20, rtol: float = 1e-5, atol: float = 1e-7,
           times: Sequence[float] | None = None, stats: ODEStats | None = None,
           max_steps: int = 10_000) -> State | Tensor | list:
    """Integrate ``dy/dt = f(t, y)`` from ``t0`` to ``t1``.

    Parameters
    ----------
    f : callable
        Right-hand side ``f(t, y) -> dy/dt`` on tuples of tensors (a single
        tensor is accepted and returned as such).
    y0 : tensor or tuple of tensors
        Initial state.
    t0, t1 : float
        Start and end times (``t1 < t0`` integrates backwards).
    method : {"euler", "midpoint", "rk4", "dopri5"}
        Fixed-step solvers take ``steps`` equal steps; ``"dopri5"`` adapts its
        step to keep the local error below ``atol + rtol*|y|``.
    steps : int, default 20
        Number of steps of a fixed-step solver over ``[t0, t1]``.
    rtol, atol : float
        Tolerances of ``"dopri5"``.
    times : sequence of float, optional
        Also return the state at these times (``t0 <= times <= t1``), e.g. to
        draw trajectories.
    stats : ODEStats, optional
        Filled with the number of function evaluations and steps.

    Returns
    -------
    state, or (state, list of states at ``times``) when ``times`` is given.
    """
    single = isinstance(y0, Tensor)
    y = (y0,) if single else tuple(y0)
    fn = (lambda t, s: (f(t, s[0]),)) if single else f  # noqa: E731
    stats = stats if stats is not None else ODEStats()
    checkpoints = sorted(set([*(times or []), t1]), reverse=t1 < t0)
    path = []
    t = t0
    for t_next in checkpoints:
        if method in FIXED_STEP_SOLVERS:
            step = FIXED_STEP_SOLVERS[method]
            n = max(1, round(steps * abs(t_next - t) / max(abs(t1 - t0), 1e-12)))
            h = (t_next - t) / n
            for i in range(n):
                y, nfe = step(fn, t + i * h, y, h)
                stats.nfe += nfe
                stats.accepted += 1
        elif method == "dopri5":
            y = _dopri5(fn, t, t_next, y, rtol, atol, stats, max_steps)
        else:
            msg = f"unknown ODE solver {method!r}; choose one of {sorted(SOLVERS)}"
            raise GalgenValueError(msg)
        t = t_next
        if times is not None and t_next in times:
            path.append(y[0] if single else y)
    out = y[0] if single else y
    return (out, path) if times is not None else out


SOLVERS = ("euler", "midpoint", "rk4", "dopri5")
