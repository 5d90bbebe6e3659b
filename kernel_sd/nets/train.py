"""Full-batch gradient descent for networks: labels, teachers, late switch, temperature.

Losses, over the ``K`` training points, against targets that may change at the
switch step ``s``:

- squared: ``L = (1/2K) Σ_i ‖f(x_i) − t_i‖²`` with ``t = y`` before ``s`` and
  ``t = α y + (1 − α) f_T(X)`` from ``s`` on (the convention of
  ``kernel_sd.dynamics``);
- softmax cross-entropy, with temperature ``τ``: before ``s``,
  ``L = (1/K) Σ_i CE(e_{y_i}, softmax(f(x_i)))``; from ``s`` on, by default
  (``convention="hinton"``, Hinton, Vinyals & Dean 2015) ``L = (1/K) Σ_i [α
  CE(e_{y_i}, softmax(f(x_i))) + (1 − α) τ² CE(softmax(f_T(x_i)/τ),
  softmax(f(x_i)/τ))]`` with ``CE(p, r) = −Σ_c p_c log r_c``: the temperature on
  teacher and student, and ``τ²`` keeps the soft term's gradient on the scale of
  the hard one. ``convention="soft_targets"`` softens the teacher only:
  ``L = (1/K) Σ_i CE(α e_{y_i} + (1 − α) softmax(f_T(x_i)/τ), softmax(f(x_i)))``.
  The two agree at ``τ = 1``. These are the conventions of
  ``kernel_sd.dynamics.simulate_classifier`` (module ``kernel_sd.simulate``),
  so a network student and a kernel student minimise the same loss.

Each step is ``θ ← θ − lr ∇_θ L`` on all parameters. With ``lr → 0`` and
``lr · N = t`` this follows gradient flow for time ``t``; with the NTK
parameterisation ``lr`` is on the scale of ``1/λ_max(Θ̂(X, X)/K)``.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd.nets.mlp import MLP, Params, check_params
from kernel_sd.nets.tangent import Linearized
from kernel_sd.simulate import check_convention, student_temperature

__all__ = ["LOSSES", "NetTraining", "train", "loss_value"]

LOSSES = ("squared", "cross_entropy")
"""Loss names accepted by :func:`train`."""


class NetTraining(NamedTuple):
    """A network training run, recorded every ``record_every`` steps."""

    step: Array
    """(R,) recorded steps ``0, e, 2e, ..., N``."""
    train_pred: Array
    """(R, K) or (R, K, q) ``f_s(X)`` (logits for cross-entropy)."""
    test_pred: Array | None
    """(R, m) or (R, m, q) ``f_s(X_test)``; None without ``X_test``."""
    loss: Array
    """(R,) the loss minimised at step ``s``, against that step's targets."""
    params: Params
    """Parameters after the last step ``N``."""


# ----------------------------------------------------------------------------
# losses


def _loss(kind: str, f, first, second, late, alpha, tau):
    """The loss at one step; ``late`` selects the targets after the switch.

    ``tau`` is the student's temperature ``τ_s`` (``τ`` for Hinton's loss, 1 for
    soft targets); ``second`` holds the teacher's ``softmax(f_T/τ)``.
    """
    K = f.shape[0]
    if kind == "squared":
        r = f - jnp.where(late, second, first)
        return 0.5 * jnp.sum(r * r) / K
    hard = -jnp.sum(first * jax.nn.log_softmax(f, axis=-1)) / K
    soft = -jnp.sum(second * jax.nn.log_softmax(f / tau, axis=-1)) / K
    a = jnp.where(late, alpha, 1.0)
    return a * hard + (1.0 - a) * tau * tau * soft  # Hinton et al.: τ_s² on soft term


def loss_value(
    f: Array,
    y: Array,
    *,
    loss: str = "squared",
    teacher: Array | None = None,
    alpha=0.0,
    temperature=1.0,
    convention: str = "hinton",
) -> Array:
    """The loss of predictions ``f`` (module docstring), after the switch if ``teacher``.

    Args:
        f: ``(K,)`` or ``(K, q)`` predictions (logits for cross-entropy).
        y: targets like ``f`` (squared) or ``(K,)`` integer labels (cross-entropy).
        loss: ``"squared"`` or ``"cross_entropy"``.
        teacher: optional teacher outputs shaped like ``f``.
        alpha: label weight ``α ∈ [0, 1]`` with a teacher.
        temperature: ``τ > 0`` (cross-entropy only).
        convention: ``"hinton"`` or ``"soft_targets"`` (cross-entropy only).

    Returns:
        The scalar loss.
    """
    f = jnp.asarray(f)
    if f.ndim == 1:
        f = f[:, None]
    q = f.shape[1]
    first, second, a, tau, _ = _targets(
        loss, y, f.shape[0], q, f.dtype, teacher, alpha, temperature, 0, 1, convention
    )
    return _loss(loss, f, first, second, teacher is not None, a, tau)


