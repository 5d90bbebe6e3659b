"""Eigendecomposition of the scaled Gram matrix, with its noise floor and rank.

Every procedure in kernel-sd is a spectral filter (see ``filters``), so the one
factorisation it needs is ``G = k(X, X)/K = V diag(d) Vᵀ`` with ``K = n``.
:func:`spectrum` computes it once; every round, ε, ``lam`` and time reuses it.

Numerical rules (design notes, "Numerical rules"):

- eigenvalues below the noise floor ``K · eps_machine · d_max`` are numerically
  zero: they are set to exactly 0 and counted in ``Spectrum.n_clamped``;
- a raw eigenvalue below ``−floor`` means the matrix is not positive
  semi-definite beyond round-off, and is an error;
- float32 with an ill-conditioned spectrum triggers a warning to enable x64.

Large n: the exact path needs ``~3 n²`` numbers (a guard refuses past
``max_memory_gb``); :func:`nystrom_spectrum` is the low-rank path, the exact
eigendecomposition of a Nyström approximation in ``O(n·m)`` memory, and
:func:`kernel_sd.lanczos_spectrum` the matrix-free one, the top of the exact
spectrum from tiled products ``G Q``. Every pass over the training points runs
on the row-block engine of ``kernel_sd._blocks`` (sharded over devices).
"""

from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from kernel_sd import _validate
from kernel_sd._blocks import as_devices, row_map, row_sum
from kernel_sd.kernels import DEFAULT_BLOCK_SIZE, Kernel, check_kernel_inputs, gram

__all__ = [
    "Spectrum",
    "spectrum",
    "spectrum_from_gram",
    "spectrum_from_eigen",
    "features",
    "nystrom_spectrum",
    "KernelEigvecs",
    "expand",
    "ACCUMULATE_METHODS",
    "LANDMARK_METHODS",
    "DEFAULT_MAX_MEMORY_GB",
]

DEFAULT_MAX_MEMORY_GB = 8.0
"""Memory the exact path may use (Gram + eigenvectors + LAPACK workspace)."""

_EXPLICIT_VECTORS_GB = 1.0
"""``vectors="auto"`` stores Nyström eigenvectors up to this size, else keeps them implicit."""

_FLOAT32_MAX_CONDITION = 1e4
"""Condition number past which float32 loses more than ~3 of its 7 digits."""


@partial(
    jax.tree_util.register_dataclass,
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
    ],
    meta_fields=["complete"],
)
@dataclasses.dataclass(frozen=True)
class Spectrum:
    """Eigendecomposition ``G = k(X, X)/K = V diag(d) Vᵀ`` (descending ``d``)."""

    eigvals: Array
    """(r,) eigenvalues ``d_k`` of ``G``, descending; those below the floor are 0."""
    eigvecs: Array
    """(K, r) orthonormal eigenvectors ``V`` (columns), ordered like ``eigvals``."""
    noise_floor: Array
    """() ``K · eps_machine · d_max``: eigenvalues below it are numerically zero."""
    n_clamped: Array
    """() number of eigenvalues below the floor: set to 0 (exact), left out (Nyström)."""
    min_raw_eigval: Array
    """() smallest eigenvalue returned by ``eigh`` before clamping."""
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

    @property
    def n_train(self) -> int:
        """``K``, the number of training points."""
        return self.eigvecs.shape[0]

    @property
    def rank(self) -> Array:
        """Numerical rank: the number of eigenvalues above the noise floor."""
        return jnp.sum(self.eigvals > 0)

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
        d_min = jnp.min(jnp.where(d > 0, d, jnp.inf))
        return d[0] / d_min


def _kernel_diagonal(kernel: Kernel, X: Array) -> Array:
    """``(n,)`` the diagonal ``k(x_i, x_i)``, one point at a time (never ``n × n``)."""
    return jax.vmap(lambda x: kernel(x[None, :], x[None, :])[0, 0])(X)


@jax.jit
def _kernel_trace(kernel: Kernel, X: Array) -> Array:
    """``tr G = Σ_i k(x_i, x_i) / K`` without forming ``G``."""
    return jnp.sum(_kernel_diagonal(kernel, X)) / X.shape[0]


def _noise_floor(n: int, d_max: Array) -> Array:
    """``K · eps_machine · d_max``: eigenvalues below it are numerically zero."""
    return n * jnp.finfo(d_max.dtype).eps * jnp.maximum(d_max, 0.0)


