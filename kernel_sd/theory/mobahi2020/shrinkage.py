"""[MFB20] shrinkage: the filters ``A_t``, their ratios, size and risk.

``A_t = Π_{i<=t} D (c_i I + D)^{-1}`` concentrates on the top eigendirections
round after round, removes basis functions, lowers the RKHS norm of the fit, and
(unlike early stopping) has unbounded top-to-lower ratios. Notation:
:mod:`kernel_sd.theory.mobahi2020`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kernel_sd import filters
from kernel_sd.theory.mobahi2020.collapse import trace_arrays
from kernel_sd.theory.registry import BoundCheck, bound, statement
from kernel_sd.theory.samplers import (
    GradientFlowInstance,
    PlantedRisk,
    sample_gradient_flow,
    sample_planted_risk,
    sample_trace,
)

if TYPE_CHECKING:
    from kernel_sd import DistillTrace

__all__ = [
    "capacity",
    "check_shrinkage_ratio_bounds",
    "check_shrinkage_ratio_increasing",
    "check_effective_basis_decreasing",
    "check_capacity_decreasing",
    "check_risk_decomposition",
    "check_gradient_flow_ratio",
]

_TINY = 1e-250
"""Shrinkage values below this are too close to underflow for accurate ratios."""


def capacity(trace: DistillTrace) -> np.ndarray:
    """``R(f_t) = (1/K) Σ_k A_t[k]² z_0[k]² / d_k`` for every round (RKHS norm²).

    Derived: ``f_t = Σ_i g(·, x_i) α_i / K`` with ``α = (c_t I + G)^{-1} y_t``, so
    ``R(f_t) = αᵀ G α / K = (1/K) Σ_k d_k z_t[k]² / (c_t + d_k)²`` and
    ``z_t[k] d_k/(c_t + d_k) = A_t[k] z_0[k]``. Null-space terms are 0.
    """
    a = trace_arrays(trace)
    d = a.d[None, :]
    safe = np.where(d > 0, d, 1.0)
    terms = np.where(d > 0, (a.A * a.z0[None, :]) ** 2 / safe, 0.0)
    return terms.sum(axis=1) / a.K  # [MFB20] R(f_t) = (1/K) Σ A_t² z_0² / d


def _pair_ratios(d):
    """All index pairs ``k < j`` with ``d_k > d_j > 0``."""
    keep = d > 0
    k_idx, j_idx = np.nonzero(np.triu(keep[:, None] & keep[None, :], 1))
    strict = d[k_idx] > d[j_idx]
    return k_idx[strict], j_idx[strict]


def _worst(name, quantities, lo, ob, up):
    """The row of the pair with the smallest relative slack (violations first)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        s_lo = np.where(
            np.isfinite(lo), (ob - lo) / np.maximum(np.abs(lo), np.abs(ob)), np.inf
        )
        s_up = np.where(
            np.isfinite(up), (up - ob) / np.maximum(np.abs(up), np.abs(ob)), np.inf
        )
    i = int(np.argmin(np.minimum(s_lo, s_up)))
    return bound(name, quantities(i), lo[i], ob[i], up[i])


@statement(
    "mobahi2020.shrinkage_ratio_bounds", paper="MFB20", origin="derived", on_trace=True, sample=sample_trace,
    summary="[(d_k/d_j)(c_0+d_j)/(c_0+d_k)]^{t+1} <= A_t[k]/A_t[j] <= (d_k/d_j)^{t+1}",
)  # fmt: skip
def check_shrinkage_ratio_bounds(trace: DistillTrace) -> list[BoundCheck]:
    """``[(d_k/d_j)(c_0 + d_j)/(c_0 + d_k)]^{t+1} <= A_t[k]/A_t[j] <= (d_k/d_j)^{t+1}``.

    For ``d_k > d_j > 0``; the lower bound exceeds 1, so the ratio is > 1. One
    row per non-collapsed round: the pair with the least slack among all pairs
    whose ``A_t[j]`` is far from underflow (``> 1e-250``) and whose bounds are finite.

    Derived: ``A_t[k]/A_t[j] = Π_{i<=t} (d_k/d_j)(c_i + d_j)/(c_i + d_k)``; each
    factor increases in ``c_i`` towards ``d_k/d_j`` and ``c_i >= c_0``.
    """
    a = trace_arrays(trace)
    k, j = _pair_ratios(a.d)
    q = a.d[k] / a.d[j]
    f0 = q * (a.c[0] + a.d[j]) / (a.c[0] + a.d[k])
    rows = []
    for t in range(a.t_star):
        with np.errstate(over="ignore"):
            lo = f0 ** (t + 1)  # [MFB20] lower bound on B_t[k]/B_t[j]
            up = q ** (t + 1)  # [MFB20] upper bound on B_t[k]/B_t[j]
        ok = (a.A[t, j] > _TINY) & np.isfinite(up)
        if not ok.any():
            continue
        kk, jj = k[ok], j[ok]
        ob = a.A[t, kk] / a.A[t, jj]
        rows.append(
            _worst(
                "mobahi2020.shrinkage_ratio_bounds",
                lambda i, t=t, kk=kk, jj=jj: f"A_{t}[{kk[i]}]/A_{t}[{jj[i]}]",
                lo[ok],
                ob,
                up[ok],
            )
        )
    return rows


