"""Nyström spectra: the exact eigendecomposition of a low-rank approximation of ``G``.

:func:`nystrom_spectrum` runs in four steps, each a function below:

1. landmarks ``Z ⊂ X`` (``kernel_sd.spectra.landmarks``: randomly pivoted
   Cholesky, uniform or greedy pivoted Cholesky);
2. ``K_mm^+ = L Lᵀ`` and the ``m × m`` matrix ``C = Lᵀ K_mn K_nm L / K``,
   accumulated over row blocks of ``X`` (:func:`_factorise`);
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
import scipy.linalg as sla
from jax import Array
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from kernel_sd import _validate
from kernel_sd._blocks import as_devices
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.spectra._products import kernel_gram_host, kernel_sum, kernel_trace
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
# step 2: K_mm^+ = L Lᵀ and C = Lᵀ K_mn K_nm L / K over row blocks


def _factorise(kernel, X, Z, block, accumulate, devices, chol=None):
    """``L`` (``K_mm^+ = L Lᵀ``), the eigenpairs ``(S, U)`` of ``C = Lᵀ K_mn K_nm L / K``
    and the relative round-off level ``ρ`` of ``C`` (1 for ``"factor"``).

    ``chol``: the Cholesky factor ``K_mm = R Rᵀ`` when the landmark choice gave
    it (then ``L = R^{-T}``), else ``K_mm`` is diagonalised. ``"auto"`` takes
    ``"gram"`` when ``cond(K_mm) · K · eps <= 1e-4`` (known before the pass: the
    raised floor ``ρ · K · eps · d_max`` is then at most ``1e-4 · d_max``), and
    redoes the pass as ``"factor"`` if that raised floor drops an eigenvalue the
    usual floor ``K · eps · d_max`` keeps.
    """
    n = X.shape[0]
    eps = float(jnp.finfo(X.dtype).eps)
    m = Z.shape[0]
    if chol is None:
        L, inv_min, lam_max = _eigh_factor(kernel, Z, X.dtype)
    else:
        L, inv_min, lam_max = _factor_from_cholesky(chol)
        if accumulate == "gram" and float(lam_max * inv_min) * m * eps >= 1.0:
            # The exact inverse reaches past K_mm's numerical range; the
            # 'gram' route only resolves that range (its ρ would drown C).
            L, inv_min, lam_max = _eigh_factor(kernel, Z, X.dtype)
    route = accumulate
    if accumulate == "auto":
        cond = float(lam_max * inv_min)
        route = "gram" if cond * n * eps <= _AUTO_GRAM_MAX_FLOOR else "factor"
    S, U, rho = _accumulate(kernel, X, Z, L, inv_min, block, route, devices)
    if accumulate == "auto" and route == "gram" and _floor_drops(S, rho, n):
        S, U, rho = _accumulate(kernel, X, Z, L, inv_min, block, "factor", devices)
    return L, S, U, rho


_AUTO_GRAM_MAX_FLOOR = 1e-4
"""``accumulate="auto"`` takes ``"gram"`` when ``cond(K_mm) · K · eps`` is at most this."""


def _floor_drops(S: Array, rho: Array, n: int) -> bool:
    """Whether the floor raised by ``ρ`` drops an eigenvalue the usual floor keeps."""
    S = np.asarray(S)
    base = float(noise_floor(n, S[0]))
    return bool(np.any((S > base) & (S <= float(rho) * base)))


def _accumulate(kernel, X, Z, L, inv_min, block, route, devices):
    """``C = Lᵀ K_mn K_nm L / K`` over row blocks of ``X``: its eigenpairs and ``ρ``.

    On CPU with one device per process the sum runs on the host
    (:func:`_host_accumulate`); otherwise on the row-block engine (sharded
    over ``devices``), the same sum up to the order of the additions.
    """
    n = X.shape[0]
    rows = _host_rows(X, devices)
    if rows is not None:
        C, rho = _host_accumulate(kernel, rows, Z, L, inv_min, block, route, n)
    elif route == "factor":
        parts = kernel_sum(
            kernel, X, Z, _factor_term, _transposed(L), block_size=block,
            devices=devices, transpose=True,
        )  # fmt: skip
        C = _sym_assemble(parts, L.shape[1]) / n
        rho = jnp.ones((), X.dtype)
    else:
        parts = kernel_sum(
            kernel, X, Z, _gram_term, block_size=block, devices=devices, transpose=True
        )
        A = _sym_assemble(parts, Z.shape[0]) / n
        C = L.T @ A @ L
        # Round-off in A (relative ~eps) reaches C through ‖L‖² = 1/λ_min(K_mm):
        # relative to ‖C‖ it is amplified by ρ = ‖A‖‖L‖²/‖C‖ (<= cond(K_mm)).
        rho = _top_eigval(A) * inv_min
    if rows is None:
        S, U = _small_eigh(C)
        finite = np.isfinite(np.asarray(S)).all()
    else:  # LAPACK is not handed NaN: checked first
        finite = np.isfinite(C).all()
        S, U = _host_eigh(C) if finite else (None, None)
    if not finite:
        raise ValueError(
            "The Nyström factorisation produced NaN/inf: the kernel values k(X, Z) "
            "have NaN/inf entries, or their products overflow. Rescale `X` (e.g. "
            "standardise its columns) or choose hyper-parameters of the data's "
            "scale; accumulate='factor' avoids squaring the kernel values."
        )
    if route == "gram":
        rho = jnp.maximum(rho / jnp.maximum(S[0], jnp.finfo(S.dtype).tiny), 1.0)
    return S, U, rho


def _host_rows(X: Array, devices: tuple) -> np.ndarray | None:
    """This process's rows of ``X`` when the host route applies, else None.

    It applies on CPU with one device per process: ``X`` on the one device the
    sweep uses, or a global array split by rows over processes of one CPU
    device each (each process then sums its own rows). Several local devices
    keep the sharded row-block engine.
    """
    shards = X.addressable_shards
    if len(shards) != 1 or shards[0].device.platform != "cpu":
        return None
    if X.is_fully_addressable:
        return np.asarray(shards[0].data) if len(devices) == 1 else None
    split_rows = shards[0].index[1:] == (slice(None),) * (X.ndim - 1)
    if (
        X.is_fully_replicated
        or not split_rows
        or jax.local_device_count() != 1
        or len(devices) != jax.device_count()
    ):
        return None
    return np.asarray(shards[0].data)


def _host_accumulate(kernel, rows, Z, L, inv_min, block, route, n):
    """``C`` (and ``ρ``) from ``A = Σ_b W_bᵀ W_b`` summed on the host by BLAS ``syrk``.

    ``W_b = k(X_b, Z)`` (``"gram"``, then ``C = Lᵀ A L``) or ``k(X_b, Z) L``
    (``"factor"``, ``C = A``), each process over its own rows
    (:func:`~kernel_sd.spectra._products.kernel_gram_host`), then one all-reduce.
    """
    dtype = rows.dtype
    L_h = np.asarray(L)
    A = kernel_gram_host(
        kernel, rows, np.asarray(Z), None if route == "gram" else L_h, block_size=block
    )
    A = _sum_over_processes(A) / n
    if route == "factor":
        return A, jnp.ones((), dtype)
    C = L_h.T @ A @ L_h
    # As on the engine route: ρ = ‖A‖ ‖L‖² (divided by ‖C‖ by the caller).
    return C, jnp.asarray(_top_eig_host(A) * float(inv_min), dtype)


def _top_eig_host(A: np.ndarray, steps: int = 20, width: int = 8) -> float:
    """``λ_max`` of a PSD matrix by block power iteration (a lower bound)."""
    W = np.random.default_rng(0).standard_normal((A.shape[0], width)).astype(A.dtype)
    for _ in range(steps):
        W, _ = np.linalg.qr(A @ W)
    return float(np.max(np.sum(W * (A @ W), axis=0)))


def _sum_over_processes(A: np.ndarray) -> np.ndarray:
    """``Σ`` over processes of each process's ``A`` (one all-reduce; identity for one)."""
    if jax.process_count() == 1:
        return A
    mesh = Mesh(np.asarray(jax.devices()), ("processes",))
    stacked = jax.make_array_from_process_local_data(
        NamedSharding(mesh, PartitionSpec("processes")),
        A[None],
        (jax.device_count(),) + A.shape,
    )
    replicated = NamedSharding(mesh, PartitionSpec())
    return np.asarray(jax.jit(lambda a: a.sum(0), out_shardings=replicated)(stacked))


