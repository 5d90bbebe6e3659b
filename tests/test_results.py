"""Results on disk: round trip, resume by parameters, safety under faults."""

import json
import os
import signal
import stat
import subprocess
import sys

import numpy as np
import pytest

from kernel_sd import plotting, results


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


def test_a_record_whose_npz_was_replaced_is_not_loaded(tmp_path):
    params = {"k": 1}
    results.write(tmp_path, "p", params=params, numbers={}, arrays={"a": np.ones(3)})
    # A later run killed between its two replacements: new npz, old json.
    np.savez_compressed(tmp_path / "p.npz", a=np.zeros(3))
    assert results.load(tmp_path, "p") is None
    assert not results.done(tmp_path, "p", params)
    results.write(tmp_path, "p", params=params, numbers={}, arrays={"a": np.ones(3)})
    assert results.done(tmp_path, "p", params)


def test_a_record_without_checksums_is_incomplete(tmp_path):
    results.write(tmp_path, "p", params={}, numbers={}, arrays={"a": np.ones(3)})
    doc = json.loads((tmp_path / "p.json").read_text())
    del doc["sha256"]
    (tmp_path / "p.json").write_text(json.dumps(doc))
    assert results.load(tmp_path, "p") is None


def test_done_checks_the_figures_written_with_the_record(tmp_path):
    (tmp_path / "p.png").write_bytes(b"png bytes")
    results.write(tmp_path, "p", params={}, numbers={}, files=["p.png"])
    assert results.done(tmp_path, "p", {}, "p.png")
    (tmp_path / "p.png").write_bytes(b"")  # e.g. truncated by a crash
    assert not results.done(tmp_path, "p", {}, "p.png")


def test_files_get_the_permissions_of_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        results.write(tmp_path, "p", params={}, numbers={}, arrays={"a": np.ones(2)})
        fig, _ = plotting.new_figure()
        plotting.save(fig, tmp_path / "p.png")
    finally:
        os.umask(old)
    for name in ("p.json", "p.npz", "p.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name


def test_stale_temporaries_of_killed_writers_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f".p.json.{dead}.abc123.tmp"
    stale.write_text("half a record")
    alive = tmp_path / f".p.json.{os.getpid()}.def456.tmp"  # a writer still running
    alive.write_text("in progress")
    results.write(tmp_path, "p", params={}, numbers={})
    assert not stale.exists() and alive.exists()


def test_a_failed_figure_save_keeps_the_old_figure(tmp_path):
    fig, _ = plotting.new_figure()
    plotting.save(fig, tmp_path / "f.png")
    good = (tmp_path / "f.png").read_bytes()

    class Crash(Exception):
        pass

    def crash(f, **kwargs):
        f.write(b"\x89PNG half")
        raise Crash

    fig.savefig = crash
    with pytest.raises(Crash):
        plotting.save(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png"]


KILLED_WRITER = """
import pathlib, sys, time
from kernel_sd import results

def slow(f):
    f.write(b"new, half written")
    f.flush()
    print("writing", flush=True)
    time.sleep(60)

results.write_atomic(pathlib.Path(sys.argv[1]), slow)
"""


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path):
    target = tmp_path / "f.png"
    target.write_bytes(b"old, complete")
    with subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)],
                          stdout=subprocess.PIPE, text=True) as proc:  # fmt: skip
        try:
            assert proc.stdout.readline().strip() == "writing"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
    assert target.read_bytes() == b"old, complete"
    assert len(list(tmp_path.glob(".f.png.*.tmp"))) == 1  # the killed writer's
    results.write_atomic(target, b"new")  # the next write cleans it up
    assert target.read_bytes() == b"new" and not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize("bad", ["", "file", "file/sub"])
def test_prepare_dir_refuses_impossible_folders(bad, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="empty path|not a folder|a file"):
        results.prepare_dir(bad if bad == "" else tmp_path / bad)
    assert results.prepare_dir(tmp_path / "new" / "deep").is_dir()
