"""Argument validation shared by the public wrappers.

Each check raises ``ValueError`` naming the argument, what is wrong and the way
out, so bad input never reaches a jitted core (where it would become NaN).
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
    "targets",
    "square_matrix",
    "positive_scalar",
    "positive_vector",
    "positive_int",
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
