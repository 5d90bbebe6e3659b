"""[NMBMK23] by independent routes: closed forms against simulated training and Monte Carlo.

These compare the library's closed forms (kernel_sd.dynamics, kernel_sd.filters)
with kernel_sd.simulate, which runs the gradient steps on the dense G and never
uses the eigenbasis, and expected noise energies with their sample means.
"""

from __future__ import annotations

import math

import numpy as np

from kernel_sd import dynamics
from kernel_sd.theory.nagarajan2023.denoising import expected_noise_energy
from kernel_sd.theory.registry import BoundCheck, bound, statement
from kernel_sd.theory.samplers import (
    FLOW_STEPS,
    NOISE_DRAWS,
    SCAN_STEPS,
    DescentInstance,
    NoiseInstance,
    sample_descent,
    sample_flow,
    sample_noise,
)

_EPS = float(np.finfo(np.float64).eps)


@statement(
    "nagarajan2023.descent_vs_simulation", paper="NMBMK23", sample=sample_descent,
    origin="derived",
    summary="closed-form GD teacher/student (mixing, switch) = lax.scan of GD steps on dense G",
)  # fmt: skip
def descent_vs_simulation(inst: DescentInstance) -> list[BoundCheck]:
    """Closed-form gradient descent equals gradient descent run step by step.

    Closed form (``kernel_sd.dynamics``): teacher ``1 − (1 − lr d)^{N_T}``; student
    with label weight ``α`` after a switch at step ``s`` (:func:`kernel_sd.filters.late_switch`
    of the target filter ``α + (1 − α) h_T``). Simulation: ``a ← a − lr (G a − target)``
    on the dense ``G`` (``kernel_sd.simulate.simulate_regression``, a ``lax.scan``),
    the teacher's simulated predictions being the student's targets.

    Derived: both are exact in real arithmetic. In floating point each step adds
    a rounding error of order ``K·eps·‖y‖`` and the step map is non-expansive
    (``0 <= lr d <= 1``), so the routes differ by at most
    ``10 (N_T + N + 2) K eps ‖y‖`` (one row per model: observed/allowed <= 1).
    """
    name = "nagarajan2023.descent_vs_simulation"
    spec, G, y, lr = inst.spec, inst.G, inst.y, inst.lr
    nt, ns = int(inst.teacher), int(inst.student)
    K = y.size
    allowed = 10.0 * (nt + ns + 2) * K * _EPS * float(np.linalg.norm(y))
    teacher = np.asarray(
        dynamics.teacher_descent(spec, y, lr=lr, steps=nt).train_pred[0]
    )
    student = np.asarray(
        dynamics.student_descent(spec, y, lr=lr, teacher_steps=nt, steps=ns,
                                 alpha=inst.alpha, switch_step=inst.switch_step).train_pred[0]
    )  # fmt: skip
    sim_t = np.asarray(
        dynamics.simulate_regression(G, y, lr=lr, steps=SCAN_STEPS).train_pred[nt]
    )
    sim_s = np.asarray(
        dynamics.simulate_regression(G, y, lr=lr, steps=SCAN_STEPS, teacher=sim_t,
                                     alpha=inst.alpha,
                                     switch_step=inst.switch_step).train_pred[ns]
    )  # fmt: skip
    return [
        bound(name, f"teacher |closed - scan|/allowed (N_T={nt})", -math.inf,
              float(np.max(np.abs(teacher - sim_t))) / allowed, 1.0),
        bound(name, f"student |closed - scan|/allowed (N={ns}, a={inst.alpha:.2f}, "
              f"s={inst.switch_step})", -math.inf,
              float(np.max(np.abs(student - sim_s))) / allowed, 1.0),
    ]  # fmt: skip


