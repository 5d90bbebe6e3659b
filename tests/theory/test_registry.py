"""The statement registry: one decorator registers a check with its sampler."""

import math

import numpy as np
import pytest

from kernel_sd import theory
from kernel_sd.theory import registry


@pytest.fixture
def scratch(monkeypatch):
    """An empty registry for the test (the real one is restored afterwards)."""
    monkeypatch.setattr(registry, "_REGISTRY", {})


def test_the_decorator_registers_and_returns_the_function(scratch):
    @theory.statement("demo.square", paper="P1", summary="x^2 >= 0",
                      sample=lambda rng: rng.normal())  # fmt: skip
    def check_square(x):
        return [theory.bound("demo.square", "x^2", 0.0, x * x, math.inf)]

    @theory.statement("demo.sum", paper="P2", summary="a + b = b + a",
                      sample=lambda rng: rng.normal(size=2),
                      inputs=lambda v: {"a": v[0], "b": v[1]})  # fmt: skip
    def check_sum(*, a, b):
        return [theory.bound("demo.sum", "a+b", b + a, a + b, b + a)]

    assert check_square(2.0)[0].observed == 4.0  # unchanged, still callable
    assert [s.name for s in theory.statements()] == ["demo.square", "demo.sum"]
    assert theory.papers() == ["P1", "P2"]
    assert [s.name for s in theory.statements("P2")] == ["demo.sum"]
    rows = theory.verify(5, seed=1)
    assert [(r.name, r.checks, r.violations) for r in rows] == [
        ("demo.square", 5, 0), ("demo.sum", 5, 0)]  # fmt: skip
    with pytest.raises(ValueError, match="already registered"):
        theory.statement("demo.sum", paper="P2", summary="", sample=np.zeros)(check_sum)


def test_a_wrong_check_is_reported_as_violations(scratch):
    @theory.statement("demo.wrong", paper="P1", summary="x <= 0 (false)",
                      sample=lambda rng: abs(rng.normal()) + 0.1)  # fmt: skip
    def check_wrong(x):
        return [theory.bound("demo.wrong", "x", -math.inf, x, 0.0)]

    (row,) = theory.verify(4, seed=0)
    assert row.violations == 4 and row.worst_slack < 0


def test_every_statement_is_registered_once_with_its_paper():
    names = [s.name for s in theory.statements()]
    assert len(names) == len(set(names))
    assert theory.papers() == ["MFB20", "NMBMK23"]
    for s in theory.statements():
        assert s.name.split(".")[0] == {"MFB20": "mobahi2020",
                                        "NMBMK23": "nagarajan2023"}[s.paper]  # fmt: skip


def test_every_statement_says_where_it_comes_from(scratch):
    with pytest.raises(ValueError, match="origin"):
        theory.statement("demo.x", paper="P1", summary="", sample=np.zeros,
                         origin="folklore")  # fmt: skip


def test_registered_origins():
    origins = {s.name: s.origin for s in theory.statements()}
    assert set(origins.values()) <= set(theory.ORIGINS)
    # independent routes and property checks are both present, of both kinds
    assert origins["mobahi2020.dense_rounds"] == "stated"
    assert origins["nagarajan2023.filter_monotonicity"] == "derived"
    assert "nagarajan2023.exaggeration" not in origins


def test_a_former_statement_name_warns_and_maps_to_the_new_one():
    with pytest.warns(DeprecationWarning, match="nagarajan2023.filter_monotonicity"):
        s = theory.get("nagarajan2023.exaggeration")
    assert s is theory.get("nagarajan2023.filter_monotonicity")
    with pytest.raises(ValueError, match="unknown statement"):
        theory.get("nagarajan2023.confidence")
