"""Self-distillation rounds in the eigenbasis: one factorisation, then O(r) per round.

[MFB20] round ``t`` fits ``f_t(x) = g_xᵀ (c_t I + G)^{-1} y_t`` with ``y_0 = y`` and
``y_{t+1} = f_t(X)``. In the eigenbasis ``z_t = Vᵀ y_t`` this is

    z_{t+1} = D (c_t I + D)^{-1} z_t,        A_t = Π_{i<=t} D (c_i I + D)^{-1},

so after the single eigendecomposition no round touches an ``n × n`` matrix:
each round solves a scalar equation for ``c_t`` (constrained form, see
``kernel_sd.solvers``) or uses ``c_t = lam`` (penalised form). The multipliers
give the filters (:func:`kernel_sd.filters.ridge_rounds`) and the engine
:func:`kernel_sd.fit.apply` the predictions of all rounds in one product.
"""

from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
from jax import Array

from kernel_sd import _validate, fit
from kernel_sd._cholesky import _check_cholesky, _distill_cholesky
from kernel_sd.accuracy import ACCURACY_WARNING, error_bound, report_rounds
from kernel_sd.filters import ridge, ridge_rounds
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.solvers import (
    multiplier_core,
)
from kernel_sd.spectra.base import Spectrum
from kernel_sd.spectra.eigvecs import targets_in_eigenbasis
from kernel_sd.spectra.exact import (
    DEFAULT_MAX_MEMORY_GB,
    exact_spectrum,
)
from kernel_sd.spectra.features import (
    check_finite_at,
    prediction_features,
)

__all__ = [
    "DistillTrace",
    "self_distill",
    "self_distill_sweep",
    "distill_from_spectrum",
    "METHODS",
    "rounds_grid",
    "error_bound",
    "ACCURACY_WARNING",
]

METHODS = ("eigh", "cholesky")
"""Routes of :func:`self_distill`: the eigenbasis (every field of the trace), or
one Cholesky factorisation of ``G + λI`` (penalised form, predictions only)."""

DistillTrace = fit.Trace
"""Per-round record of self-distillation: the engine's :class:`kernel_sd.fit.Trace`.

The name is kept for the self-distillation API; it is the same class as
``kernel_sd.dynamics.Fit``, with ``c``, ``status``, ``target_norm2`` and ``eps``
or ``lam`` set, ``shrinkage`` (= ``filter``) the diagonal of ``A_t`` and
``coefficients`` (= ``coef``) the ``α_t = (c_t I + D)^{-1} z_t``. Fields gain a
leading grid axis in sweeps (``spectrum`` is shared).
"""


def _multipliers(d, z0, s_perp0, floor, hyper, *, rounds: int, constrained: bool):
    """``c_t``, root-finder status and ``‖y_t‖²`` of every round, for one ``Kε`` or ``lam``.

    ``z0`` is ``(r, q)``. Each round's ``c_t`` depends on its own targets
    ``z_t``, so the rounds are a scan carrying ``z_t`` and the energy ``s_⊥``
    outside ``span V`` (present in round 0 only: ``y_1 = f_0(X)`` lies in it).
    """

    def step(carry, _):
        z, s_perp, c_prev = carry
        s = jnp.sum(z * z, axis=1)
        if constrained:
            # c_t > c_{t-1} [MFB20]: Newton starts from the previous multiplier
            res = multiplier_core(d, s, s_perp, hyper, floor, c_prev)
            c, status = res.c, res.status
        else:
            c, status = jnp.asarray(hyper, d.dtype), jnp.zeros((), jnp.int32)
        z_next = ridge(d, c)[:, None] * z  # [MFB20] z_{t+1} = D (c_t I + D)^{-1} z_t
        out = (c, status.astype(jnp.int32), s_perp + jnp.sum(s))
        return (z_next, jnp.zeros_like(s_perp), c), out

    start = (z0, s_perp0, jnp.asarray(jnp.nan, d.dtype))  # round 0: bracket midpoint
    _, (c, status, norm2) = jax.lax.scan(step, start, None, length=rounds)
    return c, status, norm2


@partial(jax.jit, static_argnames=("rounds", "constrained", "batched"))
def _rounds_core(d, z0, s_perp0, floor, hyper, rounds, constrained, batched):
    """Multipliers and filters of all rounds, ``vmap``-ed over a grid when ``batched``."""
    fn = partial(
        _multipliers, d, z0, s_perp0, floor, rounds=rounds, constrained=constrained
    )
    c, status, norm2 = jax.vmap(fn)(hyper) if batched else fn(hyper)
    return c, status, norm2, ridge_rounds(d, c)


