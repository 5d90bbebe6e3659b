"""Row-block engine: every O(n·m) pass over the training points, on one or many devices.

The low-rank and matrix-free paths never hold an ``n × n`` (or ``n × m``) kernel
matrix. They sweep the ``n`` rows of ``X`` in blocks of ``b`` rows, and each block
either produces its rows of the output (Gram tiles ``k(X_b, Z)``, ``k(X_b, Z) M``,
the rows of ``G Q``) or adds a term to a sum (``K_mn K_nm``, ``K_mn y``). Working
memory is one block, ``O(b · m)``.

Two engines:

- :func:`row_map` / :func:`row_sum` compile the whole sweep as one program
  (a ``lax.map`` / ``lax.scan`` over the blocks): for block functions without a
  kernel-times-matrix product, such as the Gram tiles;
- :func:`tile_map` / :func:`tile_sum`, for kernel tiles that feed a matrix
  product: each step evaluates the tile ``k(A_b, B)`` in one compiled program
  and consumes it (``k(A_b, B) M``, ``Σ term``) in a second one, with a host
  loop over the steps. XLA cannot fuse across programs, so no kernel evaluation
  ever runs inside a GEMM's tile loops. Inside one program XLA-CPU (jax 0.10)
  fuses the whole chain "distances, exp, dot" into one kernel that re-evaluates
  the kernel entries for every output tile when the output block is square —
  about 1 GFLOP/s, 10–15x slower — and ``lax.optimization_barrier`` does not
  prevent it (it is removed before fusion). Every tile has the same shape (the
  last one padded), so a sweep compiles its two programs once.

With several devices the blocks are split over a 1-D mesh (axis ``"rows"``) with
``jax.shard_map``; the per-block computation is the same function, the shared
arguments are replicated, and sums are added over the devices at the end. Maps
therefore return the same numbers as on one device; sums the same up to the
order of the final additions (round-off).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

_AXIS = "rows"


def as_devices(devices) -> tuple:
    """``devices`` as a tuple; ``None`` means every device of the default backend."""
    devices = tuple(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("`devices` is empty; pass None to use jax.devices().")
    return devices


def _pad_blocks(rows: tuple, n: int, block: int, n_dev: int):
    """Rows padded to whole blocks per device, reshaped ``(n_blocks, block, ...)``.

    Padding repeats the first row (always a valid input); the returned 0/1 mask
    ``(n_blocks, block)`` marks the real rows.
    """
    n_blocks = -(-n // block)
    n_blocks = -(-n_blocks // n_dev) * n_dev
    pad = n_blocks * block - n

    def one(a):
        a = jnp.concatenate([a, jnp.broadcast_to(a[:1], (pad,) + a.shape[1:])])
        return a.reshape((n_blocks, block) + a.shape[1:])

    mask = (jnp.arange(n_blocks * block) < n).reshape(n_blocks, block)
    return tuple(one(a) for a in rows), mask


def _unpad(out, n: int):
    """Stacked ``(n_blocks, block, ...)`` outputs back to their first ``n`` rows."""
    return jax.tree.map(lambda a: a.reshape((-1,) + a.shape[2:])[:n], out)


@functools.lru_cache(maxsize=64)
def _compiled(fn: Callable, reduce: bool, devices: tuple | None, block: int):
    """The jitted sweep of ``fn`` over row blocks of ``block`` rows.

    On one device (``devices is None``) padding, the sweep and un-padding are one
    compiled program, so a new input shape costs one compilation. With several
    devices the padded blocks are placed on the mesh first (see :func:`_sweep`).
    """

    def local(blocks, mask, shared):
        if reduce:

            def add(acc, item):
                rows_b, mask_b = item
                term = fn(rows_b, mask_b.astype(rows_b[0].dtype), shared)
                return jax.tree.map(jnp.add, acc, term), None

            first = jax.tree.map(lambda a: a[0], blocks), mask[0]
            zero = jax.tree.map(
                jnp.zeros_like, fn(first[0], first[1].astype(first[0][0].dtype), shared)
            )
            total, _ = jax.lax.scan(add, zero, (blocks, mask))
            return total if devices is None else jax.lax.psum(total, _AXIS)
        return jax.lax.map(lambda rows_b: fn(rows_b, shared), blocks)

    if devices is None:

        def whole(rows, shared):
            n = rows[0].shape[0]
            blocks, mask = _pad_blocks(rows, n, block, 1)
            out = local(blocks, mask, shared)
            return out if reduce else _unpad(out, n)

        return None, jax.jit(whole)
    mesh = Mesh(np.asarray(devices, dtype=object), (_AXIS,))
    sharded = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P(_AXIS), P(_AXIS), P()),
        out_specs=P() if reduce else P(_AXIS),
    )
    return mesh, jax.jit(sharded)


_pad_jit = jax.jit(_pad_blocks, static_argnums=(1, 2, 3))
_unpad_jit = jax.jit(_unpad, static_argnums=1)


def _sweep(fn, rows, shared, block_size: int, devices, reduce: bool):
    rows = tuple(rows)
    n = rows[0].shape[0]
    block = int(min(block_size, n))
    devices = None if devices is None or len(devices) == 1 else tuple(devices)
    mesh, run = _compiled(fn, reduce, devices, block)
    if mesh is None:
        return run(rows, shared)
    blocks, mask = _pad_jit(rows, n, block, len(devices))
    blocks = jax.device_put(blocks, NamedSharding(mesh, P(_AXIS)))
    mask = jax.device_put(mask, NamedSharding(mesh, P(_AXIS)))
    shared = jax.device_put(shared, NamedSharding(mesh, P()))
    out = run(blocks, mask, shared)
    return out if reduce else _unpad_jit(out, n)


def row_map(
    fn: Callable, rows: tuple[Array, ...], shared, *, block_size: int, devices=None
):
    """Stack ``fn(rows_b, shared)`` over row blocks ``rows_b`` of the arrays ``rows``.

    ``fn`` must be a hashable function (module level or a ``functools.partial``
    of one) returning ``(b, ...)`` arrays; padding rows are dropped. ``devices``:
    ``None`` or one device runs a ``lax.map`` on the default device; several
    shard the blocks over them.
    """
    return _sweep(fn, rows, shared, block_size, devices, reduce=False)


def row_sum(
    fn: Callable, rows: tuple[Array, ...], shared, *, block_size: int, devices=None
):
    """``Σ_b fn(rows_b, w_b, shared)`` over row blocks, ``w_b`` the 0/1 row mask.

    ``fn`` must weight its rows by ``w_b`` (padding rows have weight 0) and
    return a pytree of fixed shapes; sums are accumulated block by block in the
    dtype of the rows.
    """
    return _sweep(fn, rows, shared, block_size, devices, reduce=True)


# ----------------------------------------------------------------------------
# kernel tiles consumed by a second program (no kernel evaluation inside a GEMM)

_IN_FLIGHT = 2
"""Tiles dispatched ahead of the host loop before it waits (bounds tile memory)."""


@jax.jit
def evaluate(kernel, X: Array, Z: Array) -> Array:
    """``kernel(X, Z)`` as one compiled program of its own (no product inside).

    Compiled once per kernel class, static fields and shapes: the small
    evaluations that guard every public call (a probe of one row, the ``8 × 8``
    fingerprint of a spectrum) cost microseconds instead of dispatching the
    kernel's operations one by one (about 1 ms); a kernel tile consumed by a
    product elsewhere is never fused into it (``kernel_sd.spectra._products``);
    and :func:`tile_map` reads a tile's shape from its cached trace.
    """
    return kernel(X, Z)


def _tile(kernel, blocks: Array, B: Array, i) -> Array:
    """The tile ``k(A_i, B)`` of row block ``i``: the only kernel evaluation of a step."""
    return kernel(blocks[i], B)


def _tile_transposed(kernel, blocks: Array, B: Array, i) -> Array:
    """``k(A_i, B)ᵀ``: sums of ``Kᵀ X`` products then run as ``(Kᵀ) X``, a plain
    GEMM; XLA-CPU multiplies a transposed left operand 2–3x slower."""
    return kernel(blocks[i], B).T


def _step(term, reduce: bool, out, K, mask, rows, shared, i):
    """Consume tile ``K`` of block ``i``: write ``term`` into ``out[i]`` or add it."""
    rows_i = jax.tree.map(lambda a: a[i], rows)
    val = term(K, mask[i].astype(K.dtype), rows_i, shared)
    if reduce:
        return jax.tree.map(lambda o, v: o + v[None].astype(o.dtype), out, val)
    return jax.tree.map(
        lambda o, v: jax.lax.dynamic_update_index_in_dim(o, v.astype(o.dtype), i, 0),
        out,
        val,
    )


@functools.lru_cache(maxsize=64)
def _tile_programs(
    term: Callable, reduce: bool, devices: tuple | None, transpose: bool = False
):
    """The two compiled programs of a tile sweep (and the mesh with several devices).

    Program 1 evaluates one tile per device (transposed with ``transpose``);
    program 2 (its output buffer donated) consumes it. With several devices both
    are ``shard_map``-ed over the mesh: each device takes its own block ``i`` of
    its share of the rows. Last, ``term`` jitted alone: the shapes of its output
    come from its cached trace (``eval_shape``), not a new trace per sweep.
    """
    step = functools.partial(_step, term, reduce)
    tile = _tile_transposed if transpose else _tile
    if devices is None:
        return None, jax.jit(tile), jax.jit(step, donate_argnums=0), jax.jit(term)
    mesh = Mesh(np.asarray(devices, dtype=object), (_AXIS,))
    tile_spec = P(None, _AXIS) if transpose else P(_AXIS)
    tile = jax.shard_map(
        tile, mesh=mesh, in_specs=(P(), P(_AXIS), P(), P()), out_specs=tile_spec
    )
    consume = jax.shard_map(
        step,
        mesh=mesh,
        in_specs=(P(_AXIS), tile_spec, P(_AXIS), P(_AXIS), P(), P()),
        out_specs=P(_AXIS),
    )
    return mesh, jax.jit(tile), jax.jit(consume, donate_argnums=0), jax.jit(term)


_sum_devices = jax.jit(lambda acc: jax.tree.map(lambda a: jnp.sum(a, axis=0), acc))


def _tile_sweep(
    kernel, A, B, term, rows, shared, block_size, devices, reduce, transpose=False
):
    n = A.shape[0]
    block = int(min(block_size, n))
    devices = None if devices is None or len(devices) == 1 else tuple(devices)
    n_dev = 1 if devices is None else len(devices)
    mesh, tile, consume, term_jit = _tile_programs(term, reduce, devices, transpose)
    if devices is None and 0 < n <= block_size:
        # One tile: the term reads it directly (no padding, no output buffer to
        # update and no reassembly: about 1 ms less at n = 500).
        K = tile(kernel, A[None], B, 0)
        return term_jit(K, jnp.ones((n,), K.dtype), rows, shared)
    (blocks, *rows), mask = _pad_jit((A, *rows), n, block, n_dev)
    rows = tuple(rows)
    steps = blocks.shape[0] // n_dev

    # The shape of one step's term, from abstract evaluation (nothing is computed;
    # both traces are cached by jit).
    def abstract(a):
        return jax.ShapeDtypeStruct(a.shape[1:], a.dtype)

    K = evaluate.eval_shape(kernel, abstract(blocks), B)
    if transpose:
        K = jax.ShapeDtypeStruct(K.shape[::-1], K.dtype)
    w = jax.ShapeDtypeStruct((block,), K.dtype)
    val = term_jit.eval_shape(K, w, jax.tree.map(abstract, rows), shared)
    lead = (n_dev,) if reduce else (n_dev * steps,)
    out = jax.tree.map(lambda v: jnp.zeros(lead + v.shape, v.dtype), val)
    if mesh is not None:
        row_sharding = NamedSharding(mesh, P(_AXIS))
        blocks, mask, rows, out = jax.device_put(
            (blocks, mask, rows, out), row_sharding
        )
        kernel, B, shared = jax.device_put(
            (kernel, B, shared), NamedSharding(mesh, P())
        )
    pending = []
    for i in range(steps):  # async dispatch: the host runs ahead of the device
        K = tile(kernel, blocks, B, i)
        out = consume(out, K, mask, rows, shared, i)
        if not isinstance(K, jax.core.Tracer):  # under a caller's jit: nothing runs yet
            pending.append(K)
        if len(pending) > _IN_FLIGHT:
            pending.pop(0).block_until_ready()
    if reduce:
        return _sum_devices(out)
    return _unpad_jit(out, n)


def tile_map(
    kernel,
    A: Array,
    B: Array,
    term: Callable,
    *,
    rows: tuple[Array, ...] = (),
    shared=(),
    block_size: int,
    devices=None,
):
    """Stack ``term(k(A_b, B), w_b, rows_b, shared)`` over row blocks ``A_b`` of ``A``.

    The tile ``k(A_b, B)`` and ``term`` run as two separate compiled programs
    (see the module docstring). ``term`` must be hashable (module level) and
    return ``(b, ...)`` arrays; ``w_b`` is the 0/1 mask of real rows, ``rows``
    are arrays with the rows of ``A`` (blocked alike) and ``shared`` is passed
    whole. Padding rows are dropped. ``devices`` as in :func:`row_map`.
    """
    return _tile_sweep(
        kernel, A, B, term, tuple(rows), shared, block_size, devices, False
    )


def tile_sum(
    kernel,
    A: Array,
    B: Array,
    term: Callable,
    *,
    rows: tuple[Array, ...] = (),
    shared=(),
    block_size: int,
    devices=None,
    transpose: bool = False,
):
    """``Σ_b term(k(A_b, B), w_b, rows_b, shared)`` over row blocks ``A_b`` of ``A``.

    As :func:`tile_map`, but ``term`` returns a pytree of fixed shapes and must
    weight its rows by ``w_b`` (padding rows have weight 0). With several devices
    each accumulates its own sum and the sums are added at the end. With
    ``transpose`` the term receives ``k(A_b, B)ᵀ`` (``(|B|, b)``), for sums of
    ``k(A_b, B)ᵀ X`` products.
    """
    return _tile_sweep(
        kernel, A, B, term, tuple(rows), shared, block_size, devices, True, transpose
    )
