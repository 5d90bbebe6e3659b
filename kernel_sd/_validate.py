"""Argument validation, done once at the public boundary.

Each check raises ``ValueError`` naming the argument, what is wrong and the way
out, so bad input never reaches a jitted core (where it would become NaN). The
public functions call these checks on their arguments and then hand plain,
trusted arrays to private cores that do not check again.

This module sits below every other one; the two library types it checks
(:class:`kernel_sd.kernels.Kernel`, :class:`kernel_sd.spectra.Spectrum`) are
imported when first needed.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = [
    "all_finite",
    "inputs",
    "kernel_inputs",
    "same_features",
    "targets",
    "square_matrix",
    "symmetric_matrix",
    "eigenpairs",
    "positive_scalar",
    "positive_vector",
    "positive_int",
    "integer",
    "choice",
    "penalty",
    "times",
    "steps",
    "alpha",
    "step_size",
    "spectrum",
    "spectrum_of_inputs",
    "feature_rows",
    "cross_gram",
    "shaped_like",
    "class_labels",
    "sample_weight",
]


@jax.jit
def _device_all_finite(a: Array) -> Array:
    return jnp.all(jnp.isfinite(a))


def all_finite(a) -> bool:
    """Every entry of ``a`` finite: a jax array is checked where it lives (one
    compiled reduction), anything else (numpy, lists) on the host, uncompiled."""
    if isinstance(a, jax.Array):
        return bool(_device_all_finite(a))
    return bool(np.isfinite(np.asarray(a)).all())


def inputs(name: str, X) -> Array:
    """A 2-D, non-empty, finite floating array ``(n, p)``."""
    original, X = X, jnp.asarray(X)
    if X.ndim != 2:
        raise ValueError(
            f"`{name}` must be a 2-D (n, p) array, got shape {X.shape}; "
            f"reshape 1-D inputs with {name}[:, None]."
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"`{name}` is empty (shape {X.shape}).")
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    if not all_finite(original):
        raise ValueError(f"`{name}` contains NaN or inf; drop or impute those rows.")
    return X


def kernel_inputs(kernel, X, name: str = "X") -> Array:
    """A (kernel, training inputs) pair: a library kernel and ``X`` as by :func:`inputs`."""
    from kernel_sd.kernels import Kernel

    if not isinstance(kernel, Kernel):
        raise ValueError(
            f"`kernel` must be a kernel_sd.kernels.Kernel (e.g. RBF(lengthscale=1.0)), "
            f"got {type(kernel).__name__}."
        )
    return inputs(name, X)


def same_features(name: str, X_new: Array, X: Array) -> Array:
    """``X_new`` (validated like :func:`inputs`) with as many columns as ``X``, in its dtype."""
    X_new = inputs(name, X_new)
    if X_new.shape[1] != X.shape[1]:
        raise ValueError(
            f"`{name}` has {X_new.shape[1]} features but `X` has {X.shape[1]}; "
            "both must have the same number of columns."
        )
    return X_new.astype(X.dtype)


def targets(name: str, y, n: int, dtype) -> Array:
    """Targets ``(n,)`` or ``(n, q)`` matching ``n`` rows, finite, cast to ``dtype``."""
    original, y = y, jnp.asarray(y)
    if y.ndim not in (1, 2):
        raise ValueError(f"`{name}` must have shape (n,) or (n, q), got {y.shape}.")
    if y.shape[0] != n:
        raise ValueError(
            f"`{name}` has {y.shape[0]} rows but X has {n}; pass one target per "
            "training point."
        )
    if not all_finite(original):
        raise ValueError(f"`{name}` contains NaN or inf; drop or impute those rows.")
    return y.astype(dtype)


def square_matrix(name: str, G) -> Array:
    """A non-empty, finite, floating square matrix ``(K, K)``."""
    original, G = G, jnp.asarray(G)
    if G.ndim != 2 or G.shape[0] != G.shape[1] or G.shape[0] == 0:
        raise ValueError(
            f"`{name}` must be a square (K, K) matrix, got shape {G.shape}."
        )
    if not jnp.issubdtype(G.dtype, jnp.floating):
        G = G.astype(jnp.result_type(float))
    if not all_finite(original):
        raise ValueError(f"`{name}` contains NaN or inf.")
    return G


def symmetric_matrix(name: str, G) -> Array:
    """A square matrix (as by :func:`square_matrix`) symmetric to round-off."""
    G = square_matrix(name, G)
    n = G.shape[0]
    scale = float(jnp.max(jnp.abs(G)))
    asym = float(jnp.max(jnp.abs(G - G.T)))
    if asym > 100 * n * float(jnp.finfo(G.dtype).eps) * max(scale, 1e-300):
        raise ValueError(
            f"`{name}` is not symmetric beyond round-off (max |G - G^T| = "
            f"{asym:.3e}); pass (G + G.T) / 2 if the asymmetry is expected."
        )
    return G


def eigenpairs(eigvals, eigvecs) -> tuple[Array, Array]:
    """Finite ``(r,)`` eigenvalues and ``(K, r)`` eigenvectors with ``K >= r``."""
    d, V = jnp.asarray(eigvals), jnp.asarray(eigvecs)
    if (
        d.ndim != 1
        or V.ndim != 2
        or V.shape[1] != d.shape[0]
        or V.shape[0] < d.shape[0]
    ):
        raise ValueError(
            f"`eigvals` (r,) and `eigvecs` (K, r) with K >= r are required, got "
            f"shapes {d.shape} and {V.shape}."
        )
    if not (all_finite(eigvals) and all_finite(eigvecs)):
        raise ValueError("`eigvals` / `eigvecs` contain NaN or inf.")
    return d, V


def positive_scalar(name: str, value, *, allow_zero: bool = False) -> float:
    """A finite real number ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a real number, got {value!r}.") from None
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be finite and {bound}, got {v!r}.")
    return v


