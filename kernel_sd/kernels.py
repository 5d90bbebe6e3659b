"""Positive-definite kernels as immutable pytrees, and blocked Gram matrices.

Every kernel is a frozen dataclass registered as a JAX pytree: its numeric
hyper-parameters are array leaves (so ``jax.vmap`` over a lengthscale works) and
its structural choices (Matérn ``nu``, polynomial ``degree``, arc-cosine
``order``) are static. ``kernel(X, Z)`` returns the ``(n, m)`` matrix
``k(x_i, z_j)``; :func:`gram` builds the same matrix in row blocks so that the
temporaries stay ``O(block_size * m)``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd._blocks import as_devices, row_map
from kernel_sd._pytree import dataclass_pytree

__all__ = [
    "Kernel",
    "RBF",
    "Laplace",
    "Matern",
    "Polynomial",
    "Linear",
    "ArcCosine",
    "gram",
    "NAMES",
    "from_name",
    "gram_sharded",
    "DEFAULT_BLOCK_SIZE",
]

DEFAULT_BLOCK_SIZE = 1024
"""Rows of ``X`` evaluated at once by :func:`gram`."""


def _concrete_float(value) -> float | None:
    """``float(value)`` for concrete scalars; ``None`` for tracers or placeholders.

    Pytree unflattening re-runs ``__init__`` with whatever leaves JAX carries
    (tracers, ``None``, sentinels), so validation only looks at concrete numbers.
    """
    if isinstance(value, jax.core.Tracer):
        return None
    if isinstance(value, (int, float, np.ndarray, np.generic, jax.Array)):
        arr = np.asarray(value)
        return float(arr) if arr.ndim == 0 else None
    return None


def _check_type(name: str, value, kernel: str) -> None:
    """Hyper-parameters are real numbers or arrays (tracers and JAX's placeholders pass)."""
    if value is None or isinstance(value, jax.core.Tracer) or type(value) is object:
        return  # pytree unflattening rebuilds kernels with such leaves
    if isinstance(value, (bool, np.bool_, str, bytes)) or (
        np.asarray(value).dtype.kind not in "iuf"
    ):
        raise ValueError(
            f"{kernel}: `{name}` must be a real number, got {type(value).__name__} "
            f"{str(value)[:40]!r}; pass e.g. {name}=1.0."
        )


def _check_positive(name: str, value, kernel: str) -> None:
    _check_type(name, value, kernel)
    v = _concrete_float(value)
    if v is not None and not (math.isfinite(v) and v > 0):
        raise ValueError(
            f"{kernel}: `{name}` must be a finite positive number, got {v!r}; "
            f"pass e.g. {name}=1.0."
        )


def _check_nonnegative(name: str, value, kernel: str) -> None:
    _check_type(name, value, kernel)
    v = _concrete_float(value)
    if v is not None and not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{kernel}: `{name}` must be a finite number >= 0, got {v!r}.")


def _sq_dists(X: Array, Z: Array) -> Array:
    """``‖x_i − z_j‖²`` from direct coordinate differences.

    The expansion ``‖x‖² + ‖z‖² − 2 x·z`` is one matrix product but loses up to
    ``eps · (‖x‖² + ‖z‖²)`` to cancellation (1e-14 relative error in RBF entries
    of unit-scale data); the fused subtract-square-sum is exact to round-off and
    XLA does not materialise the ``(n, m, p)`` difference tensor.
    """
    diff = X[:, None, :] - Z[None, :, :]
    return jnp.sum(diff * diff, axis=-1)


def _dists(X: Array, Z: Array) -> Array:
    d2 = _sq_dists(X, Z)
    # sqrt has an infinite derivative at 0; route exact zeros through a safe value
    # so gradients with respect to X or the lengthscale stay finite.
    safe = jnp.where(d2 > 0, d2, 1.0)
    return jnp.where(d2 > 0, jnp.sqrt(safe), 0.0)


class Kernel:
    """Base class: subclasses implement ``_eval(X, Z) -> (n, m)``.

    A subclass is a frozen dataclass registered with
    :func:`kernel_sd.dataclass_pytree` (hyper-parameters as ``data_fields``), not
    ``jax.tree_util.register_dataclass``, whose tree structure omits the class.
    """

    name: ClassVar[str] = "Kernel"

    def __call__(self, X: Array, Z: Array) -> Array:
        """Evaluate ``k(x_i, z_j)`` for all rows: ``(n, p), (m, p) -> (n, m)``."""
        X = jnp.asarray(X)
        Z = jnp.asarray(Z)
        if X.ndim != 2 or Z.ndim != 2:
            raise ValueError(
                f"{self.name}: inputs must be 2-D (n, p) arrays, got shapes "
                f"{X.shape} and {Z.shape}; reshape 1-D data with X[:, None]."
            )
        if X.shape[1] != Z.shape[1]:
            raise ValueError(
                f"{self.name}: inputs have {X.shape[1]} and {Z.shape[1]} features; "
                "both must have the same number of columns p."
            )
        return self._eval(X, Z)

    def _eval(self, X: Array, Z: Array) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError


def _pytree(*, data: tuple[str, ...], meta: tuple[str, ...] = ()):
    """Frozen dataclass + pytree registration with the given leaf/static fields.

    Registered with :func:`kernel_sd._pytree.dataclass_pytree`, whose tree
    structure includes the class: with ``jax.tree_util.register_dataclass``, jit
    may run one kernel's compiled program for another kernel class with as many
    hyper-parameters.
    """

    def wrap(cls):
        cls = dataclasses.dataclass(frozen=True)(cls)
        return dataclass_pytree(data_fields=data, meta_fields=meta)(cls)

    return wrap


@_pytree(data=("lengthscale",))
class RBF(Kernel):
    """Gaussian (squared-exponential) kernel ``k(x, z) = exp(−‖x − z‖² / (2 ℓ²))``.

    Args:
        lengthscale: ``ℓ > 0``. The ``γ`` of ``exp(−γ‖x − z‖²)`` is ``1/(2ℓ²)``.
    """

    lengthscale: float | Array = 1.0
    name: ClassVar[str] = "RBF"

    def __post_init__(self):
        _check_positive("lengthscale", self.lengthscale, self.name)

    def _eval(self, X, Z):
        ell = jnp.asarray(self.lengthscale, X.dtype)
        return jnp.exp(-_sq_dists(X, Z) / (2.0 * ell * ell))


@_pytree(data=("lengthscale",))
class Laplace(Kernel):
    """Laplace (exponential) kernel ``k(x, z) = exp(−‖x − z‖ / ℓ)``.

    Args:
        lengthscale: ``ℓ > 0``.
    """

    lengthscale: float | Array = 1.0
    name: ClassVar[str] = "Laplace"

    def __post_init__(self):
        _check_positive("lengthscale", self.lengthscale, self.name)

    def _eval(self, X, Z):
        ell = jnp.asarray(self.lengthscale, X.dtype)
        return jnp.exp(-_dists(X, Z) / ell)


@_pytree(data=("lengthscale",), meta=("nu",))
class Matern(Kernel):
    """Matérn kernel for half-integer smoothness ``ν ∈ {1/2, 3/2, 5/2}``.

    With ``r = ‖x − z‖ / ℓ``:

    - ``ν = 1/2``: ``exp(−r)`` (the Laplace kernel);
    - ``ν = 3/2``: ``(1 + √3 r) exp(−√3 r)``;
    - ``ν = 5/2``: ``(1 + √5 r + 5r²/3) exp(−√5 r)``.

    Args:
        nu: smoothness ``ν`` (static): 0.5, 1.5 or 2.5.
        lengthscale: ``ℓ > 0``.
    """

    nu: float = 1.5
    lengthscale: float | Array = 1.0
    name: ClassVar[str] = "Matern"

    def __post_init__(self):
        if self.nu not in (0.5, 1.5, 2.5):
            raise ValueError(
                f"Matern: `nu` must be one of 0.5, 1.5, 2.5 (closed forms), got "
                f"{self.nu!r}; use RBF for the nu -> infinity limit."
            )
        _check_positive("lengthscale", self.lengthscale, self.name)

    def _eval(self, X, Z):
        ell = jnp.asarray(self.lengthscale, X.dtype)
        r = _dists(X, Z) / ell
        if self.nu == 0.5:
            return jnp.exp(-r)
        if self.nu == 1.5:
            s = math.sqrt(3.0) * r
            return (1.0 + s) * jnp.exp(-s)
        s = math.sqrt(5.0) * r
        return (1.0 + s + s * s / 3.0) * jnp.exp(-s)


@_pytree(data=("gamma", "coef0"), meta=("degree",))
class Polynomial(Kernel):
    """Polynomial kernel ``k(x, z) = (γ x·z + c₀)^degree``.

    Args:
        degree: positive integer (static).
        gamma: ``γ > 0``.
        coef0: ``c₀ >= 0`` (``c₀ >= 0`` keeps the kernel positive semi-definite).
    """

    degree: int = 2
    gamma: float | Array = 1.0
    coef0: float | Array = 1.0
    name: ClassVar[str] = "Polynomial"

    def __post_init__(self):
        if isinstance(self.degree, bool) or not (
            isinstance(self.degree, (int, np.integer)) and self.degree >= 1
        ):
            raise ValueError(
                f"Polynomial: `degree` must be a positive integer, got {self.degree!r}."
            )
        _check_positive("gamma", self.gamma, self.name)
        _check_nonnegative("coef0", self.coef0, self.name)

    def _eval(self, X, Z):
        g = jnp.asarray(self.gamma, X.dtype)
        c0 = jnp.asarray(self.coef0, X.dtype)
        return (g * (X @ Z.T) + c0) ** self.degree


@_pytree(data=("scale",))
class Linear(Kernel):
    """Linear kernel ``k(x, z) = s · x·z``.

    Args:
        scale: ``s > 0``.
    """

    scale: float | Array = 1.0
    name: ClassVar[str] = "Linear"

    def __post_init__(self):
        _check_positive("scale", self.scale, self.name)

    def _eval(self, X, Z):
        return jnp.asarray(self.scale, X.dtype) * (X @ Z.T)


@_pytree(data=(), meta=("order",))
class ArcCosine(Kernel):
    """Arc-cosine kernel of Cho & Saul (2009): the infinite-width one-hidden-layer network.

    With ``θ`` the angle between ``x`` and ``z``:

    - order 0 (step activation): ``k(x, z) = 1 − θ/π``;
    - order 1 (ReLU): ``k(x, z) = (1/π) ‖x‖ ‖z‖ (sin θ + (π − θ) cos θ)``.

    A zero vector has no direction; we take ``cos θ = 0`` for it, which makes
    order 0 equal to 1/2 and order 1 equal to 0 (its limit). Append a constant
    feature to ``X`` (a bias) when inputs can be zero.

    Args:
        order: 0 or 1 (static).
    """

    order: int = 1
    name: ClassVar[str] = "ArcCosine"

    def __post_init__(self):
        if self.order not in (0, 1):
            raise ValueError(f"ArcCosine: `order` must be 0 or 1, got {self.order!r}.")

    def _eval(self, X, Z):
        nx = jnp.sqrt(jnp.sum(X * X, axis=-1))
        nz = jnp.sqrt(jnp.sum(Z * Z, axis=-1))
        ux = X / jnp.where(nx > 0, nx, 1.0)[:, None]
        uz = Z / jnp.where(nz > 0, nz, 1.0)[:, None]
        # θ = 2 atan2(‖x̂ − ẑ‖, ‖x̂ + ẑ‖) is accurate for every angle; arccos of the
        # cosine loses half the digits near θ = 0 (the diagonal would be off by 1e-8).
        theta = 2.0 * jnp.arctan2(
            jnp.sqrt(_sq_dists(ux, uz)), jnp.sqrt(_sq_dists(ux, -uz))
        )
        zero = (nx[:, None] == 0) | (nz[None, :] == 0)
        theta = jnp.where(zero, 0.5 * jnp.pi, theta)
        if self.order == 0:
            return 1.0 - theta / jnp.pi
        prod = nx[:, None] * nz[None, :]
        return prod * (jnp.sin(theta) + (jnp.pi - theta) * jnp.cos(theta)) / jnp.pi


NAMES = (
    "rbf", "laplace", "matern12", "matern32", "matern52", "poly", "linear",
    "arccos0", "arccos1",
)  # fmt: skip
"""Short names accepted by :func:`from_name` (the CLI's ``--kernel`` choices)."""


def from_name(name: str, *, lengthscale: float = 1.0) -> Kernel:
    """A kernel from its short name; ``lengthscale`` is used where the kernel has one.

    ``"poly"`` is ``Polynomial(degree=3, gamma=1, coef0=1)``; ``"matern12/32/52"``
    are Matérn with ``ν = 1/2, 3/2, 5/2``; ``"arccos0/1"`` the arc-cosine kernels.
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
    }
    if name not in makers:
        raise ValueError(f"`kernel` must be one of {list(NAMES)}, got {name!r}.")
    return makers[name]()


def gram(
    kernel: Kernel,
    X: Array,
    Z: Array | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Array:
    """The kernel matrix ``k(X, Z)`` (unscaled), built ``block_size`` rows at a time.

    Args:
        kernel: a :class:`Kernel`.
        X: ``(n, p)`` inputs.
        Z: ``(m, p)`` inputs; defaults to ``X`` (then the result is symmetrised
            exactly, ``(K + Kᵀ)/2``, so round-off never breaks symmetry).
        block_size: rows of ``X`` per block; temporaries are ``O(block_size · m)``.

    Returns:
        ``(n, m)`` array ``k(x_i, z_j)`` in the dtype of ``X``.

    Raises:
        ValueError: non-2-D inputs, mismatched feature counts, NaN/inf entries.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.array([[0.0], [1.0]])
        >>> ksd.gram(ksd.kernels.RBF(lengthscale=1.0), X).round(4).tolist()
        [[1.0, 0.6065], [0.6065, 1.0]]
    """
    same = Z is None
    X, Z = _check_gram_args(kernel, X, Z, block_size)
    G = row_map(_kernel_rows, (X,), (kernel, Z), block_size=block_size)
    if same:
        G = _symmetrised(G)
    return _validate.kernel_values(kernel, G)


@jax.jit
def _symmetrised(G: Array) -> Array:
    """``(G + Gᵀ)/2``: exactly symmetric whatever the round-off of the blocks."""
    return 0.5 * (G + G.T)


def check_kernel_inputs(kernel, X) -> Array:
    """Validate a (kernel, training inputs) pair; return ``X`` as a float array."""
    return _validate.kernel_inputs(kernel, X)


def _check_gram_args(kernel, X, Z, block_size):
    """Shared validation of :func:`gram` and :func:`gram_sharded`."""
    X = check_kernel_inputs(kernel, X)
    Z = X if Z is None else _validate.inputs("Z", Z)
    if X.shape[1] != Z.shape[1]:
        raise ValueError(
            f"`X` has {X.shape[1]} features but `Z` has {Z.shape[1]}; both must "
            "have the same number of columns."
        )
    if isinstance(block_size, bool) or not (
        isinstance(block_size, (int, np.integer)) and block_size >= 1
    ):
        raise ValueError(
            f"`block_size` must be a positive integer, got {block_size!r}."
        )
    return X, Z


def _kernel_rows(rows, shared):
    """Rows ``k(X_b, Z)`` of one block."""
    (Xb,), (kernel, Z) = rows, shared
    return kernel(Xb, Z)


def gram_sharded(
    kernel: Kernel,
    X: Array,
    Z: Array | None = None,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    devices=None,
) -> Array:
    """:func:`gram` with the row blocks sharded over devices (``jax.sharding``).

    The ``n`` rows of ``X`` are cut into blocks of ``block_size`` rows (padded
    to a whole number of blocks per device); a 1-D mesh over ``devices`` with
    axis ``"rows"`` gives each device its share of blocks (``shard_map``), and
    every block is evaluated exactly as in :func:`gram`, so the entries are the
    same numbers. ``Z`` (and the kernel) are replicated. The tiles are computed
    on their devices; dropping the padding rows assembles the ``(n, m)`` result
    (with the sharding XLA picks for that slice).

    Args:
        kernel: a :class:`Kernel`.
        X: ``(n, p)`` inputs.
        Z: ``(m, p)`` inputs; defaults to ``X`` (then symmetrised as in :func:`gram`).
        block_size: rows of ``X`` per block.
        devices: devices to shard over; defaults to ``jax.devices()``. On CPU,
            set ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` before
            JAX is imported to get ``N`` devices.

    Returns:
        ``(n, m)`` array ``k(x_i, z_j)``, equal to ``gram(kernel, X, Z)``.

    Raises:
        ValueError: as :func:`gram`; an empty ``devices``.
    """
    same = Z is None
    X, Z = _check_gram_args(kernel, X, Z, block_size)
    devices = as_devices(devices)
    G = row_map(_kernel_rows, (X,), (kernel, Z), block_size=block_size, devices=devices)
    if same:
        G = _symmetrised(G)
    return _validate.kernel_values(kernel, G)
