"""[NMBMK23] figures: confidence exaggeration, eigenspace ratios, late distillation,
gradient denoising, and ridge rounds vs gradient flow.

Run ``kernel-sd reproduce nagarajan2023``; ``--quick`` uses tiny sizes. Every part
stores its numbers next to its figure (``kernel_sd.results``) and is skipped when
already done with the same parameters.
"""

from __future__ import annotations

from experiments._runner import Experiment

CONFIG = {
    "digits_n": 600,  # digits training points
    "digits_lengthscale": 1.5,  # RBF lengthscale on 64 pixels in [0, 1] (distance ~4)
    "cls_steps": 400,  # gradient steps of the kernel classifiers (teacher and student)
    "cls_lr": 1.0,  # step size in units of 1/d_max
    "blobs_n": 300,  # synthetic 3-class problem: points
    "blobs_lengthscale": 1.0,  # RBF lengthscale on the 2-D blobs
    "sin_n": 64,  # sinusoid regression problem: points
    "sin_noise": 0.5,  # its label-noise standard deviation σ
    "sin_lengthscale": 0.2,  # Laplace lengthscale on [0, 1] (condition ~3e4 at K=64)
    "gd_lr": 1.0,  # regression step size in units of 1/d_max
    "teacher_steps": 200,  # regression teacher (early-stopped; does not interpolate)
    "student_steps": (25, 100, 400, 1600),  # student steps shown in the ratio figure
    "late_total": 20000,  # student steps in the late-distillation and denoising runs
    "late_switches": 25,  # switch steps sampled (log-spaced, plus 0 and the end)
    "late_cls_switches": 8,  # switch steps for the digits late-distillation panel
    "ridge_lam": 1e-3,  # ridge rounds' penalty c for the filters figure
    "rounds": 4,  # ridge rounds / flow rounds in the filters figure
}
QUICK = {
    "digits_n": 100,
    "cls_steps": 40,
    "blobs_n": 60,
    "sin_n": 32,
    "late_total": 1000,
    "late_switches": 8,
    "late_cls_switches": 3,
}

EXPERIMENT = Experiment("nagarajan2023", CONFIG, quick=QUICK)

from experiments.nagarajan2023 import confidence, ratio, late, denoise, filters  # noqa: E402, F401, I001  (parts, in order)
