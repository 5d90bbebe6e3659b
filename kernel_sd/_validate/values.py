"""Any argument as a real array, finiteness and short descriptions for messages."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array


def describe(value) -> str:
    """A short description of ``value`` for error messages (never its data)."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"{type(value).__name__} of shape {tuple(shape)}, dtype {dtype}"
    if shape is not None:  # e.g. a DataFrame (its repr would print the data)
        return f"{type(value).__name__} of shape {tuple(shape)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@jax.jit
def _device_all_finite(a: Array) -> Array:
    return jnp.all(jnp.isfinite(a))


def all_finite(a) -> bool:
    """Every entry of ``a`` finite: a jax array is checked where it lives (one
    compiled reduction), anything else (numpy, lists) on the host, uncompiled."""
    if isinstance(a, jax.Array):
        return bool(_device_all_finite(a))
    return bool(np.isfinite(np.asarray(a)).all())


def real_array(name: str, value):
    """``value`` as a numpy or jax array of real numbers (bool, integer or floating).

    Rejects, with a ValueError naming ``name`` and never printing the data:
    complex numbers (the imaginary part would be dropped), text and other Python
    objects (a DataFrame with text columns names those columns), masked arrays
    with masked entries (the mask would be dropped), ragged nested lists, and
    half-precision floats (the kernels need float32 or float64).
    """
    if isinstance(value, jax.Array):
        arr = value
    else:
        if isinstance(value, np.ma.MaskedArray):
            masked = int(np.ma.count_masked(value))
            if masked:
                raise ValueError(
                    f"`{name}` is a masked array with {masked} masked entries; drop "
                    "or impute them (e.g. np.ma.compress_rows) before passing it."
                )
            value = np.ma.getdata(value)
        columns = getattr(value, "columns", None)
        dtypes = getattr(value, "dtypes", None)
        if columns is not None and hasattr(dtypes, "items"):  # a DataFrame
            bad = [
                str(col)
                for col, t in dtypes.items()
                if getattr(t, "kind", "O") not in "biuf"
            ]
            if bad:
                shown = bad[:5] + (["..."] if len(bad) > 5 else [])
                raise ValueError(
                    f"`{name}` has {len(bad)} non-numeric column(s) {shown}; encode "
                    "or drop them (e.g. pandas.get_dummies or .drop(columns=...)) "
                    "and pass the numbers."
                )
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"`{name}` is not a numeric array ({type(value).__name__}): "
                f"{str(err)[:120]}; pass an (n, p) array of numbers."
            ) from None
    dtype = np.dtype(arr.dtype)
    if dtype.kind == "c":
        raise ValueError(
            f"`{name}` is complex ({dtype}); kernels and fits need real numbers. Pass "
            f"the real part, or real and imaginary parts as separate columns."
        )
    if dtype.kind == "f" and dtype.itemsize < 4 or dtype.name == "bfloat16":
        raise ValueError(
            f"`{name}` is {dtype.name} (half precision); pass float32 or float64."
        )
    if dtype.kind not in "biuf":
        what = (
            " (text, None or missing values such as pandas.NA)"
            if dtype.kind == "O"
            else ""
        )
        raise ValueError(
            f"`{name}` must hold numbers, got dtype {dtype}{what} ({describe(value)}); "
            f"convert it, e.g. np.asarray({name}, dtype=float), after encoding any "
            "text and dropping or imputing missing values."
        )
    return arr
