"""Problems and measurements shared by the network parts."""

from __future__ import annotations

from typing import NamedTuple

import jax
import numpy as np
from scipy.special import logsumexp

import kernel_sd as ksd

gd_filter = jax.jit(ksd.filters.gradient_descent)
"""``ksd.filters.gradient_descent`` (``1 − (1 − lr d)^N``) compiled as one program per
shape, not operation by operation."""


def host(*arrays):
    """NumPy copies of JAX arrays, to index without compiling a slice per shape."""
    return tuple(None if a is None else np.asarray(a) for a in arrays)


class Digits(NamedTuple):
    """A digits split with pixels centred by the training mean."""

    X: np.ndarray
    """(K, 64) training inputs."""
    y: np.ndarray
    """(K,) training labels."""
    X_test: np.ndarray
    """(m, 64) test inputs."""
    y_test: np.ndarray
    """(m,) test labels."""


def digits(n_train: int, seed: int) -> Digits:
    """``ksd.data.digits(n_train, seed=seed)`` with pixels centred by the training mean.

    Centring removes the mean image, whose direction otherwise dominates the NTK
    Gram matrix and, through ``lr = 1/d_max``, slows every other direction (on 400
    training digits, depth 2: ``d_1/d_2`` = 15.4 uncentred, 4.6 centred).
    """
    ds = ksd.data.digits(n_train, seed=seed)
    mean = ds.X.mean(axis=0)
    return Digits(ds.X - mean, ds.y, ds.X_test - mean, ds.y_test)


def noisy_labels(labels: np.ndarray, fraction: float, rng) -> np.ndarray:
    """Replace ``fraction`` of the labels by a uniformly drawn *different* class (of 10)."""
    lab = labels.copy()
    idx = rng.choice(lab.size, int(round(fraction * lab.size)), replace=False)
    lab[idx] = (lab[idx] + rng.integers(1, 10, idx.size)) % 10
    return lab


def log_odds_on(logits: np.ndarray, cls: np.ndarray) -> np.ndarray:
    """``log(p/(1 − p))`` of class ``cls`` under ``softmax(logits)``, computed stably.

    ``log p_c = l_c − LSE(l)`` and ``log(1 − p_c) = LSE(l_{j≠c}) − LSE(l)``: the
    definition of ``experiments/nagarajan2023`` (teacher's top-1 class).
    """
    rows = np.arange(logits.shape[0])
    others = np.array(logits, dtype=float)
    others[rows, cls] = -np.inf
    return logits[rows, cls] - logsumexp(others, axis=1)


def exaggeration(teacher_logits, student_logits, bins: int) -> dict:
    """Teacher vs student log-odds on the teacher's top class: slope and binned deviations.

    ``u = logit p_T[c*]``, ``v = logit p_S[c*]`` with ``c* = argmax f_T``; the slope
    and intercept of the least-squares line ``v ≈ a u + b`` (``np.polyfit``, as in
    ``experiments/nagarajan2023``: slope > 1 is exaggeration); ``bin_u`` and
    ``bin_dev`` are the means of ``u`` and of ``v − u`` in ``bins`` quantile bins of
    ``u``.
    """
    T, S = np.asarray(teacher_logits), np.asarray(student_logits)
    top = T.argmax(axis=1)
    u, v = log_odds_on(T, top), log_odds_on(S, top)
    slope, intercept = np.polyfit(u, v, 1)
    edges = np.quantile(u, np.linspace(0.0, 1.0, bins + 1))
    which = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, bins - 1)
    return {
        "slope": float(slope),
        "intercept": float(intercept),
        "bin_u": [float(u[which == b].mean()) for b in range(bins)],
        "bin_dev": [float((v - u)[which == b].mean()) for b in range(bins)],
    }


def error(logits: np.ndarray, labels: np.ndarray) -> float:
    """Classification error of the argmax."""
    return float(np.mean(np.asarray(logits).argmax(axis=-1) != labels))


def mean_sd(values) -> dict:
    """``{"mean": ..., "sd": ...}`` over the leading axis (seeds), as lists."""
    a = np.asarray(values, dtype=float)
    return {"mean": a.mean(axis=0).tolist(), "sd": a.std(axis=0).tolist()}