@statement(
    "mobahi2020.shrinkage_ratio_increasing", paper="MFB20", origin="stated", on_trace=True, sample=sample_trace,
    summary="A_t[k]/A_t[j] > 1 grows with t for d_k > d_j",
)  # fmt: skip
def check_shrinkage_ratio_increasing(trace: DistillTrace) -> list[BoundCheck]:
    """``A_t[k]/A_t[j] > A_{t−1}[k]/A_{t−1}[j] > ... > 1`` for ``d_k > d_j > 0``.

    Observed: the growth factor ``(A_t[k]/A_t[j]) / (A_{t−1}[k]/A_{t−1}[j])``
    (with ``A_{−1} = 1``), worst pair per non-collapsed round, bounded below by 1.
    The "power iteration" of [MFB20]: ``A_t/‖A_t‖`` concentrates on the top
    eigendirections.
    """
    a = trace_arrays(trace)
    k, j = _pair_ratios(a.d)
    rows = []
    prev = np.ones(k.size)
    for t in range(a.t_star):
        ok = a.A[t, j] > _TINY
        ratio = np.where(ok, a.A[t, k] / np.where(ok, a.A[t, j], 1.0), np.nan)
        growth = ratio / prev
        good = ok & np.isfinite(growth)
        if good.any():
            kk, jj = k[good], j[good]
            rows.append(
                _worst(
                    "mobahi2020.shrinkage_ratio_increasing",
                    lambda i, t=t, kk=kk, jj=jj: (
                        f"growth A_{t}[{kk[i]}]/A_{t}[{jj[i]}]"
                    ),
                    np.ones(kk.size),
                    growth[good],
                    np.full(kk.size, np.inf),
                )
            )
        prev = ratio
    return rows


@statement(
    "mobahi2020.effective_basis_decreasing", paper="MFB20", origin="stated", on_trace=True, sample=sample_trace,
    summary="sum_k A_t[k] and participation ratio of A_t decrease in t",
)  # fmt: skip
def check_effective_basis_decreasing(trace: DistillTrace) -> list[BoundCheck]:
    """``Σ_k A_t[k]`` and the participation ratio ``(Σ A_t)²/Σ A_t²`` decrease in ``t``.

    Derived: each factor ``d/(c + d) < 1`` lowers the sum; the factor increases
    with ``d`` like ``A_t`` itself, so ``A_{t+1}/Σ A_{t+1}`` majorises
    ``A_t/Σ A_t`` and the participation ratio ``1/Σ p_k²`` (Schur-concave) can only
    fall. Rows per round ``1 <= t < t*``.
    """
    a = trace_arrays(trace)
    s = filters.effective_dimension(a.A)
    pr = np.asarray(filters.participation_ratio(a.A))
    rows = []
    for t in range(1, a.t_star):
        rows.append(
            bound(
                "mobahi2020.effective_basis_decreasing",
                f"sum A_{t}",
                -np.inf,
                s[t],
                s[t - 1],
            )
        )
        rows.append(
            bound(
                "mobahi2020.effective_basis_decreasing",
                f"PR(A_{t})",
                1.0,
                pr[t],
                pr[t - 1],
            )
        )
    return rows


