"""Random instances for the registered statements: spectra, traces, planted problems.

Every sampler takes a ``numpy.random.Generator`` and returns one instance of the
kind its statements check. Sizes come from a small set (:data:`SIZES`) and traces
have a fixed number of rounds (:data:`ROUNDS`), so JAX compiles once per shape.
Spectra are half *planted* (eigenvalues of condition number up to 1e8 with a
random orthonormal ``V``) and half from random kernels on random inputs.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

import kernel_sd as ksd
from kernel_sd import filters, kernels

if TYPE_CHECKING:
    from kernel_sd import DistillTrace, Spectrum

__all__ = [
    "ROUNDS",
    "SIZES",
    "SCAN_STEPS",
    "FLOW_STEPS",
    "NOISE_DRAWS",
    "PlantedRisk",
    "GradientFlowInstance",
    "Instance",
    "DescentInstance",
    "DenseRounds",
    "NoiseInstance",
    "sample_spectrum",
    "sample_trace",
    "sample_planted_risk",
    "sample_gradient_flow",
    "sample_instance",
    "sample_descent",
    "sample_flow",
    "sample_dense_rounds",
    "sample_noise",
]

ROUNDS = 32
"""Rounds of every sampled trace (a fixed count, so JAX compiles once per size)."""
SIZES = (8, 16, 32, 64)
"""Training-set sizes ``K`` the samplers draw from (a small set, for the same reason)."""
SCAN_STEPS = 64
"""Length of every simulated gradient-descent run of :func:`sample_descent` (one compilation)."""
FLOW_STEPS = 2000
"""Steps of the fine-step descent that stands in for gradient flow (:func:`sample_flow`)."""
NOISE_DRAWS = 2000
"""Noise draws of the Monte-Carlo statements (:func:`sample_noise`, planted risk)."""


class PlantedRisk(NamedTuple):
    """A planted problem ``y = f_true(X) + ξ`` with penalised rounds (``c_t = lam``)."""

    spectrum: Spectrum
    """Spectrum of ``G``."""
    f_true: np.ndarray
    """(K,) the clean target at the training points."""
    sigma: float
    """Noise standard deviation σ."""
    shrinkage: np.ndarray
    """(T, K) filters ``A_t`` of the rounds."""
    lam: float | None = None
    """The penalty ``c_t = lam`` of the rounds."""
    seed: int = 0
    """Seed for noise draws of Monte-Carlo checks."""


class GradientFlowInstance(NamedTuple):
    """A spectrum and gradient-flow times."""

    d: np.ndarray
    """(r,) eigenvalues, descending and positive."""
    times: np.ndarray
    """(m,) times ``t > 0``."""


class Instance(NamedTuple):
    """A random problem for the [NMBMK23] statements: a spectrum, times and noise."""

    spec: Spectrum
    """Planted spectrum of ``G`` (random orthonormal ``V``)."""
    teacher_t: float
    """Teacher's gradient-flow time ``T``."""
    t: np.ndarray
    """(S,) student times ``T'`` (or times along training)."""
    j: int
    """An eigen-index for the single-crossing statement."""
    c: tuple[float, float]
    """Two ridge multipliers ``c₁, c₂``."""
    xi: np.ndarray
    """(K,) a label-noise draw ``ξ ~ N(0, σ² I)``."""
    sigma: float
    """Noise level ``σ``."""
    f_true: np.ndarray
    """(K,) clean target values ``f_true(X)``."""


def _planted_eigvals(rng: np.random.Generator, n: int) -> np.ndarray:
    """Eigenvalues with condition number ``10^U(0, 8)``, log-spaced or random in log."""
    kappa = 10.0 ** rng.uniform(0.0, 8.0)
    if rng.random() < 0.5:
        logs = np.linspace(0.0, -np.log10(kappa), n)
    else:
        inner = rng.uniform(-np.log10(kappa), 0.0, n - 2)
        logs = np.sort(np.concatenate([[0.0, -np.log10(kappa)], inner]))[::-1]
    return 10.0**logs / n


def _random_orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))[None, :]