def positive_vector(name: str, value, *, allow_zero: bool = False) -> np.ndarray:
    """A non-empty 1-D array of finite reals ``> 0`` (or ``>= 0``)."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array of values, got shape {arr.shape}."
        )
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if bad.any():
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"`{name}` must be finite and {bound}; entry {int(np.argmax(bad))} is "
            f"{arr[bad][0]!r}."
        )
    return arr


def positive_int(name: str, value) -> int:
    """An integer ``>= 1``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {value!r}.")
    return int(value)


def integer(
    name: str,
    value,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    what: str = "",
    hint: str = "",
) -> int:
    """An integer in ``[minimum, maximum]``; ``what`` names what it counts, ``hint`` the fix."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        label = f"`{name}` ({what})" if what else f"`{name}`"
        bound = (
            f">= {minimum}"
            if maximum is None
            else f"with {minimum} <= {name} <= {maximum}"
        )
        raise ValueError(
            f"{label} must be an integer {bound}, got {value!r}"
            + (f"; {hint}" if hint else ".")
        )
    return int(value)


def choice(name: str, value, options: tuple[str, ...]) -> str:
    """One of the strings ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(
            f"`{name}` must be one of {', '.join(map(repr, options))}, got {value!r}."
        )
    return value


def penalty(eps, lam, *, batched: bool):
    """Exactly one of ``eps`` (ε > 0) and ``lam`` (>= 0): a scalar, or a grid when ``batched``.

    Returns ``(constrained, eps, lam)`` with the unused one None.
    """
    if (eps is None) == (lam is None):
        raise ValueError(
            "Pass exactly one of `eps` (constrained form, (1/K)‖f(X) − y‖² <= eps) "
            "or `lam` (penalised form, c_t = lam every round)."
        )
    if batched:
        if eps is not None:
            return True, positive_vector("eps", eps), None
        return False, None, positive_vector("lam", lam, allow_zero=True)
    if eps is not None:
        return True, positive_scalar("eps", eps), None
    return False, None, positive_scalar("lam", lam, allow_zero=True)


def times(name: str, value) -> np.ndarray:
    """A non-empty 1-D vector of finite times ``>= 0`` (a scalar becomes length 1)."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    return positive_vector(name, arr, allow_zero=True)


def steps(name: str, value) -> np.ndarray:
    """A non-empty 1-D vector of integer step counts ``>= 0``."""
    arr = np.atleast_1d(np.asarray(value))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"`{name}` must be an integer or a 1-D array of integers, got {value!r}."
        )
    if (arr < 0).any():
        raise ValueError(f"`{name}` must be >= 0, got {arr.min()!r}.")
    return arr.astype(np.int64)


def alpha(value) -> float:
    """The label weight ``α ∈ [0, 1]`` of a student's targets."""
    a = positive_scalar("alpha", value, allow_zero=True)
    if a > 1:
        raise ValueError(
            f"`alpha` weighs labels against the teacher and must be in [0, 1], got {a!r}."
        )
    return a


def step_size(lr, d_max: float) -> float:
    """A gradient-descent step ``0 < lr < 2/d_max`` (stable along every direction)."""
    lr = positive_scalar("lr", lr)
    if lr * d_max >= 2.0:
        raise ValueError(
            f"`lr`={lr:g} gives lr·d_max = {lr * d_max:.3g} >= 2: gradient descent "
            f"diverges along the top eigendirection. Use lr < {2.0 / d_max:.4g}."
        )
    return lr


