"""Nyström spectra: agreement with the exact spectrum (m = n), with dense numpy
references of ``G̃ = K_nm K_mm^+ K_mn / K`` (m < n), and self-distillation on them."""

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from scipy.optimize import brentq

import kernel_sd as ksd
from kernel_sd import kernels
from kernel_sd.spectra._nystrom_factor import _sym_assemble, _sym_gram
from kernel_sd.spectra.eigvecs import KernelEigvecs
from tests.conftest import multiplier_bracket

N = 120
# Laplace kernel on the unit square: K_mm and G are well conditioned (κ(G) ~ 1e4),
# so every eigenvalue is far above the noise floor and comparisons are at 1e-10.
KERNEL = kernels.Laplace(lengthscale=0.5)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    X = rng.uniform(size=(N, 2))
    y = np.sin(3.0 * X[:, 0]) + np.cos(2.0 * X[:, 1]) + 0.3 * rng.standard_normal(N)
    X_test = rng.uniform(size=(15, 2))
    return X, y, X_test


def dense_nystrom(kernel, X, Z):
    """Independent reference: ``G̃ = K_nm pinv(K_mm) K_mn / n`` and its cross term."""
    Knm = np.asarray(kernel(X, Z))
    Kmm_pinv = np.linalg.pinv(np.asarray(kernel(Z, Z)), hermitian=True)
    return Knm @ Kmm_pinv @ Knm.T / X.shape[0], Kmm_pinv


def numpy_pivots(kernel, X, m):
    """Greedy diagonal-pivoted Cholesky on the dense kernel matrix (plain numpy)."""
    A = np.asarray(kernel(X, X))
    d = np.diag(A).copy()
    F = np.zeros((m, len(X)))
    piv = []
    for j in range(m):
        i = int(np.argmax(d))
        F[j] = (A[i] - F[:j, i] @ F[:j]) / np.sqrt(d[i])
        d -= F[j] ** 2
        d[i] = -np.inf
        piv.append(i)
    return np.array(piv)


@pytest.mark.parametrize("landmarks", ["rpcholesky", "pivoted", "uniform"])
def test_all_points_as_landmarks_is_the_exact_spectrum(problem, landmarks):
    X, _, _ = problem
    exact = ksd.spectrum(KERNEL, X)
    ny = ksd.nystrom_spectrum(KERNEL, X, m=N, landmarks=landmarks)
    assert int(exact.n_clamped) == 0 and int(ny.n_clamped) == 0
    np.testing.assert_allclose(ny.eigvals, exact.eigvals, rtol=1e-10)
    V, W = np.asarray(ny.eigvecs), np.asarray(exact.eigvecs)
    np.testing.assert_allclose(V @ V.T, W @ W.T, atol=1e-10)
    np.testing.assert_allclose(V.T @ V, np.eye(V.shape[1]), atol=1e-10)


