"""The one engine: filters on an eigenbasis in, predictions and per-direction quantities out.

Every procedure of kernel-sd ends here. With ``G = V diag(d) Vᵀ``, targets
``z = Vᵀ y`` and a :class:`~kernel_sd.filters.Filter` ``(h, g)`` with leading
axes (rounds, times, a hyper-parameter grid), :func:`apply` computes

    f(X) = V diag(h) z          (training predictions, one product for all rows)
    α    = diag(g) z            (coefficients: f(x) = g_xᵀ V α at any point)
    f(X_test) = W α             (test predictions from features W = g_xᵀ V)

and returns one :class:`Trace`, whatever the procedure: self-distillation rounds
(``kernel_sd.distill``), gradient flow and descent, students and late switches
(``kernel_sd.dynamics``). Stored and implicit (Nyström) eigenvectors, one or
several target columns and any leading grid axes take the same path. The
features ``W`` may be stored ``(m, r)`` rows or implicit, ``W = k(X_test, B) P``
(``kernel_sd.spectra.features.implicit_features``): then ``W α = k(X_test, B) (P α)``
costs ``m·K`` per column of ``α`` instead of ``m·K·r`` for ``W`` itself.

Two routes fit the same result type:

- a factorisation without eigenvectors (one Cholesky of ``G + λI`` serving every
  round of the penalised form, ``self_distill(..., method="cholesky")``) returns
  a :class:`Trace` whose per-direction fields (``filter``, ``coef``, ``z0``,
  ``spectrum``) are None and whose ``dual_coef`` is set;
- cross-validation applies many filters to one ``z`` at once (a grid axis on
  ``h`` and ``g``) and reads validation predictions from the features of the
  held-out points, with ``z`` computed once per fold (the ``z`` argument).
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd._pytree import dataclass_pytree
from kernel_sd.filters import Filter, pseudo_inverse
from kernel_sd.spectra.base import Spectrum
from kernel_sd.spectra.eigvecs import expand, targets_in_eigenbasis

__all__ = ["Trace", "apply", "targets_in_eigenbasis"]


@dataclass_pytree(
    data_fields=[
        "filter",
        "train_pred",
        "test_pred",
        "coef",
        "z0",
        "spectrum",
        "c",
        "status",
        "target_norm2",
        "eps",
        "lam",
        "dual_coef",
    ],
    meta_fields=[],
)
@dataclasses.dataclass(frozen=True)
class Trace:
    """A fit at several rounds or times (leading axis ``T``; sweeps add a grid axis first).

    One type for every procedure: ``kernel_sd.DistillTrace`` (self-distillation)
    and ``kernel_sd.dynamics.Fit`` (gradient flow and descent, students) are this
    class under the names their modules have always used, so a trace from
    either path has every field and property, and ``isinstance`` holds across
    them. Fields a procedure has no use for are None: ``c``, ``status``,
    ``target_norm2``, ``eps`` and ``lam`` belong to self-distillation, and a
    route without eigenvectors would leave ``filter``, ``coef``, ``z0`` and
    ``spectrum`` None (``dual_coef`` is set instead). ``shrinkage`` and
    ``coefficients`` are the self-distillation names of ``filter`` and ``coef``.
    """

    filter: Array | None
    """(T, r) filter ``h_t(d_k)``: ``f_t(X) = V diag(h_t) z_0``, ordered like eigvals.

    For self-distillation the shrinkage ``A_t = Π_{i<=t} D (c_i I + D)^{-1}``."""
    train_pred: Array
    """(T, K) or (T, K, q) training predictions ``f_t(X)`` (``y_{t+1}`` for rounds)."""
    test_pred: Array | None
    """(T, m) or (T, m, q) predictions ``f_t(X_test)``; None without test points."""
    coef: Array | None
    """(T, r) or (T, r, q) ``α_t = diag(g_t) z_0``: ``f_t(x) = g_xᵀ V α_t``.

    For rounds ``α_t = (c_t I + D)^{-1} z_t``; for the gradient methods
    ``diag(h_t / d) z_0`` (0 where ``d = 0``)."""
    z0: Array | None
    """(r,) or (r, q) the original targets in the eigenbasis, ``z_0 = Vᵀ y``."""
    spectrum: Spectrum | None
    """The spectrum of ``G = k(X, X)/K`` every row used (shared, never batched)."""
    c: Array | None = None
    """(T,) multipliers ``c_0..c_{T−1}``; ``+inf`` from the collapse round on."""
    status: Array | None = None
    """(T,) root-finder status per round: 0 ok, 1 collapsed (see ``solvers``)."""
    target_norm2: Array | None = None
    """(T,) ``‖y_t‖²``, the squared norm of round ``t``'s targets (``y_0 = y``)."""
    eps: Array | None = None
    """() constraint level ε of the constrained form; None otherwise."""
    lam: Array | None = None
    """() fixed penalty ``lam`` of the penalised form; None otherwise."""
    dual_coef: Array | None = None
    """(T, K) or (T, K, q) ``a_t = (c_t I + G)^{-1} y_t``: ``f_t(x) = g_xᵀ a_t``.

    Set by the Cholesky route of the penalised form; None on the eigenbasis
    route, where ``a_t = V coef_t``."""

    @property
    def shrinkage(self) -> Array | None:
        """(T, r) ``A_t``: the self-distillation name of :attr:`filter`."""
        return self.filter

    @property
    def coefficients(self) -> Array | None:
        """(T, r) or (T, r, q) ``α_t``: the self-distillation name of :attr:`coef`.

        With ``W = features(kernel, X, X_new, spectrum)`` (rows ``g_xᵀ V``), the
        row-``t`` predictions at new points are ``W @ coefficients[t]``.
        """
        return self.coef

    @property
    def rounds(self) -> int:
        """Number of rounds (or times) ``T`` recorded."""
        if self.c is not None:
            return self.c.shape[-1]
        return self.filter.shape[-2]

    @property
    def collapse_round(self):
        """First round whose targets satisfy ``‖y_t‖² <= Kε`` (then ``f_t = 0``), or −1.

        An ``int`` for a single trace, an integer array for a sweep; None
        without multipliers (gradient methods).
        """
        if self.c is None:
            return None
        collapsed = jnp.isinf(self.c)
        first = jnp.where(collapsed.any(axis=-1), jnp.argmax(collapsed, axis=-1), -1)
        if isinstance(first, jax.core.Tracer):
            return first
        first = np.asarray(first)
        return int(first) if first.ndim == 0 else first

    @property
    def effective_dimension(self) -> Array | None:
        """(T,) effective number of basis functions ``Σ_k h_t(d_k)`` (``Σ_k A_t[k]``)."""
        if self.filter is None:
            return None
        return jnp.sum(self.filter, axis=-1)


