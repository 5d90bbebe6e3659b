"""The network experiments' large-size script: its constants fit the experiment's.

(The parts themselves run at ``--quick`` size in test_experiments_runner.py.)
"""

import numpy as np
import pytest
from scipy import stats

from kernel_sd import cli, results


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


def test_large_script_runs_and_resumes_a_part(large, tmp_path, capsys):
    out = tmp_path / "large"
    assert large.main(["--quick", "--only", "weights", "--out", str(out)]) == 0
    rec = results.load(out, "networks_weights")
    assert rec is not None and rec.params["devices"]
    assert rec.params["config"]["conf_width"] == 16  # the --quick size
    assert {p.stem for p in out.iterdir()} == {"networks_weights"}  # --only
    capsys.readouterr()
    assert large.main(["--quick", "--only", "networks_weights", "--out", str(out)]) == 0
    assert "skipped" in capsys.readouterr().out


# --- The measurements the network figures report, against direct computations. ---


@pytest.fixture(scope="module")
def common():
    return cli._experiments_module("networks._common")


def _direct_log_odds(logits, cls):
    """``log(p/(1 − p))`` from an explicit softmax (fine for moderate logits)."""
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    pc = p[np.arange(len(cls)), cls]
    return np.log(pc / (1.0 - pc))


def test_log_odds_match_the_softmax_and_stay_finite(common):
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=2.0, size=(50, 10))
    cls = rng.integers(0, 10, 50)
    np.testing.assert_allclose(
        common.log_odds_on(logits, cls),
        _direct_log_odds(logits, cls),
        rtol=1e-10,
        atol=1e-12,
    )
    # Two classes, one huge logit: the log-odds is the difference of the logits,
    # where p = 1 in floating point and the direct formula gives inf.
    big = np.array([[800.0, 3.0], [-5.0, 900.0]])
    np.testing.assert_allclose(
        common.log_odds_on(big, np.array([0, 0])), [797.0, -905.0]
    )


def test_exaggeration_slope_and_bins_of_a_planted_line(common):
    # Teacher logits (a_i, 0, ..., 0): log-odds of class 0 is u = a − log 9 exactly.
    # Student (s·a_i + b, 0, ...): v = s u + (s − 1) log 9 + b, a line of slope s.
    rng = np.random.default_rng(1)
    a = rng.uniform(1.0, 8.0, 100)
    s, b, bins = 1.3, -0.2, 5
    T = np.zeros((100, 10))
    S = np.zeros((100, 10))
    T[:, 0], S[:, 0] = a, s * a + b
    out = common.exaggeration(T, S, bins)
    assert out["slope"] == pytest.approx(s, abs=1e-10)
    assert out["intercept"] == pytest.approx((s - 1) * np.log(9) + b, abs=1e-10)
    u = np.sort(a - np.log(9))  # 100 distinct values: 5 bins of 20 in order
    v = s * u + (s - 1) * np.log(9) + b
    np.testing.assert_allclose(
        out["bin_u"], u.reshape(bins, -1).mean(axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(out["bin_dev"], (v - u).reshape(bins, -1).mean(axis=1),
                               rtol=1e-10)  # fmt: skip
    # Negative control: a student equal to its teacher has slope 1 and no deviation.
    same = common.exaggeration(T, T, bins)
    assert same["slope"] == pytest.approx(1.0, abs=1e-12)
    assert np.max(np.abs(same["bin_dev"])) < 1e-12


def test_noisy_labels_change_the_stated_fraction_to_other_classes(common):
    labels = np.arange(200) % 10
    noisy = common.noisy_labels(labels, 0.3, np.random.default_rng(2))
    changed = noisy != labels
    assert changed.sum() == 60
    assert noisy.min() >= 0 and noisy.max() <= 9
    assert np.array_equal(
        common.noisy_labels(labels, 0.0, np.random.default_rng(2)), labels
    )


def test_weight_shares_on_eigendirections():
    confidence = cli._experiments_module("networks.confidence")
    rng = np.random.default_rng(3)
    U, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    # ΔW = c vᵀ with v = u_3: all of its energy on direction 3.
    e = confidence._shares(np.outer(rng.normal(size=5), U[:, 3]), U)
    np.testing.assert_allclose(e, np.eye(8)[3], atol=1e-12)
    # ΔW = Σ_k σ_k c_k u_kᵀ with orthonormal c_k: shares σ_k²/Σσ².
    C, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    sigma = np.arange(1.0, 9.0)
    e = confidence._shares(C @ np.diag(sigma) @ U.T, U)
    np.testing.assert_allclose(e, sigma**2 / np.sum(sigma**2), rtol=1e-10)


def test_width_slope_and_its_standard_error():
    width = cli._experiments_module("networks.width")
    widths = np.array([64, 128, 256, 512, 1024])
    exact = 3.0 * widths[:, None] ** -0.5 * np.ones((1, 3))  # 3 equal seeds
    slope, se = width._slope(widths, exact)
    assert slope == pytest.approx(-0.5, abs=1e-12) and se < 1e-10
    noisy = exact * np.exp(np.random.default_rng(4).normal(scale=0.1, size=exact.shape))
    ref = stats.linregress(np.log(widths), np.log(noisy.mean(axis=1)))
    slope, se = width._slope(widths, noisy)
    assert slope == pytest.approx(ref.slope, rel=1e-10)
    assert se == pytest.approx(ref.stderr, rel=1e-10)
    assert width._slope(widths[:2], noisy[:2])[1] is None  # no error from two widths
