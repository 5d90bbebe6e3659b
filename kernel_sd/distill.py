"""Self-distillation rounds in the eigenbasis: one factorisation, then O(r) per round.

[MFB20] round ``t`` fits ``f_t(x) = g_xᵀ (c_t I + G)^{-1} y_t`` with ``y_0 = y`` and
``y_{t+1} = f_t(X)``. In the eigenbasis ``z_t = Vᵀ y_t`` this is

    z_{t+1} = D (c_t I + D)^{-1} z_t,        A_t = Π_{i<=t} D (c_i I + D)^{-1},

so after the single eigendecomposition no round touches an ``n × n`` matrix:
each round solves a scalar equation for ``c_t`` (constrained form) or uses
``c_t = lam`` (penalised form), multiplies ``z`` by a diagonal, and predictions
for all rounds are one matrix product at the end.
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd.filters import resolvent, ridge
from kernel_sd.kernels import Kernel, check_kernel_inputs
from kernel_sd.solvers import (
    STATUS_INFEASIBLE,
    STATUS_NOT_CONVERGED,
    _multiplier_core,
    raise_for_status,
    targets_in_eigenbasis,
)
from kernel_sd.spectral import Spectrum, expand, features
from kernel_sd.spectral import spectrum as _spectrum

__all__ = [
    "DistillTrace",
    "self_distill",
    "self_distill_sweep",
    "distill_from_spectrum",
]


@partial(
    jax.tree_util.register_dataclass,
    data_fields=[
        "c",
        "train_pred",
        "test_pred",
        "shrinkage",
        "target_norm2",
        "z0",
        "status",
        "eps",
        "lam",
        "spectrum",
    ],
    meta_fields=[],
)
@dataclasses.dataclass(frozen=True)
class DistillTrace:
    """Per-round record of self-distillation (fields gain a leading axis in sweeps)."""

    c: Array
    """(T,) multipliers ``c_0..c_{T−1}``; ``+inf`` from the collapse round on."""
    train_pred: Array
    """(T, K) or (T, K, q) training predictions ``f_t(X) = y_{t+1}``."""
    test_pred: Array | None
    """(T, m) or (T, m, q) predictions ``f_t(X_test)``; None without ``X_test``."""
    shrinkage: Array
    """(T, r) diagonal of ``A_t = Π_{i<=t} D (c_i I + D)^{-1}``, ordered like eigvals."""
    target_norm2: Array
    """(T,) ``‖y_t‖²``, the squared norm of round ``t``'s targets (``y_0 = y``)."""
    z0: Array
    """(r,) or (r, q) the original targets in the eigenbasis, ``z_0 = Vᵀ y``."""
    status: Array
    """(T,) root-finder status per round: 0 ok, 1 collapsed (see ``solvers``)."""
    eps: Array | None
    """() constraint level ε of the constrained form; None in the penalised form."""
    lam: Array | None
    """() fixed penalty ``lam`` of the penalised form; None in the constrained form."""
    spectrum: Spectrum
    """The spectrum of ``G = k(X, X)/K`` every round used."""

    @property
    def rounds(self) -> int:
        """Number of rounds ``T`` recorded."""
        return self.c.shape[-1]

    @property
    def collapse_round(self):
        """First round whose targets satisfy ``‖y_t‖² <= Kε`` (then ``f_t = 0``), or −1.

        An ``int`` for a single trace, an integer array for a sweep.
        """
        collapsed = jnp.isinf(self.c)
        first = jnp.where(collapsed.any(axis=-1), jnp.argmax(collapsed, axis=-1), -1)
        if isinstance(first, jax.core.Tracer):
            return first
        first = np.asarray(first)
        return int(first) if first.ndim == 0 else first

    @property
    def coefficients(self) -> Array:
        """(T, r) or (T, r, q) ``α_t = (c_t I + D)^{-1} z_t``: ``f_t(x) = g_xᵀ V α_t``.

        With ``W = features(kernel, X, X_new, spectrum)`` (rows ``g_xᵀ V``), the
        round-``t`` predictions at new points are ``W @ coefficients[t]``.
        """
        return _coefficients(self.c, self.spectrum.eigvals, self.shrinkage, self.z0)

    @property
    def effective_dimension(self) -> Array:
        """(T,) effective number of basis functions ``Σ_k A_t[k]``."""
        return jnp.sum(self.shrinkage, axis=-1)


