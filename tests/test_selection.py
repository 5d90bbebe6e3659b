"""Model selection over (ε or lam, round): held-out errors, folds and GCV from one spectrum.

References are dense and independent of the eigenbasis route: per-round
``np.linalg.solve`` with ``scipy.optimize.brentq`` multipliers, dense smoother
traces, and finite differences of that dense pipeline for the divergence.
"""

import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

import kernel_sd as ksd
from kernel_sd import selection

N, N_TRAIN, ROUNDS = 40, 30, 3  # one training size (30) and one full size (40)
ELL = 0.3


@pytest.fixture(scope="session")
def problem():
    rng = np.random.default_rng(7)
    X = rng.uniform(size=(N, 2))
    Y = np.stack([np.sin(4 * X[:, 0]), np.cos(3 * X[:, 1])], axis=1)
    Y = Y + 0.3 * rng.standard_normal(Y.shape)
    return X, Y


def _rbf(A, B):
    sq = ((A[:, None, :] - B[None, :, :]) ** 2).sum(-1)
    return np.exp(-sq / (2 * ELL**2))


def dense_rounds(K_tr, K_new, Y, *, eps=None, lam=None, rounds=ROUNDS):
    """Per-round dense fits: ``c_t`` by brentq on ``‖c (cI + G)^{-1} y_t‖² = Kε``.

    Returns ``(train, new)`` predictions per round, each ``(T, n, q)``, and the
    multipliers ``c_t`` (``inf`` after the collapse).
    """
    n = K_tr.shape[0]
    G = K_tr / n
    Yt, train, new, cs = Y, [], [], []
    for _ in range(rounds):
        if lam is not None:
            c = lam
        elif np.sum(Yt**2) <= n * eps:  # collapse: the fit is 0
            train.append(np.zeros_like(Y))
            new.append(np.zeros((K_new.shape[0], Y.shape[1])))
            cs.append(np.inf)
            Yt = train[-1]
            continue
        else:

            def phi(u, Yt=Yt):
                c = np.exp(u)
                return np.sum((c * np.linalg.solve(c * np.eye(n) + G, Yt)) ** 2)

            u = brentq(lambda u: phi(u) - n * eps, -40.0, 20.0, xtol=1e-14, rtol=1e-15)
            c = np.exp(u)
        alpha = np.linalg.solve(c * np.eye(n) + G, Yt)
        train.append(G @ alpha)
        new.append(K_new / n @ alpha)
        cs.append(c)
        Yt = train[-1]
    return np.array(train), np.array(new), np.array(cs)


