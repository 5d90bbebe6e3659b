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
    for command in ("distill", "spectrum", "verify", "reproduce"):
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