def _rounds(d, z0, s_perp0, W, hyper, *, rounds: int, constrained: bool):
    """All rounds for one hyper-parameter (``Kε`` or ``lam``); ``z0`` is ``(r, q)``.

    Training predictions ``V z_{t+1}`` are left to the caller (one product for
    all rounds, also when ``V`` is implicit); this returns ``z_{t+1}``.
    """

    def step(carry, _):
        z, s_perp = carry
        s = jnp.sum(z * z, axis=1)
        if constrained:
            res = _multiplier_core(d, s, s_perp, hyper)
            c, status = res.c, res.status
        else:
            c, status = jnp.asarray(hyper, d.dtype), jnp.zeros((), jnp.int32)
        h = ridge(d, c)
        coef = resolvent(d, c)[:, None] * z  # α_t = (c_t I + D)^{-1} z_t
        z_next = h[:, None] * z  # [MFB20] z_{t+1} = D (c_t I + D)^{-1} z_t
        out = (c, status.astype(jnp.int32), h, coef, z_next, s_perp + jnp.sum(s))
        return (z_next, jnp.zeros_like(s_perp)), out

    _, (c, status, h, coef, z_next, norm2) = jax.lax.scan(
        step, (z0, s_perp0), None, length=rounds
    )
    shrinkage = jnp.cumprod(h, axis=0)  # [MFB20] A_t = Π_{i<=t} D (c_i I + D)^{-1}
    test = None if W is None else jnp.einsum("mr,trq->tmq", W, coef)
    return c, status, shrinkage, norm2, z_next, test


@partial(jax.jit, static_argnames=("rounds", "constrained", "batched"))
def _rounds_core(d, z0, s_perp0, W, hyper, rounds, constrained, batched):
    fn = partial(_rounds, d, z0, s_perp0, W, rounds=rounds, constrained=constrained)
    return jax.vmap(fn)(hyper) if batched else fn(hyper)


def _hyper(eps, lam, n: int, batched: bool):
    """Validate ``eps`` xor ``lam``; return (constrained, hyper values, eps, lam)."""
    if (eps is None) == (lam is None):
        raise ValueError(
            "Pass exactly one of `eps` (constrained form, (1/K)‖f(X) − y‖² <= eps) "
            "or `lam` (penalised form, c_t = lam every round)."
        )
    if batched:
        if eps is not None:
            values = _validate.positive_vector("eps", eps)
            return True, n * values, values, None
        values = _validate.positive_vector("lam", lam, allow_zero=True)
        return False, values, None, values
    if eps is not None:
        value = _validate.positive_scalar("eps", eps)
        return True, n * value, value, None
    value = _validate.positive_scalar("lam", lam, allow_zero=True)
    return False, value, None, value


def distill_from_spectrum(
    spec: Spectrum,
    y: Array,
    *,
    eps: float | None = None,
    lam: float | None = None,
    rounds: int = 10,
    test_features: Array | None = None,
) -> DistillTrace:
    """Self-distillation rounds on a precomputed spectrum  [MFB20].

    Same as :func:`self_distill` but takes the spectrum of ``G`` directly (and,
    for test predictions, ``test_features = g_xᵀ V`` from
    :func:`kernel_sd.spectral.features`), so many runs share one factorisation.
    """
    return _distill(
        spec, y, eps=eps, lam=lam, rounds=rounds, W=test_features, batched=False
    )


