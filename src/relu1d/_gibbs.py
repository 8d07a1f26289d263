"""Mean-field noisy SGD of Shevchenko, Kungurtsev & Mondelli (JMLR 23(130), 2022):
their setting mapped onto :func:`relu1d.train`, the free energy, its Gibbs potential
and a Stein-identity check of stationarity.

Their network is ŷ(x) = (1/N) Σᵢ σ*(x, θᵢ), σ*(x, θ) = a(wx + b)₊, θ = (a, w, b): ours
with (cᵢ, aᵢ, −bᵢ) = (aᵢ, wᵢ, bᵢ) and α = N (``alpha="m"``). The particles θᵢ define
the empirical measure ρ_N, and everything below is a functional of ρ_N:

* the risk R(ρ) = (1/M) Σⱼ (y_ρ(xⱼ) − yⱼ)², a mean over the M samples;
* the free energy F(ρ) = ½R(ρ) + (λ/2)∫‖θ‖²dρ − β⁻¹H(ρ), H(ρ) = −∫ρ log ρ;
* the Gibbs potential Ψ(θ; ρ) = (1/M) Σⱼ (y_ρ(xⱼ) − yⱼ) σ*(xⱼ, θ) + (λ/2)‖θ‖², the
  first variation of ½R + (λ/2)∫‖θ‖²; the minimiser of F is ρ* ∝ exp(−βΨ(·; ρ*)).

The noise factor. Their noisy SGD (batch 1, sample j) is
θᵢ ← (1 − 2λs)θᵢ + 2s(yⱼ − ŷ(xⱼ))∇σ*(xⱼ, θᵢ) + √(2s/β)gᵢ. Its drift is −2s∇Ψ and its
noise variance per step 2s/β, so for small s it is the Langevin chain of step h = 2s for
the target exp(−β'Ψ) with 2h/β' = 2s/β, i.e. β' = 2β: the printed update samples
exp(−2βΨ), the minimiser of F with β⁻¹ halved (already visible with no data: the
stationary variance of θ ← (1 − 2λs)θ + √(2s/β)g is 1/(2λβ) for small s, while
exp(−βλ‖θ‖²/2) has variance 1/(λβ)). :func:`shevchenko_train_kwargs` offers both:
``noise="printed"`` (their update, literally; Gibbs at 2β) and ``noise="gibbs"``
(noise √(4s/β), whose stationary law is exp(−βΨ), the minimiser of F as printed).

The mapping onto the engine. With batch size 1 our per-sample loss is
Lⱼ = ½(f(xⱼ) − yⱼ)², and ∂Lⱼ/∂zᵢ = (f(xⱼ) − yⱼ)∇σ*(xⱼ, θᵢ)/N in our coordinates (the
map (a, w, b) ↦ (c, a, −b) is an orthogonal sign flip, so gradients and isotropic
noise carry over unchanged). The engine's langevin step is
z ← z − lr_eff(∇L_batch + λ_wd z) + √(2 lr_eff T) ξ with lr_eff = m·lr under
``lr_scale="width"``. Matching term by term: lr_eff/N = 2s, so lr = 2s; lr_eff·λ_wd = 2λs,
so λ_wd = λ/N; 2 lr_eff T = 2s/β, so T = 1/(2Nβ) (printed), or 1/(Nβ) for ``"gibbs"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._validation import as_choice, as_float_array, as_int, as_real, as_rng
from .data import Dataset
from .init import init_network
from .network import Network

__all__ = ["theta_from_network", "network_from_theta", "shevchenko_init", "shevchenko_train_kwargs",
           "knn_entropy", "FreeEnergy", "free_energy", "gibbs_potential", "gibbs_potential_grad",
           "SteinResult", "stein_discrepancy"]


def _check_net(net, name: str = "net") -> Network:
    if not isinstance(net, Network):
        raise TypeError(f"{name} must be a relu1d.Network, got {type(net).__name__}")
    return net


def _check_mean_field(net) -> Network:
    """ρ_N is the empirical measure only when f = (1/N) Σ σ*: α must equal m."""
    net = _check_net(net)
    if not np.isclose(net.alpha, net.m, rtol=1e-12, atol=0.0):
        raise ValueError(
            f"net.alpha must equal net.m (the mean-field scaling α = N of Shevchenko et al.); "
            f"got alpha={net.alpha:g} with m={net.m}; build it with alpha='m'"
        )
    return net


def _check_data(data) -> Dataset:
    if not isinstance(data, Dataset):
        raise TypeError(f"data must be a relu1d.Dataset, got {type(data).__name__}")
    return data


def theta_from_network(net) -> np.ndarray:
    """The particles θᵢ = (aᵢ, wᵢ, bᵢ) of Shevchenko et al. as an (N, 3) array.

    Our (cᵢ, aᵢ, −bᵢ). Any α is accepted here; the functionals of ρ_N below
    require α = N.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import meanfield
    >>> net = meanfield.shevchenko_init(4, seed=0)
    >>> theta = meanfield.theta_from_network(net)
    >>> theta.shape
    (4, 3)
    >>> back = meanfield.network_from_theta(theta)
    >>> back, bool(np.allclose(meanfield.theta_from_network(back), theta))
    (Network(m=4, alpha=4), True)
    """
    net = _check_net(net)
    return np.column_stack((net.c, net.a, -net.b))


def network_from_theta(theta, provenance=None) -> Network:
    """The network ŷ(x) = (1/N) Σᵢ aᵢ(wᵢx + bᵢ)₊ of particles θ (N, 3): α = N.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import meanfield
    >>> net = meanfield.network_from_theta(np.array([[1.0, 1.0, 0.0], [2.0, -1.0, 0.0]]))
    >>> net, net(np.array([-1.0, 1.0]))            # ŷ = ½((x)₊ + 2(−x)₊)
    (Network(m=2, alpha=2), array([1. , 0.5]))
    """
    theta = as_float_array(theta, "theta", ndim=2)
    if theta.shape[1] != 3 or theta.shape[0] < 1:
        raise ValueError(
            f"theta must have shape (N, 3) with N >= 1 (columns a, w, b); got {theta.shape}"
        )
    n_particles = float(theta.shape[0])  # α = N, as alpha="m" resolves it
    return Network(
        theta[:, 1], -theta[:, 2], theta[:, 0], alpha=n_particles, provenance=provenance or {}
    )


def shevchenko_init(width: int, scale: float = 0.5, seed=0) -> Network:
    """N particles θᵢ ~ N(0, scale²·I₃) i.i.d. (a mean-field initialisation ρ₀ that does
    not depend on N), as a network with α = N.

    Drawn by :func:`relu1d.init_network` with the "gaussian" scheme: (a, b) ~ N(0, 1)
    times ``scale`` and c ~ N(0, 1/N) times ``scale·√N``.

    Examples
    --------
    >>> from relu1d import meanfield
    >>> net = meanfield.shevchenko_init(4, scale=0.5, seed=0)
    >>> net, net.alpha
    (Network(m=4, alpha=4), 4.0)
    """
    width = as_int(width, "width", minimum=1)
    scale = as_real(scale, "scale", positive=True)
    return init_network(
        width,
        scheme="gaussian",
        alpha="m",
        ab_scale=scale,
        c_scale=scale * np.sqrt(width),
        seed=seed,
    )


def shevchenko_train_kwargs(step: float, inv_beta: float, lam: float, width: int, *,
                            noise: str = "printed") -> dict:
    """Keyword arguments of :func:`relu1d.train` that run their noisy SGD exactly.

    Parameters
    ----------
    step : float
        Their step size s > 0.
    inv_beta : float
        Their temperature β⁻¹ >= 0 (0: plain SGD with weight decay).
    lam : float
        Their regularisation λ >= 0 (objective (1/M)Σ(ŷ − y)² + (λ/N)Σ‖θᵢ‖²).
    width : int
        N, the number of particles (the network must have α = N).
    noise : {"printed", "gibbs"}
        "printed": noise √(2s/β)g as printed, whose stationary law is exp(−2βΨ);
        "gibbs": noise √(4s/β)g, whose stationary law is exp(−βΨ), the minimiser of
        F(ρ) = ½R + (λ/2)∫‖θ‖² − β⁻¹H as printed (see the module docstring).

    Returns
    -------
    dict
        ``method="langevin", batch_size=1, loss="sum", lr_scale="width", lr=2s,
        weight_decay=λ/N, temperature=1/(2Nβ)`` (printed) or ``1/(Nβ)`` (gibbs),
        ``trainable="abc"``. With batch size 1 the "sum" and "mean" losses coincide.
        Add ``steps`` (SGD updates) and the recording options yourself.

    Examples
    --------
    >>> from relu1d import meanfield
    >>> kw = meanfield.shevchenko_train_kwargs(step=0.01, inv_beta=1e-3, lam=1e-3, width=4)
    >>> kw["method"], kw["batch_size"], kw["lr"], kw["temperature"]
    ('langevin', 1, 0.02, 0.000125)
    """
    step = as_real(step, "step", positive=True)
    inv_beta = as_real(inv_beta, "inv_beta", nonnegative=True)
    lam = as_real(lam, "lam", nonnegative=True)
    width = as_int(width, "width", minimum=1)
    as_choice(noise, "noise", ("printed", "gibbs"))
    temperature = inv_beta / (2 * width) if noise == "printed" else inv_beta / width
    return {
        "method": "langevin",
        "batch_size": 1,
        "loss": "sum",
        "lr_scale": "width",
        "lr": 2 * step,
        "weight_decay": lam / width,
        "temperature": temperature,
        "trainable": "abc",
    }


# ---------------------------------------------------------------------- entropy
def knn_entropy(samples, k: int = 1) -> float:
    """Kozachenko–Leonenko estimate of the differential entropy H = −∫ρ log ρ (nats).

    Ĥ = ψ(n) − ψ(k) + log V_d + (d/n) Σᵢ log εᵢ, with εᵢ the distance from sample i to
    its k-th nearest neighbour (Euclidean, scipy's cKDTree) and V_d = π^{d/2}/Γ(d/2 + 1)
    the volume of the unit ball.

    The estimator is consistent for i.i.d. samples of a density; its bias comes from
    the density varying across a neighbourhood and from boundaries, so it is largest
    for few samples, sharply peaked, bounded or nearly degenerate densities. Measured
    (k = 1, 40 repeats): on a 3-D Gaussian the mean error is −0.045 nats at n = 250,
    −0.026 at 500, −0.017 at 1000, −0.012 at 8000, with a spread of one estimate of
    0.12, 0.09, 0.05, 0.025; on a uniform cube (boundaries) +0.10 at n = 500 and +0.04
    at 8000. Against β⁻¹·H in the free energy (β⁻¹ = 0.01) these are below 10⁻³. A
    measure concentrating on a lower-dimensional set (β → ∞) has H → −∞ and the estimate
    decreases without bound as n grows. Coincident samples give εᵢ = 0 and −inf.

    Parameters
    ----------
    samples : array_like, shape (n, d)
        n > k samples in d dimensions (a 1-D array is n samples in one dimension).
    k : int
        Which neighbour, >= 1.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import meanfield
    >>> samples = np.random.default_rng(0).normal(size=(2000, 1))
    >>> exact = 0.5 * np.log(2 * np.pi * np.e)                 # H of N(0, 1)
    >>> bool(abs(meanfield.knn_entropy(samples) - exact) < 0.05)
    True
    """
    x = as_float_array(samples, "samples", ndim=None)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"samples must have shape (n, d); got {x.shape}")
    k = as_int(k, "k", minimum=1)
    n, d = x.shape
    if n <= k:
        raise ValueError(f"samples must hold more than k = {k} points; got {n}")
    from scipy.spatial import cKDTree
    from scipy.special import digamma, gammaln

    dist, _ = cKDTree(x).query(x, k=k + 1)
    eps = dist[:, k]
    log_vd = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1)
    with np.errstate(divide="ignore"):
        mean_log = np.mean(np.log(eps))
    return float(digamma(n) - digamma(k) + log_vd + d * mean_log)


# ---------------------------------------------------------------------- free energy
@dataclass(frozen=True)
class FreeEnergy:
    """F(ρ) = ½R(ρ) + (λ/2)∫‖θ‖²dρ − β⁻¹H(ρ) and its parts, at one ρ_N.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> F = meanfield.free_energy(meanfield.shevchenko_init(4, seed=0), data, 1e-3, 1e-3)
    >>> round(F.risk, 4), round(F.penalty, 4), round(F.entropy, 4)
    (0.3496, 0.3723, 1.1982)
    """

    value: float
    risk: float       # R, the mean squared error over the samples
    penalty: float    # ∫‖θ‖²dρ_N = (1/N) Σ ‖θᵢ‖²
    entropy: float    # Ĥ(ρ_N) by knn_entropy; nan when β⁻¹ = 0 (not computed)


def free_energy(net, data, lam: float, inv_beta: float, k: int = 1) -> FreeEnergy:
    """The free energy of Shevchenko et al. (their eq. for F(ρ)) at the particles of ``net``.

    Parameters
    ----------
    net : Network
        α = N; its particles θᵢ = (cᵢ, aᵢ, −bᵢ) are samples of ρ.
    data : Dataset
    lam : float
        λ >= 0.
    inv_beta : float
        β⁻¹ >= 0. At 0 the entropy term is dropped (and not estimated).
    k : int
        Neighbour used by :func:`knn_entropy`.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = meanfield.shevchenko_init(4, seed=0)
    >>> F = meanfield.free_energy(net, data, lam=1e-3, inv_beta=1e-3)
    >>> bool(np.isclose(F.value, F.risk / 2 + 1e-3 / 2 * F.penalty - 1e-3 * F.entropy))
    True
    """
    net = _check_mean_field(net)
    data = _check_data(data)
    lam = as_real(lam, "lam", nonnegative=True)
    inv_beta = as_real(inv_beta, "inv_beta", nonnegative=True)
    theta = theta_from_network(net)
    resid = net(data.x) - data.y
    risk = float(np.mean(resid ** 2))
    penalty = float(np.mean(np.sum(theta ** 2, axis=1)))
    value = 0.5 * risk + 0.5 * lam * penalty
    entropy = float("nan")
    if inv_beta > 0:
        entropy = knn_entropy(theta, k=k)
        value -= inv_beta * entropy
    return FreeEnergy(float(value), risk, penalty, entropy)


# ---------------------------------------------------------------------- Gibbs potential
def _potential_parts(net, data, lam, theta):
    net = _check_mean_field(net)
    data = _check_data(data)
    lam = as_real(lam, "lam", nonnegative=True)
    if theta is None:
        theta = theta_from_network(net)
    else:
        theta = as_float_array(theta, "theta", ndim=None)
        if theta.ndim == 1:
            theta = theta[None, :]
        if theta.ndim != 2 or theta.shape[1] != 3:
            raise ValueError(
                f"theta must have shape (n, 3) (columns a, w, b) or (3,); got {theta.shape}"
            )
    weights = (net(data.x) - data.y) / len(data)     # (y_ρ(xⱼ) − yⱼ)/M
    pre = np.multiply.outer(theta[:, 1], data.x) + theta[:, 2:3]   # wxⱼ + b, (n, M)
    return theta, weights, pre, lam


def gibbs_potential(net, data, lam: float, theta=None) -> np.ndarray:
    """Ψ(θ; ρ_N) = (1/M) Σⱼ (y_ρ(xⱼ) − yⱼ) a(wxⱼ + b)₊ + (λ/2)‖θ‖².

    The first variation of ½R + (λ/2)∫‖θ‖²; ρ* ∝ exp(−βΨ(·; ρ*)) minimises F.

    Parameters
    ----------
    net : Network
        α = N; defines ρ_N and so the residuals y_ρ(xⱼ) − yⱼ.
    data : Dataset
    lam : float
    theta : array_like, shape (n, 3) or (3,), optional
        Where to evaluate, columns (a, w, b); default the particles of ``net``.

    Returns
    -------
    (n,) array

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = meanfield.shevchenko_init(4, seed=0)
    >>> meanfield.gibbs_potential(net, data, lam=1e-3).shape             # at the particles
    (4,)
    """
    theta, weights, pre, lam = _potential_parts(net, data, lam, theta)
    return theta[:, 0] * (np.maximum(pre, 0.0) @ weights) + 0.5 * lam * np.sum(theta ** 2, axis=1)


def gibbs_potential_grad(net, data, lam: float, theta=None) -> np.ndarray:
    """∇_θΨ(θ; ρ_N), shape (n, 3), columns ∂/∂a, ∂/∂w, ∂/∂b.

    Ψ is continuous and piecewise smooth in θ (σ* has a kink where wxⱼ + b = 0), so
    ∇Ψ exists except on those planes, a null set for an absolutely continuous ρ; there
    the one-sided value from the inactive side is returned. The Stein identity only
    needs the a.e. gradient: Ψ is locally Lipschitz, so integrating by parts leaves no
    term on the kinks.

    ∂Ψ/∂a = Σⱼ gⱼ(wxⱼ + b)₊ + λa, ∂Ψ/∂w = a Σⱼ gⱼxⱼ1[wxⱼ + b > 0] + λw,
    ∂Ψ/∂b = a Σⱼ gⱼ1[wxⱼ + b > 0] + λb, with gⱼ = (y_ρ(xⱼ) − yⱼ)/M.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = meanfield.shevchenko_init(4, seed=0)
    >>> theta = np.array([[0.3, 0.7, -0.2]])
    >>> h = 1e-6 * np.eye(3)
    >>> numeric = [(meanfield.gibbs_potential(net, data, 1e-3, theta + e)
    ...             - meanfield.gibbs_potential(net, data, 1e-3, theta - e))[0] / 2e-6 for e in h]
    >>> bool(np.allclose(meanfield.gibbs_potential_grad(net, data, 1e-3, theta)[0], numeric))
    True
    """
    theta, weights, pre, lam = _potential_parts(net, data, lam, theta)
    active = pre > 0
    x = _check_data(data).x
    grad = lam * theta
    grad[:, 0] += np.maximum(pre, 0.0) @ weights
    grad[:, 1] += theta[:, 0] * (active @ (weights * x))
    grad[:, 2] += theta[:, 0] * (active @ weights)
    return grad


# ---------------------------------------------------------------------- Stein identity
@dataclass(frozen=True)
class SteinResult:
    """E_ρ[∇φ·∇Ψ − β⁻¹Δφ] for a family of test functions φ, at one ρ_N.

    Attributes
    ----------
    names : tuple of str
        The test functions ("theta_a", "half_sq_w", "gauss_3", ...).
    value : (K,) array
        The particle averages (zero for every φ at a stationary ρ ∝ exp(−βΨ)).
    stderr : (K,) array
        Their Monte-Carlo standard errors, std/√N over the particles (treating them
        as independent, which the mean-field limit makes true to O(1/N)).
    scale : (K,) array
        E|∇φ·∇Ψ| + β⁻¹E|Δφ|: the size of the two terms that must cancel.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> result = meanfield.stein_discrepancy(meanfield.shevchenko_init(4, seed=0), data, 1e-3, 1e-3)
    >>> len(result.names) == result.value.size == result.scale.size
    True
    """

    names: tuple
    value: np.ndarray
    stderr: np.ndarray
    scale: np.ndarray

    @property
    def relative(self) -> np.ndarray:
        """|value| / scale: 0 at stationarity, O(1) far from it."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.abs(self.value) / self.scale

    @property
    def zscore(self) -> np.ndarray:
        """value / stderr: O(1) when the identity holds up to sampling error."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.value / self.stderr


def stein_discrepancy(
    net,
    data,
    lam: float,
    inv_beta: float,
    centers=None,
    width: float | None = None,
    n_centers: int = 8,
    seed=0,
) -> SteinResult:
    """The Stein identity E_ρ[∇φ·∇Ψ − β⁻¹Δφ] = 0 of a stationary ρ ∝ exp(−βΨ).

    Integrating by parts, ∫ρΔφ = −∫∇ρ·∇φ = β∫ρ ∇Ψ·∇φ when ρ ∝ exp(−βΨ) (Ψ locally
    Lipschitz, φ smooth and bounded with its derivatives, or growing slowly enough
    against ρ's Gaussian tail for λ > 0). The test functions, in θ = (a, w, b):

    * the three coordinates φ = θₗ (∇φ = eₗ, Δφ = 0): E[∂ₗΨ] = 0;
    * the three half-squares φ = θₗ²/2 (∇φ = θₗeₗ, Δφ = 1): E[θₗ∂ₗΨ] = β⁻¹;
    * Gaussian bumps φₖ = exp(−‖θ − μₖ‖²/(2h²)): ∇φ = −(θ − μₖ)φ/h²,
      Δφ = (‖θ − μₖ‖²/h⁴ − 3/h²)φ.

    Parameters
    ----------
    net : Network
        α = N; ρ_N and Ψ(·; ρ_N) both come from it.
    data : Dataset
    lam, inv_beta : float
        λ >= 0 and β⁻¹ >= 0 (use 2β for the printed noisy SGD: see the module docstring).
    centers : array_like, shape (K, 3), optional
        Bump centres μₖ; default ``n_centers`` particles drawn with ``seed``. Pass the
        same centres to compare two measures (init against end of a run).
    width : float, optional
        Bump width h; default the root-mean-square distance of the particles to their
        mean divided by √3 (one coordinate's spread).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import meanfield
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = meanfield.shevchenko_init(4, seed=0)
    >>> result = meanfield.stein_discrepancy(net, data, lam=1e-3, inv_beta=1e-3, n_centers=8)
    >>> result.names[:3], result.value.shape, result.stderr.shape
    (('theta_a', 'theta_w', 'theta_b'), (10,), (10,))
    """
    inv_beta = as_real(inv_beta, "inv_beta", nonnegative=True)
    theta, weights, pre, lam = _potential_parts(net, data, lam, None)
    grad = gibbs_potential_grad(net, data, lam)
    n = theta.shape[0]
    if centers is None:
        n_centers = as_int(n_centers, "n_centers", minimum=0)
        rng = as_rng(seed)
        centers = theta[rng.choice(n, size=min(n_centers, n), replace=False)]
    else:
        centers = as_float_array(centers, "centers", ndim=2)
        if centers.shape[1] != 3:
            raise ValueError(
                f"centers must have shape (K, 3) (columns a, w, b); got {centers.shape}"
            )
    if width is None:
        width = float(np.sqrt(np.mean(np.sum((theta - theta.mean(axis=0)) ** 2, axis=1)) / 3))
        if width == 0:
            raise ValueError(
                "all particles coincide, so the default bump width is 0; pass width > 0"
            )
    width = as_real(width, "width", positive=True)

    names: list[str] = []
    drift_rows: list[np.ndarray] = []
    lap_rows: list[np.ndarray] = []
    for l, label in enumerate("awb"):
        names.append(f"theta_{label}")
        drift_rows.append(grad[:, l])
        lap_rows.append(np.zeros(n))
    for l, label in enumerate("awb"):
        names.append(f"half_sq_{label}")
        drift_rows.append(theta[:, l] * grad[:, l])
        lap_rows.append(np.ones(n))
    for k, mu in enumerate(centers):
        diff = theta - mu
        sq = np.sum(diff ** 2, axis=1)
        phi = np.exp(-sq / (2 * width ** 2))
        names.append(f"gauss_{k}")
        drift_rows.append(-np.sum(diff * grad, axis=1) * phi / width ** 2)
        lap_rows.append((sq / width ** 4 - 3 / width ** 2) * phi)
    drift, lap = np.array(drift_rows), np.array(lap_rows)
    terms = drift - inv_beta * lap
    value = terms.mean(axis=1)
    stderr = terms.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.full(len(names), np.nan)
    scale = np.mean(np.abs(drift), axis=1) + inv_beta * np.mean(np.abs(lap), axis=1)
    return SteinResult(tuple(names), value, stderr, scale)
