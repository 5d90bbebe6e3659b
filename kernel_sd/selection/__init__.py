"""Model selection: every (ε or lam, round) of self-distillation scored from one spectrum.

Every round ``t`` at every grid value ``e`` is a filter on one eigenbasis
(``kernel_sd.filters.ridge_rounds``): with ``G = k(X, X)/K = V diag(d) Vᵀ`` of the
training points, ``z = Vᵀ y`` and ``W = [g_xᵀ V]`` the held-out points' features,

    f_{e,t}(X_val) = W diag(g_{e,t}) z,     g_{e,t} = A_{e,t−1} / (c_{e,t} + d),
    A_{e,t} = Π_{i<=t} d / (c_{e,i} + d),

where ``c_{e,t} = lam_e`` (penalised form) or the root of
``Σ_k (c z_{t,k} / (c + d_k))² = K ε_e`` (constrained form, ``z_t = A_{e,t−1} z``).
So one factorisation per training set scores the whole ``(E, T)`` grid:

- :func:`validation_errors`: one split (train, held-out), any spectrum;
- :func:`cross_validation_errors`: K-fold (or any splits), one Gram matrix for
  all folds and one ``eigh`` per fold, optional sample weights;
- :func:`gcv`: generalised cross-validation from the full-data spectrum alone.

The error of a prediction ``F`` (``m × q``) of targets ``Y`` is the mean squared
error over points and columns, ``(1/(m q)) Σ_i Σ_j (F_ij − Y_ij)²`` (scikit-learn's
``mean_squared_error``); with validation weights ``v``,
``Σ_i v_i Σ_j (F_ij − Y_ij)² / (q Σ_i v_i)``. A grid value that is infeasible
(``ε`` below the targets' energy on the numerical null space of ``G``: no ``c > 0``
meets the constraint) scores ``+inf`` in every round, with one warning per call;
a collapsed round (``‖y_t‖² <= Kε``) predicts 0 and is scored like any other.
"""

from kernel_sd.selection._common import GCVScores, GridErrors
from kernel_sd.selection._gcv import gcv
from kernel_sd.selection._holdout import (
    cross_validation_errors,
    validation_errors,
)

__all__ = [
    "GridErrors",
    "GCVScores",
    "validation_errors",
    "cross_validation_errors",
    "gcv",
]
