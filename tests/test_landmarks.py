"""Landmark selection: randomly pivoted Cholesky (factor, residual trace, law of
the pivots), m="auto", and the argument checks shared with nystrom_spectrum."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import kernels
from kernel_sd.spectra.landmarks import _accept

KERNEL = kernels.Laplace(lengthscale=0.5)


def _laplace(A, B):
    """KERNEL in closed form, exp(−‖a − b‖/ℓ), in NumPy."""
    return np.exp(-np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)) / 0.5)


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(7).uniform(size=(120, 2))


def test_rpcholesky_gives_the_cholesky_factor_and_the_residual_trace(X):
    lm = ksd.select_landmarks(KERNEL, X, m=30, seed=4)
    idx = lm.indices
    assert idx.shape == (30,) and len(set(idx.tolist())) == 30
    np.testing.assert_array_equal(np.asarray(lm.points), X[idx])
    R = np.asarray(lm.chol)
    K_zz = _laplace(X[idx], X[idx])  # in the order chosen
    np.testing.assert_array_equal(np.triu(R, 1), 0.0)
    np.testing.assert_allclose(R @ R.T, K_zz, rtol=0, atol=1e-13)
    # The residual after each block, by a dense solve on the pool (all of X here):
    # 1 − tr(K_XZ K_ZZ⁻¹ K_ZX) / tr K_XX.
    assert lm.counts[-1] == 30 and np.all(np.diff(lm.counts) > 0)
    for j, res in zip(lm.counts, lm.residual, strict=True):
        Z = X[idx[:j]]
        K_xz = _laplace(X, Z)
        captured = np.sum(K_xz * np.linalg.solve(_laplace(Z, Z), K_xz.T).T)
        np.testing.assert_allclose(res, 1.0 - captured / len(X), rtol=1e-10)
    # ... and it is the truncation δ of the Nyström spectrum on these landmarks.
    spec = ksd.nystrom_spectrum(KERNEL, X, m=30, seed=4)
    np.testing.assert_array_equal(np.asarray(spec.landmarks), X[idx])
    np.testing.assert_allclose(float(spec.truncation), lm.residual[-1], rtol=1e-10)


def test_rejection_sampling_draws_the_pivots_of_sequential_rpcholesky():
    """Pivot pairs (i, j) of m = 2 have probability (E_ii / tr E) (E'_jj / tr E')
    with E = K and E' its Schur complement after pivot i (sequential RPCholesky).
    Rounds of 16 candidates accepted by the rejection step (dense numpy residuals,
    a new round whenever a round accepts fewer than needed) match that law."""
    P = np.array([[0.0, 0.2], [1.0, 0.0], [0.9, 0.3], [-0.6, 0.8], [0.4, -1.1]])
    K = np.asarray(kernels.Polynomial(degree=2, gamma=1.0, coef0=0.5)(P, P))
    expected = {}
    for i, j in itertools.permutations(range(5), 2):
        E = K - np.outer(K[:, i], K[:, i]) / K[i, i]
        expected[(i, j)] = K[i, i] / np.trace(K) * E[j, j] / np.trace(E)

    def draw(rng):
        E, piv = K.copy(), []
        while len(piv) < 2:
            d = np.diag(E).clip(0.0)
            cand = rng.choice(5, size=16, p=d / d.sum())
            accepted, R = _accept(E[np.ix_(cand, cand)], d[cand], rng.random(16),
                                  1e-12, 2 - len(piv))  # fmt: skip
            for a in accepted:
                i = cand[a]
                piv.append(i)
                E = E - np.outer(E[:, i], E[:, i]) / E[i, i]
            if accepted:  # the factor of the accepted block: R Rᵀ = H on them
                H = K[np.ix_(cand[accepted], cand[accepted])]
                if len(piv) == len(accepted):
                    np.testing.assert_allclose(R @ R.T, H, atol=1e-12)
        return tuple(int(i) for i in piv)

    rng = np.random.default_rng(0)
    draws = 1500
    counts = dict.fromkeys(expected, 0)
    for _ in range(draws):
        counts[draw(rng)] += 1
    p = np.array(list(expected.values()))
    f = np.array([counts[key] for key in expected]) / draws
    # χ² statistic over 20 cells (19 degrees of freedom): 99.9 % quantile 43.8.
    assert draws * np.sum((f - p) ** 2 / p) < 43.8
    # Negative control: accepting every candidate (no rejection) fails it.
    naive = dict.fromkeys(expected, 0)
    for _ in range(draws):
        d = np.diag(K)
        cand = rng.choice(5, size=16, p=d / d.sum())
        first = cand[0]
        second = next(c for c in cand[1:] if c != first)
        naive[(int(first), int(second))] += 1
    g = np.array([naive[key] for key in expected]) / draws
    assert draws * np.sum((g - p) ** 2 / p) > 43.8


def test_auto_m_stops_at_the_target_and_warns_when_it_cannot(X):
    lm = ksd.select_landmarks(KERNEL, X, m="auto", truncation=0.2)
    assert lm.residual[-1] <= 0.2 < lm.residual[-2]
    spec = ksd.nystrom_spectrum(KERNEL, X, m="auto", truncation=0.2)
    assert spec.landmarks.shape[0] == lm.points.shape[0] < len(X)
    assert float(spec.truncation) <= 0.2
    with pytest.warns(UserWarning, match="above the target"):
        few = ksd.select_landmarks(KERNEL, X, m=5, truncation=1e-6)
    assert few.points.shape[0] == 5


def test_low_rank_kernel_stops_at_its_rank(X):
    """Linear kernel on 2 features: rank 2, so the residual vanishes after two pivots."""
    lm = ksd.select_landmarks(kernels.Linear(), X, m=10)
    assert lm.points.shape[0] == 2 and lm.residual[-1] < 1e-12
    spec = ksd.nystrom_spectrum(kernels.Linear(), X, m=10)
    np.testing.assert_allclose(
        spec.eigvals, np.linalg.eigvalsh(X.T @ X / len(X))[::-1], rtol=1e-12
    )


def test_uniform_and_pivoted_through_select_landmarks(X):
    uni = ksd.select_landmarks(KERNEL, X, m=10, method="uniform", seed=1)
    spec = ksd.nystrom_spectrum(KERNEL, X, m=10, landmarks="uniform", seed=1)
    np.testing.assert_array_equal(np.asarray(spec.landmarks), np.asarray(uni.points))
    assert uni.chol is None and uni.residual.size == 0
    piv = ksd.select_landmarks(KERNEL, X, m=10, method="pivoted")
    assert piv.chol is None and len(set(piv.indices.tolist())) == 10


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"m": "auto", "method": "uniform"}, "integer m"),
        ({"m": 5, "method": "pivoted", "truncation": 0.1}, "integer m"),
        ({"m": 5, "truncation": 1.5}, "`truncation`"),
        ({"m": 5, "truncation": 0.0}, "`truncation`"),
        ({"m": "all"}, "`m`"),
        ({"m": 20, "pool": 10}, "`pool`"),
        ({"m": 20, "max_memory_gb": 1e-6}, "smaller `pool`"),
        ({"m": 20, "method": "pivoted", "max_memory_gb": 1e-6}, "rpcholesky"),
        ({"m": 5, "method": "kmeans"}, "`method`"),
    ],
)
def test_bad_arguments(X, kw, match):
    with pytest.raises(ValueError, match=match):
        ksd.select_landmarks(KERNEL, X, **kw)


def test_nystrom_spectrum_checks_landmark_arguments(X):
    with pytest.raises(ValueError, match="landmarks='rpcholesky'"):
        ksd.nystrom_spectrum(KERNEL, X, m="auto", landmarks="uniform")
    with pytest.raises(ValueError, match="`pool`"):
        ksd.nystrom_spectrum(KERNEL, jnp.asarray(X), m=20, pool=5)
