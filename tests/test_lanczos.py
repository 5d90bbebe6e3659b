"""Matrix-free (block Krylov) spectra: top-k eigenpairs against numpy's dense eigh,
the residual bounds (symmetric residual, Kato–Temple, Davis–Kahan), and
self-distillation on the rank-k truncation against per-round dense solves."""

import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import kernel_sd as ksd
from kernel_sd import kernels
from kernel_sd.lanczos import lanczos_spectrum
from tests.conftest import multiplier_bracket

N = 400
K_TOP = 20
# Smooth and rough kernels on the unit cube: the top-20 eigenvalues span a factor
# ~4e2 (RBF) and ~1e2 (Matérn) with relative gaps >= 1e-2, so eigenvalues compare
# at 1e-10 and eigenvectors are well determined.
KERNELS = {
    "rbf": kernels.RBF(lengthscale=0.5),
    "matern": kernels.Matern(nu=1.5, lengthscale=0.5),
}


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """One BLAS thread for the dense references and the small eigenproblems.

    On small machines (2 cores) numpy's OpenBLAS threads and XLA's CPU thread
    pool oversubscribe the cores and 400×400 LAPACK calls slow down 10-100×.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # an optional speed-up: the checks do not depend on it
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    X = rng.uniform(size=(N, 3))
    y = np.sin(2 * np.pi * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.standard_normal(N)
    return X, y


@pytest.fixture(scope="module")
def dense():
    """Independent reference: numpy's eigh of the dense ``G = k(X, X)/n`` (descending)."""
    cache = {}

    def get(name, X):
        if name not in cache:
            G = np.asarray(KERNELS[name](X, X)) / N
            lam, U = np.linalg.eigh(G)
            cache[name] = (G, lam[::-1], U[:, ::-1])
        return cache[name]

    return get


@pytest.fixture(scope="module")
def lanczos():
    cache = {}

    def get(name, X, tol=1e-10):
        if (name, tol) not in cache:
            cache[name, tol] = lanczos_spectrum(KERNELS[name], X, k=K_TOP, tol=tol)
        return cache[name, tol]

    return get


def sin_angle(v, u):
    """``sin ∠(v, u)`` of unit vectors, as ``‖v − u (uᵀv)‖`` (accurate for small angles)."""
    return np.linalg.norm(v - u * (u @ v))


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_top_eigenpairs_match_dense_eigh(problem, dense, lanczos, name):
    X, _ = problem
    _, lam, U = dense(name, X)
    spec = lanczos(name, X)
    assert not spec.complete and spec.eigvecs.shape == (N, K_TOP)
    d, V = np.asarray(spec.eigvals), np.asarray(spec.eigvecs)
    r = np.asarray(spec.residuals)
    assert int(spec.n_clamped) == 0
    assert np.max(r) <= 1e-10 * d[0]  # converged to the default tol
    np.testing.assert_allclose(d, lam[:K_TOP], rtol=1e-10)
    np.testing.assert_allclose(V.T @ V, np.eye(K_TOP), atol=1e-13)
    # Davis–Kahan for one vector: sin∠(v_i, u_i) <= r_i / δ_i, δ_i the distance
    # from θ_i to the other eigenvalues; 1e-13 covers eigh's own vector error.
    for i in range(K_TOP):
        delta = np.min(np.abs(d[i] - np.delete(lam, i)))
        assert sin_angle(V[:, i], U[:, i]) <= r[i] / delta + 1e-13
        assert abs(U[:, i] @ V[:, i]) == pytest.approx(1.0, abs=1e-12)
    # Davis–Kahan sinΘ for the subspace: ‖V Vᵀ − U_k U_kᵀ‖ <= ‖R‖_F / (θ_k − λ_{k+1}).
    dist = np.linalg.norm(V @ V.T - U[:, :K_TOP] @ U[:, :K_TOP].T, 2)
    assert dist <= np.linalg.norm(r) / (d[-1] - lam[K_TOP]) + 1e-13