def _clamped(d: Array, V: Array, *, complete: bool) -> Spectrum:
    """A :class:`Spectrum` from descending eigenpairs, eigenvalues under the floor set to 0."""
    floor = _noise_floor(V.shape[0], d[0])
    keep = d > floor
    return Spectrum(
        eigvals=jnp.where(keep, d, 0.0),
        eigvecs=V,
        noise_floor=floor,
        n_clamped=jnp.sum(~keep),
        min_raw_eigval=d[-1],
        complete=complete,
    )


@jax.jit
def _eigh_core(K_xx: Array) -> Spectrum:
    """Clamped spectrum of ``G = K_xx / K`` from the unscaled Gram matrix ``K_xx``."""
    G = (0.5 / K_xx.shape[0]) * (K_xx + K_xx.T)
    raw, vecs = jnp.linalg.eigh(G)
    return _clamped(raw[::-1], vecs[:, ::-1], complete=True)


def _check_memory(n: int, itemsize: int, max_memory_gb: float) -> None:
    # Gram, eigenvectors and the eigensolver's workspace: about three n x n arrays.
    need_gb = 3.0 * n * n * itemsize / 2**30
    if need_gb > max_memory_gb:
        raise ValueError(
            f"The exact spectrum of n={n} points needs about {need_gb:.1f} GiB "
            f"(three {n}x{n} arrays), over `max_memory_gb`={max_memory_gb:g}. "
            "Use the low-rank path, nystrom_spectrum(kernel, X, m=...) (memory "
            "O(n·m)), the matrix-free top of the spectrum, lanczos_spectrum(kernel, "
            "X, k=...), subsample the data, or raise `max_memory_gb` if the memory "
            "is there."
        )


def _finish(spec: Spectrum) -> Spectrum:
    """Host-side checks on a freshly computed spectrum: PSD and float32 conditioning."""
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
            warnings.warn(
                f"float32 spectrum is ill-conditioned (condition number {kappa:.2e}, "
                f"{int(spec.n_clamped)} eigenvalues below the noise floor); results "
                "may lose most of their digits. Enable x64: "
                "jax.config.update('jax_enable_x64', True).",
                stacklevel=3,
            )
    return spec


def spectrum(
    kernel: Kernel,
    X: Array,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    max_memory_gb: float = DEFAULT_MAX_MEMORY_GB,
) -> Spectrum:
    """Eigendecomposition of ``G = k(X, X)/K`` (the papers' scaling, ``K = n``).

    ``G = V diag(d) Vᵀ`` with ``d`` descending. Eigenvalues below the noise floor
    ``K · eps · d_max`` are set to 0 and counted (``n_clamped``).

    Args:
        kernel: a kernel from ``kernel_sd.kernels``.
        X: ``(n, p)`` training inputs.
        block_size: rows per block when building the Gram matrix.
        max_memory_gb: refuse (with a clear error) when the exact path would need
            more memory than this; the exact path needs ``~3 n²`` numbers.

    Returns:
        A :class:`Spectrum`.

    Raises:
        ValueError: bad ``X``; too large for ``max_memory_gb``; a Gram matrix
            that is not positive semi-definite beyond round-off.

    Examples:
        >>> import jax.numpy as jnp, kernel_sd as ksd
        >>> X = jnp.linspace(0.0, 1.0, 5)[:, None]
        >>> spec = ksd.spectrum(ksd.kernels.Linear(), X)
        >>> int(spec.rank)  # x·z on 1-D inputs has rank 1
        1
    """
    X = _validate.inputs("X", X)
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    _check_memory(X.shape[0], X.dtype.itemsize, max_memory_gb)
    G = gram(kernel, X, block_size=block_size)
    return _finish(_eigh_core(G))


