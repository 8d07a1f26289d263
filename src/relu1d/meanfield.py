"""Mean-field view of the canonical dynamics.

Williams et al. 2019
--------------------
In canonical parameters wᵢ = (rᵢ, θᵢ) (eqs. 4–5) the network is
f̃(x) = (1/m) Σᵢ rᵢ ⟨x̃, d(θᵢ)⟩₊ with x̃ = (x, 1), d(θ) = (cos θ, sin θ),
t(θ) = d(θ)^⊥ = (−sin θ, cos θ), and L̃(w) = ½ Σⱼ ρⱼ² with residuals ρⱼ = f̃(xⱼ) − yⱼ.

*Regions.* Sample xⱼ is active at angle θ when ⟨x̃ⱼ, d(θ)⟩ > 0 (the half-circle Bⱼ).
Its two boundary angles are −arctan xⱼ (neurons with a > 0 whose knot is xⱼ) and
π − arctan xⱼ (a < 0). (The paper prints "arctan(xⱼ) ± π/2": that is the angle of x̃ⱼ,
π/2 − arctan xⱼ, ± π/2.) The 2s boundary angles cut the circle into 2s arcs A_k; on
each the active set C_k is constant: C_k = {1..k} for k = 1..s, C_{s+j} = {j+1..s} for
j = 1..s−1 (the paper's numbering), and the arc with no active sample, labelled 0 here.

*Velocity field* (eq. 9). With S_k = Σ_{j∈C_k} ρⱼ x̃ⱼ, for θ ∈ A_k,
∇_r V = ⟨S_k, d(θ)⟩ and ∇_θ V = r ⟨S_k, t(θ)⟩.
With our L̃ = ½ Σ ρ² (a sum, no 1/m), the exact identity is
∇_{wᵢ} L̃ = (1/m) ∇V(wᵢ; μ), μ = (1/m) Σᵢ δ_{wᵢ}
(the paper prints (m/2)∇L̃ = ∇V; differentiating its own expansion of L̃ in F and K gives
m∇L̃ = ∇V, since the double sum (1/2m²)Σᵢᵢ' K(wᵢ, wᵢ') contributes wᵢ twice). The canonical
gradient flow ẇ = −∇L̃ (eq. 7) is therefore the mean-field flow ẇ = −∇V run in time τ = t/m.

*Residual dynamics* (Prop. 1, eq. 10). Along ẇ = −∇L̃,
ρ̇ⱼ = −(1/m) x̃ⱼᵀ Σ_{k: j∈C_k} Σ_k S_k,  Σ_k = ∫_{ℝ×A_k} (r² t tᵀ + d dᵀ) dμ
   = (1/m) Σ_{i: θᵢ∈A_k} (rᵢ² t(θᵢ)t(θᵢ)ᵀ + d(θᵢ)d(θᵢ)ᵀ).
In mean-field time τ the factor 1/m disappears and eq. 10 holds as printed.

*Attractors and repulsors* (Lemma 2, derived again here because the printed statement
is garbled). At a boundary angle θ* of sample x_k only the angular component of ∇V
jumps, by r ρ_k ⟨x̃_k, t(θ*)⟩. Write g = Σ_{i∈C} ρᵢ⟨x̃ᵢ, t(θ*)⟩ for the other samples C
active at θ* (C = {i > k} on the a > 0 boundary, {i < k} on the a < 0 boundary) and
σ = ⟨x̃_k, t(θ*)⟩/‖x̃_k‖ = ±1 (the side on which x_k is active). Requiring θ̇ to point
at θ* from both sides (attractor) or away from it on both sides (repulsor) gives
σ r g < 0 < σ r (g + σ ρ_k ‖x̃_k‖)   (attractor),
σ r g > 0 > σ r (g + σ ρ_k ‖x̃_k‖)   (repulsor).
Both happen exactly when, with the coupling G_k = Σ_{i∈C} ρᵢ ρ_k ⟨x̃ᵢ, x̃_k⟩,
    −ρ_k² ‖x̃_k‖² < G_k < 0,
and then θ* attracts the particles with sign(r) = sign(ρ_k) and repels the others.
(The printed Lemma keeps only the left inequality; without G_k < 0 the two sides
move the same way.) The radial component is continuous across θ*.

*Preconditioner* (Prop. 4, eq. 13). Along the full flow ż = −∇L(z) the canonical
point moves as ẇᵢ = −Pᵢ ∇_{wᵢ} L̃ with
Pᵢ = diag((m/α)² (aᵢ² + bᵢ² + cᵢ²), 1/(aᵢ² + bᵢ²)) in (r, θ)
(the printed eq. 12 drops the minus sign). In the plane frame (r, τ = rθ) this is
diag((m/α)²(ρᵢ² + cᵢ²), (m/α)² cᵢ²) (eq. 14): δ → −∞ moves particles radially,
δ → +∞ moves them along the plane gradient, (m/α)²cᵢ² times as fast.

Shevchenko et al. 2022
----------------------
Shevchenko, Kungurtsev & Mondelli (JMLR 23(130), 2022) train
ŷ(x) = (1/N) Σᵢ σ*(x, θᵢ), σ*(x, θ) = a(wx + b)₊, θ = (a, w, b), by noisy SGD with
batch size 1 on (1/M) Σⱼ (ŷ(xⱼ) − yⱼ)² + (λ/N) Σᵢ ‖θᵢ‖² (a mean over the M samples, the
bias penalised): θᵢ ← (1 − 2λs)θᵢ + 2s(yⱼ − ŷ(xⱼ))∇σ*(xⱼ, θᵢ) + √(2s/β)gᵢ.
In our notation θᵢ = (cᵢ, aᵢ, −bᵢ) and α = N (``alpha="m"``): σ*(x, θᵢ) = cᵢ[aᵢx − bᵢ]₊,
their knot −bᵢ/wᵢ is our eᵢ = bᵢ/aᵢ, and ``theta_from_network`` / ``network_from_theta``
convert. Implemented in ``relu1d._gibbs`` and re-exported here:

* ``shevchenko_train_kwargs(s, inv_beta, lam, N)``: their update through
  :func:`relu1d.train`: ``method="langevin", batch_size=1, lr=2s, lr_scale="width"``
  (lr_eff = 2sN), ``weight_decay=λ/N``, ``temperature=1/(2Nβ)``; equal to their literal
  update to rounding (tests/test_shevchenko2022.py). The printed noise √(2s/β) samples
  exp(−2βΨ), not exp(−βΨ); ``noise="gibbs"`` uses √(4s/β) (T = 1/(Nβ)), whose
  stationary law is the printed minimiser ρ*. ``shevchenko_init(N, scale)``: θᵢ ~
  N(0, scale²·I₃), independent of N.
* ``free_energy(net, data, lam, inv_beta)``: F(ρ_N) = ½R + (λ/2)∫‖θ‖² − β⁻¹Ĥ, R the mean
  squared error, Ĥ = ``knn_entropy`` (Kozachenko–Leonenko, k-th neighbour in 3-D; its
  bias is measured in its docstring).
* ``gibbs_potential``, ``gibbs_potential_grad``: Ψ(θ; ρ_N) =
  (1/M) Σⱼ (y_ρ(xⱼ) − yⱼ)σ*(xⱼ, θ) + (λ/2)‖θ‖² and its gradient (a.e.: Ψ is locally
  Lipschitz, kinked where wxⱼ + b = 0); ρ* ∝ exp(−βΨ(·; ρ*)) minimises F, and
  ∇Ψ(θᵢ) = N·∇_{θᵢ}(½R + (λ/2N) Σ‖θ‖²).
* ``stein_discrepancy``: E_ρ[∇φ·∇Ψ − β⁻¹Δφ], zero when ρ ∝ exp(−βΨ), for linear,
  half-square and Gaussian-bump φ, with Monte-Carlo standard errors (``SteinResult``).

The experiments ``shevchenko2022.*`` (setting, free_energy, gibbs_stein, knots,
two_point) use them. In the two-point example D = {(−10, 2), (10, 2)} the β = ∞
minimiser with the bias penalised has knots at ±1/10 and F* = 4λ/√101 − 2λ²/101, a
little below the printed 0.2|x| (knot at 0, F = 2λ/5): see
``relu1d.experiments.shevchenko2022``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._gibbs import (
    FreeEnergy,
    SteinResult,
    free_energy,
    gibbs_potential,
    gibbs_potential_grad,
    knn_entropy,
    network_from_theta,
    shevchenko_init,
    shevchenko_train_kwargs,
    stein_discrepancy,
    theta_from_network,
)
from ._validation import as_float_array, as_int, as_real, check_network_and_data
from .data import Dataset
from .network import Network

__all__ = [
    "velocity",
    "plane_velocity",
    "velocity_grid",
    "VelocityGrid",
    "boundary_angles",
    "region_labels",
    "region_covariances",
    "residual_rate",
    "attractors",
    "Boundaries",
    "preconditioner",
    "theta_from_network",
    "network_from_theta",
    "shevchenko_init",
    "shevchenko_train_kwargs",
    "knn_entropy",
    "FreeEnergy",
    "free_energy",
    "gibbs_potential",
    "gibbs_potential_grad",
    "SteinResult",
    "stein_discrepancy",
]


def _check(net, data=None):
    check_network_and_data(net, data, data_optional=True)


def _check_sign(sign) -> int:
    """The sign of r of a family of particles: +1 or -1 (a scalar; 1.0 is accepted)."""
    if (
        isinstance(sign, (bool, np.bool_))
        or not isinstance(sign, (int, float, np.integer, np.floating))
        or sign not in (1, -1)
    ):
        raise ValueError(f"sign must be +1 or -1 (the sign of r of the particles), got {sign!r}")
    return int(sign)


def _residuals(net: Network, data: Dataset) -> np.ndarray:
    return net(data.x) - data.y


def _field_sums(data: Dataset, rho: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """S(θ) = Σ_{j active at θ} ρⱼ x̃ⱼ for every θ; shape theta.shape + (2,)."""
    pre = np.multiply.outer(np.cos(theta), data.x) + np.sin(theta)[..., None]   # ⟨x̃ⱼ, d(θ)⟩
    weights = np.where(pre > 0, rho, 0.0)
    return np.stack((weights @ data.x, weights.sum(axis=-1)), axis=-1)


def _unit_vectors(theta):
    cos, sin = np.cos(theta), np.sin(theta)
    return np.stack((cos, sin), axis=-1), np.stack((-sin, cos), axis=-1)


def velocity(net: Network, data: Dataset, r, theta) -> tuple[np.ndarray, np.ndarray]:
    """The velocity field ∇V(w; μ) of eq. 9 at canonical points w = (r, θ).

    μ is the empirical measure of ``net``'s neurons; the field depends on it only
    through the residuals ρⱼ = f(xⱼ) − yⱼ on ``data``.

    Parameters
    ----------
    net : Network
    data : Dataset
    r, theta : array_like
        Points of the cylinder ℝ × S¹, broadcast against each other.

    Returns
    -------
    grad_r, grad_theta : arrays of the broadcast shape
        ∇_r V = ⟨S(θ), d(θ)⟩ and ∇_θ V = r ⟨S(θ), t(θ)⟩, S(θ) = Σ_{j: ⟨x̃ⱼ, d(θ)⟩ > 0} ρⱼ x̃ⱼ.
        At the neurons themselves, ∇_{wᵢ}L̃ = (1/m)·(grad_r, grad_theta) exactly.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> r, theta = net.canonical()
    >>> dr, dtheta = meanfield.velocity(net, data, r, theta)
    >>> dr.round(4), dtheta.round(4)
    (array([1.    , 0.4472]), array([ 2., -6.]))
    """
    _check(net, data)
    r = as_float_array(r, "r", ndim=None)
    theta = as_float_array(theta, "theta", ndim=None)
    try:
        r, theta = np.broadcast_arrays(r, theta)
    except ValueError:
        raise ValueError(
            f"r and theta must broadcast together; got shapes {r.shape} and {theta.shape}"
        ) from None
    total = _field_sums(data, _residuals(net, data), theta)
    d, t = _unit_vectors(theta)
    return np.sum(total * d, axis=-1), r * np.sum(total * t, axis=-1)


def plane_velocity(
    net: Network, data: Dataset, u, v, sign: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Velocity (u̇, v̇) of particles at plane points (u, v) = |r|·d(θ) (eq. 6) under the
    mean-field flow ẇ = −∇V (eq. 9), for particles of the given sign of r.

    The canonical flow ẇ = −∇L̃ is this divided by m. Since ∇_θV ∝ r, particles of the
    two signs feel different fields: (u̇, v̇) = sign·ṙ·d(θ) + |r|·θ̇·t(θ).

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> du, dv = meanfield.plane_velocity(net, data, np.array([1.0]), np.array([0.5]))
    >>> du.round(4), dv.round(4)
    (array([-1.05]), array([0.1]))
    """
    _check(net, data)
    u = as_float_array(u, "u", ndim=None)
    v = as_float_array(v, "v", ndim=None)
    sign = _check_sign(sign)
    u, v = np.broadcast_arrays(u, v)
    radius = np.hypot(u, v)
    theta = np.mod(np.arctan2(v, u), 2 * np.pi)
    grad_r, grad_theta = velocity(net, data, sign * radius, theta)
    d, t = _unit_vectors(theta)
    planar = (-sign * grad_r)[..., None] * d + (-radius * grad_theta)[..., None] * t
    return planar[..., 0], planar[..., 1]


