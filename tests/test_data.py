"""Built-in data: the toy values, determinism, and the bundled copies against scikit-learn."""

import numpy as np
import pytest

from kernel_sd import data


def test_mobahi_toy_energy():
    ds = data.mobahi_toy()
    # papers.md: (1/K)‖y‖² = 0.5735, so collapse is immediate iff eps >= 0.5735
    assert np.mean(ds.y**2) == pytest.approx(0.5735, abs=5e-5)
    np.testing.assert_allclose(ds.X[:, 0], np.arange(11) / 10, atol=1e-15)


def test_sinusoid_is_deterministic():
    a, b = data.sinusoid(20, seed=3), data.sinusoid(20, seed=3)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.y, data.sinusoid(20, seed=4).y)


def test_bundled_digits_equal_sklearn():
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_digits()
    ds = data.digits(test_fraction=0.5, seed=1)
    X = np.vstack([ds.X, ds.X_test]) * 16.0
    y = np.concatenate([ds.y, ds.y_test])
    order = np.lexsort(X.T)
    ref_order = np.lexsort(ref.data.T)
    np.testing.assert_array_equal(X[order], ref.data[ref_order])
    np.testing.assert_array_equal(y[order], ref.target[ref_order])


def test_bundled_diabetes_equal_sklearn():
    sk = pytest.importorskip("sklearn.datasets")
    ref = sk.load_diabetes(scaled=False)
    raw = data._load("diabetes")
    np.testing.assert_array_equal(raw["data"], ref.data)
    np.testing.assert_array_equal(raw["target"], ref.target)
    ds = data.diabetes()
    np.testing.assert_allclose(ds.X.mean(axis=0), 0.0, atol=1e-12)


def test_one_hot_and_bad_split():
    np.testing.assert_array_equal(
        data.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]]
    )
    with pytest.raises(ValueError, match="labels"):
        data.one_hot(np.array([3]), 3)
    with pytest.raises(ValueError, match="n_train"):
        data.digits(n_train=5000)
    with pytest.raises(ValueError, match="test_fraction"):
        data.diabetes(test_fraction=1.5)