def test_residuals_bound_eigenvalue_errors_before_convergence(problem, dense):
    """Two products only: the errors are visible and the residual bounds must hold."""
    X, _ = problem
    G, lam, _ = dense("rbf", X)
    with pytest.warns(UserWarning, match="max_iterations"):
        spec = lanczos_spectrum(KERNELS["rbf"], X, k=K_TOP, max_iterations=2)
    d, V = np.asarray(spec.eigvals), np.asarray(spec.eigvecs)
    r = np.asarray(spec.residuals)
    np.testing.assert_allclose(
        r, np.linalg.norm(G @ V - V * d[None, :], axis=0), rtol=1e-8
    )
    roundoff = 1e-14 * lam[0]
    err = lam[:K_TOP] - d
    assert np.max(err) > 1e-8 * lam[0]  # not converged: the test can fail
    # Cauchy interlacing: the i-th Ritz value is below the i-th eigenvalue.
    assert np.all(err >= -roundoff)
    # Symmetric residual bound: θ_i is within r_i of an eigenvalue of G.
    nearest = np.min(np.abs(d[:, None] - lam[None, :]), axis=1)
    assert np.all(nearest <= r + roundoff)
    # Kato–Temple with (α, β) = (λ_{i+1}, λ_{i−1}): λ_i − θ_i <= r_i² / (θ_i − λ_{i+1}).
    above = d > lam[1 : K_TOP + 1]
    assert above.sum() >= K_TOP // 2
    kato_temple = r[above] ** 2 / (d[above] - lam[1 : K_TOP + 1][above])
    assert np.all(err[above] <= kato_temple + roundoff)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_truncation_is_the_missing_trace(problem, dense, lanczos, name):
    X, _ = problem
    G, lam, _ = dense(name, X)
    spec = lanczos(name, X)
    np.testing.assert_allclose(spec.kernel_trace, np.trace(G), rtol=1e-13)
    expected = 1.0 - np.sum(lam[:K_TOP]) / np.trace(G)
    # 1 − Σθ/tr G cancels to an absolute error of ~k·eps.
    np.testing.assert_allclose(spec.truncation, expected, rtol=1e-10, atol=1e-13)


def dense_constrained_rounds(G, y, eps, rounds, U, d_range):
    """Per-round dense fits ``f = G (cI + G)^{-1} y_t`` with ``c`` from ``brentq``.

    ``G = U diag(d_range) Uᵀ`` with known orthonormal ``U`` and nonzero
    ``d_range``: the bracket comes from them (:func:`multiplier_bracket`), so ``φ``
    is never evaluated near the dense matrix's null-space round-off.
    """
    n = G.shape[0]
    cs, preds = [], []
    yt = y
    for _ in range(rounds):

        def residual(log_c, yt=yt):
            f = G @ np.linalg.solve(np.exp(log_c) * np.eye(n) + G, yt)
            return np.sum((f - yt) ** 2) / n - eps

        uy = U.T @ yt
        null = max(float(yt @ yt - uy @ uy), 0.0)
        lo, hi = multiplier_bracket(d_range, float(yt @ yt), null, n * eps, K=n)
        c = np.exp(brentq(residual, np.log(lo), np.log(hi), xtol=1e-14, rtol=1e-15))
        yt = G @ np.linalg.solve(c * np.eye(n) + G, yt)
        cs.append(c)
        preds.append(yt)
    return np.array(cs), np.array(preds)


