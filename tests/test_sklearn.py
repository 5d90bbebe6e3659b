"""scikit-learn estimators: the estimator contract, per-round predictions, CV and pipelines."""

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.kernel_ridge import KernelRidge  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

import kernel_sd as ksd  # noqa: E402
from kernel_sd.sklearn import SelfDistillationClassifier, SelfDistillationRegressor  # noqa: E402


@pytest.mark.parametrize(
    "estimator", [SelfDistillationRegressor(), SelfDistillationClassifier()]
)
def test_check_estimator(estimator):
    # on_skip=None: checks that do not apply (array-API input) are skipped silently.
    check_estimator(estimator, on_skip=None)


def test_import_kernel_sd_does_not_import_sklearn():
    import subprocess
    import sys

    code = "import sys, kernel_sd; print('sklearn' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_round_zero_is_kernel_ridge_and_rounds_match_the_trace():
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(40, 2))
    y = np.sin(4 * X[:, 0]) + 0.1 * rng.standard_normal(40)
    Xt = rng.uniform(size=(9, 2))
    lam, ell = 1e-3, 0.3
    model = SelfDistillationRegressor(lengthscale=ell, lam=lam, rounds=3).fit(X, y)
    ref = KernelRidge(alpha=40 * lam, kernel="rbf", gamma=1 / (2 * ell**2)).fit(X, y)
    np.testing.assert_allclose(model.predict(Xt, round=0), ref.predict(Xt), atol=1e-12)
    tr = ksd.self_distill(
        ksd.kernels.RBF(lengthscale=ell), X, y, lam=lam, rounds=3, X_test=Xt
    )
    for t in range(3):
        np.testing.assert_allclose(
            model.predict(Xt, round=t), tr.test_pred[t], atol=1e-13
        )
    np.testing.assert_allclose(model.predict(Xt), tr.test_pred[2], atol=1e-13)
    with pytest.raises(ValueError, match="round"):
        model.predict(Xt, round=3)


def test_grid_search_over_rounds_in_a_pipeline():
    ds = ksd.data.sinusoid(60, noise=0.4, seed=1)
    pipe = make_pipeline(StandardScaler(), SelfDistillationRegressor(eps=0.2))
    grid = GridSearchCV(
        pipe,
        {
            "selfdistillationregressor__rounds": [1, 2, 3],
            "selfdistillationregressor__lengthscale": [0.2, 0.5],
        },
        cv=3,
    )
    grid.fit(ds.X, ds.y)
    assert set(grid.best_params_) == {
        "selfdistillationregressor__rounds",
        "selfdistillationregressor__lengthscale",
    }
    assert grid.best_estimator_.score(ds.X_test, ds.y_test) > 0.5


def test_classifier_on_digits_is_accurate():
    ds = ksd.data.digits(n_train=400, seed=0)
    clf = SelfDistillationClassifier(lengthscale=1.5, lam=1e-4, rounds=2).fit(
        ds.X, ds.y
    )
    assert clf.score(ds.X_test, ds.y_test) > 0.9
    assert clf.decision_function(ds.X_test[:3]).shape == (3, 10)


def test_bad_kernel_name():
    with pytest.raises(ValueError, match="kernel"):
        SelfDistillationRegressor(kernel="nope").fit(np.ones((3, 1)), np.ones(3))


@pytest.mark.parametrize("form", [{"lam": 1e-3}, {"eps": 0.05}])
def test_routes_predict_what_the_trace_predicts(form):
    """Penalised fits use one Cholesky and compute ``trace_`` only when it is read;
    both forms predict through ``dual_coef_`` (KernelRidge's convention)."""
    rng = np.random.default_rng(3)
    X = rng.uniform(size=(40, 2))
    Y = np.stack([np.sin(4 * X[:, 0]), X[:, 1]], axis=1)
    Y += 0.1 * rng.standard_normal(Y.shape)
    Xt = rng.uniform(size=(9, 2))
    model = SelfDistillationRegressor(lengthscale=0.3, rounds=3, **form).fit(X, Y)
    assert (model._trace is None) == ("lam" in form)
    tr = ksd.self_distill(
        ksd.kernels.RBF(lengthscale=0.3), X, Y, rounds=3, X_test=Xt, **form
    )
    assert model.dual_coef_.shape == (3, 40, 2)
    for t in range(3):
        np.testing.assert_allclose(
            model.predict(Xt, round=t), tr.test_pred[t], rtol=0, atol=1e-12
        )
    np.testing.assert_allclose(model.trace_.train_pred, tr.train_pred, atol=1e-12)
    assert model.trace_.shrinkage is not None