@dataclass(frozen=True, eq=False)
class VelocityGrid:
    """The field of :func:`plane_velocity` on a square (u, v) grid, with region labels.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> grid = meanfield.velocity_grid(net, data, limit=2.0, n=3, sign=-1)
    >>> grid.u[0], grid.sign
    (array([-2.,  0.,  2.]), -1)
    """

    u: np.ndarray       # (n, n) grid, u varies along axis 1
    v: np.ndarray       # (n, n)
    du: np.ndarray      # (n, n) u̇
    dv: np.ndarray      # (n, n) v̇
    region: np.ndarray  # (n, n) int, label of A_k as in :func:`region_labels`
    sign: int


def velocity_grid(net: Network, data: Dataset, limit: float | None = None, n: int = 41,
                  sign: int = 1) -> VelocityGrid:
    """:func:`plane_velocity` on an n × n grid over [−limit, limit]², for plotting.

    ``limit`` defaults to 1.1 × the largest |rᵢ|.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> grid = meanfield.velocity_grid(net, data, n=5)
    >>> grid.u.shape, grid.du.shape, grid.region.shape
    ((5, 5), (5, 5), (5, 5))
    """
    _check(net, data)
    n = as_int(n, "n", minimum=2)
    if limit is None:
        limit = 1.1 * float(np.max(np.abs(net.canonical()[0])))
        limit = limit if limit > 0 else 1.0
    limit = as_real(limit, "limit", positive=True)
    axis = np.linspace(-limit, limit, n)
    u, v = np.meshgrid(axis, axis)
    du, dv = plane_velocity(net, data, u, v, sign)
    region = region_labels(data, np.mod(np.arctan2(v, u), 2 * np.pi))
    return VelocityGrid(u, v, du, dv, region, sign)


