"""Package-level behaviour: what ``import kernel_sd`` loads, and where warnings point."""

import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np

import kernel_sd
import kernel_sd as ksd
from kernel_sd import kernels

IMPORT = textwrap.dedent(
    """
    import sys
    import kernel_sd
    assert "matplotlib" not in sys.modules, "import kernel_sd loaded matplotlib"
    assert "sklearn" not in sys.modules, "import kernel_sd loaded scikit-learn"
    assert "scipy" not in sys.modules, "import kernel_sd loaded SciPy"
    kernel_sd.plotting  # first use imports it (and matplotlib)
    assert "matplotlib" in sys.modules
    print("lazy ok")
    """
)


def test_import_does_not_load_matplotlib_sklearn_or_scipy():
    proc = subprocess.run(
        [sys.executable, "-c", IMPORT], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "lazy ok" in proc.stdout


def _recorded(call):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        call()
    assert record, "expected a warning"
    return record


def test_warnings_point_at_the_calling_line():
    """Library warnings name this file, however deep inside kernel_sd they arise."""
    X = np.linspace(0.0, 1.0, 30)[:, None]
    y = np.sin(2 * np.pi * X[:, 0])
    k = kernels.RBF(lengthscale=0.25)
    # multiplier under the noise floor: distill -> _distill -> _report -> warn
    for w in _recorded(lambda: ksd.self_distill(k, X, y, lam=1e-30, rounds=1)):
        assert w.filename == __file__, (w.filename, str(w.message))
    # float32 ill-conditioned spectrum: raised in spectra.base, reached from
    # spectrum() directly and from self_distill() two frames deeper.
    X32 = X.astype(np.float32)
    for call in (
        lambda: ksd.spectrum(k, X32),
        lambda: ksd.self_distill(k, X32, y, lam=1e-2, rounds=1),
    ):
        record = _recorded(call)
        assert any("x64" in str(w.message) for w in record)
        assert all(w.filename == __file__ for w in record), [w.filename for w in record]


def test_every_module_is_at_most_450_lines():
    """One concept per module: a module that grows past 450 lines gets split."""
    root = Path(kernel_sd.__file__).parent
    sizes = {
        str(p.relative_to(root)): len(p.read_text(encoding="utf-8").splitlines())
        for p in root.rglob("*.py")
    }
    assert len(sizes) > 30  # the walk found the package
    assert {k: v for k, v in sizes.items() if v > 450} == {}
