"""[NMBMK23] in the eigenbasis: student/teacher ratios, exaggeration, denoising.

Notation as in ``kernel_sd.dynamics``: ``G = k(X, X)/K = V diag(d) Vᵀ``; gradient
flow from zero on ``(1/2K)‖f(X) − y‖²`` for time ``t`` has filter
``h(t, d) = 1 − e^{−t d}``; a teacher trained for ``T`` and a student trained on its
predictions for ``T'`` have filters ``h_T = h(T, ·)`` and ``h_S = h(T', ·) h_T``.

Each statement is a pure function of a spectrum and hyper-parameters that returns
:class:`~kernel_sd.theory.BoundCheck` rows; the *observed* side comes from the
filters of :mod:`kernel_sd.filters` on the eigenvalues (and, for the gradient
noise, from fits of ``kernel_sd.dynamics``), the bound from the formula. Every
statement is registered for ``kernel-sd verify`` with a sampler over random
spectra of controlled condition number (:func:`~kernel_sd.theory.samplers.sample_instance`).

The filter statements live here; the gradient-noise statements in
:mod:`.denoising`, and the independent routes (closed forms against simulated
training and Monte Carlo) in :mod:`.routes`.

References:
    [NMBMK23] Nagarajan, Menon, Bhojanapalli, Mobahi & Kumar, "On student-teacher
    deviations in distillation: does it pay to disobey?", NeurIPS 2023.
"""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np

from kernel_sd import filters
from kernel_sd.filters import ridge
from kernel_sd.theory.registry import BoundCheck, bound, statement
from kernel_sd.theory.samplers import Instance, sample_instance

if TYPE_CHECKING:
    from kernel_sd import Spectrum

from kernel_sd.theory.nagarajan2023.denoising import (
    GradientNoise,
    expected_noise_energy,
    gradient_denoising,
    gradient_noise,
)
from kernel_sd.theory.nagarajan2023.routes import (
    denoising_monte_carlo,
    descent_vs_simulation,
    flow_vs_simulation,
)

__all__ = [
    "Instance",
    "student_teacher_ratio",
    "filter_monotonicity",
    "exaggeration",
    "single_crossing",
    "top_heavy",
    "ridge_two_rounds",
    "equivalent_penalty",
    "penalty_growth",
    "GradientNoise",
    "gradient_noise",
    "gradient_denoising",
    "expected_noise_energy",
    "descent_vs_simulation",
    "flow_vs_simulation",
    "denoising_monte_carlo",
    "sample_instance",
]


