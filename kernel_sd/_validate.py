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

import dataclasses
import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

__all__ = [
    "all_finite",
    "real_array",
    "describe",
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
    "finite_results",
    "kernel_values",
    "output_size",
    "MAX_OUTPUT_GB",
    "target_energy",
    "kernel_hyperparameters",
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


def describe(value) -> str:
    """A short description of ``value`` for error messages (never its data)."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}, dtype {dtype}"
    if shape is not None:  # e.g. a DataFrame (its repr would print the data)
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def real_array(name: str, value):
    """``value`` as a numpy or jax array of real numbers (bool, integer or floating).

    Rejects, with a ValueError naming ``name`` and never printing the data:
    complex numbers (the imaginary part would be dropped), text and other Python
    objects (a DataFrame with text columns names those columns), masked arrays
    with masked entries (the mask would be dropped), ragged nested lists, and
    half-precision floats (the kernels need float32 or float64).
    """
    if isinstance(value, jax.Array):
        arr = value
    else:
        if isinstance(value, np.ma.MaskedArray):
            masked = int(np.ma.count_masked(value))
            if masked:
                raise ValueError(
                    f"`{name}` is a masked array with {masked} masked entries; drop "
                    "or impute them (e.g. np.ma.compress_rows) before passing it."
                )
            value = np.ma.getdata(value)
        columns = getattr(value, "columns", None)
        dtypes = getattr(value, "dtypes", None)
        if columns is not None and hasattr(dtypes, "items"):  # a DataFrame
            bad = [
                str(col)
                for col, t in dtypes.items()
                if getattr(t, "kind", "O") not in "biuf"
            ]
            if bad:
                shown = bad[:5] + (["..."] if len(bad) > 5 else [])
                raise ValueError(
                    f"`{name}` has {len(bad)} non-numeric column(s) {shown}; encode "
                    "or drop them (e.g. pandas.get_dummies or .drop(columns=...)) "
                    "and pass the numbers."
                )
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"`{name}` is not a numeric array ({type(value).__name__}): "
                f"{str(err)[:120]}; pass an (n, p) array of numbers."
            ) from None
    dtype = np.dtype(arr.dtype)
    if dtype.kind == "c":
        raise ValueError(
            f"`{name}` is complex ({dtype}); kernels and fits need real numbers. Pass "
            f"the real part, or real and imaginary parts as separate columns."
        )
    if dtype.kind == "f" and dtype.itemsize < 4 or dtype.name == "bfloat16":
        raise ValueError(
            f"`{name}` is {dtype.name} (half precision); pass float32 or float64."
        )
    if dtype.kind not in "biuf":
        what = (
            " (text, None or missing values such as pandas.NA)"
            if dtype.kind == "O"
            else ""
        )
        raise ValueError(
            f"`{name}` must hold numbers, got dtype {dtype}{what} ({describe(value)}); "
            f"convert it, e.g. np.asarray({name}, dtype=float), after encoding any "
            "text and dropping or imputing missing values."
        )
    return arr


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


def kernel_inputs(kernel, X, name: str = "X") -> Array:
    """A (kernel, training inputs) pair: a library kernel and ``X`` as by :func:`inputs`."""
    from kernel_sd._pytree import structure_names_class
    from kernel_sd.kernels import Kernel

    if not isinstance(kernel, Kernel):
        raise ValueError(
            f"`kernel` must be a kernel_sd.kernels.Kernel (e.g. RBF(lengthscale=1.0)), "
            f"got {type(kernel).__name__}."
        )
    if not structure_names_class(kernel):
        raise ValueError(
            f"`kernel`: the class {type(kernel).__name__} is registered with "
            "jax.tree_util.register_dataclass, whose tree structure does not include "
            "the class, so jit may run the compiled program of another kernel with "
            "the same fields. Register it with "
            "kernel_sd.dataclass_pytree(data_fields=..., meta_fields=...) instead."
        )
    kernel_hyperparameters(kernel)
    X = inputs(name, X)
    _probe_kernel(kernel, X)
    return X


def _probe_kernel(kernel, X: Array) -> None:
    """``kernel(x_0, x_0)`` evaluates to a ``(1, 1)`` array: catches hyper-parameters of
    the wrong shape (any with several values broadcasts to a larger result), or a
    kernel that fails on these inputs, before any long work."""
    kind = type(kernel).__name__
    P = X[:1]
    try:
        shape = tuple(kernel(P, P).shape)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{kind}: evaluating the kernel on a row of `X` failed "
            f"({str(err)[:150]}); check its hyper-parameters (real scalars) and that "
            "`X` has the features it expects."
        ) from None
    if shape != (1, 1):
        raise ValueError(
            f"{kind}: kernel(x, x) has shape {shape}, not (1, 1): its "
            "hyper-parameters must be scalars. For a batch of kernels jax.vmap over "
            "them; for per-feature lengthscales rescale the columns of X."
        )


def kernel_hyperparameters(kernel) -> None:
    """Every hyper-parameter (pytree leaf) of ``kernel``: finite real numbers.

    The kernels check signs and ranges when built; this catches what a built
    kernel can still carry into a computation: text, booleans, complex numbers,
    None, lists and NaN/inf (arrays of several values are caught by evaluating
    the kernel once, in :func:`kernel_inputs`). Tracers (a kernel inside a
    transformation) are not checked.
    """
    kind = type(kernel).__name__
    if dataclasses.is_dataclass(kernel):
        for f in dataclasses.fields(kernel):
            value = getattr(kernel, f.name)
            if isinstance(value, (list, tuple, dict)):
                raise ValueError(
                    f"{kind}: hyper-parameter `{f.name}` must be a scalar, got a "
                    f"{type(value).__name__}; pass e.g. {f.name}=1.0."
                )
    leaves = jax.tree_util.tree_flatten_with_path(kernel, is_leaf=lambda v: v is None)
    for path, value in leaves[0]:
        field = ".".join(
            str(getattr(p, "name", getattr(p, "key", getattr(p, "idx", p))))
            for p in path
        )
        if isinstance(value, jax.core.Tracer):
            continue
        ok = (
            value is not None
            and not isinstance(value, (bool, np.bool_, str, bytes))
            and np.asarray(value).dtype.kind in "iuf"
        )
        if not ok:
            raise ValueError(
                f"{kind}: hyper-parameter `{field}` must be a real number, got "
                f"{describe(value)} ({type(value).__name__}); pass e.g. {field}=1.0."
            )
        if not np.isfinite(np.asarray(value)).all():
            raise ValueError(
                f"{kind}: hyper-parameter `{field}` must be finite, got "
                f"{describe(value)}."
            )


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


def target_energy(name: str, y: Array) -> None:
    """``‖y‖²`` of constrained targets fits the dtype: neither overflows nor underflows.

    The constraint ``(1/K)‖f(X) − y‖² <= ε`` is solved on squared norms; targets
    near the dtype's range limits would make them inf or subnormal (a silent
    loss of every digit).
    """
    dtype = jnp.dtype(y.dtype)
    info = np.finfo(dtype)
    a = np.abs(np.asarray(y, np.float64))
    top = float(a.max())
    if top == 0.0:
        return  # y = 0: the fit collapses at round 0, exactly
    # log10 ‖y‖², computed without over- or underflow
    log_energy = 2.0 * math.log10(top) + math.log10(float(np.sum((a / top) ** 2)))
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


def real_number(name: str, value) -> float:
    """``value`` as a Python float: a real number or a 0-d real array.

    Rejects booleans, text, complex numbers, None and arrays of several values,
    which ``float()`` would either accept silently or fail on obscurely.
    """
    if isinstance(value, (bool, np.bool_)):
        ok = False
    elif isinstance(value, numbers.Real):
        ok = True
    elif isinstance(value, (np.ndarray, jax.Array)):
        ok = value.ndim == 0 and np.dtype(value.dtype).kind in "iuf"
    else:
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` must be a real number (int or float), got {describe(value)} "
            f"({type(value).__name__})."
        )
    return float(value) + 0.0  # + 0.0 turns -0.0 into 0.0


def positive_scalar(name: str, value, *, allow_zero: bool = False) -> float:
    """A finite real number ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    v = real_number(name, value)
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be finite and {bound}, got {v!r}.")
    return v


