"""The kernel-sd command line: main job, spectrum, errors without tracebacks."""

import subprocess
import sys

import numpy as np
import pytest

from kernel_sd import cli


def test_distill_prints_table_and_writes_figure(tmp_path, capsys):
    code = cli.main(["distill", "--rounds", "8", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "c_t" in out and "test MSE" in out and "collapse round" in out
    assert (tmp_path / "distill_fits.png").stat().st_size > 10_000
    rows = [line.split() for line in out.splitlines() if line[:5].strip().isdigit()]
    assert [int(r[0]) for r in rows] == list(range(8))
    finite_c = [float(r[1]) for r in rows if r[1] != "inf"]
    assert np.all(np.diff(finite_c) > 0)  # c_t increases until the collapse


@pytest.mark.parametrize("kernel", ["laplace", "matern52", "arccos1"])
def test_distill_other_kernels_and_penalised(kernel, tmp_path, capsys):
    argv = [
        "distill",
        "--kernel",
        kernel,
        "--lam",
        "1e-3",
        "--rounds",
        "2",
        "--out",
        str(tmp_path),
    ]
    assert cli.main(argv) == 0
    assert "lam = 0.001" in capsys.readouterr().out


def test_spectrum_command(tmp_path, capsys):
    assert (
        cli.main(["spectrum", "--data", "toy", "--top", "3", "--out", str(tmp_path)])
        == 0
    )
    out = capsys.readouterr().out
    assert "numerical rank" in out and "d_k" in out


def test_infeasible_eps_is_a_clean_error(tmp_path, capsys):
    code = cli.main(["distill", "--eps", "0.001", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "infeasible" in err and "Traceback" not in err


def test_bad_argument_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["distill", "--eps", "-1"])
    assert exc.value.code == 2
    assert "--eps" in capsys.readouterr().err


def test_unknown_experiment(tmp_path, capsys):
    assert cli.main(["reproduce", "no-such-figure", "--out", str(tmp_path)]) == 2
    assert "error" in capsys.readouterr().err


def test_python_dash_m_help():
    res = subprocess.run(
        [sys.executable, "-m", "kernel_sd", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0
    for command in ("distill", "spectrum", "verify", "reproduce", "bench"):
        assert command in res.stdout


def test_user_csv_file_with_held_out_split(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.uniform(size=(50, 2))
    y = np.sin(3 * X[:, 0]) + 0.1 * rng.standard_normal(50)
    path = tmp_path / "mine.csv"
    np.savetxt(
        path, np.column_stack([X, y]), delimiter=",", header="x1,x2,y", comments=""
    )
    code = cli.main(["distill", "--input", str(path), "--test-fraction", "0.2", "--lengthscale",
                     "0.5", "--eps", "0.02", "--rounds", "3", "--out", str(tmp_path)])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0 and "40 train / 10 test" in out and "held-out" in out
    assert (tmp_path / "distill_rounds.png").exists() and not (
        tmp_path / "distill_fits.png"
    ).exists()


def test_results_on_disk_are_reproducible(tmp_path, capsys):
    from kernel_sd import results

    for sub in ("a", "b"):
        assert cli.main(["distill", "--rounds", "4", "--seed", "5", "--out", str(tmp_path / sub),
                         "--no-figure"]) == 0  # fmt: skip
    a, b = (
        results.load(tmp_path / "a", "distill"),
        results.load(tmp_path / "b", "distill"),
    )
    assert a.params == b.params and a.params["seed"] == 5
    assert a.numbers == b.numbers
    np.testing.assert_array_equal(a.arrays["train_pred"], b.arrays["train_pred"])
    assert "jax" in a.meta["versions"]


def test_spectrum_figure_and_missing_file(tmp_path, capsys):
    assert cli.main(["spectrum", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "spectrum.png").exists() and (
        tmp_path / "spectrum.json"
    ).exists()
    argv = ["spectrum", "--input", str(tmp_path / "nope.csv"), "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    assert "does not exist" in capsys.readouterr().err


def test_bench_quick_writes_results(tmp_path, capsys):
    assert cli.main(["bench", "--quick", "--out", str(tmp_path)]) == 0
    assert "(a) ratio" in capsys.readouterr().out
    assert (tmp_path / "bench_distill.json").exists()


def test_bench_shapes_quick_writes_results(tmp_path, capsys):
    argv = ["bench", "shapes", "--quick", "--out", str(tmp_path)]
    assert cli.main(argv) == 0
    assert "largest kernel-sd / NumPy ratio" in capsys.readouterr().out
    assert (tmp_path / "bench_shapes.json").exists()


def test_bench_import_quick_records_both_imports(tmp_path, capsys):
    import json

    assert cli.main(["bench", "import", "--quick", "--out", str(tmp_path)]) == 0
    assert "kernel_sd - jax" in capsys.readouterr().out
    doc = json.loads((tmp_path / "bench_import.json").read_text())["numbers"]
    assert doc["heavy_loaded"] == []  # matplotlib, scikit-learn, SciPy: on first use
    for module in ("jax", "kernel_sd"):
        assert doc["median"][module]["cpu"] > 0 and doc["median"][module]["wall"] > 0


def _table(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line[:5].strip().isdigit()]


def test_spectrum_by_lanczos_gives_the_exact_top_eigenvalues(tmp_path, capsys):
    import kernel_sd as ksd
    from kernel_sd import data, kernels

    argv = ["spectrum", "--n", "80", "--kernel", "matern32", "--lengthscale", "0.3",
            "--method", "lanczos", "--rank", "6", "--top", "6", "--out", str(tmp_path),
            "--no-figure"]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "low-rank (lanczos): 6 eigenpairs" in out
    d = np.array([float(r[1]) for r in _table(out)])
    ds = data.sinusoid(80, noise=0.4, seed=0)
    exact = ksd.spectrum(kernels.Matern(nu=1.5, lengthscale=0.3), ds.X).eigvals
    np.testing.assert_allclose(d, np.asarray(exact)[:6], rtol=1e-6)  # 7 printed digits


def test_distill_with_all_points_as_landmarks_matches_exact(tmp_path, capsys):
    base = ["distill", "--eps", "0.2", "--rounds", "4", "--out", str(tmp_path),
            "--no-figure"]  # fmt: skip
    assert cli.main(base) == 0
    exact = _table(capsys.readouterr().out)
    assert cli.main([*base, "--method", "nystrom", "--rank", "40"]) == 0
    low = _table(capsys.readouterr().out)
    # m = n landmarks: G̃ = G, so c_t, MSEs and Σ A_t agree to the printed digits.
    assert low == exact and np.isfinite(float(exact[1][1]))


def test_rank_without_a_low_rank_method_is_a_clean_error(tmp_path, capsys):
    assert cli.main(["distill", "--rank", "5", "--out", str(tmp_path)]) == 2
    assert "--method" in capsys.readouterr().err
    assert cli.main(["spectrum", "--method", "lanczos", "--rank", "39"]) == 2
    assert "--method exact" in capsys.readouterr().err


def test_bench_gpu_quick_runs_on_the_default_backend(tmp_path, capsys):
    import json

    assert cli.main(["bench", "gpu", "--quick", "--out", str(tmp_path)]) == 0
    (path,) = tmp_path.glob("bench_gpu_*.json")
    doc = json.loads(path.read_text())["numbers"]
    import jax

    dev = jax.devices()[0]
    assert doc["device"] == f"{dev.platform}:{dev.device_kind}"
    check, *points = doc["points"]
    assert check["path"] == "check" and check["ok"]  # CPU against CPU here
    kinds = {(p["path"], p["dtype"]) for p in points}
    assert kinds == {("exact", "float64"), ("exact", "float32"), ("nystrom", "float64")}
    # both uniform-landmark routes ran, and their multipliers agree
    gram, factor = (p for p in points if p["path"] == "nystrom")
    assert (gram["accumulate"], factor["accumulate"]) == ("gram", "factor")
    assert factor["max_rel_dc_vs_other_route"] < 1e-8
    # float32 multipliers track float64 on this well-conditioned problem.
    for p in points:
        if p["dtype"] == "float32":
            assert p["max_rel_dc_vs_float64"] < 1e-3


def test_bench_point_runs_every_path(tmp_path):
    import json

    for method, extra in (("exact", []), ("nystrom", ["--m", "200"]),
                          ("lanczos", ["--k", "10"])):  # fmt: skip
        out = tmp_path / f"{method}.json"
        argv = ["bench", "point", "--path", method, "--n", "300", *extra,
                "--json", str(out), "--out", str(tmp_path)]  # fmt: skip
        assert cli.main(argv) == 0
        res = json.loads(out.read_text())
        assert res["n"] == 300 and res["total_s"] > 0 and res["peak_gib"] > 0
        assert len(res["c"]) == 10 and res["collapse_round"] >= 1


def test_bench_landmarks_quick_records_every_row(tmp_path, capsys):
    import json

    argv = ["bench", "landmarks", "--quick", "--n", "600", "--dims", "3", "--ms", "40",
            "--methods", "rpcholesky", "uniform", "--krr-sizes", "200", "400",
            "--out", str(tmp_path)]  # fmt: skip
    assert cli.main(argv) == 0
    assert "equal time" in capsys.readouterr().out
    rows = json.loads((tmp_path / "bench_landmarks.json").read_text())["numbers"]["rows"]
    assert [(r["method"], r.get("m", r.get("size"))) for r in rows] == [
        ("exact KRR", 200), ("exact KRR", 400), ("rpcholesky", 40), ("uniform", 40)]
    for r in rows[2:]:
        assert 0 < r["captured"] < 1 and r["test_mse"] > 0 and r["m_used"] == 40
