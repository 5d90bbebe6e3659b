"""How far round-off in ``G`` can move a self-distillation trace, and when to say so.

The spectrum is exact for ``G + E`` with ``‖E‖ <= η = √K · eps · d_max`` (eps the
dtype's machine epsilon). :func:`error_bound` turns ``η`` into a first-order
bound on the relative error of every round's multiplier and predictions;
:func:`report_rounds` raises on infeasible rounds and warns when a multiplier
falls below the noise floor or the bound exceeds :data:`ACCURACY_WARNING`.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd._warn import warn
from kernel_sd.solvers import (
    STATUS_INFEASIBLE,
    STATUS_NOT_CONVERGED,
    raise_for_status,
)
from kernel_sd.spectra.base import Spectrum

__all__ = ["ACCURACY_WARNING", "error_bound", "report_rounds"]

ACCURACY_WARNING = {8: 1e-6, 4: 1e-3}
"""Warn when the first-order error bound of a trace (:func:`error_bound`) exceeds
this, by itemsize of the dtype: 1e-6 in float64 (10 of its 16 digits lost), 1e-3
in float32 (4 of its 7)."""


def error_bound(c, d, z0, s_perp0, shrinkage, eta, *, constrained: bool) -> np.ndarray:
    """``(..., T)`` first-order bound ``ρ_t`` on the relative errors of rounds ``0..t``.

    ``η`` bounds the round-off ``E`` in ``G`` (``‖E‖ <= η``); the spectrum is
    exact for ``G + E``. With ``R = (cI + G)^{-1}``:

    - the fit ``f = y − cRy`` moves by ``δf = c R E R y``, so
      ``‖δf(X)‖ <= (η/c) ‖y − f(X)‖``;
    - ``φ(c) = ‖cRy‖² = Kε`` moves by at most ``2 (η/c) Kε``, so the root moves by
      ``|δc|/c <= 2 (η/c)/κ`` with ``κ = d log φ / d log c`` at the root, and
      ``∂f/∂c = −RGRy`` adds ``(|δc|/c) ‖y − f(X)‖`` to ``δf``.

    Per round ``ρ_t = (η/c_t)(1 + 2/κ_t)`` (constrained) or ``η/c_t`` (penalised),
    bounding ``|δc_t|/c_t`` and ``‖δf_t(X)‖/‖y_t − f_t(X)‖``; each round's
    targets carry the errors of the rounds before, so the bound returned is the
    running sum over rounds. Derived (first order in ``η/c_t``). Against mpmath
    (50 digits; three RBF problems, ``c_0`` from 1.5 to 1e6 times the floor) it
    held everywhere, exceeding the measured errors of ``c_t`` by factors of 44 to
    1e4 and of the training predictions by 1.3 to 1e6.

    Args:
        c: ``(..., T)`` multipliers (``+inf`` after a collapse: no error).
        d: ``(r,)`` eigenvalues; ``z0``: ``(r, q)`` targets in the eigenbasis;
            ``s_perp0``: their energy outside ``span V``.
        shrinkage: ``(..., T, r)`` ``A_t`` (round ``t``'s targets are ``A_{t−1} z0``).
        eta: the bound ``η`` on ``‖E‖``; :func:`report_rounds` uses ``√K · eps · d_max``
            (``‖E‖ <= ‖E‖_F <= eps ‖G‖_F <= eps √K d_max`` for entrywise
            relative round-off ``eps``).
        constrained: ``c`` solves the constraint (True) or is fixed (``lam``).
    """
    return np.asarray(_bound(c, d, z0, s_perp0, shrinkage, eta, constrained=constrained))


@partial(jax.jit, static_argnames="constrained")
def _bound(c, d, z0, s_perp0, shrinkage, eta, *, constrained: bool) -> Array:
    """:func:`error_bound` as one compiled program, in the dtype of the trace."""
    live = jnp.isfinite(c) & (c > 0)
    cc = jnp.where(live, c, 1.0)
    if constrained:
        lead = (1,) * (shrinkage.ndim - 1)  # explicit broadcasting over rounds, grids
        s0 = jnp.sum(z0 * z0, axis=-1).reshape(lead + d.shape)  # round-0 energies
        ones = jnp.ones_like(shrinkage[..., :1, :])
        energies = jnp.concatenate([ones, shrinkage[..., :-1, :]], axis=-2) ** 2 * s0
        a = cc[..., None] / (cc[..., None] + d.reshape(lead + d.shape))
        b = 1.0 - a
        phi = jnp.sum(energies * a * a, axis=-1)
        phi = phi.at[..., 0].add(s_perp0)
        slope = 2.0 * jnp.sum(energies * a * a * b, axis=-1)
        kappa = jnp.where(phi > 0, slope / jnp.where(phi > 0, phi, 1.0), jnp.inf)
        amp = 1.0 + 2.0 / kappa
    else:
        amp = jnp.ones_like(c)
    rho = jnp.where(live, eta / cc * amp, 0.0)
    return jnp.cumsum(rho, axis=-1)


def report_rounds(
    c, status, spec: Spectrum, eps, z0: Array, s_perp0: Array, A, kernel=None
) -> None:
    """Raise on infeasible / non-converged rounds; warn when ``c`` nears the floor.

    Two warnings: a multiplier under the noise floor (the fit is round-off), or
    else a first-order error bound (:func:`error_bound`) above
    :data:`ACCURACY_WARNING`.
    """
    status = np.asarray(status)
    failed = (status == STATUS_INFEASIBLE) | (status == STATUS_NOT_CONVERGED)
    floor = float(spec.noise_floor)
    if failed.any():
        # Only round 0 can be infeasible: later targets have no null-space part.
        idx = tuple(np.argwhere(failed)[0])
        bad_eps = float(np.asarray(eps).reshape(-1)[idx[0]]) if len(idx) == 2 else eps
        below = np.asarray(spec.eigvals) <= floor
        z0_2 = np.sum(np.asarray(z0, np.float64) ** 2, axis=-1)
        null = float(s_perp0) + float(np.sum(z0_2[below]))
        raise_for_status(
            int(status[idx]),
            null,
            spec.n_train,
            bad_eps,
            low_rank=not spec.complete,
            kernel=kernel,
        )
    c = np.asarray(c)
    low = np.isfinite(c) & (c < floor)
    if low.any():
        warn(
            f"{int(low.sum())} multiplier(s) c_t fell below the eigenvalue noise floor "
            f"{floor:.3e} (smallest c = {c[low].min():.3e}): those fits are dominated "
            "by round-off. Use a larger eps / lam."
        )
        return
    dtype = np.dtype(spec.eigvals.dtype)
    # η = √K · eps · d_max = floor/√K (the floor carries a Nyström route's round-off factor)
    eta = floor / np.sqrt(spec.n_train)
    rho = error_bound(c, spec.eigvals, z0, s_perp0, A, eta, constrained=eps is not None)
    worst = float(np.max(rho))
    if worst > ACCURACY_WARNING.get(dtype.itemsize, 1e-6):
        live = np.isfinite(c)
        smallest = float(c[live].min())
        warn(
            f"The smallest multiplier c_t = {smallest:.3e} is {smallest / floor:.3g} "
            f"times the eigenvalue noise floor {floor:.3e}, and the first-order bound "
            f"on the relative error of c_t and the predictions is {worst:.1e} "
            "(kernel_sd.distill.error_bound): they may have lost that many digits "
            "to the round-off in G. Use a larger eps / lam (further from the "
            "infeasible limit of eps), a kernel with fewer eigenvalues under the "
            "noise floor (a shorter lengthscale, a rougher kernel), or merge "
            "near-duplicate inputs."
        )
