"""A fully connected network in the NTK parameterisation: configuration, init, forward.

The network of the kernels ``kernel_sd.kernels.NNGP`` / ``NTK`` at finite width
``n``, every weight and bias ``N(0, 1)`` (``p`` inputs, ``L = depth``)::

    h_1     = σ_w W_1 x / √p + σ_b b_1
    h_{l+1} = σ_w W_{l+1} φ(h_l) / √n + σ_b b_{l+1}        l = 1 .. L−1
    f(x)    = V φ(h_L) / √n + σ_b b_{L+1}                   (readout std 1, q outputs)

Parameters are a tuple of :class:`Dense` layers (``W`` of shape
``(fan_out, fan_in)``, ``b`` of shape ``(fan_out,)``), the readout last. Biases
are always present; with ``σ_b = 0`` they do not enter ``f`` and never move.
"""

from __future__ import annotations

import dataclasses
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd.kernels import ACTIVATIONS, NNGP, NTK

__all__ = ["MLP", "Dense", "Params", "check_key", "check_params"]


class Dense(NamedTuple):
    """One layer's raw (unit-variance) parameters."""

    W: Array
    """(fan_out, fan_in) weights, N(0, 1) at initialisation."""
    b: Array
    """(fan_out,) biases, N(0, 1) at initialisation."""


Params = tuple[Dense, ...]
"""The layers of an :class:`MLP`, input layer first, readout last."""


def check_key(key) -> Array:
    """A JAX PRNG key (``jax.random.key(seed)`` or a raw ``uint32[2]`` key)."""
    if isinstance(key, jax.Array) and jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape == ():
            return key
    elif isinstance(key, (jax.Array, np.ndarray)) and key.shape == (2,):
        if key.dtype == np.uint32:
            return jax.random.wrap_key_data(jnp.asarray(key))
    raise ValueError(
        f"`key` must be a single JAX PRNG key, e.g. jax.random.key(0), got {key!r}."
    )


def check_params(
    net: MLP, params, inputs: int | None, *, name: str = "params"
) -> Params:
    """``params`` as a tuple of :class:`Dense` with the shapes of ``net``'s layers.

    ``inputs``: the expected number of input features, or ``None`` to take it
    from the first layer.
    """
    how = "build them with net.init(key, inputs=p)"
    if not isinstance(params, (tuple, list)) or len(params) != net.depth + 1:
        raise ValueError(
            f"`{name}` must be a tuple of {net.depth + 1} Dense layers for a depth-"
            f"{net.depth} MLP; {how}."
        )
    try:
        layers = tuple(Dense(jnp.asarray(W), jnp.asarray(b)) for W, b in params)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must hold (W, b) array pairs; {how}.") from None
    p = layers[0].W.shape[-1] if inputs is None else inputs
    sizes = [p] + [net.width] * net.depth + [net.outputs]
    for i, dense in enumerate(layers):
        want_W, want_b = (sizes[i + 1], sizes[i]), (sizes[i + 1],)
        if dense.W.shape != want_W or dense.b.shape != want_b:
            raise ValueError(
                f"`{name}` layer {i} has W {dense.W.shape} and b {dense.b.shape}, "
                f"expected {want_W} and {want_b} ({p} inputs); {how}."
            )
        if not jnp.issubdtype(dense.W.dtype, jnp.floating):
            raise ValueError(f"`{name}` must be floating arrays, got {dense.W.dtype}.")
    return layers


def _check_static(name: str, value, *, low: int) -> int:
    if isinstance(value, bool) or not (
        isinstance(value, (int, np.integer)) and value >= low
    ):
        raise ValueError(f"MLP: `{name}` must be an integer >= {low}, got {value!r}.")
    return int(value)


