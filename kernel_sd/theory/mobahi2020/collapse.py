"""[MFB20] multipliers and collapse: ``c_t``, ``r_t = ‖z_t‖/√(Kε)`` and ``t*``.

The quantities of a constrained trace (:func:`trace_arrays`), the intervals the
multipliers and the collapse round lie in, and the statements about them.
Notation: :mod:`kernel_sd.theory.mobahi2020`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from kernel_sd.theory.registry import BoundCheck, bound, statement
from kernel_sd.theory.samplers import sample_trace

if TYPE_CHECKING:
    from kernel_sd import DistillTrace

__all__ = [
    "TraceArrays",
    "trace_arrays",
    "multiplier_interval",
    "collapse_interval",
    "check_multiplier_bounds",
    "check_multiplier_increasing",
    "check_target_norm_decreasing",
    "check_collapse_round_bounds",
]


class TraceArrays(NamedTuple):
    """The float64 NumPy arrays of a single-output constrained trace."""

    c: np.ndarray
    """(T,) multipliers ``c_t`` (``+inf`` from the collapse on)."""
    A: np.ndarray
    """(T, r) shrinkage ``A_t``."""
    norm2: np.ndarray
    """(T,) ``‖z_t‖² = ‖y_t‖²``."""
    d: np.ndarray
    """(r,) eigenvalues, descending (0 on the numerical null space)."""
    z0: np.ndarray
    """(r,) ``z_0 = Vᵀ y``."""
    K: int
    """Number of training points."""
    eps: float
    """Constraint level ε."""
    t_star: int
    """Number of non-collapsed rounds (``T`` when none collapsed within the trace)."""


def trace_arrays(trace: DistillTrace) -> TraceArrays:
    """Extract the arrays the checks need; ``ValueError`` for traces they do not cover."""
    if trace.eps is None:
        raise ValueError(
            "the [MFB20] checks need a constrained trace (run with `eps`)."
        )
    if np.ndim(trace.z0) != 1 or np.ndim(trace.c) != 1:
        raise ValueError("the [MFB20] checks take one single-output trace (no sweep).")
    c = np.asarray(trace.c, np.float64)
    cr = trace.collapse_round
    return TraceArrays(
        c=c,
        A=np.asarray(trace.shrinkage, np.float64),
        norm2=np.asarray(trace.target_norm2, np.float64),
        d=np.asarray(trace.spectrum.eigvals, np.float64),
        z0=np.asarray(trace.z0, np.float64),
        K=trace.spectrum.n_train,
        eps=float(trace.eps),
        t_star=c.size if cr < 0 else cr,
    )


def multiplier_interval(d, norm2, K: int, eps: float, null_energy=0.0):
    """Bounds ``d_min/(r' − 1) <= c <= d_max/(r − 1)`` on the multiplier.

    ``r = ‖z‖/√(Kε)`` and ``r' = √((‖z‖² − s_0)/(Kε − s_0))`` with ``s_0`` the
    target energy on the null space of ``G`` (``r' = r`` when ``s_0 = 0``, the
    paper's form).

    Derived: ``φ(c) = Σ_k (c/(c + d_k))² z_k² = Kε`` and
    ``c/(c + d_max) <= c/(c + d_k) <= c/(c + d_min)`` on the range give
    ``(c/(c + d_max))² ‖z‖² <= Kε <= (c/(c + d_min))² (‖z‖² − s_0) + s_0``.

    Args:
        d: (r,) eigenvalues (zeros are the null space).
        norm2: ``‖z‖²`` (scalar or array of rounds).
        K: number of training points; eps: the constraint level ε.
        null_energy: ``s_0``, the energy of ``z`` on the null space.

    Returns:
        ``(lower, upper)`` arrays shaped like ``norm2``.
    """
    d = np.asarray(d, np.float64)
    pos = d[d > 0]
    norm2 = np.asarray(norm2, np.float64)
    r = np.sqrt(norm2 / (K * eps))
    r_range = np.sqrt((norm2 - null_energy) / (K * eps - null_energy))
    upper = pos.max() / (r - 1.0)  # [MFB20] c_t <= d_max / (r_t − 1)
    lower = pos.min() / (r_range - 1.0)  # [MFB20] c_t >= d_min / (r_t − 1)
    return lower, upper


def collapse_interval(r0: float, kappa: float) -> tuple[float, float]:
    """Bounds ``(r_0 − 1)/κ <= t* <= κ (r_0 − 1) + 1`` on the non-collapsed rounds.

    Derived: with no target energy on the null space, the multiplier bounds give
    ``r_t/(1 + κ(r_t − 1)) <= r_t − r_{t+1} <= κ r_t/(κ + r_t − 1)``, so every
    non-collapsed round lowers ``r`` by at least ``1/κ`` and at most ``κ``; the
    collapse is the first round with ``r_t <= 1``. The paper states bounds of
    this kind; these constants are ours.
    """
    return (r0 - 1.0) / kappa, kappa * (r0 - 1.0) + 1.0


@statement(
    "mobahi2020.multiplier_bounds", paper="MFB20", origin="derived", on_trace=True, sample=sample_trace,
    summary="d_min/(r_t-1) <= c_t <= d_max/(r_t-1), r_t = |z_t|/sqrt(K eps)",
)  # fmt: skip
def check_multiplier_bounds(trace: DistillTrace) -> list[BoundCheck]:
    """``d_min/(r_t − 1) <= c_t <= d_max/(r_t − 1)`` for every non-collapsed round.

    Round 0 uses ``r'`` on the range of ``G`` for the lower bound when the targets
    have null-space energy (see :func:`multiplier_interval`). Derived.
    """
    a = trace_arrays(trace)
    null0 = float(np.sum(np.where(a.d > 0, 0.0, a.z0**2)))
    rows = []
    for t in range(a.t_star):
        lo, up = multiplier_interval(
            a.d, a.norm2[t], a.K, a.eps, null0 if t == 0 else 0
        )
        rows.append(bound("mobahi2020.multiplier_bounds", f"c_{t}", lo, a.c[t], up))
    return rows


@statement(
    "mobahi2020.multiplier_increasing", paper="MFB20", origin="derived", on_trace=True, sample=sample_trace,
    summary="c_t > c_{t-1} while |z_t|^2 > K eps",
)  # fmt: skip
def check_multiplier_increasing(trace: DistillTrace) -> list[BoundCheck]:
    """``c_t > c_{t−1}`` while not collapsed (``‖z_t‖² > Kε``).

    Derived: ``φ_t(c_{t−1}) < φ_{t−1}(c_{t−1}) = Kε`` because each factor
    ``d/(c + d) < 1`` shrinks the targets, and ``φ_t`` increases in ``c``. Rows
    hold when ``c_t >= c_{t−1}`` within the relative slack and ``c_t != c_{t−1}``.
    """
    a = trace_arrays(trace)
    rows = []
    for t in range(1, a.t_star):
        row = bound(
            "mobahi2020.multiplier_increasing", f"c_{t}", a.c[t - 1], a.c[t], np.inf
        )
        rows.append(row._replace(holds=row.holds and a.c[t] != a.c[t - 1]))
    return rows


@statement(
    "mobahi2020.target_norm_decreasing", paper="MFB20", origin="stated", on_trace=True, sample=sample_trace,
    summary="|z_{t+1}| < |z_t| until collapse",
)  # fmt: skip
def check_target_norm_decreasing(trace: DistillTrace) -> list[BoundCheck]:
    """``‖z_{t+1}‖ < ‖z_t‖`` up to the collapse round (then the targets are 0).

    ``z_{t+1} = D (c_t I + D)^{-1} z_t`` multiplies each coordinate by ``d/(c + d) < 1``.
    """
    a = trace_arrays(trace)
    rows = []
    for t in range(1, min(a.t_star + 1, a.norm2.size)):
        row = bound(
            "mobahi2020.target_norm_decreasing",
            f"|z_{t}|^2",
            -np.inf,
            a.norm2[t],
            a.norm2[t - 1],
        )
        rows.append(row._replace(holds=row.holds and a.norm2[t] < a.norm2[t - 1]))
    return rows


@statement(
    "mobahi2020.collapse_round_bounds", paper="MFB20", origin="derived", on_trace=True, sample=sample_trace,
    summary="(r_0-1)/kappa <= t* <= kappa (r_0-1) + 1 (y in range of G)",
)  # fmt: skip
def check_collapse_round_bounds(trace: DistillTrace) -> list[BoundCheck]:
    """``(r_0 − 1)/κ <= t* <= κ (r_0 − 1) + 1``, and the per-round decrease of ``r_t``.

    Rows: for each non-collapsed round ``t`` with ``r_{t+1}`` recorded,
    ``r_t/(1 + κ(r_t − 1)) <= r_t − r_{t+1} <= κ r_t/(κ + r_t − 1)``; then ``t*``
    against its interval (only ``κ (r_0 − 1) + 1 >= T`` when the trace ends
    before collapsing). Derived (see :func:`collapse_interval`); the derivation
    assumes no target energy on the null space of ``G``. When ``y`` has some, the
    rows start at round 1 (``z_1`` lies in the range): ``t* − 1`` is checked
    against the interval from ``r_1``.
    """
    a = trace_arrays(trace)
    null0 = float(np.sum(np.where(a.d > 0, 0.0, a.z0**2)))
    # Round 1 on, the targets lie in the range of G; start there if y does not.
    # Null-space energy at round-off level (relative 1e-24, i.e. components of
    # relative size 1e-12, a projected y's residue) does not move the bounds.
    s = 1 if null0 > 1e-24 * float(np.sum(a.z0**2)) else 0
    pos = a.d[a.d > 0]
    kappa = float(pos.max() / pos.min())
    r = np.sqrt(a.norm2 / (a.K * a.eps))
    name = "mobahi2020.collapse_round_bounds"
    rows = []
    for t in range(s, min(a.t_star, r.size - 1)):
        lo = r[t] / (1.0 + kappa * (r[t] - 1.0))
        up = kappa * r[t] / (kappa + r[t] - 1.0)
        rows.append(bound(name, f"r_{t} - r_{t + 1}", lo, r[t] - r[t + 1], up))
    if a.t_star <= s:
        return rows
    lo, up = collapse_interval(float(r[s]), kappa)
    if a.t_star < a.c.size:
        rows.append(bound(name, f"t* - {s}", lo, a.t_star - s, up))
    else:  # no collapse within the trace: only t* >= T is known
        rows.append(bound(name, f"T - {s} <= t* - {s}", -np.inf, a.t_star - s, up))
    return rows
