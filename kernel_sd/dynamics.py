"""Kernel models trained by gradient methods, in closed form: teacher, student, late switch.

Gradient flow from zero on ``(1/2K)‖f(X) − y‖²`` is the filter ``1 − exp(−t d)``
on each eigen-coordinate ``z = Vᵀ y`` of ``G = k(X, X)/K = V diag(d) Vᵀ``;
gradient descent with step ``lr`` is ``1 − (1 − lr d)^N`` after ``N`` steps. A
student trained on a teacher's training predictions multiplies the filters; a
mix ``α·y + (1 − α)·f_T(X)`` gives ``h_S(d) (α + (1 − α) h_T(d))``; a switch from
labels to the teacher at step ``s`` continues from the label-trained
coordinates. Each function here validates its arguments, builds its filter from
``kernel_sd.filters`` and hands it to the engine :func:`kernel_sd.fit.apply`:
after one eigendecomposition every time costs ``O(r)``; times are vectorised.

The same training run step by step (``lax.scan``), including softmax
cross-entropy kernel classifiers, is in ``kernel_sd.simulate``; its functions
are re-exported here, where they have always been.

References:
    [NMBMK23] Nagarajan, Menon, Bhojanapalli, Mobahi & Kumar, "On student-teacher
    deviations in distillation: does it pay to disobey?", NeurIPS 2023.
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate, fit
from kernel_sd.filters import (
    flow_rounds,
    gradient_descent,
    gradient_flow,
    label_mixing,
    late_switch,
    student,
)
from kernel_sd.simulate import Training as Training
from kernel_sd.simulate import simulate_classifier as simulate_classifier
from kernel_sd.simulate import simulate_regression as simulate_regression
from kernel_sd.simulate import softmax_probabilities as softmax_probabilities
from kernel_sd.spectra.base import Spectrum

__all__ = [
    "Fit",
    "Training",
    "teacher_flow",
    "teacher_descent",
    "student_flow",
    "student_descent",
    "distill_rounds",
    "simulate_regression",
    "simulate_classifier",
    "softmax_probabilities",
]

Fit = fit.Trace
"""A closed-form fit at several times: the engine's :class:`kernel_sd.fit.Trace`.

