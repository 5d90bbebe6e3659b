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
import numpy as np
from jax import Array

from kernel_sd import _validate, fit
from kernel_sd._warn import warn
from kernel_sd.filters import ridge, ridge_rounds
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.solvers import (
    STATUS_INFEASIBLE,
    STATUS_NOT_CONVERGED,
    multiplier_core,
    penalised_rounds,
    raise_for_status,
)
from kernel_sd.spectra._products import kernel_matrix, kernel_trace
from kernel_sd.spectra.base import Spectrum, check_kernel_values, noise_floor
from kernel_sd.spectra.eigvecs import targets_in_eigenbasis
from kernel_sd.spectra.exact import (
    DEFAULT_MAX_MEMORY_GB,
    _check_memory,
    exact_spectrum,
)
from kernel_sd.spectra.features import (
    check_finite_at,
    dual_predictions,
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
    _report(c, status, spec, eps, z0, s_perp0, filters.h, kernel)
    trace = fit.apply(spec, y, filters, W, z=z0)

    def as_arr(v):
        return None if v is None else jnp.asarray(v, dtype)

    return dataclasses.replace(
        trace, c=c, status=status, target_norm2=norm2, eps=as_arr(eps), lam=as_arr(lam)
    )


ACCURACY_WARNING = {8: 1e-6, 4: 1e-3}
"""Warn when the first-order error bound of a trace (:func:`error_bound`) exceeds
this, by itemsize of the dtype: 1e-6 in float64 (10 of its 16 digits lost), 1e-3
in float32 (4 of its 7)."""


def error_bound(c, d, z0, s_perp0, shrinkage, eta, *, constrained: bool) -> np.ndarray:
    """``(..., T)`` first-order bound ``ρ_t`` on the relative errors of rounds ``0..t``.

    ``η`` bounds the round-off ``E`` in ``G`` (``‖E‖ <= η``); the spectrum is
    exact for ``G + E``. With ``R = (cI + G)^{-1}``:

    - the fit ``f = y − cRy`` moves by ``δf = c R E R y``, so
      ``‖δf(X)‖ <= (η/c) ‖y − f(X)‖``;
    - ``φ(c) = ‖cRy‖² = Kε`` moves by at most ``2 (η/c) Kε``, so the root moves by
      ``|δc|/c <= 2 (η/c)/κ`` with ``κ = d log φ / d log c`` at the root, and
      ``∂f/∂c = −RGRy`` adds ``(|δc|/c) ‖y − f(X)‖`` to ``δf``.

    Per round ``ρ_t = (η/c_t)(1 + 2/κ_t)`` (constrained) or ``η/c_t`` (penalised),
    bounding ``|δc_t|/c_t`` and ``‖δf_t(X)‖/‖y_t − f_t(X)‖``; each round's
    targets carry the errors of the rounds before, so the bound returned is the
    running sum over rounds. Derived (first order in ``η/c_t``). Against mpmath
    (50 digits; three RBF problems, ``c_0`` from 1.5 to 1e6 times the floor) it
    held everywhere, exceeding the measured errors of ``c_t`` by factors of 44 to
    1e4 and of the training predictions by 1.3 to 1e6.

    Args:
        c: ``(..., T)`` multipliers (``+inf`` after a collapse: no error).
        d: ``(r,)`` eigenvalues; ``z0``: ``(r, q)`` targets in the eigenbasis;
            ``s_perp0``: their energy outside ``span V``.
        shrinkage: ``(..., T, r)`` ``A_t`` (round ``t``'s targets are ``A_{t−1} z0``).
        eta: the bound ``η`` on ``‖E‖``; :func:`_report` uses ``√K · eps · d_max``
            (``‖E‖ <= ‖E‖_F <= eps ‖G‖_F <= eps √K d_max`` for entrywise
            relative round-off ``eps``).
        constrained: ``c`` solves the constraint (True) or is fixed (``lam``).
    """
    c = np.asarray(c, np.float64)
    d = np.asarray(d, np.float64)
    live = np.isfinite(c) & (c > 0)
    cc = np.where(live, c, 1.0)
    if constrained:
        s0 = np.sum(np.asarray(z0, np.float64) ** 2, axis=-1)  # (r,) round-0 energies
        A = np.asarray(shrinkage, np.float64)
        ones = np.ones_like(A[..., :1, :])
        energies = np.concatenate([ones, A[..., :-1, :]], axis=-2) ** 2 * s0
        a = cc[..., None] / (cc[..., None] + d)
        b = 1.0 - a
        phi = np.sum(energies * a * a, axis=-1)
        phi[..., 0] += float(s_perp0)
        slope = 2.0 * np.sum(energies * a * a * b, axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            kappa = np.where(phi > 0, slope / phi, np.inf)
            amp = 1.0 + 2.0 / kappa
    else:
        amp = np.ones_like(c)
    rho = np.where(live, float(eta) / cc * amp, 0.0)
    return np.cumsum(rho, axis=-1)


def _report(
    c, status, spec: Spectrum, eps, z0: Array, s_perp0: Array, A, kernel=None
) -> None:
    """Raise on infeasible / non-converged rounds; warn when ``c`` nears the floor.

    Two warnings: a multiplier under the noise floor (the fit is round-off), or
    else a first-order error bound (:func:`error_bound`) above
    :data:`ACCURACY_WARNING`.
    """
    status = np.asarray(status)
    failed = (status == STATUS_INFEASIBLE) | (status == STATUS_NOT_CONVERGED)
    floor = float(spec.noise_floor)
    if failed.any():
        # Only round 0 can be infeasible: later targets have no null-space part.
        idx = tuple(np.argwhere(failed)[0])
        bad_eps = float(np.asarray(eps).reshape(-1)[idx[0]]) if len(idx) == 2 else eps
        below = np.asarray(spec.eigvals) <= floor
        z0_2 = np.sum(np.asarray(z0, np.float64) ** 2, axis=-1)
        null = float(s_perp0) + float(np.sum(z0_2[below]))
        raise_for_status(
            int(status[idx]),
            null,
            spec.n_train,
            bad_eps,
            low_rank=not spec.complete,
            kernel=kernel,
        )
    c = np.asarray(c)
    low = np.isfinite(c) & (c < floor)
    if low.any():
        warn(
            f"{int(low.sum())} multiplier(s) c_t fell below the eigenvalue noise floor "
            f"{floor:.3e} (smallest c = {c[low].min():.3e}): those fits are dominated "
            "by round-off. Use a larger eps / lam."
        )
        return
    dtype = np.dtype(spec.eigvals.dtype)
    # η = √K · eps · d_max = floor/√K (the floor carries a Nyström route's round-off factor)
    eta = floor / np.sqrt(spec.n_train)
    rho = error_bound(c, spec.eigvals, z0, s_perp0, A, eta, constrained=eps is not None)
    worst = float(np.max(rho))
    if worst > ACCURACY_WARNING.get(dtype.itemsize, 1e-6):
        live = np.isfinite(c)
        smallest = float(c[live].min())
        warn(
            f"The smallest multiplier c_t = {smallest:.3e} is {smallest / floor:.3g} "
            f"times the eigenvalue noise floor {floor:.3e}, and the first-order bound "
            f"on the relative error of c_t and the predictions is {worst:.1e} "
            "(kernel_sd.distill.error_bound): they may have lost that many digits "
            "to the round-off in G. Use a larger eps / lam (further from the "
            "infeasible limit of eps), a kernel with fewer eigenvalues under the "
            "noise floor (a shorter lengthscale, a rougher kernel), or merge "
            "near-duplicate inputs."
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


# ----------------------------------------------------------------------------
# the penalised form by one Cholesky factorisation (method="cholesky")


def _check_cholesky(constrained: bool, lam, spec) -> None:
    """Refuse what the Cholesky route cannot do, before any work."""
    if constrained:
        raise ValueError(
            "method='cholesky' serves the penalised form (`lam`) only: each round of "
            "the constrained form (`eps`) solves for its multiplier over the "
            "eigenvalues of G. Use method='eigh' with `eps`."
        )
    if spec is not None:
        raise ValueError(
            "`spectrum` was given with method='cholesky': a spectrum already is "
            "the factorisation. Use method='eigh' to reuse it, or drop `spectrum`."
        )
    if not lam > 0:
        raise ValueError(
            "method='cholesky' needs `lam` > 0 (G + lam·I must be positive "
            "definite); for lam = 0 (interpolation) use method='eigh'."
        )


def _distill_cholesky(kernel, X, y, *, lam, rounds, X_test) -> DistillTrace:
    """All rounds of the penalised form from one Cholesky of ``G + lam·I``.

    ``a_t = (lam I + G)^{-1} y_t``, ``f_t(X) = G a_t = y_{t+1}`` and
    ``f_t(X_test) = k(X_test, X) a_t / K`` (see ``solvers.penalised_rounds``):
    no eigenbasis, so the trace's per-direction fields are None.
    """
    n = X.shape[0]
    # Gram matrix and its factor: two n x n arrays (the exact path's guard).
    _check_memory(n, X.dtype.itemsize, DEFAULT_MAX_MEMORY_GB)
    # The factorisation reads one triangle and G a needs no exact symmetry.
    K_xx, finite, diag_max = kernel_matrix(
        kernel, X, block_size=DEFAULT_BLOCK_SIZE, symmetrise=False
    )
    check_kernel_values(
        kernel,
        finite,
        diag_max,
        f"The Gram matrix k(X, X) of {type(kernel).__name__}",
        X.dtype,
    )
    # d_max <= tr G, so this bound is at or above the eigenbasis route's noise
    # floor K·eps·d_max: it warns whenever that route would, and costs O(K).
    floor = float(noise_floor(n, kernel_trace(kernel, X)))
    if lam < floor:
        warn(
            f"`lam`={lam:.3e} is below K·eps·tr G = {floor:.3e}, the round-off level "
            "of G (an upper bound of the noise floor): the fits may be dominated "
            "by round-off. Use a larger lam, or method='eigh' to see the exact "
            "noise floor."
        )
    Y = y[:, None] if y.ndim == 1 else y
    a, f = penalised_rounds(K_xx, Y, float(lam), rounds)
    test = None
    if X_test is not None:
        test = dual_predictions(kernel, X, X_test, a, block_size=DEFAULT_BLOCK_SIZE)
        if _validate.all_finite(f):
            check_finite_at(kernel, test, "X_test")
    norm2, c, status = _cholesky_summary(Y, f, jnp.asarray(lam, X.dtype))
    if y.ndim == 1:
        a, f = a[..., 0], f[..., 0]
        test = None if test is None else test[..., 0]
    return fit.Trace(
        filter=None,
        train_pred=f,
        test_pred=test,
        coef=None,
        z0=None,
        spectrum=None,
        c=c,
        status=status,
        target_norm2=norm2,
        lam=jnp.asarray(lam, X.dtype),
        dual_coef=a,
    )


@jax.jit
def _cholesky_summary(Y: Array, f: Array, lam: Array):
    """``‖y_t‖²`` (``y_0 = y``, ``y_{t+1} = f_t(X)``), ``c_t = lam`` and status 0."""
    norms = jnp.sum(f * f, axis=(1, 2))
    norm2 = jnp.concatenate([jnp.sum(Y * Y)[None], norms[:-1]])
    T = f.shape[0]
    return norm2, jnp.full((T,), lam), jnp.zeros((T,), jnp.int32)
