"""The engine ``fit.apply`` against per-procedure closed forms in the original basis.

Slow paths (numpy/scipy, no eigenbasis): ridge rounds by ``solve(c I + G, y_t)``,
gradient flow by ``scipy.linalg.expm``, gradient descent by explicit iteration of
the coefficients ``a ← a − lr (G a − y)``, students on ``α y + (1 − α) f_T(X)``.
Each gives training predictions ``G a``, test predictions ``G_test a`` and the
eigen-coordinates ``Vᵀ a`` of the coefficients (``f(x) = g_xᵀ a = g_xᵀ V Vᵀ a``).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import kernel_sd as ksd
from kernel_sd import filters, fit
from tests.conftest import planted_spectrum

N, RANK = 12, 10  # two null directions: the coefficient filters differ there
# Filters built under jit (one compilation each, not one per operation).
ridge_rounds = jax.jit(filters.ridge_rounds)
gradient_flow = jax.jit(filters.gradient_flow)
gradient_descent = jax.jit(filters.gradient_descent)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    d, V = planted_spectrum(rng, N, 1e3, rank=RANK)
    spec = ksd.spectrum_from_eigen(d, V)
    G = V @ np.diag(d) @ V.T
    Gt = rng.standard_normal((5, N)) / N  # any cross-Gram rows k(x, X)/K
    y = rng.standard_normal(N)
    return spec, G, Gt, Gt @ V, y, d, V


def _outputs(G, Gt, V, coefs):
    """Training and test predictions and eigen-coordinates of coefficients ``a``."""
    A = np.asarray(coefs)
    return A @ G.T, A @ Gt.T, A @ V


def _pinv(G):
    return np.linalg.pinv(G, rcond=1e-10, hermitian=True)


def test_ridge_rounds_equal_per_round_solves(problem):
    spec, G, Gt, W, y, d, V = problem
    c = np.array([0.5 * d[4], 4.0 * d[2], np.inf])
    tr = fit.apply(spec, jnp.asarray(y), ridge_rounds(spec.eigvals, jnp.asarray(c)), W)
    coefs, yt = [], y
    for ct in c:
        a = np.zeros(N) if np.isinf(ct) else np.linalg.solve(ct * np.eye(N) + G, yt)
        coefs.append(a)
        yt = G @ a
    train, test, alpha = _outputs(G, Gt, V, coefs)
    np.testing.assert_allclose(tr.train_pred, train, rtol=0, atol=1e-12)
    np.testing.assert_allclose(tr.test_pred, test, rtol=0, atol=1e-12)
    # Null directions: ridge fits z_k/c_t there (g = 1/(c + d) at d = 0), not 0.
    assert np.abs(alpha[0, RANK:]).max() > 1e-3
    np.testing.assert_allclose(
        tr.coef, alpha, rtol=1e-10, atol=1e-12 * np.abs(alpha).max()
    )
    shrink = np.cumprod(np.where(d > 0, d / (c[:, None] + d), 0.0), axis=0)
    np.testing.assert_allclose(tr.shrinkage, shrink, rtol=1e-14)


def test_gradient_methods_equal_their_closed_forms(problem):
    spec, G, Gt, W, y, d, V = problem
    ts = np.array([0.0, 0.3 / d[0], 5.0 / d[5]])
    # Gradient flow: f_t(X) = (I − e^{−tG}) y, coefficients G⁺ f_t(X).
    flow = [_pinv(G) @ (y - scipy.linalg.expm(-t * G) @ y) for t in ts]
    tr = fit.apply(
        spec, jnp.asarray(y), gradient_flow(spec.eigvals[None, :], ts[:, None]), W
    )
    for got, ref in zip(
        (tr.train_pred, tr.test_pred, tr.coef), _outputs(G, Gt, V, flow), strict=True
    ):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    # Gradient descent: explicit iteration of the coefficients a ← a − lr (G a − y).
    lr, steps = 0.8 / d[0], [0, 3, 40]  # three rows, like every test here
    a, coefs = np.zeros(N), []
    for s in range(max(steps) + 1):
        if s in steps:
            coefs.append(a.copy())
        a = a - lr * (G @ a - y)
    # The iteration also moves a along the null space (lr·s·z_k); the engine's
    # default coefficient filter h/d leaves it at 0, which changes no prediction.
    coefs = [_pinv(G) @ (G @ a) for a in coefs]
    h = gradient_descent(spec.eigvals[None, :], lr, jnp.asarray(steps, float)[:, None])
    tr = fit.apply(spec, jnp.asarray(y), h, W)
    for got, ref in zip(
        (tr.train_pred, tr.test_pred, tr.coef), _outputs(G, Gt, V, coefs), strict=True
    ):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-10 * np.abs(ref).max())
    np.testing.assert_array_equal(np.asarray(tr.coef)[:, RANK:], 0.0)


def test_student_of_a_mixed_teacher_equals_its_closed_form(problem):
    spec, G, Gt, W, y, d, V = problem
    T, alpha, ts = 2.0 / d[3], 0.3, np.array([1.0 / d[1], 4.0 / d[6]])
    f_teacher = y - scipy.linalg.expm(-T * G) @ y
    target = alpha * y + (1 - alpha) * f_teacher
    ref = [_pinv(G) @ (target - scipy.linalg.expm(-t * G) @ target) for t in ts]
    dd = spec.eigvals[None, :]
    h = filters.student(gradient_flow(dd, ts[:, None]), gradient_flow(dd, T), alpha)
    tr = fit.apply(spec, jnp.asarray(y), h, W)
    for got, want in zip(
        (tr.train_pred, tr.test_pred, tr.coef), _outputs(G, Gt, V, ref), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-10 * np.abs(want).max())


def test_grid_axis_and_columns_equal_a_loop(problem):
    """A (E, T, r) grid of filters on (K, q) targets: one call equals E calls."""
    spec, G, Gt, W, y, d, V = problem
    Y = jnp.asarray(np.stack([y, np.cos(np.arange(N))], axis=1))
    c = jnp.asarray(np.outer([1.0, 9.0], [1.0, 2.0, np.inf]) * d[5])
    grid = fit.apply(spec, Y, ridge_rounds(spec.eigvals, c), W)
    assert grid.train_pred.shape == (2, 3, N, 2) and grid.test_pred.shape == (
        2,
        3,
        5,
        2,
    )
    assert grid.coef.shape == (2, 3, N, 2) and grid.z0.shape == (N, 2)
    for e in range(2):
        one = fit.apply(spec, Y, ridge_rounds(spec.eigvals, c[e]), W)
        for field in ("train_pred", "test_pred", "coef", "filter"):
            np.testing.assert_allclose(
                getattr(grid, field)[e], getattr(one, field), rtol=1e-13, atol=1e-15
            )


def test_one_result_type_for_every_procedure(problem):
    spec, G, Gt, W, y, d, V = problem
    assert ksd.DistillTrace is ksd.dynamics.Fit is fit.Trace is ksd.Trace
    rounds = ksd.distill_from_spectrum(spec, y, lam=d[4], rounds=3, test_features=W)
    flow = ksd.dynamics.teacher_flow(spec, y, t=[1.0, 2.0, 3.0], test_features=W)
    assert isinstance(rounds, ksd.dynamics.Fit) and isinstance(flow, ksd.DistillTrace)
    assert rounds.shrinkage is rounds.filter and rounds.coefficients is rounds.coef
    assert flow.c is None and flow.collapse_round is None and flow.eps is None
    assert rounds.rounds == 3 and flow.rounds == 3
    np.testing.assert_allclose(flow.effective_dimension, np.sum(flow.filter, axis=-1))
    # A pytree: flatten / unflatten and jit round trips keep every field.
    leaves, treedef = jax.tree.flatten(rounds)
    back = jax.tree.unflatten(treedef, leaves)
    np.testing.assert_array_equal(back.c, rounds.c)
    same = jax.jit(lambda tr: tr)(rounds)
    np.testing.assert_array_equal(same.test_pred, rounds.test_pred)
    assert same.spectrum.complete == rounds.spectrum.complete