# ----------------------------------------------------------------------------
# validation


def _check_model(model):
    if isinstance(model, MLP):
        return model
    if isinstance(model, Linearized):
        return model.net
    raise ValueError(
        "`model` must be a kernel_sd.nets.MLP or a Linearized network "
        f"(kernel_sd.nets.linearize), got {type(model).__name__}."
    )


def _alpha(alpha) -> float:
    a = _validate.positive_scalar("alpha", alpha, allow_zero=True)
    if a > 1:
        raise ValueError(
            f"`alpha` weighs labels against the teacher and must be in [0, 1], got {a!r}."
        )
    return a


def _nonneg_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"`{name}` must be an integer >= 0, got {value!r}.")
    return int(value)


def _labels(y, K: int, q: int) -> np.ndarray:
    lab = np.asarray(y)
    if lab.ndim != 1 or lab.shape[0] != K or not np.issubdtype(lab.dtype, np.integer):
        raise ValueError(
            f"`y` must be ({K},) integer class labels for the cross-entropy loss, got "
            f"{lab.dtype} {lab.shape}."
        )
    if lab.min() < 0 or lab.max() >= q:
        raise ValueError(
            f"`y` labels must lie in [0, {q}) (the network has {q} outputs), got "
            f"[{lab.min()}, {lab.max()}]; build the MLP with outputs={lab.max() + 1}."
        )
    return lab


def _targets(kind, y, K, q, dtype, teacher, alpha, temperature, switch_step, steps,
             convention):  # fmt: skip
    """``(first, second, α, τ_s, switch)`` for the core, all validated (``τ_s``: the
    student's temperature)."""
    if kind not in LOSSES:
        raise ValueError(f"`loss` must be one of {LOSSES}, got {kind!r}.")
    a = _alpha(alpha)
    tau = _validate.positive_scalar("temperature", temperature)
    convention = check_convention(convention)
    if kind == "squared":
        if tau != 1.0:
            raise ValueError(
                f"`temperature`={tau:g} applies to the cross-entropy loss only; "
                "leave it at 1 for the squared loss."
            )
        if convention != "hinton":
            raise ValueError(
                f"`convention`={convention!r} applies to the cross-entropy loss "
                "only; leave it at its default for the squared loss."
            )
        y = _validate.targets("y", y, K, dtype)
        Y = y[:, None] if y.ndim == 1 else y
        if Y.shape[1] != q:
            raise ValueError(
                f"`y` has {Y.shape[1]} columns but the network has {q} outputs; "
                f"build the MLP with outputs={Y.shape[1]}."
            )
    else:
        Y = jnp.asarray(np.eye(q)[_labels(y, K, q)], dtype)
    if teacher is None:
        return Y, Y, 1.0, tau, steps + 1  # never switches
    T = jnp.asarray(teacher, dtype)
    T = T[:, None] if (T.ndim == 1 and q == 1) else T
    if T.shape != (K, q):
        raise ValueError(
            f"`teacher` must be the teacher's outputs on X, shape ({K}, {q}), got "
            f"{jnp.shape(teacher)}."
        )
    if not _validate.all_finite(T):
        raise ValueError(
            "`teacher` contains NaN or inf; train the teacher with a lower lr."
        )
    if kind == "squared":
        second = a * Y + (1.0 - a) * T  # [NMBMK23] mixed targets α y + (1 − α) f_T
    else:
        second = jax.nn.softmax(T / tau, axis=-1)  # soft targets softmax(f_T/τ)
    tau_s = student_temperature(convention, tau)
    return Y, second, a, tau_s, _nonneg_int("switch_step", switch_step)


# ----------------------------------------------------------------------------
# the loop


