"""Nyström spectra: the exact eigendecomposition of a low-rank approximation of ``G``.

:func:`nystrom_spectrum` runs in four steps, each a function below:

1. landmarks ``Z ⊂ X`` (``kernel_sd.spectra.landmarks``: randomly pivoted
   Cholesky, uniform or greedy pivoted Cholesky);
2. ``K_mm^+ = L Lᵀ`` and the ``m × m`` matrix ``C = Lᵀ K_mn K_nm L / K``,
   accumulated over row blocks of ``X`` (``_nystrom_factor._factorise``);
3. the numerical rank of ``C = U S Uᵀ`` under the noise floor (:func:`_rank`);
4. the eigenvectors ``V = k(X, Z) M``, stored or implicit (:func:`_eigenvectors`),
   and the feature map ``P`` of new points.

No ``n × n`` matrix is formed. The ``m × m`` sum of step 2 runs on the host
BLAS (symmetric rank-``b`` updates) when each process has one CPU device, else
on the row-block engine of ``kernel_sd._blocks`` (sharded over devices), like
every other pass over ``X``.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd._blocks import as_devices
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.spectra._nystrom_factor import _factorise
from kernel_sd.spectra._products import kernel_trace
from kernel_sd.spectra.base import (
    Spectrum,
    check_kernel_values,
    checked,
    input_fingerprint,
    kernel_fingerprint,
    noise_floor,
)
from kernel_sd.spectra.eigvecs import KernelEigvecs
from kernel_sd.spectra.exact import DEFAULT_MAX_MEMORY_GB
from kernel_sd.spectra.landmarks import (
    LANDMARK_METHODS,
    _landmark_count,
    _pool_size,
    _select,
)

__all__ = [
    "nystrom_spectrum",
    "LANDMARK_METHODS",
    "ACCUMULATE_METHODS",
    "VECTOR_METHODS",
]

ACCUMULATE_METHODS = ("auto", "factor", "gram")
"""How :func:`nystrom_spectrum` accumulates its ``m × m`` matrix over the ``n`` rows."""

VECTOR_METHODS = ("auto", "explicit", "implicit")
"""How :func:`nystrom_spectrum` keeps its eigenvectors."""

_EXPLICIT_VECTORS_GB = 1.0
"""``vectors="auto"`` stores Nyström eigenvectors up to this size, else keeps them implicit."""


def nystrom_spectrum(
    kernel: Kernel,
    X: Array,
    *,
    m: int | str,
    landmarks: str = "rpcholesky",
    seed: int = 0,
    pool: int | None = None,
    truncation: float | None = None,
    accumulate: str = "auto",
    vectors: str = "auto",
    block_size: int = DEFAULT_BLOCK_SIZE,
    devices=None,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
) -> Spectrum:
    """Exact eigendecomposition of the Nyström approximation of ``G = k(X, X)/K``.

    With ``m`` landmarks ``Z ⊂ X``, ``K_nm = k(X, Z)`` and ``K_mm = k(Z, Z)``,

        G̃ = (1/K) K_nm K_mm^+ K_mn = V diag(d) Vᵀ,

    computed without any ``n × n`` matrix:

    1. ``K_mm^+ = L Lᵀ``: with the Cholesky factor ``K_mm = R Rᵀ`` of randomly
       pivoted landmarks, ``L = R^{-T}``; otherwise ``K_mm = Q Λ Qᵀ``,
       eigenvalues under ``m · eps · λ_max`` are dropped and ``L = Q Λ^{-1/2}``
       on the rest. Then ``G̃ = B Bᵀ / K`` with ``B = K_nm L``;
    2. ``C = BᵀB / K``, accumulated over row blocks (memory
       ``O(block_size · m + m²)``), in one of two ways (``accumulate``):

       - ``"factor"``: ``C = (1/K) Σ_blocks (K_bm L)ᵀ (K_bm L)``,
         ``2·n·m²`` flops; round-off stays at the usual noise floor;
       - ``"gram"``: ``A = (1/K) Σ_blocks K_bmᵀ K_bm``, then ``C = Lᵀ A L``:
         half the flops (``n·m²``), but the round-off of ``A`` reaches ``C``
         through ``‖L‖² = 1/λ_min(K_mm)``. The noise floor is multiplied by
         ``ρ = ‖A‖ ‖L‖² / ‖C‖`` (``1 <= ρ <= cond(K_mm)``, reported in
         ``noise_floor``), so use it when ``K_mm`` is well conditioned
         (smooth kernels with short lengthscales, rough kernels such as
         Matérn) and the multipliers ``c_t`` stay far above the floor;
       - ``"auto"`` (default): ``"gram"`` when ``cond(K_mm) · K · eps <= 1e-4``
         (so its floor stays under ``1e-4 · d_max``; known from ``K_mm``
         before the pass), else ``"factor"``; and if the raised floor then
         drops an eigenvalue that the usual floor keeps, the pass is redone
         as ``"factor"``. Measured at n = 10⁶, m = 4000 (Matérn 3/2, p = 10):
         ``ρ = 5.9e3``, floor ``1.3e-6 · d_max``, the ten ``c_t`` equal to the
         ``"factor"`` route's to 8e-15;
    3. ``C = U S Uᵀ``: the nonzero eigenvalues of ``G̃`` are ``d = S`` and its
       eigenvectors ``V = B U S^{-1/2} / √K = k(X, Z) M`` with
       ``M = L U S^{-1/2} / √K``.

    Eigenvectors: ``vectors="explicit"`` stores ``V`` as an ``(n, r)`` array;
    ``"implicit"`` keeps :class:`KernelEigvecs`, which computes ``V @ A`` and
    ``Vᵀ @ y`` in row blocks when the rounds ask for them (one pass over ``X``
    each), so memory stays ``O(n·p + block_size·m + m²)``; ``"auto"`` stores
    ``V`` when it takes at most 1 GiB.

    Eigenvalues under the noise floor ``K · eps · d_max`` (as in :func:`spectrum`)
    have no well-defined eigenvectors here; they are left out (``r <= m`` pairs
    are returned) and counted in ``n_clamped``. The spectrum is *incomplete*
    (``complete = False``): the energy of the targets outside ``span V`` is the
    null-space energy of ``G̃`` (see ``spectra.eigvecs.targets_in_eigenbasis``), so
    :func:`kernel_sd.self_distill` and :func:`kernel_sd.distill_from_spectrum`
    run the exact rounds of the kernel ``k̃(x, x') = k(x, Z) K_mm^+ k(Z, x')``.
    Predictions at new points use that same kernel: :func:`kernel_sd.features` computes
    ``g̃_xᵀ V = k(x, Z) P`` with ``P = L U S^{1/2} / √K`` (stored as
    ``landmark_map``, with ``Z`` as ``landmarks``).

    Landmarks (:func:`kernel_sd.select_landmarks`):

    - ``"rpcholesky"`` (default): randomly pivoted Cholesky on a uniform pool of
      ``min(n, max(20 000, 10 m))`` rows (each pivot drawn with probability
      proportional to its residual variance ``k(x, x) − k̃(x, x)``). It gives
      the Cholesky factor ``K_mm = R Rᵀ``, so ``L = R^{-T}`` needs no
      eigendecomposition of ``K_mm``, and it estimates ``δ(m)`` on the pool
      before the pass over ``X``: ``m="auto"`` (or ``truncation=``) stops at a
      target ``δ``;
    - ``"uniform"``: ``m`` distinct points drawn uniformly with ``seed``;
    - ``"pivoted"``: greedy diagonal-pivoted partial Cholesky of ``k(X, X)``
      (the point of largest residual variance, one kernel row ``k(x_i, X)`` per
      step; ``O(n·m)`` memory, ``O(n·m²)`` sequential work).

    Which to use: in 10 dimensions (n = 50 000, RBF and Matérn 3/2) all three
    capture about the same share of ``tr G`` at equal m except greedy pivoting,
    which captured the least and cost 4–6x more; in 3 dimensions greedy
    pivoting captures the most per landmark, randomly pivoted Cholesky the
    most per second (``kernel-sd bench landmarks``).

    Memory: ``O(block_size · m + m²)`` working space, plus the ``(n, r)``
    eigenvectors when they are explicit, and the Cholesky factor of the
    landmark choice: ``(pool, m)`` for ``"rpcholesky"``, ``(m, n)`` for
    ``"pivoted"`` (each refused past ``max_memory_gb``).

    Devices: the row blocks are split over ``devices`` (default: all of
    ``jax.devices()``) with ``shard_map``, and each device's ``m × m`` sum is
    added with a ``psum``. With one CPU device per process (one process, or
    a global ``X`` split by rows over processes with ``jax.distributed``) the
    ``m × m`` sum runs on the host instead: each kernel tile is one compiled
    program and BLAS ``syrk`` adds its products (2–3x XLA-CPU's float64 rate),
    each process over its own rows, then one all-reduce. The results agree
    with the single-device path to round-off.

    Error estimate: ``spec.truncation = δ(m) = tr(G − G̃)/tr G`` (``tr G`` is
    ``kernel_trace``). With pivoted landmarks the trace errors (``c_t``,
    predictions) measured up to ``n = 2000`` stayed below ``δ(m)``
    (``kernel-sd reproduce nystrom``): grow ``m`` until ``δ(m)`` is under the
    accuracy wanted, or let ``m="auto"`` do it.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` training inputs (``K = n``).
        m: number of landmarks, ``1 <= m <= n`` (``m = n`` gives the exact
            spectrum on its numerical range), or ``"auto"``: randomly pivoted
            landmarks until the estimated ``δ`` is at most ``truncation``
            (default 0.01), at most ``min(n, 4000)``.
        landmarks: ``"rpcholesky"``, ``"uniform"`` or ``"pivoted"``.
        seed: seed of the random landmark draws (ignored by ``"pivoted"``).
        pool: rows of the ``"rpcholesky"`` pool (default
            ``min(n, max(20 000, 10 m))``).
        truncation: ``"rpcholesky"``: stop adding landmarks once the estimated
            ``δ`` is at most this (``m`` is then an upper bound).
        accumulate: ``"auto"``, ``"factor"`` or ``"gram"`` (see above).
        vectors: ``"auto"``, ``"explicit"`` or ``"implicit"`` (see above).
        block_size: rows of ``X`` per block.
        devices: devices to split the row blocks over; None: ``jax.devices()``.
        max_memory_gb: limit for the landmark choice's Cholesky factor.

    Returns:
        A :class:`Spectrum` with ``complete=False``, ``r <= m`` eigenpairs,
        ``landmarks`` ``(m', p)`` (``m' = m`` unless ``truncation``, ``m="auto"``
        or a kernel matrix of numerical rank below ``m`` stopped the randomly
        pivoted choice earlier) and ``landmark_map`` ``(m', r)``.

    Raises:
        ValueError: bad ``X``, ``m``, ``landmarks``, ``seed``, ``pool``,
            ``truncation``, ``accumulate``, ``vectors`` or ``block_size``; a
            landmark factor over ``max_memory_gb``; a numerically zero
            approximation.

    Warns:
        UserWarning: ``truncation`` (or ``m="auto"``) not reached with ``m``
            landmarks.

    References:
        Williams & Seeger, "Using the Nyström method to speed up kernel
        machines", NeurIPS 2001. Harbrecht, Peters & Schneider, "On the low-rank
        approximation by the pivoted Cholesky decomposition", Appl. Numer. Math.
        2012. Chen, Epperly, Tropp & Webber, "Randomly pivoted Cholesky:
        practical approximation of a kernel matrix with few entry evaluations",
        Comm. Pure Appl. Math. 2024.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 50)[:, None]
        >>> spec = ksd.nystrom_spectrum(ksd.kernels.RBF(lengthscale=0.3), X, m=5)
        >>> spec.complete, spec.eigvecs.shape[0], int(spec.rank) <= 5
        (False, 50, True)
    """
    X = _validate.kernel_inputs(kernel, X)
    n = X.shape[0]
    landmarks = _validate.choice("landmarks", landmarks, LANDMARK_METHODS)
    m, truncation = _landmark_count(n, m, truncation, landmarks, "landmarks")
    seed = _validate.integer("seed", seed, minimum=0, what="of the random draws")
    block_size = _validate.integer("block_size", block_size, minimum=1)
    accumulate = _validate.choice("accumulate", accumulate, ACCUMULATE_METHODS)
    vectors = _validate.choice("vectors", vectors, VECTOR_METHODS)
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    devices = as_devices(devices)
    pool = _pool_size(X, m, pool, landmarks, max_memory_gb)
    block = min(block_size, n)
    # O(n) before any pass over the kernel matrix: Σ k(x_i, x_i) is finite and significant.
    trace = kernel_trace(kernel, X)
    check_kernel_values(
        kernel, jnp.isfinite(trace), n * trace, "The kernel values k(x_i, x_i)", X.dtype
    )
    chosen = _select(kernel, X, m, landmarks, seed, pool, truncation)
    Z, m = chosen.points, chosen.points.shape[0]
    L, S, U, rho = _factorise(kernel, X, Z, block, accumulate, devices, chosen.chol)
    r, floor = _rank(S, rho, n)
    coef, P = _nystrom_maps(L, S, U, r, n)
    return checked(
        Spectrum(
            eigvals=S[:r],
            eigvecs=_eigenvectors(kernel, X, Z, coef, block, devices, vectors),
            noise_floor=floor,
            n_clamped=jnp.asarray(m - r),
            min_raw_eigval=S[-1],
            complete=False,
            landmarks=Z,
            landmark_map=P,
            kernel_trace=trace,
            fingerprint=input_fingerprint(X),
            kernel_values=kernel_fingerprint(kernel, X),
        )
    )


# ----------------------------------------------------------------------------
# steps 3 and 4: numerical rank, eigenvectors and the feature map


def _rank(S: Array, rho: Array, n: int) -> tuple[int, Array]:
    """Eigenvalues of ``G̃`` above ``ρ ·`` the noise floor: their count and the floor."""
    floor = rho * noise_floor(n, S[0])
    r = int(np.sum(np.asarray(S) > float(floor)))
    if r == 0 and float(rho) > 1.0:
        raise ValueError(
            f"accumulate='gram': the round-off of K_mn K_nm, amplified by "
            f"ρ = {float(rho):.2g} (up to cond(K_mm)), covers every eigenvalue of "
            "the Nyström approximation. Use accumulate='auto' or 'factor'."
        )
    if r == 0:
        raise ValueError(
            "The Nyström approximation of k(X, X) is numerically zero (no "
            "eigenvalue above the noise floor); check the kernel and the inputs."
        )
    return r, floor


@partial(jax.jit, static_argnames=("r", "n"))
def _nystrom_maps(L: Array, S: Array, U: Array, r: int, n: int) -> tuple[Array, Array]:
    """``M`` (``V = k(X, Z) M``) and ``P`` (``g̃_xᵀ V = k(x, Z) P``) of the top ``r`` pairs."""
    S_r, LU = S[:r], L @ U[:, :r]
    scale = jnp.sqrt(jnp.asarray(n, L.dtype))
    return LU / (jnp.sqrt(S_r) * scale)[None, :], LU * (jnp.sqrt(S_r) / scale)[None, :]


def _eigenvectors(kernel, X, Z, coef, block, devices, vectors: str):
    """``V = k(X, Z) M``: implicit, or stored when asked (``"auto"``: up to 1 GiB)."""
    V = KernelEigvecs(
        kernel=kernel,
        X=X,
        landmarks=Z,
        coef=coef,
        block_size=block,
        devices=devices if len(devices) > 1 else None,
    )
    vectors_gb = X.shape[0] * coef.shape[1] * X.dtype.itemsize / 2**30
    if vectors == "explicit" or (
        vectors == "auto" and vectors_gb <= _EXPLICIT_VECTORS_GB
    ):
        return V.materialize()
    return V
