"""Argument validation, done once at the public boundary.

Each check raises ``ValueError`` naming the argument, what is wrong and the way
out, so bad input never reaches a jitted core (where it would become NaN). The
public functions call these checks on their arguments and then hand plain,
trusted arrays to private cores that do not check again.

This module sits below every other one; the two library types it checks
(:class:`kernel_sd.kernels.Kernel`, :class:`kernel_sd.spectra.Spectrum`) are
imported when first needed.

The checks live in four modules, each importing only those before it:
``values`` (any argument as a real array, descriptions for messages),
``scalars`` (numbers and grids), ``arrays`` (inputs, targets, matrices, weights,
results) and ``objects`` (kernels, spectra and features against their arguments).
"""

from kernel_sd._validate.arrays import (
    MAX_OUTPUT_GB,
    class_labels,
    eigenpairs,
    finite_results,
    inputs,
    output_size,
    same_features,
    sample_weight,
    shaped_like,
    square_matrix,
    steps,
    symmetric_matrix,
    target_energy,
    targets,
    times,
)
from kernel_sd._validate.objects import (
    cross_gram,
    feature_rows,
    kernel_hyperparameters,
    kernel_inputs,
    kernel_values,
    spectrum,
    spectrum_of_inputs,
)
from kernel_sd._validate.scalars import (
    alpha,
    choice,
    integer,
    penalty,
    positive_int,
    positive_scalar,
    positive_vector,
    step_size,
)
from kernel_sd._validate.values import all_finite, describe, real_array

__all__ = [
    "all_finite",
    "real_array",
    "describe",
    "inputs",
    "kernel_inputs",
    "same_features",
    "targets",
    "square_matrix",
    "symmetric_matrix",
    "eigenpairs",
    "positive_scalar",
    "positive_vector",
    "positive_int",
    "integer",
    "choice",
    "penalty",
    "times",
    "steps",
    "alpha",
    "step_size",
    "spectrum",
    "spectrum_of_inputs",
    "feature_rows",
    "finite_results",
    "kernel_values",
    "output_size",
    "MAX_OUTPUT_GB",
    "target_energy",
    "kernel_hyperparameters",
    "cross_gram",
    "shaped_like",
    "class_labels",
    "sample_weight",
]
