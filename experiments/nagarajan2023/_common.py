"""Problems and helpers shared by the [NMBMK23] parts."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

import kernel_sd as ksd
from experiments._runner import Config


def gram(kernel, X, Z=None):
    """``k(Z, X)/K`` as a NumPy array (``Z = X`` by default)."""
    X = jnp.asarray(X)
    n = X.shape[0]
    return np.asarray(ksd.gram(kernel, X if Z is None else jnp.asarray(Z), X)) / n


def log_odds_on(logits: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """``log(p/(1 − p))`` of class ``cls`` under ``softmax(logits)``, computed stably.

    ``log p_c = l_c − LSE(l)`` and ``log(1 − p_c) = LSE(l_{j≠c}) − LSE(l)``.
    """
    rows = np.arange(logits.shape[0])
    others = logits.copy()
    others[rows, cls] = -np.inf
    return logits[rows, cls] - logsumexp(others, axis=1)


def margin_on(outputs: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """``f_c − max_{j≠c} f_j``: the margin of class ``cls`` (negative when not the top)."""
    rows = np.arange(outputs.shape[0])
    others = np.array(outputs, dtype=float, copy=True)
    others[rows, cls] = -np.inf
    return outputs[rows, cls] - others.max(axis=1)


def centred_slope(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept of ``y`` on ``x`` *with* an intercept."""
    xc = x - x.mean()
    slope = float(np.dot(xc, y - y.mean()) / np.dot(xc, xc))
    return slope, float(y.mean() - slope * x.mean())


def quintiles(x: np.ndarray, y: np.ndarray, q: int = 5) -> dict:
    """Per quantile bin of ``x`` (the teacher): mean ``x``, mean ``y`` and ``mean(y − x)``."""
    edges = np.quantile(x, np.linspace(0, 1, q + 1))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, q - 1)
    mx = np.array([x[which == b].mean() for b in range(q)])
    my = np.array([y[which == b].mean() for b in range(q)])
    return {"teacher": mx, "student": my, "deviation": my - mx}


def band_energy(V: np.ndarray, F: np.ndarray, edges) -> np.ndarray:
    """Energy of the class-centred outputs ``F`` per band of eigendirections of ``G``.

    Band ``b`` holds the eigen-indices ``edges[b] .. edges[b+1] − 1`` (eigenvalues
    descending); the energy is ``Σ_{k in b} ‖v_kᵀ (F − row means)‖²``.
    """
    Fc = F - F.mean(axis=1, keepdims=True)
    e = np.sum((V.T @ Fc) ** 2, axis=1)
    return np.array([e[a:b].sum() for a, b in zip(edges[:-1], edges[1:], strict=True)])


def blobs(n, seed, n_test=None):
    """Three 2-D Gaussian classes: ``n`` training and ``n_test`` (default ``n``) test points."""
    n_test = n if n_test is None else n_test
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [2.0, 0.5], [1.0, 2.0]])
    lab = rng.integers(0, 3, n + n_test)
    X = centers[lab] + 0.9 * rng.standard_normal((n + n_test, 2))
    return X[:n], lab[:n], X[n:], lab[n:]


def sin_problem(cfg: Config, seed: int):
    """Noisy sin(2πx) samples, the Laplace kernel and its spectrum."""
    data = ksd.data.sinusoid(cfg.sin_n, noise=cfg.sin_noise, seed=seed)
    kernel = ksd.kernels.Laplace(lengthscale=cfg.sin_lengthscale)
    spec = ksd.spectrum(kernel, jnp.asarray(data.X))
    return data, kernel, spec