def _kernel_spectrum(rng: np.random.Generator, n: int) -> Spectrum:
    """Spectrum of a random RBF / Laplace / Matérn kernel on random inputs."""
    p = int(rng.choice([1, 2, 5]))
    X = rng.uniform(0.0, 1.0, (n, p))
    ell = 10.0 ** rng.uniform(-1.3, 0.3) * np.sqrt(p)
    kind = int(rng.integers(4))
    if kind == 0:
        k = kernels.RBF(lengthscale=ell)
    elif kind == 1:
        k = kernels.Laplace(lengthscale=ell)
    else:
        k = kernels.Matern(nu=(1.5, 2.5)[kind - 2], lengthscale=ell)
    return ksd.spectrum(k, X)


def sample_spectrum(rng: np.random.Generator) -> Spectrum:
    """A random spectrum: half planted (κ up to 1e8), half from random kernels."""
    n = int(rng.choice(SIZES))
    if rng.random() < 0.5:
        return ksd.spectrum_from_eigen(
            _planted_eigvals(rng, n), _random_orthogonal(rng, n)
        )
    return _kernel_spectrum(rng, n)


def sample_trace(rng: np.random.Generator) -> DistillTrace:
    """A random constrained trace of :data:`ROUNDS` rounds.

    Targets: Gaussian coordinates whose scale decays like ``d^{a/2}`` for a random
    ``a ∈ [0, 1]`` (smooth to rough), projected onto the range of ``G``. ε is a
    log-uniform fraction ``10^U(−3, −0.05)`` of ``‖y‖²/K`` (so round 0 is never
    collapsed). Draws whose multipliers fall under the eigenvalue noise floor are
    redrawn (their fits are round-off).
    """
    while True:
        spec = sample_spectrum(rng)
        d = np.asarray(spec.eigvals)
        V = np.asarray(spec.eigvecs)
        power = rng.uniform(0.0, 1.0)
        scale = np.where(d > spec.noise_floor, (d / d[0]) ** (power / 2), 0.0)
        z = scale * rng.standard_normal(d.size)
        y = V @ z  # in the range of G: no null-space energy
        K = d.size
        eps = 10.0 ** rng.uniform(-3.0, -0.05) * float(z @ z) / K
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                return ksd.distill_from_spectrum(spec, y, eps=eps, rounds=ROUNDS)
            except UserWarning:
                continue


def sample_planted_risk(rng: np.random.Generator) -> PlantedRisk:
    """A planted problem: random spectrum, ``f_true`` with decaying coordinates, lam rounds.

    The filters of ``T = 8`` penalised rounds are ``A_t = (d/(lam + d))^{t+1}``
    (:func:`kernel_sd.filters.ridge`, composed round after round).
    """
    spec = sample_spectrum(rng)
    d = np.asarray(spec.eigvals)
    V = np.asarray(spec.eigvecs)
    theta = (d / d[0]) ** rng.uniform(0.0, 1.0) * rng.standard_normal(d.size)
    f_true = V @ theta
    lam = 10.0 ** rng.uniform(-3.0, 0.0) * float(d[0])
    h = filters.ridge(spec.eigvals, lam)
    rounds = [h]
    for _ in range(7):
        rounds.append(filters.compose(rounds[-1], h))
    return PlantedRisk(
        spec,
        f_true,
        float(10.0 ** rng.uniform(-2, 0)),
        np.asarray(rounds),
        lam,
        int(rng.integers(1 << 30)),
    )


def sample_gradient_flow(rng: np.random.Generator) -> GradientFlowInstance:
    """Planted eigenvalues and log-uniform times spanning ``1/d_max`` to ``100/d_min``."""
    n = int(rng.choice(SIZES))
    d = _planted_eigvals(rng, n)
    times = np.sort(
        10.0 ** rng.uniform(np.log10(0.1 / d[0]), np.log10(100.0 / d[-1]), 8)
    )
    return GradientFlowInstance(d, times)


