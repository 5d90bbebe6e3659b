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
def test_distill_other_kernels_and_penalised(kernel, capsys):
    assert cli.main(["distill", "--kernel", kernel, "--lam", "1e-3", "--rounds", "2", "--no-figure"]) == 0
    assert "lam = 0.001" in capsys.readouterr().out


def test_spectrum_command(capsys):
    assert cli.main(["spectrum", "--data", "toy", "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert "numerical rank" in out and "d_k" in out


def test_infeasible_eps_is_a_clean_error(capsys):
    code = cli.main(["distill", "--eps", "0.001", "--no-figure"])
    err = capsys.readouterr().err
    assert code == 2
    assert "infeasible" in err and "Traceback" not in err


def test_bad_argument_is_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["distill", "--eps", "-1"])
    assert exc.value.code == 2
    assert "--eps" in capsys.readouterr().err


def test_unknown_experiment(capsys):
    assert cli.main(["reproduce", "no-such-figure"]) == 2
    assert "error" in capsys.readouterr().err


def test_python_dash_m_help():
    res = subprocess.run(
        [sys.executable, "-m", "kernel_sd", "--help"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0
    for command in ("distill", "spectrum", "verify", "reproduce"):
        assert command in res.stdout