@pytest.mark.parametrize("name", sorted(KERNELS))
def test_self_distill_runs_the_rank_k_truncation(problem, dense, lanczos, name):
    X, y = problem
    _, lam, U = dense(name, X)
    # The rank-k projector is accurate to ~ r / (d_k − d_{k+1}) (Davis–Kahan); the
    # Matérn gap d_20 − d_21 is 6% of d_20, so tol=1e-10 would leave ~1e-7 relative
    # in small predictions: converge further to compare at 1e-8.
    spec = lanczos(name, X, tol=1e-13)
    # G_k from the dense eigh's top-k pairs; ε above the energy y has outside them.
    Gk = U[:, :K_TOP] @ np.diag(lam[:K_TOP]) @ U[:, :K_TOP].T
    outside = np.sum((y - U[:, :K_TOP] @ (U[:, :K_TOP].T @ y)) ** 2) / N
    eps = 0.005 + outside  # no collapse within 5 rounds for either kernel
    tr = ksd.self_distill(KERNELS[name], X, y, eps=eps, rounds=5, spectrum=spec)
    c_ref, pred_ref = dense_constrained_rounds(Gk, y, eps, 5, U[:, :K_TOP], lam[:K_TOP])
    assert tr.collapse_round == -1
    np.testing.assert_allclose(tr.c, c_ref, rtol=1e-8)
    np.testing.assert_allclose(tr.train_pred, pred_ref, rtol=1e-8, atol=1e-10)


def test_rank_k_rounds_approach_exact_rounds(problem, dense, lanczos):
    """Penalised form: the dropped filters are d/(lam + d) <= d_{k+1}/lam, so every
    round's training predictions differ from the exact ones by <= (d_{k+1}/lam)‖y‖."""
    X, y = problem
    G, d, _ = dense("rbf", X)
    lam, rounds, k = 1e-3, 5, 60
    exact = []  # per-round dense solves with the full G
    yt = y
    for _ in range(rounds):
        yt = G @ np.linalg.solve(lam * np.eye(N) + G, yt)
        exact.append(yt)
    exact = np.array(exact)
    spec = lanczos_spectrum(KERNELS["rbf"], X, k=k)
    tr = ksd.self_distill(KERNELS["rbf"], X, y, lam=lam, rounds=rounds, spectrum=spec)
    bound = d[k] / lam * np.linalg.norm(y)
    assert bound < 0.01 * np.linalg.norm(y)  # the bound says something
    diff = np.linalg.norm(np.asarray(tr.train_pred) - exact, axis=1)
    assert np.all(diff <= bound)
    # Negative control: with k = 20 pairs the rounds are outside the k = 60 bound.
    few = ksd.self_distill(
        KERNELS["rbf"], X, y, lam=lam, rounds=rounds, spectrum=lanczos("rbf", X)
    )
    assert np.linalg.norm(np.asarray(few.train_pred[0]) - exact[0]) > bound


def test_rank_deficient_kernel(problem):
    """Linear kernel on 3 features: rank 3; asking for 5 pairs gives two numerical zeros."""
    X, y = problem
    kernel = kernels.Linear()
    spec = lanczos_spectrum(kernel, X, k=5)
    ref = np.linalg.eigvalsh(X @ X.T / N)[::-1]
    d = np.asarray(spec.eigvals)
    assert np.all(np.isfinite(d)) and np.all(np.isfinite(spec.eigvecs))
    np.testing.assert_allclose(d[:3], ref[:3], rtol=1e-10)
    assert np.all((d[3:] >= 0.0) & (d[3:] <= float(spec.noise_floor)))
    assert int(spec.rank) == 3 and int(spec.n_clamped) == 2
    V = np.asarray(spec.eigvecs)
    np.testing.assert_allclose(V.T @ V, np.eye(5), atol=1e-13)
    tr = ksd.self_distill(kernel, X, y, lam=1e-3, rounds=3, spectrum=spec)
    assert np.all(np.isfinite(tr.train_pred))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "`k`"),
        ({"k": 2.5}, "`k`"),
        ({"k": 395}, "spectrum\\(kernel, X\\)"),
        ({"k": 5, "oversample": -1}, "`oversample`"),
        ({"k": 5, "seed": -1}, "`seed`"),
        ({"k": 5, "seed": 1.5}, "`seed`"),
        ({"k": 5, "tol": 0.0}, "`tol`"),
        ({"k": 5, "max_iterations": 0}, "`max_iterations`"),
        ({"k": 5, "block_size": 0}, "`block_size`"),
    ],
)
def test_bad_arguments(problem, kwargs, match):
    X, _ = problem
    with pytest.raises(ValueError, match=match):
        lanczos_spectrum(KERNELS["rbf"], X, **kwargs)