def _teacher_filter(spec: Spectrum, t) -> np.ndarray:
    """Gradient-flow filters ``h(t, d) = 1 − e^{−t d}``: one row per time in ``t``."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    return np.asarray(filters.gradient_flow(spec.eigvals[None, :], t[:, None]))


def _student_filter(spec: Spectrum, teacher_t: float, t) -> np.ndarray:
    """Student of a flow teacher: ``h_S = h(T', d) h(T, d)``, one row per ``T'`` in ``t``."""
    t = np.atleast_1d(np.asarray(t, dtype=float))
    d = spec.eigvals[None, :]
    h_student = filters.gradient_flow(d, t[:, None])
    # [NMBMK23] h_S = (1 − e^{−T'd})(1 − e^{−Td}): the library's student filter
    return np.asarray(filters.student(h_student, filters.gradient_flow(d, teacher_t)))


def _flow_args(p: Instance) -> dict:
    return {"spec": p.spec, "teacher_t": p.teacher_t, "t": p.t}


def _crossing_args(p: Instance) -> dict:
    return {"spec": p.spec, "teacher_t": p.teacher_t, "t": float(p.t[0]), "j": p.j}


def _ridge_args(p: Instance) -> dict:
    return {"spec": p.spec, "c": p.c}


@statement(
    "nagarajan2023.ratio", paper="NMBMK23", sample=sample_instance, inputs=_flow_args,
    origin="derived",
    summary="h_S/h_T = 1 − e^{−T'd_k} per eigendirection, in [0, 1]",
)  # fmt: skip
def student_teacher_ratio(
    spec: Spectrum, *, teacher_t: float, t, name: str = "nagarajan2023.ratio"
) -> list[BoundCheck]:
    """Per direction, student/teacher progress ``h_S/h_T = 1 − e^{−T' d_k}`` in (0, 1].

    [NMBMK23] ``f_S = (1 − e^{−T' d_k})(1 − e^{−T d_k}) z_k`` against the teacher's
    ``(1 − e^{−T d_k}) z_k``: the student keeps a fraction ``1 − e^{−T' d_k}`` of the
    teacher along direction ``k``.

    Derived: gradient flow is linear in its targets, whose coordinates are
    ``h_T(d_k) z_k`` for the student.

    Observed: ratio of the student's composed filter
    ``compose(gradient_flow(d, T'), gradient_flow(d, T))`` to the teacher's
    ``gradient_flow(d, T)`` (:mod:`kernel_sd.filters`). Rows: the ratio equals the
    closed form ``1 − e^{−T' d}`` (lower = upper), and lies in [0, 1].
    """
    d = np.asarray(spec.eigvals)
    hT = _teacher_filter(spec, teacher_t)[0]
    hS = _student_filter(spec, teacher_t, t)
    pos = hT > 0
    rows = []
    for i, ti in enumerate(np.atleast_1d(t)):
        ratio = hS[i, pos] / hT[pos]
        formula = -np.expm1(-ti * d[pos])  # [NMBMK23] h_S/h_T = 1 − e^{−T' d}
        for k in range(ratio.size):
            q = f"h_S/h_T[{k}] (T'={ti:.3g})"
            rows.append(bound(name, q, formula[k], ratio[k], formula[k]))
        rows.append(bound(name, f"min h_S/h_T (T'={ti:.3g})", 0.0, ratio.min(), 1.0))
    return rows


@statement(
    "nagarajan2023.filter_monotonicity", paper="NMBMK23", sample=sample_instance,
    inputs=_flow_args, origin="derived",
    summary="h_S/h_T decreases down the spectrum; h_S[k]/h_S[0] <= h_T[k]/h_T[0]",
)  # fmt: skip
def filter_monotonicity(
    spec: Spectrum,
    *,
    teacher_t: float,
    t,
    name: str = "nagarajan2023.filter_monotonicity",
) -> list[BoundCheck]:
    """The student departs from its teacher most along the bottom eigendirections.

    A property of the filters, not the confidence-exaggeration result of
    [NMBMK23] (a statement about the outputs' log-odds, measured by the
    experiment ``nagarajan2023_confidence``); formerly registered as
    ``nagarajan2023.exaggeration``. With ``d_1 >= d_2 >= ...``: the ratio ``h_S/h_T`` is non-increasing
    down the spectrum, and the student's profile normalised by the top direction
    is below the teacher's: ``h_S(d_k)/h_S(d_1) <= h_T(d_k)/h_T(d_1)``.

    Derived: ``h_S/h_T = 1 − e^{−T' d}`` increases with ``d``; dividing the two
    normalised profiles gives ``(1 − e^{−T' d_k})/(1 − e^{−T' d_1}) <= 1``.
    """
    d = np.asarray(spec.eigvals)
    pos = d > 0
    hT = _teacher_filter(spec, teacher_t)[0, pos]
    hS = _student_filter(spec, teacher_t, t)[:, pos]
    rows = []
    for i, ti in enumerate(np.atleast_1d(t)):
        ratio = hS[i] / hT
        for k in range(1, ratio.size):
            rows.append(
                bound(name, f"h_S/h_T[{k}] <= h_S/h_T[{k - 1}] (T'={ti:.3g})",
                      -math.inf, ratio[k], ratio[k - 1])
            )  # fmt: skip
            rows.append(
                bound(name, f"h_S[{k}]/h_S[0] <= h_T[{k}]/h_T[0] (T'={ti:.3g})",
                      -math.inf, hS[i, k] / hS[i, 0], hT[k] / hT[0])
            )  # fmt: skip
    return rows


def exaggeration(spec: Spectrum, *, teacher_t: float, t, name: str | None = None):
    """Deprecated name of :func:`filter_monotonicity` (it checks filters, not confidences)."""
    warnings.warn(
        "kernel_sd.theory.nagarajan2023.exaggeration is deprecated: it checks the "
        "monotonicity of the student/teacher filter ratio; use filter_monotonicity.",
        DeprecationWarning,
        stacklevel=2,
    )
    kw = {} if name is None else {"name": name}
    return filter_monotonicity(spec, teacher_t=teacher_t, t=t, **kw)


@statement(
    "nagarajan2023.single_crossing", paper="NMBMK23", sample=sample_instance, inputs=_crossing_args,
    origin="derived",
    summary="matched along j: student below label model for d<d_j, above for d>d_j",
)  # fmt: skip
def single_crossing(
    spec: Spectrum,
    *,
    teacher_t: float,
    t: float,
    j: int,
    name: str = "nagarajan2023.single_crossing",
) -> list[BoundCheck]:
    """Against a label-trained model matched along direction ``j``, one crossing.

    [NMBMK23] (derived statement of papers.md §2) Let ``t*`` solve
    ``1 − e^{−t* d_j} = h_S(d_j)``, i.e. ``t* = −log(1 − h_S(d_j))/d_j``. Then
    ``h_S(d_k) < h(t*, d_k)`` for every ``d_k < d_j`` and ``h_S(d_k) > h(t*, d_k)``
    for every ``d_k > d_j``.

    Derived: ``h_S(d) <= h(s, d)`` iff ``ψ(d) := −log(1 − h_S(d))/d <= s``; ``ψ`` is
    increasing in ``d`` (checked numerically on random cases, not proved here).
    Observed: the student's composed filter ``h_S`` and the label-trained filter
    ``gradient_flow(d, t*)`` (:mod:`kernel_sd.filters`).
    """
    d = np.asarray(spec.eigvals)
    hS = _student_filter(spec, teacher_t, t)[0]
    t_star = -math.log1p(-hS[j]) / d[j]
    hL = _teacher_filter(spec, t_star)[0]
    rows = [bound(name, f"h(t*, d_{j}) = h_S(d_{j})", hS[j], hL[j], hS[j])]
    for k in range(d.size):
        if d[k] <= 0 or k == j:
            continue
        if d[k] < d[j]:
            rows.append(bound(name, f"h_S[{k}] <= h(t*)[{k}]", -math.inf, hS[k], hL[k]))
        elif d[k] > d[j]:
            rows.append(bound(name, f"h_S[{k}] >= h(t*)[{k}]", hL[k], hS[k], math.inf))
    return rows


@statement(
    "nagarajan2023.top_heavy", paper="NMBMK23", sample=sample_instance, inputs=_flow_args,
    origin="derived",
    summary="matched along the top direction: student <= label model elsewhere, any T'",
)  # fmt: skip
def top_heavy(
    spec: Spectrum, *, teacher_t: float, t, name: str = "nagarajan2023.top_heavy"
) -> list[BoundCheck]:
    """At any time of its training the student is more top-heavy than a label model.

    [NMBMK23] For each student time ``T'`` in ``t`` take the label-trained time
    ``t*`` with the same progress along the top direction; then
    ``h_S(d_k) <= h(t*, d_k)`` on every other direction (the single-crossing
    statement with ``j = 1``), i.e. a smaller share of the fit below the top.
    """
    rows = []
    for ti in np.atleast_1d(t):
        rows += single_crossing(spec, teacher_t=teacher_t, t=float(ti), j=0, name=name)
    return rows


@statement(
    "nagarajan2023.ridge_two_rounds", paper="NMBMK23", sample=sample_instance, inputs=_ridge_args,
    origin="derived",
    summary="d/(c₁+d)·d/(c₂+d) = d/(c₁+c₂+c₁c₂/d + d); penalty grows downwards",
)  # fmt: skip
def ridge_two_rounds(
    spec: Spectrum,
    *,
    c: tuple[float, float],
    name: str = "nagarajan2023.ridge_two_rounds",
) -> list[BoundCheck]:
    """Two ridge rounds equal one ridge fit with penalty ``c₁ + c₂ + c₁c₂/d``.

    Derived: ``d/(c₁ + d) · d/(c₂ + d) = d/(c₁ + c₂ + c₁c₂/d + d)`` (multiply out
    the denominators). The penalty grows towards the bottom directions.
    Observed: the composed ridge filters (:func:`kernel_sd.filters.compose` of
    :func:`kernel_sd.filters.ridge`) of two rounds with ``c₁`` (the penalised
    form's rounds 0 and 1) and of rounds ``c₁, c₂``.
    """
    d = np.asarray(spec.eigvals)
    pos = d > 0
    c1, c2 = c
    h1 = ridge(spec.eigvals, c1)
    same = np.asarray(filters.compose(h1, h1))[pos]
    mixed = np.asarray(filters.compose(h1, ridge(spec.eigvals, c2)))[pos]
    dp = d[pos]
    pen_same = 2 * c1 + c1 * c1 / dp  # [NMBMK23] c₁ + c₂ + c₁c₂/d with c₂ = c₁
    pen_mixed = c1 + c2 + c1 * c2 / dp  # [NMBMK23] c₁ + c₂ + c₁c₂/d
    want_same = np.asarray(ridge(jnp.asarray(dp), jnp.asarray(pen_same)))
    want_mixed = np.asarray(ridge(jnp.asarray(dp), jnp.asarray(pen_mixed)))
    rows = []
    for k in range(dp.size):
        rows.append(
            bound(name, f"A_1[{k}] (c₁=c₂)", want_same[k], same[k], want_same[k])
        )
        rows.append(
            bound(name, f"h_1 h_2[{k}]", want_mixed[k], mixed[k], want_mixed[k])
        )
        if k:
            rows.append(
                bound(name, f"penalty[{k}] >= penalty[{k - 1}]",
                      pen_mixed[k - 1], pen_mixed[k], math.inf)
            )  # fmt: skip
    return rows


def equivalent_penalty(d, h) -> np.ndarray:
    """Ridge penalty ``λ(d) = d (1 − h)/h``, so that ``d/(λ + d) = h`` (``+inf`` at h = 0).

    Any filter ``0 < h <= 1`` is the ridge filter of an eigenvalue-dependent penalty
    [NMBMK23] ("the student equals ridge regression with an eigenvalue-dependent
    penalty").
    """
    d = np.asarray(d, dtype=float)
    hv = np.asarray(h, dtype=float)
    safe = np.where(hv > 0, hv, 1.0)
    return np.where(hv > 0, d * (1.0 - hv) / safe, np.inf)


@statement(
    "nagarajan2023.equivalent_penalty", paper="NMBMK23", sample=sample_instance, inputs=_flow_args,
    origin="stated",
    summary="student's ridge penalty λ_S(d) >= λ_T(d), non-increasing in d",
)  # fmt: skip
def penalty_growth(
    spec: Spectrum,
    *,
    teacher_t: float,
    t,
    name: str = "nagarajan2023.equivalent_penalty",
) -> list[BoundCheck]:
    """The student's equivalent ridge penalty exceeds the teacher's and grows downwards.

    [NMBMK23] ``λ_S(d) = d (1 − h_S)/h_S`` with ``h_S = (1 − e^{−T'd})(1 − e^{−Td})``
    satisfies ``λ_S(d_k) >= λ_T(d_k)`` and ``λ_S(d_k) >= λ_S(d_{k−1})`` for
    ``d_k < d_{k−1}`` (the penalty grows towards the bottom directions).

    Derived: ``h_S <= h_T`` gives the first; the second is checked numerically
    here, not proved (``λ_T(d) = d/(e^{Td} − 1)`` is decreasing in ``d``).
    """
    d = np.asarray(spec.eigvals)
    pos = d > 0
    hT = _teacher_filter(spec, teacher_t)[0, pos]
    hS = _student_filter(spec, teacher_t, t)[:, pos]
    lamT = equivalent_penalty(d[pos], hT)
    rows = []
    for i, ti in enumerate(np.atleast_1d(t)):
        lamS = equivalent_penalty(d[pos], hS[i])
        # h = 1 in floating point (saturated top directions) makes λ = 0 exactly.
        ok = np.isfinite(lamS) & np.isfinite(lamT) & (hS[i] < 1) & (hT < 1)
        for k in np.flatnonzero(ok):
            rows.append(
                bound(name, f"λ_S[{k}] >= λ_T[{k}] (T'={ti:.3g})",
                      lamT[k], lamS[k], math.inf)
            )  # fmt: skip
            if k and ok[k - 1]:
                rows.append(
                    bound(name, f"λ_S[{k}] >= λ_S[{k - 1}] (T'={ti:.3g})",
                          lamS[k - 1], lamS[k], math.inf)
                )  # fmt: skip
    return rows