@pytest.mark.parametrize(
    ("landmarks", "m"),
    [("uniform", 30), ("pivoted", 30), ("pivoted", 7), ("rpcholesky", 30)],
)
def test_matches_dense_reference(problem, landmarks, m):
    X, _, _ = problem
    ny = ksd.nystrom_spectrum(KERNEL, X, m=m, landmarks=landmarks, seed=3)
    assert not ny.complete
    Z = np.asarray(ny.landmarks)
    assert Z.shape == (m, 2) and len(np.unique(Z, axis=0)) == m
    # Independent m × m reference, no n × n null space: K_mm = R Rᵀ (Cholesky),
    # B = K_nm R^{-T}, so G̃ = B Bᵀ/K and its nonzero eigenvalues are those of BᵀB/K.
    Knm = np.asarray(KERNEL(X, Z))
    R = np.linalg.cholesky(np.asarray(KERNEL(Z, Z)))
    B = scipy.linalg.solve_triangular(R, Knm.T, lower=True).T
    ref = np.linalg.eigvalsh(B.T @ B / N)[::-1]
    d, V = np.asarray(ny.eigvals), np.asarray(ny.eigvecs)
    r = d.shape[0]
    assert r == m  # K_mm of distinct points is invertible: rank m
    # Eigenvalues to 1e-10 relative, plus an absolute 1e-13·d_max for the smallest
    # (eigh's error on any eigenvalue is absolute, ~eps·d_max).
    np.testing.assert_allclose(d, ref, rtol=1e-10, atol=1e-13 * ref[0])
    # G̃ = V diag(d) Vᵀ, checked on its range: span V = range(K_nm), and the
    # Rayleigh quotient Vᵀ G̃ V is diag(d) (G̃ = B Bᵀ/K, never a dense null space).
    Q, _ = np.linalg.qr(Knm)
    np.testing.assert_allclose(V @ V.T, Q @ Q.T, atol=1e-10)
    VB = V.T @ B
    np.testing.assert_allclose(VB @ VB.T / N, np.diag(d), atol=1e-13 * ref[0])
    np.testing.assert_allclose(V.T @ V, np.eye(r), atol=1e-10)


def test_pivoted_landmarks_are_the_cholesky_pivots(problem):
    X, _, _ = problem
    k = kernels.RBF(lengthscale=0.4)
    ny = ksd.nystrom_spectrum(k, X, m=12, landmarks="pivoted")
    np.testing.assert_array_equal(np.asarray(ny.landmarks), X[numpy_pivots(k, X, 12)])


def test_spectrum_of_other_points_is_refused(problem):
    """Nyström spectra carry the fingerprint of their inputs (see test_spectral)."""
    X, y, _ = problem
    spec = ksd.nystrom_spectrum(KERNEL, X, m=30, landmarks="uniform", seed=3)
    assert spec.fingerprint.shape == (4, 2)
    with pytest.raises(ValueError, match="other inputs than `X`"):
        ksd.self_distill(KERNEL, X[::-1], y, lam=1e-3, rounds=2, spectrum=spec)


def test_uniform_landmarks_follow_the_seed(problem):
    X, _, _ = problem
    a = ksd.nystrom_spectrum(KERNEL, X, m=10, landmarks="uniform", seed=1)
    b = ksd.nystrom_spectrum(KERNEL, X, m=10, landmarks="uniform", seed=1)
    c = ksd.nystrom_spectrum(KERNEL, X, m=10, landmarks="uniform", seed=2)
    np.testing.assert_array_equal(a.landmarks, b.landmarks)
    assert not np.array_equal(np.asarray(a.landmarks), np.asarray(c.landmarks))


def _dense_rounds(Gt, cross, y, *, eps=None, lam=None, rounds, Knm=None):
    """Per-round dense solves on ``G̃`` (``c_t`` by brentq on ``φ``), no eigenbasis.

    ``G̃ = K_nm K_mm^+ K_mn / K`` has, in exact arithmetic, exactly ``m`` nonzero
    eigenvalues (``K_mm`` of distinct points is invertible) and the null space
    ``range(K_nm)^⊥``. The dense matrix holds ±2e-16 there instead, which depend
    on the BLAS; ``φ`` is therefore only evaluated at ``c >= c_lo`` from
    :func:`multiplier_bracket`, far above them, where the dense solves are
    accurate to ~1e-12 whatever that round-off.
    """
    n = Gt.shape[0]
    I = np.eye(n)
    c_all, train, test = [], [], []
    yt = y.copy()
    if eps is not None:
        m = Knm.shape[1]
        d_range = np.linalg.eigvalsh(Gt)[-m:]  # the m nonzero eigenvalues
        Q, _ = np.linalg.qr(Knm)  # orthonormal basis of range(G̃)
    for _ in range(rounds):
        if eps is not None and yt @ yt <= n * eps:
            c_all.append(np.inf)
            yt = np.zeros(n)
            train.append(yt)
            test.append(np.zeros(cross.shape[0]))
            continue
        if eps is not None:

            def phi(logc, yt=yt):
                r = np.exp(logc) * np.linalg.solve(np.exp(logc) * I + Gt, yt)
                return r @ r - n * eps

            qy = Q.T @ yt
            null = max(float(yt @ yt - qy @ qy), 0.0)
            lo, hi = multiplier_bracket(d_range, float(yt @ yt), null, n * eps, K=n)
            c = np.exp(brentq(phi, np.log(lo), np.log(hi), xtol=1e-14, rtol=1e-15))
        else:
            c = lam
        alpha = np.linalg.solve(c * I + Gt, yt)
        c_all.append(c)
        test.append(cross @ alpha)
        yt = Gt @ alpha
        train.append(yt)
    return np.array(c_all), np.array(train), np.array(test)


