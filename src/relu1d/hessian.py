"""The Hessian of the square loss, dense and through its structure (Sahs et al. 2020, §4).

For L(z) = ½ Σⱼ ρⱼ², ρⱼ = f(xⱼ) − yⱼ (NOTES.md; a sum over the s samples, not a mean),

    H = JᵀJ + Σⱼ ρⱼ ∇²f(xⱼ),     J[j, :] = ∇_z f(xⱼ)  (s × P),

the Gauss–Newton part JᵀJ (rank ≤ s) plus a residual part. Away from kinks the ReLU is
linear, so ∇²f(x) only has the mixed entries ∂²f/∂cᵢ∂aᵢ = x·1ᵢ(x)/α and
∂²f/∂cᵢ∂bᵢ = −1ᵢ(x)/α, with 1ᵢ(x) = 1[aᵢx > bᵢ]: the residual part is block diagonal
with one 3×3 block per neuron, in the order (aᵢ, bᵢ, cᵢ),

    Dᵢ = [[0, 0, pᵢ], [0, 0, qᵢ], [pᵢ, qᵢ, 0]],  pᵢ = Eᵢ/α,  qᵢ = −Rᵢ/α,
    Rᵢ = Σ_{j∈Aᵢ} ρⱼ,  Eᵢ = Σ_{j∈Aᵢ} ρⱼ xⱼ   (Aᵢ = the samples where neuron i is active),

whose eigenvalues are ±√(pᵢ² + qᵢ²) and 0. Note ∂L/∂aᵢ = cᵢpᵢ and ∂L/∂bᵢ = cᵢqᵢ.

In spline coordinates (μᵢ, βᵢ) with the orientation sᵢ = sign(aᵢ) held fixed, neuron i
contributes μᵢ [sᵢ(x − βᵢ)]₊ (the rescaling symmetry is gone: 2m parameters), and the
residual part is one 2×2 block per neuron, [[0, −sᵢRᵢ], [−sᵢRᵢ, 0]], with eigenvalues
±|Rᵢ| = ±|Σ_{j∈Aᵢ} ρⱼ| (the scale factor is exactly 1).

The structure behind :func:`eigvalsh`
-------------------------------------
Neuron i's Jacobian columns are combinations of the two vectors x∘1_{Aᵢ} and 1_{Aᵢ}
(abc: J_a = cᵢ x∘1/α, J_b = −cᵢ 1/α, J_c = (aᵢ x∘1 − bᵢ 1)/α), and its block Dᵢ depends
only on its activation set Aᵢ. On a line the activation sets are prefixes (aᵢ < 0) and
suffixes (aᵢ > 0) of the sorted samples. Group the neurons by activation set and
orientation sign(aᵢ): 2s − 2 proper prefixes and suffixes, plus the empty and the full set
with each of the three orientations, at most 2s + 4 groups. A group G of n neurons
spans ℝⁿ ⊗ ℝ^d (d = 3, or 2 in spline coordinates), on which D = I ⊗ D_G, while J(u ⊗ t)
depends on u only through its inner products with the per-neuron coefficient vectors
(c, a, b restricted to G). So with V_G = span(a_G, b_G, c_G) (dim ≤ 3), the space V_G^⊥ ⊗
ℝ^d is D-invariant and killed by J: there H acts as I ⊗ D_G, giving the eigenvalues of
D_G, each n − dim V_G times, exactly. The rest, ⊕_G V_G ⊗ ℝ^d, has dimension ≤ 9·(2s + 4)
whatever m is, and H on it is a small dense matrix (I ⊗ D_G plus a Gram matrix of
s-vectors). Cost: O(s·m) to group the neurons plus one dense eigenproblem of size O(s);
the whole spectrum of m = 10⁵ neurons on 10 samples took 0.05 s on an idle 2-core machine
(1–2 s under heavy load; ``sahs2020.hessian_spectrum`` times it).

Kinks
-----
Where a neuron sits exactly on a sample (aᵢxⱼ = bᵢ) L is not twice differentiable (its
second derivative in (aᵢ, bᵢ) has a Dirac part and the first derivative jumps). We use
the convention of :mod:`relu1d.train._reference`: 1[aᵢxⱼ > bᵢ] (strict), i.e. the
Hessian of the smooth piece on which neuron i is inactive at xⱼ. Every function here
uses the same convention, so :func:`hessian` and :func:`eigvalsh` agree there too.

Parameter order of the dense matrices: z = (a₁..a_m, b₁..b_m, c₁..c_m), or
(μ₁..μ_m, β₁..β_m) for ``coordinates="spline"``.
"""

from __future__ import annotations

