"""[NMBMK23] figures: confidence exaggeration, eigenspace ratios, late distillation,
gradient denoising, and ridge rounds vs gradient flow.

Run ``kernel-sd reproduce nagarajan2023``; ``--quick`` uses tiny sizes. Every part
stores its numbers next to its figure (``kernel_sd.results``) and is skipped when
already done with the same parameters.
"""

from __future__ import annotations

from experiments._runner import Experiment

CONFIG = {
    "digits_lengthscale": 1.5,  # RBF lengthscale on 64 pixels in [0, 1] (distance ~4)
    "cls_lr": 1.0,  # classifier step size in units of 1/d_max
    "blobs_lengthscale": 1.0,  # RBF lengthscale on the 2-D blobs
    # --- confidence: teacher T steps, students S = r·T steps, label flips, seeds
    "conf_datasets": ("digits", "blobs"),
    "conf_n": 300,  # training points (digits and blobs)
    "conf_n_test": 300,  # held-out points
    "conf_teacher_steps": (30, 100, 400),  # the longest is the headline teacher
    "conf_ratios": (0.25, 1.0, 2.0, 4.0, 16.0),  # S/T
    "conf_noises": (0.0, 0.2),  # share of flipped training labels
    "conf_seeds": 3,
    "conf_bands": (0, 1, 3, 10, 30, 100, 300),  # eigen-index bands of the diagnostic
    # --- sinusoid regression (ratio, late, denoise, filters)
    "sin_n": 64,  # points
    "sin_noise": 0.5,  # label-noise standard deviation σ
    "sin_lengthscale": 0.2,  # Laplace lengthscale on [0, 1] (condition ~3e4 at K=64)
    "gd_lr": 1.0,  # regression step size in units of 1/d_max
    "teacher_steps": 200,  # teacher of the ratio and denoise figures (early-stopped)
    "student_steps": (25, 100, 400, 1600),  # student steps shown in the ratio figure
    "late_total": 20000,  # steps of the denoise figure's runs
    # --- does it pay to disobey: step grids, seeds, extra settings, digits
    "late_dense": 100,  # every step count up to this one ...
    "late_geometric": 40,  # ... then this many geometric steps ...
    "late_max": 200000,  # ... up to this one (label-only, teacher and student grids)
    "late_coarse": 30,  # (T, S) values of the late-switch grid (geometric)
    "late_switches": 12,  # switch steps of the late-switch grid (plus 0)
    "late_seeds": 5,
    "late_more": ((256, 0.5), (256, 1.0)),  # more (K, σ) settings ...
    "late_more_seeds": 3,  # ... with these many seeds
    "late_digits_n": 300,  # digits: training points (then validation, then test)
    "late_digits_val": 500,  # validation points
    "late_digits_steps": 1000,  # steps of every classifier run
    "late_digits_teachers": (10, 30, 100, 300, 1000),  # teacher steps tried
    "late_digits_test": 539,  # at most this many test points
    "late_digits_noises": (0.0, 0.2),  # flipped share of train and validation labels
    "late_digits_seeds": 3,
    "ridge_lam": 1e-3,  # ridge rounds' penalty c for the filters figure
    "rounds": 4,  # ridge rounds / flow rounds in the filters figure
}
QUICK = {
    "conf_datasets": ("digits",),
    "conf_n": 30,
    "conf_n_test": 30,
    "conf_teacher_steps": (4,),
    "conf_noises": (0.0,),
    "conf_seeds": 2,
    "conf_bands": (0, 1, 3, 10, 30),
    "sin_n": 32,
    "late_total": 1000,
    "late_dense": 10,
    "late_geometric": 6,
    "late_max": 2000,
    "late_coarse": 5,
    "late_switches": 3,
    "late_seeds": 2,
    "late_more": (),
    "late_digits_n": 30,
    "late_digits_val": 30,
    "late_digits_test": 30,
    "late_digits_steps": 10,
    "late_digits_teachers": (5, 10),
    "late_digits_noises": (0.2,),
    "late_digits_seeds": 2,
}

EXPERIMENT = Experiment("nagarajan2023", CONFIG, quick=QUICK)

from experiments.nagarajan2023 import confidence, ratio, late, denoise, filters  # noqa: E402, F401, I001  (parts, in order)
