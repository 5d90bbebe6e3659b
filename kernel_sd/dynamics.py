"""Kernel models trained by gradient methods: teacher, student, late switch, classifiers.

Two routes that must agree.

*Closed form* (regression): gradient flow from zero on ``(1/2K)‖f(X) − y‖²`` is the
filter ``1 − exp(−t d)`` on each eigen-coordinate ``z = Vᵀ y`` of
``G = k(X, X)/K = V diag(d) Vᵀ``; gradient descent with step ``lr`` is
``1 − (1 − lr d)^N`` after ``N`` steps. A student trained on a teacher's training
predictions multiplies the filters; a mix ``α·y + (1 − α)·f_T(X)`` gives
``h_S(d) (α + (1 − α) h_T(d))``; a switch from labels to the teacher at step
``s`` continues from the label-trained coordinates. After one eigendecomposition
every time costs ``O(r)``; times are vectorised.

*Simulated training* (``jax.lax.scan`` over steps): kernel gradient descent in
function space. The model is ``f(x) = g_xᵀ a`` with ``g_x = k(x, X)/K`` and
``a ∈ R^{K×q}``; the functional (RKHS) gradient of
``(1/K) Σ_i ℓ(f(x_i), p_i)`` is ``g_·ᵀ ∂ℓ``, so one step is
``a ← a − lr · ∂ℓ/∂f(X)`` and ``f(X) ← f(X) − lr · G ∂ℓ/∂f(X)``. With the squared
loss ``∂ℓ/∂f = f − y`` this reproduces the closed form exactly; with softmax
cross-entropy ``∂ℓ/∂f = softmax(f) − p`` (no closed form). The same updates are
gradient descent on the weights ``w`` of a linear model ``f(x) = φ(x)ᵀ w`` whose
features satisfy ``φ(x_i)ᵀ φ(x_j) = k(x_i, x_j)`` (with ``f(X) = Φ w``).

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

from kernel_sd import _validate
from kernel_sd.filters import gradient_descent, gradient_flow
from kernel_sd.spectral import Spectrum, expand

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


class Fit(NamedTuple):
    """A closed-form fit in the eigenbasis at several times (leading axis ``T``)."""

    filter: Array
    """(T, r) filter ``h(d_k)``: training predictions are ``V diag(h) z``."""
    train_pred: Array
    """(T, K) or (T, K, q) training predictions ``f(X)``."""
    test_pred: Array | None
    """(T, m) or (T, m, q) predictions at new points; None without features."""
    coef: Array
    """(T, r) or (T, r, q) ``β = diag(h/d) z`` (0 where d = 0): ``f(x) = g_xᵀ V β``."""


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


# ----------------------------------------------------------------------------
# validation


def _spec(spec) -> Spectrum:
    if not isinstance(spec, Spectrum):
        raise ValueError(
            f"`spec` must be a kernel_sd Spectrum (from ksd.spectrum), got "
            f"{type(spec).__name__}."
        )
    return spec


def _times(name: str, value) -> np.ndarray:
    """A non-empty 1-D vector of finite times ``>= 0`` (a scalar becomes length 1)."""
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    return _validate.positive_vector(name, arr, allow_zero=True)


def _steps(name: str, value) -> np.ndarray:
    """A non-empty 1-D vector of integer step counts ``>= 0``."""
    arr = np.atleast_1d(np.asarray(value))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(
            f"`{name}` must be an integer or a 1-D array of integers, got {value!r}."
        )
    if (arr < 0).any():
        raise ValueError(f"`{name}` must be >= 0, got {arr.min()!r}.")
    return arr.astype(np.int64)


def _step_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0, got {value!r}.")
    return int(value)


def _alpha(alpha) -> float:
    a = _validate.positive_scalar("alpha", alpha, allow_zero=True)
    if a > 1:
        raise ValueError(
            f"`alpha` weighs labels against the teacher and must be in [0, 1], got {a!r}."
        )
    return a


def _lr(lr, d_max: float) -> float:
    lr = _validate.positive_scalar("lr", lr)
    if lr * d_max >= 2.0:
        raise ValueError(
            f"`lr`={lr:g} gives lr·d_max = {lr * d_max:.3g} >= 2: gradient descent "
            f"diverges along the top eigendirection. Use lr < {2.0 / d_max:.4g}."
        )
    return lr


def _features(test_features, spec: Spectrum, dtype):
    if test_features is None:
        return None
    W = jnp.asarray(test_features, dtype)
    if W.ndim != 2 or W.shape[1] != spec.eigvals.shape[0]:
        raise ValueError(
            f"`test_features` must be (m, {spec.eigvals.shape[0]}) rows g_xᵀ V "
            f"(from ksd.features), got shape {W.shape}."
        )
    return W


# ----------------------------------------------------------------------------
# closed form


@jax.jit
def _apply(d, z, H, W):
    """Filters ``H`` (T, r) on coordinates ``z`` (r, q): ``H z``, test predictions, ``α``."""
    Hz = H[:, :, None] * z[None, :, :]
    inv = jnp.where(d > 0, 1.0 / jnp.where(d > 0, d, 1.0), 0.0)
    coef = (H * inv[None, :])[:, :, None] * z[None, :, :]
    test = None if W is None else jnp.einsum("mr,trq->tmq", W, coef)
    return Hz, test, coef


def _fit(spec: Spectrum, y, H, test_features) -> Fit:
    dtype = spec.eigvals.dtype
    y = _validate.targets("y", y, spec.n_train, dtype)
    W = _features(test_features, spec, dtype)
    single = y.ndim == 1
    z = spec.eigvecs.T @ (y[:, None] if single else y)
    Hz, test, coef = _apply(spec.eigvals, z, H, W)
    train = expand(spec.eigvecs, Hz)  # f(X) = V H z for every filter row
    if single:
        train, coef = train[..., 0], coef[..., 0]
        test = None if test is None else test[..., 0]
    return Fit(filter=H, train_pred=train, test_pred=test, coef=coef)


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
    spec = _spec(spec)
    t = jnp.asarray(_times("t", t), spec.eigvals.dtype)
    H = gradient_flow(spec.eigvals[None, :], t[:, None])  # [NMBMK23] 1 − e^{−t d}
    return _fit(spec, y, H, test_features)


def teacher_descent(spec: Spectrum, y: Array, *, lr, steps, test_features=None) -> Fit:
    """Gradient descent from zero on the labels with step ``lr``, after ``steps`` steps.

    ``f_N(X) = V diag(1 − (1 − lr d)^N) Vᵀ y``  [NMBMK23] (the discrete analogue of
    :func:`teacher_flow`; ``lr → 0`` with ``lr·N = t`` recovers it).

    Args:
        lr: step size, ``0 < lr < 2/d_max``.
        steps: ``N >= 0`` or ``(T,)`` step counts.
        Other arguments: as in :func:`teacher_flow`.
    """
    spec = _spec(spec)
    lr = _lr(lr, float(spec.eigvals[0]))
    n = jnp.asarray(_steps("steps", steps), spec.eigvals.dtype)
    H = gradient_descent(spec.eigvals[None, :], lr, n[:, None])
    return _fit(spec, y, H, test_features)


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
    spec = _spec(spec)
    dtype = spec.eigvals.dtype
    T = _validate.positive_scalar("teacher_t", teacher_t, allow_zero=True)
    a = _alpha(alpha)
    t = jnp.asarray(_times("t", t), dtype)
    d = spec.eigvals[None, :]
    target = a + (1.0 - a) * gradient_flow(d, T)
    H = gradient_flow(d, t[:, None]) * target  # [NMBMK23] (1 − e^{−T'd})(1 − e^{−Td})
    return _fit(spec, y, H, test_features)


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
    spec = _spec(spec)
    dtype = spec.eigvals.dtype
    lr = _lr(lr, float(spec.eigvals[0]))
    nt = _step_int("teacher_steps", teacher_steps)
    s = _step_int("switch_step", switch_step)
    a = _alpha(alpha)
    n = jnp.asarray(_steps("steps", steps), dtype)[:, None]
    d = spec.eigvals[None, :]
    m = a + (1.0 - a) * gradient_descent(d, lr, nt)
    before = gradient_descent(d, lr, n)
    after_s = gradient_descent(d, lr, s)
    decay = 1.0 - gradient_descent(d, lr, jnp.maximum(n - s, 0.0))  # q^{N−s}
    H = jnp.where(n <= s, before, m - decay * (m - after_s))
    return _fit(spec, y, H, test_features)


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
    spec = _spec(spec)
    a = _alpha(alpha)
    t = jnp.asarray(_times("t", t), spec.eigvals.dtype)
    d = spec.eigvals

    def step(prev, ti):
        h = gradient_flow(d, ti) * (a + (1.0 - a) * prev)  # [NMBMK23] student × target
        return h, h

    # Round 0 sees the labels: α + (1 − α)·1 = 1, so the scan starts from ones.
    _, H = jax.lax.scan(step, jnp.ones_like(d), t)
    return _fit(spec, y, H, test_features)


# ----------------------------------------------------------------------------
# simulated training


def softmax_probabilities(logits: Array, *, temperature=1.0) -> Array:
    """Teacher probabilities ``softmax(f / τ)`` row-wise (``τ = temperature > 0``)."""
    tau = _validate.positive_scalar("temperature", temperature)
    return jax.nn.softmax(jnp.asarray(logits) / tau, axis=-1)


@partial(jax.jit, static_argnames=("steps", "softmax"))
def _simulate_core(G, Gt, first, second, switch, lr, steps, softmax):
    """Kernel gradient descent: ``a ← a − lr ∂ℓ/∂f(X)``, targets switch at ``switch``."""
    K = G.shape[0]

    def loss_and_grad(f, target):
        if softmax:
            logp = jax.nn.log_softmax(f, axis=-1)
            loss = -jnp.sum(target * logp) / K
            return loss, jnp.exp(logp) - target  # ∂ℓ/∂f of cross-entropy
        r = f - target
        return 0.5 * jnp.sum(r * r) / K, r  # ∂ℓ/∂f of (1/2)(f − y)²

    def step(a, s):
        target = jnp.where(s < switch, first, second)
        f = G @ a
        loss, g = loss_and_grad(f, target)
        a_next = a - lr * g  # [NMBMK23] kernel GD: f ← f − lr G ∂ℓ/∂f
        out_t = None if Gt is None else Gt @ a
        return a_next, (f, out_t, loss)

    a0 = jnp.zeros_like(first)
    a, (f, ft, loss) = jax.lax.scan(step, a0, jnp.arange(steps + 1))
    return f, ft, loss, a


def _gram_args(G, G_test):
    G = _validate.square_matrix("G", G)
    if G_test is not None:
        G_test = jnp.asarray(G_test, G.dtype)
        if G_test.ndim != 2 or G_test.shape[1] != G.shape[0]:
            raise ValueError(
                f"`G_test` must be (m, {G.shape[0]}) = k(X_test, X)/K, got "
                f"shape {G_test.shape}."
            )
    return G, G_test


def _switch_args(teacher, y, alpha, switch_step, name):
    a = _alpha(alpha)
    if teacher is None:
        return y, y, 0
    if teacher.shape != y.shape:
        raise ValueError(
            f"`{name}` must have the shape of the labels {y.shape}, got {teacher.shape}."
        )
    return y, a * y + (1.0 - a) * teacher, _step_int("switch_step", switch_step)


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
    G, G_test = _gram_args(G, G_test)
    y = _validate.targets("y", y, G.shape[0], G.dtype)
    lr = _validate.positive_scalar("lr", lr)
    steps = _validate.positive_int("steps", steps)
    teacher = None if teacher is None else jnp.asarray(teacher, G.dtype)
    first, second, s = _switch_args(teacher, y, alpha, switch_step, "teacher")
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
) -> Training:
    """Simulated kernel gradient descent on softmax cross-entropy from zero  [NMBMK23].

    Model: logits ``f(x) = g_xᵀ a`` with ``a ∈ R^{K×C}`` (function-space
    parametrisation). Loss ``(1/K) Σ_i −Σ_c p_ic log softmax(f(x_i))_c``; its
    functional gradient gives the step ``a ← a − lr (softmax(G a) − P)``. Targets
    ``P`` are the one-hot labels, and, from ``switch_step`` on when
    ``teacher_logits`` is given, ``α·onehot + (1 − α)·softmax(f_T(X)/τ)`` with
    ``τ = temperature`` (the student's own logits are not rescaled).

    Args:
        G: ``(K, K)`` scaled Gram matrix ``k(X, X)/K``.
        labels: ``(K,)`` integer class labels in ``[0, C)``.
        lr: step size ``> 0``.
        steps: number of steps ``N >= 1``.
        classes: number of classes ``C`` (default ``max(labels) + 1``).
        teacher_logits: optional ``(K, C)`` teacher logits on the training points.
        temperature: ``τ > 0`` softening the teacher's probabilities.
        alpha: weight ``α ∈ [0, 1]`` of the labels after the switch.
        switch_step: step ``s >= 0`` from which the teacher is used.
        G_test: optional ``(m, K)`` ``k(X_test, X)/K``.

    Returns:
        A :class:`Training` whose predictions are logits ``(N + 1, K, C)``.
    """
    G, G_test = _gram_args(G, G_test)
    lab = np.asarray(labels)
    if (
        lab.ndim != 1
        or lab.shape[0] != G.shape[0]
        or not np.issubdtype(lab.dtype, np.integer)
    ):
        raise ValueError(
            f"`labels` must be ({G.shape[0]},) integers, got {lab.dtype} {lab.shape}."
        )
    C = (
        int(lab.max()) + 1
        if classes is None
        else _validate.positive_int("classes", classes)
    )
    if lab.min() < 0 or lab.max() >= C:
        raise ValueError(
            f"`labels` must lie in [0, {C}), got [{lab.min()}, {lab.max()}]."
        )
    lr = _validate.positive_scalar("lr", lr)
    steps = _validate.positive_int("steps", steps)
    onehot = jnp.asarray(np.eye(C)[lab], G.dtype)
    teacher = None
    if teacher_logits is not None:
        tl = jnp.asarray(teacher_logits, G.dtype)
        if tl.shape != onehot.shape:
            raise ValueError(
                f"`teacher_logits` must be {onehot.shape}, got {tl.shape}."
            )
        teacher = softmax_probabilities(tl, temperature=temperature)
    first, second, s = _switch_args(
        teacher, onehot, alpha, switch_step, "teacher_logits"
    )
    f, ft, loss, a = _simulate_core(G, G_test, first, second, s, lr, steps, True)
    return Training(train_pred=f, test_pred=ft, loss=loss, coef=a)