import numpy as np

from ._common import _moments
from ._validation import as_choice, check_network_and_data
from .data import Dataset
from .network import Network

__all__ = ["jacobian", "residual_blocks", "hessian", "eigvalsh", "COORDINATES"]

COORDINATES = ("abc", "spline")
# Dense matrices are refused beyond this many parameters (8·P² bytes: 1.8 GB at 15 000).
_DENSE_LIMIT = 15_000


def _check(net, data, coordinates: str) -> None:
    check_network_and_data(net, data)
    as_choice(coordinates, "coordinates", COORDINATES)
    if coordinates == "spline" and np.any(net.a == 0):
        i = int(np.flatnonzero(net.a == 0)[0])
        raise ValueError(
            f"coordinates='spline' needs every a_i != 0 (a neuron with a_i = 0 has no breakpoint); "
            f"a[{i}] = 0: use coordinates='abc'"
        )


def _pieces(net: Network, data: Dataset, coordinates: str):
    """Activation, residuals, Jacobian coefficients and residual blocks.

    Returns act (s, m), rho (s,), coef (m, 2, d) such that neuron i's Jacobian columns are
    [x∘1ᵢ, 1ᵢ] @ coef[i], and blocks (m, d, d), the residual part of H per neuron.
    """
    act, rho, big_r, big_e = _moments(net, data)
    m = net.m
    if coordinates == "abc":
        a, b, c, alpha = net.a, net.b, net.c, net.alpha
        coef = np.zeros((m, 2, 3))
        coef[:, 0, 0] = c / alpha
        coef[:, 1, 1] = -c / alpha
        coef[:, 0, 2] = a / alpha
        coef[:, 1, 2] = -b / alpha
        blocks = np.zeros((m, 3, 3))
        blocks[:, 0, 2] = blocks[:, 2, 0] = big_e / alpha
        blocks[:, 1, 2] = blocks[:, 2, 1] = -big_r / alpha
    else:
        sign = np.sign(net.a)
        beta, mu = net.breakpoints, net.delta_slopes
        coef = np.zeros((m, 2, 2))
        coef[:, 0, 0] = sign
        coef[:, 1, 0] = -sign * beta
        coef[:, 1, 1] = -sign * mu
        blocks = np.zeros((m, 2, 2))
        blocks[:, 0, 1] = blocks[:, 1, 0] = -sign * big_r
    return act, rho, coef, blocks


def _jacobian_from(x, act, coef) -> np.ndarray:
    e = x[:, None] * act
    o = act.astype(np.float64)
    d = coef.shape[2]
    return np.concatenate([e * coef[:, 0, t] + o * coef[:, 1, t] for t in range(d)], axis=1)


def jacobian(net: Network, data: Dataset, coordinates: str = "abc") -> np.ndarray:
    """J[j, :] = ∇f(xⱼ) with respect to the parameters, shape (s, 3m) or (s, 2m).

    Parameters
    ----------
    net : Network
    data : Dataset
    coordinates : {"abc", "spline"}
        Full parameters (a, b, c), or spline parameters (μ, β) at fixed orientations.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import hessian
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> hessian.jacobian(net, data).shape          # s × 3m
    (3, 6)
    >>> hessian.jacobian(net, data, coordinates="spline").shape
    (3, 4)
    """
    _check(net, data, coordinates)
    act, _, coef, _ = _pieces(net, data, coordinates)
    return _jacobian_from(data.x, act, coef)


def residual_blocks(net: Network, data: Dataset, coordinates: str = "abc") -> np.ndarray:
    """The residual part Σⱼ ρⱼ∇²f(xⱼ) of H, one (d × d) block per neuron: shape (m, d, d).

    abc: [[0, 0, p], [0, 0, q], [p, q, 0]] with p = Eᵢ/α, q = −Rᵢ/α (eigenvalues ±√(p²+q²), 0);
    spline: [[0, −sᵢRᵢ], [−sᵢRᵢ, 0]] (eigenvalues ±|Rᵢ|). See the module docstring.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import hessian
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> hessian.residual_blocks(net, data).shape   # one 3 × 3 block per neuron
    (2, 3, 3)
    """
    _check(net, data, coordinates)
    return _pieces(net, data, coordinates)[3]


