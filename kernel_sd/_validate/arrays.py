"""Checks of array arguments: inputs, targets, matrices, weights, labels and results."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd._validate.scalars import positive_int, positive_vector
from kernel_sd._validate.values import all_finite, describe, real_array


def inputs(name: str, X) -> Array:
    """A 2-D, non-empty, finite floating array ``(n, p)`` of real numbers.

    Integers and booleans become the default floating dtype; float32 and
    float64 are kept.
    """
    original = real_array(name, X)
    X = jnp.asarray(original)
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
    """Targets ``(n,)`` or ``(n, q)`` matching ``n`` rows, finite, cast to ``dtype``.

    Dtype policy: the computation runs in ``dtype``, that of ``X`` (or of the
    spectrum). Targets that this rounds (float64 ``y`` with float32 ``X``, or
    integers beyond the float's exact range) give a warning that says by how
    much; casts that JAX's own configuration implies (float64 data with
    ``jax_enable_x64`` off) do not.
    """
    original = real_array(name, y)
    y = jnp.asarray(original)
    if y.ndim not in (1, 2):
        raise ValueError(f"`{name}` must have shape (n,) or (n, q), got {y.shape}.")
    if y.shape[0] != n:
        raise ValueError(
            f"`{name}` has {y.shape[0]} rows but X has {n}; pass one target per "
            "training point."
        )
    if y.size == 0:
        raise ValueError(
            f"`{name}` is empty (shape {y.shape}); pass at least one column."
        )
    if not all_finite(original):
        raise ValueError(f"`{name}` contains NaN or inf; drop or impute those rows.")
    dtype = jnp.dtype(dtype)
    if y.dtype != dtype and y.dtype != jnp.bool_:
        _warn_if_rounded(name, original, y.dtype, dtype)
    return y.astype(dtype)


def _warn_if_rounded(name: str, original, source, dtype) -> None:
    """Warn when casting ``original`` (held as ``source``) to ``dtype`` changes it."""
    from kernel_sd._warn import warn

    exact = np.asarray(original).astype(np.dtype(source))
    rounded = exact.astype(np.dtype(dtype)).astype(np.dtype(source))
    if np.array_equal(rounded, exact):
        return
    if np.dtype(source).kind in "iu":  # exact integer difference, then as a float
        lost = float(np.max(np.abs(exact - rounded)))
    else:
        lost = float(np.max(np.abs(exact.astype(np.float64) - rounded)))
    wide = exact.astype(np.float64)
    scale = float(np.max(np.abs(wide))) or 1.0
    warn(
        f"`{name}` ({np.dtype(source)}) is rounded to {np.dtype(dtype)}, the dtype "
        f"of `X` (or of the spectrum) the computation runs in: it changes by up to "
        f"{lost:.3g} ({lost / scale:.1e} of max |{name}|). Pass `X` as float64 with "
        f"x64 enabled to keep `{name}`, or `{name}` as {np.dtype(dtype)} to accept "
        "the rounding."
    )


@jax.jit
def _scaled_energy(y: Array) -> tuple[Array, Array]:
    """``max |y|`` and ``Σ (y / max |y|)²``: ``‖y‖²`` without over- or underflow.

    Reductions on the device, so a global array over several processes needs
    no gathering (both results are replicated scalars).
    """
    a = jnp.abs(y)
    top = jnp.max(a)
    return top, jnp.sum((a / jnp.where(top > 0, top, 1.0)) ** 2)


def target_energy(name: str, y: Array) -> None:
    """``‖y‖²`` of constrained targets fits the dtype: neither overflows nor underflows.

    The constraint ``(1/K)‖f(X) − y‖² <= ε`` is solved on squared norms; targets
    near the dtype's range limits would make them inf or subnormal (a silent
    loss of every digit).
    """
    dtype = jnp.dtype(y.dtype)
    info = np.finfo(dtype)
    top, ratio = (float(v) for v in _scaled_energy(jnp.asarray(y)))
    if top == 0.0:
        return  # y = 0: the fit collapses at round 0, exactly
    # log10 ‖y‖², computed without over- or underflow
    log_energy = 2.0 * math.log10(top) + math.log10(ratio)
    if log_energy > math.log10(float(info.max) / 16.0):
        raise ValueError(
            f"`{name}` is too large for the constrained form in {dtype}: ‖{name}‖² ≈ "
            f"1e{log_energy:.0f} overflows (max {float(info.max):.3g}). Rescale it, "
            f"e.g. {name} / {name}.std() with eps scaled by the square of that factor "
            "(the fits scale with it)."
        )
    if log_energy < math.log10(float(info.tiny) / float(info.eps)):
        raise ValueError(
            f"`{name}` is too small for the constrained form in {dtype}: ‖{name}‖² ≈ "
            f"1e{log_energy:.0f} is at the dtype's underflow limit, where squares "
            f"lose their digits. Rescale it, e.g. {name} / {name}.std() with eps "
            "scaled by the square of that factor."
        )


def square_matrix(name: str, G) -> Array:
    """A non-empty, finite, floating square matrix ``(K, K)`` of real numbers."""
    original = real_array(name, G)
    G = jnp.asarray(original)
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
    eigvals, eigvecs = real_array("eigvals", eigvals), real_array("eigvecs", eigvecs)
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


def shaped_like(name: str, a, like: Array) -> Array:
    """``a`` with the shape of ``like`` (e.g. a teacher's predictions of the labels)."""
    a = real_array(name, a)
    if not all_finite(a):
        raise ValueError(f"`{name}` contains NaN or inf.")
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


def finite_results(trace, what: str):
    """``trace`` when its predictions are finite, else a ValueError (never a silent NaN).

    The arguments were checked up front; what can still overflow is the
    arithmetic of the fit itself (e.g. targets near the dtype's limit divided by
    a tiny multiplier).
    """
    for field in ("train_pred", "test_pred"):
        value = getattr(trace, field)
        if value is not None and not all_finite(value):
            raise ValueError(
                f"{what}: `{field}` has NaN/inf entries: the fit overflows "
                f"{value.dtype} (targets or kernel values near the dtype's limits, "
                "or a multiplier far below them). Rescale `y` (and `X`), or use a "
                "larger eps / lam."
            )
    return trace


MAX_OUTPUT_GB = 8.0
"""Largest result (all rounds, times or steps of a trace) a public function builds."""


def output_size(
    name: str, value: int, numbers: int, itemsize: int, *, what: str, fix: str
) -> None:
    """Refuse before any work when a result of ``numbers`` values exceeds ``MAX_OUTPUT_GB``.

    ``name``/``value``: the argument that sets the size (e.g. ``rounds``);
    ``what`` describes the result, ``fix`` the way out.
    """
    gb = numbers * itemsize / 2**30
    if gb > MAX_OUTPUT_GB:
        raise ValueError(
            f"`{name}`={value} would build {what}: about {gb:.3g} GiB, over "
            f"{MAX_OUTPUT_GB:g} GiB. {fix}"
        )


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


def times(name: str, value) -> np.ndarray:
    """A non-empty 1-D vector of finite times ``>= 0`` (a scalar becomes length 1)."""
    arr = np.atleast_1d(np.asarray(real_array(name, value)))
    return positive_vector(name, arr, allow_zero=True)


def steps(name: str, value) -> np.ndarray:
    """A non-empty 1-D vector of integer step counts ``>= 0``."""
    arr = np.atleast_1d(np.asarray(real_array(name, value)))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"`{name}` must be an integer or a 1-D array of integers, got "
            f"{describe(value)}."
        )
    if (arr < 0).any():
        raise ValueError(f"`{name}` must be >= 0, got {arr.min()!r}.")
    return arr.astype(np.int64)
