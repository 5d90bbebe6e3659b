"""Spectra of ``G = k(X, X)/K``: one factorisation that every procedure filters.

One concept per module:

- ``base``: the :class:`Spectrum` type, its noise floor, checks and input fingerprint;
- ``exact``: :func:`spectrum` (one ``eigh``), from a Gram matrix or given eigenpairs;
- ``nystrom``: :func:`nystrom_spectrum`, the exact spectrum of a low-rank approximation;
- ``landmarks``: :func:`select_landmarks`, the landmarks of a Nyström approximation;
- ``lanczos``: :func:`lanczos_spectrum`, the matrix-free top of the exact spectrum;
- ``eigvecs``: products with ``V`` (``Vᵀ y``, ``V A``), stored or implicit (:class:`KernelEigvecs`);
- ``features``: :func:`features`, new points in the eigenbasis (``g_xᵀ V``);
- ``_products``: every kernel block times a matrix (tile and product as separate programs).
"""

from kernel_sd.spectra.base import Spectrum as Spectrum
from kernel_sd.spectra.eigvecs import KernelEigvecs as KernelEigvecs
from kernel_sd.spectra.eigvecs import expand as expand
from kernel_sd.spectra.eigvecs import targets_in_eigenbasis as targets_in_eigenbasis
from kernel_sd.spectra.exact import DEFAULT_MAX_MEMORY_GB as DEFAULT_MAX_MEMORY_GB
from kernel_sd.spectra.exact import spectrum as spectrum
from kernel_sd.spectra.exact import spectrum_from_eigen as spectrum_from_eigen
from kernel_sd.spectra.exact import spectrum_from_gram as spectrum_from_gram
from kernel_sd.spectra.features import features as features
from kernel_sd.spectra.lanczos import lanczos_spectrum as lanczos_spectrum
from kernel_sd.spectra.landmarks import LANDMARK_METHODS as LANDMARK_METHODS
from kernel_sd.spectra.landmarks import Landmarks as Landmarks
from kernel_sd.spectra.landmarks import select_landmarks as select_landmarks
from kernel_sd.spectra.nystrom import ACCUMULATE_METHODS as ACCUMULATE_METHODS
from kernel_sd.spectra.nystrom import nystrom_spectrum as nystrom_spectrum

__all__ = [
    "Spectrum",
    "KernelEigvecs",
    "expand",
    "targets_in_eigenbasis",
    "spectrum",
    "spectrum_from_gram",
    "spectrum_from_eigen",
    "features",
    "nystrom_spectrum",
    "select_landmarks",
    "Landmarks",
    "lanczos_spectrum",
    "ACCUMULATE_METHODS",
    "LANDMARK_METHODS",
    "DEFAULT_MAX_MEMORY_GB",
]
