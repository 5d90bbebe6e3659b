"""Compatibility path: the spectra live in the package :mod:`kernel_sd.spectra`.

Every public name this module had is re-exported here unchanged; new code
imports from ``kernel_sd.spectra`` (or the top-level ``kernel_sd``).
"""

from kernel_sd.spectra import ACCUMULATE_METHODS as ACCUMULATE_METHODS
from kernel_sd.spectra import DEFAULT_MAX_MEMORY_GB as DEFAULT_MAX_MEMORY_GB
from kernel_sd.spectra import LANDMARK_METHODS as LANDMARK_METHODS
from kernel_sd.spectra import KernelEigvecs as KernelEigvecs
from kernel_sd.spectra import Spectrum as Spectrum
from kernel_sd.spectra import expand as expand
from kernel_sd.spectra import features as features
from kernel_sd.spectra import nystrom_spectrum as nystrom_spectrum
from kernel_sd.spectra import spectrum as spectrum
from kernel_sd.spectra import spectrum_from_eigen as spectrum_from_eigen
from kernel_sd.spectra import spectrum_from_gram as spectrum_from_gram

__all__ = [
    "Spectrum",
    "spectrum",
    "spectrum_from_gram",
    "spectrum_from_eigen",
    "features",
    "nystrom_spectrum",
    "KernelEigvecs",
    "expand",
    "ACCUMULATE_METHODS",
    "LANDMARK_METHODS",
    "DEFAULT_MAX_MEMORY_GB",
]
