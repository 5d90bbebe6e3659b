"""The theorem registry: every checked statement of [MFB20] and [NMBMK23] by name.

A :class:`Statement` knows how to draw a random instance (``sample``) and how to
check one (``check``), returning :class:`BoundCheck` rows
``lower <= observed <= upper``. Statements are registered with one decorator,
:func:`statement`, on the function that checks them. ``kernel-sd verify`` and the
tests share this registry, so a statement is verified the same way everywhere.

Each statement says where it comes from (``origin``): ``"stated"`` when the
paper states the result (in this form or one it implies directly), ``"derived"``
when it was re-derived here from the paper's setting. A statement that compares
two independent routes (closed form against simulated training, eigenbasis
against dense solves, expectation against Monte Carlo) checks the implementation
as much as the mathematics.

Numerical slack is explicit: a bound holds when
``lower − RTOL·|lower| <= observed <= upper + RTOL·|upper|`` with ``RTOL = 1e-9``
(float64 round-off of the quantities involved is ~1e-13); nothing else is hidden.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "RTOL",
    "ORIGINS",
    "RENAMED",
    "BoundCheck",
    "Statement",
    "VerifyRow",
    "bound",
    "statement",
    "register",
    "statements",
    "papers",
    "get",
    "check",
    "verify",
]

RTOL = 1e-9
"""Relative slack allowed on every bound (float64)."""


class BoundCheck(NamedTuple):
    """One checked inequality ``lower <= observed <= upper`` (either side may be ±inf)."""

    name: str
    """Registry name of the statement."""
    quantity: str
    """What was measured, e.g. ``"c_3"``."""
    lower: float
    """Lower bound (``-inf`` when one-sided)."""
    observed: float
    """Observed value."""
    upper: float
    """Upper bound (``+inf`` when one-sided)."""
    holds: bool
    """Whether the bound holds within ``RTOL``."""
    slack: float
    """Relative distance to the nearer bound: ``>= 0`` when strictly inside, ``< 0`` violated."""


def bound(
    name: str, quantity: str, lower, observed, upper, *, rtol: float = RTOL
) -> BoundCheck:
    """Build a :class:`BoundCheck`, computing ``holds`` and the relative slack."""
    lo, ob, up = float(lower), float(observed), float(upper)
    if math.isnan(ob) or math.isnan(lo) or math.isnan(up):
        return BoundCheck(name, quantity, lo, ob, up, False, -math.inf)
    slacks = []
    if lo > -math.inf:
        slacks.append((ob - lo) / max(abs(lo), abs(ob), 1e-300))
    if up < math.inf:
        slacks.append((up - ob) / max(abs(up), abs(ob), 1e-300))
    slack = min(slacks) if slacks else math.inf
    ok_lo = lo == -math.inf or ob >= lo - rtol * abs(lo)
    ok_up = up == math.inf or ob <= up + rtol * abs(up)
    return BoundCheck(name, quantity, lo, ob, up, bool(ok_lo and ok_up), slack)


@dataclasses.dataclass(frozen=True)
class Statement:
    """A checkable statement of one of the papers."""

    name: str
    """Unique registry key, e.g. ``"mobahi2020.multiplier_bounds"``."""
    paper: str
    """Citation key: ``"MFB20"`` or ``"NMBMK23"``."""
    summary: str
    """One line: the inequality or identity, in the papers' symbols."""
    sample: Callable[[np.random.Generator], Any]
    """Draws a random instance (e.g. a trace on a random problem)."""
    check: Callable[[Any], list[BoundCheck]]
    """Checks one instance; returns one row per inequality checked."""
    on_trace: bool = False
    """Whether ``check`` accepts a ``DistillTrace`` (used by :func:`check`)."""
    origin: str = "derived"
    """``"stated"`` (the paper states it) or ``"derived"`` (re-derived here)."""


ORIGINS = ("stated", "derived")
"""The values of :attr:`Statement.origin`."""

_REGISTRY: dict[str, Statement] = {}

RENAMED = {"nagarajan2023.exaggeration": "nagarajan2023.filter_monotonicity"}
"""Former statement names and the names they have now (:func:`get` accepts both)."""


