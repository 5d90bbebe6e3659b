"""Short kernel names (the command line's ``--kernel`` choices) and :func:`from_name`."""

from __future__ import annotations

from kernel_sd.kernels.base import Kernel
from kernel_sd.kernels.dot_product import ArcCosine, Linear, Polynomial
from kernel_sd.kernels.network import NNGP, NTK
from kernel_sd.kernels.stationary import RBF, Laplace, Matern

__all__ = ["NAMES", "NETWORK_DEPTH", "NETWORK_BIAS", "from_name"]

NETWORK_DEPTH = 2
"""Hidden layers of the ``"ntk"`` and ``"nngp"`` kernels of :func:`from_name`."""

NETWORK_BIAS = 0.5
"""Bias std ``σ_b`` of the ``"ntk"`` and ``"nngp"`` kernels of :func:`from_name`.

Without biases the network kernels see only angles and norms: 1-D inputs (the
built-in sinusoid) are all parallel and their Gram matrix has rank <= 2."""

NAMES = (
    "rbf", "laplace", "matern12", "matern32", "matern52", "poly", "linear",
    "arccos0", "arccos1", "ntk", "nngp",
)  # fmt: skip
"""Short names accepted by :func:`from_name` (the CLI's ``--kernel`` choices)."""


def from_name(name: str, *, lengthscale: float = 1.0) -> Kernel:
    """A kernel from its short name; ``lengthscale`` is used where the kernel has one.

    ``"poly"`` is ``Polynomial(degree=3, gamma=1, coef0=1)``; ``"matern12/32/52"``
    are Matérn with ``ν = 1/2, 3/2, 5/2``; ``"arccos0/1"`` the arc-cosine kernels;
    ``"ntk"`` and ``"nngp"`` the ReLU network kernels ``NTK(depth=2, b_std=0.5)``
    and ``NNGP(depth=2, b_std=0.5)`` (``NETWORK_DEPTH`` hidden layers, biases of
    std ``NETWORK_BIAS``).
    """
    makers = {
        "rbf": lambda: RBF(lengthscale=lengthscale),
        "laplace": lambda: Laplace(lengthscale=lengthscale),
        "matern12": lambda: Matern(nu=0.5, lengthscale=lengthscale),
        "matern32": lambda: Matern(nu=1.5, lengthscale=lengthscale),
        "matern52": lambda: Matern(nu=2.5, lengthscale=lengthscale),
        "poly": lambda: Polynomial(degree=3, gamma=1.0, coef0=1.0),
        "linear": lambda: Linear(),
        "arccos0": lambda: ArcCosine(order=0),
        "arccos1": lambda: ArcCosine(order=1),
        "ntk": lambda: NTK(depth=NETWORK_DEPTH, b_std=NETWORK_BIAS),
        "nngp": lambda: NNGP(depth=NETWORK_DEPTH, b_std=NETWORK_BIAS),
    }
    if name not in makers:
        raise ValueError(f"`kernel` must be one of {list(NAMES)}, got {name!r}.")
    return makers[name]()