def spectrum_from_gram(
    G: Array, *, max_memory_gb: float = DEFAULT_MAX_MEMORY_GB
) -> Spectrum:
    """Spectrum of a user-supplied unscaled Gram matrix ``k(X, X)`` (divided by ``K``).

    Args:
        G: ``(K, K)`` symmetric positive semi-definite matrix ``k(x_i, x_j)``.
        max_memory_gb: as in :func:`spectrum`.

    Raises:
        ValueError: not square, not finite, not symmetric or not PSD beyond
            round-off.
    """
    G = _validate.square_matrix("G", G)
    n = G.shape[0]
    scale = float(jnp.max(jnp.abs(G)))
    asym = float(jnp.max(jnp.abs(G - G.T)))
    if asym > 100 * n * float(jnp.finfo(G.dtype).eps) * max(scale, 1e-300):
        raise ValueError(
            f"`G` is not symmetric beyond round-off (max |G - G^T| = {asym:.3e}); "
            "pass (G + G.T) / 2 if the asymmetry is expected."
        )
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    _check_memory(n, G.dtype.itemsize, max_memory_gb)
    return _finish(_eigh_core(G))


def features(
    kernel: Kernel,
    X: Array,
    X_new: Array,
    spec: Spectrum,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
) -> Array:
    """New points in the eigenbasis: row ``i`` is ``g_{x_i}ᵀ V`` with ``g_x = k(x, X)/K``.

    Any spectral fit predicts at new points as ``f(x) = g_xᵀ V diag(1/(c + d)) Vᵀ y``,
    so this ``(m, r)`` matrix, computed once, serves every round and
    hyper-parameter.

    Args:
        kernel: the kernel the spectrum was computed with.
        X: ``(K, p)`` training inputs of ``spec``.
        X_new: ``(m, p)`` new inputs.
        spec: the spectrum of ``k(X, X)/K``. For a Nyström spectrum (from
            :func:`nystrom_spectrum`) the rows are ``g̃_xᵀ V`` with the Nyström
            kernel ``g̃_x = k(x, Z) K_mm^+ K_mn / K``, computed as ``k(x, Z) P``.
            For a Lanczos spectrum (top ``k`` of the exact ``G``) they are
            ``g_xᵀ V_k``: the new-point predictions of the rank-``k`` fit, equal
            to its training predictions at the training points (``G V_k = V_k D_k``
            up to ``residuals``).
        block_size: rows of ``X_new`` per block of the cross-Gram matrix
            (memory ``O(block_size · K)``, the ``(m, K)`` matrix is never stored).
    """
    X_new = _validate.inputs("X_test", X_new)
    if X_new.shape[1] != X.shape[1]:
        raise ValueError(
            f"`X_test` has {X_new.shape[1]} features but `X` has {X.shape[1]}."
        )
    if spec.landmarks is not None:
        # Nyström spectrum: g̃_x = k(x, Z) K_mm^+ K_mn / K, so g̃_xᵀ V = k(x, Z) P
        # (see nystrom_spectrum); never k(x, X), which belongs to the exact G.
        shared = (kernel, spec.landmarks, spec.landmark_map)
    else:
        shared = (kernel, jnp.asarray(X, spec.eigvals.dtype), spec.eigvecs / X.shape[0])
    # Row blocks of X_new: the (m, K) cross-Gram matrix is never stored.
    return row_map(
        _cross_matmul, (X_new.astype(X.dtype),), shared, block_size=block_size
    )


def spectrum_from_eigen(eigvals: Array, eigvecs: Array) -> Spectrum:
    """A :class:`Spectrum` from a given eigendecomposition of ``G = k(X, X)/K``.

    Useful for planted problems (a chosen spectrum and eigenbasis) and for
    factorisations computed elsewhere. Eigenpairs are sorted descending, the
    noise floor ``K · eps · d_max`` is applied as in :func:`spectrum`, and the
    spectrum is *complete* when ``eigvecs`` is square.

    Args:
        eigvals: ``(r,)`` eigenvalues, ``>= −floor``.
        eigvecs: ``(K, r)`` matrix with orthonormal columns.
    """
    d = jnp.asarray(eigvals)
    V = jnp.asarray(eigvecs)
    if (
        d.ndim != 1
        or V.ndim != 2
        or V.shape[1] != d.shape[0]
        or V.shape[0] < d.shape[0]
    ):
        raise ValueError(
            f"`eigvals` (r,) and `eigvecs` (K, r) with K >= r are required, got "
            f"shapes {d.shape} and {V.shape}."
        )
    if not (_validate.all_finite(eigvals) and _validate.all_finite(eigvecs)):
        raise ValueError("`eigvals` / `eigvecs` contain NaN or inf.")
    dtype = jnp.result_type(d.dtype, V.dtype, jnp.float32)
    spec, gram_err = _sorted_eigen(
        d.astype(dtype), V.astype(dtype), complete=V.shape[0] == V.shape[1]
    )
    gram_err = float(gram_err)
    if gram_err > 1e3 * V.shape[0] * float(jnp.finfo(dtype).eps):
        raise ValueError(
            f"`eigvecs` columns are not orthonormal (max |VᵀV − I| = {gram_err:.2e}); "
            "orthonormalise them, e.g. with jnp.linalg.qr."
        )
    return _finish(spec)


