"""Built-in regression problems: the [MFB20] toy points and noisy sinusoids.

Every generator is deterministic given its ``seed`` and returns a
:class:`Dataset` of NumPy float64 arrays (convert with ``jnp.asarray``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from kernel_sd import _validate

__all__ = ["Dataset", "mobahi_toy", "sinusoid", "MOBAHI_TOY_X", "MOBAHI_TOY_Y"]

# The 11 toy points of [MFB20], as published with a third-party reimplementation
# (Borup & Andersen, `self_distillation`, toy_example.ipynb) that states they are
# the paper's exact values: x = 0, 0.1, ..., 1 and y = sin(2πx) + noise.
MOBAHI_TOY_X = np.linspace(0.0, 1.0, 11)
MOBAHI_TOY_Y = np.array(
    [
        0.38476636465198066, 1.2333967683416893, 1.33232242218057,
        0.6920159488889518, -0.29756145531871736, -0.24189291901377769,
        -0.7964485769175675, -0.9616480167034174, -0.49672509509916934,
        -0.3469066003991437, 0.5589512650600734,
    ]
)  # fmt: skip


class Dataset(NamedTuple):
    """A regression problem with a clean target on a test grid."""

    X: np.ndarray
    """(n, p) training inputs."""
    y: np.ndarray
    """(n,) noisy training targets."""
    X_test: np.ndarray
    """(m, p) test inputs (a dense grid for 1-D problems)."""
    y_test: np.ndarray
    """(m,) the clean target function at ``X_test``."""
    name: str
    """Short description for titles and tables."""


def _sin2pi(x: np.ndarray) -> np.ndarray:
    return np.sin(2.0 * np.pi * x)


def mobahi_toy(n_test: int = 201) -> Dataset:
    """The [MFB20] toy problem: 11 noisy samples of ``sin(2πx)`` on ``[0, 1]``.

    ``(1/K)‖y‖² = 0.5735``, so the constrained fit is 0 from the start iff
    ``ε >= 0.5735``. The clean target ``sin(2πx)`` is given on ``n_test`` grid points.
    """
    n_test = _validate.positive_int("n_test", n_test)
    grid = np.linspace(0.0, 1.0, n_test)
    return Dataset(
        X=MOBAHI_TOY_X[:, None].copy(),
        y=MOBAHI_TOY_Y.copy(),
        X_test=grid[:, None],
        y_test=_sin2pi(grid),
        name="[MFB20] toy: 11 noisy samples of sin(2πx)",
    )


def sinusoid(
    n: int = 40, *, noise: float = 0.4, seed: int = 0, n_test: int = 201
) -> Dataset:
    """``n`` points ``x ~ U[0, 1]`` (sorted), ``y = sin(2πx) + noise · N(0, 1)``.

    Args:
        n: number of training points ``K``.
        noise: standard deviation of the Gaussian label noise (>= 0).
        seed: seed of ``numpy.random.default_rng``.
        n_test: size of the clean test grid on ``[0, 1]``.
    """
    n = _validate.positive_int("n", n)
    n_test = _validate.positive_int("n_test", n_test)
    noise = _validate.positive_scalar("noise", noise, allow_zero=True)
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(0.0, 1.0, n))
    y = _sin2pi(x) + noise * rng.standard_normal(n)
    grid = np.linspace(0.0, 1.0, n_test)
    return Dataset(
        X=x[:, None],
        y=y,
        X_test=grid[:, None],
        y_test=_sin2pi(grid),
        name=f"sin(2πx) + N(0, {noise:g}²), n = {n}, seed {seed}",
    )
