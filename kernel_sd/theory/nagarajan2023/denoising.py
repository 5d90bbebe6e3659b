"""[NMBMK23] gradient denoising: the noise a student's targets carry, per eigendirection."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from kernel_sd import dynamics
from kernel_sd.theory.registry import BoundCheck, bound, statement
from kernel_sd.theory.samplers import Instance, sample_instance

if TYPE_CHECKING:
    from kernel_sd import Spectrum


def _noise_args(p: Instance) -> dict:
    t = np.concatenate([[0.0], p.t])  # from the start of training on
    return {"spec": p.spec, "xi": p.xi, "teacher_t": p.teacher_t, "t": t,
            "sigma": p.sigma}  # fmt: skip


class GradientNoise(NamedTuple):
    """Noise component of the training gradient, label loss vs distillation loss."""

    label: np.ndarray
    """(S, r) eigen-coordinates of the label-loss gradient's noise part at each time."""
    distill: np.ndarray
    """(S, r) the same for the distillation loss (teacher trained for ``T``)."""
    label_energy: np.ndarray
    """(S,) ``(1/K) Σ_k d_k r_k²``: squared RKHS norm of the label gradient's noise part."""
    distill_energy: np.ndarray
    """(S,) the same for the distillation gradient."""


def gradient_noise(spec: Spectrum, xi, *, teacher_t: float, t) -> GradientNoise:
    """Noise part of the functional gradient along training, label vs distillation loss.

    With ``y = f_true(X) + ξ`` everything is linear in the targets, so the noise part
    of a model's gradient is the gradient of the same procedure run on ``ξ`` alone.
    The functional gradient of ``(1/2K)‖f(X) − target‖²`` is ``g_·ᵀ r`` with residual
    ``r = f(X) − target``; its squared RKHS norm is ``(1/K) rᵀ G r``. At time ``s``:

    - label loss: ``r = f_s(X) − ξ``, coordinates ``−e^{−s d_k} ξ̃_k``;
    - distillation: ``r = f_S,s(X) − f_T(X)``, coordinates ``−e^{−s d_k} h_T(d_k) ξ̃_k``.

    The returned coordinates are those of ``G r`` (the gradient at the training
    points): ``−d_k e^{−s d_k} ξ̃_k`` and ``−d_k e^{−s d_k} h_T ξ̃_k``  [NMBMK23]
    (the distillation gradient is the label gradient with the label term's
    components shrunk by ``1 − e^{−d_k T}``).

    Args:
        spec: spectrum of ``G``.
        xi: ``(K,)`` noise draw ``ξ``.
        teacher_t: teacher time ``T``.
        t: ``(S,)`` times ``s`` along the student's (or label model's) training.
    """
    d = np.asarray(spec.eigvals)
    V = np.asarray(spec.eigvecs)
    xi = np.asarray(xi, dtype=float)
    K = spec.n_train
    f_lab = np.asarray(dynamics.teacher_flow(spec, xi, t=t).train_pred)  # (S, K)
    teach = np.asarray(dynamics.teacher_flow(spec, xi, t=teacher_t).train_pred)[0]
    f_st = np.asarray(
        dynamics.student_flow(spec, xi, teacher_t=teacher_t, t=t).train_pred
    )
    r_lab = (f_lab - xi[None, :]) @ V  # eigen-coordinates of the residuals
    r_dis = (f_st - teach[None, :]) @ V
    g_lab = d[None, :] * r_lab
    g_dis = d[None, :] * r_dis
    e_lab = np.sum(d[None, :] * r_lab**2, axis=1) / K
    e_dis = np.sum(d[None, :] * r_dis**2, axis=1) / K
    return GradientNoise(g_lab, g_dis, e_lab, e_dis)


def expected_noise_energy(d, *, sigma: float, teacher_t: float, t) -> tuple:
    """``E`` of the gradient noise energies for ``ξ ~ N(0, σ² I)``  [NMBMK23].

    Label loss ``(σ²/K) Σ_k d_k e^{−2 s d_k}``, distillation
    ``(σ²/K) Σ_k d_k e^{−2 s d_k} (1 − e^{−d_k T})²``. At ``s = 0`` these are the
    paper's ``σ² Σ d_k`` and ``σ² Σ d_k (1 − e^{−d_k T})²``; our extra ``1/K``
    comes from the ``1/(2K)`` loss normalisation (differs from the paper only by
    that constant).

    Derived: ``E ξ̃_k² = σ²`` for orthonormal ``V``; insert in ``(1/K) Σ d_k r_k²``.

    Returns:
        ``(label, distill)``, each ``(S,)``.
    """
    d = np.asarray(d, dtype=float)
    K = d.size
    s = np.atleast_1d(np.asarray(t, dtype=float))[:, None]
    decay = np.exp(-2.0 * s * d[None, :])
    hT = -np.expm1(-teacher_t * d)[None, :]
    lab = sigma**2 * np.sum(d[None, :] * decay, axis=1) / K
    dis = sigma**2 * np.sum(d[None, :] * decay * hT**2, axis=1) / K
    return lab, dis


@statement(
    "nagarajan2023.gradient_denoising", paper="NMBMK23", sample=sample_instance, inputs=_noise_args,
    origin="stated",
    summary="|distill grad noise|_k <= |label grad noise|_k; energies too",
)  # fmt: skip
def gradient_denoising(
    spec: Spectrum,
    xi,
    *,
    teacher_t: float,
    t,
    sigma: float = 1.0,
    name: str = "nagarajan2023.gradient_denoising",
) -> list[BoundCheck]:
    """The distillation gradient carries less label noise, per direction and in norm.

    [NMBMK23] ``|distill_k| = (1 − e^{−d_k T}) |label_k| <= |label_k|`` at every time
    ``s`` of training, hence ``distill_energy <= label_energy``, and the expected
    energies (:func:`expected_noise_energy`) obey the same inequality.

    Observed: :func:`gradient_noise` (models from ``kernel_sd.dynamics``, residuals
    mapped through ``V``). Those residuals carry an absolute round-off of about
    ``K · eps · ‖ξ‖``, which is added to the upper bounds (a tight case is
    ``h_T ≈ 1``, where both sides are equal).
    """
    gn = gradient_noise(spec, xi, teacher_t=teacher_t, t=t)
    d = np.asarray(spec.eigvals)
    K = spec.n_train
    delta = 10.0 * K * np.finfo(float).eps * float(np.linalg.norm(xi))
    e_lab, e_dis = expected_noise_energy(d, sigma=sigma, teacher_t=teacher_t, t=t)
    rows = []
    for i, ti in enumerate(np.atleast_1d(t)):
        lab, dis = np.abs(gn.label[i]), np.abs(gn.distill[i])
        for k in range(d.size):
            rows.append(
                bound(name, f"|distill[{k}]| <= |label[{k}]| (s={ti:.3g})",
                      -math.inf, dis[k], lab[k] + d[k] * delta)
            )  # fmt: skip
        r = np.abs(gn.label[i]) / np.where(d > 0, d, 1.0)
        allowance = np.sum(d * (2 * r * delta + delta**2)) / K
        rows.append(
            bound(name, f"noise energy (s={ti:.3g})",
                  -math.inf, gn.distill_energy[i], gn.label_energy[i] + allowance)
        )  # fmt: skip
        q = f"expected noise energy (s={ti:.3g})"
        rows.append(bound(name, q, -math.inf, e_dis[i], e_lab[i]))
    return rows
