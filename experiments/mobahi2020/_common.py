"""Problems shared by the [MFB20] parts."""

from __future__ import annotations

import numpy as np

import kernel_sd as ksd
from experiments._runner import Config


def toy(cfg: Config):
    """The paper's 11 toy points, its RBF kernel and the constrained trace on them."""
    ds = ksd.data.mobahi_toy()
    k = ksd.kernels.RBF(lengthscale=cfg.toy_lengthscale)
    tr = ksd.self_distill(
        k, ds.X, ds.y, eps=cfg.toy_eps, rounds=cfg.toy_rounds, X_test=ds.X_test
    )
    return ds, k, tr


def mse(pred, target):
    """Mean over points (and outputs) of the squared error, per round."""
    axes = tuple(range(1, pred.ndim))
    return np.mean((pred - target[None]) ** 2, axis=axes)


def planted(cfg: Config, seed: int):
    """``x ~ U[0, 1]`` sorted, ``f = sin(2πx)`` and the Laplace spectrum on ``x``."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, cfg.planted_n))
    X = x[:, None]
    f = np.sin(2 * np.pi * x)
    spec = ksd.spectrum(ksd.kernels.Laplace(lengthscale=cfg.planted_lengthscale), X)
    return rng, X, f, spec


def median_lengthscale(X) -> float:
    """Median pairwise Euclidean distance of the rows of ``X`` (the RBF lengthscale used)."""
    X = np.asarray(X)
    diff = X[:, None, :] - X[None, :, :]
    dist = np.sqrt(np.sum(diff * diff, axis=-1))
    return float(np.median(dist[np.triu_indices(X.shape[0], 1)]))
