"""Step 2 of :func:`kernel_sd.nystrom_spectrum`: ``K_mm^+ = L Lᵀ`` and the eigenpairs of
``C = Lᵀ K_mn K_nm L / K``, accumulated over row blocks of ``X``.

The sum runs on the host BLAS (symmetric rank-``b`` updates of each kernel tile,
:func:`kernel_sd.spectra._products.kernel_gram_host`) when each process has one
CPU device, else on the tile engine (:func:`kernel_sd.spectra._products.kernel_sum`).
"""

from __future__ import annotations

from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from kernel_sd.kernels import Kernel
from kernel_sd.spectra._products import kernel_gram_host, kernel_sum
from kernel_sd.spectra.base import check_kernel_values, noise_floor

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
    return np.asarray(_replicated_sum(mesh)(stacked))


@lru_cache(maxsize=8)
def _replicated_sum(mesh: Mesh):
    """``A ↦ Σ_p A[p]`` replicated over ``mesh``: compiled once per mesh and shape."""
    return jax.jit(lambda a: a.sum(0), out_shardings=NamedSharding(mesh, PartitionSpec()))


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
    import scipy.linalg as sla  # on first use: `import kernel_sd` loads no SciPy

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
    import scipy.linalg as sla  # on first use: `import kernel_sd` loads no SciPy

    S, U = sla.eigh(0.5 * (C + C.T), driver="evd", check_finite=False)
    return jnp.asarray(S[::-1]), jnp.asarray(U[:, ::-1])


@jax.jit
def _small_eigh(C: Array) -> tuple[Array, Array]:
    """Eigenpairs of the symmetrised ``m × m`` matrix ``C``, descending."""
    S, U = jnp.linalg.eigh(0.5 * (C + C.T))
    return S[::-1], U[:, ::-1]
