"""Compatibility path: the Lanczos spectrum lives in :mod:`kernel_sd.spectra.lanczos`."""

from kernel_sd.spectra.lanczos import lanczos_spectrum as lanczos_spectrum

__all__ = ["lanczos_spectrum"]