@jax.jit
def _coefficients(c: Array, d: Array, shrinkage: Array, z0: Array) -> Array:
    """``α_t = A_{t-1} (c_t I + D)^{-1} z_0`` for every round (see ``coefficients``)."""
    c = c[..., None]
    lead = (1,) * (c.ndim - 1)  # explicit broadcasting over rounds (and sweeps)
    d = d.reshape(lead + (-1,))
    ones = jnp.ones_like(shrinkage[..., :1, :])
    prev = jnp.concatenate([ones, shrinkage[..., :-1, :]], axis=-2)  # A_{t-1}
    scale = prev * resolvent(d, c)
    if z0.ndim == 1:
        return scale * z0.reshape(lead + (-1,))
    return scale[..., None] * z0.reshape(lead + z0.shape)


def _distill(spec, y, *, eps, lam, rounds, W, batched) -> DistillTrace:
    if not isinstance(spec, Spectrum):
        raise ValueError(
            f"`spectrum` must be a kernel_sd Spectrum, got {type(spec).__name__}."
        )
    n = spec.n_train
    dtype = spec.eigvals.dtype
    y = _validate.targets("y", y, n, dtype)
    rounds = _validate.positive_int("rounds", rounds)
    constrained, hyper, eps_v, lam_v = _hyper(eps, lam, n, batched)
    if W is not None:
        W = jnp.asarray(W, dtype)
        if W.ndim != 2 or W.shape[1] != spec.eigvals.shape[0]:
            raise ValueError(
                f"`test_features` must be (m, {spec.eigvals.shape[0]}), got {W.shape}."
            )
    single = y.ndim == 1
    z0, s_perp0 = targets_in_eigenbasis(spec, y[:, None] if single else y)
    c, status, shrinkage, norm2, z_next, test = _rounds_core(
        spec.eigvals,
        z0,
        s_perp0,
        W,
        jnp.asarray(hyper, dtype),
        rounds,
        constrained,
        batched,
    )
    _report(c, status, spec, eps_v, z0, s_perp0)
    train = expand(spec.eigvecs, z_next)  # f_t(X) = V z_{t+1}, all rounds at once
    if single:
        train = train[..., 0]
        test = None if test is None else test[..., 0]

    def as_arr(v):
        return None if v is None else jnp.asarray(v, dtype)

    return DistillTrace(
        c=c,
        train_pred=train,
        test_pred=test,
        shrinkage=shrinkage,
        target_norm2=norm2,
        z0=z0[:, 0] if single else z0,
        status=status,
        eps=as_arr(eps_v),
        lam=as_arr(lam_v),
        spectrum=spec,
    )


def _report(c, status, spec: Spectrum, eps, z0: Array, s_perp0: Array) -> None:
    """Raise on infeasible / non-converged rounds; warn when ``c`` is under the floor."""
    status = np.asarray(status)
    failed = (status == STATUS_INFEASIBLE) | (status == STATUS_NOT_CONVERGED)
    if failed.any():
        # Only round 0 can be infeasible: later targets have no null-space part.
        idx = tuple(np.argwhere(failed)[0])
        bad_eps = float(np.asarray(eps).reshape(-1)[idx[0]]) if len(idx) == 2 else eps
        null = float(
            s_perp0 + jnp.sum(jnp.where(spec.eigvals[:, None] > 0, 0.0, z0 * z0))
        )
        raise_for_status(
            int(status[idx]), null, spec.n_train, bad_eps, low_rank=not spec.complete
        )
    c = np.asarray(c)
    floor = float(spec.noise_floor)
    low = np.isfinite(c) & (c < floor)
    if low.any():
        warnings.warn(
            f"{int(low.sum())} multiplier(s) c_t fell below the eigenvalue noise floor "
            f"{floor:.3e} (smallest c = {c[low].min():.3e}): those fits are dominated "
            "by round-off. Use a larger eps / lam or a smoother kernel.",
            stacklevel=4,
        )


