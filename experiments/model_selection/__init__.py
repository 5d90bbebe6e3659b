"""Model selection for self-distillation: the cross-validated error over (ε, round).

One part, ``model_selection_surface``: on digits with 20 % of the training labels
flipped (one-hot ℓ2 self-distillation) and on diabetes, the K-fold validation
error of every (ε, round) of a grid, from one factorisation per fold
(``kernel_sd.selection.cross_validation_errors``), with the best point and the
best ε at round 0 marked, and the test error of the refits at both points.

Run ``kernel-sd reproduce model_selection``; ``--quick`` uses tiny sizes.
"""

from __future__ import annotations

from experiments._runner import Experiment

CONFIG = {
    # digits: the first n training images of a shuffled split, a share of their labels
    # replaced by a uniformly drawn other class (test labels stay clean); one-hot ℓ2
    # targets, so (1/K)‖Y‖² = 1 and ε is the allowed squared error per image.
    "digits_n_train": 600,
    "flip_fraction": 0.2,
    "digits_eps": (0.003, 0.9),  # grid ends, log-spaced
    # diabetes: standardised target, (1/K)‖y‖² = 1; ε as a share of it; None: all
    # 309 training rows of the 70/30 split.
    "diabetes_n_train": None,
    "diabetes_eps": (0.01, 0.95),
    "grid": 16,  # ε values
    "rounds": 8,  # t = 0 .. 7
    "folds": 5,  # contiguous folds of the (already shuffled) training rows
    # RBF kernel, lengthscale: median pairwise distance of the training inputs.
}
QUICK = {  # the shapes of the unit tests (40 rows, 4 folds, 3 x 3 grid): shared compiles
    "digits_n_train": 40,
    "diabetes_n_train": 40,
    "grid": 3,
    "rounds": 3,
    "folds": 4,
}

EXPERIMENT = Experiment("model_selection", CONFIG, quick=QUICK)

from experiments.model_selection import surface  # noqa: E402, F401  (registers the part)