def positive_vector(name: str, value, *, allow_zero: bool = False) -> np.ndarray:
    """A non-empty 1-D array of finite reals ``> 0`` (or ``>= 0``)."""
    raw = np.asarray(real_array(name, value))
    mixed = isinstance(value, (list, tuple)) and any(
        isinstance(v, (bool, np.bool_)) for v in value
    )  # numpy turns [True, 0.1] into floats
    if raw.dtype.kind == "b" or mixed:
        raise ValueError(
            f"`{name}` must hold real numbers, got booleans ({describe(value)})."
        )
    arr = raw.astype(float) + 0.0
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


def _as_integer(value):
    """``value`` as a Python int when it is an integer (0-d integer arrays too), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if (
        isinstance(value, (np.ndarray, jax.Array))
        and value.ndim == 0
        and np.dtype(value.dtype).kind in "iu"
    ):
        return int(value)
    return None


def positive_int(name: str, value) -> int:
    """An integer ``>= 1`` (Python, numpy, or a 0-d integer array)."""
    v = _as_integer(value)
    if v is None or v < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {describe(value)}.")
    return v


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
    v = _as_integer(value)
    if v is None or v < minimum or (maximum is not None and v > maximum):
        label = f"`{name}` ({what})" if what else f"`{name}`"
        bound = (
            f">= {minimum}"
            if maximum is None
            else f"with {minimum} <= {name} <= {maximum}"
        )
        raise ValueError(
            f"{label} must be an integer {bound}, got {describe(value)}"
            + (f"; {hint}" if hint else ".")
        )
    return v


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


def spectrum_of_inputs(name: str, spec, X: Array, kernel=None):
    """A spectrum computed from these training inputs ``X`` (validated) and ``kernel``.

    Checks the number of points and, when the spectrum carries them, the
    fingerprint of its inputs (:func:`kernel_sd.spectra.base.input_fingerprint`:
    other points of the same ``n``, reordered rows) and its kernel values at a
    few training points (:func:`kernel_sd.spectra.base.kernel_fingerprint`:
    another kernel or other hyper-parameters). Either would silently give wrong
    predictions.
    """
    from kernel_sd.spectra.base import fingerprint_mismatch, kernel_mismatch

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
    if kernel is not None and kernel_mismatch(spec, kernel, X):
        raise ValueError(
            f"`{name}` was computed with another kernel than `kernel` "
            f"({type(kernel).__name__}): their values at the training points differ, "
            "so the eigenpairs belong to another Gram matrix. Pass the kernel the "
            "spectrum was computed with, or recompute it with ksd.spectrum(kernel, X)."
        )
    return spec


def feature_rows(W, spec, dtype) -> Array | None:
    """Optional ``(m, r)`` rows ``g_xᵀ V`` matching the spectrum's ``r`` eigenpairs."""
    if W is None:
        return None
    r = spec.eigvals.shape[0]
    W = real_array("test_features", W)
    if not all_finite(W):
        raise ValueError("`test_features` contains NaN or inf.")
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
    G_test = real_array(name, G_test)
    if not all_finite(G_test):
        raise ValueError(f"`{name}` contains NaN or inf.")
    G_test = jnp.asarray(G_test, G.dtype)
    if G_test.ndim != 2 or G_test.shape[1] != G.shape[0]:
        raise ValueError(
            f"`{name}` must be (m, {G.shape[0]}) = k(X_test, X)/K, got "
            f"shape {G_test.shape}."
        )
    return G_test


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


def kernel_values(kernel, K: Array) -> Array:
    """``K = k(X, Z)`` when its entries are finite, else a ValueError naming the kernel."""
    if not all_finite(K):
        raise ValueError(
            f"k(X, Z) has NaN/inf entries: {type(kernel).__name__} overflows or "
            "divides 0/0 for these inputs and hyper-parameters (e.g. a lengthscale "
            "near 0, or polynomial and linear kernel values beyond the float range). "
            "Rescale `X` (e.g. standardise its columns) or choose hyper-parameters "
            "of the data's scale."
        )
    return K


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
