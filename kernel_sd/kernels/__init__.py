"""Positive-definite kernels as immutable pytrees, and blocked Gram matrices.

Every kernel is a frozen dataclass registered as a JAX pytree with
``kernel(X, Z) -> (n, m)``: stationary kernels (:class:`RBF`, :class:`Laplace`,
:class:`Matern`), inner-product kernels (:class:`Polynomial`, :class:`Linear`,
:class:`ArcCosine`) and the infinite-width network kernels (:class:`NNGP`,
:class:`NTK`). :func:`gram` builds ``k(X, Z)`` in row blocks (:func:`gram_sharded`
over several devices); :func:`from_name` maps the short names in ``NAMES``.
"""

from kernel_sd.kernels.base import DEFAULT_BLOCK_SIZE as DEFAULT_BLOCK_SIZE
from kernel_sd.kernels.base import Kernel as Kernel
from kernel_sd.kernels.base import check_kernel_inputs as check_kernel_inputs
from kernel_sd.kernels.base import gram as gram
from kernel_sd.kernels.base import gram_sharded as gram_sharded
from kernel_sd.kernels.dot_product import ArcCosine as ArcCosine
from kernel_sd.kernels.dot_product import Linear as Linear
from kernel_sd.kernels.dot_product import Polynomial as Polynomial
from kernel_sd.kernels.names import NAMES as NAMES
from kernel_sd.kernels.names import NETWORK_BIAS as NETWORK_BIAS
from kernel_sd.kernels.names import NETWORK_DEPTH as NETWORK_DEPTH
from kernel_sd.kernels.names import from_name as from_name
from kernel_sd.kernels.network import ACTIVATIONS as ACTIVATIONS
from kernel_sd.kernels.network import NNGP as NNGP
from kernel_sd.kernels.network import NTK as NTK
from kernel_sd.kernels.stationary import RBF as RBF
from kernel_sd.kernels.stationary import Laplace as Laplace
from kernel_sd.kernels.stationary import Matern as Matern

__all__ = [
    "ACTIVATIONS",
    "ArcCosine",
    "DEFAULT_BLOCK_SIZE",
    "Kernel",
    "Laplace",
    "Linear",
    "Matern",
    "NAMES",
    "NETWORK_BIAS",
    "NETWORK_DEPTH",
    "NNGP",
    "NTK",
    "Polynomial",
    "RBF",
    "check_kernel_inputs",
    "from_name",
    "gram",
    "gram_sharded",
]
