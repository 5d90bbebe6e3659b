"""The network experiments' large-size script: its constants fit the experiment's.

(The parts themselves run at ``--quick`` size in test_experiments_runner.py.)
"""

import pytest

from kernel_sd import cli


@pytest.fixture(scope="module")
def large():
    return cli._experiments_module("networks.large")


def test_large_constants_replace_known_ones(large):
    config = large.EXPERIMENT.config
    assert set(large.LARGE) <= set(config)
    cfg = {**config, **large.LARGE}
    assert len(cfg["width_widths"]) == len(cfg["width_depths"])
    for tau, factor in cfg["conf_settings"]:
        assert tau > 0 and isinstance(factor, int) and factor >= 1
    assert all(0 <= noise < 0.9 for noise in cfg["rounds_noise"])


def test_unknown_part_is_refused_before_any_work(large, tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as err:
        large.main(["--only", "nonexistent", "--out", str(out)])
    assert err.value.code == 2
    assert "--only" in capsys.readouterr().err
    assert not out.exists()
