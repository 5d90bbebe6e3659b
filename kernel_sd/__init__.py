"""kernel-sd: kernel self-distillation as spectral filters, in JAX.

Diagonalise ``G = k(X, X)/K`` once; every procedure studied by [MFB20] and
[NMBMK23] (constrained or penalised ridge, self-distillation rounds, gradient
flow and descent, students of teachers) is then a filter ``h(d)`` on the
eigenvalues, applied exactly and cheaply. Theory modules check each theorem on
the resulting traces; ``kernel-sd`` reproduces the papers' figures.
"""

from kernel_sd import data as data
from kernel_sd import dynamics as dynamics
from kernel_sd import filters as filters
from kernel_sd import kernels as kernels
from kernel_sd import plotting as plotting
from kernel_sd import theory as theory
from kernel_sd.distill import DistillTrace as DistillTrace
from kernel_sd.distill import distill_from_spectrum as distill_from_spectrum
from kernel_sd.distill import self_distill as self_distill
from kernel_sd.distill import self_distill_sweep as self_distill_sweep
from kernel_sd.kernels import gram as gram
from kernel_sd.kernels import gram_sharded as gram_sharded
from kernel_sd.lanczos import lanczos_spectrum as lanczos_spectrum
from kernel_sd.solvers import MultiplierResult as MultiplierResult
from kernel_sd.solvers import multiplier as multiplier
from kernel_sd.spectral import Spectrum as Spectrum
from kernel_sd.spectral import features as features
from kernel_sd.spectral import nystrom_spectrum as nystrom_spectrum
from kernel_sd.spectral import spectrum as spectrum
from kernel_sd.spectral import spectrum_from_eigen as spectrum_from_eigen
from kernel_sd.spectral import spectrum_from_gram as spectrum_from_gram

__version__ = "0.1.0"

__all__ = [
    "DistillTrace",
    "MultiplierResult",
    "Spectrum",
    "data",
    "distill_from_spectrum",
    "dynamics",
    "features",
    "filters",
    "gram",
    "gram_sharded",
    "kernels",
    "lanczos_spectrum",
    "multiplier",
    "nystrom_spectrum",
    "plotting",
    "self_distill",
    "self_distill_sweep",
    "spectrum",
    "spectrum_from_eigen",
    "spectrum_from_gram",
    "theory",
]
