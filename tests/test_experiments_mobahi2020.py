"""Smoke test: the [MFB20] experiment script runs end to end in --quick mode and resumes."""

import json
import pathlib
import runpy

SCRIPT = (
    pathlib.Path(__file__).resolve().parents[1]
    / "experiments"
    / "mobahi2020"
    / "run.py"
)


def test_mobahi2020_quick(tmp_path, capsys):
    main = runpy.run_path(str(SCRIPT), run_name="mobahi2020_smoke")["main"]
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    parts = [
        "toy_fits", "multipliers", "shrinkage", "rounds_error", "risk", "vs_early_stopping",
    ]  # fmt: skip
    for part in parts:
        for ext in ("png", "pdf", "json"):
            assert (tmp_path / f"mobahi2020_{part}.{ext}").is_file(), (part, ext)
    toy = json.loads((tmp_path / "mobahi2020_toy_fits.json").read_text())
    assert toy["numbers"]["collapse_round"] > 0
    capsys.readouterr()
    assert main(["--quick", "--out", str(tmp_path)]) == 0  # second run resumes
    assert capsys.readouterr().out.count("skipped") == len(parts)
