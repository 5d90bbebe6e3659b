"""Model selection: every (ε or lam, round) of self-distillation scored from one spectrum.

Every round ``t`` at every grid value ``e`` is a filter on one eigenbasis
(``kernel_sd.filters.ridge_rounds``): with ``G = k(X, X)/K = V diag(d) Vᵀ`` of the
training points, ``z = Vᵀ y`` and ``W = [g_xᵀ V]`` the held-out points' features,

    f_{e,t}(X_val) = W diag(g_{e,t}) z,     g_{e,t} = A_{e,t−1} / (c_{e,t} + d),
    A_{e,t} = Π_{i<=t} d / (c_{e,i} + d),

where ``c_{e,t} = lam_e`` (penalised form) or the root of
``Σ_k (c z_{t,k} / (c + d_k))² = K ε_e`` (constrained form, ``z_t = A_{e,t−1} z``).
So one factorisation per training set scores the whole ``(E, T)`` grid:

- :func:`validation_errors`: one split (train, held-out), any spectrum;
- :func:`cross_validation_errors`: K-fold (or any splits), one Gram matrix for
  all folds and one ``eigh`` per fold, optional sample weights;
- :func:`gcv`: generalised cross-validation from the full-data spectrum alone.

The error of a prediction ``F`` (``m × q``) of targets ``Y`` is the mean squared
error over points and columns, ``(1/(m q)) Σ_i Σ_j (F_ij − Y_ij)²`` (scikit-learn's
``mean_squared_error``); with validation weights ``v``,
``Σ_i v_i Σ_j (F_ij − Y_ij)² / (q Σ_i v_i)``. A grid value that is infeasible
(``ε`` below the targets' energy on the numerical null space of ``G``: no ``c > 0``
meets the constraint) scores ``+inf`` in every round, with one warning per call;
a collapsed round (``‖y_t‖² <= Kε``) predicts 0 and is scored like any other.
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd._warn import warn
from kernel_sd._weights import kept_rows, scaled_sqrt, weighted_spectrum
from kernel_sd.distill import rounds_grid
from kernel_sd.filters import resolvent, ridge
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel, gram
from kernel_sd.solvers import STATUS_INFEASIBLE, STATUS_NOT_CONVERGED
from kernel_sd.spectra.base import Spectrum
from kernel_sd.spectra.eigvecs import targets_in_eigenbasis
from kernel_sd.spectra.exact import DEFAULT_MAX_MEMORY_GB, exact_spectrum
from kernel_sd.spectra.features import point_features

__all__ = [
    "GridErrors",
    "GCVScores",
    "validation_errors",
    "cross_validation_errors",
    "gcv",
]


class GridErrors(NamedTuple):
    """Held-out errors of every (grid value, round); cross-validation adds a fold axis first."""

    mse: Array
    """(E, T) validation MSE of round ``t`` at grid value ``e``; ``+inf`` where infeasible."""
    accuracy: Array | None
    """(E, T) arg-max accuracy of the columns (one-hot targets); ``−inf`` where
    infeasible; None unless asked for."""
    c: Array
    """(E, T) multipliers ``c_t`` (``lam`` in the penalised form; ``+inf`` after collapse)."""
    status: Array
    """(E, T) root-finder status (``kernel_sd.solvers``: 0 ok, 1 collapsed, 2 infeasible)."""
    pred: Array | None
    """(E, T, m) or (E, T, m, q) predictions at the held-out points; None unless asked for."""


class GCVScores(NamedTuple):
    """Generalised cross-validation of every (grid value, round) on the full data."""

    score: Array
    """(E, T) ``GCV_t = (1/N) ‖y − f_t(X)‖² / (1 − df_t/N)²`` with ``N = n q``; ``+inf``
    where infeasible or where ``df_t >= N`` (an interpolating fit)."""
    mse: Array
    """(E, T) training error ``(1/N) ‖y − f_t(X)‖²`` (weighted with sample weights)."""
    df: Array
    """(E, T) degrees of freedom ``df_t = tr(∂f_t(X)/∂y)``; ``q tr(H_t)`` when penalised."""
    c: Array
    """(E, T) multipliers ``c_t``."""
    status: Array
    """(E, T) root-finder status."""


# ---------------------------------------------------------------- cores (trusted)


def _failed(status: Array) -> Array:
    """(E, 1) grid values with an infeasible or non-converged round (scored as lost)."""
    bad = (status == STATUS_INFEASIBLE) | (status == STATUS_NOT_CONVERGED)
    return jnp.any(bad, axis=-1, keepdims=True)


@partial(jax.jit, static_argnames=("rounds", "constrained", "keep_pred"))
def _split_core(d, z0, s_perp0, floor, hyper, W, Y_val, v, *, rounds, constrained, keep_pred):
    """MSE, accuracy, ``c``, status (and predictions) of the grid on one split."""
    c, status, _, filt = rounds_grid(
        d, z0, s_perp0, floor, hyper, rounds=rounds, constrained=constrained
    )
    coef = filt.g[..., None] * z0[None, None]  # α_{e,t} = diag(g_{e,t}) z
    pred = jnp.einsum("mr,etrq->etmq", W, coef)  # f_{e,t}(X_val) = W α_{e,t}
    resid = pred - Y_val[None, None]
    vn = v / jnp.sum(v)
    mse = jnp.mean(resid * resid, axis=-1) @ vn
    hit = jnp.argmax(pred, axis=-1) == jnp.argmax(Y_val, axis=-1)[None, None]
    acc = hit.astype(vn.dtype) @ vn
    failed = _failed(status)
    mse = jnp.where(failed, jnp.inf, mse)
    acc = jnp.where(failed, -jnp.inf, acc)
    null = _null_energy(d, z0, s_perp0, floor)
    return mse, acc, c, status, null, (pred if keep_pred else None)


def _divergence_correction(d: Array, s: Array, c: Array) -> Array:
    """(T,) ``q Σ_k A_t[k] − tr(∂u_t/∂z)`` for constrained rounds with multipliers ``c``.

    Derived: round ``i`` keeps ``φ_i = Σ_k a_i² A_{i−1}² s_k (+ s_⊥ at i = 0) = Kε``
    with ``a_i = c_i/(c_i + d)``, ``s_k = ‖z_k‖²``. Implicit differentiation gives
    ``dc_i/dz_kj = γ_i[k] z_kj`` with
    ``γ_i = −(2 a_i² A_{i−1}² + Σ_{m<i} P_{im} γ_m) / Q_i``,
    ``P_{im} = ∂φ_i/∂c_m = −2 Σ_k a_i² A_{i−1}² s_k / (c_m + d_k)``,
    ``Q_i = ∂φ_i/∂c_i = 2 Σ_k a_i b_i A_{i−1}² s_k / (c_i + d_k)`` (``b = 1 − a``),
    and since ``∂A_t/∂c_i = −A_t/(c_i + d)`` for ``i <= t``,
    ``tr(∂u_t/∂z) = q Σ_k A_t[k] − Σ_k A_t[k] Σ_{i<=t} γ_i[k] s_k / (c_i + d_k)``.
    A collapsed round (``c_i = +inf``) is locally constant: ``γ_i = 0``.
    """
    T = c.shape[0]
    b = ridge(d[None, :], c[:, None])  # (T, r) d/(c_i + d), 0 after collapse
    R = resolvent(d[None, :], c[:, None])  # (T, r) 1/(c_i + d), 0 after collapse
    a = 1.0 - b
    A = jnp.cumprod(b, axis=0)
    A_prev = jnp.concatenate([jnp.ones_like(A[:1]), A[:-1]], axis=0)
    rounds = jnp.arange(T)

    def step(gammas, i):
        base = (a[i] * A_prev[i]) ** 2
        P = jnp.where(rounds < i, -2.0 * (R @ (base * s)), 0.0)
        Q = 2.0 * jnp.sum(a[i] * b[i] * A_prev[i] ** 2 * s * R[i])
        num = 2.0 * base + P @ gammas
        gamma = jnp.where(Q > 0, -num / jnp.where(Q > 0, Q, 1.0), 0.0)
        return gammas.at[i].set(gamma), None

    gammas, _ = jax.lax.scan(step, jnp.zeros_like(A), rounds)
    cumulative = jnp.cumsum(R * gammas * s[None, :], axis=0)  # Σ_{i<=t}
    return jnp.sum(A * cumulative, axis=1)


@partial(jax.jit, static_argnames=("rounds", "constrained"))
def _gcv_core(d, z0, s_perp0, floor, hyper, n, *, rounds, constrained):
    """GCV score, training MSE, degrees of freedom, ``c`` and status of the grid."""
    c, status, _, filt = rounds_grid(
        d, z0, s_perp0, floor, hyper, rounds=rounds, constrained=constrained
    )
    h = filt.h  # (E, T, r)
    s = jnp.sum(z0 * z0, axis=1)
    q = z0.shape[1]
    miss = 1.0 - h
    rss = jnp.sum(miss * miss * s[None, None], axis=-1) + s_perp0  # ‖y − f_t(X)‖²
    df = q * jnp.sum(h, axis=-1)  # q tr(H_t), H_t = V diag(h_t) Vᵀ
    if constrained:
        df = df - jax.vmap(partial(_divergence_correction, d, s))(c)
    N = n * q
    denom = 1.0 - df / N
    score = jnp.where(
        denom > 0, (rss / N) / jnp.where(denom > 0, denom, 1.0) ** 2, jnp.inf
    )
    score = jnp.where(_failed(status), jnp.inf, score)
    return score, rss / N, df, c, status, _null_energy(d, z0, s_perp0, floor)


# ---------------------------------------------------------------- shared helpers


def _grid(eps, lam):
    """``(constrained, values)`` of a validated ``eps`` or ``lam`` grid."""
    constrained, eps, lam = _validate.penalty(eps, lam, batched=True)
    return constrained, (eps if constrained else lam)


def _as_columns(y: Array) -> Array:
    return y[:, None] if y.ndim == 1 else y


def _null_energy(d: Array, z0: Array, s_perp0: Array, floor: Array) -> Array:
    """Energy of the targets on the numerical null space of ``G`` (eigenvalues at
    or below ``floor``, the spectrum's noise floor) and outside ``V``."""
    return s_perp0 + jnp.sum(jnp.where(d[:, None] > floor, 0.0, z0 * z0))


def _report(values, constrained, status, c, floors, min_eps, where: str) -> None:
    """One warning per kind of problem over the whole search (never an exception).

    ``status``, ``c``: ``(F, E, T)``; ``floors``: ``(F,)`` noise floors;
    ``min_eps``: ``(F,)`` smallest feasible ε of each training set.
    """
    status, c = np.asarray(status), np.asarray(c)
    name = "eps" if constrained else "lam"
    infeasible = (status == STATUS_INFEASIBLE).any(axis=(0, 2))
    if infeasible.any():
        bad = np.asarray(values)[infeasible]
        warn(
            f"{int(infeasible.sum())} of {len(values)} `eps` values ("
            + ", ".join(f"{v:.4g}" for v in bad[:5])
            + (", ..." if bad.size > 5 else "")
            + f") are infeasible {where}: the targets' energy on the numerical null "
            "space of G alone exceeds K·eps, so no c > 0 meets the constraint; they "
            f"score +inf. Every value above {float(np.max(min_eps)):.6g} is feasible "
            "there; a smoother or wider kernel also helps."
        )
    stalled = (status == STATUS_NOT_CONVERGED).any(axis=(0, 2))
    if stalled.any():
        warn(
            f"The multiplier search did not converge for {int(stalled.sum())} `eps` "
            "values; they score +inf. Please report this problem with its data."
        )
    floors = np.asarray(floors).reshape((-1,) + (1,) * (c.ndim - 1))
    low = np.isfinite(c) & (c < floors) & (status != STATUS_INFEASIBLE)
    if low.any():
        cells = low.any(axis=0)
        warn(
            f"{int(cells.sum())} ({name}, round) pair(s) have a multiplier c_t below "
            f"the eigenvalue noise floor (smallest c = {c[low].min():.3e}): those "
            f"fits are dominated by round-off. Use larger `{name}` values or a "
            "smoother kernel."
        )


def _check_memory(n: int, n_fold: int, itemsize: int) -> None:
    need_gb = (n * n + 3.0 * n_fold * n_fold) * itemsize / 2**30
    if need_gb > DEFAULT_MAX_MEMORY_GB:
        raise ValueError(
            f"Cross-validation on n={n} points keeps the {n}x{n} Gram matrix and "
            f"factorises {n_fold}x{n_fold} folds: about {need_gb:.1f} GiB, over "
            f"{DEFAULT_MAX_MEMORY_GB:g} GiB. Score one split with a low-rank spectrum "
            "instead (validation_errors(..., spectrum=ksd.nystrom_spectrum(...))), or "
            "subsample the data."
        )


# ---------------------------------------------------------------- one split


def validation_errors(
    kernel: Kernel,
    X_train: Array,
    y_train: Array,
    X_val: Array,
    y_val: Array,
    *,
    eps: Array | None = None,
    lam: Array | None = None,
    rounds: int = 10,
    spectrum: Spectrum | None = None,
    accuracy: bool = False,
    predictions: bool = False,
) -> GridErrors:
    """Held-out error of every round at every ``eps`` (or ``lam``) value, from one spectrum.

    Round ``t`` at grid value ``e`` predicts ``f_{e,t}(X_val) = W diag(g_{e,t}) z``
    with ``z = Vᵀ y_train``, ``W`` the rows ``g_xᵀ V`` of the held-out points and
    ``g_{e,t} = A_{e,t−1}/(c_{e,t} + d)`` (see the module docstring); its error is
    ``mse[e, t] = (1/(m q)) Σ_i Σ_j (f_{e,t}(x_i)_j − y_ij)²`` over the ``m``
    held-out points and ``q`` columns. This equals fitting
    ``self_distill(kernel, X_train, y_train, eps=eps[e], rounds=t + 1)`` and scoring
    its last round, for every ``(e, t)``, at the cost of one factorisation.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X_train: ``(K, p)`` training inputs.
        y_train: ``(K,)`` or ``(K, q)`` training targets.
        X_val: ``(m, p)`` held-out inputs.
        y_val: ``(m,)`` or ``(m, q)`` held-out targets (columns as ``y_train``).
        eps: ``(E,)`` constraint levels ``ε > 0`` (constrained form); exclusive
            with ``lam``.
        lam: ``(E,)`` penalties ``lam >= 0`` (penalised form).
        rounds: number of rounds ``T >= 1``.
        spectrum: a spectrum of ``k(X_train, X_train)/K`` to reuse (exact,
            Nyström or Lanczos); computed exactly when None.
        accuracy: also return the arg-max accuracy of the columns (for one-hot
            class targets).
        predictions: also return the ``(E, T, m[, q])`` held-out predictions.

    Returns:
        A :class:`GridErrors` with ``mse`` of shape ``(E, T)``; rows of
        infeasible ``eps`` values are ``+inf`` (with one warning).

    Raises:
        ValueError: bad arguments (named in the message), before any factorisation.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 40)[:, None]
        >>> y = jnp.sin(6.0 * X[:, 0])
        >>> err = ksd.selection.validation_errors(
        ...     ksd.kernels.RBF(lengthscale=0.2), X[::2], y[::2], X[1::2], y[1::2],
        ...     lam=[1e-4, 1e-2], rounds=3)
        >>> err.mse.shape
        (2, 3)
    """
    X_train = _validate.kernel_inputs(kernel, X_train, "X_train")
    n = X_train.shape[0]
    if spectrum is not None:
        spectrum = _validate.spectrum_of_inputs("spectrum", spectrum, X_train)
    dtype = X_train.dtype if spectrum is None else spectrum.eigvals.dtype
    y_train = _validate.targets("y_train", y_train, n, dtype)
    X_val = _validate.same_features("X_val", X_val, X_train)
    y_val = _validate.targets("y_val", y_val, X_val.shape[0], dtype)
    if (
        y_val.ndim != y_train.ndim
        or _as_columns(y_val).shape[1] != _as_columns(y_train).shape[1]
    ):
        raise ValueError(
            f"`y_val` must have the columns of `y_train`: got shapes {y_val.shape} "
            f"and {y_train.shape}."
        )
    rounds = _validate.positive_int("rounds", rounds)
    constrained, values = _grid(eps, lam)
    if spectrum is None:
        spectrum = exact_spectrum(
            kernel,
            X_train,
            block_size=DEFAULT_BLOCK_SIZE,
            max_memory_gb=DEFAULT_MAX_MEMORY_GB,
        )
    W = point_features(kernel, X_train, X_val, spectrum, block_size=DEFAULT_BLOCK_SIZE)
    Y = _as_columns(y_train)
    z0, s_perp0 = targets_in_eigenbasis(spectrum, Y)
    hyper = jnp.asarray(n * values if constrained else values, dtype)
    mse, acc, c, status, null, pred = _split_core(
        spectrum.eigvals,
        z0,
        s_perp0,
        spectrum.noise_floor,
        hyper,
        W,
        _as_columns(y_val),
        jnp.ones(X_val.shape[0], dtype),
        rounds=rounds,
        constrained=constrained,
        keep_pred=predictions,
    )
    _report(
        values,
        constrained,
        status[None],
        c[None],
        [float(spectrum.noise_floor)],
        [float(null) / n],
        "on this training set",
    )
    if pred is not None and y_train.ndim == 1:
        pred = pred[..., 0]
    return GridErrors(mse, acc if accuracy else None, c, status, pred)


# ---------------------------------------------------------------- cross-validation


def _splits(splits, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Validated ``(train, validation)`` index pairs; an int ``k`` gives ``k`` contiguous folds."""
    if isinstance(splits, (int, np.integer)) and not isinstance(splits, bool):
        k = _validate.integer(
            "splits", splits, minimum=2, maximum=n, what="number of folds",
            hint="use at most one fold per point and at least 2.",
        )  # fmt: skip
        folds = np.array_split(np.arange(n), k)
        return [
            (np.concatenate(folds[:i] + folds[i + 1 :]), folds[i]) for i in range(k)
        ]
    try:
        pairs = [(np.asarray(tr), np.asarray(va)) for tr, va in splits]
    except (TypeError, ValueError):
        raise ValueError(
            "`splits` must be an int (number of folds) or an iterable of (train, "
            "validation) index arrays, e.g. list(KFold(5).split(X))."
        ) from None
    if not pairs:
        raise ValueError(
            "`splits` is empty: pass at least one (train, validation) pair."
        )
    for f, (tr, va) in enumerate(pairs):
        for name, idx in (("train", tr), ("validation", va)):
            if (
                idx.ndim != 1
                or idx.size == 0
                or not np.issubdtype(idx.dtype, np.integer)
            ):
                raise ValueError(
                    f"`splits`: fold {f} has {name} indices of dtype {idx.dtype} and "
                    f"shape {idx.shape}; each must be a non-empty 1-D integer array."
                )
            if idx.min() < 0 or idx.max() >= n:
                raise ValueError(
                    f"`splits`: fold {f} has {name} indices outside [0, {n})."
                )
    return pairs


def cv_from_gram(K_xx, Y, w, splits, *, constrained, values, rounds, accuracy):
    """:func:`cross_validation_errors` for trusted arguments and a precomputed Gram matrix.

    ``K_xx`` is the unscaled ``(n, n)`` Gram matrix, ``Y`` ``(n, q)``, ``w`` the
    sample weights or None; rows with weight 0 are dropped from every training
    set and carry no weight in the validation error. Returns a
    :class:`GridErrors` with a leading fold axis.
    """
    K_np = np.asarray(K_xx)
    Y = np.asarray(Y)
    dtype = K_np.dtype
    # Host (numpy) products around the two compiled steps (eigh, grid): no
    # compilation per fold shape beyond those.
    out, floors, min_eps = [], [], []
    for f, (tr, va) in enumerate(splits):
        if w is not None:
            tr = tr[w[tr] > 0]
            v = w[va]
            if tr.size == 0 or not v.sum() > 0:
                part = "training" if tr.size == 0 else "validation"
                raise ValueError(
                    f"`sample_weight` is 0 on every {part} row of fold {f}; give "
                    "each fold rows with a positive weight."
                )
            sqrt_w = scaled_sqrt(w[tr])
        else:
            v, sqrt_w = np.ones(va.size, dtype), None
        n_f = tr.size
        spec = weighted_spectrum(K_np[np.ix_(tr, tr)], sqrt_w)
        V = np.asarray(spec.eigvecs)
        Y_tr = Y[tr] if sqrt_w is None else Y[tr] * sqrt_w[:, None]
        z0 = V.T @ Y_tr  # complete basis: nothing outside span V
        if sqrt_w is not None:
            V = sqrt_w[:, None] * V
        W = K_np[np.ix_(va, tr)] @ V / n_f  # held-out rows k(x, X_f) W'^{1/2} V / K_f
        hyper = n_f * values if constrained else values
        res = _split_core(
            spec.eigvals, z0, np.zeros((), dtype), spec.noise_floor,
            np.asarray(hyper, dtype), W,
            np.asarray(Y[va], dtype), np.asarray(v, dtype), rounds=rounds,
            constrained=constrained, keep_pred=False,
        )  # fmt: skip
        out.append([np.asarray(a) for a in res[:4]])
        floors.append(float(spec.noise_floor))
        min_eps.append(float(res[4]) / n_f)
    mse, acc, c, status = (np.stack([o[i] for o in out]) for i in range(4))
    _report(values, constrained, status, c, floors, min_eps, "on some folds")
    return GridErrors(mse, acc if accuracy else None, c, status, None)


def cross_validation_errors(
    kernel: Kernel,
    X: Array,
    y: Array,
    splits=5,
    *,
    eps: Array | None = None,
    lam: Array | None = None,
    rounds: int = 10,
    sample_weight=None,
    accuracy: bool = False,
) -> GridErrors:
    """Validation error of every (``eps`` or ``lam``, round) on every fold: one ``eigh`` per fold.

    ``k(X, X)`` is computed once; fold ``f`` factorises its training block
    ``G_f = k(X_f, X_f)/K_f`` and scores the whole grid on its held-out rows as
    :func:`validation_errors` does. ``mse[f, e, t]`` is what
    ``self_distill(kernel, X_f, y_f, eps=eps[e], rounds=t + 1)`` scores on fold
    ``f``'s held-out rows with its last round.

    With ``sample_weight`` ``w``, each training set is fitted in the weighted form
    (``(1/Σw) Σ_i w_i (f(x_i) − y_i)² <= ε``, or the penalty
    ``Σ_i w_i (f(x_i) − y_i)² + (Σ w) lam ‖f‖²``; see ``kernel_sd._weights``) and the
    held-out error is weighted: ``Σ_i w_i Σ_j (f(x_i)_j − y_ij)² / (q Σ_i w_i)``.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` inputs.
        y: ``(n,)`` or ``(n, q)`` targets.
        splits: an int ``k`` (``k`` contiguous folds, as scikit-learn's
            ``KFold(k)`` without shuffling) or an iterable of
            ``(train, validation)`` integer index arrays.
        eps, lam: ``(E,)`` grid of the constrained or the penalised form.
        rounds: number of rounds ``T >= 1``.
        sample_weight: optional ``(n,)`` weights ``>= 0``.
        accuracy: also return the arg-max accuracy of the columns.

    Returns:
        A :class:`GridErrors` whose fields have shape ``(F, E, T)`` (``pred`` None).

    Raises:
        ValueError: bad arguments (named in the message), before any factorisation.
    """
    X = _validate.kernel_inputs(kernel, X)
    n = X.shape[0]
    y = _validate.targets("y", y, n, X.dtype)
    rounds = _validate.positive_int("rounds", rounds)
    constrained, values = _grid(eps, lam)
    w = _validate.sample_weight(sample_weight, n)
    pairs = _splits(splits, n)
    _check_memory(n, max(tr.size for tr, _ in pairs), X.dtype.itemsize)
    return cv_from_gram(
        gram(kernel, X), np.asarray(_as_columns(y)), w, pairs,
        constrained=constrained, values=values, rounds=rounds, accuracy=accuracy,
    )  # fmt: skip


# ---------------------------------------------------------------- GCV


def gcv_from_spectrum(spec: Spectrum, Y: Array, *, constrained, values, rounds):
    """:func:`gcv` for trusted arguments: ``spec`` of (weighted) ``G``, ``Y`` ``(n, q)``
    the (weighted) targets ``W'^{1/2} y``."""
    n = spec.n_train
    dtype = spec.eigvals.dtype
    z0, s_perp0 = targets_in_eigenbasis(spec, Y)
    hyper = jnp.asarray(n * values if constrained else values, dtype)
    out = _gcv_core(
        spec.eigvals, z0, s_perp0, spec.noise_floor, hyper, jnp.asarray(n, dtype),
        rounds=rounds, constrained=constrained,
    )  # fmt: skip
    score, mse, df, c, status, null = out
    _report(
        values, constrained, status[None], c[None], [float(spec.noise_floor)],
        [float(null) / n], "on the data",
    )  # fmt: skip
    return GCVScores(score, mse, df, c, status)


def gcv(
    kernel: Kernel,
    X: Array,
    y: Array,
    *,
    eps: Array | None = None,
    lam: Array | None = None,
    rounds: int = 10,
    spectrum: Spectrum | None = None,
    sample_weight=None,
) -> GCVScores:
    """Generalised cross-validation of every (``eps`` or ``lam``, round) from one spectrum.

    With ``N = n q`` (``n`` rows, ``q`` columns of ``y``),

        GCV_t = (1/N) ‖y − f_t(X)‖² / (1 − df_t / N)².

    Penalised form: ``f_t(X) = H_t y`` with the linear smoother
    ``H_t = V diag(h_t) Vᵀ``, ``h_t = (d/(lam + d))^{t+1}``, and
    ``df_t = q tr(H_t) = q Σ_k h_t(d_k)`` (Craven & Wahba's GCV), all from the
    spectrum of the full data: ``‖y − f_t(X)‖² = Σ_k (1 − h_t[k])² ‖z_k‖²`` (+ the
    energy outside ``span V``).

    Constrained form: ``c_t`` depends on ``y``, so ``f_t`` is not a linear
    smoother and ``tr(H_t)`` would under-count the fit's freedom. We use the
    degrees of freedom of the actual fit, its divergence
    ``df_t = tr(∂f_t(X)/∂y)`` (Stein's; it equals ``q tr(H_t)`` for a fixed
    smoother), computed exactly by differentiating ``φ(c_t) = Kε`` through the
    rounds. Derived: see ``_divergence_correction``;
    ``df_t = q Σ_k A_t[k] + Σ_k A_t[k] Σ_{i<=t} |γ_i[k]| ‖z_k‖² / (c_i + d_k)``
    exceeds ``q tr(H_t)`` because ``c_t`` shrinks as the targets grow. After the
    collapse ``f_t = 0`` and ``df_t = 0``.

    An infeasible value, or ``df_t >= N`` (an interpolating fit, e.g. ``lam = 0``
    on a full-rank ``G``), scores ``+inf``. With ``sample_weight`` the fit is the
    weighted one (``kernel_sd._weights``) and the formula applies to
    ``W'^{1/2} y`` with ``n`` the number of rows of positive weight and
    ``w' = n w / Σ w``, so ``‖·‖²/N`` is the weighted mean squared error.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` inputs.
        y: ``(n,)`` or ``(n, q)`` targets.
        eps, lam: ``(E,)`` grid of the constrained or the penalised form.
        rounds: number of rounds ``T >= 1``.
        spectrum: a spectrum of ``k(X, X)/K`` to reuse (not with ``sample_weight``).
        sample_weight: optional ``(n,)`` weights ``>= 0``.

    Returns:
        A :class:`GCVScores` with fields of shape ``(E, T)``.

    Raises:
        ValueError: bad arguments (named in the message).

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 30)[:, None]
        >>> y = jnp.sin(6.0 * X[:, 0])
        >>> g = ksd.selection.gcv(ksd.kernels.RBF(lengthscale=0.2), X, y,
        ...                       lam=[1e-4, 1e-2], rounds=2)
        >>> g.score.shape, bool(jnp.all(g.df > 0))
        ((2, 2), True)
    """
    X = _validate.kernel_inputs(kernel, X)
    n = X.shape[0]
    if spectrum is not None:
        spectrum = _validate.spectrum_of_inputs("spectrum", spectrum, X)
    dtype = X.dtype if spectrum is None else spectrum.eigvals.dtype
    y = _validate.targets("y", y, n, dtype)
    rounds = _validate.positive_int("rounds", rounds)
    constrained, values = _grid(eps, lam)
    w = _validate.sample_weight(sample_weight, n)
    if w is not None and spectrum is not None:
        raise ValueError(
            "`spectrum` and `sample_weight` cannot be combined: the weighted fit "
            "needs the spectrum of W^{1/2} k(X, X) W^{1/2}; pass one of them."
        )
    Y = _as_columns(y)
    if w is None:
        if spectrum is None:
            spectrum = exact_spectrum(
                kernel,
                X,
                block_size=DEFAULT_BLOCK_SIZE,
                max_memory_gb=DEFAULT_MAX_MEMORY_GB,
            )
    else:
        keep = kept_rows(w)
        sqrt_w = scaled_sqrt(w[keep])
        spectrum = weighted_spectrum(gram(kernel, X[keep]), sqrt_w)
        Y = Y[keep] * jnp.asarray(sqrt_w, dtype)[:, None]
    return gcv_from_spectrum(
        spectrum, Y, constrained=constrained, values=values, rounds=rounds
    )