@statement(
    "mobahi2020.capacity_decreasing", paper="MFB20", origin="derived", on_trace=True, sample=sample_trace,
    summary="R(f_t) = (1/K) sum A_t^2 z_0^2 / d strictly decreases",
)  # fmt: skip
def check_capacity_decreasing(trace: DistillTrace) -> list[BoundCheck]:
    """``R(f_t) < R(f_{t−1})`` while not collapsed (amplified regularisation).

    ``R(f_t) = (1/K) Σ_k A_t[k]² z_0[k]²/d_k`` (:func:`capacity`); each ``A_t[k]²``
    decreases in ``t``. Derived.
    """
    a = trace_arrays(trace)
    R = capacity(trace)
    rows = []
    for t in range(1, a.t_star):
        row = bound("mobahi2020.capacity_decreasing", f"R(f_{t})", 0.0, R[t], R[t - 1])
        rows.append(row._replace(holds=row.holds and R[t] < R[t - 1]))
    return rows


@statement(
    "mobahi2020.risk_decomposition", paper="MFB20", origin="derived", sample=sample_planted_risk,
    summary="E risk of any filter = (1/K)[sum (1-h)^2 theta^2 + sigma^2 sum h^2]",
)  # fmt: skip
def check_risk_decomposition(inst: PlantedRisk) -> list[BoundCheck]:
    """Eigenbasis bias² / variance of each round against the dense-matrix expectation.

    Observed: :func:`kernel_sd.filters.planted_risk` in the eigenbasis. Reference: with
    ``H_t = V diag(A_t) Vᵀ``, ``bias² = ‖(H_t − I) f‖²/K`` and
    ``variance = σ² ‖H_t‖_F²/K`` (``E‖H ξ‖² = σ² tr(HᵀH)``), computed with dense
    matrices. Derived (see :func:`kernel_sd.filters.planted_risk`).
    """
    V = np.asarray(inst.spectrum.eigvecs, np.float64)
    K = V.shape[0]
    A = np.asarray(inst.shrinkage, np.float64)
    theta = V.T @ inst.f_true
    risk = filters.planted_risk(A, theta, sigma=inst.sigma, K=K)
    name = "mobahi2020.risk_decomposition"
    rows = []
    for t in range(A.shape[0]):
        H = (V * A[t][None, :]) @ V.T
        b2 = np.sum((H @ inst.f_true - inst.f_true) ** 2) / K
        var = inst.sigma**2 * np.sum(H * H) / K
        rows.append(bound(name, f"bias2_{t}", b2, risk.bias2[t], b2))
        rows.append(bound(name, f"variance_{t}", var, risk.variance[t], var))
    return rows


@statement(
    "mobahi2020.gradient_flow_ratio", paper="MFB20", origin="derived", sample=sample_gradient_flow,
    summary="early stopping: 1 <= h_t(d_k)/h_t(d_j) <= d_k/d_j for d_k > d_j",
)  # fmt: skip
def check_gradient_flow_ratio(inst: GradientFlowInstance) -> list[BoundCheck]:
    """Early stopping's ratio stays in ``[1, d_k/d_j]``: ``h(d_k)/h(d_j)``, ``h = 1 − e^{−t d}``.

    For ``d_k > d_j > 0`` and every ``t > 0`` (worst pair per time), in contrast
    with self-distillation's ``A_t[k]/A_t[j]``, which grows like ``(d_k/d_j)^{t+1}``.
    Derived: ``(1 − e^{−x})/x`` decreases in ``x``, so
    ``h(d_k)/d_k <= h(d_j)/d_j``; and ``h`` increases in ``d``.
    """
    d = np.asarray(inst.d, np.float64)
    k, j = np.nonzero(np.triu(np.ones((d.size, d.size), bool), 1))
    strict = d[k] > d[j]
    k, j = k[strict], j[strict]
    rows = []
    for t in inst.times:
        h = np.asarray(filters.gradient_flow(d, t))
        ob = h[k] / h[j]
        rows.append(
            _worst(
                "mobahi2020.gradient_flow_ratio",
                lambda i, t=t: f"h_t[{k[i]}]/h_t[{j[i]}] (t={t:.3g})",
                np.ones(k.size),
                ob,
                d[k] / d[j],  # early stopping's ratio <= d_k/d_j
            )
        )
    return rows
