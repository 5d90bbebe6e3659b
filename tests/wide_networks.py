"""Explicit wide networks in NumPy and their empirical kernels, shared by the kernel and net tests.

SEEDS networks of hidden width WIDTH and depth max(DEPTHS), every weight and bias
``N(0, 1)``, the parameterisation of ``kernel_sd.kernels.network``::

    h_1 = σ_w W_1 x/√p + σ_b b_1,  h_{l+1} = σ_w W_{l+1} φ(h_l)/√n + σ_b b_{l+1},
    f = v·φ(h_L)/√n + σ_b b_out.

A depth-L network is the first L layers of the deepest one with the same readout
``v``: each depth's kernels have the right distribution. Computed once per test
session (``functools.cache``): the (WIDTH, WIDTH) matrices are the cost.
``t_stats`` and ``T_MAX`` are the comparison with a limit, shared by the tests
of ``kernel_sd.kernels`` and ``kernel_sd.nets``.
"""

import functools
import math

import numpy as np
from scipy.special import erf

WIDTH = 4096  # hidden units: kernel fluctuations are O(1/√WIDTH)
SEEDS = 6
DEPTHS = (1, 2)  # depth 3+ reuses the depth-2 layer map; checked exactly against mpmath
CONFIGS = (("relu", 0.0), ("relu", 0.3), ("erf", 0.0))  # (activation, σ_b)
# |t| bound for the mean over SEEDS networks against the limit, with the spread
# estimated from the same networks: a t statistic with 5 degrees of freedom
# exceeds 6 with probability 0.002 per entry. The finite-width bias of the mean
# is O(1/WIDTH), ~30x below sd/√SEEDS here.
T_MAX = 6.0


def w_std(activation):
    """σ_w of each config: He's √2 for ReLU, 1.5 for erf."""
    return math.sqrt(2.0) if activation == "relu" else 1.5


def _phi(h, activation):
    return np.maximum(h, 0.0) if activation == "relu" else erf(h)


def _dphi(h, activation):
    if activation == "relu":
        return (h > 0).astype(h.dtype)
    return 2.0 / math.sqrt(math.pi) * np.exp(-h * h)


def empirical(X, net):
    """Empirical (NNGP, NTK) of one network, for every config and depth.

    ``h_l = σ_w W_l a_{l−1}/√n_{l−1} + σ_b b_l``, ``a_l = φ(h_l)``, ``a_0 = x``.
    NNGP: the output covariance given the hidden layers, ``a_L·a_L/n + σ_b²``.
    NTK: ``Σ_θ ∂f(x)/∂θ ∂f(z)/∂θ`` block by block: readout ``a_L·a_L/n + σ_b²``;
    layer l weights ``(σ_w²/n_{l−1}) (δ_l(x)·δ_l(z)) (a_{l−1}(x)·a_{l−1}(z))``, bias
    ``σ_b² δ_l(x)·δ_l(z)``, with ``δ_l = ∂f/∂h_l`` by backprop. Every config and
    depth shares each product with a (WIDTH, WIDTH) matrix (memory-bound).

    Returns:
        ``nngp, ntk``: dicts depth -> (len(CONFIGS), k, k).
    """
    Ws, bs, v = net
    k, p = X.shape
    n, L = v.shape[0], len(Ws)
    C = len(CONFIGS)
    w = np.array([w_std(act) for act, _ in CONFIGS])[:, None, None]
    b = np.array([b for _, b in CONFIGS])[:, None, None]

    def each(fn, h):  # the activation (or its derivative) of each config's block
        return np.stack([fn(h[c], act) for c, (act, _) in enumerate(CONFIGS)])

    acts, pre = [np.broadcast_to(X, (C, k, p))], []
    for layer in range(L):
        fan = p if layer == 0 else n
        h = (acts[-1].reshape(C * k, -1) @ Ws[layer].T).reshape(C, k, n)
        pre.append(w / math.sqrt(fan) * h + b * bs[layer])
        acts.append(each(_phi, pre[-1]))
    gram = lambda a: np.einsum("cip,cjp->cij", a, a)  # noqa: E731
    b2 = b**2
    nngp = {d: gram(acts[d]) / n + b2 for d in range(1, L + 1)}
    ntk = dict(nngp)  # readout weights and bias
    deltas = {}  # depth -> δ at the current layer, (C, k, n)
    for layer in range(L, 0, -1):
        deltas[layer] = each(_dphi, pre[layer - 1]) * v / math.sqrt(n)
        fan = p if layer == 1 else n
        act_gram = gram(acts[layer - 1])
        for d, delta in deltas.items():
            dd = gram(delta)
            ntk[d] = ntk[d] + w**2 / fan * dd * act_gram + b2 * dd
        if layer > 1:
            depths = sorted(deltas)
            stacked = np.stack([deltas[d] for d in depths]).reshape(-1, n)
            back = (stacked @ Ws[layer - 1]).reshape(len(depths), C, k, n)
            dphi = each(_dphi, pre[layer - 2])
            for i, d in enumerate(depths):
                deltas[d] = dphi * w / math.sqrt(n) * back[i]
    return nngp, ntk


@functools.cache
def wide_kernels():
    """``X`` (5, 3) and ``{(act, σ_b, depth): (SEEDS, 2, 5, 5)}`` (NNGP, NTK) samples."""
    X = np.random.default_rng(7).standard_normal((5, 3))
    out = {}
    for seed in range(SEEDS):
        g = np.random.default_rng(1000 + seed)
        Ws = [g.standard_normal((WIDTH, X.shape[1]))] + [
            g.standard_normal((WIDTH, WIDTH)) for _ in DEPTHS[1:]
        ]
        bs = [g.standard_normal(WIDTH) for _ in DEPTHS]
        nngp, ntk = empirical(X, (Ws, bs, g.standard_normal(WIDTH)))
        for c, config in enumerate(CONFIGS):
            for depth in DEPTHS:
                out.setdefault((*config, depth), []).append(
                    (nngp[depth][c], ntk[depth][c])
                )
    return X, {key: np.array(val) for key, val in out.items()}


def t_stats(samples, limit):
    """t statistics of the mean of ``samples`` (SEEDS, k, k) against ``limit``,
    over the upper triangle."""
    iu = np.triu_indices(limit.shape[0])
    E = samples[:, iu[0], iu[1]]
    sd = E.std(axis=0, ddof=1)
    return (E.mean(axis=0) - limit[iu]) / (sd / math.sqrt(E.shape[0]))
