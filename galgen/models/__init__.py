"""Generic generative modules: normalizing flows, VAEs, GANs, ODE solvers, toy densities."""