def _eigh_factor(kernel: Kernel, Z: Array, dtype) -> tuple[Array, Array, Array]:
    """:func:`_landmark_factor` after checking that ``K_mm`` is finite."""
    L, inv_min, lam_max, finite = _landmark_factor(kernel, Z)
    check_kernel_values(kernel, finite, 1.0, "The landmark matrix k(Z, Z)", dtype)
    return L, inv_min, lam_max


@jax.jit
def _landmark_factor(kernel: Kernel, Z: Array) -> tuple[Array, Array, Array, Array]:
    """``L = Q Λ^{-1/2}`` on the numerical range of ``K_mm = k(Z, Z)`` (``K_mm^+ = L Lᵀ``),
    ``‖L‖² = 1/λ_min`` over that range, ``λ_max`` and whether ``K_mm`` is finite."""
    Kmm = kernel(Z, Z)
    finite = jnp.all(jnp.isfinite(Kmm))
    Kmm = jnp.where(finite, Kmm, 0.0)  # keep eigh away from NaN; the caller raises
    m = Kmm.shape[0]
    lam, Q = jnp.linalg.eigh(0.5 * (Kmm + Kmm.T))
    # Same noise-floor rule as the exact path, on K_mm: eigenvalues below
    # m · eps · λ_max are numerically zero and left out of the pseudo-inverse.
    keep = lam > noise_floor(m, lam[-1])
    inv_sqrt = jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, lam, 1.0)), 0.0)
    return Q * inv_sqrt[None, :], jnp.max(inv_sqrt) ** 2, lam[-1], finite