def self_distill(
    kernel: Kernel,
    X: Array,
    y: Array,
    *,
    eps: float | None = None,
    lam: float | None = None,
    rounds: int = 10,
    X_test: Array | None = None,
    spectrum: Spectrum | None = None,
) -> DistillTrace:
    """Self-distillation in the RKHS of ``kernel``  [MFB20].

    Round ``t`` fits ``f_t(x) = g_xᵀ (c_t I + G)^{-1} y_t`` with ``G = k(X, X)/K``,
    ``g_x = k(x, X)/K``, ``y_0 = y`` and ``y_{t+1} = f_t(X)``. In the constrained
    form (``eps``: the level ε) ``c_t`` solves ``(1/K)‖f_t(X) − y_t‖² = ε``, and
    once ``‖y_t‖² <= Kε`` the fit is 0 (collapse, ``c_t = +inf``). In the
    penalised form (``lam``) ``c_t = lam`` every round, which is scikit-learn's
    ``KernelRidge(alpha=K * lam)`` applied ``rounds`` times. Multi-column ``y``
    shares one constraint over all columns, ``(1/K) Σ ‖f(x_k) − y_k‖² <= ε``.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(K, p)`` training inputs.
        y: ``(K,)`` or ``(K, q)`` targets.
        eps: constraint level ``ε > 0`` (constrained form); exclusive with ``lam``.
        lam: penalty ``lam >= 0`` (penalised form); exclusive with ``eps``.
        rounds: number of rounds ``T >= 1`` (round 0 is the ordinary fit).
        X_test: optional ``(m, p)`` inputs to predict at every round.
        spectrum: a spectrum of ``k(X, X)/K`` to reuse (skips the factorisation).

    Returns:
        A :class:`DistillTrace`.

    Raises:
        ValueError: bad shapes or values (named in the message); ``eps`` below
            what the numerical null space of ``G`` allows.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 11)[:, None]
        >>> y = jnp.sin(2 * jnp.pi * X[:, 0])
        >>> tr = ksd.self_distill(ksd.kernels.RBF(lengthscale=0.1), X, y, eps=0.05, rounds=30)
        >>> bool(jnp.all(jnp.diff(tr.c[: tr.collapse_round]) > 0)), tr.collapse_round > 0
        (True, True)

    References:
        [MFB20] Mobahi, Farajtabar & Bartlett, "Self-Distillation Amplifies
        Regularization in Hilbert Space", NeurIPS 2020.
    """
    spec, W = _prepare(kernel, X, X_test, spectrum)
    return _distill(spec, y, eps=eps, lam=lam, rounds=rounds, W=W, batched=False)


def self_distill_sweep(
    kernel: Kernel,
    X: Array,
    y: Array,
    *,
    eps: Array | None = None,
    lam: Array | None = None,
    rounds: int = 10,
    X_test: Array | None = None,
    spectrum: Spectrum | None = None,
) -> DistillTrace:
    """:func:`self_distill` for a grid of ``eps`` (or ``lam``) values in one compiled call.

    All values share one eigendecomposition; the rounds are ``jax.vmap``-ed over
    the grid. Every field of the returned trace gains a leading axis of length
    ``len(eps)`` (``spectrum`` is shared and not batched).

    Args:
        eps: ``(E,)`` constraint levels (exclusive with ``lam``).
        lam: ``(E,)`` penalties (exclusive with ``eps``).
        Other arguments: as in :func:`self_distill`.
    """
    spec, W = _prepare(kernel, X, X_test, spectrum)
    return _distill(spec, y, eps=eps, lam=lam, rounds=rounds, W=W, batched=True)


def _prepare(kernel, X, X_test, spec):
    """Validate ``X``; compute (or check) the spectrum and the test features."""
    X = check_kernel_inputs(kernel, X)
    if spec is None:
        spec = _spectrum(kernel, X)
    elif not isinstance(spec, Spectrum) or spec.n_train != X.shape[0]:
        raise ValueError(
            f"`spectrum` must be the Spectrum of k(X, X)/K for these {X.shape[0]} "
            "points (from ksd.spectrum(kernel, X))."
        )
    W = None if X_test is None else features(kernel, X, X_test, spec)
    return spec, W
