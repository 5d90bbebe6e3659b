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


def multiplier_bracket(d_range, y_norm2, null_norm2, keps, *, K):
    """``[c_lo, c_hi]`` holding the root of ``φ(c) = Σ_k (c z_k/(c + d_k))² − Kε``.

    Built from quantities known in exact arithmetic, never from eigenvalues
    inside a numerical null space: ``d_range`` the nonzero eigenvalues of ``G``
    (or those clearly above its noise floor), ``null_norm2`` the targets' energy
    on the other directions, ``y_norm2 = ‖y‖²``.

    Derived: ``c/(c + d) <= c/d_min`` on the range and ``<= 1`` elsewhere give
    ``φ(c) + Kε <= null + (c/d_min)² (‖y‖² − null)``, and ``c/(c + d) >=
    c/(c + d_max)`` gives ``φ(c) + Kε >= (c/(c + d_max))² ‖y‖²``. Hence
    ``φ(c_lo) < 0 < φ(c_hi)`` for ``c_lo = d_min √((Kε − null)/(2(‖y‖² − null)))``
    and ``c_hi = 2 d_max/(r − 1)``, ``r = ‖y‖/√(Kε) > 1``.

    The bracket is returned only when ``c_lo`` lies far (1e6 times) above the
    round-off ``K · eps · d_max`` of a dense ``K × K`` matrix, where dense solves
    of ``(cI + G)`` are accurate whatever the BLAS does in the null space.
    """
    d_range = np.asarray(d_range)
    d_min, d_max = float(d_range.min()), float(d_range.max())
    assert d_min > 0 and null_norm2 < keps < y_norm2, "no root: collapse or infeasible"
    c_lo = d_min * np.sqrt((keps - null_norm2) / (2.0 * (y_norm2 - null_norm2)))
    r = np.sqrt(y_norm2 / keps)
    assert c_lo > 1e6 * K * np.finfo(float).eps * d_max, "reference ill-posed"
    return c_lo, 2.0 * d_max / (r - 1.0)
