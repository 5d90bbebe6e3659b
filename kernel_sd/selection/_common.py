"""The result types and the helpers shared by every selection route."""

from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd._warn import warn
from kernel_sd.solvers import STATUS_INFEASIBLE, STATUS_NOT_CONVERGED
from kernel_sd.spectra.exact import DEFAULT_MAX_MEMORY_GB


class GridErrors(NamedTuple):
    """Held-out errors of every (grid value, round); cross-validation adds a fold axis first."""

    mse: Array
    """(E, T) validation MSE of round ``t`` at grid value ``e``; ``+inf`` where infeasible."""
    accuracy: Array | None
    """(E, T) arg-max accuracy of the columns (one-hot targets); ``−inf`` where
    infeasible; None unless asked for."""
    c: Array
    """(E, T) multipliers ``c_t`` (``lam`` in the penalised form; ``+inf`` after collapse)."""
    status: Array
    """(E, T) root-finder status (``kernel_sd.solvers``: 0 ok, 1 collapsed, 2 infeasible)."""
    pred: Array | None
    """(E, T, m) or (E, T, m, q) predictions at the held-out points; None unless asked for."""


class GCVScores(NamedTuple):
    """Generalised cross-validation of every (grid value, round) on the full data."""

    score: Array
    """(E, T) ``GCV_t = (1/N) ‖y − f_t(X)‖² / (1 − df_t/N)²`` with ``N = n q``; ``+inf``
    where infeasible or where ``df_t >= N`` (an interpolating fit)."""
    mse: Array
    """(E, T) training error ``(1/N) ‖y − f_t(X)‖²`` (weighted with sample weights)."""
    df: Array
    """(E, T) degrees of freedom ``df_t = tr(∂f_t(X)/∂y)``; ``q tr(H_t)`` when penalised."""
    c: Array
    """(E, T) multipliers ``c_t``."""
    status: Array
    """(E, T) root-finder status."""


def _failed(status: Array) -> Array:
    """(E, 1) grid values with an infeasible or non-converged round (scored as lost)."""
    bad = (status == STATUS_INFEASIBLE) | (status == STATUS_NOT_CONVERGED)
    return jnp.any(bad, axis=-1, keepdims=True)


def _grid(eps, lam):
    """``(constrained, values)`` of a validated ``eps`` or ``lam`` grid."""
    constrained, eps, lam = _validate.penalty(eps, lam, batched=True)
    return constrained, (eps if constrained else lam)


def _as_columns(y: Array) -> Array:
    return y[:, None] if y.ndim == 1 else y


def _null_energy(d: Array, z0: Array, s_perp0: Array, floor: Array) -> Array:
    """Energy of the targets on the numerical null space of ``G`` (eigenvalues at
    or below ``floor``, the spectrum's noise floor) and outside ``V``."""
    return s_perp0 + jnp.sum(jnp.where(d[:, None] > floor, 0.0, z0 * z0))


def _report(values, constrained, status, c, floors, min_eps, where: str) -> None:
    """One warning per kind of problem over the whole search (never an exception).

    ``status``, ``c``: ``(F, E, T)``; ``floors``: ``(F,)`` noise floors;
    ``min_eps``: ``(F,)`` smallest feasible ε of each training set.
    """
    status, c = np.asarray(status), np.asarray(c)
    name = "eps" if constrained else "lam"
    infeasible = (status == STATUS_INFEASIBLE).any(axis=(0, 2))
    if infeasible.any():
        bad = np.asarray(values)[infeasible]
        warn(
            f"{int(infeasible.sum())} of {len(values)} `eps` values ("
            + ", ".join(f"{v:.4g}" for v in bad[:5])
            + (", ..." if bad.size > 5 else "")
            + f") are infeasible {where}: the targets' energy on the numerical null "
            "space of G alone exceeds K·eps, so no c > 0 meets the constraint; they "
            f"score +inf. Every value above {float(np.max(min_eps)):.6g} is feasible "
            "there; a smoother or wider kernel also helps."
        )
    stalled = (status == STATUS_NOT_CONVERGED).any(axis=(0, 2))
    if stalled.any():
        warn(
            f"The multiplier search did not converge for {int(stalled.sum())} `eps` "
            "values; they score +inf. Please report this problem with its data."
        )
    floors = np.asarray(floors).reshape((-1,) + (1,) * (c.ndim - 1))
    low = np.isfinite(c) & (c < floors) & (status != STATUS_INFEASIBLE)
    if low.any():
        cells = low.any(axis=0)
        warn(
            f"{int(cells.sum())} ({name}, round) pair(s) have a multiplier c_t below "
            f"the eigenvalue noise floor (smallest c = {c[low].min():.3e}): those "
            f"fits are dominated by round-off. Use larger `{name}` values or a "
            "smoother kernel."
        )


def _check_memory(n: int, n_fold: int, itemsize: int) -> None:
    need_gb = (n * n + 3.0 * n_fold * n_fold) * itemsize / 2**30
    if need_gb > DEFAULT_MAX_MEMORY_GB:
        raise ValueError(
            f"Cross-validation on n={n} points keeps the {n}x{n} Gram matrix and "
            f"factorises {n_fold}x{n_fold} folds: about {need_gb:.1f} GiB, over "
            f"{DEFAULT_MAX_MEMORY_GB:g} GiB. Score one split with a low-rank spectrum "
            "instead (validation_errors(..., spectrum=ksd.nystrom_spectrum(...))), or "
            "subsample the data."
        )