@statement(
    "nagarajan2023.flow_vs_simulation", paper="NMBMK23", sample=sample_flow,
    origin="stated",
    summary="flow teacher 1-e^{-Td} and student (1-e^{-T'd})(1-e^{-Td}) = GD with tiny steps",
)  # fmt: skip
def flow_vs_simulation(inst: DescentInstance) -> list[BoundCheck]:
    """Gradient-flow closed forms against gradient descent with ``N`` tiny steps.

    [NMBMK23] gradient flow for time ``T`` has filter ``1 − e^{−T d}`` (stated); a
    student of time ``T'`` on the teacher's predictions has
    ``(1 − e^{−T' d})(1 − e^{−T d})`` (derived). Simulation: ``N =`` FLOW_STEPS
    steps of size ``T/N`` (teacher) and ``T'/N`` (student) on the dense ``G``.

    Derived allowance per eigen-coordinate ``k`` (``x = T d_k <= 20``, so
    ``x/N <= 1/2``): from ``−u − u² <= log(1 − u) <= −u``,
    ``0 <= e^{−x} − (1 − x/N)^N <= x² e^{−x}/N <= 4 e^{−2}/N < 0.55/N``; the student
    has two such factors (``|ab − a'b'| <= |a − a'| + |b − b'|``). Plus round-off
    ``10 N K eps ‖y‖``. Rows: the largest ``|scan_k − closed_k| / allowance_k`` <= 1.
    """
    name = "nagarajan2023.flow_vs_simulation"
    spec, G, y = inst.spec, inst.G, inst.y
    T, t = float(inst.teacher), float(inst.student)
    V = np.asarray(spec.eigvecs)
    z = V.T @ y
    N = FLOW_STEPS
    roundoff = 10.0 * N * y.size * _EPS * float(np.linalg.norm(y))
    teacher = np.asarray(dynamics.teacher_flow(spec, y, t=T).train_pred[0])
    student = np.asarray(dynamics.student_flow(spec, y, teacher_t=T, t=t).train_pred[0])
    sim_t = np.asarray(
        dynamics.simulate_regression(G, y, lr=T / N, steps=N).train_pred[N]
    )
    sim_s = np.asarray(
        dynamics.simulate_regression(G, y, lr=t / N, steps=N, teacher=sim_t).train_pred[
            N
        ]
    )
    rows = []
    for label, closed, sim, factors in (("teacher", teacher, sim_t, 1),
                                        ("student", student, sim_s, 2)):  # fmt: skip
        allowance = factors * 0.55 / N * np.abs(z) + roundoff
        excess = np.abs(V.T @ (sim - closed)) / allowance
        rows.append(bound(name, f"{label}: max |scan - closed| / allowance (T d_max="
                          f"{T * float(spec.eigvals[0]):.3g})", -math.inf,
                          float(excess.max()), 1.0))  # fmt: skip
    return rows


@statement(
    "nagarajan2023.denoising_monte_carlo", paper="NMBMK23", sample=sample_noise,
    origin="derived",
    summary="E noise energy of label/distill gradients = Monte-Carlo mean over noise draws",
)  # fmt: skip
def denoising_monte_carlo(inst: NoiseInstance) -> list[BoundCheck]:
    """Expected gradient-noise energies (closed form) against a Monte-Carlo mean.

    Closed form: :func:`expected_noise_energy` (``E ξ̃_k² = σ²``). Monte Carlo:
    ``M =`` NOISE_DRAWS draws ``ξ ~ N(0, σ² I)``, the label model, teacher and
    student trained on each draw by ``kernel_sd.dynamics`` (gradient flow), the
    noise parts of their residuals mapped to ``(1/K) Σ_k d_k r_k²`` as in
    :func:`gradient_noise`. Rows: the expectation lies within 6 standard errors
    of the Monte-Carlo mean (a false alarm has probability ~2e-9 per row).
    Derived (the energy formula; [NMBMK23] state the per-direction shrinkage).
    """
    name = "nagarajan2023.denoising_monte_carlo"
    spec, sigma, T, s = inst.spec, inst.sigma, inst.teacher_t, np.asarray(inst.t)
    K = spec.n_train
    d = np.asarray(spec.eigvals)
    V = np.asarray(spec.eigvecs)
    M = NOISE_DRAWS
    Xi = sigma * np.random.default_rng(inst.seed).standard_normal((K, M))
    f_lab = np.asarray(dynamics.teacher_flow(spec, Xi, t=s).train_pred)  # (S, K, M)
    teach = np.asarray(dynamics.teacher_flow(spec, Xi, t=T).train_pred)[0]
    f_st = np.asarray(dynamics.student_flow(spec, Xi, teacher_t=T, t=s).train_pred)
    r_lab = np.einsum("kr,skm->srm", V, f_lab - Xi[None])
    r_dis = np.einsum("kr,skm->srm", V, f_st - teach[None])
    measured = {
        "label": np.einsum("r,srm->sm", d, r_lab**2) / K,
        "distill": np.einsum("r,srm->sm", d, r_dis**2) / K,
    }
    expected = dict(
        zip(("label", "distill"),
            expected_noise_energy(d, sigma=sigma, teacher_t=T, t=s), strict=True)
    )  # fmt: skip
    rows = []
    for key in ("label", "distill"):
        for i, si in enumerate(s):
            draws = measured[key][i]
            se = float(draws.std(ddof=1)) / math.sqrt(M)
            mean = float(draws.mean())
            rows.append(bound(name, f"E {key} energy (s d_max={si * d[0]:.3g})",
                              mean - 6 * se, float(expected[key][i]), mean + 6 * se))  # fmt: skip
    return rows