def test_bad_kernel_and_inputs(problem):
    X, _ = problem
    with pytest.raises(ValueError, match="`kernel`"):
        lanczos_spectrum(lambda a, b: a @ b.T, X, k=5)
    with pytest.raises(ValueError, match="`X`"):
        lanczos_spectrum(KERNELS["rbf"], X[:, 0], k=5)


def test_not_converged_warns(problem):
    X, _ = problem
    with pytest.warns(UserWarning, match="max_iterations.*tol") as record:
        spec = lanczos_spectrum(KERNELS["rbf"], X, k=5, max_iterations=1, tol=1e-14)
    assert "`k`=5" in str(record[0].message)
    assert np.all(np.isfinite(spec.eigvals)) and np.all(np.isfinite(spec.residuals))


def test_deterministic_for_a_seed(problem, dense):
    X, _ = problem
    a = lanczos_spectrum(KERNELS["rbf"], X, k=5, seed=3)
    b = lanczos_spectrum(KERNELS["rbf"], X, k=5, seed=3)
    np.testing.assert_array_equal(a.eigvals, b.eigvals)
    np.testing.assert_array_equal(a.eigvecs, b.eigvecs)
    np.testing.assert_array_equal(a.residuals, b.residuals)
    c = lanczos_spectrum(KERNELS["rbf"], X, k=5, seed=4)
    assert not np.array_equal(c.eigvecs, a.eigvecs)  # another start block ...
    np.testing.assert_allclose(c.eigvals, a.eigvals, rtol=1e-10)  # ... same answer
    np.testing.assert_allclose(c.eigvals, dense("rbf", X)[1][:5], rtol=1e-10)


def test_tiles_and_devices_do_not_change_the_result(problem, lanczos):
    X, _ = problem
    ref = lanczos("matern", X)
    spec = lanczos_spectrum(
        KERNELS["matern"], X, k=K_TOP, block_size=64, devices=jax.devices()[:1]
    )
    np.testing.assert_allclose(spec.eigvals, ref.eigvals, rtol=1e-12)
    V, W = np.asarray(spec.eigvecs), np.asarray(ref.eigvecs)
    np.testing.assert_allclose(np.abs(np.sum(V * W, axis=0)), 1.0, atol=1e-12)


SHARDED = textwrap.dedent(
    """
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    from kernel_sd import kernels
    from kernel_sd.lanczos import lanczos_spectrum

    assert len(jax.devices()) == 4, jax.devices()
    X = np.random.default_rng(0).uniform(size=(203, 2))  # padding on the last device
    k = kernels.Matern(nu=1.5, lengthscale=0.5)
    s4 = lanczos_spectrum(k, X, k=8, block_size=16)
    s1 = lanczos_spectrum(k, X, k=8, block_size=16, devices=jax.devices()[:1])
    np.testing.assert_allclose(s4.eigvals, s1.eigvals, rtol=1e-12)
    V4, V1 = np.asarray(s4.eigvecs), np.asarray(s1.eigvecs)
    np.testing.assert_allclose(np.abs(np.sum(V4 * V1, axis=0)), 1.0, atol=1e-12)
    print("ok")
    """
)


def test_products_split_over_four_devices():
    """The tiles of G Q split over 4 forced CPU devices give the one-device spectrum
    (a fresh interpreter: the device count is fixed when JAX starts)."""
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    )
    env["OPENBLAS_NUM_THREADS"] = "1"  # see _one_blas_thread
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", SHARDED],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


def test_float32_keeps_float32(problem, dense):
    X, _ = problem
    _, lam, _ = dense("rbf", X)
    spec = lanczos_spectrum(KERNELS["rbf"], jnp.asarray(X, jnp.float32), k=5)
    assert spec.eigvals.dtype == jnp.float32 and spec.eigvecs.dtype == jnp.float32
    assert spec.residuals.dtype == jnp.float32
    # tol is raised to n·eps32 ≈ 5e-5: eigenvalues agree to float32 round-off.
    np.testing.assert_allclose(spec.eigvals, lam[:5], rtol=1e-5)