@pytest.mark.parametrize(
    "form, grid, cols",
    [("eps", [0.04, 0.12, 0.6], 1), ("lam", [1e-4, 1e-2, 0.3], 2)],
)
def test_validation_errors_equal_dense_fits_per_value_and_round(
    problem, form, grid, cols
):
    X, Y = problem
    y = Y[:, 0] if cols == 1 else Y
    Xtr, Xva, ytr, yva = X[:N_TRAIN], X[N_TRAIN:], y[:N_TRAIN], y[N_TRAIN:]
    err = selection.validation_errors(
        ksd.kernels.RBF(lengthscale=ELL), Xtr, ytr, Xva, yva,
        rounds=ROUNDS, predictions=True, **{form: grid},
    )  # fmt: skip
    assert err.mse.shape == (3, ROUNDS) and err.accuracy is None
    assert err.pred.shape == (3, ROUNDS) + yva.shape
    Y2, Yva2 = ytr.reshape(N_TRAIN, -1), yva.reshape(len(yva), -1)
    for e, value in enumerate(grid):
        _, pred, _ = dense_rounds(_rbf(Xtr, Xtr), _rbf(Xva, Xtr), Y2, **{form: value})
        mse = ((pred - Yva2[None]) ** 2).mean(axis=(1, 2))
        np.testing.assert_allclose(err.mse[e], mse, rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(
            np.asarray(err.pred[e]).reshape(pred.shape), pred, rtol=0, atol=1e-10
        )
    if form == "eps":  # the largest ε collapses: zero predictions, scored as such
        np.testing.assert_allclose(err.mse[2, -1], np.mean(yva**2), rtol=1e-12)
        assert np.isinf(err.c[2, -1])


def _lstsq_floor(X, y):
    """(1/n)‖(I − P_X) y‖²: the linear kernel's null-space energy, by least squares."""
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    return np.sum((y - X @ coef) ** 2) / len(y)


def test_infeasible_values_score_inf_with_one_warning(problem):
    X, Y = problem
    y = Y[:, 0]
    lin = ksd.kernels.Linear()  # rank 2: everything outside span(X) is null space
    floors = [_lstsq_floor(X[tr], y[tr]) for tr, _ in _kfold(4)]
    grid = [0.5 * min(floors), 0.5 * (min(floors) + max(floors)), 2 * max(floors)]
    assert min(floors) < grid[1] < max(floors)  # feasible on some folds only
    with pytest.warns(UserWarning, match="infeasible") as record:
        cv = selection.cross_validation_errors(
            lin, X, y, _kfold(4), eps=grid, rounds=ROUNDS
        )
    assert len([w for w in record if "infeasible" in str(w.message)]) == 1
    mse = np.asarray(cv.mse)
    # per fold: infeasible iff ε <= that fold's floor (independent lstsq)
    expected = np.array([[g <= f for g in grid] for f in floors])
    np.testing.assert_array_equal(np.isinf(mse).all(axis=2), expected)
    assert np.isfinite(mse[:, 2]).all()  # the feasible value is scored normally
    assert np.isinf(mse.mean(axis=0)[:2]).all()


def _kfold(k):
    folds = np.array_split(np.arange(N), k)
    return [(np.concatenate(folds[:i] + folds[i + 1 :]), folds[i]) for i in range(k)]


def test_int_splits_are_contiguous_folds(problem):
    X, Y = problem
    k = ksd.kernels.RBF(lengthscale=ELL)
    a = selection.cross_validation_errors(k, X, Y, 4, lam=[1e-3, 1e-2, 0.1], rounds=3)
    b = selection.cross_validation_errors(
        k, X, Y, _kfold(4), lam=[1e-3, 1e-2, 0.1], rounds=3
    )
    np.testing.assert_array_equal(np.asarray(a.mse), np.asarray(b.mse))
    assert a.mse.shape == (4, 3, 3)


def _dense_gcv_penalised(G, Y, lam, rounds):
    n, q = Y.shape
    S = G @ np.linalg.inv(G + lam * np.eye(n))  # one-round smoother
    H, out = np.eye(n), []
    for _ in range(rounds):
        H = S @ H
        rss = np.sum((Y - H @ Y) ** 2) / (n * q)
        out.append((rss / (1 - np.trace(H) / n) ** 2, np.trace(H) * q))
    return np.array(out)


@pytest.mark.parametrize("weighted", [False, True])
def test_gcv_penalised_equals_dense_smoother_trace(problem, weighted):
    X, Y = problem
    grid = [1e-3, 3e-2]
    w = np.random.default_rng(1).uniform(0.2, 3.0, N) if weighted else None
    g = selection.gcv(
        ksd.kernels.RBF(lengthscale=ELL), X, Y, lam=grid, rounds=ROUNDS,
        sample_weight=w,
    )  # fmt: skip
    # weighted problem: G_w = W^{1/2} K W^{1/2} / Σw, targets W^{1/2} y (n rows), where
    # (1/n)‖W'^{1/2}(y − f)‖² with w' = n w / Σw is the weighted mean squared error
    sw = np.ones(N) if w is None else np.sqrt(N * w / w.sum())
    G = (sw[:, None] * _rbf(X, X) * sw[None, :]) / N
    for e, lam in enumerate(grid):
        ref = _dense_gcv_penalised(G, Y * sw[:, None], lam, ROUNDS)
        np.testing.assert_allclose(g.score[e], ref[:, 0], rtol=1e-9)
        np.testing.assert_allclose(g.df[e], ref[:, 1], rtol=1e-9)


def test_gcv_constrained_df_is_the_divergence_of_the_fit(problem):
    X, Y = problem
    grid = [0.05, 0.25]  # the second collapses within the rounds
    g = selection.gcv(ksd.kernels.RBF(lengthscale=ELL), X, Y, eps=grid, rounds=ROUNDS)
    K = _rbf(X, X)
    h = 1e-6
    base, _, cs = dense_rounds(K, K[:1], Y, eps=grid[0])
    df = np.zeros(ROUNDS)  # central differences of f_t(X)_ij in y_ij
    for i in range(N):
        for j in range(Y.shape[1]):
            D = np.zeros_like(Y)
            D[i, j] = h
            up = dense_rounds(K, K[:1], Y + D, eps=grid[0])[0]
            down = dense_rounds(K, K[:1], Y - D, eps=grid[0])[0]
            df += (up[:, i, j] - down[:, i, j]) / (2 * h)
    np.testing.assert_allclose(g.df[0], df, rtol=1e-6, atol=1e-6)
    Nq = Y.size
    rss = ((Y[None] - base) ** 2).sum(axis=(1, 2)) / Nq
    np.testing.assert_allclose(g.score[0], rss / (1 - df / Nq) ** 2, rtol=1e-6)
    # negative control: the plug-in trace q·tr(H_t) at the fitted c_t misses the
    # freedom of choosing c_t (here by 2-5 %): 1000x the tolerance above
    G, H, plugin = K / N, np.eye(N), []
    for c in cs:
        H = G @ np.linalg.solve(c * np.eye(N) + G, H)
        plugin.append(Y.shape[1] * np.trace(H))
    assert np.all(df - np.array(plugin) > 1e-3 * np.array(plugin))
    # the larger ε collapses within the rounds (dense reference): from then on
    # f = 0, df = 0 and GCV = ‖y‖²/N
    _, _, cs = dense_rounds(K, K[:1], Y, eps=grid[1])
    r = int(np.argmax(np.isinf(cs)))
    assert 0 < r < ROUNDS and np.isinf(cs[r:]).all()
    assert (np.asarray(g.df[1, r:]) == 0).all() and (np.asarray(g.df[1, :r]) > 0).all()
    np.testing.assert_allclose(g.score[1, r:], np.mean(Y**2), rtol=1e-12)


def test_gcv_interpolation_scores_inf(problem):
    X, Y = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lam = 0 is under the noise floor
        g = selection.gcv(ksd.kernels.Laplace(lengthscale=ELL), X, Y, lam=[0.0, 1e-2])
    assert np.isinf(g.score[0]).all() and np.isfinite(g.score[1]).all()


def test_bad_arguments_are_named(problem):
    X, Y = problem
    k = ksd.kernels.RBF(lengthscale=ELL)
    with pytest.raises(ValueError, match="exactly one of `eps`"):
        selection.validation_errors(k, X, Y, X, Y, eps=[0.1], lam=[0.1])
    with pytest.raises(ValueError, match="y_val"):
        selection.validation_errors(k, X, Y, X, Y[:, 0], lam=[0.1])
    with pytest.raises(ValueError, match="X_val"):
        selection.validation_errors(k, X, Y, X[:, :1], Y, lam=[0.1])
    with pytest.raises(ValueError, match="eps"):
        selection.gcv(k, X, Y, eps=[0.1, -1.0])
    with pytest.raises(ValueError, match="splits"):
        selection.cross_validation_errors(
            k, X, Y, [(np.arange(3), np.array([99]))], lam=[0.1]
        )
    with pytest.raises(ValueError, match="splits"):
        selection.cross_validation_errors(k, X, Y, 1, lam=[0.1])
    with pytest.raises(ValueError, match="sample_weight"):
        selection.gcv(k, X, Y, lam=[0.1], sample_weight=-np.ones(N))
