"""Smoke test: the model-selection experiment runs end to end in --quick mode."""

import json

from experiments.model_selection.__main__ import main


def test_model_selection_quick(tmp_path, capsys):
    assert main(["--quick", "--out", str(tmp_path)]) == 0
    name = "model_selection_surface"
    for ext in ("png", "pdf", "json", "npz"):
        assert (tmp_path / f"{name}.{ext}").is_file(), ext
    numbers = json.loads((tmp_path / f"{name}.json").read_text())["numbers"]
    for data in ("digits", "diabetes"):
        n = numbers[data]
        # the best point is at least as good as the best round-0 point (same CV)
        assert n["best_cv_error"] <= n["round0_cv_error"]
    assert "digits" in capsys.readouterr().out
