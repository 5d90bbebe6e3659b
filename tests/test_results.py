"""Results on disk: round trip, atomic replacement, resume by parameters."""

import json

import numpy as np

from kernel_sd import results


def test_round_trip_and_done(tmp_path):
    params = {"eps": 0.05, "rounds": 8, "grid": np.array([1.0, 2.0])}
    path = results.write(
        tmp_path, "part", params=params, numbers={"best": np.int64(2), "c": [0.1, np.inf]},
        arrays={"c": np.array([0.1, np.inf])}, seed=3,
    )  # fmt: skip
    doc = json.loads(path.read_text())
    assert doc["meta"]["seed"] == 3 and "jax" in doc["meta"]["versions"]
    rec = results.load(tmp_path, "part")
    assert rec.numbers == {"best": 2, "c": [0.1, "inf"]}
    np.testing.assert_array_equal(rec.arrays["c"], [0.1, np.inf])
    assert results.done(tmp_path, "part", params)
    assert not results.done(tmp_path, "part", {**params, "eps": 0.1})
    assert not results.done(tmp_path, "part", params, "missing.png")
    assert not list(tmp_path.glob("*.tmp"))


def test_incomplete_record_is_not_done(tmp_path):
    results.write(tmp_path, "p", params={}, numbers={}, arrays={"a": np.zeros(2)})
    (tmp_path / "p.npz").unlink()
    assert results.load(tmp_path, "p") is None
    assert results.load(tmp_path, "absent") is None


def test_source_fingerprint_changes_with_the_file(tmp_path):
    f = tmp_path / "script.py"
    f.write_text("A = 1\n")
    before = results.source_fingerprint(f)
    assert before == results.source_fingerprint(f) and len(before) == 16
    f.write_text("A = 2\n")
    assert results.source_fingerprint(f) != before


def test_run_part_runs_once_then_skips(tmp_path, capsys):
    from kernel_sd import plotting

    calls = []

    def make():
        calls.append(1)
        fig, _ = plotting.new_figure()
        return fig, {"x": 1.5}, {"a": np.arange(3)}

    assert results.run_part(tmp_path, "part", {"k": 1}, make, seed=0)
    assert not results.run_part(tmp_path, "part", {"k": 1}, make, seed=0)
    assert results.run_part(tmp_path, "part", {"k": 2}, make, seed=0)
    assert len(calls) == 2
    assert {p.name for p in tmp_path.iterdir()} == {
        "part.png",
        "part.pdf",
        "part.json",
        "part.npz",
    }
    assert "skipped" in capsys.readouterr().out
