"""Shared test set-up: float64, strict rank promotion, seeded problems."""

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def rng():
    """A fresh seeded NumPy generator per test."""
    return np.random.default_rng(20201206)


def planted_spectrum(rng, n, condition, *, rank=None):
    """Random orthonormal ``V`` and eigenvalues log-spaced from 1/n down to 1/(n·condition).

    ``rank < n`` sets the trailing eigenvalues to exactly 0 (a known null space).
    """
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    d = np.geomspace(1.0, 1.0 / condition, n) / n
    if rank is not None:
        d[rank:] = 0.0
    return d, V


@pytest.fixture(scope="session")
def toy():
    """The [MFB20] toy problem (11 points)."""
    from kernel_sd import data

    return data.mobahi_toy()
