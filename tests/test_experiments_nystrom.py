"""Smoke test: the Nyström accuracy experiment runs in --quick mode and resumes."""

import json
import pathlib
import runpy

SCRIPT = (
    pathlib.Path(__file__).resolve().parents[1] / "experiments" / "nystrom" / "run.py"
)


def test_nystrom_quick(tmp_path, capsys):
    main = runpy.run_path(str(SCRIPT), run_name="nystrom_smoke")["main"]
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    for ext in ("png", "pdf", "json"):
        assert (tmp_path / f"nystrom_accuracy.{ext}").is_file(), ext
    doc = json.loads((tmp_path / "nystrom_accuracy.json").read_text())
    rows = doc["numbers"]["rows"]
    assert {r["method"] for r in rows} == {"pivoted", "uniform", "lanczos"}
    assert doc["numbers"]["exact_collapse_round"] > 0
    capsys.readouterr()
    assert main(["--quick", "--out", str(tmp_path)]) == 0  # second run resumes
    assert "skipped" in capsys.readouterr().out