def _factor_from_cholesky(R: Array) -> tuple[Array, Array, Array]:
    """``L = R^{-T}`` (``K_mm^{-1} = L Lᵀ`` for ``K_mm = R Rᵀ``), ``‖L‖² ≈ 1/λ_min``
    and ``‖R‖² ≈ λ_max``.

    The randomly pivoted choice only accepts pivots whose residual variance is
    above the noise floor, so ``R`` has a positive diagonal and ``K_mm`` is
    invertible. The triangular inverse runs in LAPACK on the host (``trtri``,
    ``m³/3`` flops: 0.05 s at m = 2000, where XLA-CPU's triangular solve took
    1.7 s). Both norms (for the round-off estimate ``ρ`` and the ``"auto"``
    rule) come from 20 steps of block power iteration with 8 vectors (lower
    bounds, like :func:`_top_eigval`).
    """
    R_host = np.asarray(R)
    trtri = sla.get_lapack_funcs("trtri", (R_host,))
    R_inv, info = trtri(R_host, lower=1)
    if info != 0:  # pragma: no cover - a positive diagonal makes R invertible
        raise ValueError(f"The landmarks' Cholesky factor is singular (trtri info {info}).")
    R_inv = np.tril(R_inv)
    inv_min = _top_sq_singular(R_inv)
    lam_max = _top_sq_singular(R_host)
    dtype = R.dtype
    return jnp.asarray(R_inv.T, dtype), jnp.asarray(inv_min, dtype), jnp.asarray(lam_max, dtype)


def _top_sq_singular(T: np.ndarray, steps: int = 20, width: int = 8) -> float:
    """``‖T‖₂²`` by block power iteration on ``Tᵀ T`` (a lower bound)."""
    W = np.random.default_rng(0).standard_normal((T.shape[1], width))
    for _ in range(steps):
        W, _ = np.linalg.qr(T.T @ (T @ W))
    return float(np.max(np.sum((T @ W) ** 2, axis=0)))


_transposed = jax.jit(jnp.transpose)