@partial(jax.jit, static_argnames="complete")
def _sorted_eigen(d: Array, V: Array, *, complete: bool) -> tuple[Spectrum, Array]:
    """Eigenpairs sorted descending and clamped, with ``max |VᵀV − I|``."""
    order = jnp.argsort(-d)
    d, V = d[order], V[:, order]
    gram_err = jnp.max(jnp.abs(V.T @ V - jnp.eye(V.shape[1], dtype=V.dtype)))
    return _clamped(d, V, complete=complete), gram_err


LANDMARK_METHODS = ("pivoted", "uniform")
"""Landmark choices of :func:`nystrom_spectrum`."""


@partial(jax.jit, static_argnames=("m",))
def _pivoted_cholesky_pivots(kernel: Kernel, X: Array, m: int) -> tuple[Array, Array]:
    """Greedy diagonal-pivoted partial Cholesky of ``k(X, X)``: pivots and residual.

    Step ``j`` picks ``i = argmax diag(R_j)`` of the residual ``R_j = k(X, X) − Fᵀ F``
    and appends the row ``f = (k(x_i, X) − F[:, i]ᵀ F) / sqrt(R_j[i, i])``. Only the
    ``(m, n)`` factor ``F`` and the residual diagonal are stored: ``O(n·m)`` memory,
    ``O(n·m²)`` work, one kernel row ``k(x_i, X)`` per step.
    """
    n = X.shape[0]
    dtype = X.dtype
    diag = _kernel_diagonal(kernel, X)
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
    _, d, piv = jax.lax.fori_loop(0, m, step, (F0, diag, piv0))
    return piv, jnp.where(jnp.isfinite(d), d, 0.0)


ACCUMULATE_METHODS = ("factor", "gram")
"""How :func:`nystrom_spectrum` accumulates its ``m × m`` matrix over the ``n`` rows."""


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


def _factor_term(rows, w, shared):
    """Upper block triangle of ``(K_bm L)ᵀ (K_bm L)`` (padding rows weighted 0)."""
    (Xb,), (kernel, Z, L) = rows, shared
    return _sym_gram((kernel(Xb, Z) @ L) * w[:, None])


def _gram_term(rows, w, shared):
    """Upper block triangle of ``K_bmᵀ K_bm`` (padding rows weighted 0)."""
    (Xb,), (kernel, Z) = rows, shared
    return _sym_gram(kernel(Xb, Z) * w[:, None])


def _cross_matmul(rows, shared):
    """Rows ``k(X_b, Z) A`` of ``k(X, Z) A``."""
    (Xb,), (kernel, Z, A) = rows, shared
    return kernel(Xb, Z) @ A


def _cross_rmatmul(rows, w, shared):
    """``k(X_b, Z)ᵀ y_b``, one term of ``k(Z, X) y``."""
    (Xb, yb), (kernel, Z) = rows, shared
    return kernel(Xb, Z).T @ (yb * w[:, None])


@jax.jit
def _landmark_factor(kernel: Kernel, Z: Array) -> tuple[Array, Array, Array]:
    """``L = Q Λ^{-1/2}`` on the numerical range of ``K_mm = k(Z, Z)``, so ``K_mm^+ = L Lᵀ``."""
    Kmm = kernel(Z, Z)
    m = Kmm.shape[0]
    lam, Q = jnp.linalg.eigh(0.5 * (Kmm + Kmm.T))
    # Same noise-floor rule as the exact path, on K_mm: eigenvalues below
    # m · eps · λ_max are numerically zero and left out of the pseudo-inverse.
    keep = lam > _noise_floor(m, lam[-1])
    inv_sqrt = jnp.where(keep, 1.0 / jnp.sqrt(jnp.where(keep, lam, 1.0)), 0.0)
    return Q * inv_sqrt[None, :], jnp.max(inv_sqrt) ** 2, jnp.sum(~keep)


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
    S, U = jnp.linalg.eigh(0.5 * (C + C.T))
    return S[::-1], U[:, ::-1]