The name is kept for the gradient-method API; it is the same class as
``kernel_sd.DistillTrace``. ``filter`` is ``h(d_k)`` ``(T, r)``, ``coef`` the
coefficients ``β = diag(h/d) z`` (0 where ``d = 0``) with ``f(x) = g_xᵀ V β``;
the self-distillation fields (``c``, ``status``, ``target_norm2``, ``eps``,
``lam``) are None. Unlike the earlier ``NamedTuple`` it is not a tuple: read
the fields by name.
"""


def _apply(spec, y, H, W) -> Fit:
    """The engine on validated arguments; results that overflow are an error, never NaN."""
    return _validate.finite_results(fit.apply(spec, y, H, W), "the closed-form fit")


def _grid(name: str, values, spec, y, W) -> Array:
    """``values`` (validated times or step counts) as an array, if the fit fits in memory.

    Refused before any work when the ``(T, K)`` predictions, ``(T, m)`` test
    predictions and ``(T, r)`` filters and coefficients would exceed
    ``_validate.arrays.MAX_OUTPUT_GB``.
    """
    T, n, r = values.shape[0], spec.n_train, spec.eigvals.shape[0]
    m = 0 if W is None else W.shape[0]
    q = 1 if y.ndim == 1 else y.shape[1]
    _validate.output_size(
        name,
        f"<{T} values>",
        T * ((n + m + r) * q + 2 * r),
        spec.eigvals.dtype.itemsize,
        what=f"a fit at {T} values x ({n} training + {m} test predictions) x "
        f"{q} column(s)",
        fix="Evaluate fewer values per call: each costs O(r) after the spectrum.",
    )
    return jnp.asarray(values, spec.eigvals.dtype)


def _arguments(spec, y, test_features):
    """The public checks every closed form shares: ``spec``, ``y``, ``test_features``."""
    spec = _validate.spectrum("spec", spec)
    dtype = spec.eigvals.dtype
    y = _validate.targets("y", y, spec.n_train, dtype)
    return spec, y, _validate.feature_rows(test_features, spec, dtype)


def teacher_flow(spec: Spectrum, y: Array, *, t, test_features=None) -> Fit:
    """Gradient flow from zero on the labels, at times ``t``  [NMBMK23].

    ``f_t(X) = V diag(1 − exp(−t d)) Vᵀ y`` for the loss ``(1/2K)‖f(X) − y‖²``.

    Args:
        spec: spectrum of ``G = k(X, X)/K``.
        y: ``(K,)`` or ``(K, q)`` labels.
        t: time ``t >= 0`` or ``(T,)`` times.
        test_features: optional ``(m, r)`` rows ``g_xᵀ V`` (``ksd.features``).

    Returns:
        A :class:`Fit` with leading axis ``T``.

    Raises:
        ValueError: bad ``spec``, ``y``, ``t`` or ``test_features`` (named).

    Examples:
        >>> import numpy as np, kernel_sd as ksd
        >>> spec = ksd.spectrum_from_eigen(np.array([0.5, 0.1]), np.eye(2))
        >>> fit = ksd.dynamics.teacher_flow(spec, np.array([1.0, 1.0]), t=[0.0, 1e6])
        >>> np.round(np.asarray(fit.train_pred), 6).tolist()
        [[0.0, 0.0], [1.0, 1.0]]
    """
    spec, y, W = _arguments(spec, y, test_features)
    t = _grid("t", _validate.times("t", t), spec, y, W)
    H = gradient_flow(spec.eigvals[None, :], t[:, None])  # [NMBMK23] 1 − e^{−t d}
    return _apply(spec, y, H, W)


def teacher_descent(spec: Spectrum, y: Array, *, lr, steps, test_features=None) -> Fit:
    """Gradient descent from zero on the labels with step ``lr``, after ``steps`` steps.

    ``f_N(X) = V diag(1 − (1 − lr d)^N) Vᵀ y``  [NMBMK23] (the discrete analogue of
    :func:`teacher_flow`; ``lr → 0`` with ``lr·N = t`` recovers it).

    Args:
        lr: step size, ``0 < lr < 2/d_max``.
        steps: ``N >= 0`` or ``(T,)`` step counts.
        Other arguments: as in :func:`teacher_flow`.
    """
    spec, y, W = _arguments(spec, y, test_features)
    lr = _validate.step_size(lr, float(spec.eigvals[0]))
    n = _grid("steps", _validate.steps("steps", steps), spec, y, W)
    H = gradient_descent(spec.eigvals[None, :], lr, n[:, None])  # 1 − (1 − lr d)^N
    return _apply(spec, y, H, W)


def student_flow(
    spec: Spectrum, y: Array, *, teacher_t, t, alpha=0.0, test_features=None
) -> Fit:
    """Student trained by gradient flow on ``α·y + (1 − α)·f_T(X)``  [NMBMK23].

    The teacher is gradient flow on ``y`` for time ``T = teacher_t``; the student
    starts from zero and runs for time ``T' = t``:
    ``h_S(d) = (1 − e^{−T' d}) (α + (1 − α)(1 − e^{−T d}))``.

    Derived: gradient flow is linear in its targets, and the targets' coordinates
    are ``(α + (1 − α) h_T(d)) z``; ``α = 0`` gives the paper's
    ``(1 − e^{−T' d})(1 − e^{−T d}) z``.

    Args:
        teacher_t: the teacher's training time ``T >= 0``.
        t: the student's time ``T' >= 0`` or ``(T,)`` times.
        alpha: weight ``α ∈ [0, 1]`` of the labels in the student's targets.
        Other arguments: as in :func:`teacher_flow`.
    """
    spec, y, W = _arguments(spec, y, test_features)
    T = _validate.positive_scalar("teacher_t", teacher_t, allow_zero=True)
    a = _validate.alpha(alpha)
    t = _grid("t", _validate.times("t", t), spec, y, W)
    d = spec.eigvals[None, :]
    # [NMBMK23] (1 − e^{−T'd})(α + (1 − α)(1 − e^{−Td}))
    H = student(gradient_flow(d, t[:, None]), gradient_flow(d, T), a)
    return _apply(spec, y, H, W)


def student_descent(
    spec: Spectrum,
    y: Array,
    *,
    lr,
    teacher_steps,
    steps,
    alpha=0.0,
    switch_step=0,
    test_features=None,
) -> Fit:
    """Student trained by gradient descent, switching from labels to the teacher.

    The teacher runs ``teacher_steps`` steps on ``y`` (filter ``h_T``). The student
    starts at zero, trains on ``y`` for its first ``s = switch_step`` steps, then on
    ``α·y + (1 − α)·f_T(X)`` (coordinates ``m(d) z`` with ``m = α + (1 − α) h_T``).
    With ``q = 1 − lr d``, its filter after ``N`` steps is

        ``1 − q^N``                          for ``N <= s``,
        ``m − q^{N−s} (m − (1 − q^s))``      for ``N > s``.

    Derived: each step maps the coordinate ``u`` to ``target + q (u − target)``.
    ``switch_step = 0`` is distillation from the start (``h_S · m``),
    ``switch_step >= N`` is label-only training.

    Args:
        lr: step size, ``0 < lr < 2/d_max``.
        teacher_steps: the teacher's number of steps ``>= 0``.
        steps: the student's step counts ``N`` (int or ``(T,)``).
        alpha: weight ``α ∈ [0, 1]`` of the labels after the switch.
        switch_step: step ``s >= 0`` at which the targets switch to the teacher.
        Other arguments: as in :func:`teacher_flow`.
    """
    spec, y, W = _arguments(spec, y, test_features)
    lr = _validate.step_size(lr, float(spec.eigvals[0]))
    nt = _validate.integer("teacher_steps", teacher_steps, minimum=0)
    s = _validate.integer("switch_step", switch_step, minimum=0)
    a = _validate.alpha(alpha)
    n = _grid("steps", _validate.steps("steps", steps), spec, y, W)[:, None]
    d = spec.eigvals[None, :]
    target = label_mixing(gradient_descent(d, lr, nt), a)
    H = late_switch(d, lr, n, s, target)
    return _apply(spec, y, H, W)


def distill_rounds(
    spec: Spectrum, y: Array, *, t, alpha=0.0, test_features=None
) -> Fit:
    """Multi-round distillation by gradient flow: each student becomes the next teacher.

    Round 0 trains on ``y`` for time ``t[0]``; round ``i >= 1`` trains from zero for
    time ``t[i]`` on ``α·y + (1 − α)·f_{i−1}(X)``:
    ``H_0 = h(t_0)``, ``H_i = h(t_i) (α + (1 − α) H_{i−1})`` with ``h(t) = 1 − e^{−t d}``.

    Args:
        t: ``(R,)`` training time of each round (round 0 is the teacher).
        alpha: weight ``α ∈ [0, 1]`` of the labels in rounds ``>= 1``.
        Other arguments: as in :func:`teacher_flow`.

    Returns:
        A :class:`Fit` whose leading axis is the round.
    """
    spec, y, W = _arguments(spec, y, test_features)
    a = _validate.alpha(alpha)
    t = _grid("t", _validate.times("t", t), spec, y, W)
    return _apply(spec, y, flow_rounds(spec.eigvals, t, a), W)
