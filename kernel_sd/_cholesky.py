"""The penalised form by one Cholesky factorisation of ``G + lam·I`` (``method="cholesky"``).

Every round of the penalised form solves with the same matrix ``lam I + G``, so
one factorisation and two triangular solves per round give all predictions
(``solvers.penalised_rounds``), with no eigenbasis: the trace's per-direction
fields are None.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate, fit
from kernel_sd._warn import warn
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE
from kernel_sd.solvers import (
    penalised_rounds,
)
from kernel_sd.spectra._products import kernel_matrix, kernel_trace
from kernel_sd.spectra.base import check_kernel_values, noise_floor
from kernel_sd.spectra.exact import (
    DEFAULT_MAX_MEMORY_GB,
    _check_memory,
)
from kernel_sd.spectra.features import (
    check_finite_at,
    dual_predictions,
)

DistillTrace = fit.Trace


def _check_cholesky(constrained: bool, lam, spec) -> None:
    """Refuse what the Cholesky route cannot do, before any work."""
    if constrained:
        raise ValueError(
            "method='cholesky' serves the penalised form (`lam`) only: each round of "
            "the constrained form (`eps`) solves for its multiplier over the "
            "eigenvalues of G. Use method='eigh' with `eps`."
        )
    if spec is not None:
        raise ValueError(
            "`spectrum` was given with method='cholesky': a spectrum already is "
            "the factorisation. Use method='eigh' to reuse it, or drop `spectrum`."
        )
    if not lam > 0:
        raise ValueError(
            "method='cholesky' needs `lam` > 0 (G + lam·I must be positive "
            "definite); for lam = 0 (interpolation) use method='eigh'."
        )


def _distill_cholesky(kernel, X, y, *, lam, rounds, X_test) -> DistillTrace:
    """All rounds of the penalised form from one Cholesky of ``G + lam·I``.

    ``a_t = (lam I + G)^{-1} y_t``, ``f_t(X) = G a_t = y_{t+1}`` and
    ``f_t(X_test) = k(X_test, X) a_t / K`` (see ``solvers.penalised_rounds``):
    no eigenbasis, so the trace's per-direction fields are None.
    """
    n = X.shape[0]
    # Gram matrix and its factor: two n x n arrays (the exact path's guard).
    _check_memory(n, X.dtype.itemsize, DEFAULT_MAX_MEMORY_GB)
    # The factorisation reads one triangle and G a needs no exact symmetry.
    K_xx, finite, diag_max = kernel_matrix(
        kernel, X, block_size=DEFAULT_BLOCK_SIZE, symmetrise=False
    )
    check_kernel_values(
        kernel,
        finite,
        diag_max,
        f"The Gram matrix k(X, X) of {type(kernel).__name__}",
        X.dtype,
    )
    # d_max <= tr G, so this bound is at or above the eigenbasis route's noise
    # floor K·eps·d_max: it warns whenever that route would, and costs O(K).
    floor = float(noise_floor(n, kernel_trace(kernel, X)))
    if lam < floor:
        warn(
            f"`lam`={lam:.3e} is below K·eps·tr G = {floor:.3e}, the round-off level "
            "of G (an upper bound of the noise floor): the fits may be dominated "
            "by round-off. Use a larger lam, or method='eigh' to see the exact "
            "noise floor."
        )
    Y = y[:, None] if y.ndim == 1 else y
    a, f = penalised_rounds(K_xx, Y, float(lam), rounds)
    test = None
    if X_test is not None:
        test = dual_predictions(kernel, X, X_test, a, block_size=DEFAULT_BLOCK_SIZE)
        if _validate.all_finite(f):
            check_finite_at(kernel, test, "X_test")
    norm2, c, status = _cholesky_summary(Y, f, jnp.asarray(lam, X.dtype))
    if y.ndim == 1:
        a, f = a[..., 0], f[..., 0]
        test = None if test is None else test[..., 0]
    return fit.Trace(
        filter=None,
        train_pred=f,
        test_pred=test,
        coef=None,
        z0=None,
        spectrum=None,
        c=c,
        status=status,
        target_norm2=norm2,
        lam=jnp.asarray(lam, X.dtype),
        dual_coef=a,
    )


@jax.jit
def _cholesky_summary(Y: Array, f: Array, lam: Array):
    """``‖y_t‖²`` (``y_0 = y``, ``y_{t+1} = f_t(X)``), ``c_t = lam`` and status 0."""
    norms = jnp.sum(f * f, axis=(1, 2))
    norm2 = jnp.concatenate([jnp.sum(Y * Y)[None], norms[:-1]])
    T = f.shape[0]
    return norm2, jnp.full((T,), lam), jnp.zeros((T,), jnp.int32)