def rounds_grid(d, z0, s_perp0, floor, hyper, *, rounds: int, constrained: bool):
    """Multipliers, statuses, ``‖y_t‖²`` and filters of all rounds, for a grid of values.

    The core of :func:`self_distill_sweep` for trusted arguments: ``d`` ``(r,)``
    eigenvalues, ``z0`` ``(r, q)`` targets in the eigenbasis, ``s_perp0`` their
    energy outside ``span V``, ``floor`` the spectrum's ``noise_floor`` (eigenvalues
    at or below it are the numerical null space of the feasibility test),
    ``hyper`` ``(E,)`` values of ``Kε`` (constrained) or ``lam``. Returns ``c``,
    ``status`` and ``‖y_t‖²`` of shape ``(E, T)`` and the
    :class:`~kernel_sd.filters.Filter` of shape ``(E, T, r)``. Failures stay in
    ``status`` (no exception), so a search can score them instead of stopping.
    """
    return _rounds_core(d, z0, s_perp0, floor, hyper, rounds, constrained, True)


def _distill(
    spec, y, *, constrained, eps, lam, rounds, W, batched, kernel=None
) -> DistillTrace:
    """All rounds for validated arguments (``eps`` or ``lam`` a scalar, or a grid)."""
    n = spec.n_train
    dtype = spec.eigvals.dtype
    hyper = n * eps if constrained else lam  # the root finder works with Kε
    Y = y[:, None] if y.ndim == 1 else y
    z0, s_perp0 = targets_in_eigenbasis(spec, Y)
    c, status, norm2, filters = _rounds_core(
        spec.eigvals,
        z0,
        s_perp0,
        spec.noise_floor,
        jnp.asarray(hyper, dtype),
        rounds,
        constrained,
        batched,
    )
    report_rounds(c, status, spec, eps, z0, s_perp0, filters.h, kernel)
    trace = fit.apply(spec, y, filters, W, z=z0)

    def as_arr(v):
        return None if v is None else jnp.asarray(v, dtype)

    return dataclasses.replace(
        trace, c=c, status=status, target_norm2=norm2, eps=as_arr(eps), lam=as_arr(lam)
    )


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
    :func:`kernel_sd.features`), so many runs share one factorisation.

    Args:
        spec: the spectrum of ``G = k(X, X)/K``.
        y: ``(K,)`` or ``(K, q)`` targets.
        eps, lam, rounds: as in :func:`self_distill`.
        test_features: optional ``(m, r)`` rows ``g_xᵀ V``.

    Raises:
        ValueError: bad arguments (named in the message); ``eps`` infeasible.
    """
    spec = _validate.spectrum("spec", spec)
    y = _validate.targets("y", y, spec.n_train, spec.eigvals.dtype)
    rounds = _validate.positive_int("rounds", rounds)
    constrained, eps, lam = _validate.penalty(eps, lam, batched=False)
    W = _validate.feature_rows(test_features, spec, spec.eigvals.dtype)
    _check_trace_size(spec, y, rounds, 0 if W is None else W.shape[0], 1)
    if constrained:
        _validate.target_energy("y", y)
    trace = _distill(
        spec,
        y,
        constrained=constrained,
        eps=eps,
        lam=lam,
        rounds=rounds,
        W=W,
        batched=False,
    )
    return _validate.finite_results(trace, "distill_from_spectrum")


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
    method: str = "eigh",
) -> DistillTrace:
    """Self-distillation in the RKHS of ``kernel``  [MFB20].

    Round ``t`` fits ``f_t(x) = g_xᵀ (c_t I + G)^{-1} y_t`` with ``G = k(X, X)/K``,
    ``g_x = k(x, X)/K``, ``y_0 = y`` and ``y_{t+1} = f_t(X)``. In the constrained
    form (``eps``: the level ε) ``c_t`` solves ``(1/K)‖f_t(X) − y_t‖² = ε``, and
    once ``‖y_t‖² <= Kε`` the fit is 0 (collapse, ``c_t = +inf``). In the
    penalised form (``lam``) ``c_t = lam`` every round, which is scikit-learn's
    ``KernelRidge(alpha=K * lam)`` applied ``rounds`` times. Multi-column ``y``
    shares one constraint over all columns, ``(1/K) Σ ‖f(x_k) − y_k‖² <= ε``.

    Two routes (``method``), equal to round-off (1e-10 relative in the tests):

    - ``"eigh"`` (default): one eigendecomposition ``G = V diag(d) Vᵀ``; every
      field of the trace is set, including the per-direction ``shrinkage``,
      ``coefficients``, ``z0`` and ``spectrum``. Needed by the constrained form
      (each ``c_t`` is a root over the eigenvalues) and by everything that reads
      the spectrum.
    - ``"cholesky"`` (penalised form only): one Cholesky factorisation of
      ``G + lam·I`` serves every round, ``a_t = (lam I + G)^{-1} y_t``,
      ``y_{t+1} = G a_t``, test predictions ``k(X_test, X) a_t / K``. For
      predictions only: 10 rounds with 1000 test points cost 5x less than
      ``eigh`` at ``K = 1000`` and 8x less at 3000, about one scikit-learn
      ``KernelRidge`` fit + predict (penalised table of ``kernel-sd bench``,
      one CPU core).
      The trace has ``train_pred``, ``test_pred``, ``c``, ``status``,
      ``target_norm2``, ``lam`` and ``dual_coef`` (the ``a_t``); the
      per-direction fields are None.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(K, p)`` training inputs.
        y: ``(K,)`` or ``(K, q)`` targets.
        eps: constraint level ``ε > 0`` (constrained form); exclusive with ``lam``.
        lam: penalty ``lam >= 0`` (penalised form); exclusive with ``eps``.
        rounds: number of rounds ``T >= 1`` (round 0 is the ordinary fit).
        X_test: optional ``(m, p)`` inputs to predict at every round.
        spectrum: a spectrum of ``k(X, X)/K`` to reuse (skips the factorisation).
        method: ``"eigh"`` or ``"cholesky"`` (see above).

    Returns:
        A :class:`DistillTrace`.

    Raises:
        ValueError: bad shapes or values (named in the message); a
            ``spectrum`` of other points; ``eps`` below what the numerical null
            space of ``G`` allows; ``method="cholesky"`` with ``eps``, with a
            ``spectrum``, with ``lam = 0`` or with ``G + lam·I`` not numerically
            positive definite.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 11)[:, None]
        >>> y = jnp.sin(2 * jnp.pi * X[:, 0])
        >>> tr = ksd.self_distill(ksd.kernels.RBF(lengthscale=0.1), X, y, eps=0.05, rounds=30)
        >>> bool(jnp.all(jnp.diff(tr.c[: tr.collapse_round]) > 0)), tr.collapse_round > 0
        (True, True)
        >>> k = ksd.kernels.RBF(lengthscale=0.1)
        >>> eig = ksd.self_distill(k, X, y, lam=1e-2, rounds=3)
        >>> chol = ksd.self_distill(k, X, y, lam=1e-2, rounds=3, method="cholesky")
        >>> bool(jnp.allclose(chol.train_pred, eig.train_pred, atol=1e-5)), chol.z0 is None
        (True, True)

    References:
        [MFB20] Mobahi, Farajtabar & Bartlett, "Self-Distillation Amplifies
        Regularization in Hilbert Space", NeurIPS 2020.
    """
    X, spec, y, rounds, X_test = _prepare(kernel, X, y, rounds, X_test, spectrum)
    constrained, eps, lam = _validate.penalty(eps, lam, batched=False)
    method = _validate.choice("method", method, METHODS)
    if method == "cholesky":
        _check_cholesky(constrained, lam, spec)
    _check_before_work(spec, X, y, rounds, X_test, 1, constrained)
    if method == "cholesky":
        trace = _distill_cholesky(kernel, X, y, lam=lam, rounds=rounds, X_test=X_test)
        return _validate.finite_results(trace, "self_distill")
    spec, W = _factorise(kernel, X, spec, X_test, columns=rounds * _columns(y))
    trace = _distill(
        spec,
        y,
        constrained=constrained,
        eps=eps,
        lam=lam,
        rounds=rounds,
        W=W,
        batched=False,
        kernel=kernel,
    )
    _check_test(kernel, trace, W)
    return _validate.finite_results(trace, "self_distill")


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
    X, spec, y, rounds, X_test = _prepare(kernel, X, y, rounds, X_test, spectrum)
    constrained, eps, lam = _validate.penalty(eps, lam, batched=True)
    grid = (eps if constrained else lam).size
    _check_before_work(spec, X, y, rounds, X_test, grid, constrained)
    spec, W = _factorise(kernel, X, spec, X_test, columns=grid * rounds * _columns(y))
    trace = _distill(
        spec,
        y,
        constrained=constrained,
        eps=eps,
        lam=lam,
        rounds=rounds,
        W=W,
        batched=True,
        kernel=kernel,
    )
    _check_test(kernel, trace, W)
    return _validate.finite_results(trace, "self_distill_sweep")


def _prepare(kernel, X, y, rounds, X_test, spec):
    """Validate the public arguments, before any long computation."""
    X = _validate.kernel_inputs(kernel, X)
    n = X.shape[0]
    if spec is not None:
        spec = _validate.spectrum_of_inputs("spectrum", spec, X, kernel)
    dtype = X.dtype if spec is None else spec.eigvals.dtype
    y = _validate.targets("y", y, n, dtype)
    rounds = _validate.positive_int("rounds", rounds)
    X_test = None if X_test is None else _validate.same_features("X_test", X_test, X)
    return X, spec, y, rounds, X_test


def _columns(y: Array) -> int:
    return 1 if y.ndim == 1 else y.shape[1]


def _check_before_work(spec, X, y, rounds, X_test, grid, constrained):
    """The checks that need several arguments: the trace's size, the target energy."""
    m = 0 if X_test is None else X_test.shape[0]
    n = X.shape[0]
    r = n if spec is None else spec.eigvals.shape[0]
    _check_trace_size(spec, y, rounds, m, grid, n=n, r=r, itemsize=X.dtype.itemsize)
    if constrained:
        _validate.target_energy("y", y)