def sample_instance(rng: np.random.Generator) -> Instance:
    """A random [NMBMK23] problem: ``K`` in :data:`SIZES`, condition number 10^U(0.5, 4).

    Eigenvalues are log-spaced from ``1`` down to ``1/κ`` (times ``1/K``) with a
    small random jitter (distinct values); ``V`` is a random orthonormal matrix.
    Times satisfy ``T d_max, T' d_max`` in ``[0.05, 20]`` (log-uniform) so the top
    filters stay below 1 in floating point.
    """
    K = int(rng.choice(SIZES))
    kappa = 10.0 ** rng.uniform(0.5, 4.0)
    d = np.geomspace(1.0, 1.0 / kappa, K) * np.exp(rng.uniform(-0.05, 0.05, K)) / K
    d = np.sort(d)[::-1]
    V, _ = np.linalg.qr(rng.standard_normal((K, K)))
    spec = ksd.spectrum_from_eigen(d, V)
    d_max = d[0]
    teacher_t = float(np.exp(rng.uniform(np.log(0.05), np.log(20.0))) / d_max)
    t = np.exp(rng.uniform(np.log(0.05), np.log(20.0), 3)) / d_max
    sigma = float(10.0 ** rng.uniform(-2, 0))
    x = np.linspace(0.0, 1.0, K)
    f_true = np.sin(2 * np.pi * rng.uniform(0.5, 2.0) * x)
    return Instance(
        spec=spec,
        teacher_t=teacher_t,
        t=t,
        j=int(rng.integers(0, K)),
        c=(
            float(d_max * 10.0 ** rng.uniform(-4, 0)),
            float(d_max * 10.0 ** rng.uniform(-4, 0)),
        ),
        xi=sigma * rng.standard_normal(K),
        sigma=sigma,
        f_true=f_true,
    )


class DescentInstance(NamedTuple):
    """A planted spectrum with its dense ``G``, labels and a teacher/student schedule."""

    spec: Spectrum
    """Planted spectrum of ``G``."""
    G: np.ndarray
    """(K, K) the dense ``G = V diag(d) Vᵀ``."""
    y: np.ndarray
    """(K,) labels."""
    lr: float
    """Step size (``0 < lr d_max <= 1``); for flow instances unused (0)."""
    teacher: float
    """Teacher steps ``N_T`` (descent) or time ``T`` (flow)."""
    student: float
    """Student steps ``N`` (descent) or time ``T'`` (flow)."""
    alpha: float
    """Weight of the labels in the student's targets after the switch."""
    switch_step: int
    """Step at which the student switches from the labels to its targets."""


def _planted_dense(rng: np.random.Generator, log_kappa: tuple[float, float]):
    """Jittered log-spaced eigenvalues (as :func:`sample_instance`), ``V`` and ``G``."""
    K = int(rng.choice(SIZES))
    kappa = 10.0 ** rng.uniform(*log_kappa)
    d = np.geomspace(1.0, 1.0 / kappa, K) * np.exp(rng.uniform(-0.05, 0.05, K)) / K
    d = np.sort(d)[::-1]
    V = _random_orthogonal(rng, K)
    G = (V * d[None, :]) @ V.T
    return ksd.spectrum_from_eigen(d, V), 0.5 * (G + G.T)


def sample_descent(rng: np.random.Generator) -> DescentInstance:
    """Gradient descent schedules within :data:`SCAN_STEPS` steps on a planted ``G``.

    Condition number ``10^U(0.5, 4)``, ``lr d_max ~ U(0.2, 1)``, teacher and student
    steps uniform in ``[1, SCAN_STEPS]``; half the students mix in the labels
    (``α ~ U(0, 0.7)``) and half switch from the labels at a random step.
    """
    spec, G = _planted_dense(rng, (0.5, 4.0))
    K = G.shape[0]
    steps = int(rng.integers(1, SCAN_STEPS + 1))
    return DescentInstance(
        spec=spec,
        G=G,
        y=rng.standard_normal(K),
        lr=float(rng.uniform(0.2, 1.0) / float(spec.eigvals[0])),
        teacher=int(rng.integers(1, SCAN_STEPS + 1)),
        student=steps,
        alpha=float(rng.uniform(0.0, 0.7)) if rng.random() < 0.5 else 0.0,
        switch_step=int(rng.integers(0, steps)) if rng.random() < 0.5 else 0,
    )


