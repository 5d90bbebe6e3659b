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


def test_command_table_lists_every_subcommand():
    import argparse

    from kernel_sd import cli

    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    table = README[README.index("## Command line") :].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| `kernel-sd ")]
    listed = {row.split()[2].rstrip("`") for row in rows}
    assert listed == set(sub.choices), (listed, set(sub.choices))


def test_first_command_writes_outside_tracked_folders():
    from kernel_sd import cli

    intro = README[: README.index("## Quickstart")]
    assert (
        f"`{cli.DEFAULT_OUT}/`" in intro
        and "figures/distill" not in intro.split("![")[0]
    )
    assert f"/{cli.DEFAULT_OUT}/" in (ROOT / ".gitignore").read_text().splitlines()