@jax.tree_util.register_static
@dataclasses.dataclass(frozen=True)
class MLP:
    """A fully connected network in the NTK parameterisation (module docstring).

    The configuration is static and hashable; the weights live in a separate
    :data:`Params` pytree from :meth:`init`. As ``width → ∞`` the output
    covariance at initialisation tends to :meth:`nngp` and ``J Jᵀ`` (see
    ``kernel_sd.nets.empirical_ntk``) to :meth:`ntk`.

    Args:
        depth: hidden layers ``L >= 1``.
        width: hidden units per layer ``n >= 1``.
        outputs: output units ``q >= 1`` (classes for the cross-entropy loss).
        activation: ``"relu"`` or ``"erf"``.
        w_std: hidden weight std ``σ_w > 0`` (default ``√2``).
        b_std: bias std ``σ_b >= 0`` (default 0: no biases).

    Examples:
        >>> import jax
        >>> from kernel_sd import nets
        >>> net = nets.MLP(depth=2, width=64)
        >>> params = net.init(jax.random.key(0), inputs=3)
        >>> net.apply(params, jax.numpy.ones((5, 3))).shape
        (5, 1)
    """

    depth: int = 2
    width: int = 512
    outputs: int = 1
    activation: str = "relu"
    w_std: float = math.sqrt(2.0)
    b_std: float = 0.0

    def __post_init__(self):
        _check_static("depth", self.depth, low=1)
        _check_static("width", self.width, low=1)
        _check_static("outputs", self.outputs, low=1)
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"MLP: `activation` must be one of {ACTIVATIONS}, got {self.activation!r}."
            )
        for name, low_ok in (("w_std", False), ("b_std", True)):
            v = getattr(self, name)
            try:
                v = float(v)
            except (TypeError, ValueError):
                raise ValueError(
                    f"MLP: `{name}` must be a real number, got {v!r}."
                ) from None
            if not math.isfinite(v) or v < 0 or (v == 0 and not low_ok):
                bound = ">= 0" if low_ok else "> 0"
                raise ValueError(
                    f"MLP: `{name}` must be finite and {bound}, got {v!r}."
                )
            object.__setattr__(self, name, v)

    def ntk(self) -> NTK:
        """The infinite-width tangent kernel of this architecture."""
        return NTK(
            depth=self.depth,
            activation=self.activation,
            w_std=self.w_std,
            b_std=self.b_std,
        )

    def nngp(self) -> NNGP:
        """The infinite-width output covariance of this architecture."""
        return NNGP(
            depth=self.depth,
            activation=self.activation,
            w_std=self.w_std,
            b_std=self.b_std,
        )

    def init(self, key, inputs: int, *, dtype=None) -> Params:
        """Every weight and bias ``N(0, 1)``, from ``key``.

        Args:
            key: a JAX PRNG key, ``jax.random.key(seed)``.
            inputs: number of input features ``p``.
            dtype: parameter dtype (default: JAX's default float, float64 under x64).
        """
        key = check_key(key)
        inputs = _check_static("inputs", inputs, low=1)
        dtype = jnp.dtype(jnp.result_type(float) if dtype is None else dtype)
        if not jnp.issubdtype(dtype, jnp.floating):
            raise ValueError(f"`dtype` must be a floating dtype, got {dtype}.")
        return _init(self, key, inputs=inputs, dtype=dtype)

    def _phi(self, h: Array) -> Array:
        return jax.nn.relu(h) if self.activation == "relu" else jax.scipy.special.erf(h)

    def _dphi(self, h: Array) -> Array:
        if self.activation == "relu":
            return (h > 0).astype(h.dtype)  # relu'(0) = 0, as jax.grad of relu
        return 2.0 / math.sqrt(math.pi) * jnp.exp(-h * h)

    def layers(self, params: Params, X: Array) -> tuple[list[Array], list[Array]]:
        """Forward pass keeping every layer: pre-activations ``h_1..h_L`` and
        activations ``a_0 = X, a_1..a_L``; the output is ``f = readout(a_L)``."""
        pre, acts = [], [X]
        for dense in params[:-1]:
            std = self.w_std / math.sqrt(dense.W.shape[1])
            h = std * (acts[-1] @ dense.W.T) + self.b_std * dense.b[None, :]
            pre.append(h)
            acts.append(self._phi(h))
        return pre, acts

    def apply(self, params: Params, X: Array) -> Array:
        """Outputs ``f(X)`` of shape ``(n, q)`` (one compiled program per shape)."""
        return _apply(self, params, X)


@partial(jax.jit, static_argnames=("inputs", "dtype"))
def _init(net: MLP, key: Array, *, inputs: int, dtype) -> Params:
    """Every parameter from one ``N(0, 1)`` draw, cut into the layers' shapes.

    One draw instead of one per array: the random-bit generator is compiled once
    per network (compiling it per array took ~0.2 s each on a CPU).
    """
    sizes = [inputs] + [net.width] * net.depth + [net.outputs]
    shapes = [
        shape
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True)
        for shape in ((fan_out, fan_in), (fan_out,))
    ]
    counts = [math.prod(shape) for shape in shapes]
    draw = jax.random.normal(key, (sum(counts),), dtype)
    offsets = np.cumsum([0, *counts])
    arrays = [
        draw[start:stop].reshape(shape)
        for start, stop, shape in zip(offsets[:-1], offsets[1:], shapes, strict=True)
    ]
    return tuple(
        Dense(W=W, b=b) for W, b in zip(arrays[::2], arrays[1::2], strict=True)
    )


@jax.jit
def _apply(net: MLP, params: Params, X: Array) -> Array:
    _, acts = net.layers(params, X)
    V = params[-1]
    return acts[-1] @ V.W.T / math.sqrt(V.W.shape[1]) + net.b_std * V.b[None, :]
