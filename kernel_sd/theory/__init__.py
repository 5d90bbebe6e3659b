"""Theory: the papers' statements as pure functions, and a registry that checks them.

One module (or package) per paper: ``mobahi2020`` and ``nagarajan2023``. Each
statement is a check function registered with the :func:`statement` decorator,
together with a sampler of random instances from :mod:`.samplers`; ``verify`` and
``kernel-sd verify`` run every registered statement on random instances.

References:
    [MFB20] H. Mobahi, M. Farajtabar, P. L. Bartlett. "Self-Distillation Amplifies
    Regularization in Hilbert Space." NeurIPS 2020.
    [NMBMK23] V. Nagarajan, A. K. Menon, S. Bhojanapalli, H. Mobahi, S. Kumar.
    "On student-teacher deviations in distillation: does it pay to disobey?"
    NeurIPS 2023.
"""

from kernel_sd.theory.registry import ORIGINS as ORIGINS
from kernel_sd.theory.registry import RENAMED as RENAMED
from kernel_sd.theory.registry import RTOL as RTOL
from kernel_sd.theory.registry import BoundCheck as BoundCheck
from kernel_sd.theory.registry import Statement as Statement
from kernel_sd.theory.registry import VerifyRow as VerifyRow
from kernel_sd.theory.registry import bound as bound
from kernel_sd.theory.registry import check as check
from kernel_sd.theory.registry import get as get
from kernel_sd.theory.registry import papers as papers
from kernel_sd.theory.registry import register as register
from kernel_sd.theory.registry import statement as statement
from kernel_sd.theory.registry import statements as statements
from kernel_sd.theory.registry import verify as verify

__all__ = [
    "ORIGINS",
    "RENAMED",
    "RTOL",
    "BoundCheck",
    "Statement",
    "VerifyRow",
    "bound",
    "check",
    "get",
    "papers",
    "register",
    "statement",
    "statements",
    "verify",
]

from kernel_sd.theory import mobahi2020 as mobahi2020  # noqa: E402  (registers [MFB20])
from kernel_sd.theory import nagarajan2023 as nagarajan2023  # noqa: E402  (registers [NMBMK23])
from kernel_sd.theory import samplers as samplers  # noqa: E402
