"""Self-distillation rounds against independent per-round dense solves."""

import contextlib
import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

import kernel_sd as ksd
from kernel_sd import kernels
from tests.conftest import multiplier_bracket, planted_spectrum

KERNEL = kernels.RBF(lengthscale=0.25)


def _reference_rounds(G, Gt, y, rounds, *, eps=None, lam=None):
    """The slow path: per round, brentq for c on a fresh eigh, then solve (cI + G) a = y_t.

    The bracket of ``c`` comes from the eigenvalues above ``1e-6 · d_max`` and the
    targets' energy on the others (:func:`multiplier_bracket`), so ``φ`` is only
    evaluated far above the round-off of the dense ``eigh``.
    """
    n = G.shape[0]
    cs, train, test = [], [], []
    yt = y.copy()
    for _ in range(rounds):
        if lam is not None:
            c = lam
        elif np.sum(yt * yt) <= n * eps:
            c = np.inf
        else:
            dd, V = np.linalg.eigh(G)
            z2 = (V.T @ yt) ** 2
            z2 = z2 if z2.ndim == 1 else z2.sum(axis=1)
            big = dd > 1e-6 * dd.max()
            lo, hi = multiplier_bracket(
                dd[big], float(np.sum(yt * yt)), float(z2[~big].sum()), n * eps, K=n
            )
            c = scipy.optimize.brentq(
                lambda c, dd=dd, z2=z2: np.sum((c / (c + dd)) ** 2 * z2) - n * eps,
                lo,
                hi,
                xtol=1e-300,
                rtol=1e-15,
                maxiter=500,
            )
        a = np.zeros_like(yt) if np.isinf(c) else np.linalg.solve(c * np.eye(n) + G, yt)
        cs.append(c)
        train.append(G @ a)
        test.append(Gt @ a)
        yt = G @ a
    return np.array(cs), np.array(train), np.array(test)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(7)
    X = np.sort(rng.uniform(size=(30, 1)), axis=0)
    y = np.sin(2 * np.pi * X[:, 0]) + 0.3 * rng.standard_normal(30)
    Xt = np.linspace(0, 1, 17)[:, None]
    G = np.asarray(KERNEL(X, X)) / 30
    Gt = np.asarray(KERNEL(Xt, X)) / 30
    return X, y, Xt, G, Gt


def test_constrained_rounds_match_dense_solves(problem):
    X, y, Xt, G, Gt = problem
    tr = ksd.self_distill(KERNEL, X, y, eps=0.1, rounds=8, X_test=Xt)
    c, train, test = _reference_rounds(G, Gt, y, 8, eps=0.1)
    active = np.isfinite(c)
    assert (
        active.sum() >= 2 and (~active).any()
    )  # the case exercises rounds and collapse
    np.testing.assert_array_equal(np.isinf(np.asarray(tr.c)), ~active)
    np.testing.assert_allclose(np.asarray(tr.c)[active], c[active], rtol=1e-12)
    # 1e-10: G has condition ~1e8 here, so solve() itself carries ~1e-8 relative error
    # in a, but predictions G a are well conditioned.
    np.testing.assert_allclose(tr.train_pred, train, rtol=0, atol=1e-10)
    np.testing.assert_allclose(tr.test_pred, test, rtol=0, atol=1e-10)


def test_penalised_rounds_match_dense_solves(problem):
    X, y, Xt, G, Gt = problem
    tr = ksd.self_distill(KERNEL, X, y, lam=1e-3, rounds=4, X_test=Xt)
    c, train, test = _reference_rounds(G, Gt, y, 4, lam=1e-3)
    np.testing.assert_array_equal(tr.c, c)
    np.testing.assert_allclose(tr.train_pred, train, atol=1e-11)
    np.testing.assert_allclose(tr.test_pred, test, atol=1e-11)
    assert tr.collapse_round == -1


def test_penalised_equals_sklearn_kernel_ridge(problem):
    sk = pytest.importorskip("sklearn.kernel_ridge")
    X, y, Xt, _, _ = problem
    n, lam = X.shape[0], 1e-2
    tr = ksd.self_distill(KERNEL, X, y, lam=lam, rounds=2, X_test=Xt)
    gamma = 1.0 / (2 * 0.25**2)
    m0 = sk.KernelRidge(alpha=n * lam, kernel="rbf", gamma=gamma).fit(X, y)
    np.testing.assert_allclose(tr.train_pred[0], m0.predict(X), atol=1e-12)
    np.testing.assert_allclose(tr.test_pred[0], m0.predict(Xt), atol=1e-12)
    m1 = sk.KernelRidge(alpha=n * lam, kernel="rbf", gamma=gamma).fit(X, m0.predict(X))
    np.testing.assert_allclose(tr.train_pred[1], m1.predict(X), atol=1e-12)
    np.testing.assert_allclose(tr.test_pred[1], m1.predict(Xt), atol=1e-12)


