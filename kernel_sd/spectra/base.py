"""The :class:`Spectrum` type and the rules every route to it shares.

Every procedure in kernel-sd is a spectral filter (see ``kernel_sd.filters``), so
the one factorisation it needs is ``G = k(X, X)/K = V diag(d) Vᵀ`` with ``K = n``.
A :class:`Spectrum` holds it, whichever route computed it (exact ``eigh``,
Nyström, Lanczos, or eigenpairs given by the user), with:

- the noise floor ``K · eps_machine · d_max``: eigenvalues at or below it are
  numerically zero for the rank, the feasibility of ε and reports (counted in
  ``n_clamped``), but the filters keep their values; only eigenvalues within
  the eigensolver's own resolution ``eps_machine · d_max`` (negative round-off
  included) are set to 0 (:func:`clamped`);
- host-side checks on a fresh spectrum (:func:`checked`): a raw eigenvalue below
  ``−floor`` means the matrix is not positive semi-definite beyond round-off
  (an error); float32 with an ill-conditioned spectrum warns to enable x64;
- a fingerprint of the training inputs (:func:`input_fingerprint`) and of the
  kernel's values at a few of them (:func:`kernel_fingerprint`), so that a
  spectrum passed along with other points of the same size, or with another
  kernel, is caught;
- checks of the kernel's values before any factorisation
  (:func:`check_kernel_values`): NaN/inf (a kernel that overflows or divides
  0/0 for these inputs) or values that underflow to 0.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd._blocks import evaluate
from kernel_sd._pytree import dataclass_pytree
from kernel_sd._warn import warn

__all__ = [
    "Spectrum",
    "noise_floor",
    "clamped",
    "checked",
    "input_fingerprint",
    "fingerprint_mismatch",
    "kernel_fingerprint",
    "kernel_mismatch",
    "check_kernel_values",
]

_FLOAT32_MAX_CONDITION = 1e4
"""Condition number past which float32 loses more than ~3 of its 7 digits."""


@dataclass_pytree(
    data_fields=[
        "eigvals",
        "eigvecs",
        "noise_floor",
        "n_clamped",
        "min_raw_eigval",
        "landmarks",
        "landmark_map",
        "residuals",
        "kernel_trace",
        "fingerprint",
        "kernel_values",
    ],
    meta_fields=["complete"],
)
@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Eigendecomposition ``G = k(X, X)/K = V diag(d) Vᵀ`` (descending ``d``)."""

    eigvals: Array
    """(r,) eigenvalues ``d_k >= 0`` of ``G``, descending; 0 within ``eps · d_max``.

    Values at or below ``noise_floor`` are numerically zero for ``rank``, the
    feasibility of ε and reports, but the filters use them as they are: their
    absolute error is that of every eigenvalue, while replacing them by 0 would
    move a filter ``d/(c + d)`` by up to ``floor/c`` (see :func:`clamped`).
    """
    eigvecs: Array
    """(K, r) orthonormal eigenvectors ``V`` (columns), ordered like ``eigvals``.

    A :class:`~kernel_sd.spectra.eigvecs.KernelEigvecs` (never stored, products
    only) for implicit Nyström eigenvectors.
    """
    noise_floor: Array
    """() ``K · eps_machine · d_max``: eigenvalues at or below it are numerically zero."""
    n_clamped: Array
    """() eigenvalues at or below the floor: numerically zero (exact, Lanczos), left out (Nyström)."""
    min_raw_eigval: Array
    """() smallest eigenvalue of the factorisation before clamping."""
    complete: bool = True
    """Static: ``V`` spans all of ``R^K`` (exact path); False for low-rank spectra."""
    landmarks: Array | None = None
    """(m, p) Nyström landmarks ``Z``; None for spectra of the exact ``G``."""
    landmark_map: Array | None = None
    """(m, r) ``P`` with ``g̃_xᵀ V = k(x, Z) P`` (Nyström features); None otherwise."""
    residuals: Array | None = None
    """(r,) ``‖G v_i − d_i v_i‖`` of iterative (Lanczos) eigenpairs; None when exact.

    For symmetric ``G`` each ``d_i`` lies within ``residuals[i]`` of an eigenvalue.
    """
    kernel_trace: Array | None = None
    """() ``tr G = Σ_i k(x_i, x_i)/K`` of the exact ``G``, for low-rank spectra; None otherwise."""
    fingerprint: Array | None = None
    """(4, p) summary of the training inputs ``X`` (:func:`input_fingerprint`), in
    their dtype; None when the spectrum was built from a Gram matrix or eigenpairs."""
    kernel_values: Array | None = None
    """(8, 8) kernel values at eight fixed training points (:func:`kernel_fingerprint`),
    identifying the kernel; None when the spectrum was built from a Gram matrix or
    eigenpairs."""

    @property
    def n_train(self) -> int:
        """``K``, the number of training points."""
        return self.eigvecs.shape[0]

    @property
    def rank(self) -> Array:
        """Numerical rank: the number of eigenvalues above the noise floor."""
        return jnp.sum(self.eigvals > self.noise_floor)

    @property
    def truncation(self) -> Array | None:
        """``δ = 1 − Σ_k d_k / tr G``: the share of ``tr G`` a low-rank spectrum misses.

        For a Nyström spectrum ``δ = tr(G − G̃)/tr G`` (nuclear-norm error), for a
        Lanczos spectrum the weight of the eigenvalues not computed; None (0 by
        definition) for the exact spectrum.
        """
        if self.kernel_trace is None:
            return None
        return 1.0 - jnp.sum(self.eigvals) / self.kernel_trace

    @property
    def condition_number(self) -> Array:
        """``κ = d_max / d_min`` over the numerical range of ``G``."""
        d = self.eigvals
        d_min = jnp.min(jnp.where(d > self.noise_floor, d, jnp.inf))
        return d[0] / d_min


