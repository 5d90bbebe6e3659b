"""Spectrum: agreement with numpy's eigh, the noise floor, PSD and memory checks."""

import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import kernels
from tests.conftest import planted_spectrum


def test_matches_numpy_eigh(rng):
    X = rng.uniform(size=(60, 2))
    k = kernels.Matern(nu=1.5, lengthscale=0.5)
    spec = ksd.spectrum(k, X)
    G = np.asarray(k(X, X)) / 60
    ref = np.sort(np.linalg.eigvalsh(G))[::-1]
    keep = ref > spec.noise_floor
    np.testing.assert_allclose(
        np.asarray(spec.eigvals)[keep], ref[keep], rtol=1e-10, atol=1e-15
    )
    V = np.asarray(spec.eigvecs)
    np.testing.assert_allclose(V.T @ V, np.eye(60), atol=1e-13)
    # reconstruction on the numerical range
    d = np.asarray(spec.eigvals)
    np.testing.assert_allclose(
        V @ np.diag(d) @ V.T, G, atol=60 * float(spec.noise_floor)
    )


def test_noise_floor_and_rank_of_low_rank_kernel(rng):
    X = rng.standard_normal((30, 3))
    spec = ksd.spectrum(kernels.Linear(), X)  # rank 3
    assert int(spec.rank) == 3
    assert int(spec.n_clamped) == 27
    assert float(spec.noise_floor) == pytest.approx(
        30 * np.finfo(float).eps * float(spec.eigvals[0])
    )
    # Sub-floor eigenvalues are numerically zero: non-negative, at or under the floor
    # (their values are kept for the filters).
    tail = np.asarray(spec.eigvals)[3:]
    assert np.all((tail >= 0.0) & (tail <= float(spec.noise_floor)))


def test_descending_and_condition_number(rng):
    d, V = planted_spectrum(rng, 20, 1e3)
    spec = ksd.spectrum_from_eigen(d[::-1], V[:, ::-1])
    assert np.all(np.diff(np.asarray(spec.eigvals)) <= 0)
    assert float(spec.condition_number) == pytest.approx(1e3, rel=1e-12)
    assert spec.complete


def test_from_gram_equals_from_kernel(rng):
    X = rng.uniform(size=(25, 1))
    k = kernels.RBF(lengthscale=0.3)
    a = ksd.spectrum(k, X)
    b = ksd.spectrum_from_gram(ksd.gram(k, X))
    np.testing.assert_allclose(a.eigvals, b.eigvals, rtol=1e-13, atol=1e-16)


def test_not_psd_is_an_error(rng):
    A = rng.standard_normal((10, 10))
    with pytest.raises(ValueError, match="positive semi-definite"):
        ksd.spectrum_from_gram(A + A.T)


def test_not_symmetric_is_an_error(rng):
    with pytest.raises(ValueError, match="symmetric"):
        ksd.spectrum_from_gram(rng.standard_normal((5, 5)))


def test_memory_guard_names_the_limit():
    X = np.zeros((50_000, 1))
    with pytest.raises(ValueError, match="max_memory_gb"):
        ksd.spectrum(kernels.RBF(), X, max_memory_gb=1.0)


def test_memory_guard_points_to_the_low_rank_path():
    X = np.zeros((50_000, 1))
    with pytest.raises(ValueError, match=r"nystrom_spectrum\(kernel, X, m=\.\.\.\)"):
        ksd.spectrum(kernels.RBF(), X, max_memory_gb=1.0)
    with pytest.raises(ValueError, match=r"lanczos_spectrum\(kernel, X, k=\.\.\.\)"):
        ksd.spectrum(kernels.RBF(), X, max_memory_gb=1.0)


def test_float32_ill_conditioned_warns(rng):
    X = rng.uniform(size=(40, 1)).astype(np.float32)
    with pytest.warns(UserWarning, match="enable x64|Enable x64"):
        spec = ksd.spectrum(kernels.RBF(lengthscale=0.5), X)
    assert spec.eigvals.dtype == jnp.float32


def test_float32_well_conditioned_is_quiet(rng):
    X = (3.0 * np.eye(4)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spec = ksd.spectrum(kernels.RBF(lengthscale=0.5), X)
    assert spec.eigvals.dtype == jnp.float32


def test_from_eigen_rejects_non_orthonormal(rng):
    with pytest.raises(ValueError, match="orthonormal"):
        ksd.spectrum_from_eigen(np.ones(3), rng.standard_normal((3, 3)))


def test_spectrum_of_other_points_is_refused(rng):
    """The input fingerprint catches a spectrum passed with other points of the same n."""
    X = rng.uniform(size=(25, 1))
    y = np.sin(6.0 * X[:, 0])
    k = kernels.RBF(lengthscale=0.3)
    spec = ksd.spectrum(k, X)
    assert spec.fingerprint.shape == (4, 1)
    # Negative control: the same points, as another array (copy, jax array), pass.
    a = ksd.self_distill(k, X.copy(), y, lam=1e-3, rounds=2, spectrum=spec)
    b = ksd.self_distill(k, X, y, lam=1e-3, rounds=2)
    np.testing.assert_array_equal(a.train_pred, b.train_pred)
    ksd.features(k, jnp.asarray(X), X[:3], spec)
    others = {
        "shifted": X + 1e-6,
        "reordered": X[::-1],  # same moments, other order: the weighted sum differs
        "redrawn": rng.uniform(size=(25, 1)),
    }
    for other in others.values():
        with pytest.raises(ValueError, match="other inputs than `X`"):
            ksd.self_distill(k, other, y, lam=1e-3, rounds=2, spectrum=spec)
        with pytest.raises(ValueError, match="`spec` was computed from other inputs"):
            ksd.features(k, other, X[:3], spec)
    with pytest.raises(ValueError, match="float64 inputs, X is float32"):
        ksd.features(k, X.astype(np.float32), X[:3], spec)
    # Eigenpairs given by the user carry no fingerprint: only n is checked.
    bare = ksd.spectrum_from_eigen(spec.eigvals, spec.eigvecs)
    assert bare.fingerprint is None
    ksd.self_distill(k, others["redrawn"], y, lam=1e-3, rounds=2, spectrum=bare)
    with pytest.raises(ValueError, match="these 24 points"):
        ksd.self_distill(k, X[:24], y[:24], lam=1e-3, rounds=2, spectrum=bare)
