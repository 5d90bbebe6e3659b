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


def test_friedman1_follows_the_formula_and_noise_level():
    ds = data.friedman1(2000, noise=1.0, seed=5, n_test=300)
    X, Xt = ds.X, ds.X_test
    assert X.shape == (2000, 10) and Xt.shape == (300, 10)
    assert X.min() >= 0.0 and X.max() <= 1.0

    def f(Z):  # Friedman (1991), problem 1, written out independently
        x1, x2, x3, x4, x5 = Z[:, :5].T
        return 10 * np.sin(np.pi * x1 * x2) + 20 * (x3 - 0.5) ** 2 + 10 * x4 + 5 * x5

    np.testing.assert_allclose(ds.y_test, f(Xt), rtol=1e-14)
    resid = ds.y - f(X)
    assert abs(resid.std() - 1.0) < 0.05 and abs(resid.mean()) < 0.1
    clean = data.friedman1(50, noise=0.0, seed=5, p=6)
    np.testing.assert_allclose(clean.y, f(clean.X), rtol=1e-14)
    np.testing.assert_array_equal(
        data.friedman1(20, seed=1).y, data.friedman1(20, seed=1).y
    )
    with pytest.raises(ValueError, match="`p`"):
        data.friedman1(20, p=4)


def test_flip_labels_changes_exactly_the_share_asked():
    labels = np.arange(200) % 10
    noisy, mask = data.flip_labels(labels, 0.2, classes=10, seed=3)
    assert mask.sum() == 40
    assert np.all(noisy[mask] != labels[mask]) and np.all(noisy[~mask] == labels[~mask])
    assert noisy.min() >= 0 and noisy.max() < 10
    same, none = data.flip_labels(labels, 0.0, classes=10)
    assert not none.any() and np.array_equal(same, labels)
    with pytest.raises(ValueError, match="`fraction`"):
        data.flip_labels(labels, 1.5, classes=10)
    with pytest.raises(ValueError, match="`labels`"):
        data.flip_labels(labels, 0.1, classes=5)