@partial(jax.jit, static_argnames=("kind", "steps", "every"))
def _train_core(model, params, X, X_test, first, second, switch, alpha, lr, tau,
                *, kind, steps, every):  # fmt: skip
    """``steps`` steps of ``θ ← θ − lr ∇L``, recorded at ``0, every, ..., steps``."""

    def loss_at(p, s):
        f = model.apply(p, X)
        return _loss(kind, f, first, second, s >= switch, alpha, tau), f

    value_and_grad = jax.value_and_grad(loss_at, has_aux=True)

    def step(p, s):
        (value, f), g = value_and_grad(p, s)
        p = jax.tree.map(lambda w, gw: w - lr * gw, p, g)
        return p, (value, f)

    def block(p, b):
        test = None if X_test is None else model.apply(p, X_test)
        p, (values, fs) = jax.lax.scan(step, p, b * every + jnp.arange(every))
        return p, (values[0], fs[0], test)

    params, (values, fs, tests) = jax.lax.scan(
        block, params, jnp.arange(steps // every)
    )
    last, f_last = loss_at(params, steps)
    values = jnp.concatenate([values, last[None]])
    fs = jnp.concatenate([fs, f_last[None]])
    if X_test is not None:
        tests = jnp.concatenate([tests, model.apply(params, X_test)[None]])
    return params, values, fs, tests


def train(
    model: MLP | Linearized,
    params: Params,
    X: Array,
    y: Array,
    *,
    lr,
    steps: int,
    loss: str = "squared",
    teacher: Array | None = None,
    alpha=0.0,
    switch_step: int = 0,
    temperature=1.0,
    convention: str = "hinton",
    record_every: int = 1,
    X_test: Array | None = None,
) -> NetTraining:
    """Full-batch gradient descent from ``params`` (module docstring for the losses).

    Without ``teacher`` the model trains on the labels throughout. With
    ``teacher`` (the teacher's outputs ``f_T(X)``) it trains on the labels for
    steps ``< switch_step`` and on the distillation loss from ``switch_step`` on
    (``0``: distillation from the start; ``>= steps``: labels only); ``alpha``
    mixes the labels back in.

    Args:
        model: an :class:`~kernel_sd.nets.MLP` or a :class:`Linearized` network.
        params: starting parameters (``net.init(key, inputs=p)``; for a
            linearised network usually its ``params0``).
        X: ``(K, p)`` training inputs.
        y: squared loss: ``(K,)`` (one output) or ``(K, q)`` targets;
            cross-entropy: ``(K,)`` integer labels in ``[0, q)``.
        lr: step size ``> 0``.
        steps: number of steps ``N >= 1`` (static: one compilation per value).
        loss: ``"squared"`` or ``"cross_entropy"``.
        teacher: optional ``(K,)``/``(K, q)`` teacher outputs on ``X`` (logits
            for cross-entropy).
        alpha: label weight ``α ∈ [0, 1]`` after the switch.
        switch_step: step ``s >= 0`` from which the teacher is used.
        temperature: ``τ > 0`` of the distillation loss (cross-entropy).
        convention: where ``τ`` enters the cross-entropy distillation loss:
            ``"hinton"`` (teacher and student, soft term × ``τ²``) or
            ``"soft_targets"`` (teacher only), module docstring.
        record_every: record predictions and loss every ``e`` steps (``e``
            divides ``N``; static).
        X_test: optional ``(m, p)`` inputs whose predictions are recorded.

    Returns:
        A :class:`NetTraining`; predictions are ``(R, K)`` for 1-D squared-loss
        targets, else ``(R, K, q)``.

    Raises:
        ValueError: bad arguments (named), or a loss that became NaN/inf (``lr``
        too large).

    Examples:
        >>> import jax, numpy as np
        >>> from kernel_sd import nets
        >>> X = np.linspace(-1, 1, 8)[:, None]; y = np.sin(3 * X[:, 0])
        >>> net = nets.MLP(depth=1, width=64)
        >>> run = nets.train(net, net.init(jax.random.key(0), 1), X, y,
        ...                      lr=0.5, steps=200, record_every=100)
        >>> bool(run.loss[-1] < run.loss[0])
        True
    """
    net = _check_model(model)
    X = _validate.inputs("X", X)
    params = check_params(net, params, X.shape[1])
    dtype = params[0].W.dtype
    X = X.astype(dtype)
    if X_test is not None:
        X_test = _validate.inputs("X_test", X_test).astype(dtype)
        if X_test.shape[1] != X.shape[1]:
            raise ValueError(
                f"`X_test` has {X_test.shape[1]} features but `X` has {X.shape[1]}."
            )
    lr = _validate.positive_scalar("lr", lr)
    steps = _validate.positive_int("steps", steps)
    every = _validate.positive_int("record_every", record_every)
    if steps % every:
        raise ValueError(
            f"`record_every`={every} must divide `steps`={steps}; records are taken "
            "at steps 0, e, 2e, ..., N."
        )
    K, q = X.shape[0], net.outputs
    first, second, a, tau, switch = _targets(
        loss, y, K, q, dtype, teacher, alpha, temperature, switch_step, steps,
        convention,
    )  # fmt: skip
    params, values, fs, tests = _train_core(
        model, params, X, X_test, first, second, switch, a, lr, tau,
        kind=loss, steps=steps, every=every,
    )  # fmt: skip
    if not _validate.all_finite(values):
        bad = int(np.argmin(np.isfinite(np.asarray(values)))) * every
        raise ValueError(
            f"the loss became NaN/inf by step {bad}: `lr`={lr:g} is too large. Lower "
            "it; near initialisation gradient descent is stable for lr < "
            "2/λ_max(Θ̂(X, X)/K) (kernel_sd.nets.empirical_ntk)."
        )
    single = loss == "squared" and jnp.ndim(y) == 1
    if single:
        fs = fs[..., 0]
        tests = None if tests is None else tests[..., 0]
    return NetTraining(
        step=jnp.arange(0, steps + 1, every),
        train_pred=fs,
        test_pred=tests,
        loss=values,
        params=params,
    )