def spectrum(name: str, spec):
    """A :class:`kernel_sd.spectra.Spectrum`."""
    from kernel_sd.spectra.base import Spectrum

    if not isinstance(spec, Spectrum):
        raise ValueError(
            f"`{name}` must be a kernel_sd Spectrum (from ksd.spectrum, "
            f"ksd.nystrom_spectrum or ksd.lanczos_spectrum), got {type(spec).__name__}."
        )
    return spec


def spectrum_of_inputs(name: str, spec, X: Array):
    """A spectrum computed from these training inputs ``X`` (validated).

    Checks the number of points and, when the spectrum carries one, the
    fingerprint of its inputs (:func:`kernel_sd.spectra.base.input_fingerprint`):
    a spectrum of other points with the same ``n`` would silently give wrong
    predictions.
    """
    from kernel_sd.spectra.base import fingerprint_mismatch

    spectrum(name, spec)
    if spec.n_train != X.shape[0]:
        raise ValueError(
            f"`{name}` must be the Spectrum of k(X, X)/K for these {X.shape[0]} "
            f"points, got one of {spec.n_train} points; compute it with "
            "ksd.spectrum(kernel, X) (or the low-rank paths) on the same X."
        )
    problem = fingerprint_mismatch(spec, X)
    if problem:
        raise ValueError(
            f"`{name}` was computed from other inputs than `X` ({problem}): its "
            "eigenvectors belong to other points, so predictions would be wrong. "
            "Pass the X the spectrum was computed from, or recompute it with "
            "ksd.spectrum(kernel, X)."
        )
    return spec


def feature_rows(W, spec, dtype) -> Array | None:
    """Optional ``(m, r)`` rows ``g_xᵀ V`` matching the spectrum's ``r`` eigenpairs."""
    if W is None:
        return None
    r = spec.eigvals.shape[0]
    W = jnp.asarray(W, dtype)
    if W.ndim != 2 or W.shape[1] != r:
        raise ValueError(
            f"`test_features` must be (m, {r}) rows g_xᵀ V (from ksd.features), "
            f"got shape {W.shape}."
        )
    return W


def cross_gram(name: str, G_test, G: Array) -> Array | None:
    """Optional ``(m, K)`` rows ``k(X_test, X)/K`` against the ``(K, K)`` matrix ``G``."""
    if G_test is None:
        return None
    G_test = jnp.asarray(G_test, G.dtype)
    if G_test.ndim != 2 or G_test.shape[1] != G.shape[0]:
        raise ValueError(
            f"`{name}` must be (m, {G.shape[0]}) = k(X_test, X)/K, got "
            f"shape {G_test.shape}."
        )
    return G_test


def shaped_like(name: str, a, like: Array) -> Array:
    """``a`` with the shape of ``like`` (e.g. a teacher's predictions of the labels)."""
    a = jnp.asarray(a, like.dtype)
    if a.shape != like.shape:
        raise ValueError(
            f"`{name}` must have the shape of the labels {like.shape}, got {a.shape}."
        )
    return a


def class_labels(name: str, labels, n: int, classes) -> tuple[np.ndarray, int]:
    """``(n,)`` integer labels in ``[0, C)`` and ``C`` (``classes``, default ``max + 1``)."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.shape[0] != n or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(
            f"`{name}` must be ({n},) integers, got {lab.dtype} {lab.shape}."
        )
    C = int(lab.max()) + 1 if classes is None else positive_int("classes", classes)
    if lab.min() < 0 or lab.max() >= C:
        raise ValueError(
            f"`{name}` must lie in [0, {C}), got [{lab.min()}, {lab.max()}]."
        )
    return lab, C


def sample_weight(w, n: int) -> np.ndarray | None:
    """Optional per-row weights: ``(n,)`` (or a scalar for every row), finite, ``>= 0``, not all 0.

    Returns None for None, else a float64 array of shape ``(n,)``.
    """
    if w is None:
        return None
    try:
        arr = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"`sample_weight` must be an array of {n} numbers, got {type(w).__name__}."
        ) from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise ValueError(
            f"`sample_weight` must have shape ({n},), one weight per row of X, got "
            f"shape {arr.shape}."
        )
    bad = ~np.isfinite(arr) | (arr < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(
            f"`sample_weight` must be finite and >= 0; entry {i} is {arr[i]!r}. "
            "Drop rows you do not want rather than giving them a negative weight."
        )
    total = arr.sum()
    if not total > 0:
        raise ValueError(
            "`sample_weight` is zero for every row: at least one row needs a positive "
            "weight."
        )
    if not np.isfinite(total):
        raise ValueError(
            "`sample_weight` sums to inf; only ratios of weights matter, so divide "
            "them by their largest value."
        )
    return arr
