"""The CLI refuses mistakes in one line (exit code 2) before computing anything.

Each class: an output folder that cannot be written, an input file that cannot be
read or does not hold what the command needs, options that would be ignored.
Computation is replaced by a function that fails the test, so a refusal that comes
after (or instead of) the work is caught.
"""

import os
import pathlib
import zipfile

import numpy as np
import pytest

import kernel_sd as ksd
from kernel_sd import cli

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture
def no_compute(monkeypatch):
    """Any spectrum, trace or verification now fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("computed before refusing the arguments")

    for name in ("spectrum", "nystrom_spectrum", "lanczos_spectrum", "self_distill"):
        monkeypatch.setattr(ksd, name, refuse)
    monkeypatch.setattr(ksd.theory, "verify", refuse)


def _refused(capsys, argv, *words):
    code = cli.main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)
    return err


def _bad_outs(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    outs = [str(afile), str(afile / "sub"), "", "/dev/null/sub"]
    if os.geteuid() != 0:  # root writes into read-only folders
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        outs.append(str(ro / "sub"))
    return outs


@pytest.mark.parametrize(
    "command",
    [["distill"], ["spectrum"], ["verify", "--quick"], ["reproduce", "all"],
     ["bench", "--quick"]],
)  # fmt: skip
def test_an_impossible_out_is_refused_first(command, tmp_path, capsys, no_compute):
    for out in _bad_outs(tmp_path):
        _refused(capsys, [*command, "--out", out], "--out")


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.uniform(size=(50, 2)), rng.uniform(size=50)
    f = {"dir": tmp_path / "folder.csv", "garbage": tmp_path / "garbage.npz",
         "empty_npz": tmp_path / "empty.npz", "empty_csv": tmp_path / "empty.csv",
         "text": tmp_path / "text.csv", "header_only": tmp_path / "header.csv",
         "binary": tmp_path / "binary.csv", "ok": tmp_path / "ok.csv"}  # fmt: skip
    f["dir"].mkdir()
    f["garbage"].write_bytes(b"not an archive at all")
    f["empty_npz"].write_bytes(b"")
    f["empty_csv"].write_bytes(b"")
    f["text"].write_text("a,b\n1,x\n2,3\n")
    f["header_only"].write_text("x1,x2,y\n")
    f["binary"].write_bytes(bytes(range(256)))
    np.savetxt(f["ok"], np.column_stack([X, y]), delimiter=",")
    f["no_y"] = _npz(tmp_path / "no_y.npz", X=X)
    f["shapes"] = _npz(tmp_path / "shapes.npz", X=X, y=y[:-1])
    f["nan"] = _npz(tmp_path / "nan.npz", X=np.where(X > 0.9, np.nan, X), y=y)
    f["objects"] = _npz(tmp_path / "objects.npz", X=np.array([None] * 3), y=y[:3])
    good = _npz(tmp_path / "good.npz", X=X, y=y)
    data = good.read_bytes()
    f["truncated"] = tmp_path / "truncated.npz"
    f["truncated"].write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(good) as z:  # a valid zip whose X member is damaged
        damaged = tmp_path / "damaged.npz"
        with zipfile.ZipFile(damaged, "w") as out:
            out.writestr("X.npy", z.read("X.npy")[:20] + b"\xff" * 40)
            out.writestr("y.npy", z.read("y.npy"))
    f["damaged"] = damaged
    return f


@pytest.mark.parametrize(
    "case, words",
    [("dir", ["is a directory"]), ("garbage", ["not an .npz"]),
     ("truncated", ["not an .npz"]), ("damaged", ["damaged"]),
     ("empty_npz", ["is empty"]), ("empty_csv", ["is empty"]),
     ("text", ["numeric"]), ("header_only", ["no data"]), ("binary", ["--input"]),
     ("no_y", ["'y'"]), ("shapes", ["(49,)"]), ("nan", ["NaN"]),
     ("objects", ["--input"])],
)  # fmt: skip
def test_an_unreadable_input_is_one_line(
    case, words, files, tmp_path, capsys, no_compute
):
    argv = ["distill", "--input", str(files[case]), "--out", str(tmp_path / "o")]
    _refused(capsys, argv, "--input", *words)


def test_input_paths_that_are_not_files(tmp_path, capsys, no_compute):
    out = ["--out", str(tmp_path / "o")]
    _refused(capsys, ["spectrum", "--input", str(tmp_path / "nope.csv"), *out],
             "does not exist")  # fmt: skip
    _refused(capsys, ["spectrum", "--input", "/dev/null", *out], "not a regular file")
    _refused(capsys, ["spectrum", "--input", "", *out], "empty path")


@pytest.mark.parametrize("fraction", ["0.99", "0.98", "0.005"])
def test_a_test_fraction_leaving_too_few_rows_names_the_option(
    fraction, files, tmp_path, capsys, no_compute
):
    argv = ["distill", "--input", str(files["ok"]), "--test-fraction", fraction,
            "--out", str(tmp_path)]  # fmt: skip
    _refused(capsys, argv, "--test-fraction", "of the 50 rows")


@pytest.mark.parametrize(
    "argv, option",
    [(["distill", "--test-fraction", "0.2"], "--test-fraction"),
     (["spectrum", "--test-fraction", "0"], "--test-fraction"),
     (["distill", "--input", "{ok}", "--data", "sinusoid"], "--data"),
     (["spectrum", "--input", "{ok}", "--n", "30"], "--n"),
     (["distill", "--input", "{ok}", "--noise", "0.1"], "--noise"),
     (["distill", "--data", "toy", "--n", "30"], "--n"),
     (["distill", "--kernel", "linear", "--lengthscale", "2"], "--lengthscale"),
     (["spectrum", "--kernel", "poly", "--lengthscale", "2"], "--lengthscale"),
     (["distill", "--rank", "5"], "--rank"),
     (["verify", "--quick", "--instances", "5"], "--instances"),
     (["verify", "--paper", "MFB20", "--statement", "nagarajan2023.ratio"], "--paper"),
     (["verify", "--statement", "no.such"], "no.such"),
     (["bench", "gpu", "--sizes", "300"], "--sizes"),
     (["bench", "--quick", "--sizes", "300"], "--sizes"),
     (["bench", "scale", "--max-n", "10"], "--max-n")],
)  # fmt: skip
def test_options_that_would_be_ignored_are_errors(
    argv, option, files, tmp_path, capsys, no_compute
):
    argv = [a.format(ok=files["ok"]) for a in argv] + ["--out", str(tmp_path)]
    _refused(capsys, argv, option)


def test_verify_writes_one_progress_line_per_statement_without_a_terminal(
    tmp_path, capsys
):
    names = ["mobahi2020.gradient_flow_ratio", "nagarajan2023.ridge_two_rounds"]
    argv = ["verify", "--instances", "4", "--out", str(tmp_path)]
    assert cli.main(argv + [a for n in names for a in ("--statement", n)]) == 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == len(names) and all("4/4" in line for line in lines)


def test_ad_hoc_commands_write_into_an_untracked_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["spectrum", "--n", "12", "--top", "2", "--no-figure"]) == 0
    assert (tmp_path / cli.DEFAULT_OUT / "spectrum.json").is_file()
    assert not (tmp_path / "figures").exists()
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert f"/{cli.DEFAULT_OUT}/" in ignored
    help_text = cli.build_parser().format_help()
    assert "bench" in help_text and "reproduce" in help_text