def noise_floor(n: int, d_max: Array) -> Array:
    """``K · eps_machine · d_max``: eigenvalues below it are numerically zero."""
    return n * jnp.finfo(d_max.dtype).eps * jnp.maximum(d_max, 0.0)


def clamped(d: Array, V, *, complete: bool) -> Spectrum:
    """A :class:`Spectrum` from descending eigenpairs; eigenvalues within ``eps · d_max`` set to 0.

    Eigenvalues at or below the floor ``K · eps · d_max`` are counted
    (``n_clamped``) as the numerical null space, but only those within the
    eigensolver's resolution ``eps · d_max`` (negative round-off included) are
    set to 0; the others keep their values for the filters. Derived: an
    eigenvalue computed with absolute error ``η`` moves the ridge filter
    ``d/(c + d)`` by at most ``η/c``; setting a sub-floor eigenvalue to 0 moves
    it by ``d/(c + d)``, up to ``floor/c``, ``K`` times more than eigh's error
    ``~eps · d_max``, while a computed ``|d| <= eps · d_max`` carries no digit.
    Measured against mpmath (50 digits) on three RBF problems (n = 150, 80, 30)
    with ``c_0`` from 1e6 down to 10 times the floor: the largest relative error
    of ``c_t`` was 0.24, 0.11 and 0.64 with every sub-floor eigenvalue set to 0,
    6.1e-4, 4.7e-3 and 0.066 with this rule (0.0035, 0.019, 0.76 keeping all
    non-negative values).
    """
    floor = noise_floor(V.shape[0], d[0])
    resolution = jnp.finfo(d.dtype).eps * jnp.maximum(d[0], 0.0)
    return Spectrum(
        eigvals=jnp.where(d > resolution, d, 0.0),
        eigvecs=V,
        noise_floor=floor,
        n_clamped=jnp.sum(d <= floor),
        min_raw_eigval=d[-1],
        complete=complete,
    )


def checked(spec: Spectrum) -> Spectrum:
    """Host-side checks on a freshly computed spectrum: finite, PSD, float32 conditioning.

    Raises:
        ValueError: NaN/inf eigenvalues, or a raw eigenvalue below ``−noise_floor``.

    Warns:
        UserWarning: a float32 spectrum with eigenvalues under the floor or a
            condition number above 1e4 (enable x64).
    """
    if not np.isfinite(np.asarray(spec.eigvals)).all():
        raise ValueError(
            "The eigendecomposition produced NaN/inf; the Gram matrix has "
            "non-finite entries (check the kernel's hyper-parameters and inputs)."
        )
    if float(spec.min_raw_eigval) < -float(spec.noise_floor):
        raise ValueError(
            f"The Gram matrix is not positive semi-definite beyond round-off: "
            f"smallest eigenvalue {float(spec.min_raw_eigval):.3e} < "
            f"-{float(spec.noise_floor):.3e} (the noise floor). Check that the "
            "kernel is positive definite for these hyper-parameters (e.g. "
            "Polynomial needs coef0 >= 0), or pass a corrected matrix."
        )
    if spec.eigvals.dtype == jnp.float32:
        kappa = float(spec.condition_number)
        if int(spec.n_clamped) > 0 or kappa > _FLOAT32_MAX_CONDITION:
            warn(
                f"float32 spectrum is ill-conditioned (condition number {kappa:.2e}, "
                f"{int(spec.n_clamped)} eigenvalues below the noise floor); results "
                "may lose most of their digits. Enable x64: "
                "jax.config.update('jax_enable_x64', True)."
            )
    return spec


_HASH = 2654435761
"""Knuth's multiplicative hash constant: ``i · _HASH mod 2³²`` spreads row indices."""