@pytest.mark.parametrize("landmarks", ["pivoted", "uniform"])
def test_self_distill_equals_dense_rounds_on_the_nystrom_kernel(problem, landmarks):
    X, y, X_test = problem
    m = 40
    spec = ksd.nystrom_spectrum(KERNEL, X, m=m, landmarks=landmarks)
    eps = 0.25 * float(y @ y) / N  # collapses within a few rounds
    tr = ksd.self_distill(KERNEL, X, y, eps=eps, rounds=8, X_test=X_test, spectrum=spec)
    Z = np.asarray(spec.landmarks)
    Gt, Kmm_pinv = dense_nystrom(KERNEL, X, Z)
    # g̃_x = k(x, Z) K_mm^+ K_mn / K: the Nyström kernel at the test points
    cross = np.asarray(KERNEL(X_test, Z)) @ Kmm_pinv @ np.asarray(KERNEL(Z, X)) / N
    c, train, test = _dense_rounds(
        Gt, cross, y, eps=eps, rounds=8, Knm=np.asarray(KERNEL(X, Z))
    )
    assert 1 < tr.collapse_round < 8
    np.testing.assert_array_equal(np.isinf(tr.c), np.isinf(c))
    live = np.isfinite(c)
    # brentq on φ in log c converges to relative ~1e-14; c_t agrees to 1e-10.
    np.testing.assert_allclose(np.asarray(tr.c)[live], c[live], rtol=1e-10)
    scale = np.abs(y).max()
    np.testing.assert_allclose(tr.train_pred, train, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(tr.test_pred, test, rtol=1e-10, atol=1e-10 * scale)


def test_penalised_rounds_and_distill_from_spectrum(problem):
    X, y, X_test = problem
    spec = ksd.nystrom_spectrum(KERNEL, X, m=25)
    W = ksd.features(KERNEL, X, X_test, spec)
    tr = ksd.distill_from_spectrum(spec, y, lam=1e-3, rounds=3, test_features=W)
    Z = np.asarray(spec.landmarks)
    Gt, Kmm_pinv = dense_nystrom(KERNEL, X, Z)
    cross = np.asarray(KERNEL(X_test, Z)) @ Kmm_pinv @ np.asarray(KERNEL(Z, X)) / N
    _, train, test = _dense_rounds(Gt, cross, y, lam=1e-3, rounds=3)
    scale = np.abs(y).max()
    np.testing.assert_allclose(tr.train_pred, train, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(tr.test_pred, test, rtol=1e-10, atol=1e-10 * scale)


def test_pivoted_beats_uniform_in_trace_norm():
    """Smooth kernel, clustered inputs: greedy pivots cover the clusters, uniform
    draws over-sample the dense one. Claim checked on a fixed seeded instance."""
    rng = np.random.default_rng(11)
    X = np.concatenate(
        [0.05 * rng.standard_normal((150, 2)), rng.uniform(-2.0, 2.0, size=(50, 2))]
    )
    k = kernels.RBF(lengthscale=0.5)
    G = np.asarray(k(X, X)) / len(X)
    m = 20

    def nuclear_error(spec):
        Gt, _ = dense_nystrom(k, X, np.asarray(spec.landmarks))
        return np.linalg.norm(G - Gt, "nuc")

    pivoted = ksd.nystrom_spectrum(k, X, m=m, landmarks="pivoted")
    err_piv = nuclear_error(pivoted)
    # G − G̃ is PSD, so its nuclear norm is tr(G) − tr(G̃) = tr(G) − Σ d.
    np.testing.assert_allclose(
        err_piv, np.trace(G) - float(jnp.sum(pivoted.eigvals)), rtol=1e-8
    )  # trace difference cancels ~log10(tr G / err) digits; 1e-8 covers it
    errs_uni = [
        nuclear_error(ksd.nystrom_spectrum(k, X, m=m, landmarks="uniform", seed=s))
        for s in range(5)
    ]
    assert err_piv < min(errs_uni)
    assert err_piv < 0.5 * np.median(errs_uni)


@pytest.mark.parametrize("m", [0, -3, N + 1, 2.5, True, "10"])
def test_bad_m_is_an_error(problem, m):
    X, _, _ = problem
    with pytest.raises(ValueError, match="`m`"):
        ksd.nystrom_spectrum(KERNEL, X, m=m)


def test_bad_landmarks_is_an_error(problem):
    X, _, _ = problem
    with pytest.raises(ValueError, match="`landmarks`"):
        ksd.nystrom_spectrum(KERNEL, X, m=5, landmarks="kmeans")


def test_bad_seed_and_block_size_are_errors(problem):
    X, _, _ = problem
    with pytest.raises(ValueError, match="`seed`"):
        ksd.nystrom_spectrum(KERNEL, X, m=5, landmarks="uniform", seed=1.5)
    with pytest.raises(ValueError, match="`block_size`"):
        ksd.nystrom_spectrum(KERNEL, X, m=5, block_size=0)


def test_block_size_does_not_change_the_spectrum(problem):
    X, _, _ = problem
    # 'factor' keeps the usual floor: blocks only reorder additions (1e-12).
    a = ksd.nystrom_spectrum(KERNEL, X, m=30, block_size=7, accumulate="factor")
    b = ksd.nystrom_spectrum(KERNEL, X, m=30, accumulate="factor")
    np.testing.assert_allclose(a.eigvals, b.eigvals, rtol=1e-12)
    np.testing.assert_allclose(
        np.abs(np.asarray(a.eigvecs).T @ np.asarray(b.eigvecs)).diagonal(),
        1.0,
        rtol=1e-10,
    )


def test_exact_features_unchanged(problem):
    """The exact path computes k(X_test, X)/K @ V (no landmark fields), in blocks."""
    X, _, X_test = problem
    spec = ksd.spectrum(KERNEL, X)
    assert spec.landmarks is None and spec.landmark_map is None and spec.complete
    W = ksd.features(KERNEL, X, X_test, spec)
    # Computed in row blocks as k(X_b, X) (V / K): round-off away from the dense form.
    ref = (np.asarray(KERNEL(X_test, X)) / N) @ np.asarray(spec.eigvecs)
    np.testing.assert_allclose(np.asarray(W), ref, rtol=0, atol=1e-15)
    W_blocks = ksd.features(KERNEL, X, X_test, spec, block_size=4)
    np.testing.assert_array_equal(np.asarray(W_blocks), np.asarray(W))


def test_infeasible_eps_on_a_low_rank_spectrum_suggests_more_landmarks(problem):
    X, y, _ = problem
    spec = ksd.nystrom_spectrum(KERNEL, X, m=3)
    # eps far below the noise energy: y's energy outside the 3-dimensional span
    # exceeds K·eps, so no c_0 > 0 exists.
    with pytest.raises(ValueError, match="more landmarks `m`"):
        ksd.self_distill(KERNEL, X, y, eps=1e-6, rounds=2, spectrum=spec)


@pytest.mark.parametrize("accumulate", ["factor", "gram"])
def test_implicit_vectors_give_the_dense_rounds(problem, accumulate):
    """V = k(X, Z) M never stored: rounds still equal the dense Nyström rounds."""
    X, y, X_test = problem
    spec = ksd.nystrom_spectrum(
        KERNEL, X, m=40, accumulate=accumulate, vectors="implicit", block_size=16
    )
    assert isinstance(spec.eigvecs, KernelEigvecs)
    eps = 0.25 * float(y @ y) / N
    tr = ksd.self_distill(KERNEL, X, y, eps=eps, rounds=6, X_test=X_test, spectrum=spec)
    Z = np.asarray(spec.landmarks)
    Gt, Kmm_pinv = dense_nystrom(KERNEL, X, Z)
    cross = np.asarray(KERNEL(X_test, Z)) @ Kmm_pinv @ np.asarray(KERNEL(Z, X)) / N
    c, train, test = _dense_rounds(
        Gt, cross, y, eps=eps, rounds=6, Knm=np.asarray(KERNEL(X, Z))
    )
    live = np.isfinite(c)
    np.testing.assert_array_equal(np.isinf(tr.c), ~live)
    np.testing.assert_allclose(np.asarray(tr.c)[live], c[live], rtol=1e-10)
    scale = np.abs(y).max()
    np.testing.assert_allclose(tr.train_pred, train, rtol=1e-10, atol=1e-10 * scale)
    np.testing.assert_allclose(tr.test_pred, test, rtol=1e-10, atol=1e-10 * scale)


def test_implicit_vectors_products_and_materialize(problem):
    X, y, _ = problem
    explicit = ksd.nystrom_spectrum(KERNEL, X, m=30, vectors="explicit")
    implicit = ksd.nystrom_spectrum(KERNEL, X, m=30, vectors="implicit", block_size=7)
    V = np.asarray(explicit.eigvecs)
    W = implicit.eigvecs
    assert W.shape == V.shape
    np.testing.assert_allclose(W.materialize(), V, atol=1e-12)
    Y = np.stack([y, y**2], axis=1)
    np.testing.assert_allclose(W.T @ y, V.T @ y, atol=1e-11)
    np.testing.assert_allclose(W.T @ Y, V.T @ Y, atol=1e-11)
    A = np.random.default_rng(0).standard_normal((V.shape[1], 3))
    np.testing.assert_allclose(W @ A, V @ A, atol=1e-12)
    np.testing.assert_allclose(W @ A[:, 0], V @ A[:, 0], atol=1e-12)
    with pytest.raises(TypeError, match="materialize"):
        np.asarray(W)
    # Closed-form gradient flow runs on the implicit spectrum too.
    t = np.array([1.0, 30.0])
    a = ksd.dynamics.teacher_flow(explicit, y, t=t)
    b = ksd.dynamics.teacher_flow(implicit, y, t=t)
    np.testing.assert_allclose(b.train_pred, a.train_pred, atol=1e-11)


def test_gram_accumulation_reports_its_noise_floor():
    """Ill-conditioned K_mm: the 'gram' route raises its floor by ρ <= cond(K_mm),
    and every eigenvalue it keeps is right to within that floor."""
    rng = np.random.default_rng(3)
    n, m = 150, 40
    X = rng.uniform(size=(n, 2))
    k = kernels.RBF(lengthscale=0.3)  # smooth: cond(K_mm) ~ 1e8
    fac = ksd.nystrom_spectrum(k, X, m=m, landmarks="uniform", accumulate="factor")
    gr = ksd.nystrom_spectrum(k, X, m=m, landmarks="uniform", accumulate="gram")
    Z = np.asarray(gr.landmarks)
    eps = np.finfo(float).eps
    Knm = np.asarray(k(X, Z))
    Kmm_pinv = np.linalg.pinv(np.asarray(k(Z, Z)), rcond=m * eps, hermitian=True)
    ref = np.linalg.eigvalsh(Knm @ Kmm_pinv @ Knm.T / n)[::-1]
    lam = np.linalg.eigvalsh(np.asarray(k(Z, Z)))
    floor_factor = n * eps * ref[0]
    np.testing.assert_allclose(float(fac.noise_floor), floor_factor, rtol=1e-8)
    rho = float(gr.noise_floor) / floor_factor
    assert 1e3 < rho <= 1.01 * lam[-1] / lam[0]
    d = np.asarray(gr.eigvals)
    assert 0 < d.size < m and np.all(d > float(gr.noise_floor))
    # Kept eigenvalues agree with the reference and the 'factor' route to the floor.
    np.testing.assert_allclose(d, ref[: d.size], rtol=0, atol=float(gr.noise_floor))
    np.testing.assert_allclose(
        d, np.asarray(fac.eigvals)[: d.size], rtol=0, atol=float(gr.noise_floor)
    )


def test_truncation_is_the_relative_trace_residual(problem):
    X, _, _ = problem
    spec = ksd.nystrom_spectrum(KERNEL, X, m=20)
    G = np.asarray(KERNEL(X, X)) / N
    Gt, _ = dense_nystrom(KERNEL, X, np.asarray(spec.landmarks))
    expected = np.trace(G - Gt) / np.trace(G)
    np.testing.assert_allclose(float(spec.truncation), expected, rtol=1e-10)
    assert ksd.spectrum(KERNEL, X).truncation is None


def test_landmark_factors_past_the_memory_limit_point_to_other_choices(problem):
    X, _, _ = problem
    with pytest.raises(ValueError, match="landmarks='rpcholesky'"):
        ksd.nystrom_spectrum(KERNEL, X, m=50, landmarks="pivoted", max_memory_gb=1e-6)
    with pytest.raises(ValueError, match="landmarks='uniform'"):
        ksd.nystrom_spectrum(KERNEL, X, m=50, max_memory_gb=1e-6)
    ksd.nystrom_spectrum(KERNEL, X, m=50, landmarks="uniform", max_memory_gb=1e-6)


@pytest.mark.parametrize(
    ("kw", "name"),
    [({"accumulate": "fast"}, "accumulate"), ({"vectors": 1}, "vectors")],
)
def test_bad_accumulate_and_vectors_are_errors(problem, kw, name):
    X, _, _ = problem
    with pytest.raises(ValueError, match=f"`{name}`"):
        ksd.nystrom_spectrum(KERNEL, X, m=5, **kw)


def test_symmetric_chunked_products_equal_the_full_product():
    """The half-flop upper-block-triangle product assembles to BᵀB (3 uneven chunks)."""
    B = np.random.default_rng(5).standard_normal((37, 1100))
    A = np.asarray(_sym_assemble(_sym_gram(jnp.asarray(B)), 1100))
    np.testing.assert_allclose(A, B.T @ B, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(A, A.T)


@pytest.mark.parametrize("accumulate", ["factor", "gram"])
def test_many_landmarks_match_dense_reference(accumulate):
    """m = 600 (two column chunks) on both accumulation routes."""
    rng = np.random.default_rng(11)
    X = rng.uniform(size=(700, 2))
    spec = ksd.nystrom_spectrum(
        KERNEL, X, m=600, landmarks="uniform", accumulate=accumulate
    )
    Gt, _ = dense_nystrom(KERNEL, X, np.asarray(spec.landmarks))
    ref = np.linalg.eigvalsh(Gt)[::-1]
    d = np.asarray(spec.eigvals)
    # 'gram' is accurate to its (raised) noise floor, 'factor' to ~eps·d_max.
    atol = max(1e-12 * ref[0], float(spec.noise_floor) if accumulate == "gram" else 0)
    np.testing.assert_allclose(d, ref[: d.size], rtol=1e-9, atol=atol)


def test_auto_accumulation_follows_the_condition_of_K_mm(monkeypatch):
    """'auto' runs 'gram' when cond(K_mm)·K·eps <= 1e-4 (cond from numpy here) and
    keeps it unless its raised floor drops an eigenvalue; otherwise 'factor'."""
    from kernel_sd.spectra import _nystrom_factor as nystrom

    routes = []
    original = nystrom._accumulate

    def recording(*args):
        routes.append(args[6])
        return original(*args)

    monkeypatch.setattr(nystrom, "_accumulate", recording)
    rng = np.random.default_rng(3)
    n, m = N, 40  # the module's shapes: programs compiled once
    X = rng.uniform(size=(n, 2))
    cases = [(kernels.Laplace(lengthscale=0.5), ["gram"]),
             (kernels.RBF(lengthscale=0.25), ["gram", "factor"]),
             (kernels.RBF(lengthscale=1.0), ["factor"])]  # fmt: skip
    for k, expected in cases:
        routes.clear()
        auto = ksd.nystrom_spectrum(k, X, m=m, landmarks="uniform")
        assert routes == expected
        Z = np.asarray(auto.landmarks)
        lam = np.linalg.eigvalsh(np.asarray(k(Z, Z)))
        # a numerically singular K_mm may show a round-off eigenvalue <= 0: cond = inf
        cond = lam[-1] / lam[0] if lam[0] > 0 else np.inf
        a_priori_gram = cond * n * np.finfo(float).eps <= 1e-4
        assert a_priori_gram == (expected[0] == "gram")
        same = ksd.nystrom_spectrum(k, X, m=m, landmarks="uniform", accumulate=expected[-1])
        np.testing.assert_array_equal(auto.eigvals, same.eigvals)
        np.testing.assert_array_equal(auto.noise_floor, same.noise_floor)
        if expected == ["gram", "factor"]:  # the 'gram' floor would drop eigenvalues
            gram = ksd.nystrom_spectrum(k, X, m=m, landmarks="uniform", accumulate="gram")
            assert gram.eigvals.size < same.eigvals.size == m


def test_gram_route_whose_floor_covers_everything_points_to_factor():
    """Smooth kernel, many randomly pivoted landmarks: cond(K_mm) ~ 1/eps."""
    X = np.random.default_rng(3).uniform(size=(400, 2))
    k = kernels.RBF(lengthscale=0.5)
    with pytest.raises(ValueError, match="accumulate='auto' or 'factor'"):
        ksd.nystrom_spectrum(k, X, m=200, accumulate="gram")
    spec = ksd.nystrom_spectrum(k, X, m=200)  # 'auto': the 'factor' route
    assert spec.eigvals.size > 10 and float(spec.truncation) < 1e-10


@pytest.mark.parametrize("with_right", [False, True])
def test_host_sum_of_kernel_tiles_matches_numpy(rng, with_right):
    """The host route's Σ_b W_bᵀ W_b (37 rows in tiles of 8: the last one padded)
    against the RBF closed form built densely in NumPy."""
    from kernel_sd.spectra._products import kernel_gram_host

    A, B = rng.standard_normal((37, 3)), rng.standard_normal((11, 3))
    R = rng.standard_normal((11, 5)) if with_right else None
    K = np.exp(-((A[:, None, :] - B[None, :, :]) ** 2).sum(-1) / (2 * 0.7**2))
    W = K if R is None else K @ R
    got = kernel_gram_host(kernels.RBF(lengthscale=0.7), A, B, R, block_size=8)
    np.testing.assert_allclose(got, W.T @ W, rtol=1e-13, atol=1e-13 * np.abs(W.T @ W).max())
    assert np.array_equal(got, got.T)
    # negative control: dropping the padded tail (5 rows) is caught
    tail = W[:32].T @ W[:32]
    assert np.abs(got - tail).max() > 1e-6 * np.abs(got).max()
