"""Kernel models trained step by step: kernel gradient descent, regression and classifiers.

The model is ``f(x) = g_xᵀ a`` with ``g_x = k(x, X)/K`` and ``a ∈ R^{K×q}``; the
functional (RKHS) gradient of ``(1/K) Σ_i ℓ(f(x_i), p_i)`` is ``g_·ᵀ ∂ℓ``, so one
step is ``a ← a − lr · ∂ℓ/∂f(X)`` and ``f(X) ← f(X) − lr · G ∂ℓ/∂f(X)``
(``jax.lax.scan`` over the steps). With the squared loss ``∂ℓ/∂f = f − y`` this
reproduces the closed forms of ``kernel_sd.dynamics`` exactly; with softmax
cross-entropy ``∂ℓ/∂f = softmax(f) − p`` (no closed form). The same updates are
gradient descent on the weights ``w`` of a linear model ``f(x) = φ(x)ᵀ w`` whose
features satisfy ``φ(x_i)ᵀ φ(x_j) = k(x_i, x_j)`` (with ``f(X) = Φ w``).

Temperature in cross-entropy distillation (one convention for the library,
shared with ``kernel_sd.nets.train``). With labels ``e_y``, teacher logits
``f_T``, label weight ``α`` and temperature ``τ``, the per-example loss is

- ``"hinton"`` (Hinton, Vinyals & Dean 2015; the standard one, and the default of
  ``kernel_sd.nets.train``): ``α CE(e_y, softmax(f)) + (1 − α) τ² CE(softmax(f_T/τ),
  softmax(f/τ))``, gradient ``α (softmax(f) − e_y) + (1 − α) τ (softmax(f/τ) −
  softmax(f_T/τ))``: the student's logits are divided by ``τ`` too, and ``τ²`` keeps
  the soft term's gradient on the scale of the hard one;
- ``"soft_targets"``: ``CE(α e_y + (1 − α) softmax(f_T/τ), softmax(f))``: ``τ``
  softens the teacher only (the student at ``τ = 1``).

with ``CE(p, r) = −Σ_c p_c log r_c``. The two agree at ``τ = 1``.

:func:`simulate_classifier` applied ``"soft_targets"`` before the convention was
shared. It still does when ``convention`` is not given, and then warns
(``FutureWarning``) whenever ``τ ≠ 1``, where the two differ: pass
``convention="hinton"`` (the library's convention, and the future default) or
``convention="soft_targets"``.

References:
    [NMBMK23] Nagarajan, Menon, Bhojanapalli, Mobahi & Kumar, "On student-teacher
    deviations in distillation: does it pay to disobey?", NeurIPS 2023.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate, _warn

__all__ = [
    "CE_CONVENTIONS",
    "Training",
    "simulate_regression",
    "simulate_classifier",
    "softmax_probabilities",
]


CE_CONVENTIONS = ("hinton", "soft_targets")
"""Temperature conventions of cross-entropy distillation (module docstring)."""


def check_convention(convention) -> str:
    """``convention`` if it is one of :data:`CE_CONVENTIONS`, else a ``ValueError``."""
    if not isinstance(convention, str) or convention not in CE_CONVENTIONS:
        raise ValueError(
            f"`convention` must be one of {CE_CONVENTIONS} (how the temperature "
            f"enters cross-entropy distillation), got {convention!r}."
        )
    return convention


def student_temperature(convention: str, tau: float) -> float:
    """The temperature on the student's logits: ``τ`` for Hinton's loss, else 1."""
    return tau if convention == "hinton" else 1.0


class Training(NamedTuple):
    """A simulated training run (kernel gradient descent), every step recorded."""

    train_pred: Array
    """(N + 1, K) or (N + 1, K, q) ``f_s(X)`` for steps ``s = 0..N`` (``f_0 = 0``)."""
    test_pred: Array | None
    """(N + 1, m) or (N + 1, m, q) ``f_s(X_test)``; None without ``G_test``."""
    loss: Array
    """(N + 1,) the loss being minimised at step ``s`` against that step's targets."""
    coef: Array
    """(K,) or (K, q) final coefficients ``a``: ``f(x) = g_xᵀ a``."""


def softmax_probabilities(logits: Array, *, temperature=1.0) -> Array:
    """Teacher probabilities ``softmax(f / τ)`` row-wise (``τ = temperature > 0``)."""
    tau = _validate.positive_scalar("temperature", temperature)
    return jax.nn.softmax(jnp.asarray(logits) / tau, axis=-1)


