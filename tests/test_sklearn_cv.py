"""Cross-validated estimators and sample weights.

References: scikit-learn's GridSearchCV over the plain estimators (one fit per
grid value, round count and fold), KernelRidge with sample weights, and
repeated rows for integer weights.
"""

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.kernel_ridge import KernelRidge  # noqa: E402
from sklearn.model_selection import (  # noqa: E402
    GridSearchCV,
    GroupKFold,
    KFold,
    StratifiedKFold,
)

import kernel_sd as ksd  # noqa: E402
from kernel_sd import selection  # noqa: E402
from kernel_sd.sklearn import (  # noqa: E402
    SelfDistillationClassifier,
    SelfDistillationClassifierCV,
    SelfDistillationRegressor,
    SelfDistillationRegressorCV,
)

N, FOLDS, ROUNDS, ELL = 40, 4, 3, 0.3  # folds of 30 training rows, as test_selection
GRIDS = {"eps": [0.04, 0.12, 0.6], "lam": [1e-4, 1e-2, 0.3]}


@pytest.fixture(scope="session")
def data():
    rng = np.random.default_rng(7)
    X = rng.uniform(size=(N, 2))
    y = np.sin(4 * X[:, 0]) + 0.3 * rng.standard_normal(N)
    return X, y, rng.uniform(size=(6, 2))


