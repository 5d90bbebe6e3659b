"""Fixtures of the theory tests."""

import pytest

from kernel_sd.theory import samplers

ROUTES = {
    "mobahi2020.dense_rounds",
    "mobahi2020.risk_monte_carlo",
    "nagarajan2023.descent_vs_simulation",
    "nagarajan2023.flow_vs_simulation",
    "nagarajan2023.denoising_monte_carlo",
}
"""Statements comparing independent routes (simulations, dense solves, Monte Carlo)."""


@pytest.fixture
def one_size(monkeypatch):
    """Samplers draw K = 16 only, so the simulations and fits compile once per session.

    ``kernel-sd verify`` runs every statement over all of ``samplers.SIZES``.
    """
    monkeypatch.setattr(samplers, "SIZES", (16,))