def _check_trace_size(spec, y, rounds, m, grid, *, n=None, r=None, itemsize=None):
    """Refuse, before any work, a trace too large for memory (:func:`_validate.output_size`).

    Per grid value and round: ``n`` training and ``m`` test predictions and
    ``2r`` coefficient-like numbers per target column, ``2r`` filter values and
    three scalars.
    """
    n = spec.n_train if n is None else n
    r = spec.eigvals.shape[0] if r is None else r
    itemsize = spec.eigvals.dtype.itemsize if itemsize is None else itemsize
    q = 1 if y.ndim == 1 else y.shape[1]
    _validate.output_size(
        "rounds",
        rounds,
        grid * rounds * ((n + m + 2 * r) * q + 2 * r + 3),
        itemsize,
        what=f"a trace of {rounds} rounds"
        + (f" x {grid} grid values" if grid > 1 else "")
        + f" x ({n} training + {m} test predictions and {2 * r} coefficients)"
        + f" x {q} column(s)",
        fix="Use fewer rounds: from the collapse round on every fit is 0, and the "
        "shrinkage of later rounds is the product kernel_sd.filters.ridge_rounds(d, c).",
    )


def _factorise(kernel, X, spec, X_test, *, columns: int):
    """The spectrum (computed unless given) and the test points' features, if any.

    The features are stored ``(m, r)`` rows when they serve at least ``r``
    columns of coefficients (``columns``: rounds × grid × outputs), else implicit:
    the predictions are then ``k(X_test, X) (V α)/K``, one pass over ``X_test``.
    """
    if spec is None:
        spec = exact_spectrum(
            kernel,
            X,
            block_size=DEFAULT_BLOCK_SIZE,
            max_memory_gb=DEFAULT_MAX_MEMORY_GB,
            m_test=0 if X_test is None else X_test.shape[0],
        )
    W = None
    if X_test is not None:
        W = prediction_features(
            kernel,
            X,
            X_test,
            spec,
            columns=columns,
            block_size=DEFAULT_BLOCK_SIZE,
            name="X_test",
        )
    return spec, W


def _check_test(kernel, trace, W) -> None:
    """Implicit test features are evaluated inside the predictions: check those.

    Stored features were checked when built; with finite training predictions,
    NaN/inf test predictions come from the kernel values at ``X_test``.
    """
    if W is None or isinstance(W, jax.Array):
        return
    if _validate.all_finite(trace.train_pred):
        check_finite_at(kernel, trace.test_pred, "X_test")