def sample_flow(rng: np.random.Generator) -> DescentInstance:
    """Gradient-flow times on a planted ``G`` (condition ``10^U(0.5, 3)``).

    ``T d_max`` and ``T' d_max`` are log-uniform in ``[0.1, 20]``, so one of
    :data:`FLOW_STEPS` steps moves every coordinate by at most ``x/N <= 0.01``.
    """
    spec, G = _planted_dense(rng, (0.5, 3.0))
    d_max = float(spec.eigvals[0])
    return DescentInstance(
        spec=spec,
        G=G,
        y=rng.standard_normal(G.shape[0]),
        lr=0.0,
        teacher=float(np.exp(rng.uniform(np.log(0.1), np.log(20.0))) / d_max),
        student=float(np.exp(rng.uniform(np.log(0.1), np.log(20.0))) / d_max),
        alpha=0.0,
        switch_step=0,
    )


class DenseRounds(NamedTuple):
    """A constrained trace with the dense ``G`` and eigenvalues to recompute it."""

    trace: DistillTrace
    """Constrained trace of :data:`ROUNDS` rounds."""
    G: np.ndarray
    """(K, K) dense ``G``."""
    eigvals: np.ndarray
    """(K,) eigenvalues of ``G`` known independently of the trace (ascending)."""
    y: np.ndarray
    """(K,) targets."""
    eps: float
    """Constraint level ε."""


def sample_dense_rounds(rng: np.random.Generator) -> DenseRounds:
    """A constrained trace with a dense ``G`` whose eigenvalues are known.

    Half planted (condition ``10^U(0.5, 6)``, eigenvalues known by construction),
    half RBF kernels on random inputs with full numerical rank and condition
    below 1e7, whose eigenvalues come from ``numpy.linalg.eigvalsh`` of the dense
    ``G`` (far above the noise floor ``K·eps·d_max``, so the bracket of the
    root finder never reaches into a numerical null space). Targets and ε as in
    :func:`sample_trace`.
    """
    while True:
        if rng.random() < 0.5:
            spec, G = _planted_dense(rng, (0.5, 6.0))
            eigvals = np.sort(np.asarray(spec.eigvals))
        else:
            K = int(rng.choice(SIZES))
            p = int(rng.choice([1, 2, 5]))
            X = rng.uniform(0.0, 1.0, (K, p))
            k = kernels.RBF(
                lengthscale=float(10.0 ** rng.uniform(-1.0, -0.3)) * np.sqrt(p)
            )
            G = np.asarray(ksd.gram(k, X)) / K
            G = 0.5 * (G + G.T)
            eigvals = np.linalg.eigvalsh(G)
            if eigvals[0] <= 1e-7 * eigvals[-1]:
                continue
            spec = ksd.spectrum(k, X)
            if int(spec.rank) < K:
                continue
        d = np.asarray(spec.eigvals)
        V = np.asarray(spec.eigvecs)
        z = (d / d[0]) ** (rng.uniform(0.0, 1.0) / 2) * rng.standard_normal(d.size)
        y = V @ z
        eps = 10.0 ** rng.uniform(-3.0, -0.05) * float(y @ y) / d.size
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            try:
                tr = ksd.distill_from_spectrum(spec, y, eps=eps, rounds=ROUNDS)
            except UserWarning:
                continue
        return DenseRounds(tr, G, eigvals, y, eps)


class NoiseInstance(NamedTuple):
    """A kernel spectrum, a noise level, a teacher time and times along training."""

    spec: Spectrum
    """Spectrum of a random kernel on random inputs."""
    sigma: float
    """Noise standard deviation σ."""
    teacher_t: float
    """Teacher time ``T``."""
    t: np.ndarray
    """(2,) times ``s`` along training: 0 and one ``s > 0``."""
    seed: int
    """Seed of the :data:`NOISE_DRAWS` noise draws."""


def sample_noise(rng: np.random.Generator) -> NoiseInstance:
    """A random kernel spectrum, σ ~ 10^U(−1, 0), ``T d_max, s d_max`` ~ logU(0.3, 30)."""
    spec = _kernel_spectrum(rng, int(rng.choice(SIZES)))
    d_max = float(spec.eigvals[0])
    return NoiseInstance(
        spec=spec,
        sigma=float(10.0 ** rng.uniform(-1.0, 0.0)),
        teacher_t=float(np.exp(rng.uniform(np.log(0.3), np.log(30.0))) / d_max),
        t=np.array([0.0, np.exp(rng.uniform(np.log(0.3), np.log(30.0))) / d_max]),
        seed=int(rng.integers(1 << 30)),
    )
