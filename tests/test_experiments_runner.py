"""The experiments' runner: every experiment at --quick size, resume, --only, refusals."""

import importlib.util
import json
import pathlib

import numpy as np
import pytest

from kernel_sd import cli, results


@pytest.fixture(scope="module")
def runner():
    return cli._experiments_module("_runner")


def test_every_experiment_runs_quick_and_then_resumes(runner, tmp_path, capsys):
    assert runner.run(["all"], out=tmp_path, quick=True) == 0
    parts = [p for exp in runner.experiments().values() for p in exp.parts]
    assert {"mobahi2020_toy_fits", "nagarajan2023_ratio", "nystrom_accuracy",
            "distill_fits", "networks_width", "networks_rounds",
            "networks_confidence", "networks_weights"} <= set(parts)  # fmt: skip
    for part in parts:
        for ext in ("png", "pdf", "json"):
            assert (tmp_path / f"{part}.{ext}").stat().st_size > 0, (part, ext)
        assert results.load(tmp_path, part) is not None, part

    def numbers(part):
        return json.loads((tmp_path / f"{part}.json").read_text())["numbers"]

    assert numbers("mobahi2020_toy_fits")["collapse_round"] > 0
    # Simulated student/teacher ratios agree with the closed form (round-off only).
    assert max(numbers("nagarajan2023_ratio")["max_abs_error"].values()) < 1e-9
    # An interpolating teacher gives a student equal to label-only training.
    late = numbers("nagarajan2023_late")
    assert all(r["interpolating_teacher_gap"] < 1e-6 for r in late["per_seed"])
    # The best student is searched over a grid that contains the label-only model's
    # filters only in the limit, so either may win; both are recorded per seed.
    assert len(late["gain_per_seed"]) == len(late["label_only_best_per_seed"]) >= 2
    conf = numbers("nagarajan2023_confidence")
    for loss in ("squared_loss", "cross_entropy"):
        assert {"slope_train", "slope_test"} <= set(conf[loss])
    rec = conf["budget_sweep"][0]
    assert {"loss", "student_over_teacher", "teacher_steps", "label_noise",
            "slope_train", "slope_test"} <= set(rec)  # fmt: skip
    sets = numbers("mobahi2020_rounds_error")["datasets"]
    assert set(sets) == {"digits_flip20", "digits_flip40", "diabetes", "friedman1"}
    for d in sets.values():  # when round 0 wins the search, it is the baseline itself
        for t, best, base in zip(d["best_round"], d["best_error_per_seed"],
                                 d["best_round0_error_per_seed"], strict=True):  # fmt: skip
            assert t > 0 or best == base
    equiv = numbers("mobahi2020_equivalent_kernel")
    for name in ("toy", "diabetes", "digits"):
        if name not in equiv:  # --quick: the toy only
            continue
        assert max(equiv[name]["worst_relative_difference"].values()) < 1e-9
        assert equiv[name]["negative_control_round1_with_g"] > 1e-2
    report = numbers("mobahi2020_multipliers")["collapse_report"]
    assert all(r["inside"] for r in report.values())
    # Wider networks are closer to their NTK (widths 16 and 64: ~1/2 expected).
    width = numbers("networks_width")["depths"]["1"]
    for key in ("test", "train", "kernel"):
        assert width[f"{key}_error_mean"][1] < width[f"{key}_error_mean"][0], key
    rows = numbers("nystrom_accuracy")["rows"]
    assert {r["method"] for r in rows} == {"pivoted", "uniform", "lanczos"}
    capsys.readouterr()
    assert runner.run(["all"], out=tmp_path, quick=True) == 0  # everything stored
    out = capsys.readouterr().out
    assert out.count("skipped") == len(parts)


def _module(path: pathlib.Path, text: str):
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(f"exp_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


TOY = """
import numpy as np
from experiments._runner import Experiment, Result
from kernel_sd import plotting

EXPERIMENT = Experiment("toyexp", {"scale": 2.0}, quick={"scale": 1.0})
CALLS = []

@EXPERIMENT.compute("toyexp_line")
def line(cfg, seed):
    CALLS.append(seed)
    return Result({"slope": cfg.scale * VERSION}, {"x": np.arange(3.0)})

@EXPERIMENT.plot("toyexp_line")
def plot_line(res, cfg):
    fig, axes = plotting.new_figure()
    axes[0, 0].plot(res.arrays["x"], res.numbers["slope"] * res.arrays["x"])
    return fig
"""


@pytest.fixture
def toyexp(runner, tmp_path, monkeypatch):
    """A registered throw-away experiment defined in a file the test can edit."""
    src = tmp_path / "src"
    src.mkdir()
    path = src / "toyexp.py"
    mod = _module(path, TOY + "VERSION = 1\n")
    yield path, mod
    runner._REGISTRY.pop("toyexp", None)


def test_resume_reruns_on_changed_parameters_or_source(
    runner, toyexp, tmp_path, capsys
):
    path, mod = toyexp
    out = tmp_path / "out"
    runner.run(["toyexp"], out=out)
    runner.run(["toyexp"], out=out)  # unchanged: skipped
    assert mod.CALLS == [0]
    runner.run(["toyexp"], out=out, seed=3)  # another seed
    runner.run(["toyexp"], out=out, seed=3, quick=True)  # other constants
    assert mod.CALLS == [0, 3, 3]
    assert results.load(out, "toyexp_line").numbers["slope"] == 1.0
    runner._REGISTRY.pop("toyexp")
    mod2 = _module(path, TOY + "VERSION = 5\n")  # the experiment's source changed
    runner.run(["toyexp"], out=out, seed=3, quick=True)
    assert mod2.CALLS == [3]
    assert results.load(out, "toyexp_line").numbers["slope"] == 5.0


def test_only_selects_parts_and_names_are_checked(runner, toyexp, tmp_path):
    _, mod = toyexp
    runner.run(["toyexp"], out=tmp_path / "a", only=["line"])
    assert mod.CALLS == [0] and (tmp_path / "a" / "toyexp_line.png").is_file()
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):
        runner.run(["nope"], out=tmp_path / "b")
    with pytest.raises(ValueError, match="--only"):
        runner.run(["toyexp"], out=tmp_path / "b", only=["nope"])
    with pytest.raises(ValueError, match="--out"):
        runner.run(["toyexp"], out=tmp_path / "a" / "toyexp_line.png")
    assert mod.CALLS == [0] and not (tmp_path / "b").exists()


def test_a_damaged_record_is_recomputed(runner, toyexp, tmp_path):
    _, mod = toyexp
    runner.run(["toyexp"], out=tmp_path)
    np.savez(tmp_path / "toyexp_line.npz", x=np.zeros(3))  # not the recorded npz
    runner.run(["toyexp"], out=tmp_path)
    (tmp_path / "toyexp_line.png").write_bytes(b"")  # a truncated figure
    runner.run(["toyexp"], out=tmp_path)
    assert mod.CALLS == [0, 0, 0]
    np.testing.assert_array_equal(results.load(tmp_path, "toyexp_line").arrays["x"],
                                  np.arange(3.0))  # fmt: skip
