"""Smoke test: the [NMBMK23] experiment script runs end to end in --quick mode and resumes."""

import json
import pathlib
import runpy

SCRIPT = (
    pathlib.Path(__file__).resolve().parents[1]
    / "experiments"
    / "nagarajan2023"
    / "run.py"
)
PARTS = ["confidence", "ratio", "late", "denoise", "filters"]


def test_nagarajan2023_quick(tmp_path, capsys):
    main = runpy.run_path(str(SCRIPT), run_name="nagarajan2023_smoke")["main"]
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    for part in PARTS:
        for ext in ("png", "pdf", "json"):
            assert (tmp_path / f"nagarajan2023_{part}.{ext}").is_file(), (part, ext)
    ratio = json.loads((tmp_path / "nagarajan2023_ratio.json").read_text())
    # Simulated student/teacher ratios agree with the closed form (round-off only).
    assert max(ratio["numbers"]["max_abs_error"].values()) < 1e-9
    late = json.loads((tmp_path / "nagarajan2023_late.json").read_text())
    # An interpolating teacher gives a student equal to label-only training.
    inter = late["numbers"]["interpolating"]
    assert abs(inter["distill_from_start"] - inter["label_only"]) < 1e-6
    capsys.readouterr()
    assert main(["--quick", "--out", str(tmp_path)]) == 0  # second run resumes
    assert capsys.readouterr().out.count("skipped") == len(PARTS)