def hessian(net: Network, data: Dataset, coordinates: str = "abc") -> np.ndarray:
    """The dense Hessian of L = ½ Σⱼ ρⱼ², H = JᵀJ + blockdiag(residual blocks).

    Parameters
    ----------
    net : Network
    data : Dataset
    coordinates : {"abc", "spline"}
        Order (a, b, c) stacked (3m × 3m), or (μ, β) stacked (2m × 2m).

    Returns
    -------
    (P, P) array
        Refused for P > 15 000 parameters; use :func:`eigvalsh` for the spectrum.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import hessian
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> H = hessian.hessian(net, data)
    >>> H.shape, bool(np.allclose(H, H.T))
    ((6, 6), True)
    """
    _check(net, data, coordinates)
    act, _, coef, blocks = _pieces(net, data, coordinates)
    m, d = net.m, blocks.shape[1]
    if d * m > _DENSE_LIMIT:
        raise ValueError(f"the dense Hessian has {d * m} rows, above the limit {_DENSE_LIMIT}; "
                         "use relu1d.hessian.eigvalsh for the spectrum at this width")
    jac = _jacobian_from(data.x, act, coef)
    h = jac.T @ jac
    idx = np.arange(m)
    for t in range(d):
        for u in range(d):
            h[t * m + idx, u * m + idx] += blocks[:, t, u]
    return h


def _groups(net: Network, act: np.ndarray) -> tuple[np.ndarray, int]:
    """Label neurons that share activation set and orientation (same residual block).

    On sorted samples an activation set is a prefix or a suffix (rounding of aᵢxⱼ is
    monotone in xⱼ), so (count, contains the first sample, sign aᵢ) identifies it.
    """
    count = act.sum(axis=0)
    first = act[0] if act.shape[0] else np.zeros(act.shape[1], bool)
    key = (count.astype(np.int64) * 2 + first) * 3 + (np.sign(net.a).astype(np.int64) + 1)
    _, labels = np.unique(key, return_inverse=True)
    return labels.ravel(), int(labels.max()) + 1


def eigvalsh(net: Network, data: Dataset, coordinates: str = "abc") -> np.ndarray:
    """All eigenvalues of the Hessian, ascending, from its structure (no dense 3m × 3m matrix).

    Exact in exact arithmetic (module docstring): the eigenvalues of each group's
    residual block with their multiplicities, plus those of a dense matrix of size at
    most 9·(number of activation groups) ≤ 9·(2s + 4). Agrees with
    ``numpy.linalg.eigvalsh(hessian(net, data))`` to rounding (tested to 1e-8 relative
    to the spectral norm).

    Parameters
    ----------
    net : Network
    data : Dataset
    coordinates : {"abc", "spline"}

    Returns
    -------
    (3m,) or (2m,) array

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import hessian
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> hessian.eigvalsh(net, data).round(4) + 0.0
    array([-1.3723, -0.6725,  0.    ,  0.    ,  4.3723,  8.9225])
    >>> bool(np.allclose(hessian.eigvalsh(net, data),
    ...                  np.linalg.eigvalsh(hessian.hessian(net, data))))
    True
    """
    _check(net, data, coordinates)
    act, _, coef, blocks = _pieces(net, data, coordinates)
    x = data.x
    labels, n_groups = _groups(net, act)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_groups + 1))
    d = blocks.shape[1]
    # Coefficient entries that are not identically zero span V_G (abc: c, a, b; spline: s, sβ, sμ).
    flat = coef.reshape(net.m, -1)
    live = np.flatnonzero(np.any(flat != 0, axis=0))
    repeated, cols, diag_blocks = [], [], []
    for g in range(n_groups):
        idx = order[bounds[g]:bounds[g + 1]]
        n = idx.size
        d_g = blocks[idx[0]]
        # Householder QR gives an orthonormal basis containing the span even when rank-deficient.
        basis = (
            np.linalg.qr(flat[idx][:, live], mode="reduced")[0] if live.size else np.zeros((n, 0))
        )
        k = basis.shape[1]
        if n > k:
            repeated.append(np.repeat(np.linalg.eigvalsh(d_g), n - k))
        if k == 0:
            continue
        reduced = np.einsum("nk,nrt->krt", basis, coef[idx])          # (k, 2, d)
        mask = act[:, idx[0]]
        e, o = np.where(mask, x, 0.0), mask.astype(np.float64)
        cols.append(
            (
                np.multiply.outer(e, reduced[:, 0, :]) + np.multiply.outer(o, reduced[:, 1, :])
            ).reshape(x.size, k * d)
        )
        diag_blocks.append(np.kron(np.eye(k), d_g))
    if cols:
        g_mat = np.concatenate(cols, axis=1)
        small = g_mat.T @ g_mat
        start = 0
        for blk in diag_blocks:
            size = blk.shape[0]
            small[start:start + size, start:start + size] += blk
            start += size
        repeated.append(np.linalg.eigvalsh(small))
    return np.sort(np.concatenate(repeated))
