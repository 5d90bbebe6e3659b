"""kernel-sd: kernel self-distillation as spectral filters, in JAX.

Diagonalise ``G = k(X, X)/K`` once; every procedure studied by [MFB20] and
[NMBMK23] (constrained or penalised ridge, self-distillation rounds, gradient
flow and descent, students of teachers) is then a filter ``h(d)`` on the
eigenvalues, applied exactly and cheaply. Theory modules check each theorem on
the resulting traces; ``kernel-sd`` reproduces the papers' figures.

The spine is spectrum (``kernel_sd.spectra``) -> filter (``kernel_sd.filters``)
-> fit (``kernel_sd.fit``, one engine and one result type). ``ksd.plotting`` is
imported on first use, so ``import kernel_sd`` never loads matplotlib.
"""

import importlib as _importlib

from kernel_sd import data as data
from kernel_sd import dynamics as dynamics
from kernel_sd import equivalent as equivalent
from kernel_sd import filters as filters
from kernel_sd import fit as fit
from kernel_sd import kernels as kernels
from kernel_sd import lanczos as lanczos  # former module path of lanczos_spectrum
from kernel_sd import selection as selection
from kernel_sd import spectra as spectra
from kernel_sd import spectral as spectral  # former module path of the spectra
from kernel_sd import theory as theory
from kernel_sd._pytree import dataclass_pytree as dataclass_pytree
from kernel_sd.distill import DistillTrace as DistillTrace
from kernel_sd.distill import distill_from_spectrum as distill_from_spectrum
from kernel_sd.distill import self_distill as self_distill
from kernel_sd.distill import self_distill_sweep as self_distill_sweep
from kernel_sd.equivalent import equivalent_kernel as equivalent_kernel
from kernel_sd.fit import Trace as Trace
from kernel_sd.kernels import gram as gram
from kernel_sd.kernels import gram_sharded as gram_sharded
from kernel_sd.solvers import MultiplierResult as MultiplierResult
from kernel_sd.solvers import multiplier as multiplier
from kernel_sd.spectra import Spectrum as Spectrum
from kernel_sd.spectra import features as features
from kernel_sd.spectra import lanczos_spectrum as lanczos_spectrum
from kernel_sd.spectra import nystrom_spectrum as nystrom_spectrum
from kernel_sd.spectra import select_landmarks as select_landmarks
from kernel_sd.spectra import spectrum as spectrum
from kernel_sd.spectra import spectrum_from_eigen as spectrum_from_eigen
from kernel_sd.spectra import spectrum_from_gram as spectrum_from_gram

__version__ = "0.1.0"

_LAZY_MODULES = ("nets", "plotting")
"""Sub-modules imported on first attribute access (plotting needs matplotlib;
nets is only needed for the network experiments)."""


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return _importlib.import_module(f"kernel_sd.{name}")
    raise AttributeError(f"module 'kernel_sd' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_MODULES))


__all__ = [
    "DistillTrace",
    "MultiplierResult",
    "Spectrum",
    "Trace",
    "data",
    "dataclass_pytree",
    "distill_from_spectrum",
    "dynamics",
    "equivalent",
    "equivalent_kernel",
    "features",
    "filters",
    "fit",
    "gram",
    "gram_sharded",
    "kernels",
    "lanczos_spectrum",
    "multiplier",
    "nets",
    "nystrom_spectrum",
    "plotting",
    "select_landmarks",
    "selection",
    "self_distill",
    "self_distill_sweep",
    "spectra",
    "spectrum",
    "spectrum_from_eigen",
    "spectrum_from_gram",
    "theory",
]
