"""Checks of scalar and grid arguments: numbers, integers, choices, penalties, times."""

from __future__ import annotations

import math
import numbers

import jax
import numpy as np

from kernel_sd._validate.values import describe, real_array


def real_number(name: str, value) -> float:
    """``value`` as a Python float: a real number or a 0-d real array.

    Rejects booleans, text, complex numbers, None and arrays of several values,
    which ``float()`` would either accept silently or fail on obscurely.
    """
    if isinstance(value, (bool, np.bool_)):
        ok = False
    elif isinstance(value, numbers.Real):
        ok = True
    elif isinstance(value, (np.ndarray, jax.Array)):
        ok = value.ndim == 0 and np.dtype(value.dtype).kind in "iuf"
    else:
        ok = False
    if not ok:
        raise ValueError(
            f"`{name}` must be a real number (int or float), got {describe(value)} "
            f"({type(value).__name__})."
        )
    return float(value) + 0.0  # + 0.0 turns -0.0 into 0.0


def positive_scalar(name: str, value, *, allow_zero: bool = False) -> float:
    """A finite real number ``> 0`` (or ``>= 0`` with ``allow_zero``)."""
    v = real_number(name, value)
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"`{name}` must be finite and {bound}, got {v!r}.")
    return v


def positive_vector(name: str, value, *, allow_zero: bool = False) -> np.ndarray:
    """A non-empty 1-D array of finite reals ``> 0`` (or ``>= 0``)."""
    raw = np.asarray(real_array(name, value))
    mixed = isinstance(value, (list, tuple)) and any(
        isinstance(v, (bool, np.bool_)) for v in value
    )  # numpy turns [True, 0.1] into floats
    if raw.dtype.kind == "b" or mixed:
        raise ValueError(
            f"`{name}` must hold real numbers, got booleans ({describe(value)})."
        )
    arr = raw.astype(float) + 0.0
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D array of values, got shape {arr.shape}."
        )
    bad = ~np.isfinite(arr) | ((arr < 0) if allow_zero else (arr <= 0))
    if bad.any():
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"`{name}` must be finite and {bound}; entry {int(np.argmax(bad))} is "
            f"{arr[bad][0]!r}."
        )
    return arr


def _as_integer(value):
    """``value`` as a Python int when it is an integer (0-d integer arrays too), else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    if (
        isinstance(value, (np.ndarray, jax.Array))
        and value.ndim == 0
        and np.dtype(value.dtype).kind in "iu"
    ):
        return int(value)
    return None


def positive_int(name: str, value) -> int:
    """An integer ``>= 1`` (Python, numpy, or a 0-d integer array)."""
    v = _as_integer(value)
    if v is None or v < 1:
        raise ValueError(f"`{name}` must be an integer >= 1, got {describe(value)}.")
    return v


def integer(
    name: str,
    value,
    *,
    minimum: int = 0,
    maximum: int | None = None,
    what: str = "",
    hint: str = "",
) -> int:
    """An integer in ``[minimum, maximum]``; ``what`` names what it counts, ``hint`` the fix."""
    v = _as_integer(value)
    if v is None or v < minimum or (maximum is not None and v > maximum):
        label = f"`{name}` ({what})" if what else f"`{name}`"
        bound = (
            f">= {minimum}"
            if maximum is None
            else f"with {minimum} <= {name} <= {maximum}"
        )
        raise ValueError(
            f"{label} must be an integer {bound}, got {describe(value)}"
            + (f"; {hint}" if hint else ".")
        )
    return v


def choice(name: str, value, options: tuple[str, ...]) -> str:
    """One of the strings ``options``."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(
            f"`{name}` must be one of {', '.join(map(repr, options))}, got {value!r}."
        )
    return value


def penalty(eps, lam, *, batched: bool):
    """Exactly one of ``eps`` (ε > 0) and ``lam`` (>= 0): a scalar, or a grid when ``batched``.

    Returns ``(constrained, eps, lam)`` with the unused one None.
    """
    if (eps is None) == (lam is None):
        raise ValueError(
            "Pass exactly one of `eps` (constrained form, (1/K)‖f(X) − y‖² <= eps) "
            "or `lam` (penalised form, c_t = lam every round)."
        )
    if batched:
        if eps is not None:
            return True, positive_vector("eps", eps), None
        return False, None, positive_vector("lam", lam, allow_zero=True)
    if eps is not None:
        return True, positive_scalar("eps", eps), None
    return False, None, positive_scalar("lam", lam, allow_zero=True)


def alpha(value) -> float:
    """The label weight ``α ∈ [0, 1]`` of a student's targets."""
    a = positive_scalar("alpha", value, allow_zero=True)
    if a > 1:
        raise ValueError(
            f"`alpha` weighs labels against the teacher and must be in [0, 1], got {a!r}."
        )
    return a


def step_size(lr, d_max: float) -> float:
    """A gradient-descent step ``0 < lr < 2/d_max`` (stable along every direction)."""
    lr = positive_scalar("lr", lr)
    if lr * d_max >= 2.0:
        raise ValueError(
            f"`lr`={lr:g} gives lr·d_max = {lr * d_max:.3g} >= 2: gradient descent "
            f"diverges along the top eigendirection. Use lr < {2.0 / d_max:.4g}."
        )
    return lr
