"""Planted bugs: each must be caught by at least two registered statements.

A statement that only checks a closed form against itself passes whatever the
closed form is; these tests plant four bugs in the library and require that the
statements of ``kernel-sd verify`` notice each one, at least one of them by
comparing two independent routes. The bugs are planted by replacing module
attributes for the duration of a ``with mutation(name):`` block:

- ``student_filter_h_T_squared``: the student of a teacher gets ``h(T')·h_T²``
  (an extra teacher factor) in ``filters.student`` and ``dynamics``;
- ``flow_time_doubled``: the gradient-flow filter uses time ``2t``;
- ``recursion_from_z0``: [MFB20] round ``t + 1`` fits ``D (c_t I + D)^{-1} z_0``
  (the original targets) instead of ``z_{t+1}``;
- ``multiplier_not_recomputed``: every round reuses ``c_0``.

Instances use one training-set size (K = 16), so every routine compiles once.
"""

import contextlib
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from kernel_sd import distill, dynamics, filters, theory
from kernel_sd.filters import ridge, ridge_rounds
from kernel_sd.solvers import multiplier_core
from tests.theory.conftest import ROUTES

INSTANCES = 3
"""Random instances per statement (each mutation is caught on the first in practice)."""

CATCHERS = {
    "student_filter_h_T_squared": (
        "nagarajan2023.ratio",
        "nagarajan2023.descent_vs_simulation",
        "nagarajan2023.flow_vs_simulation",
    ),
    "flow_time_doubled": (
        "nagarajan2023.ratio",
        "nagarajan2023.flow_vs_simulation",
        "nagarajan2023.denoising_monte_carlo",
    ),
    "recursion_from_z0": (
        "mobahi2020.target_norm_decreasing",
        "mobahi2020.collapse_round_bounds",
        "mobahi2020.dense_rounds",
    ),
    "multiplier_not_recomputed": (
        "mobahi2020.multiplier_bounds",
        "mobahi2020.multiplier_increasing",
        "mobahi2020.dense_rounds",
    ),
}
"""Per mutation, statements expected to catch it (the test needs two of them)."""


# --- the planted bugs ---------------------------------------------------------


def _bad_student(h_student, h_teacher, alpha=0.0):
    m = filters.label_mixing(h_teacher, alpha)
    return filters.compose(h_student, m, m)  # BUG: h(T') · h_T²


def _bad_label_mixing(h_teacher, alpha):
    m = filters.label_mixing(h_teacher, alpha)
    return m * m  # BUG: the descent student's targets get a second teacher factor


def _rounds(d, z0, s_perp0, floor, hyper, *, rounds, constrained, bug):
    """``distill._multipliers`` with one of the two [MFB20] bugs."""
    first = multiplier_core(d, jnp.sum(z0 * z0, axis=1), s_perp0, hyper, floor)

    def step(carry, _):
        z, s_perp = carry
        s = jnp.sum(z * z, axis=1)
        if bug == "multiplier_not_recomputed":
            c, status = first.c, first.status  # BUG: c_t = c_0 every round
        else:
            res = multiplier_core(d, s, s_perp, hyper, floor)
            c, status = res.c, res.status
        if not constrained:
            c, status = jnp.asarray(hyper, d.dtype), jnp.zeros((), jnp.int32)
        src = z0 if bug == "recursion_from_z0" else z  # BUG: from z_0, not z_t
        out = (c, status.astype(jnp.int32), s_perp + jnp.sum(s))
        return (ridge(d, c)[:, None] * src, jnp.zeros_like(s_perp)), out

    _, (c, status, norm2) = jax.lax.scan(step, (z0, s_perp0), None, length=rounds)
    return c, status, norm2


@partial(jax.jit, static_argnames=("rounds", "constrained", "batched", "bug"))
def _bad_core(d, z0, s_perp0, floor, hyper, rounds, constrained, batched, bug):
    fn = partial(_rounds, d, z0, s_perp0, floor, rounds=rounds,
                 constrained=constrained, bug=bug)  # fmt: skip
    c, status, norm2 = jax.vmap(fn)(hyper) if batched else fn(hyper)
    return c, status, norm2, ridge_rounds(d, c)


def _patches(name):
    if name == "student_filter_h_T_squared":
        return [(filters, "student", _bad_student), (dynamics, "student", _bad_student),
                (dynamics, "label_mixing", _bad_label_mixing)]  # fmt: skip
    if name == "flow_time_doubled":
        flow = filters.gradient_flow

        def doubled(d, t):
            return flow(d, 2.0 * jnp.asarray(t))  # BUG: time 2t

        return [
            (filters, "gradient_flow", doubled),
            (dynamics, "gradient_flow", doubled),
        ]
    if name in ("recursion_from_z0", "multiplier_not_recomputed"):
        return [(distill, "_rounds_core", partial(_bad_core, bug=name))]
    raise ValueError(name)


@contextlib.contextmanager
def mutation(name):
    """Plant the bug ``name`` (a key of :data:`CATCHERS`) while the block runs."""
    saved = [(mod, attr, getattr(mod, attr)) for mod, attr, _ in _patches(name)]
    try:
        for mod, attr, new in _patches(name):
            setattr(mod, attr, new)
        yield
    finally:
        for mod, attr, old in saved:
            setattr(mod, attr, old)


def flagged(statement: str, *, instances: int = INSTANCES, seed: int = 0) -> bool:
    """Whether ``statement`` reports a violation on one of ``instances`` random instances."""
    s = theory.get(statement)
    rng = np.random.default_rng([seed, 17])
    return any(
        not row.holds for _ in range(instances) for row in s.check(s.sample(rng))
    )


# --- tests --------------------------------------------------------------------


def test_the_unmutated_library_passes_every_catcher(one_size):
    names = sorted({n for names in CATCHERS.values() for n in names})
    assert [n for n in names if flagged(n)] == []


@pytest.mark.parametrize("name", sorted(CATCHERS))
def test_each_planted_bug_is_caught_by_two_statements(one_size, name):
    with mutation(name):
        caught = [n for n in CATCHERS[name] if flagged(n)]
    assert len(caught) >= 2, (name, caught)
    assert ROUTES & set(caught), (name, caught)  # an independent route among them