def _nystrom_core(kernel, X, Z, block, accumulate, devices):
    """``L`` (``K_mm^+ = L Lᵀ``), the eigenpairs of ``C = Lᵀ K_mn K_nm L / K`` and
    the relative round-off level ``ρ`` of ``C`` (1 for ``"factor"``)."""
    n = X.shape[0]
    L, inv_min, _ = _landmark_factor(kernel, Z)
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
    if accumulate == "gram":
        rho = jnp.maximum(rho / jnp.maximum(S[0], jnp.finfo(S.dtype).tiny), 1.0)
    return L, S, U, rho


@partial(
    jax.tree_util.register_dataclass,
    data_fields=["kernel", "X", "landmarks", "coef"],
    meta_fields=["block_size", "devices"],
)
@dataclasses.dataclass(frozen=True)
class KernelEigvecs:
    """Eigenvectors ``V = k(X, Z) M`` of a Nyström spectrum, never stored.

    The ``(K, r)`` matrix would need ``K · r`` numbers (32 GB at ``K = 10⁶``,
    ``r = 4000`` in float64); this stands in for it with the two products the
    rounds need, each one pass over ``X`` in row blocks:

    - ``V @ A = k(X, Z) (M A)``, for ``(r,)`` or ``(r, q)`` ``A``;
    - ``V.T @ y = Mᵀ k(Z, X) y``, for ``(K,)`` or ``(K, q)`` ``y``.

    :meth:`materialize` builds the array when it is wanted.
    """

    kernel: Kernel
    X: Array
    """(K, p) training inputs."""
    landmarks: Array
    """(m, p) landmarks ``Z``."""
    coef: Array
    """(m, r) ``M``."""
    block_size: int = DEFAULT_BLOCK_SIZE
    devices: tuple | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return (self.X.shape[0], self.coef.shape[1])

    @property
    def dtype(self):
        return self.coef.dtype

    @property
    def ndim(self) -> int:
        return 2

    @property
    def T(self) -> _TransposedEigvecs:
        return _TransposedEigvecs(self)

    def __matmul__(self, A) -> Array:
        A = jnp.asarray(A, self.dtype)
        vec = A.ndim == 1
        out = row_map(
            _cross_matmul,
            (self.X,),
            (self.kernel, self.landmarks, self.coef @ (A[:, None] if vec else A)),
            block_size=self.block_size,
            devices=self.devices,
        )
        return out[:, 0] if vec else out

    def materialize(self) -> Array:
        """The ``(K, r)`` array ``V`` (memory ``K · r`` numbers)."""
        return self @ jnp.eye(self.coef.shape[1], dtype=self.dtype)

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            "These Nyström eigenvectors are implicit (V = k(X, Z) M, never stored); "
            "call .materialize() for the (K, r) array, or use `V @ A` / `V.T @ y`."
        )


@dataclasses.dataclass(frozen=True)
class _TransposedEigvecs:
    """``Vᵀ`` of :class:`KernelEigvecs`: supports ``Vᵀ @ y`` only."""

    V: KernelEigvecs

    def __matmul__(self, y) -> Array:
        V = self.V
        y = jnp.asarray(y, V.dtype)
        vec = y.ndim == 1
        Ky = row_sum(
            _cross_rmatmul,
            (V.X, y[:, None] if vec else y),
            (V.kernel, V.landmarks),
            block_size=V.block_size,
            devices=V.devices,
        )
        out = V.coef.T @ Ky
        return out[:, 0] if vec else out


def expand(V, coords: Array) -> Array:
    """``V`` applied to the eigen-coordinates ``coords`` of shape ``(..., r, q)``.

    Returns ``(..., K, q)``: the function values ``V a`` for every leading index,
    in one product (one pass over ``X`` for implicit :class:`KernelEigvecs`).
    """
    if isinstance(V, KernelEigvecs):
        return _expand(V, coords)
    return _expand_array(V, coords)


def _expand(V, coords: Array) -> Array:
    *lead, r, q = coords.shape
    flat = jnp.moveaxis(coords.reshape(-1, r, q), 1, 0).reshape(r, -1)
    out = (V @ flat).reshape(V.shape[0], -1, q)
    return jnp.moveaxis(out, 1, 0).reshape(*lead, V.shape[0], q)