def _factor_term(Kt, w, rows, Lt):
    """Upper block triangle of ``(K_bm L)ᵀ (K_bm L)`` from ``Kt = K_bmᵀ``, ``Lt = Lᵀ``.

    ``(K_bm L)ᵀ = Lᵀ K_bmᵀ`` and the products below are all plain or ``A Bᵀ``
    GEMMs (padding rows weighted 0).
    """
    return _sym_gram_rows((Lt @ Kt) * w[None, :])


def _gram_term(Kt, w, rows, shared):
    """Upper block triangle of ``K_bmᵀ K_bm`` from ``Kt = K_bmᵀ`` (padding weighted 0)."""
    return _sym_gram_rows(Kt * w[None, :])


_SYM_CHUNK = 512
"""Columns per chunk of the symmetric block products in :func:`_sym_gram`."""


def _chunk_edges(m: int) -> list[int]:
    q = -(-m // _SYM_CHUNK)
    return [round(i * m / q) for i in range(q + 1)]


def _sym_gram(B: Array) -> tuple[Array, ...]:
    """The upper block triangle of ``BᵀB`` in column chunks (about half the flops)."""
    return _sym_gram_rows(B.T)


def _sym_gram_rows(Bt: Array) -> tuple[Array, ...]:
    """The upper block triangle of ``Bt Btᵀ`` (``= BᵀB``) in row chunks of ``Bt``.

    XLA has no symmetric rank-k update; chunking and multiplying only chunk
    pairs ``i <= j`` does ``(q + 1)/(2q)`` of the work of ``Bt @ Bt.T``. Each
    chunk product ``Bt_i Bt_jᵀ`` contracts the minor axis of both operands,
    which XLA-CPU runs 2–3x faster than ``B_iᵀ B_j`` (contracting the major axis).
    """
    e = _chunk_edges(Bt.shape[0])
    parts = [Bt[e[i] : e[i + 1]] for i in range(len(e) - 1)]
    return tuple(
        parts[i] @ parts[j].T for i in range(len(parts)) for j in range(i, len(parts))
    )


def _sym_assemble(blocks: tuple[Array, ...], m: int) -> Array:
    """The symmetric ``m × m`` matrix from the upper block triangle of :func:`_sym_gram`."""
    e = _chunk_edges(m)
    q = len(e) - 1
    it = iter(blocks)
    upper = {(i, j): next(it) for i in range(q) for j in range(i, q)}
    rows = [
        jnp.concatenate(
            [upper[(i, j)] if i <= j else upper[(j, i)].T for j in range(q)], axis=1
        )
        for i in range(q)
    ]
    return jnp.concatenate(rows, axis=0)


@jax.jit
def _top_eigval(A: Array, iterations: int = 50) -> Array:
    """``λ_max`` of a PSD matrix by power iteration (a lower bound, ~1e-3 accurate).

    Enough for a round-off estimate, and ``O(m²)`` per step instead of an SVD.
    """
    v = jnp.ones(A.shape[0], A.dtype) / jnp.sqrt(A.shape[0])

    def step(_, v):
        w = A @ v
        return w / jnp.maximum(jnp.linalg.norm(w), jnp.finfo(A.dtype).tiny)

    v = jax.lax.fori_loop(0, iterations, step, v)
    return v @ (A @ v)


def _host_eigh(C: np.ndarray) -> tuple[Array, Array]:
    """:func:`_small_eigh` by LAPACK ``syevd`` on the host (the host route's ``C``).

    Measured at m = 4000 on this 2-core CPU: 15.8 CPU-s against 23.5 for
    ``jnp.linalg.eigh``.
    """
    S, U = sla.eigh(0.5 * (C + C.T), driver="evd", check_finite=False)
    return jnp.asarray(S[::-1]), jnp.asarray(U[:, ::-1])


@jax.jit
def _small_eigh(C: Array) -> tuple[Array, Array]:
    """Eigenpairs of the symmetrised ``m × m`` matrix ``C``, descending."""
    S, U = jnp.linalg.eigh(0.5 * (C + C.T))
    return S[::-1], U[:, ::-1]


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