def test_collapse_round_and_monotone_c(toy):
    k = kernels.RBF(lengthscale=(1 / 160) ** 0.5)  # exp(-80 |x - z|^2)
    eps = 0.01
    tr = ksd.self_distill(k, toy.X, toy.y, eps=eps, rounds=15)
    # independent count: iterate the dense fit until ‖y_t‖² <= Kε
    G = np.asarray(k(toy.X, toy.X)) / 11
    c_ref, train_ref, _ = _reference_rounds(G, G, toy.y, 15, eps=eps)
    expected = int(np.argmax(np.isinf(c_ref)))
    assert expected > 2
    assert tr.collapse_round == expected
    c = np.asarray(tr.c)
    assert np.all(np.diff(c[:expected]) > 0)
    np.testing.assert_array_equal(np.asarray(tr.train_pred)[expected:], 0.0)
    norms = np.asarray(tr.target_norm2)
    assert norms[expected] <= 11 * eps < norms[expected - 1]


def test_immediate_collapse(toy):
    tr = ksd.self_distill(kernels.RBF(lengthscale=0.1), toy.X, toy.y, eps=0.6, rounds=3)
    assert tr.collapse_round == 0
    np.testing.assert_array_equal(tr.train_pred, 0.0)


def test_multicolumn_targets(problem):
    X, y, Xt, G, Gt = problem
    Y = np.stack([y, np.cos(3 * X[:, 0])], axis=1)
    tr = ksd.self_distill(KERNEL, X, Y, eps=0.2, rounds=4, X_test=Xt)
    c, train, test = _reference_rounds(G, Gt, Y, 4, eps=0.2)
    assert tr.train_pred.shape == (4, 30, 2) and tr.test_pred.shape == (4, 17, 2)
    act = np.isfinite(c)
    np.testing.assert_allclose(np.asarray(tr.c)[act], c[act], rtol=1e-12)
    np.testing.assert_allclose(tr.train_pred, train, atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(3, 12),
    log_cond=st.floats(0.0, 6.0),
    frac=st.floats(0.02, 0.98),
    seed=st.integers(0, 2**31 - 1),
)
def test_constraint_is_active_at_every_round(n, log_cond, frac, seed):
    """Property: (1/K)‖f_t(X) − y_t‖² = ε at every round before the collapse."""
    rng = np.random.default_rng(seed)
    d, V = planted_spectrum(rng, n, 10.0**log_cond)
    y = V @ rng.standard_normal(n)
    eps = frac * float(y @ y) / n
    tr = ksd.distill_from_spectrum(ksd.spectrum_from_eigen(d, V), y, eps=eps, rounds=6)
    targets = np.vstack([y, np.asarray(tr.train_pred)[:-1]])
    resid = np.mean((np.asarray(tr.train_pred) - targets) ** 2, axis=1)
    stop = tr.collapse_round if tr.collapse_round >= 0 else 6
    assert stop >= 1  # eps < ‖y‖²/K, so round 0 is active
    np.testing.assert_allclose(resid[:stop], eps, rtol=1e-9)
    # after the collapse, the residual is the whole target
    np.testing.assert_allclose(
        resid[stop:], np.asarray(tr.target_norm2)[stop:] / n, rtol=1e-12
    )