@pytest.mark.parametrize("form", ["eps", "lam"])
def test_fold_mse_equals_grid_search_over_plain_fits(data, form):
    X, y, X_new = data
    grid = GRIDS[form]
    cv = KFold(FOLDS)
    model = SelfDistillationRegressorCV(
        lengthscale=ELL, rounds=ROUNDS, cv=cv, **{form: grid}
    ).fit(X, y)
    search = GridSearchCV(
        SelfDistillationRegressor(lengthscale=ELL),
        {form: grid, "rounds": list(range(1, ROUNDS + 1))},
        cv=cv,
        scoring="neg_mean_squared_error",
    ).fit(X, y)
    res = search.cv_results_
    ref = np.empty((FOLDS, len(grid), ROUNDS))
    for i, params in enumerate(res["params"]):
        e, t = grid.index(params[form]), params["rounds"] - 1
        for f in range(FOLDS):
            ref[f, e, t] = -res[f"split{f}_test_score"][i]
    assert model.fold_mse_.shape == ref.shape
    np.testing.assert_allclose(model.fold_mse_, ref, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(model.mse_, ref.mean(axis=0), rtol=1e-8)
    e, t = np.unravel_index(np.argmin(ref.mean(axis=0)), ref.shape[1:])
    assert (model.best_index_, model.best_round_) == (e, t)
    assert getattr(model, f"best_{form}_") == grid[e]
    assert model.best_score_ == pytest.approx(-ref.mean(axis=0)[e, t], rel=1e-8)
    if form == "eps":  # a collapsed round predicts 0 on the held-out rows
        _, va = next(iter(cv.split(X)))
        assert model.fold_mse_[0, 2, -1] == pytest.approx(np.mean(y[va] ** 2), 1e-12)
    # refit on all rows at the best value, best round by default, any round on request
    plain = SelfDistillationRegressor(
        lengthscale=ELL, rounds=ROUNDS, **{form: grid[e]}
    ).fit(X, y)
    np.testing.assert_allclose(
        model.predict(X_new), plain.predict(X_new, round=int(t)), atol=1e-10
    )
    for r in range(ROUNDS):
        np.testing.assert_allclose(
            model.predict(X_new, round=r), plain.predict(X_new, round=r), atol=1e-10
        )
    with pytest.raises(ValueError, match="round"):
        model.predict(X_new, round=ROUNDS)


def test_cv_accepts_int_splitter_iterable_and_groups(data):
    X, y, _ = data
    kw = dict(lengthscale=ELL, lam=GRIDS["lam"], rounds=ROUNDS)
    a = SelfDistillationRegressorCV(cv=FOLDS, **kw).fit(X, y)
    b = SelfDistillationRegressorCV(cv=list(KFold(FOLDS).split(X)), **kw).fit(X, y)
    np.testing.assert_array_equal(a.fold_mse_, b.fold_mse_)
    groups = np.repeat(np.arange(FOLDS), N // FOLDS)
    c = SelfDistillationRegressorCV(cv=GroupKFold(FOLDS), **kw)
    c.fit(X, y, groups=groups)
    d = SelfDistillationRegressorCV(
        cv=list(GroupKFold(FOLDS).split(X, y, groups)), **kw
    ).fit(X, y)
    np.testing.assert_array_equal(c.fold_mse_, d.fold_mse_)
    assert clone(a).get_params()["cv"] == FOLDS
    with pytest.raises(ValueError, match="`cv`"):
        SelfDistillationRegressorCV(cv="loo", **kw).fit(X, y)


def test_gcv_scores_the_full_data_spectrum(data):
    X, y, _ = data
    Y = np.stack([y, np.cos(3 * X[:, 1])], axis=1)  # multi-output
    grid = [0.05, 0.25]
    model = SelfDistillationRegressorCV(
        lengthscale=ELL, eps=grid, rounds=ROUNDS, cv="gcv"
    ).fit(X, Y)
    ref = selection.gcv(ksd.kernels.RBF(lengthscale=ELL), X, Y, eps=grid, rounds=ROUNDS)
    np.testing.assert_array_equal(model.mse_, np.asarray(ref.score))
    np.testing.assert_array_equal(model.df_, np.asarray(ref.df))
    assert model.fold_mse_ is None and model.n_splits_ is None
    assert model.mse_[model.best_index_, model.best_round_] == model.mse_.min()


def test_infeasible_grid_values_score_inf_once_and_all_infeasible_refuses(data):
    X, y, _ = data
    lin = ksd.kernels.Linear()  # rank 2: the least-squares residual is the floor
    floors = []
    for tr, _ in KFold(FOLDS).split(X):
        coef, *_ = np.linalg.lstsq(X[tr], y[tr], rcond=None)
        floors.append(np.mean((y[tr] - X[tr] @ coef) ** 2))
    grid = [0.5 * min(floors), 1.5 * max(floors), 3 * max(floors)]
    with pytest.warns(UserWarning, match="infeasible") as record:
        model = SelfDistillationRegressorCV(lin, eps=grid, rounds=ROUNDS, cv=FOLDS).fit(
            X, y
        )
    assert sum("infeasible" in str(w.message) for w in record) == 1
    assert np.isinf(model.mse_[0]).all() and np.isfinite(model.mse_[1:]).all()
    assert model.best_index_ > 0
    with pytest.warns(UserWarning, match="infeasible"):
        with pytest.raises(ValueError, match="infeasible"):
            SelfDistillationRegressorCV(lin, eps=grid[:1], rounds=ROUNDS, cv=FOLDS).fit(
                X, y
            )


def test_classifier_cv_equals_plain_classifiers_per_fold(data):
    X, _, X_new = data
    labels = np.where(X[:, 0] + 0.2 * np.sin(9 * X[:, 1]) > 0.5, "a", "b")
    grid, cv = GRIDS["lam"], StratifiedKFold(FOLDS)
    model = SelfDistillationClassifierCV(
        lengthscale=ELL, lam=grid, rounds=ROUNDS, cv=4
    ).fit(X, labels)  # an int means StratifiedKFold, as in GridSearchCV
    # round t of a ROUNDS-round fit is the last round of a (t + 1)-round fit
    for f, (tr, va) in enumerate(cv.split(X, labels)):
        for e, lam in enumerate(grid):
            clf = SelfDistillationClassifier(lengthscale=ELL, lam=lam, rounds=ROUNDS)
            clf.fit(X[tr], labels[tr])
            for t in range(ROUNDS):
                acc = np.mean(clf.predict(X[va], round=t) == labels[va])
                assert model.fold_accuracy_[f, e, t] == pytest.approx(acc, abs=1e-12)
    acc = model.accuracy_
    best = acc[model.best_index_, model.best_round_]
    assert best == acc.max() == model.best_score_
    ties = acc == acc.max()  # ties go to the lowest MSE
    assert model.mse_[model.best_index_, model.best_round_] == model.mse_[ties].min()
    assert set(model.predict(X_new)) <= {"a", "b"}
    with pytest.raises(ValueError, match="scoring='mse'"):
        SelfDistillationClassifierCV(cv="gcv").fit(X, labels)


# ---------------------------------------------------------------- sample weights


@pytest.fixture(scope="session")
def weights():
    # 10 rows of weight 0, 20 of weight 1, 10 of weight 2: 30 rows kept, 40 repeated
    w = np.repeat([0.0, 1.0, 2.0], [10, 20, 10])
    return np.random.default_rng(3).permutation(w)


@pytest.mark.parametrize("form", ["eps", "lam"])
def test_integer_weights_are_repeated_rows_and_unit_weights_no_weights(
    data, weights, form
):
    X, y, X_new = data
    kw = dict(lengthscale=ELL, rounds=ROUNDS, **{form: GRIDS[form][1]})
    rows = np.repeat(np.arange(N), weights.astype(int))
    weighted = SelfDistillationRegressor(**kw).fit(X, y, sample_weight=weights)
    repeated = SelfDistillationRegressor(**kw).fit(X[rows], y[rows])
    unit = SelfDistillationRegressor(**kw).fit(X, y, sample_weight=np.ones(N))
    plain = SelfDistillationRegressor(**kw).fit(X, y)
    for t in range(ROUNDS):
        np.testing.assert_allclose(
            weighted.predict(X_new, round=t), repeated.predict(X_new, round=t),
            rtol=1e-9, atol=1e-12,
        )  # fmt: skip
        np.testing.assert_allclose(
            unit.predict(X_new, round=t), plain.predict(X_new, round=t), atol=1e-12
        )
    # negative control: the weights change the fit
    change = weighted.predict(X_new, round=0) - plain.predict(X_new, round=0)
    assert np.abs(change).max() > 1e-3


def test_weighted_penalised_fit_is_kernel_ridge_and_zero_weights_do_not_count(
    data, weights
):
    X, y, X_new = data
    lam = GRIDS["lam"][1]
    model = SelfDistillationRegressor(lengthscale=ELL, lam=lam, rounds=1)
    model.fit(X, y, sample_weight=weights)
    ref = KernelRidge(alpha=weights.sum() * lam, kernel="rbf", gamma=0.5 / ELL**2)
    ref.fit(X, y, sample_weight=weights)
    np.testing.assert_allclose(model.predict(X_new), ref.predict(X_new), atol=1e-10)
    zero = weights == 0  # moving the rows of weight 0 changes nothing
    X2, y2 = X.copy(), y.copy()
    X2[zero], y2[zero] = X2[zero] + 5.0, 100.0
    moved = clone(model).fit(X2, y2, sample_weight=weights)
    np.testing.assert_array_equal(moved.predict(X_new), model.predict(X_new))
    clf = SelfDistillationClassifier(lengthscale=ELL, lam=lam, rounds=1)
    labels = (y > 0).astype(int)
    a = clf.fit(X, labels, sample_weight=np.ones(N)).decision_function(X_new)
    b = clone(clf).fit(X, labels).decision_function(X_new)
    np.testing.assert_allclose(a, b, atol=1e-12)


@pytest.mark.parametrize(
    "bad, match",
    [
        (-np.ones(N), ">= 0"),
        (np.full(N, np.nan), "finite"),
        (np.zeros(N), "zero"),
        (np.ones(N - 1), "shape"),
    ],
)
def test_bad_sample_weights_are_refused(data, bad, match):
    X, y, _ = data
    with pytest.raises(ValueError, match="sample_weight.*" + match):
        SelfDistillationRegressor().fit(X, y, sample_weight=bad)
    with pytest.raises(ValueError, match="sample_weight.*" + match):
        SelfDistillationRegressorCV(lam=[0.1]).fit(X, y, sample_weight=bad)


def test_weighted_cv_equals_weighted_fits_per_fold(data):
    X, y, _ = data
    rng = np.random.default_rng(5)
    # 44 rows, 4 of weight 0: the splitter sees the 40 others (folds of 30 rows)
    X4 = np.vstack([X, rng.uniform(size=(4, 2))])
    y4 = np.concatenate([y, [9.0, -9.0, 9.0, -9.0]])
    w = np.concatenate([rng.uniform(0.3, 2.0, N), np.zeros(4)])
    grid = GRIDS["eps"]
    model = SelfDistillationRegressorCV(
        lengthscale=ELL, eps=grid, rounds=ROUNDS, cv=FOLDS
    ).fit(X4, y4, sample_weight=w)
    keep = np.flatnonzero(w > 0)
    for f, (tr, va) in enumerate(KFold(FOLDS).split(keep)):
        tr, va = keep[tr], keep[va]
        for e, eps in enumerate(grid):
            fit = SelfDistillationRegressor(lengthscale=ELL, eps=eps, rounds=ROUNDS)
            fit.fit(X4[tr], y4[tr], sample_weight=w[tr])
            for t in range(ROUNDS):
                err = (fit.predict(X4[va], round=t) - y4[va]) ** 2
                ref = np.sum(w[va] * err) / np.sum(w[va])
                assert model.fold_mse_[f, e, t] == pytest.approx(ref, rel=1e-9)
