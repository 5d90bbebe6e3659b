"""Theory: the papers' statements as pure functions, and a registry that checks them.

References:
    [MFB20] H. Mobahi, M. Farajtabar, P. L. Bartlett. "Self-Distillation Amplifies
    Regularization in Hilbert Space." NeurIPS 2020.
    [NMBMK23] V. Nagarajan, A. K. Menon, S. Bhojanapalli, H. Mobahi, S. Kumar.
    "On student-teacher deviations in distillation: does it pay to disobey?"
    NeurIPS 2023.
"""

from kernel_sd.theory.registry import RTOL as RTOL
from kernel_sd.theory.registry import BoundCheck as BoundCheck
from kernel_sd.theory.registry import Statement as Statement
from kernel_sd.theory.registry import VerifyRow as VerifyRow
from kernel_sd.theory.registry import bound as bound
from kernel_sd.theory.registry import check as check
from kernel_sd.theory.registry import get as get
from kernel_sd.theory.registry import register as register
from kernel_sd.theory.registry import statements as statements
from kernel_sd.theory.registry import verify as verify

__all__ = [
    "RTOL",
    "BoundCheck",
    "Statement",
    "VerifyRow",
    "bound",
    "check",
    "get",
    "register",
    "statements",
    "verify",
]

from kernel_sd.theory import mobahi2020 as mobahi2020  # noqa: E402  (registers [MFB20])
from kernel_sd.theory import nagarajan2023 as nagarajan2023  # noqa: E402  (registers statements)
