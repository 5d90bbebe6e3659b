"""Checks of library objects against their arguments: kernels, spectra and features."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd._blocks import evaluate
from kernel_sd._validate.arrays import inputs
from kernel_sd._validate.values import all_finite, describe, real_array


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
        shape = tuple(evaluate.eval_shape(kernel, P, P).shape)
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