_expand_array = jax.jit(_expand)


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
    null-space energy of ``G̃`` (see ``solvers.targets_in_eigenbasis``), so
    :func:`kernel_sd.self_distill` and :func:`kernel_sd.distill_from_spectrum`
    run the exact rounds of the kernel ``k̃(x, x') = k(x, Z) K_mm^+ k(Z, x')``.
    Predictions at new points use that same kernel: :func:`features` computes
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
    X = check_kernel_inputs(kernel, X)
    n = X.shape[0]
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or not 1 <= m <= n:
        raise ValueError(
            f"`m` (number of landmarks) must be an integer with 1 <= m <= n = {n}, "
            f"got {m!r}; m = n reproduces the exact spectrum, use spectrum() for that."
        )
    if landmarks not in LANDMARK_METHODS:
        raise ValueError(
            f"`landmarks` must be one of {', '.join(map(repr, LANDMARK_METHODS))}, "
            f"got {landmarks!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"`seed` must be an integer, got {seed!r}.")
    if isinstance(block_size, bool) or not (
        isinstance(block_size, (int, np.integer)) and block_size >= 1
    ):
        raise ValueError(
            f"`block_size` must be a positive integer, got {block_size!r}."
        )
    if accumulate not in ACCUMULATE_METHODS:
        raise ValueError(
            f"`accumulate` must be one of {', '.join(map(repr, ACCUMULATE_METHODS))}, "
            f"got {accumulate!r}."
        )
    if vectors not in ("auto", "explicit", "implicit"):
        raise ValueError(
            f"`vectors` must be 'auto', 'explicit' or 'implicit', got {vectors!r}."
        )
    max_memory_gb = _validate.positive_scalar("max_memory_gb", max_memory_gb)
    m = int(m)
    block = int(min(block_size, n))
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
        idx, _ = _pivoted_cholesky_pivots(kernel, X, m)
    else:
        idx = np.sort(np.random.default_rng(int(seed)).choice(n, m, replace=False))
    Z = jnp.take(X, jnp.asarray(idx), axis=0)
    L, S, U, rho = _nystrom_core(kernel, X, Z, block, accumulate, devices)
    if not np.isfinite(np.asarray(S)).all():
        raise ValueError(
            "The Nyström factorisation produced NaN/inf; the kernel matrix has "
            "non-finite entries (check the kernel's hyper-parameters and inputs)."
        )
    floor = rho * _noise_floor(n, S[0])
    r = int(np.sum(np.asarray(S) > float(floor)))
    if r == 0:
        raise ValueError(
            "The Nyström approximation of k(X, X) is numerically zero (no "
            "eigenvalue above the noise floor); check the kernel and the inputs."
        )
    coef, P = _nystrom_maps(L, S, U, r, n)
    V = KernelEigvecs(
        kernel=kernel,
        X=X,
        landmarks=Z,
        coef=coef,
        block_size=block,
        devices=devices if len(devices) > 1 else None,
    )
    vectors_gb = n * r * X.dtype.itemsize / 2**30
    if vectors == "explicit" or (
        vectors == "auto" and vectors_gb <= _EXPLICIT_VECTORS_GB
    ):
        V = V.materialize()
    return _finish(
        Spectrum(
            eigvals=S[:r],
            eigvecs=V,
            noise_floor=floor,
            n_clamped=jnp.asarray(m - r),
            min_raw_eigval=S[-1],
            complete=False,
            landmarks=Z,
            landmark_map=P,
            kernel_trace=_kernel_trace(kernel, X),
        )
    )


@partial(jax.jit, static_argnames=("r", "n"))
def _nystrom_maps(L: Array, S: Array, U: Array, r: int, n: int) -> tuple[Array, Array]:
    """``M`` (``V = k(X, Z) M``) and ``P`` (``g̃_xᵀ V = k(x, Z) P``) of the top ``r`` pairs."""
    S_r, LU = S[:r], L @ U[:, :r]
    scale = jnp.sqrt(jnp.asarray(n, L.dtype))
    return LU / (jnp.sqrt(S_r) * scale)[None, :], LU * (jnp.sqrt(S_r) / scale)[None, :]
