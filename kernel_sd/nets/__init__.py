"""Small fully connected networks in JAX, in the parameterisation of the NTK/NNGP kernels.

:class:`MLP` (init from a key, apply), full-batch gradient descent with squared or
softmax cross-entropy losses (:func:`train`: teachers, late switch, label mixing,
temperature), :func:`teacher_student` and :func:`self_distill` rounds with fresh
initialisations, the empirical tangent kernel (:func:`empirical_ntk`) and the
linearised network (:func:`linearize`). As the width grows the networks approach
the kernel models of ``kernel_sd.kernels.NTK``; these tools measure how closely.
"""

from kernel_sd.nets.distill import Rounds as Rounds
from kernel_sd.nets.distill import self_distill as self_distill
from kernel_sd.nets.distill import teacher_student as teacher_student
from kernel_sd.nets.mlp import MLP as MLP
from kernel_sd.nets.mlp import Dense as Dense
from kernel_sd.nets.mlp import Params as Params
from kernel_sd.nets.tangent import Linearized as Linearized
from kernel_sd.nets.tangent import empirical_ntk as empirical_ntk
from kernel_sd.nets.tangent import linearize as linearize
from kernel_sd.nets.train import LOSSES as LOSSES
from kernel_sd.nets.train import NetTraining as NetTraining
from kernel_sd.nets.train import loss_value as loss_value
from kernel_sd.nets.train import train as train

__all__ = [
    "LOSSES",
    "MLP",
    "Dense",
    "Linearized",
    "NetTraining",
    "Params",
    "Rounds",
    "empirical_ntk",
    "linearize",
    "loss_value",
    "self_distill",
    "teacher_student",
    "train",
]
