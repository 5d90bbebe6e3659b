"""Distillation with networks: teacher → student with a late switch, and self-distillation rounds.

Both re-initialise the network for every model they train (fresh weights from
the key), as [MFB20] do with deep networks: only the targets carry information
from one model to the next.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate
from kernel_sd.nets.mlp import MLP, check_key
from kernel_sd.nets.train import NetTraining, train

__all__ = ["Rounds", "teacher_student", "self_distill"]


class Rounds(NamedTuple):
    """Self-distillation rounds with networks (leading axis: the round ``t``)."""

    train_pred: Array
    """(R, K) or (R, K, q) final ``f_t(X)`` of each round."""
    test_pred: Array | None
    """(R, m) or (R, m, q) final ``f_t(X_test)``; None without ``X_test``."""
    loss: Array
    """(R,) each round's final loss against its own targets."""


def _check_net(net) -> MLP:
    if not isinstance(net, MLP):
        raise ValueError(
            f"`net` must be a kernel_sd.nets.MLP, got {type(net).__name__}."
        )
    return net


def teacher_student(
    net: MLP,
    key,
    X: Array,
    y: Array,
    *,
    lr,
    teacher_steps: int,
    steps: int,
    loss: str = "squared",
    alpha=0.0,
    switch_step: int = 0,
    temperature=1.0,
    convention: str = "hinton",
    record_every: int = 1,
    X_test: Array | None = None,
) -> tuple[NetTraining, NetTraining]:
    """A teacher trained on the labels, then a freshly initialised student distilled from it.

    The teacher runs ``teacher_steps`` steps on ``y`` from ``net.init(k_T)``; the
    student starts from ``net.init(k_S)`` (``k_T, k_S = split(key)``) and trains
    on the labels for steps ``< switch_step``, then on the distillation loss
    against the teacher's final training outputs (``kernel_sd.nets.train``).

    Args:
        net: the architecture of both models.
        key: a JAX PRNG key.
        X, y, lr, loss, alpha, switch_step, temperature, convention, record_every,
            X_test: as in :func:`~kernel_sd.nets.train`.
        teacher_steps: the teacher's steps (a multiple of ``record_every``).
        steps: the student's steps (a multiple of ``record_every``).

    Returns:
        ``(teacher, student)`` :class:`~kernel_sd.nets.NetTraining` records.
    """
    net = _check_net(net)
    k_teacher, k_student = jax.random.split(check_key(key))
    X = _validate.inputs("X", X)
    p = X.shape[1]
    common = dict(lr=lr, loss=loss, record_every=record_every, X_test=X_test)
    teacher = train(net, net.init(k_teacher, p), X, y, steps=teacher_steps, **common)
    student = train(
        net, net.init(k_student, p), X, y, steps=steps,
        teacher=teacher.train_pred[-1], alpha=alpha, switch_step=switch_step,
        temperature=temperature, convention=convention, **common,
    )  # fmt: skip
    return teacher, student


def self_distill(
    net: MLP,
    key,
    X: Array,
    y: Array,
    *,
    rounds: int,
    lr,
    steps: int,
    loss: str = "squared",
    alpha=0.0,
    temperature=1.0,
    convention: str = "hinton",
    X_test: Array | None = None,
) -> Rounds:
    """Self-distillation rounds, the network re-initialised every round  [MFB20].

    Round 0 trains ``net.init(fold_in(key, 0))`` on ``y``; round ``t >= 1`` trains
    ``net.init(fold_in(key, t))`` on round ``t − 1``'s final training outputs
    (mixed with the labels by ``alpha``; softened by ``temperature`` for
    cross-entropy), every round for ``steps`` steps of step size ``lr``.

    Args:
        net: the architecture of every round.
        key: a JAX PRNG key.
        X, y, lr, steps, loss, alpha, temperature, convention, X_test: as in
            :func:`~kernel_sd.nets.train`.
        rounds: number of rounds ``R >= 1`` (round 0 is the label-trained model).

    Returns:
        :class:`Rounds` with each round's final predictions and loss.
    """
    net = _check_net(net)
    key = check_key(key)
    rounds = _validate.positive_int("rounds", rounds)
    X = _validate.inputs("X", X)
    train_pred, test_pred, losses = [], [], []
    teacher = None
    for t in range(rounds):
        params = net.init(jax.random.fold_in(key, t), X.shape[1])
        run = train(
            net, params, X, y, lr=lr, steps=steps, loss=loss, teacher=teacher,
            alpha=alpha, temperature=temperature, convention=convention,
            record_every=steps, X_test=X_test,
        )  # fmt: skip
        teacher = run.train_pred[-1]
        train_pred.append(teacher)
        losses.append(run.loss[-1])
        if X_test is not None:
            test_pred.append(run.test_pred[-1])
    return Rounds(
        train_pred=jnp.stack(train_pred),
        test_pred=jnp.stack(test_pred) if X_test is not None else None,
        loss=jnp.stack(losses),
    )
