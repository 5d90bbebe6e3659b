"""Held-out and K-fold errors of the whole (ε or lam, round) grid, one factorisation per training set."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd._weights import scaled_sqrt, weighted_spectrum
from kernel_sd.distill import rounds_grid
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel, gram
from kernel_sd.selection._common import (
    GridErrors,
    _as_columns,
    _check_memory,
    _failed,
    _grid,
    _null_energy,
    _report,
)
from kernel_sd.spectra.base import Spectrum
from kernel_sd.spectra.eigvecs import targets_in_eigenbasis
from kernel_sd.spectra.exact import DEFAULT_MAX_MEMORY_GB, exact_spectrum
from kernel_sd.spectra.features import point_features


@partial(jax.jit, static_argnames=("rounds", "constrained", "keep_pred"))
def _split_core(
    d, z0, s_perp0, floor, hyper, W, Y_val, v, *, rounds, constrained, keep_pred
):
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