def register(statement: Statement) -> Statement:
    """Add ``statement`` to the registry (names must be unique)."""
    if statement.name in _REGISTRY:
        raise ValueError(f"statement {statement.name!r} is already registered")
    _REGISTRY[statement.name] = statement
    return statement


def statement(
    name: str,
    *,
    paper: str,
    summary: str,
    sample: Callable[[np.random.Generator], Any],
    inputs: Callable[[Any], dict[str, Any]] | None = None,
    on_trace: bool = False,
    origin: str = "derived",
):
    """Register the decorated check function as the statement ``name``.

    ``origin`` is ``"stated"`` when the paper states the result, ``"derived"``
    when it was re-derived here. The function is returned unchanged. ``sample(rng)`` draws an instance; the
    registered check is ``fn(instance)``, or ``fn(**inputs(instance))`` when the
    function takes named arguments rather than the instance itself.

    Examples:
        >>> @statement("demo.nonnegative", paper="MFB20", summary="x^2 >= 0",
        ...            sample=lambda rng: rng.normal())  # doctest: +SKIP
        ... def check_square(x):
        ...     return [bound("demo.nonnegative", "x^2", 0.0, x * x, math.inf)]
    """

    if origin not in ORIGINS:
        raise ValueError(f"`origin` must be one of {ORIGINS}, got {origin!r}.")

    def decorate(fn):
        check = fn if inputs is None else (lambda inst: fn(**inputs(inst)))
        register(
            Statement(
                name, paper, summary, sample, check, on_trace=on_trace, origin=origin
            )
        )
        return fn

    return decorate


def papers() -> list[str]:
    """Citation keys of the papers with registered statements, in registration order."""
    return list(dict.fromkeys(s.paper for s in _REGISTRY.values()))


def statements(paper: str | None = None) -> list[Statement]:
    """All registered statements, optionally of one paper (``"MFB20"``/``"NMBMK23"``)."""
    return [s for s in _REGISTRY.values() if paper is None or s.paper == paper]


def get(name: str) -> Statement:
    """The statement called ``name`` (a former name in :data:`RENAMED` warns and maps)."""
    if name in RENAMED:
        warnings.warn(
            f"statement {name!r} is now called {RENAMED[name]!r} (the old name "
            "will be removed); use the new name.",
            DeprecationWarning,
            stacklevel=2,
        )
        name = RENAMED[name]
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ValueError(f"unknown statement {name!r}; known: {known}") from None


def check(trace) -> list[BoundCheck]:
    """Check every trace statement on one ``DistillTrace``: one row per inequality."""
    rows: list[BoundCheck] = []
    for s in _REGISTRY.values():
        if s.on_trace:
            rows.extend(s.check(trace))
    return rows


class VerifyRow(NamedTuple):
    """Summary of one statement over many random instances."""

    name: str
    paper: str
    summary: str
    instances: int
    checks: int
    violations: int
    worst_slack: float
    """Smallest relative slack seen (negative = violated)."""
    origin: str = "derived"
    """``"stated"`` in the paper or ``"derived"`` here (:attr:`Statement.origin`)."""


def verify(
    instances: int,
    *,
    seed: int = 0,
    names: Sequence[str] | None = None,
    progress: Callable[[Iterable, int, str], Iterable] | None = None,
) -> list[VerifyRow]:
    """Check each statement on ``instances`` random instances drawn from its sampler.

    Args:
        instances: random instances per statement.
        seed: seed of the ``numpy.random.Generator`` (one stream per statement).
        names: restrict to these statement names (default: all).
        progress: optional wrapper ``progress(iterable, total, desc)`` for a bar.
    """
    chosen = [get(n) for n in names] if names else list(_REGISTRY.values())
    rows = []
    for i, s in enumerate(chosen):
        rng = np.random.default_rng([seed, i])
        it: Iterable = range(instances)
        if progress is not None:
            it = progress(it, instances, s.name)
        n_checks = n_bad = 0
        worst = math.inf
        for _ in it:
            for row in s.check(s.sample(rng)):
                n_checks += 1
                n_bad += not row.holds
                worst = min(worst, row.slack)
        rows.append(
            VerifyRow(
                s.name, s.paper, s.summary, instances, n_checks, n_bad, worst, s.origin
            )
        )
    return rows