@partial(jax.jit, static_argnames=("steps", "softmax"))
def _simulate_core(
    G, Gt, first, second, switch, lr, steps, softmax, alpha=1.0, tau=1.0
):
    """Kernel gradient descent: ``a ← a − lr ∂ℓ/∂f(X)``, targets switch at ``switch``.

    Squared loss: target ``first`` before the switch, ``second`` from it on.
    Cross-entropy: ``first`` are the one-hot labels and ``second`` the teacher's
    probabilities; from the switch on the loss is ``α CE(first, softmax(f)) +
    (1 − α) τ_s² CE(second, softmax(f/τ_s))`` with ``τ_s = tau`` the student's
    temperature (module docstring), before it ``CE(first, softmax(f))``.
    """
    K = G.shape[0]

    def loss_and_grad(f, late):
        if softmax:
            a = jnp.where(late, alpha, 1.0)
            logp = jax.nn.log_softmax(f, axis=-1)
            logq = jax.nn.log_softmax(f / tau, axis=-1)
            hard = -jnp.sum(first * logp) / K
            soft = -jnp.sum(second * logq) / K
            loss = a * hard + (1.0 - a) * tau * tau * soft
            # ∂ℓ/∂f: α (softmax(f) − e_y) + (1 − α) τ_s (softmax(f/τ_s) − p_T)
            grad = a * (jnp.exp(logp) - first) + (1.0 - a) * tau * (
                jnp.exp(logq) - second
            )
            return loss, grad
        r = f - jnp.where(late, second, first)
        return 0.5 * jnp.sum(r * r) / K, r  # ∂ℓ/∂f of (1/2)(f − y)²

    def step(a, s):
        f = G @ a
        loss, g = loss_and_grad(f, s >= switch)
        a_next = a - lr * g  # [NMBMK23] kernel GD: f ← f − lr G ∂ℓ/∂f
        out_t = None if Gt is None else Gt @ a
        return a_next, (f, out_t, loss)

    a0 = jnp.zeros_like(first)
    a, (f, ft, loss) = jax.lax.scan(step, a0, jnp.arange(steps + 1))
    return f, ft, loss, a


def _check_steps(steps: int, G, G_test, q: int) -> None:
    """Every step is recorded: refuse before the scan when that would not fit."""
    m = 0 if G_test is None else G_test.shape[0]
    _validate.output_size(
        "steps",
        steps,
        (steps + 1) * ((G.shape[0] + m) * q + 1),
        G.dtype.itemsize,
        what=f"{steps + 1} recorded steps x ({G.shape[0]} training + {m} test "
        f"predictions) x {q} column(s)",
        fix="Use fewer steps, or the closed forms of kernel_sd.dynamics, which "
        "evaluate only the times asked for.",
    )


def _targets_with_switch(teacher, y, alpha: float, switch_step: int):
    """Targets before and after the switch, and the switch step: ``y``, then
    ``α·y + (1 − α)·teacher`` from ``switch_step`` on (``y`` throughout without one)."""
    if teacher is None:
        return y, y, 0
    return y, alpha * y + (1.0 - alpha) * teacher, switch_step


def simulate_regression(
    G: Array,
    y: Array,
    *,
    lr,
    steps: int,
    teacher: Array | None = None,
    alpha=0.0,
    switch_step=0,
    G_test: Array | None = None,
) -> Training:
    """Simulated kernel gradient descent on ``(1/2K)‖f(X) − target‖²`` from zero.

    Each step ``a ← a − lr (G a − target)``, i.e. ``f(X) ← f(X) − lr G (f(X) − target)``.
    Without ``teacher`` the target is ``y`` throughout (a teacher); with it, the
    target is ``y`` for steps ``< switch_step`` and ``α·y + (1 − α)·teacher`` after
    (``switch_step = 0``: distillation from the start).

    Args:
        G: ``(K, K)`` scaled Gram matrix ``k(X, X)/K``.
        y: ``(K,)`` or ``(K, q)`` labels.
        lr: step size ``> 0``.
        steps: number of steps ``N >= 1`` (static: one compilation per value).
        teacher: optional teacher training predictions ``f_T(X)``, shaped like ``y``.
        alpha: weight ``α ∈ [0, 1]`` of the labels after the switch.
        switch_step: step ``s >= 0`` from which the teacher is used.
        G_test: optional ``(m, K)`` ``k(X_test, X)/K``.

    Returns:
        A :class:`Training` with every step recorded.
    """
    G = _validate.square_matrix("G", G)
    G_test = _validate.cross_gram("G_test", G_test, G)
    y = _validate.targets("y", y, G.shape[0], G.dtype)
    lr = _validate.positive_scalar("lr", lr)
    steps = _validate.positive_int("steps", steps)
    _check_steps(steps, G, G_test, 1 if y.ndim == 1 else y.shape[1])
    alpha = _validate.alpha(alpha)
    if teacher is not None:
        teacher = _validate.shaped_like("teacher", teacher, y)
        switch_step = _validate.integer("switch_step", switch_step, minimum=0)
    first, second, s = _targets_with_switch(teacher, y, alpha, switch_step)
    f, ft, loss, a = _simulate_core(G, G_test, first, second, s, lr, steps, False)
    return Training(train_pred=f, test_pred=ft, loss=loss, coef=a)