def boundary_angles(data: Dataset) -> np.ndarray:
    """Angles where ⟨x̃ⱼ, d(θ)⟩ = 0, shape (2, s), in [0, 2π).

    Row 0: θ = −arctan xⱼ (mod 2π), the neurons with a > 0 and knot xⱼ (active for x > xⱼ).
    Row 1: θ = π − arctan xⱼ, the neurons with a < 0 and knot xⱼ (active for x < xⱼ).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> meanfield.boundary_angles(data).round(4)     # two opposite angles per sample
    array([[0.7854, 0.    , 5.4978],
           [3.927 , 3.1416, 2.3562]])
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a relu1d.Dataset, got {type(data).__name__}")
    right = np.mod(-np.arctan(data.x), 2 * np.pi)
    return np.stack((right, np.mod(right + np.pi, 2 * np.pi)))


def region_labels(data: Dataset, theta) -> np.ndarray:
    """Label k of the arc A_k containing each angle, in the paper's numbering.

    k = 1..s: C_k = {1..k} (the samples left of the knot, a < 0 neurons; k = s is the
    arc where every sample is active); k = s + j, j = 1..s−1: C_k = {j+1..s} (a > 0);
    k = 0: the arc where no sample is active. Activity is strict, ⟨x̃ⱼ, d(θ)⟩ > 0, as in
    the gradient; on a boundary the sample counts as inactive.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> meanfield.region_labels(data, np.array([0.1, 1.0, 3.0]))
    array([4, 3, 2])
    """
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a relu1d.Dataset, got {type(data).__name__}")
    theta = as_float_array(theta, "theta", ndim=None)
    pre = np.multiply.outer(np.cos(theta), data.x) + np.sin(theta)[..., None]
    active = pre > 0
    count = active.sum(axis=-1)
    s = data.s
    # A prefix {1..k} has sample 1 active; a suffix {j+1..s} has sample s active.
    prefix = active[..., 0]
    labels = np.where(count == 0, 0, np.where(prefix, count, s + (s - count)))
    return labels.astype(np.int64)


def region_covariances(net: Network, data: Dataset) -> np.ndarray:
    """Σ_k = ∫_{ℝ×A_k} (r² t(θ)t(θ)ᵀ + d(θ)d(θ)ᵀ) μ(dr, dθ) of Prop. 1 for every arc.

    Returns
    -------
    (2s, 2, 2) array indexed by the labels of :func:`region_labels` (0 = no sample
    active), with μ = (1/m) Σᵢ δ_{wᵢ} the empirical measure of ``net``.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> meanfield.region_covariances(net, data).shape      # 2s arcs, one 2 × 2 matrix each
    (6, 2, 2)
    """
    _check(net, data)
    r, theta = net.canonical()
    d, t = _unit_vectors(theta)
    outer = (r ** 2)[:, None, None] * t[:, :, None] * t[:, None, :] + d[:, :, None] * d[:, None, :]
    out = np.zeros((2 * data.s, 2, 2))
    np.add.at(out, region_labels(data, theta), outer / net.m)
    return out


def _region_sets(s: int) -> np.ndarray:
    """(2s, s) boolean: row k is C_k (row 0 empty)."""
    sets = np.zeros((2 * s, s), dtype=bool)
    for k in range(1, s + 1):
        sets[k, :k] = True
    for j in range(1, s):
        sets[s + j, j:] = True
    return sets


def residual_rate(net: Network, data: Dataset) -> np.ndarray:
    """dρ/dt along the canonical gradient flow ẇ = −∇L̃ (eq. 7), by Prop. 1 (eq. 10).

    ρ̇ⱼ = −(1/m) x̃ⱼᵀ Σ_{k: j∈C_k} Σ_k S_k with Σ_k from :func:`region_covariances` and
    S_k = Σ_{j'∈C_k} ρ_{j'} x̃_{j'}. Multiply by m for the mean-field time τ = t/m in
    which eq. 10 holds as printed. Valid where no neuron sits exactly on a boundary.

    Returns
    -------
    (s,) array

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> meanfield.residual_rate(net, data).round(4) + 0.0
    array([-9.05,  0.  , -1.25])
    """
    _check(net, data)
    rho = _residuals(net, data)
    xt = np.column_stack((data.x, np.ones(data.s)))
    sets = _region_sets(data.s)
    sums = (sets * rho) @ xt                                   # S_k, (2s, 2)
    pushed = np.einsum("kab,kb->ka", region_covariances(net, data), sums)
    return -(sets.T.astype(float) @ pushed * xt).sum(axis=1) / net.m


@dataclass(frozen=True, eq=False)
class Boundaries:
    """Lemma 2 at every boundary angle: which samples attract or repel particles.

    All arrays have shape (2, s); row 0 is the a > 0 boundary of each sample
    (θ = −arctan xⱼ), row 1 the a < 0 boundary (θ = π − arctan xⱼ).

    Attributes
    ----------
    theta : boundary angles.
    coupling : G_k = Σ_{i∈C} ρᵢ ρ_k ⟨x̃ᵢ, x̃_k⟩ (C = {i > k} in row 0, {i < k} in row 1).
    self_term : ρ_k² ‖x̃_k‖² (the same in both rows).
    attracts : +1 or −1, the sign of r of the particles attracted (the other sign is
        repelled), or 0 where the angle is neither (−self_term < coupling < 0 fails).

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> found = meanfield.attractors(net, data)
    >>> found.theta.shape, found.coupling.shape, found.self_term.shape
    ((2, 3), (2, 3), (2, 3))
    """

    theta: np.ndarray
    coupling: np.ndarray
    self_term: np.ndarray
    attracts: np.ndarray

    def labels(self, sign: int = 1) -> np.ndarray:
        """"attractor", "repulsor" or "neither" for particles with sign(r) = ``sign``."""
        sign = _check_sign(sign)
        return np.where(
            self.attracts == 0, "neither", np.where(self.attracts == sign, "attractor", "repulsor")
        )


def attractors(net: Network, data: Dataset) -> Boundaries:
    """Lemma 2's test at every sample, with the condition derived in the module docstring:
    the boundary angle of x_k on the side whose other active samples are C attracts or
    repels iff −ρ_k²‖x̃_k‖² < Σ_{i∈C} ρᵢρ_k⟨x̃ᵢ, x̃_k⟩ < 0; it attracts the particles with
    sign(r) = sign(ρ_k).

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> found = meanfield.attractors(net, data)
    >>> found.attracts                   # row: the two boundary angles; column: the samples
    array([[1, 0, 0],
           [0, 0, 1]])
    """
    _check(net, data)
    rho = _residuals(net, data)
    xt = np.column_stack((data.x, np.ones(data.s)))
    gram = rho[:, None] * rho[None, :] * (xt @ xt.T)           # ρᵢρ_k⟨x̃ᵢ, x̃_k⟩
    upper = np.triu(np.ones((data.s, data.s), dtype=bool), 1)  # [k, i]: i > k
    coupling = np.stack((np.sum(np.where(upper, gram, 0.0), axis=1),
                         np.sum(np.where(upper.T, gram, 0.0), axis=1)))
    self_term = np.diag(gram).copy()
    special = (coupling < 0) & (coupling > -self_term)
    attracts = np.where(special, np.sign(rho), 0.0).astype(np.int64)
    return Boundaries(boundary_angles(data), coupling, np.stack((self_term, self_term)), attracts)


def preconditioner(net: Network) -> np.ndarray:
    """Diagonal of Pᵢ (Prop. 4, eq. 13): ẇᵢ = −Pᵢ ∇_{wᵢ}L̃ along the full flow ż = −∇L(z).

    Returns
    -------
    (m, 2) array
        Column 0: (m/α)²(aᵢ² + bᵢ² + cᵢ²) (the r entry); column 1: 1/(aᵢ² + bᵢ²) (θ; inf
        where aᵢ = bᵢ = 0, whose angle is undefined).

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> meanfield.preconditioner(net).round(4)        # one row (P_r, P_θ) per neuron
    array([[ 8. ,  1. ],
           [21. ,  0.8]])
    """
    _check(net)
    rho2 = net.a ** 2 + net.b ** 2
    with np.errstate(divide="ignore"):
        angular = np.where(rho2 > 0, 1.0 / np.where(rho2 > 0, rho2, 1.0), np.inf)
    return np.column_stack(((net.m / net.alpha) ** 2 * (rho2 + net.c ** 2), angular))
