"""Accuracy near the noise floor: sub-floor eigenvalues stay in the filters, the
first-order error bound holds for a measured perturbation of G, and fits whose
bound is large are warned about."""

import numpy as np
import pytest
from scipy.optimize import brentq

import kernel_sd as ksd
from kernel_sd.distill import error_bound

K = 200
EPS = np.finfo(float).eps


def _planted(rng):
    """Orthonormal V and d: 160 eigenvalues from d_max down to 1e-12 d_max, and 40
    between eps·d_max and the floor K·eps·d_max, known exactly: numerically zero
    for the rank, not for the filters."""
    V, _ = np.linalg.qr(rng.standard_normal((K, K)))
    d_max = 1.0 / K
    d = np.concatenate(
        [np.geomspace(1.0, 1e-12, K - 40), np.geomspace(150.0, 30.0, 40) * EPS]
    )
    return d * d_max, V


def test_sub_floor_eigenvalues_are_kept_in_the_filters(rng):
    """c_0 = 1000 · floor: zeroing the 40 sub-floor eigenvalues would move c_0 by
    ~1e-4 relative; kept, c_0 and f_0 match an exact-arithmetic reference."""
    d, V = _planted(rng)
    spec = ksd.spectrum_from_eigen(d, V)
    floor = float(spec.noise_floor)
    assert int(spec.rank) == K - 40 and int(spec.n_clamped) == 40
    z = rng.standard_normal(K)
    y = V @ z
    c_star = 1e3 * floor  # ε placed so that c_0 = 1000·floor, exactly
    keps = float(np.sum((c_star / (c_star + d)) ** 2 * z**2))
    with pytest.warns(UserWarning, match="first-order bound") as record:  # near floor
        tr = ksd.distill_from_spectrum(spec, y, eps=keps / K, rounds=1)
    assert all(w.filename == __file__ for w in record)  # the caller's line
    np.testing.assert_allclose(float(tr.c[0]), c_star, rtol=1e-9)
    f_ref = V @ (d / (c_star + d) * z)
    np.testing.assert_allclose(tr.train_pred[0], f_ref, rtol=0, atol=1e-12)
    # Negative control: with the sub-floor eigenvalues set to 0 the root moves.
    d0 = np.where(d > floor, d, 0.0)
    c0 = np.exp(
        brentq(
            lambda u: np.sum((np.exp(u) / (np.exp(u) + d0)) ** 2 * z**2) - keps,
            np.log(1e-3 * c_star),
            np.log(1e3 * c_star),
            xtol=1e-14,
        )
    )
    assert abs(c0 - c_star) / c_star > 1e-5


def test_error_bound_holds_for_a_perturbation_of_g(rng):
    """Spectra of G and G + E with ‖E‖ = η: the changes of c_t and f_t(X) are within ρ_t."""
    n = 20
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    d = np.geomspace(1.0, 1e-3, n) / n
    G = (V * d) @ V.T
    y = V @ rng.standard_normal(n)
    A = rng.standard_normal((n, n))
    E = A + A.T
    eta = 1e-9 * d[0]
    E *= eta / np.linalg.norm(E, 2)
    eps = 0.05 * float(y @ y) / n
    base = ksd.distill_from_spectrum(
        ksd.spectrum_from_gram(n * G), y, eps=eps, rounds=3
    )
    pert = ksd.distill_from_spectrum(
        ksd.spectrum_from_gram(n * (G + E)), y, eps=eps, rounds=3
    )
    spec = base.spectrum
    Y = np.asarray(base.z0)[:, None]
    rho = error_bound(
        base.c, spec.eigvals, Y, 0.0, base.shrinkage, eta, constrained=True
    )
    c, c_p = np.asarray(base.c), np.asarray(pert.c)
    assert np.all(np.isfinite(c)) and rho[-1] < 1e-5  # a non-vacuous bound
    targets = np.vstack([y, np.asarray(base.train_pred)[:-1]])
    resid = np.linalg.norm(targets - np.asarray(base.train_pred), axis=1)
    df = np.linalg.norm(
        np.asarray(pert.train_pred) - np.asarray(base.train_pred), axis=1
    )
    assert np.all(np.abs(c_p - c) / c <= rho), (np.abs(c_p - c) / c, rho)
    assert np.all(df / resid <= rho), (df / resid, rho)
    # Negative control: the perturbation is visible, far above round-off.
    assert np.max(np.abs(c_p - c) / c) > 1e-3 * rho[0]