@jax.jit
def _coordinates(d: Array, z: Array, filt: Filter, W: Array | None):
    """``diag(h) z``, ``α = diag(g) z`` and ``W α`` for every leading index of the filter."""
    h = filt.h
    lead = (1,) * (h.ndim - 1)  # explicit broadcasting over rounds and grids
    g = h * pseudo_inverse(d).reshape(lead + d.shape) if filt.g is None else filt.g
    z = z.reshape(lead + z.shape)
    Hz = h[..., None] * z
    coef = g[..., None] * z
    test = None if W is None else jnp.einsum("mr,...rq->...mq", W, coef)
    return Hz, coef, test


@partial(jax.jit, static_argnums=5)
def _apply_stored(d, V, z, filt: Filter, W, single: bool):
    """:func:`apply`'s products for stored eigenvectors and features, compiled together."""
    Hz, coef, test = _coordinates(d, z, filt, W)
    train = expand(V, Hz)
    out = (train, coef, test, z)
    return _single_column(out) if single else out


@jax.jit
def _single_column(arrays):
    """The one target column of each array (one program, not four slicing ops)."""
    return jax.tree.map(lambda a: a[..., 0], arrays)


def _stored(W) -> bool:
    return W is None or isinstance(W, (jax.Array, np.ndarray))


def apply(
    spec: Spectrum,
    y: Array,
    filters: Filter | Array,
    test_features: Array | None = None,
    *,
    z: Array | None = None,
) -> Trace:
    """Predictions and coefficients of the filters ``filters`` on the targets ``y``.

    ``f(X) = V diag(h) Vᵀ y``, ``α = diag(g) Vᵀ y`` and ``f(X_test) = W α`` for
    every leading index of ``h`` (rounds, times, grid), in one product with ``V``.
    Arguments are trusted: the public functions validate them first.

    Args:
        spec: the spectrum ``G = V diag(d) Vᵀ``.
        y: ``(K,)`` or ``(K, q)`` targets (its shape sets the outputs').
        filters: a :class:`~kernel_sd.filters.Filter`, or an array ``h`` of
            shape ``(..., T, r)`` (then ``g = h / d``, 0 on the null space).
        test_features: optional ``(m, r)`` rows ``g_xᵀ V`` (``kernel_sd.features``),
            stored or implicit (``spectra.features.implicit_features``).
        z: ``(r, q)`` ``Vᵀ y`` when already computed (it costs a pass over ``X``
            for implicit eigenvectors).

    Returns:
        A :class:`Trace` with ``filter``, ``train_pred``, ``test_pred``,
        ``coef``, ``z0`` and ``spectrum`` set.
    """
    if not isinstance(filters, Filter):
        filters = Filter(jnp.asarray(filters, spec.eigvals.dtype))
    single = y.ndim == 1
    if z is None:
        z, _ = targets_in_eigenbasis(spec, y[:, None] if single else y)
    stored = _stored(test_features)
    if stored and isinstance(spec.eigvecs, jax.Array):
        # every product in one program: no intermediate (grid, T, r) copies
        train, coef, test, z = _apply_stored(
            spec.eigvals, spec.eigvecs, z, filters, test_features, single
        )
    else:
        W = test_features if stored else None
        Hz, coef, test = _coordinates(spec.eigvals, z, filters, W)
        if not stored:  # W α = k(X_test, B) (P α), all rows of α in one pass
            test = expand(test_features, coef)
        train = expand(spec.eigvecs, Hz)  # f(X) = V diag(h) z for every filter row
        if single:
            train, coef, z, test = _single_column((train, coef, z, test))
    return Trace(
        filter=filters.h,
        train_pred=train,
        test_pred=test,
        coef=coef,
        z0=z,
        spectrum=spec,
    )
