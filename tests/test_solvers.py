"""The multiplier c: brentq reference, collapse, infeasibility, vmap and jit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize

import kernel_sd as ksd
from kernel_sd import solvers
from tests.conftest import planted_spectrum


def _brentq_c(d, z, keps):
    """Independent reference: brentq on φ(c) − Kε over a wide bracket."""
    z2 = z * z if z.ndim == 1 else np.sum(z * z, axis=1)

    def phi(c):
        return np.sum((c / (c + d)) ** 2 * z2) - keps

    return scipy.optimize.brentq(phi, 1e-14, 1e14, xtol=1e-300, rtol=1e-15, maxiter=500)


@pytest.mark.parametrize("condition", [1e1, 1e4, 1e8])
def test_multiplier_matches_brentq(rng, condition):
    n = 50
    d, V = planted_spectrum(rng, n, condition)
    spec = ksd.spectrum_from_eigen(d, V)
    y = V @ rng.standard_normal(n)
    total = float(y @ y) / n
    for frac in (1e-3, 0.05, 0.3, 0.7, 0.95):
        eps = frac * total
        res = ksd.multiplier(spec, y, eps=eps)
        ref = _brentq_c(d, V.T @ y, n * eps)
        assert int(res.status) == solvers.STATUS_OK
        # 1e-12: the contract's accuracy; brentq is itself converged to 1e-15.
        assert abs(float(res.c) - ref) <= 1e-12 * ref


def test_constraint_active_at_the_root(rng):
    n = 40
    d, V = planted_spectrum(rng, n, 1e3)
    spec = ksd.spectrum_from_eigen(d, V)
    y = V @ rng.standard_normal(n)
    eps = 0.2 * float(y @ y) / n
    c = float(ksd.multiplier(spec, y, eps=eps).c)
    G = V @ np.diag(d) @ V.T
    f = G @ np.linalg.solve(c * np.eye(n) + G, y)
    assert np.mean((f - y) ** 2) == pytest.approx(eps, rel=1e-12)


def test_collapse_when_targets_are_small(rng):
    d, V = planted_spectrum(rng, 10, 10.0)
    spec = ksd.spectrum_from_eigen(d, V)
    y = 0.1 * V @ rng.standard_normal(10)
    res = ksd.multiplier(spec, y, eps=float(y @ y) / 10)  # ‖y‖² = Kε exactly
    assert int(res.status) == solvers.STATUS_COLLAPSED and np.isinf(float(res.c))


def test_infeasible_eps_raises_with_the_fix(rng):
    d, V = planted_spectrum(rng, 12, 10.0, rank=6)
    spec = ksd.spectrum_from_eigen(d, V)
    y = V @ np.r_[np.ones(6), 2.0 * np.ones(6)]  # null-space energy 24 → (1/K) = 2
    with pytest.raises(ValueError, match=r"eps.*infeasible.*eps > 2"):
        ksd.multiplier(spec, y, eps=1.9)
    # just above the null-space floor the root exists and is small
    res = ksd.multiplier(spec, y, eps=2.01)
    assert int(res.status) == solvers.STATUS_OK
    assert float(res.c) == pytest.approx(_brentq_c(d, V.T @ y, 12 * 2.01), rel=1e-12)


def test_multicolumn_targets_share_one_constraint(rng):
    n = 30
    d, V = planted_spectrum(rng, n, 100.0)
    spec = ksd.spectrum_from_eigen(d, V)
    Y = rng.standard_normal((n, 3))
    eps = 0.1 * float(np.sum(Y * Y)) / n
    ref = _brentq_c(d, V.T @ Y, n * eps)
    assert float(ksd.multiplier(spec, Y, eps=eps).c) == pytest.approx(ref, rel=1e-12)


def test_core_vmaps_over_eps_like_a_loop(rng):
    n = 25
    d, V = planted_spectrum(rng, n, 50.0)
    z = rng.standard_normal(n)
    s = jnp.asarray(z * z)
    keps = jnp.geomspace(1e-3, 0.9, 16) * float(s.sum())
    batched = jax.vmap(solvers._multiplier_core, in_axes=(None, None, None, 0))(
        jnp.asarray(d), s, 0.0, keps
    )
    looped = [
        float(solvers._multiplier_core(jnp.asarray(d), s, 0.0, k).c) for k in keps
    ]
    np.testing.assert_array_equal(np.asarray(batched.c), looped)


@pytest.mark.parametrize("eps", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_eps(rng, eps):
    d, V = planted_spectrum(rng, 5, 2.0)
    with pytest.raises(ValueError, match="eps"):
        ksd.multiplier(ksd.spectrum_from_eigen(d, V), np.ones(5), eps=eps)


def test_wrong_target_length(rng):
    d, V = planted_spectrum(rng, 5, 2.0)
    with pytest.raises(ValueError, match="y.*rows"):
        ksd.multiplier(ksd.spectrum_from_eigen(d, V), np.ones(6), eps=0.1)


def test_penalised_rounds_on_the_device_equal_the_host(rng):
    """The compiled (accelerator) Cholesky rounds against the host (SciPy) ones and a
    dense solve; both run here on the CPU."""
    from kernel_sd.solvers import _penalised_rounds_device, _penalised_rounds_host

    n = 60
    d, V = planted_spectrum(rng, n, 1e6)  # G = V diag(d) Vᵀ, condition 1e6
    G = (V * d) @ V.T
    K_xx = jnp.asarray(n * 0.5 * (G + G.T))
    y = jnp.asarray(rng.standard_normal((n, 2)))
    lam = 1e-2 / n  # d_max = 1/n: (lam I + G) has condition ~1e2
    a_h, f_h, ok_h = _penalised_rounds_host(K_xx, y, lam, 3)
    a_d, f_d, ok_d = _penalised_rounds_device(K_xx, y, lam, 3)
    assert ok_h and bool(ok_d)

    def close(a, b):
        b = np.asarray(b)
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * np.abs(b).max())

    close(a_h[0], np.linalg.solve(G + lam * np.eye(n), np.asarray(y)))
    close(f_h[2], G @ np.asarray(a_h[2]))
    close(a_d, a_h)
    close(f_d, f_h)
