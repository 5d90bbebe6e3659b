"""Theory meets networks: finite-width networks next to their NTK kernel models.

Four figures, each with its numbers stored beside it (``kernel_sd.results``):

1. ``networks_width``       networks trained by gradient descent approach the NTK
                            closed-form filter as the width grows (error vs width);
2. ``networks_rounds``      [MFB20] self-distillation rounds with networks on digits,
                            with and without label noise, next to NTK-kernel rounds;
3. ``networks_confidence``  [NMBMK23] confidence exaggeration with a network teacher
                            and student (cross-entropy), next to the NTK kernel model;
4. ``networks_weights``     first-layer weight changes of teacher and student on the
                            eigendirections of the input covariance.

Every network is ``kernel_sd.nets.MLP`` (NTK parameterisation, ReLU, no biases) and
its kernel model uses ``MLP.ntk()``, the same architecture's infinite-width limit.
Run ``kernel-sd reproduce networks``; ``--quick`` uses tiny sizes. Larger sizes (and
an accelerator): ``python -m experiments.networks.large``.
"""

from __future__ import annotations

from experiments._runner import Experiment

_POW2 = tuple(2**k for k in range(6, 14))  # widths 64 .. 8192

CONFIG = {
    # --- (1) width convergence on `width_n` digits (one-hot targets, pixels centred
    # by the training mean, the split of the run's seed): full-batch GD on
    # (1/2K)‖f(X) − Y‖² with step lr = width_lr/d_max(NTK(X, X)/K).
    "width_n": 64,
    "width_steps": 200,
    "width_lr": 1.0,
    "width_depths": (1, 2),
    "width_widths": (_POW2, _POW2[:5]),  # per depth; depth 2 to 1024 (cost ∝ width²)
    "width_seeds": 3,
    # --- (2) [MFB20] rounds on digits (pixels in [0, 1], centred by the training
    # mean): ℓ2 loss on one-hot targets, every round `rounds_steps` GD steps of step
    # rounds_lr/d_max(NTK); constrained ridge rounds with ε = the round-0 training
    # residual of the NTK gradient-descent model. Each seed: its own split, label-noise
    # draw and initialisations.
    "rounds_n_train": 400,
    "rounds_depth": 2,
    "rounds_width": 256,
    "rounds_count": 6,
    "rounds_steps": 400,
    "rounds_lr": 1.0,
    "rounds_noise": (0.0, 0.3),  # fraction of training labels replaced by another class
    "rounds_seeds": 3,
    # --- (3, 4) [NMBMK23] teacher and student on digits with softmax cross-entropy
    # (Hinton's temperature convention for networks and kernels alike); step
    # conf_lr/d_max(NTK). Settings: (temperature τ, student steps / teacher steps).
    "conf_n_train": 400,
    "conf_depth": 2,
    "conf_width": 256,
    "conf_teacher_steps": 300,
    "conf_lr": 1.0,
    "conf_settings": ((1.0, 1), (1.0, 3), (4.0, 1)),
    "conf_seeds": 3,
    "conf_bins": 5,  # quantile bins of the teacher's log-odds (quintiles)
    "weights_topk": (1, 2, 5, 10, 20),  # top-k shares of the first-layer change
}
# --quick: the width part's data, first network and steps are the rounds part's
# (one compilation of each serves both).
QUICK = {
    "width_n": 60,
    "width_steps": 20,
    "width_depths": (1,),
    "width_widths": ((16, 64),),
    "width_seeds": 1,
    "rounds_n_train": 60,
    "rounds_depth": 1,
    "rounds_width": 16,
    "rounds_count": 2,
    "rounds_steps": 20,
    "rounds_seeds": 1,
    "conf_n_train": 60,
    "conf_depth": 1,
    "conf_width": 16,
    "conf_teacher_steps": 20,
    "conf_settings": ((1.0, 1), (4.0, 1)),
    "conf_seeds": 1,
}

EXPERIMENT = Experiment("networks", CONFIG, quick=QUICK)

from experiments.networks import width, rounds, confidence  # noqa: E402, F401, I001  (parts, in order)