@jax.jit
def input_fingerprint(X: Array) -> Array:
    """``(4, p)`` column sums of ``|x|``, ``x``, ``x²`` and ``w_i x`` over the rows of ``X``.

    One pass over ``X``. The weights ``w_i ∈ [−1/2, 1/2)`` are a fixed hash of
    the row index ``i``, so reordered or replaced rows change the last row even
    when the moments agree. The first row is the scale of the others'
    round-off (see :func:`fingerprint_mismatch`).
    """
    i = jnp.arange(X.shape[0], dtype=jnp.uint32)
    w = (i * jnp.uint32(_HASH)).astype(X.dtype) / 2.0**32 - 0.5
    return jnp.stack(
        [jnp.sum(jnp.abs(X), axis=0), jnp.sum(X, axis=0), jnp.sum(X * X, axis=0), w @ X]
    )


def fingerprint_mismatch(spec: Spectrum, X: Array) -> str:
    """Why ``spec`` cannot be the spectrum of ``X``, or ``""`` (also without a fingerprint).

    Sums are compared to ``64 · sqrt(n) · eps`` relative to their scale: far
    above the round-off of recomputing them, far below the change from other
    points.
    """
    fp = spec.fingerprint
    if fp is None:
        return ""
    if fp.shape[1] != X.shape[1]:
        return f"{fp.shape[1]} input features, X has {X.shape[1]}"
    if fp.dtype != X.dtype:
        return f"{fp.dtype} inputs, X is {X.dtype}"
    a = np.asarray(fp, np.float64)
    b = np.asarray(input_fingerprint(X), np.float64)
    abs_sum = np.maximum(a[0], b[0])
    scale = np.stack([abs_sum, abs_sum, np.maximum(a[2], b[2]), abs_sum])
    tol = 64.0 * math.sqrt(X.shape[0]) * float(jnp.finfo(X.dtype).eps)
    if np.all(np.abs(a - b) <= tol * scale):
        return ""
    return f"same n = {X.shape[0]}, but the column sums of the inputs differ"


_PROBES = 8
"""Training points at which :func:`kernel_fingerprint` evaluates the kernel."""


def _probe_rows(n: int) -> np.ndarray:
    """``_PROBES`` row indices of ``n``, spread by the same hash as the input fingerprint."""
    i = np.arange(_PROBES, dtype=np.uint64)
    return ((i * _HASH) % 2**32 % n).astype(np.int64)


def kernel_fingerprint(kernel, X: Array) -> Array:
    """``(8, 8)`` values ``k(x_i, x_j)`` at eight fixed training points.

    Two kernels that agree there (e.g. the same kernel written twice) give the
    same spectrum for practical purposes; another class or other
    hyper-parameters differ. One small compiled program (``_blocks.evaluate``).
    """
    P = jnp.take(X, jnp.asarray(_probe_rows(X.shape[0])), axis=0)
    return evaluate(kernel, P, P)


def kernel_mismatch(spec: Spectrum, kernel, X: Array) -> bool:
    """Whether ``kernel`` on ``X`` disagrees with the kernel ``spec`` was computed with.

    False without recorded values. The values are compared to
    ``64 · eps · max |k|``: far above recomputing them, far below the change
    from another kernel.
    """
    if spec.kernel_values is None:
        return False
    a = np.asarray(spec.kernel_values, np.float64)
    b = np.asarray(kernel_fingerprint(kernel, X), np.float64)
    if a.shape != b.shape:
        return True
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    tol = 64.0 * float(jnp.finfo(X.dtype).eps) * scale
    return not bool(np.all(np.abs(a - b) <= tol))


def _kernel_hint(kernel) -> str:
    name = type(kernel).__name__
    return (
        f"{name} overflows or divides 0/0 for these inputs and hyper-parameters "
        "(e.g. a lengthscale near 0, or polynomial and linear kernel values beyond "
        "the float range on large inputs). Rescale `X` (e.g. standardise its "
        "columns) or choose hyper-parameters of the data's scale."
    )


def check_kernel_values(kernel, finite, scale, what: str, dtype) -> None:
    """Before any eigensolver or clamping: the kernel values are finite and significant.

    ``finite``: whether every value of the block ``what`` is finite; ``scale``:
    its largest diagonal value ``k(x, x)`` (or a sum of them). For a positive
    semi-definite kernel ``|k(x, z)| <= √(k(x, x) k(z, z))``, so a diagonal
    under ``tiny/eps`` of the dtype (0 included) means values without
    significant digits.

    Raises:
        ValueError: NaN/inf values, or values that are zero or underflow.
    """
    if not bool(finite):
        raise ValueError(f"{what} has NaN/inf entries: " + _kernel_hint(kernel))
    info = jnp.finfo(dtype)
    if not float(scale) >= float(info.tiny) / float(info.eps):
        raise ValueError(
            f"{what} is zero or underflows (largest k(x, x) = {float(scale):.3g}): "
            f"{type(kernel).__name__} has no significant digits for these inputs "
            "(e.g. all-zero inputs for Linear/ArcCosine, or a tiny scale). Rescale "
            "`X` or change the kernel's hyper-parameters."
        )