def test_sweep_equals_loop(problem):
    X, y, Xt, _, _ = problem
    # Above the null-space floor 0.0416; at 0.05, 83 % of Kε is null-space energy,
    # c_0 = 4.7e-9 is ill-conditioned (mpmath: the float64 c_0 is off by 9e-7) and
    # the accuracy warning is expected there, for the sweep and for that loop call.
    eps_grid = np.geomspace(0.05, 0.4, 5)
    with pytest.warns(UserWarning, match="first-order bound"):
        sweep = ksd.self_distill_sweep(KERNEL, X, y, eps=eps_grid, rounds=6, X_test=Xt)
    assert sweep.c.shape == (5, 6) and sweep.test_pred.shape == (5, 6, 17)
    collapse = []
    for i, e in enumerate(eps_grid):
        expect = pytest.warns(UserWarning, match="first-order bound")
        with expect if i == 0 else contextlib.nullcontext():
            one = ksd.self_distill(
                KERNEL, X, y, eps=float(e), rounds=6, X_test=Xt, spectrum=sweep.spectrum
            )
        np.testing.assert_allclose(sweep.c[i], one.c, rtol=1e-14)
        # The sweep's 30 columns use stored features W = g_xᵀ V, the single trace's
        # 6 the dual route k(x, X) V α / K: equal up to the round-off of
        # (c I + G)^{-1}, amplified by d_max / c_0 (1e8 at eps = 0.05 here, where
        # both were measured 7e-9 from dense solves, relative to max |f|).
        amplification = float(one.spectrum.eigvals[0] / one.c[0])
        np.testing.assert_allclose(
            sweep.test_pred[i],
            one.test_pred,
            rtol=0,
            atol=1e-14 * max(1, amplification),
        )
        collapse.append(one.collapse_round)
    np.testing.assert_array_equal(sweep.collapse_round, collapse)
    lam_sweep = ksd.self_distill_sweep(KERNEL, X, y, lam=[1e-4, 1e-3], rounds=2)
    assert lam_sweep.lam.shape == (2,) and lam_sweep.eps is None


def test_shrinkage_is_the_product_of_ridge_filters(problem):
    X, y, _, _, _ = problem
    tr = ksd.self_distill(KERNEL, X, y, eps=0.1, rounds=5)
    d = np.asarray(tr.spectrum.eigvals)
    c = np.asarray(tr.c)
    expected = np.ones_like(d)
    for t in range(5):
        step = np.where(np.isfinite(c[t]) & (d > 0), d / (c[t] + d), 0.0)
        expected = expected * step
        np.testing.assert_allclose(tr.shrinkage[t], expected, rtol=1e-14, atol=0)
    A = np.asarray(tr.shrinkage)
    assert np.all((A >= 0) & (A <= 1))
    V = np.asarray(tr.spectrum.eigvecs)
    np.testing.assert_allclose(tr.train_pred, (A * (V.T @ y)) @ V.T, atol=1e-13)


def test_float32_keeps_float32(rng):
    d, V = planted_spectrum(rng, 8, 10.0)
    spec = ksd.spectrum_from_eigen(d.astype(np.float32), V.astype(np.float32))
    y = (V @ rng.standard_normal(8)).astype(np.float32)
    # Its first-order error bound is ~1e-5: over float64's warning threshold (1e-6),
    # under float32's (1e-3), so no warning here (filterwarnings = error).
    tr = ksd.distill_from_spectrum(spec, y, eps=0.1 * float(y @ y) / 8, rounds=3)
    assert tr.c.dtype == jnp.float32 and tr.train_pred.dtype == jnp.float32


def test_multiplier_under_the_noise_floor_warns(problem):
    X, y, _, _, _ = problem
    with pytest.warns(UserWarning, match="noise floor"):
        ksd.self_distill(KERNEL, X, y, lam=1e-30, rounds=1)


def test_infeasible_eps_is_reported():
    X = np.linspace(0, 1, 40)[:, None]
    y = np.random.default_rng(0).standard_normal(40)
    with pytest.raises(ValueError, match="infeasible"):
        ksd.self_distill(kernels.RBF(lengthscale=0.5), X, y, eps=1e-6, rounds=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eps=0.1, lam=0.1), "exactly one"),
        (dict(), "exactly one"),
        (dict(lam=-1.0), "lam"),
        (dict(eps=0.0), "eps"),
        (dict(eps=0.1, rounds=0), "rounds"),
        (dict(eps=0.1, X_test=np.ones((3, 2))), "X_test"),
        (dict(eps=0.1, spectrum="nope"), "spectrum"),
    ],
)
def test_bad_arguments(problem, kwargs, match):
    X, y, _, _, _ = problem
    with pytest.raises(ValueError, match=match):
        ksd.self_distill(KERNEL, X, y, **kwargs)


def test_bad_data(problem):
    X, y, _, _, _ = problem
    with pytest.raises(ValueError, match="y.*rows"):
        ksd.self_distill(KERNEL, X, y[:-1], eps=0.1)
    with pytest.raises(ValueError, match="y.*NaN"):
        ksd.self_distill(KERNEL, X, np.where(np.arange(30) == 3, np.nan, y), eps=0.1)
    with pytest.raises(ValueError, match="X.*2-D"):
        ksd.self_distill(KERNEL, X[:, 0], y, eps=0.1)
    with pytest.raises(ValueError, match="eps"):
        ksd.self_distill_sweep(KERNEL, X, y, eps=[0.1, -0.1])


