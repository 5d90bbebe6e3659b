"""README: the two commands are the ones CI runs, and the quickstart runs as printed."""

import pathlib
import re

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_commands_ci_runs():
    setup, test = _blocks("bash")[0].strip().splitlines()
    ci = (ROOT / ".ci" / "run").read_text()
    assert (
        setup.startswith('python -m pip install -e ".[test]"')
        and "kernel-sd distill" in setup
    )
    assert (
        'python -m pip install --quiet -e ".[test]" && kernel-sd distill --rounds 8'
        in ci
    )
    assert test == "python -m pytest" and ci.rstrip().endswith(test)


def test_quickstart_runs_and_its_claims_hold(capsys):
    code = _blocks("python")[0]
    assert len(code.strip().splitlines()) <= 15
    ns: dict = {}
    exec(compile(code, "README-quickstart", "exec"), ns)
    tr, test_mse = ns["tr"], np.asarray(ns["test_mse"])
    cr = tr.collapse_round
    assert cr > 0
    c = np.asarray(tr.c)
    assert np.all(np.diff(c[:cr]) > 0) and np.all(np.isinf(c[cr:]))
    best = int(test_mse.argmin())
    assert 0 < best < cr  # a few rounds help, more rounds hurt
    assert np.all(np.diff(np.asarray(tr.effective_dimension)) <= 0)
