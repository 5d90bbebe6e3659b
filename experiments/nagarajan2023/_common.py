"""Problems and helpers shared by the [NMBMK23] parts."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from scipy.special import logsumexp

import kernel_sd as ksd
from experiments._runner import Config
from kernel_sd import dynamics


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


def slope_and_bins(x, y, bins=12):
    """Least-squares slope and intercept of ``y`` on ``x``, and quantile-binned means."""
    slope, intercept = np.polyfit(x, y, 1)
    edges = np.quantile(x, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
    bx = np.array([x[which == b].mean() for b in range(bins) if np.any(which == b)])
    by = np.array([y[which == b].mean() for b in range(bins) if np.any(which == b)])
    return float(slope), float(intercept), bx, by


def blobs(n, seed):
    """Three 2-D Gaussian classes: ``n`` training and ``n`` test points."""
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0], [2.0, 0.5], [1.0, 2.0]])
    lab = rng.integers(0, 3, 2 * n)
    X = centers[lab] + 0.9 * rng.standard_normal((2 * n, 2))
    return X[:n], lab[:n], X[n:], lab[n:]


def classifier_pair(X, lab, Xt, kernel, steps, cls_lr):
    """Teacher on labels and student on the teacher's probabilities (τ = 1)."""
    G = gram(kernel, X)
    Gt = gram(kernel, X, Xt)
    lr = cls_lr / float(np.linalg.eigvalsh(G)[-1])
    C = int(lab.max()) + 1
    teacher = dynamics.simulate_classifier(
        G, lab, lr=lr, steps=steps, classes=C, G_test=Gt
    )
    student = dynamics.simulate_classifier(
        G, lab, lr=lr, steps=steps, classes=C, G_test=Gt,
        teacher_logits=teacher.train_pred[-1],
    )  # fmt: skip
    return teacher, student, lr


def sin_problem(cfg: Config, seed: int):
    """Noisy sin(2πx) samples, the Laplace kernel and its spectrum."""
    data = ksd.data.sinusoid(cfg.sin_n, noise=cfg.sin_noise, seed=seed)
    kernel = ksd.kernels.Laplace(lengthscale=cfg.sin_lengthscale)
    spec = ksd.spectrum(kernel, jnp.asarray(data.X))
    return data, kernel, spec