def test_quiet_on_a_healthy_problem(problem):
    X, y, Xt, _, _ = problem
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ksd.self_distill(KERNEL, X, y, eps=0.1, rounds=3, X_test=Xt)


def test_coefficients_reproduce_test_predictions(problem):
    X, y, Xt, G, Gt = problem
    tr = ksd.self_distill(KERNEL, X, y, eps=0.1, rounds=5, X_test=Xt)
    W = np.asarray(ksd.features(KERNEL, X, Xt, tr.spectrum))
    pred = np.einsum("mr,tr->tm", W, np.asarray(tr.coefficients))
    np.testing.assert_allclose(pred, tr.test_pred, rtol=0, atol=1e-13)
    Y = np.stack([y, -y], axis=1)
    tr2 = ksd.self_distill(KERNEL, X, Y, lam=1e-3, rounds=2, X_test=Xt)
    pred2 = np.einsum("mr,trq->tmq", W, np.asarray(tr2.coefficients))
    np.testing.assert_allclose(pred2, tr2.test_pred, rtol=0, atol=1e-13)


# --------------------------------------------------------------------------------------
# routes: one Cholesky of G + lam I (method="cholesky") against the eigenbasis


@pytest.mark.parametrize("q", [1, 2])
def test_cholesky_route_equals_the_eigenbasis_route(problem, q):
    # lam = 1e-3: (lam I + G) has condition d_max/lam ~ 5e2 on this problem, so
    # both routes carry ~1e-14 round-off and must agree to 1e-10.
    X, y, Xt, G, Gt = problem
    y = y if q == 1 else np.stack([y, np.cos(3 * X[:, 0])], axis=1)
    eig = ksd.self_distill(KERNEL, X, y, lam=1e-3, rounds=4, X_test=Xt)
    chol = ksd.self_distill(
        KERNEL, X, y, lam=1e-3, rounds=4, X_test=Xt, method="cholesky"
    )
    for field in ("train_pred", "test_pred", "target_norm2"):
        a, b = np.asarray(getattr(chol, field)), np.asarray(getattr(eig, field))
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10 * np.abs(b).max())
    np.testing.assert_array_equal(chol.c, eig.c)
    np.testing.assert_array_equal(chol.status, 0)
    assert chol.collapse_round == -1 and chol.rounds == 4
    # no eigenbasis on this route: the per-direction fields are None
    assert chol.spectrum is None and chol.shrinkage is None and chol.z0 is None
    assert chol.coefficients is None and chol.effective_dimension is None
    # dual coefficients against dense solves: a_0 = (lam I + G)^{-1} y, f_t = G a_t
    a0 = np.linalg.solve(G + 1e-3 * np.eye(G.shape[0]), y)
    np.testing.assert_allclose(
        chol.dual_coef[0], a0, rtol=0, atol=1e-10 * np.abs(a0).max()
    )
    np.testing.assert_allclose(
        np.asarray(chol.train_pred[3]), G @ np.asarray(chol.dual_coef[3]), atol=1e-12
    )


def test_cholesky_route_bad_arguments(problem):
    X, y, _, _, _ = problem
    with pytest.raises(ValueError, match="method"):
        ksd.self_distill(KERNEL, X, y, lam=1e-3, method="qr")
    with pytest.raises(ValueError, match="penalised form"):
        ksd.self_distill(KERNEL, X, y, eps=0.1, method="cholesky")
    with pytest.raises(ValueError, match="spectrum"):
        spec = ksd.spectrum(KERNEL, X)
        ksd.self_distill(KERNEL, X, y, lam=1e-3, spectrum=spec, method="cholesky")
    with pytest.raises(ValueError, match="lam"):
        ksd.self_distill(KERNEL, X, y, lam=0.0, method="cholesky")
    # identical points: G = k(x, x)/K · 11ᵀ exactly, so G + lam I with lam far under
    # the round-off of G has a zero pivot
    same = np.ones((6, 2))
    with (
        pytest.warns(UserWarning, match="round-off"),
        pytest.raises(ValueError, match="not numerically positive definite"),
    ):
        ksd.self_distill(KERNEL, same, np.arange(6.0), lam=1e-300, method="cholesky")
