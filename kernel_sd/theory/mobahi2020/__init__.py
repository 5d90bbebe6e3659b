"""[MFB20] statements as pure functions of a self-distillation trace.

Notation (design notes): ``K`` training points, ``G = k(X, X)/K = V D Vᵀ``,
``z_t = Vᵀ y_t`` the round-``t`` targets in the eigenbasis, ``c_t`` the round-``t``
multiplier of the constrained fit ``(1/K)‖f_t(X) − y_t‖² <= ε``,
``A_t = Π_{i<=t} D (c_i I + D)^{-1}`` (so ``z_{t+1} = A_t z_0``),
``r_t = ‖z_t‖ / √(Kε)``, ``κ = d_max/d_min`` over the numerical range of ``G``,
and ``t*`` the number of rounds before the collapse (``‖z_{t*}‖² <= Kε``).

Every ``check_*`` function (in :mod:`.collapse`, :mod:`.shrinkage` and
:mod:`.routes`) takes a constrained :class:`~kernel_sd.DistillTrace`
with one output column (or, for the last two, an instance of a planted problem)
and returns :class:`~kernel_sd.theory.BoundCheck` rows
``lower <= observed <= upper`` with the registry's relative slack. The
statements are registered under ``mobahi2020.*`` for ``kernel-sd verify``.

Statements marked ``Derived:`` were re-derived from the setting of [MFB20]
(the paper states results of this kind; constants were not checked against its
text) and are verified numerically by the tests and ``kernel-sd verify``.

Assumption shared by the collapse-round bounds: the targets have no energy on the
numerical null space of ``G`` (``y`` lies in the range of ``G``). The random
samplers project ``y`` onto the range so that every statement applies.
"""

from kernel_sd.theory.mobahi2020.collapse import TraceArrays as TraceArrays
from kernel_sd.theory.mobahi2020.collapse import (
    check_collapse_round_bounds as check_collapse_round_bounds,
)
from kernel_sd.theory.mobahi2020.collapse import (
    check_multiplier_bounds as check_multiplier_bounds,
)
from kernel_sd.theory.mobahi2020.collapse import (
    check_multiplier_increasing as check_multiplier_increasing,
)
from kernel_sd.theory.mobahi2020.collapse import (
    check_target_norm_decreasing as check_target_norm_decreasing,
)
from kernel_sd.theory.mobahi2020.collapse import collapse_interval as collapse_interval
from kernel_sd.theory.mobahi2020.collapse import (
    multiplier_interval as multiplier_interval,
)
from kernel_sd.theory.mobahi2020.collapse import trace_arrays as trace_arrays
from kernel_sd.theory.mobahi2020.routes import check_dense_rounds as check_dense_rounds
from kernel_sd.theory.mobahi2020.routes import (
    check_risk_monte_carlo as check_risk_monte_carlo,
)
from kernel_sd.theory.mobahi2020.shrinkage import capacity as capacity
from kernel_sd.theory.mobahi2020.shrinkage import (
    check_capacity_decreasing as check_capacity_decreasing,
)
from kernel_sd.theory.mobahi2020.shrinkage import (
    check_effective_basis_decreasing as check_effective_basis_decreasing,
)
from kernel_sd.theory.mobahi2020.shrinkage import (
    check_gradient_flow_ratio as check_gradient_flow_ratio,
)
from kernel_sd.theory.mobahi2020.shrinkage import (
    check_risk_decomposition as check_risk_decomposition,
)
from kernel_sd.theory.mobahi2020.shrinkage import (
    check_shrinkage_ratio_bounds as check_shrinkage_ratio_bounds,
)
from kernel_sd.theory.mobahi2020.shrinkage import (
    check_shrinkage_ratio_increasing as check_shrinkage_ratio_increasing,
)
from kernel_sd.theory.samplers import ROUNDS as ROUNDS
from kernel_sd.theory.samplers import SIZES as SIZES
from kernel_sd.theory.samplers import GradientFlowInstance as GradientFlowInstance
from kernel_sd.theory.samplers import PlantedRisk as PlantedRisk
from kernel_sd.theory.samplers import sample_gradient_flow as sample_gradient_flow
from kernel_sd.theory.samplers import sample_planted_risk as sample_planted_risk
from kernel_sd.theory.samplers import sample_spectrum as sample_spectrum
from kernel_sd.theory.samplers import sample_trace as sample_trace

__all__ = [
    "TraceArrays",
    "trace_arrays",
    "multiplier_interval",
    "collapse_interval",
    "capacity",
    "check_multiplier_bounds",
    "check_multiplier_increasing",
    "check_target_norm_decreasing",
    "check_collapse_round_bounds",
    "check_shrinkage_ratio_bounds",
    "check_shrinkage_ratio_increasing",
    "check_effective_basis_decreasing",
    "check_capacity_decreasing",
    "check_risk_decomposition",
    "check_gradient_flow_ratio",
    "check_dense_rounds",
    "check_risk_monte_carlo",
    "PlantedRisk",
    "GradientFlowInstance",
    "ROUNDS",
    "SIZES",
    "sample_spectrum",
    "sample_trace",
    "sample_planted_risk",
    "sample_gradient_flow",
]
