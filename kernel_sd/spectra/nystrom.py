"""Nyström spectra: the exact eigendecomposition of a low-rank approximation of ``G``.

:func:`nystrom_spectrum` runs in four steps, each a function below:

1. landmarks ``Z ⊂ X`` (:func:`_landmarks`: greedy pivoted Cholesky or uniform);
2. ``K_mm^+ = L Lᵀ`` and the ``m × m`` matrix ``C = Lᵀ K_mn K_nm L / K``,
   accumulated over row blocks of ``X`` (:func:`_factorise`);
3. the numerical rank of ``C = U S Uᵀ`` under the noise floor (:func:`_rank`);
4. the eigenvectors ``V = k(X, Z) M``, stored or implicit (:func:`_eigenvectors`),
   and the feature map ``P`` of new points.

No ``n × n`` matrix is formed; every pass over ``X`` runs on the row-block
engine of ``kernel_sd._blocks`` (sharded over devices).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd._blocks import as_devices, row_sum
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel
from kernel_sd.spectra._products import kernel_diagonal, kernel_matmul, kernel_trace
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

__all__ = [
    "nystrom_spectrum",
    "LANDMARK_METHODS",
    "ACCUMULATE_METHODS",
    "VECTOR_METHODS",
]

LANDMARK_METHODS = ("pivoted", "uniform")
"""Landmark choices of :func:`nystrom_spectrum`."""

ACCUMULATE_METHODS = ("factor", "gram")
"""How :func:`nystrom_spectrum` accumulates its ``m × m`` matrix over the ``n`` rows."""

VECTOR_METHODS = ("auto", "explicit", "implicit")
"""How :func:`nystrom_spectrum` keeps its eigenvectors."""

_EXPLICIT_VECTORS_GB = 1.0
"""``vectors="auto"`` stores Nyström eigenvectors up to this size, else keeps them implicit."""


def nystrom_spectrum(
    kernel: Kernel,
    X: Array,
    *,
    m: int,
    landmarks: str = "pivoted",
    seed: int = 0,
    accumulate: str = "factor",
    vectors: str = "auto",
    block_size: int = DEFAULT_BLOCK_SIZE,
    devices=None,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
) -> Spectrum:
    """Exact eigendecomposition of the Nyström approximation of ``G = k(X, X)/K``.

    With ``m`` landmarks ``Z ⊂ X``, ``K_nm = k(X, Z)`` and ``K_mm = k(Z, Z)``,

        G̃ = (1/K) K_nm K_mm^+ K_mn = V diag(d) Vᵀ,

    computed without any ``n × n`` matrix:

    1. ``K_mm = Q Λ Qᵀ``; eigenvalues under ``m · eps · λ_max`` are dropped and
       ``L = Q Λ^{-1/2}`` on the rest, so ``K_mm^+ = L Lᵀ`` and ``G̃ = B Bᵀ / K``
       with ``B = K_nm L``;
    2. ``C = BᵀB / K``, accumulated over row blocks (memory
       ``O(block_size · m + m²)``), in one of two ways (``accumulate``):

       - ``"factor"`` (default): ``C = (1/K) Σ_blocks (K_bm L)ᵀ (K_bm L)``,
         ``2·n·m²`` flops; round-off stays at the usual noise floor;
       - ``"gram"``: ``A = (1/K) Σ_blocks K_bmᵀ K_bm``, then ``C = Lᵀ A L``:
         half the flops (``n·m²``), but the round-off of ``A`` reaches ``C``
         through ``‖L‖² = 1/λ_min(K_mm)``. The noise floor is multiplied by
         ``ρ = ‖A‖ ‖L‖² / ‖C‖`` (``1 <= ρ <= cond(K_mm)``, reported in
         ``noise_floor``), so use it when ``K_mm`` is well conditioned
         (smooth kernels with short lengthscales, rough kernels such as
         Matérn) and the multipliers ``c_t`` stay far above the floor;
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

    Landmarks:

    - ``"pivoted"``: greedy diagonal-pivoted partial Cholesky of ``k(X, X)``
      (pick the point of largest residual variance ``k(x, x) − k̃(x, x)``, one
      kernel row ``k(x_i, X)`` per step; ``O(n·m)`` memory, ``O(n·m²)`` work).
      Its residual ``tr(G − G̃)`` is the nuclear-norm error ``‖G − G̃‖_*``;
    - ``"uniform"``: ``m`` distinct points drawn uniformly with ``seed``.

    Memory: ``O(block_size · m + m²)`` working space, plus the ``(n, r)``
    eigenvectors when they are explicit and the ``(m, n)`` Cholesky factor with
    ``"pivoted"`` (refused past ``max_memory_gb``; use ``"uniform"`` then).

    Devices: the row blocks are split over ``devices`` (default: all of
    ``jax.devices()``) with ``shard_map``, and each device's ``m × m`` sum is
    added with a ``psum``; one device runs the same blocks in a ``lax.scan``.
    The results agree with the single-device path to round-off.

    Error estimate: ``spec.truncation = δ(m) = tr(G − G̃)/tr G`` (``tr G`` is
    ``kernel_trace``). With pivoted landmarks the trace errors (``c_t``,
    predictions) measured up to ``n = 2000`` stayed below ``δ(m)``
    (``kernel-sd reproduce nystrom``): grow ``m`` until ``δ(m)`` is under the
    accuracy wanted.

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` training inputs (``K = n``).
        m: number of landmarks, ``1 <= m <= n``; ``m = n`` gives the exact
            spectrum on its numerical range.
        landmarks: ``"pivoted"`` or ``"uniform"``.
        seed: seed of the ``"uniform"`` draw (ignored by ``"pivoted"``).
        accumulate: ``"factor"`` or ``"gram"`` (see above).
        vectors: ``"auto"``, ``"explicit"`` or ``"implicit"`` (see above).
        block_size: rows of ``X`` per block.
        devices: devices to split the row blocks over; None: ``jax.devices()``.
        max_memory_gb: limit for the pivoted landmarks' ``(m, n)`` factor.

    Returns:
        A :class:`Spectrum` with ``complete=False``, ``r <= m`` eigenpairs,
        ``landmarks`` ``(m, p)`` and ``landmark_map`` ``(m, r)``.

    Raises:
        ValueError: bad ``X``, ``m``, ``landmarks``, ``seed``, ``accumulate``,
            ``vectors`` or ``block_size``; a pivoted factor over
            ``max_memory_gb``; a numerically zero approximation.

    References:
        Williams & Seeger, "Using the Nyström method to speed up kernel
        machines", NeurIPS 2001. Harbrecht, Peters & Schneider, "On the low-rank
        approximation by the pivoted Cholesky decomposition", Appl. Numer. Math.
        2012.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 50)[:, None]
        >>> spec = ksd.nystrom_spectrum(ksd.kernels.RBF(lengthscale=0.3), X, m=5)
        >>> spec.complete, spec.eigvecs.shape[0], int(spec.rank) <= 5
        (False, 50, True)
    """
    X = _validate.kernel_inputs(kernel, X)
    n = X.shape[0]
    m = _validate.integer(
        "m",
        m,
        minimum=1,
        maximum=n,
        what="number of landmarks",
        hint="m = n reproduces the exact spectrum, use spectrum() for that.",
    )
    landmarks = _validate.choice("landmarks", landmarks, LANDMARK_METHODS)
    seed = _validate.integer("seed", seed, minimum=0, what="of the uniform draw")
    block_size = _validate.integer("block_size", block_size, minimum=1)
    accumulate = _validate.choice("accumulate", accumulate, ACCUMULATE_METHODS)
    vectors = _validate.choice("vectors", vectors, VECTOR_METHODS)
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    devices = as_devices(devices)
    if landmarks == "pivoted":
        factor_gb = m * n * X.dtype.itemsize / 2**30
        if factor_gb > max_memory_gb:
            raise ValueError(
                f"Pivoted landmarks keep an ({m}, {n}) Cholesky factor, about "
                f"{factor_gb:.1f} GiB, over `max_memory_gb`={max_memory_gb:g}. Use "
                "landmarks='uniform' (no factor), fewer landmarks `m`, or raise "
                "`max_memory_gb` if the memory is there."
            )
    block = min(block_size, n)
    # O(n) before any pass over the kernel matrix: Σ k(x_i, x_i) is finite and significant.
    trace = kernel_trace(kernel, X)
    check_kernel_values(
        kernel, jnp.isfinite(trace), n * trace, "The kernel values k(x_i, x_i)", X.dtype
    )
    Z = _landmarks(kernel, X, m, landmarks, seed)
    L, S, U, rho = _factorise(kernel, X, Z, block, accumulate, devices)
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
# step 1: landmarks


def _landmarks(kernel: Kernel, X: Array, m: int, method: str, seed: int) -> Array:
    """``(m, p)`` landmarks ``Z``: greedy pivoted-Cholesky pivots or a uniform draw."""
    if method == "pivoted":
        idx = _pivoted_cholesky_pivots(kernel, X, m)
    else:
        n = X.shape[0]
        idx = np.sort(np.random.default_rng(seed).choice(n, m, replace=False))
    return jnp.take(X, jnp.asarray(idx), axis=0)


@partial(jax.jit, static_argnames=("m",))
def _pivoted_cholesky_pivots(kernel: Kernel, X: Array, m: int) -> Array:
    """Pivots of the greedy diagonal-pivoted partial Cholesky of ``k(X, X)``.

    Step ``j`` picks ``i = argmax diag(R_j)`` of the residual ``R_j = k(X, X) − Fᵀ F``
    and appends the row ``f = (k(x_i, X) − F[:, i]ᵀ F) / sqrt(R_j[i, i])``. Only the
    ``(m, n)`` factor ``F`` and the residual diagonal are stored: ``O(n·m)`` memory,
    ``O(n·m²)`` work, one kernel row ``k(x_i, X)`` per step.
    """
    n = X.shape[0]
    dtype = X.dtype
    diag = kernel_diagonal(kernel, X)
    # A residual pivot under the noise floor carries no information, only round-off:
    # it is still taken as a landmark (K_mm's clamp handles it) but adds no row.
    tiny = n * jnp.finfo(dtype).eps * jnp.max(diag)

    def step(j, state):
        F, d, piv = state
        i = jnp.argmax(d)
        x_i = jax.lax.dynamic_slice_in_dim(X, i, 1, axis=0)
        row = kernel(x_i, X)[0] - F[:, i] @ F  # rows >= j of F are still zero
        d_i = d[i]
        ok = d_i > tiny
        f = jnp.where(ok, row / jnp.sqrt(jnp.where(ok, d_i, 1.0)), 0.0)
        F = F.at[j].set(f)
        d = (d - f * f).at[i].set(-jnp.inf)  # never pick a pivot twice
        return F, d, piv.at[j].set(i.astype(jnp.int32))

    F0 = jnp.zeros((m, n), dtype)
    piv0 = jnp.zeros((m,), jnp.int32)
    _, _, piv = jax.lax.fori_loop(0, m, step, (F0, diag, piv0))
    return piv


# ----------------------------------------------------------------------------
# step 2: K_mm^+ = L Lᵀ and C = Lᵀ K_mn K_nm L / K over row blocks


def _factorise(kernel, X, Z, block, accumulate, devices):
    """``L`` (``K_mm^+ = L Lᵀ``), the eigenpairs ``(S, U)`` of ``C = Lᵀ K_mn K_nm L / K``
    and the relative round-off level ``ρ`` of ``C`` (1 for ``"factor"``)."""
    n = X.shape[0]
    L, inv_min, finite = _landmark_factor(kernel, Z)
    check_kernel_values(kernel, finite, 1.0, "The landmark matrix k(Z, Z)", X.dtype)
    if accumulate == "factor":
        parts = row_sum(
            _factor_term, (X,), (kernel, Z, L), block_size=block, devices=devices
        )
        C = _sym_assemble(parts, L.shape[1]) / n
        rho = jnp.ones((), X.dtype)
    else:
        parts = row_sum(
            _gram_term, (X,), (kernel, Z), block_size=block, devices=devices
        )
        A = _sym_assemble(parts, Z.shape[0]) / n
        C = L.T @ A @ L
        # Round-off in A (relative ~eps) reaches C through ‖L‖² = 1/λ_min(K_mm):
        # relative to ‖C‖ it is amplified by ρ = ‖A‖‖L‖²/‖C‖ (<= cond(K_mm)).
        rho = _top_eigval(A) * inv_min
    S, U = _small_eigh(C)
    if not np.isfinite(np.asarray(S)).all():
        raise ValueError(
            "The Nyström factorisation produced NaN/inf: the kernel values k(X, Z) "
            "have NaN/inf entries, or their products overflow. Rescale `X` (e.g. "
            "standardise its columns) or choose hyper-parameters of the data's "
            "scale; accumulate='factor' avoids squaring the kernel values."
        )
    if accumulate == "gram":
        rho = jnp.maximum(rho / jnp.maximum(S[0], jnp.finfo(S.dtype).tiny), 1.0)
    return L, S, U, rho


@jax.jit
def _landmark_factor(kernel: Kernel, Z: Array) -> tuple[Array, Array, Array]:
    """``L = Q Λ^{-1/2}`` on the numerical range of ``K_mm = k(Z, Z)`` (``K_mm^+ = L Lᵀ``),
    ``‖L‖² = 1/λ_min`` over that range, and whether ``K_mm`` is finite."""
    Kmm = kernel(Z, Z)
    finite = jnp.all(jnp.isfinite(Kmm))
    Kmm = jnp.where(finite, Kmm, 0.0)  # keep eigh away from NaN; the caller raises
    m = Kmm.shape[0]
    lam, Q = jnp.linalg.eigh(0.5 * (Kmm + Kmm.T))
    # Same noise-floor rule as the exact path, on K_mm: eigenvalues below
    # m · eps · λ_max are numerically zero and left out of the pseudo-inverse.
    keep = lam > noise_floor(m, lam[-1])
    inv_sqrt = jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, lam, 1.0)), 0.0)
    return Q * inv_sqrt[None, :], jnp.max(inv_sqrt) ** 2, finite


def _factor_term(rows, w, shared):
    """Upper block triangle of ``(K_bm L)ᵀ (K_bm L)`` (padding rows weighted 0)."""
    (Xb,), (kernel, Z, L) = rows, shared
    return _sym_gram(kernel_matmul(kernel, Xb, Z, L) * w[:, None])


def _gram_term(rows, w, shared):
    """Upper block triangle of ``K_bmᵀ K_bm`` (padding rows weighted 0).

    The one accumulation that multiplies a kernel block by itself rather than by
    a matrix: :func:`_sym_gram` keeps the block from being recomputed per chunk.
    """
    (Xb,), (kernel, Z) = rows, shared
    return _sym_gram(kernel(Xb, Z) * w[:, None])


_SYM_CHUNK = 512
"""Columns per chunk of the symmetric block products in :func:`_sym_gram`."""


def _chunk_edges(m: int) -> list[int]:
    q = -(-m // _SYM_CHUNK)
    return [round(i * m / q) for i in range(q + 1)]


def _sym_gram(B: Array) -> tuple[Array, ...]:
    """The upper block triangle of ``BᵀB`` in column chunks (about half the flops).

    XLA has no symmetric rank-k update; chunking the columns and multiplying
    only chunk pairs ``i <= j`` does ``(q + 1)/(2q)`` of the work of ``B.T @ B``.
    """
    # The barrier makes XLA compute B once: otherwise it may fuse B's producer
    # (a kernel evaluation) into every chunk product and recompute it q times.
    B = jax.lax.optimization_barrier(B)
    e = _chunk_edges(B.shape[1])
    parts = [B[:, e[i] : e[i + 1]] for i in range(len(e) - 1)]
    return tuple(
        parts[i].T @ parts[j] for i in range(len(parts)) for j in range(i, len(parts))
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