def simulate_classifier(
    G: Array,
    labels: Array,
    *,
    lr,
    steps: int,
    classes: int | None = None,
    teacher_logits: Array | None = None,
    temperature=1.0,
    alpha=0.0,
    switch_step=0,
    G_test: Array | None = None,
    convention: str | None = None,
) -> Training:
    """Simulated kernel gradient descent on softmax cross-entropy from zero  [NMBMK23].

    Model: logits ``f(x) = g_xᵀ a`` with ``a ∈ R^{K×C}`` (function-space
    parametrisation); each step is ``a ← a − lr ∂ℓ/∂f(X)`` with ``ℓ`` the
    per-example loss. On the labels ``ℓ = CE(e_y, softmax(f))`` and the step is
    ``a ← a − lr (softmax(G a) − E)`` (``E`` the one-hot labels). From
    ``switch_step`` on, when ``teacher_logits`` ``f_T(X)`` are given, ``ℓ`` is the
    distillation loss of ``convention`` with label weight ``α = alpha`` and
    temperature ``τ = temperature`` (module docstring):

    - ``"hinton"``: ``α CE(e_y, softmax(f)) + (1 − α) τ² CE(softmax(f_T/τ),
      softmax(f/τ))``, the convention of ``kernel_sd.nets.train``;
    - ``"soft_targets"``: ``CE(α e_y + (1 − α) softmax(f_T/τ), softmax(f))``.

    They agree at ``τ = 1``. Without ``convention`` the function keeps its former
    ``"soft_targets"`` behaviour and warns when ``τ ≠ 1``.

    Args:
        G: ``(K, K)`` scaled Gram matrix ``k(X, X)/K``.
        labels: ``(K,)`` integer class labels in ``[0, C)``.
        lr: step size ``> 0``.
        steps: number of steps ``N >= 1``.
        classes: number of classes ``C`` (default ``max(labels) + 1``).
        teacher_logits: optional ``(K, C)`` teacher logits on the training points.
        temperature: ``τ > 0`` of the distillation loss.
        alpha: weight ``α ∈ [0, 1]`` of the labels after the switch.
        switch_step: step ``s >= 0`` from which the teacher is used.
        G_test: optional ``(m, K)`` ``k(X_test, X)/K``.
        convention: ``"hinton"`` or ``"soft_targets"`` (see above).

    Returns:
        A :class:`Training` whose predictions are logits ``(N + 1, K, C)``.

    Warns:
        FutureWarning: ``convention`` not given with a teacher and ``τ ≠ 1``.
    """
    G = _validate.square_matrix("G", G)
    G_test = _validate.cross_gram("G_test", G_test, G)
    lab, C = _validate.class_labels("labels", labels, G.shape[0], classes)
    lr = _validate.positive_scalar("lr", lr)
    steps = _validate.positive_int("steps", steps)
    _check_steps(steps, G, G_test, C)
    alpha = _validate.alpha(alpha)
    if convention is not None:
        convention = check_convention(convention)
    onehot = jnp.asarray(np.eye(C)[lab], G.dtype)
    if teacher_logits is None:  # labels throughout: the hard term only
        # α = 1, τ_s = 1 passed like the student's floats: one compilation for both.
        f, ft, loss, a = _simulate_core(
            G, G_test, onehot, onehot, 0, lr, steps, True, 1.0, 1.0
        )
        return Training(train_pred=f, test_pred=ft, loss=loss, coef=a)
    tl = _validate.shaped_like("teacher_logits", teacher_logits, onehot)
    tau = _validate.positive_scalar("temperature", temperature)
    switch_step = _validate.integer("switch_step", switch_step, minimum=0)
    if convention is None:
        if tau != 1.0:
            _warn.warn(
                f"simulate_classifier with `temperature`={tau:g} and no `convention`: "
                "the teacher is softened but the student is not ('soft_targets', the "
                "former behaviour). Pass convention='hinton' for the library's "
                "convention (student logits divided by τ too, soft term × τ², as "
                "kernel_sd.nets.train; the future default) or "
                "convention='soft_targets' to keep this one.",
                FutureWarning,
            )
        convention = "soft_targets"
    teacher = softmax_probabilities(tl, temperature=tau)
    tau_s = student_temperature(convention, tau)
    f, ft, loss, a = _simulate_core(
        G, G_test, onehot, teacher, switch_step, lr, steps, True, alpha, tau_s
    )
    return Training(train_pred=f, test_pred=ft, loss=loss, coef=a)
