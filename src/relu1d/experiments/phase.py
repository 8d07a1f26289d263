r"""Phase diagrams of the kernel ↔ adaptive transition (issue 12, §3): our own measurements.

Williams et al. (2019, §3.3) show the two ends of the training dynamics of
f(x) = (1/α) Σᵢ cᵢ [aᵢx − bᵢ]₊ — the kernel regime (a cubic-like kernel interpolant) and the
adaptive regime (a linear spline with knots at the data) — and leave open "the transition
between these two regimes as a function of the initialization". Two experiments map it:

* ``phase.delta_m`` — Williams' δ-rescaled initialisation (the uniform init moved along
  each neuron's rescaling orbit to cᵢ² − aᵢ² − bᵢ² = δ, which keeps the function), over
  (δ, m), for α = √m and α = m;
* ``phase.scale_m`` — PyTorch's default ("uniform") init with every weight multiplied by σ,
  α = 1, over (σ, m): the lazy/rich transition of Chizat, Oyallon & Bach (NeurIPS 2019) and
  Woodworth et al. (COLT 2020). As in both papers the init is anti-symmetrised (neurons in
  pairs (a, b, c), (a, b, −c), so f₀ ≡ 0): otherwise the lazy limit is f₀ plus the kernel
  fit of y − f₀, and f₀ = O(σ²) would move it away from any fixed endpoint.

Order parameters (one value per grid point and seed, at convergence and at a fixed time):
the position between the endpoints t = d_K/(d_K + d_A), with d_K and d_A the L² distances
on the data hull to the kernel and to the adaptive endpoint (0: kernel, 1: adaptive), and
t_width, the same against the run's own width-m lazy limit (:func:`_lazy_endpoint`: the
empirical kernel's interpolant, which is what the kernel regime reaches at finite width; on
these ill-conditioned data it is still far from the m = ∞ interpolant at m ≤ 10³, t ≈ 0.4
there, so the crossovers are fitted on t_width, and on t where it crosses too); knot
concentration at the data (final and peak over the run); effective knots; laziness
‖(a, b)_T − (a, b)₀‖/‖(a, b)₀‖; the relative change of the empirical tangent kernel
‖K_T − K₀‖_F/‖K₀‖_F (K = JJᵀ, J the parameter Jacobian on the data); the final loss, the
gradient norm and the loss plateau; whether the run stalled (loss > ε and equal to
:func:`relu1d.knots.affine_misfit_bound` within a tolerance); the time to loss ε.

Endpoints (:func:`_endpoints`, one private function, to be switched to ``relu1d.endpoints``)
------------------------------------------------------------------------------------------
*Adaptive*: the minimum-∫|f''| interpolant. The data are a zig-zag (the signs of the second
differences alternate), for which the linear interpolant is the unique minimiser on the
hull (by the mean value theorem f' takes every secant slope; with alternating secant
slopes any deviation from the secants adds variation), and for which the two endpoints are
far apart (their L² distance is a sizeable fraction of the data scale, unlike on samples of
sin πx).

*Kernel*, ``phase.delta_m``: the RF kernel (Williams Thm. 5) — but of the *rescaled* first
layer. Moving a neuron to invariant δ at fixed canonical point gives ρᵢ² = aᵢ² + bᵢ² =
cᵢ² − δ and |cᵢ|ρᵢ = Rᵢ fixed, so as δ → −∞, cᵢ² ≈ Rᵢ²/|δ| → 0 and ρᵢ → √|δ| for every
neuron: (a, b) becomes √|δ|·(cos θ, −sin θ) with θ distributed as the angle of a uniform
point of the square [−1, 1]². The tangent kernel is (1/α²)Σᵢ[φᵢφᵢ' + cᵢ²(1 + xx')1ᵢ1ᵢ'],
whose second (a, b) part is cᵢ²/ρᵢ² ≈ Rᵢ²/δ² of the first: the c-part, i.e. the RF kernel
of that angular law, is the δ → −∞ limit. Its curvature weight is
ζ(u) = 1/(4(1 + u²)) for |u| ≤ 1 and 1/(4u²(1 + u²)) outside (per unit E ρ²), not the
uniform init's ⅛·min(1, u⁻⁴) (:class:`SquareAngles`, checked against Monte Carlo and
the empirical kernel in the tests). *Kernel*, ``phase.scale_m``: with α = 1 and every
layer scaled by σ, the tangent kernel is σ²Σᵢ[φᵢφᵢ' + cᵢ²(1 + xx')1ᵢ1ᵢ'] for the unscaled
draws, whose expectation is σ²m[K_RF + E[c²](1 + xx')K₀] with E c² = 1/(3m)
(:func:`relu1d.kernel.ntk` with ``c_variance = 1/(3m)``): the NTK, σ-independent in shape,
which tends to the uniform RF kernel as m → ∞ (the (a, b) part is O(1/m) of it). Both
are all-layer lazy limits; the delta diagram's NTK reduces to an RF kernel because its
(a, b) part vanishes as δ → −∞, the scale diagram's keeps its O(1/m) part.

Scaling argument (our derivation, what the exponent claims compare with)
-------------------------------------------------------------------------
δ-rescaled init: the fit moves cᵢ by about α/(m√|δ|) (the features have size √|δ|); the
(a, b) part of the tangent kernel, relative to the c part, is then cᵢ²/|δ| ~ α²/(m²δ²), and
the dynamics leave the kernel regime when that reaches a fixed (data-dependent) level L:
|δ*| ∝ α/m, i.e. m^(−1/2) for α = √m and m⁰ for α = m. Scaled init (α = 1), the same
criterion: the fit moves cᵢ by about 1/(mσ) (features of size σ), on top of cᵢ ~ σ/√m, so
the (a, b) part relative to the c part becomes cᵢ²/ρᵢ² ~ (1/√m + 1/(mσ²))², which reaches L
(for m ≫ 1/L) at σ* ∝ m^(−1/2). (A first version of this docstring compared the motion of c
with c itself instead, which gives m^(−1/4); that is not the criterion that the δ diagram
confirms.)

Training: full-batch GD with lr = ``lr_factor``/λ_max(JJᵀ) at the start, recomputed after
each of ``chunks`` chunks (lowered when the kernel has grown); a chunk in which the loss
rises by more than 1 % between two record points, or diverges, is rerun at a quarter of the
lr (the tangent kernel can grow by orders of magnitude in the rich regime, and a too-large
step there does not always blow up: it can catapult every neuron off the data and leave a
dead network). Times are gradient-flow times Σ lr·steps, and "natural" times, in units of
1/λ_max(JJᵀ₀); the fixed-time order parameters are taken after ``fixed_steps`` steps of the
first chunk.

Sweeps: the full presets are ``relu1d sweep sweeps/phase_delta_m.toml`` (and
``sweeps/phase_scale_m.toml``), grids over ``widths`` and ``seeds`` blocks; the merged
``sweep.nc`` holds the whole diagram with the sweep's grid dimensions in front (each
point filling its own widths and seeds, NaN elsewhere), and :func:`diagram` folds it back to
(alpha, delta, m, seed) / (scale, m, seed); :func:`fit_crossover` does that itself.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import endpoints, hessian, kernel, knots, splines
from .._validation import as_int, as_real
from ..data import Dataset
from ..init import init_network
from ..network import Network
from ..plot import new_figure
from ._registry import Claim, ExperimentResult, Reading, register

__all__ = [
    "DeltaMSpec",
    "ScaleMSpec",
    "run_delta_m",
    "run_scale_m",
    "SquareAngles",
    "zigzag",
    "order_parameters",
    "empirical_ntk",
    "laziness",
    "position",
    "fit_crossover",
    "diagram",
    "Crossover",
]

_REF_OURS = "relu1d measurement (Williams et al. 2019 §3.3 leave the transition open)"
_REF_LAZY = "relu1d measurement (cf. Chizat, Oyallon & Bach 2019; Woodworth et al. 2020)"
_REF_DERIVED = "relu1d derivation (module docstring, 'Scaling argument')"
_REF_STALL = "relu1d measurement (cf. Boursier & Flammarion 2025, JMLR, Thm. 2)"
_NODES = 32
_CELLS_PER_GAP = 40
_DELTA_REF = 0.01          # δ axis coordinate: asinh(δ/δ_ref), ≈ log10|δ| + const for |δ| ≫ δ_ref


# ================================================================== the kernel of the rescaled init
def _square_angle_density(a, b):
    """(a, b) = ρ·(cos θ, sin θ), θ the angle of a uniform point of [−1, 1]², ρ Rayleigh
    with E ρ² = 1."""
    r2 = a * a + b * b
    with np.errstate(invalid="ignore", divide="ignore"):
        v = r2 * np.exp(-r2) / (4 * np.maximum(a * a, b * b))
    return np.where(r2 > 0, v, 0.0)


@dataclass(frozen=True, eq=False)
class SquareAngles(kernel.Density):
    """First layer of Williams' δ-rescaled uniform init as δ → −∞ (module docstring).

    The directions of (a, b) are those of a uniform point of [−1, 1]² (angle density
    1/(8·max(cos²θ, sin²θ))); the radius is independent, with E ρ² = 1 (a Rayleigh law, so
    that ``p`` is an honest density for :class:`relu1d.kernel.Density`'s generic
    quadrature; the RF kernel depends on the radius only through E ρ², and the interpolant
    not at all). The RF kernel is computed exactly from its curvature weight
    ζ(u) = 1/(4(1 + u²)) (|u| ≤ 1), 1/(4u²(1 + u²)) (|u| > 1): K = ½[J(x, x') + J(−x, −x')],
    J = ∫_{−∞}^{min(x,x')} ζ(u)(x − u)(x' − u) du, by Gauss–Legendre on u ∈ [−1, 1] and, for
    |u| > 1, on v = 1/u ∈ [−1, 1], where the integrand (1 − (x + x')v + xx'v²)/(4(1 + v²)) is
    smooth (error below 1e-14).
    """

    p: Callable[..., Any] = _square_angle_density
    symmetric: bool = True
    c_variance: float | None = 0.0

    @staticmethod
    def _half(x, xp):
        t, w = np.polynomial.legendre.leggauss(_NODES)
        lo = np.minimum(x, xp)
        prod, total = (x * xp)[..., None], (x + xp)[..., None]

        def gl(f, left, right):
            half = (right - left) / 2
            return (
                np.sum(w * f((left + right)[..., None] / 2 + half[..., None] * t), axis=-1) * half
            )

        def inner(u):
            return (prod - total * u + u * u) / (4 * (1 + u * u))

        def tail(v):
            return (1 - total * v + prod * v * v) / (4 * (1 + v * v))

        low = np.minimum(lo, -1.0)
        high = np.maximum(lo, 1.0)
        return (
            gl(tail, 1.0 / low, np.zeros_like(lo))
            + gl(inner, -np.ones_like(lo), np.clip(lo, -1.0, 1.0))
            + gl(tail, 1.0 / high, np.ones_like(lo))
        )

    def _k1(self, x, xp):
        x, xp = np.broadcast_arrays(np.asarray(x, float), np.asarray(xp, float))
        return 0.5 * (self._half(x, xp) + self._half(-x, -xp))


# =============================================================================== data and endpoints
def zigzag(s: int = 6, seed=0) -> Dataset:
    """s samples on [−1, 1] (an even grid jittered by up to a quarter spacing) with
    y_j = (−1)^j (0.5 + 0.5 U_j): the second differences alternate in sign, so the linear
    interpolant is the unique minimiser of ∫|f''| on the hull, far from the kernel one."""
    s = as_int(s, "s", minimum=3)
    rng = np.random.default_rng(seed)
    x = np.clip(np.linspace(-1, 1, s) + rng.uniform(-0.25, 0.25, s) * 2 / (s - 1), -1, 1)
    y = (-1.0) ** np.arange(s) * (0.5 + 0.5 * rng.uniform(size=s))
    return Dataset(x, y)


def _endpoints(data: Dataset, diagram: str, m: int | None = None):
    """(kernel endpoint, adaptive endpoint) as callables: the one place that names them.

    Both come from :mod:`relu1d.endpoints`: the kernel interpolant of the lazy limit, and
    the sparsest minimum-cost interpolant with free biases, which on zig-zag data (second
    differences alternating in sign) is the linear interpolant, the unique minimiser of
    ∫|f''| there.
    """
    if diagram == "delta":
        ker = endpoints.kernel(data, init=SquareAngles(), kernel="rf")
    else:
        assert m is not None  # the scale diagram passes its width
        ker = endpoints.kernel(
            data, init=kernel.Uniform(c_variance=1.0 / (3.0 * m)), kernel="ntk"
        )
    return ker, endpoints.rnorm(data, bias="free").function


def _tabulate(f, data: Dataset) -> splines.Spline:
    """f on the hull as a piecewise cubic through 4 equispaced points of each of
    ``_CELLS_PER_GAP`` cells per gap (exact for the uniform RF interpolant, 1e-9 for the
    others): cheap to evaluate, and :func:`relu1d.splines.l2_distance` integrates a network
    against it exactly."""
    from scipy.interpolate import PPoly

    edges = np.unique(np.concatenate([np.linspace(lo, hi, _CELLS_PER_GAP + 1)
                                      for lo, hi in zip(data.x[:-1], data.x[1:])]))
    lo, width = edges[:-1], np.diff(edges)
    frac = np.array([0.0, 1 / 3, 2 / 3, 1.0])
    values = np.asarray(f((lo[:, None] + width[:, None] * frac).ravel()), float).reshape(lo.size, 4)
    coef = np.linalg.solve(np.vander(frac, 4), values.T) / width ** np.array([3, 2, 1, 0])[:, None]
    return splines.Spline(PPoly(coef, edges))


class _Linearised:
    """x ↦ ∇_θ f(x)·w, the lazy (linearised) model of a network: piecewise linear with
    jumps at its knots, which it declares as ``breakpoints``."""

    def __init__(self, net: Network, weights: np.ndarray):
        self.net, self.w = net, weights
        self.breakpoints = net.knots[np.isfinite(net.knots)]

    def __call__(self, x):
        x = np.asarray(x, float)
        net, m = self.net, self.net.m
        act = (np.multiply.outer(x, net.a) > net.b).astype(float)
        wa, wb, wc = self.w[:m], self.w[m:2 * m], self.w[2 * m:]
        phi = np.maximum(np.multiply.outer(x, net.a) - net.b, 0.0)
        return (phi @ wc + (act * x[..., None]) @ (net.c * wa) - act @ (net.c * wb)) / net.alpha


def _lazy_endpoint(net0: Network, data: Dataset, diagram: str):
    """The width-m lazy limit of a run started at ``net0`` (the kernel endpoint at finite width).

    delta: δ → −∞ at the same canonical point, where (a, b) → √|δ|·(unit direction) stays
    fixed and only c moves: f₀ plus the minimum-norm correction of the output layer on the
    unit-direction features (exact: a Network). scale: the all-layer linearised model from
    f₀ = 0, f(x) = ∇f(x)·Jᵀ(JJᵀ)⁻¹y with the empirical tangent kernel at init.
    """
    if diagram == "delta":
        rho = np.hypot(net0.a, net0.b)
        keep = rho > 0
        a, b = (
            np.where(keep, net0.a / np.where(keep, rho, 1.0), 0.0),
            np.where(keep, net0.b / np.where(keep, rho, 1.0), 0.0),
        )
        c0 = net0.c * rho
        phi = np.maximum(np.multiply.outer(data.x, a) - b, 0.0) / net0.alpha
        dc = np.linalg.lstsq(phi, data.y - net0(data.x), rcond=None)[0]
        return Network(a, b, c0 + dc, net0.alpha).to_spline()
    jac = hessian.jacobian(net0, data)
    return _Linearised(
        net0, jac.T @ np.linalg.lstsq(jac @ jac.T, data.y - net0(data.x), rcond=None)[0]
    )


# =============================================================================== order parameters
def empirical_ntk(net: Network, data: Dataset) -> np.ndarray:
    """K = JJᵀ, J[j, :] = ∇_{(a,b,c)} f(xⱼ) (:func:`relu1d.hessian.jacobian`): shape (s, s)."""
    jac = hessian.jacobian(net, data)
    return jac @ jac.T


def laziness(net: Network, start: Network) -> float:
    """‖(a, b) − (a, b)₀‖/‖(a, b)₀‖ over all neurons (Frobenius)."""
    if not isinstance(net, Network) or not isinstance(start, Network):
        raise TypeError("net and start must be relu1d.Network instances")
    if net.m != start.m:
        raise ValueError(f"net and start must have the same width, got {net.m} and {start.m}")
    num = math.sqrt(float(np.sum((net.a - start.a) ** 2) + np.sum((net.b - start.b) ** 2)))
    den = math.sqrt(float(np.sum(start.a ** 2) + np.sum(start.b ** 2)))
    return num / den if den > 0 else float("nan")


def position(f, kernel_end, adaptive_end, interval) -> tuple[float, float, float]:
    """(t, d_K, d_A): L² distances on ``interval`` to the two endpoints and
    t = d_K/(d_K + d_A) (0 at the kernel endpoint, 1 at the adaptive one)."""
    d_k = splines.l2_distance(f, kernel_end, interval)
    d_a = splines.l2_distance(f, adaptive_end, interval)
    total = d_k + d_a
    return (d_k / total if total > 0 else float("nan")), d_k, d_a


def order_parameters(net: Network, start: Network, data: Dataset, kernel_end, adaptive_end, *,
                     eps: float = 0.02, tol: float | None = None) -> dict:
    """Every order parameter of one trained network against its start.

    Parameters
    ----------
    net, start : Network
        The trained network and its initial state.
    data : Dataset
    kernel_end, adaptive_end : callable
        The endpoints (ideally with declared ``breakpoints``, see
        :func:`relu1d.splines.l2_distance`).
    eps : float
        Knot-concentration radius (:func:`relu1d.knots.concentration`).
    tol : float, optional
        Knot-clustering width (:func:`relu1d.knots.clusters`).

    Returns
    -------
    dict with t, d_kernel, d_adaptive, concentration, effective_knots, laziness, ntk_change,
    loss, affine_bound, grad_norm.
    """
    hull = (float(data.x[0]), float(data.x[-1]))
    t, d_k, d_a = position(net.to_spline(), kernel_end, adaptive_end, hull)
    k0, k1 = empirical_ntk(start, data), empirical_ntk(net, data)
    jac = hessian.jacobian(net, data)
    residual = net(data.x) - data.y
    return {"t": t, "d_kernel": d_k, "d_adaptive": d_a,
            "concentration": knots.concentration(net, data, eps),
            "effective_knots": float(knots.clusters(net, data, tol).effective.sum()),
            "laziness": laziness(net, start),
            "ntk_change": float(np.linalg.norm(k1 - k0) / np.linalg.norm(k0)),
            "loss": 0.5 * float(residual @ residual),
            "affine_bound": knots.affine_misfit_bound(net, data),
            "grad_norm": float(np.linalg.norm(jac.T @ residual))}


# =============================================================================== training
def _lam_max(nets, data) -> float:
    return max(float(np.linalg.eigvalsh(empirical_ntk(n, data))[-1]) for n in nets)


_RETRIES = 8


def _unstable(loss: np.ndarray) -> bool:
    """GD below its stability limit lowers the loss: a rise of more than 1 % between two
    record points (or a non-finite loss) says the step was too large for the current
    curvature — the chunk is rerun at a quarter of the lr."""
    loss = np.asarray(loss, float)
    return bool(not np.all(np.isfinite(loss)) or np.any(loss[1:] > 1.01 * loss[:-1] + 1e-300))


def _train_group(nets0, data, spec, kernel_end, adaptive_end, xs, diagram) -> list[dict]:
    """Train one group (same width and setting, one network per seed) in chunks; the order
    parameters of each run at the fixed time and at the end, plus its certificates."""
    from ..train import TrainingDiverged, train_many

    lam0 = _lam_max(nets0, data)
    lr = spec.lr_factor / lam0
    chunk = -(-spec.steps // spec.chunks)
    current, clock, natural = list(nets0), 0.0, 0.0
    times, losses, conc_hist = (
        [np.zeros(1)],
        [np.array([[0.5 * float(np.sum((n(data.x) - data.y) ** 2))] for n in nets0])],
        [],
    )
    fixed, last_losses, prev_losses = None, None, None
    done = retries = 0
    while done < spec.steps:
        n = min(chunk, spec.steps - done)
        record = np.unique(np.r_[np.round(np.geomspace(1, n, 24)).astype(int), n])
        if done == 0 and spec.fixed_steps <= n:
            record = np.unique(np.r_[record, spec.fixed_steps])
        for attempt in range(_RETRIES):  # noqa: B007 (read after the loop: retries += attempt)
            try:
                trajs = train_many(
                    current, data, method="gd", lr=lr, steps=n, record=record, max_snapshots=None
                )
            except TrainingDiverged:
                lr /= 4
                continue
            if not any(_unstable(t.data_loss) for t in trajs):
                break
            lr /= 4
        else:
            raise RuntimeError(
                f"GD was unstable {_RETRIES} times, at lr down to {lr:.3g} (m = {nets0[0].m})"
            )
        retries += attempt
        times.append(clock + lr * trajs[0].steps[1:])
        losses.append(np.array([t.data_loss[1:] for t in trajs]))
        snaps = trajs[0].snapshots
        conc_hist.append(np.array([[knots.concentration(t.snapshots.network(k), data, spec.eps)
                                    for k in range(0, len(snaps), 3)] for t in trajs]))
        if done == 0 and spec.fixed_steps <= n:
            k = int(np.flatnonzero(snaps.steps == spec.fixed_steps)[0])
            fixed = [t.snapshots.network(k) for t in trajs]
        clock += lr * n
        natural += lr * lam0 * n
        done += n
        current = [t.network for t in trajs]
        prev_losses, last_losses = last_losses, np.array([t.data_loss[-1] for t in trajs])
        if np.all(last_losses < spec.loss_floor):
            break
        lam = _lam_max(current, data)
        if lam > 0:
            lr = min(lr, spec.lr_factor / lam)
    time_axis = np.concatenate(times)
    loss_hist = np.concatenate(losses, axis=1)
    hull = (float(data.x[0]), float(data.x[-1]))
    assert last_losses is not None  # the loop above ran at least once (steps >= 1)
    out = []
    for j, (start, end) in enumerate(zip(nets0, current)):
        row = order_parameters(end, start, data, kernel_end, adaptive_end, eps=spec.eps)
        lazy_end = _lazy_endpoint(start, data, diagram)
        row["t_width"], row["d_lazy"], _ = position(end.to_spline(), lazy_end, adaptive_end, hull)
        row["peak_concentration"] = float(np.nanmax(np.concatenate([c[j] for c in conc_hist])))
        row["concentration_init"] = knots.concentration(start, data, spec.eps)
        below = np.flatnonzero(loss_hist[j] < spec.loss_eps)
        row["time_to_eps"] = float(time_axis[below[0]]) if below.size else float("nan")
        row["natural_time_to_eps"] = row["time_to_eps"] * lam0
        row["plateau"] = (float(abs(prev_losses[j] - last_losses[j]) / last_losses[j])
                          if prev_losses is not None and last_losses[j] > 0 else 0.0)
        row["interpolates"] = float(row["loss"] < spec.loss_eps)
        row["stalled"] = float(row["loss"] >= spec.loss_eps
                               and row["affine_bound"] >= (1 - spec.stall_tol) * row["loss"])
        if fixed is not None:
            t_f, dk_f, da_f = position(fixed[j].to_spline(), kernel_end, adaptive_end, hull)
            res = fixed[j](data.x) - data.y
            row["t_width_fixed"] = position(fixed[j].to_spline(), lazy_end, adaptive_end, hull)[0]
            row.update(t_fixed=t_f, d_kernel_fixed=dk_f, d_adaptive_fixed=da_f,
                       loss_fixed=0.5 * float(res @ res), laziness_fixed=laziness(fixed[j], start))
        row["flow_time"] = clock
        row["natural_time"] = natural
        row["lr_init"] = spec.lr_factor / lam0
        row["lr_final"] = lr
        row["retries"] = float(retries)
        row["curve"] = end(xs)
        out.append(row)
    return out


_VARIABLES = (
    "t",
    "t_width",
    "d_lazy",
    "t_width_fixed",
    "d_kernel",
    "d_adaptive",
    "concentration",
    "peak_concentration",
    "concentration_init",
    "effective_knots",
    "laziness",
    "ntk_change",
    "loss",
    "affine_bound",
    "grad_norm",
    "plateau",
    "interpolates",
    "stalled",
    "time_to_eps",
    "natural_time_to_eps",
    "t_fixed",
    "d_kernel_fixed",
    "d_adaptive_fixed",
    "loss_fixed",
    "laziness_fixed",
    "flow_time",
    "natural_time",
    "lr_init",
    "lr_final",
    "retries",
)
_PLOT_POINTS = 121


def _check_common(spec) -> None:
    for name in ("widths", "seeds"):
        values = getattr(spec, name)
        if not isinstance(values, tuple) or not values:
            raise ValueError(f"{name} must be a non-empty tuple, got {values!r}")
        for v in values:
            as_int(v, name, minimum=2 if name == "widths" else 0)
        if len(set(values)) != len(values):
            raise ValueError(f"{name} must not repeat a value, got {values!r}")
    as_int(spec.s, "s", minimum=3)
    as_real(spec.lr_factor, "lr_factor", positive=True)
    if spec.lr_factor >= 2:
        raise ValueError(
            "lr_factor must be below 2 (GD's stability limit in units of 1/λ_max), got "
            f"{spec.lr_factor}"
        )
    steps = as_int(spec.steps, "steps", minimum=1)
    chunks = as_int(spec.chunks, "chunks", minimum=1)
    if not 1 <= as_int(spec.fixed_steps, "fixed_steps", minimum=1) <= -(-steps // chunks):
        raise ValueError(
            f"fixed_steps must lie in the first chunk, 1 … {-(-steps // chunks)}; got "
            f"{spec.fixed_steps}"
        )
    for name in ("loss_eps", "loss_floor", "eps", "stall_tol"):
        as_real(getattr(spec, name), name, positive=True)
    as_int(spec.n_boot, "n_boot", minimum=20)


def _assemble(
    rows: dict, dims: tuple, coords: dict, curves: dict, data: Dataset, extra: dict, attrs: dict
):
    import xarray as xr

    shape = tuple(len(coords[d]) for d in dims)
    variables: dict[str, tuple] = {}
    for name in _VARIABLES:
        arr = np.full(shape, np.nan)
        for index, row in rows.items():
            arr[index] = row.get(name, np.nan)
        variables[name] = (dims, arr)
    curve = np.full(shape + (_PLOT_POINTS,), np.nan)
    for index, values in curves.items():
        curve[index] = values
    variables["f"] = (dims + ("x",), curve)
    variables["data_x"] = ("sample", data.x)
    variables["data_y"] = ("sample", data.y)
    variables.update(extra)
    return xr.Dataset(variables, coords=coords, attrs=attrs)


@dataclass(frozen=True)
class DeltaMSpec:
    """Williams' δ-rescaled uniform init over (δ, m) for each α; GD on :func:`zigzag` data.

    ``widths``, ``deltas``, ``alphas`` ("sqrt", "m" or numbers) and ``seeds`` span the
    diagram. Each run: lr = ``lr_factor``/λ_max(JJᵀ), re-evaluated after each of
    ``chunks`` chunks of ``steps`` in all (stopping early once every seed's loss is below
    ``loss_floor``); the fixed-time order parameters at step ``fixed_steps``. ``loss_eps``:
    the loss below which a run interpolates (and the ε of the time to ε); ``eps``: the
    knot-concentration radius; ``stall_tol``: relative tolerance of "loss = affine misfit
    bound"; ``n_boot``: bootstrap resamples of the crossover fit.
    """

    widths: tuple = (32, 64, 128, 256, 512)
    deltas: tuple = (
        -100000.0,
        -30000.0,
        -10000.0,
        -3000.0,
        -1000.0,
        -300.0,
        -100.0,
        -30.0,
        -10.0,
        -1.0,
        0.0,
        1.0,
    )
    alphas: tuple = ("sqrt", "m")
    seeds: tuple = tuple(range(10))
    s: int = 6
    data_seed: int = 0
    lr_factor: float = 1.0
    steps: int = 400_000
    chunks: int = 4
    fixed_steps: int = 100_000
    loss_eps: float = 1e-6
    loss_floor: float = 1e-16
    eps: float = 0.02
    stall_tol: float = 0.02
    n_boot: int = 1000


def _x_plot(data: Dataset) -> np.ndarray:
    return np.linspace(data.x[0], data.x[-1], _PLOT_POINTS)


@register(
    "phase.delta_m",
    "Phase diagram over (δ, m) of Williams' δ-rescaled init, α = √m and α = m: position t between "
    "the kernel and the adaptive endpoint, laziness, tangent-kernel change, knots, stalls; "
    "crossover δ*(m) and its scaling exponent",
    quick=DeltaMSpec(
        widths=(32, 128),
        deltas=(-30000.0, -3000.0, -300.0, -30.0, 0.0),
        seeds=(0, 1, 2),
        steps=40_000,
        chunks=2,
        fixed_steps=20_000,
        lr_factor=1.5,
        n_boot=300,
    ),
    full=DeltaMSpec(),
    judge=lambda ds, spec: _judge_delta_m(ds, spec),
)
def run_delta_m(spec: DeltaMSpec) -> ExperimentResult:
    """The (δ, m) phase diagram of Williams' δ-rescaled init, α = √m and α = m.

    Measures, per (α, δ, m, seed), the order parameters of :func:`order_parameters` on a
    network trained to convergence (and at ``fixed_steps``), the crossover δ*(m) where the
    seed mean of t crosses ½ with its bootstrap interval, and the exponent of δ*(m) ∝ m^p.
    Claims (our measurements): the kernel end is the lazy limit, the adaptive end is
    reached, a crossover exists, t is monotone in δ, the finite-width kernel gap shrinks,
    δ ≥ 0 stalls are certified, and the exponents (inconclusive unless ≥ 3 widths pin them).
    Quick preset: widths 32, 128, 5 values of δ, 3 seeds; full: 5 widths, 12 δ, 10 seeds.
    """
    ds = _measure_delta_m(spec)
    return ExperimentResult(ds, _draw(ds, spec, "delta"), _judge(ds, spec, "delta"))


def _measure_delta_m(spec: DeltaMSpec):
    """The data set of :func:`run_delta_m`, crossover fits included."""
    _check_common(spec)
    if not spec.deltas or len(set(spec.deltas)) != len(spec.deltas):
        raise ValueError(
            f"deltas must be a non-empty tuple of distinct numbers, got {spec.deltas!r}"
        )
    deltas = sorted(as_real(d, "deltas") for d in spec.deltas)
    alphas = list(spec.alphas)
    if not alphas:
        raise ValueError("alphas must name at least one α ('sqrt', 'm', 'one' or a number)")
    data = zigzag(spec.s, spec.data_seed)
    kernel_end, adaptive_end = _endpoints(data, "delta")
    k_tab = _tabulate(kernel_end, data)
    xs = _x_plot(data)
    rows, curves = {}, {}
    for ia, alpha in enumerate(alphas):
        for im, m in enumerate(spec.widths):
            for idl, delta in enumerate(deltas):
                nets0 = [
                    init_network(m, alpha=alpha, seed=seed, delta=delta) for seed in spec.seeds
                ]
                results = _train_group(nets0, data, spec, k_tab, adaptive_end, xs, "delta")
                for js, row in enumerate(results):
                    curves[(ia, idl, im, js)] = row.pop("curve")
                    rows[(ia, idl, im, js)] = row
    ds = _assemble(
        rows,
        ("alpha", "delta", "m", "seed"),
        {
            "alpha": [str(a) for a in alphas],
            "delta": deltas,
            "m": list(spec.widths),
            "seed": list(spec.seeds),
            "x": xs,
            "sample": np.arange(data.s),
        },
        curves,
        data,
        {
            "f_kernel": ("x", kernel_end(xs)),
            "f_adaptive": ("x", adaptive_end(xs)),
            "endpoint_distance": (
                (),
                splines.l2_distance(k_tab, adaptive_end, (data.x[0], data.x[-1])),
            ),
        },
        {
            "diagram": "delta",
            "kernel_endpoint": "rf kernel of the rescaled first layer (SquareAngles)",
            "adaptive_endpoint": "linear interpolant (unique min ∫|f''| on zig-zag data)",
        },
    )
    return _with_fits(ds, spec, "delta")


# =================================================================== folding sweeps, crossover fits
_CORE = {"delta": ("alpha", "delta", "m", "seed"), "scale": ("scale", "m", "seed")}


def diagram(dataset):
    """The phase diagram of a ``relu1d sweep`` output (or of a result's data), with dims
    (alpha, delta, m, seed) or (scale, m, seed).

    A sweep over ``widths``/``seeds`` blocks puts its grid dimensions in front and each
    point fills only its own widths and seeds (NaN elsewhere): every extra dimension is
    folded by taking the one finite value at each cell (two different finite values are an
    error: overlapping blocks).
    """
    import xarray as xr

    if not isinstance(dataset, xr.Dataset):
        raise TypeError(f"dataset must be an xarray.Dataset, got {type(dataset).__name__}")
    kind = "delta" if "delta" in dataset.dims else "scale" if "scale" in dataset.dims else None
    if kind is None or "t" not in dataset:
        raise ValueError(
            "dataset must be a phase.delta_m or phase.scale_m result (dims delta or scale, "
            "variable t), or a sweep of one"
        )
    core = _CORE[kind]
    extra = [d for d in dataset["t"].dims if d not in core]
    if not extra:
        return dataset
    out = {}
    for name in _VARIABLES:
        if name not in dataset:
            continue
        var = dataset[name]
        stacked = (
            var.stack(_block=extra)
            .transpose(*[d for d in var.dims if d not in extra], "_block")
            .values
        )
        finite = np.isfinite(stacked)
        count = finite.sum(axis=-1)
        if np.any(count > 1):
            spread = np.nanmax(stacked, axis=-1) - np.nanmin(stacked, axis=-1)
            if np.any(spread[count > 1] > 1e-12 * np.nanmax(np.abs(stacked))):
                raise ValueError(
                    f"variable {name!r} has two different values for one cell: the sweep's "
                    "widths/seeds blocks overlap"
                )
        with np.errstate(all="ignore"):
            folded = np.where(
                count > 0, np.nanmax(np.where(finite, stacked, -np.inf), axis=-1), np.nan
            )
        out[name] = ([d for d in var.dims if d not in extra], folded)
    coords = {d: dataset[d].values for d in core}
    return xr.Dataset(out, coords=coords)


@dataclass(frozen=True)
class Crossover:
    """Where the seed-mean of an order parameter crosses ½, per width (and per α), and the
    power law fitted to it.

    Attributes
    ----------
    axis : "delta" or "scale"
    groups : tuple of str
        One per α ("" for the scale diagram).
    m : ndarray, shape (n_m,)
    value, low, high : ndarray, shape (n_groups, n_m)
        The crossover δ* or σ* from the seed means, and its 95 % bootstrap interval over
        seeds (NaN where the seed means do not cross ½).
    found : ndarray, shape (n_groups, n_m)
        Fraction of bootstrap resamples that cross.
    exponent, exponent_low, exponent_high : ndarray, shape (n_groups,)
        p of |x*| ∝ m^p (least squares in log-log over the widths with a crossover) and its
        95 % bootstrap interval; NaN with fewer than two widths, or when δ* changes sign.
    """

    axis: str
    groups: tuple
    m: np.ndarray
    value: np.ndarray
    low: np.ndarray
    high: np.ndarray
    found: np.ndarray
    exponent: np.ndarray
    exponent_low: np.ndarray
    exponent_high: np.ndarray


def _coordinate(axis: str, values):
    values = np.asarray(values, float)
    return np.arcsinh(values / _DELTA_REF) if axis == "delta" else np.log(values)


def _inverse(axis: str, u):
    return _DELTA_REF * np.sinh(u) if axis == "delta" else np.exp(u)


def _crossing(u: np.ndarray, curve: np.ndarray, ascending: bool) -> float:
    """First crossing of ½ walking away from the kernel end (t < ½ there), linear in u."""
    order = np.argsort(u) if ascending else np.argsort(u)[::-1]
    u, curve = u[order], curve[order]
    ok = np.isfinite(curve)
    u, curve = u[ok], curve[ok]
    for k in range(curve.size - 1):
        if curve[k] < 0.5 <= curve[k + 1]:
            w = (0.5 - curve[k]) / (curve[k + 1] - curve[k])
            return float(u[k] + w * (u[k + 1] - u[k]))
    return float("nan")


def _power(m, x) -> float:
    ok = np.isfinite(x)
    if ok.sum() < 2 or not (np.all(x[ok] < 0) or np.all(x[ok] > 0)):
        return float("nan")
    return float(np.polyfit(np.log(m[ok]), np.log(np.abs(x[ok])), 1)[0])


def fit_crossover(dataset, variable: str = "t_width", n_boot: int = 1000, seed: int = 0,
                  interpolating_only: bool = True) -> Crossover:
    """Crossover of ``variable`` at ½ per width (and α), with bootstrap intervals, and the
    exponent of x* ∝ m^p.

    Parameters
    ----------
    dataset : xarray.Dataset
        A ``phase.delta_m`` / ``phase.scale_m`` result's data, or a merged sweep of one
        (folded by :func:`diagram`).
    variable : str
        "t_width" (against the width-m lazy endpoint; default), "t" (against the
        infinite-width kernel endpoint) or "t_fixed"/"t_width_fixed".
    n_boot : int
        Bootstrap resamples of the seeds (each width resampled independently).
    seed : int
        Seed of the resampling.
    interpolating_only : bool
        Leave out the runs that do not interpolate (loss ≥ ε: stalled or unconverged), whose
        position between two interpolants means nothing; a δ (or σ) where fewer than half
        of the seeds interpolate drops out of the curve.

    Returns
    -------
    Crossover
    """
    ds = diagram(dataset)
    if not isinstance(variable, str) or variable not in _ORDER_PARAMETERS or variable not in ds:
        raise ValueError(
            f"variable must be one of the order parameters t, t_width, t_fixed, t_width_fixed "
            f"present in the dataset; got {variable!r}"
        )
    n_boot = as_int(n_boot, "n_boot", minimum=20)
    seed = as_int(seed, "seed", minimum=0)
    if not isinstance(interpolating_only, (bool, np.bool_)):
        raise TypeError(f"interpolating_only must be True or False, got {interpolating_only!r}")
    axis = "delta" if "delta" in ds.dims else "scale"
    _check_axes(ds, axis, variable, bool(interpolating_only))
    ascending = axis == "delta"
    u = _coordinate(axis, ds[axis].values)
    groups = tuple(str(a) for a in ds["alpha"].values) if axis == "delta" else ("",)
    m = np.asarray(ds["m"].values, float)
    rng = np.random.default_rng(seed)
    shape = (len(groups), m.size)
    value, low, high, found = (np.full(shape, np.nan) for _ in range(4))
    boot = np.full((len(groups), m.size, n_boot), np.nan)
    for g, group in enumerate(groups):
        sub = ds.sel(alpha=group) if axis == "delta" else ds
        for k in range(m.size):
            vals = sub[variable].isel(m=k).transpose(axis, "seed").values.copy()
            if interpolating_only:
                vals[sub["interpolates"].isel(m=k).transpose(axis, "seed").values != 1] = np.nan
            value[g, k] = _crossing(u, _seed_mean(vals), ascending)
            n_seed = vals.shape[1]
            picks = rng.integers(0, n_seed, (n_boot, n_seed))
            resampled = vals[:, picks]                     # (n_axis, n_boot, n_seed)
            ok = np.isfinite(resampled)
            with np.errstate(all="ignore"):
                means = np.where(ok, resampled, 0.0).sum(axis=2) / ok.sum(axis=2)
            means = np.where(ok.sum(axis=2) * 2 >= n_seed, means, np.nan)
            for b in range(n_boot):
                boot[g, k, b] = _crossing(u, means[:, b], ascending)
            hit = np.isfinite(boot[g, k])
            found[g, k] = hit.mean()
            if hit.sum() >= 10:
                low[g, k], high[g, k] = np.percentile(boot[g, k, hit], [2.5, 97.5])
    value, low, high, boot = (_inverse(axis, v) for v in (value, low, high, boot))
    exponent, e_low, e_high = (np.full(len(groups), np.nan) for _ in range(3))
    for g in range(len(groups)):
        exponent[g] = _power(m, value[g])
        ps = np.array([_power(m, boot[g, :, b]) for b in range(n_boot)])
        ok = np.isfinite(ps)
        if np.isfinite(exponent[g]) and ok.mean() >= 0.5:
            e_low[g], e_high[g] = np.percentile(ps[ok], [2.5, 97.5])
    return Crossover(axis, groups, m, value, low, high, found, exponent, e_low, e_high)


_ORDER_PARAMETERS = ("t", "t_width", "t_fixed", "t_width_fixed")


def _check_axes(ds, axis: str, variable: str, interpolating_only: bool) -> None:
    """Refuse a diagram that :func:`fit_crossover` cannot read: missing dimensions or
    variables, or axis values that are not finite, distinct (and > 0 for σ and m)."""
    needed = _CORE[axis]
    missing = [d for d in needed if d not in ds[variable].dims]
    if missing:
        raise ValueError(
            f"dataset variable {variable!r} must have dims {needed}; missing {missing} (pass the "
            "whole phase result or sweep, not a selection that drops a dimension)"
        )
    if interpolating_only and "interpolates" not in ds:
        raise ValueError(
            "dataset has no variable 'interpolates'; pass interpolating_only=False to use every run"
        )
    for name in (axis, "m"):
        vals = np.asarray(ds[name].values, float)
        positive = name == "m" or axis == "scale"
        if (not np.all(np.isfinite(vals)) or np.unique(vals).size != vals.size
                or (positive and not np.all(vals > 0))):
            raise ValueError(
                f"dataset coordinate {name!r} must hold distinct finite values"
                f"{' > 0' if positive else ''}; got {vals.tolist()}"
            )


def _seed_mean(vals: np.ndarray) -> np.ndarray:
    """Mean over seeds (axis 1) where at least half the seeds are finite, else NaN."""
    ok = np.isfinite(vals)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(np.where(ok, vals, np.nan), axis=1)
    return np.where(ok.sum(axis=1) * 2 >= vals.shape[1], mean, np.nan)


# =============================================================================== scale diagram
@dataclass(frozen=True)
class ScaleMSpec:
    """PyTorch's default init (a, b ~ U(−1, 1), c ~ U(±1/√m)), anti-symmetrised (pairs
    (a, b, c), (a, b, −c): f₀ ≡ 0), every weight times σ, α = 1, over (σ, m); GD on
    :func:`zigzag` data. Training and tolerance fields as in :class:`DeltaMSpec`; widths
    must be even."""

    widths: tuple = (32, 64, 128, 256, 512)
    scales: tuple = (0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
    seeds: tuple = tuple(range(10))
    s: int = 6
    data_seed: int = 0
    lr_factor: float = 1.0
    steps: int = 400_000
    chunks: int = 4
    fixed_steps: int = 100_000
    loss_eps: float = 1e-6
    loss_floor: float = 1e-16
    eps: float = 0.02
    stall_tol: float = 0.02
    n_boot: int = 1000


def _symmetric_uniform(m: int, scale: float, seed: int) -> Network:
    half = init_network(m, scheme="uniform", alpha="one", ab_scale=scale, c_scale=scale, seed=seed)
    h = m // 2
    return Network(
        np.r_[half.a[:h], half.a[:h]],
        np.r_[half.b[:h], half.b[:h]],
        np.r_[half.c[:h], -half.c[:h]],
        1.0,
        {"scheme": "uniform, anti-symmetrised", "scale": scale, "seed": seed},
    )


@register(
    "phase.scale_m",
    "Phase diagram over (σ, m) of PyTorch's default init scaled by σ (anti-symmetrised, α = 1): "
    "the lazy/rich transition; position t between the endpoints, laziness, tangent-kernel change, "
    "knots; crossover σ*(m) and its scaling exponent",
    quick=ScaleMSpec(
        widths=(32, 128),
        scales=(0.1, 0.5, 2.0, 8.0, 32.0),
        seeds=(0, 1, 2),
        steps=30_000,
        chunks=2,
        fixed_steps=15_000,
        n_boot=300,
    ),
    full=ScaleMSpec(),
    judge=lambda ds, spec: _judge_scale_m(ds, spec),
)
def run_scale_m(spec: ScaleMSpec) -> ExperimentResult:
    """The (σ, m) phase diagram of PyTorch's default init scaled by σ (anti-symmetrised).

    Measures, per (σ, m, seed), the order parameters of :func:`order_parameters` on a
    network trained to convergence (and at ``fixed_steps``), the crossover σ*(m) where the
    seed mean of t crosses ½ with its bootstrap interval, and the exponent of σ*(m) ∝ m^p.
    Claims (our measurements): the kernel end is the lazy limit, the adaptive end is
    reached, a crossover exists, t is monotone in σ, laziness falls with σ, the finite-width
    kernel gap shrinks, and the exponent (inconclusive unless ≥ 3 widths pin it).
    Quick preset: widths 32, 128, 5 scales, 3 seeds; full: 5 widths, 8 scales, 10 seeds.
    """
    ds = _measure_scale_m(spec)
    return ExperimentResult(ds, _draw(ds, spec, "scale"), _judge(ds, spec, "scale"))


def _measure_scale_m(spec: ScaleMSpec):
    """The data set of :func:`run_scale_m`, crossover fits included."""
    _check_common(spec)
    if any(int(m) % 2 for m in spec.widths):
        raise ValueError(
            f"widths must be even (the init is anti-symmetrised in pairs), got {spec.widths!r}"
        )
    if not spec.scales or len(set(spec.scales)) != len(spec.scales):
        raise ValueError(
            f"scales must be a non-empty tuple of distinct numbers, got {spec.scales!r}"
        )
    scales = sorted(as_real(v, "scales", positive=True) for v in spec.scales)
    data = zigzag(spec.s, spec.data_seed)
    xs = _x_plot(data)
    rows, curves, kernel_curves = {}, {}, []
    adaptive_end = None
    for im, m in enumerate(spec.widths):
        kernel_end, adaptive_end = _endpoints(data, "scale", m)
        k_tab = _tabulate(kernel_end, data)
        kernel_curves.append(kernel_end(xs))
        for isc, scale in enumerate(scales):
            nets0 = [_symmetric_uniform(m, scale, seed) for seed in spec.seeds]
            for js, row in enumerate(
                _train_group(nets0, data, spec, k_tab, adaptive_end, xs, "scale")
            ):
                curves[(isc, im, js)] = row.pop("curve")
                rows[(isc, im, js)] = row
    assert adaptive_end is not None  # spec.widths is not empty (_check_common)
    ds = _assemble(
        rows,
        ("scale", "m", "seed"),
        {
            "scale": scales,
            "m": list(spec.widths),
            "seed": list(spec.seeds),
            "x": xs,
            "sample": np.arange(data.s),
        },
        curves,
        data,
        {
            "f_kernel": (("m", "x"), np.array(kernel_curves)),
            "f_adaptive": ("x", adaptive_end(xs)),
            "endpoint_distance": (
                (),
                splines.l2_distance(
                    _tabulate(kernel_end, data), adaptive_end, (data.x[0], data.x[-1])
                ),
            ),
        },
        {
            "diagram": "scale",
            "kernel_endpoint": "NTK of the init at width m (kernel.ntk, c_variance 1/(3m))",
            "adaptive_endpoint": "linear interpolant (unique min ∫|f''| on zig-zag data)",
        },
    )
    return _with_fits(ds, spec, "scale")


# =============================================================================== figures and claims
_PREDICTED = {"sqrt": -0.5, "m": 0.0, "": -0.5}


def _fmt(v, spec=".3g") -> str:
    return "nan" if not np.isfinite(v) else format(float(v), spec)


def _with_fits(ds, spec, kind: str):
    """``ds`` with the crossover fits of t_width and t (per width) and the exponent."""
    fit = fit_crossover(ds, "t_width", n_boot=spec.n_boot)
    fit_inf = fit_crossover(ds, "t", n_boot=spec.n_boot)
    group_dim = ("alpha",) if kind == "delta" else ()
    shape_dims = group_dim + ("m",)

    def arr(values):
        return values if kind == "delta" else values[0]

    ds = ds.assign(
        {
            f"crossover{suffix}": (shape_dims, arr(getattr(f, name)))
            for f, suffix0 in ((fit, ""), (fit_inf, "_infinite_width"))
            for name, suffix in (
                ("value", suffix0),
                ("low", suffix0 + "_low"),
                ("high", suffix0 + "_high"),
                ("found", suffix0 + "_found"),
            )
        }
    )
    ds = ds.assign({name: (group_dim, arr(getattr(fit, attr)))
                    for name, attr in (("exponent", "exponent"), ("exponent_low", "exponent_low"),
                                       ("exponent_high", "exponent_high"))})
    return ds


def _stored_fit(ds, kind: str) -> Crossover:
    """The crossover fit of t_width as :func:`_with_fits` stored it in ``ds``."""
    def rows(name):
        values = np.asarray(ds[name].values, float)
        return values if kind == "delta" else values[None]

    return Crossover(
        axis="delta" if kind == "delta" else "scale",
        groups=tuple(str(g) for g in ds["alpha"].values) if kind == "delta" else ("",),
        m=np.asarray(ds["m"].values, float),
        value=rows("crossover"), low=rows("crossover_low"), high=rows("crossover_high"),
        found=rows("crossover_found"), exponent=rows("exponent").reshape(-1),
        exponent_low=rows("exponent_low").reshape(-1),
        exponent_high=rows("exponent_high").reshape(-1),
    )


def _judge(ds, spec, kind: str) -> tuple:
    """The claims, from the data set alone (as stored by a run or read from data.nc)."""
    return tuple(_claims(ds, _stored_fit(ds, kind), spec, kind))


def _judge_delta_m(ds, spec) -> tuple:
    """The claims of :func:`run_delta_m` from its data set."""
    return _judge(ds, spec, "delta")


def _judge_scale_m(ds, spec) -> tuple:
    """The claims of :func:`run_scale_m` from its data set."""
    return _judge(ds, spec, "scale")


def _draw(ds, spec, kind: str) -> dict:
    """The figures, from the data set alone."""
    return _figures(ds, _stored_fit(ds, kind), kind)


def _figures(ds, fit: Crossover, kind: str) -> dict:
    axis = "delta" if kind == "delta" else "scale"
    groups = list(ds["alpha"].values) if kind == "delta" else [""]
    values = ds[axis].values
    u = _coordinate(axis, values)
    m = ds["m"].values
    heat, axes = new_figure(len(groups))
    for g, group in enumerate(groups):
        ax = axes[0, g]
        sub = ds.sel(alpha=group) if kind == "delta" else ds
        mean = (
            sub["t_width"].where(sub["interpolates"] == 1).mean("seed").transpose(axis, "m").values
        )
        mesh = ax.pcolormesh(
            np.log2(m), u, mean, vmin=0, vmax=1, cmap="coolwarm", shading="nearest"
        )
        star = _coordinate(axis, np.where(np.isfinite(fit.value[g]), fit.value[g], np.nan))
        lo = _coordinate(axis, fit.low[g])
        hi = _coordinate(axis, fit.high[g])
        ax.errorbar(
            np.log2(m),
            star,
            yerr=[np.abs(star - lo), np.abs(hi - star)],
            color="k",
            marker="o",
            capsize=3,
            label="t = ½ (95 % bootstrap)",
        )
        ax.set_xticks(np.log2(m), [str(int(v)) for v in m])
        ax.set_yticks(u, [f"{v:g}" for v in values])
        ax.set_xlabel("m")
        ax.set_ylabel("δ" if kind == "delta" else "σ")
        ax.set_title(
            ("α = " + ("√m" if group == "sqrt" else str(group)))
            if kind == "delta"
            else "α = 1, anti-symmetric"
        )
        ax.legend(fontsize="small")
        heat.colorbar(mesh, ax=ax, label="t (0 kernel, 1 adaptive), interpolating runs")
    # strip of f across the transition, largest width, first group, seed 0
    sub = (ds.sel(alpha=groups[0]) if kind == "delta" else ds).isel(m=-1, seed=0)
    picks = np.unique(np.round(np.linspace(0, values.size - 1, min(4, values.size))).astype(int))
    strip, saxes = new_figure(picks.size)
    f_kernel = (
        ds["f_kernel"].isel(m=-1).values if "m" in ds["f_kernel"].dims else ds["f_kernel"].values
    )
    for ax, k in zip(saxes[0], picks):
        ax.plot(ds["x"], f_kernel, "C0--", lw=1, label="kernel endpoint")
        ax.plot(ds["x"], ds["f_adaptive"], "C3:", lw=1, label="adaptive endpoint")
        ax.plot(ds["x"], sub["f"].isel({axis: k}), "k", lw=1.5, label="trained f")
        ax.plot(ds["data_x"], ds["data_y"], "ko", ms=4)
        ax.set_title(
            f"{'δ' if kind == 'delta' else 'σ'} = {values[k]:g}: t = "
            f"{float(sub['t'].isel({axis: k})):.2f}, "
            f"t_m = {float(sub['t_width'].isel({axis: k})):.2f}"
        )
    saxes[0, 0].legend(fontsize="small")
    # order parameters against the axis at the largest width
    names = ("t", "t_width", "laziness", "ntk_change", "peak_concentration", "stalled")
    prof, paxes = new_figure(len(names), size=(3.2, 3.0))
    for ax, name in zip(paxes[0], names):
        for group in groups:
            s2 = (ds.sel(alpha=group) if kind == "delta" else ds).isel(m=-1)
            ax.errorbar(u, s2[name].mean("seed"), yerr=s2[name].std("seed"), marker="o", capsize=2,
                        label=("α = " + str(group)) if group else None)
        ax.set_xticks(u, [f"{v:g}" for v in values], rotation=90, fontsize="x-small")
        ax.set_title(f"{name}, m = {int(m[-1])}")
        if name in ("laziness", "ntk_change"):
            ax.set_yscale("symlog", linthresh=1e-3)
    if groups[0]:
        paxes[0, 0].legend(fontsize="small")
    return {
        f"phase_{kind}_heatmap": heat,
        f"phase_{kind}_strip": strip,
        f"phase_{kind}_profiles": prof,
    }


def _largest_drop(curve: np.ndarray, rising: bool) -> float:
    """Largest step against the expected direction along the axis, up to the curve's peak
    (finite points)."""
    c = curve[np.isfinite(curve)] if rising else curve[np.isfinite(curve)][::-1]
    if c.size < 2:
        return float("nan")
    c = c[:int(np.argmax(c)) + 1]
    return float(np.max(np.r_[0.0, c[:-1] - c[1:]]))


def _claims(ds, fit: Crossover, spec, kind: str) -> list:
    axis = "delta" if kind == "delta" else "scale"
    sym = "δ" if kind == "delta" else "σ"
    groups = list(ds["alpha"].values) if kind == "delta" else [""]
    n_seeds = ds.sizes["seed"]
    ref = _REF_OURS if kind == "delta" else _REF_LAZY
    interp = ds["interpolates"] == 1
    t_w = ds["t_width"].where(interp)
    kernel_side = {axis: 0 if kind == "delta" else -1}

    def sel(g):
        return ds.sel(alpha=g) if kind == "delta" else ds

    lazy_end = [float(t_w.sel(alpha=g).isel(kernel_side).isel(m=-1).mean("seed")) if kind == "delta"
                else float(t_w.isel(kernel_side).isel(m=-1).mean("seed")) for g in groups]
    lazy_lz = [float(sel(g)["laziness"].isel(kernel_side).isel(m=-1).mean("seed")) for g in groups]
    peak = []
    for g in groups:
        tw = (t_w.sel(alpha=g) if kind == "delta" else t_w).mean("seed")
        peak.append(float(tw.max()))
    drops = []
    for g in groups:
        tw = (t_w.sel(alpha=g) if kind == "delta" else t_w).mean("seed").transpose(axis, "m").values
        drops += [_largest_drop(tw[:, k], rising=kind == "delta") for k in range(tw.shape[1])]
    found = np.isfinite(fit.value)
    t_inf_small = [float(sel(g)["t"].isel(kernel_side).isel(m=0).mean("seed")) for g in groups]
    t_inf_large = [float(sel(g)["t"].isel(kernel_side).isel(m=-1).mean("seed")) for g in groups]
    label = (
        (lambda g: f"α = {'√m' if g == 'sqrt' else g}") if kind == "delta" else (lambda g: "α = 1")
    )
    cross_text = "; ".join(f"{label(g)}: " + ", ".join(
        f"m={int(mm)}: {_fmt(fit.value[i, k])} [{_fmt(fit.low[i, k])}, {_fmt(fit.high[i, k])}]"
        for k, mm in enumerate(fit.m)) for i, g in enumerate(groups))
    cert = (
        "per run: loss, ‖∇L‖ and the relative loss change over the last chunk are in the dataset "
        "(grad_norm, "
        f"plateau); runs count as interpolating below loss {spec.loss_eps:g}"
    )
    claims = [
        Claim.below(
            "kernel_end_is_lazy_limit",
            f"at the kernel end of the grid ({sym} = {float(ds[axis].isel(kernel_side)):g}, m = "
            f"{int(ds['m'][-1])}) the trained network sits at its width-m lazy limit (largest "
            "seed-mean t_width over α)",
            ref,
            max(lazy_end),
            0.25,
            seeds=n_seeds,
            on_fail="inconclusive",
            note="t_width per α (interpolating runs): "
            + ", ".join(_fmt(v) for v in lazy_end)
            + "; fraction of runs interpolating there: "
            + ", ".join(
                _fmt(float(sel(g)["interpolates"].isel(kernel_side).isel(m=-1).mean()))
                for g in groups
            )
            + " (the lazy regime converges slowly along the kernel's small eigenvalues); laziness "
              "there: "
            + ", ".join(_fmt(v) for v in lazy_lz),
        ),
        Claim.above(
            "adaptive_end_reached",
            "somewhere on the grid the interpolating runs reach the adaptive endpoint's side "
            "(smallest over α of the largest seed-mean t_width)",
            ref,
            min(peak),
            0.75,
            seeds=n_seeds,
            on_fail="inconclusive",
            note="largest seed-mean t_width per α: " + ", ".join(_fmt(v) for v in peak),
        ),
        Claim.close(
            "crossover_exists",
            "the seed-mean t_width crosses ½ at every width (and α) of the grid (fraction of "
            "widths with a crossover)",
            ref,
            float(found.mean()),
            1.0,
            0.0,
            seeds=n_seeds,
            on_fail="inconclusive",
            note="crossovers [95 % bootstrap over seeds]: " + cross_text,
        ),
        Claim.below(
            f"t_monotone_in_{axis}",
            "from the kernel end to its peak, the seed-mean t_width moves monotonically towards "
            "the "
            f"adaptive end as {sym} {'grows' if kind == 'delta' else 'shrinks'} (largest step back "
            "over α and m)",
            ref,
            float(np.nanmax(drops)) if np.any(np.isfinite(drops)) else float("nan"),
            0.05,
            seeds=n_seeds,
            on_fail="inconclusive",
            note="steps back per (α, m): " + ", ".join(_fmt(v) for v in drops),
        ),
        Claim.below(
            "finite_width_kernel_gap_shrinks",
            "at the kernel end, the distance to the infinite-width kernel endpoint (t, not "
            "t_width) is smaller at the largest width than at the smallest (difference of seed "
            "means, largest over α)",
            ref,
            max(b - a for a, b in zip(t_inf_small, t_inf_large)),
            0.0,
            seeds=n_seeds,
            on_fail="inconclusive",
            note="t at the kernel end, smallest → largest width: "
            + "; ".join(f"{_fmt(a)} → {_fmt(b)}" for a, b in zip(t_inf_small, t_inf_large))
            + ". The lazy limit at width m is the empirical kernel's interpolant, whose distance "
              "to the "
            "m = ∞ one falls like m^(−1/2) but from a large constant on these ill-conditioned "
            "data; crossovers are therefore fitted on t_width.",
        ),
    ]
    for i, g in enumerate(groups):
        pred = _PREDICTED[g] if g in _PREDICTED else float("nan")
        exp_, lo, hi = fit.exponent[i], fit.exponent_low[i], fit.exponent_high[i]
        n_cross = int(np.isfinite(fit.value[i]).sum())
        resolved = bool(np.isfinite(lo) and np.isfinite(hi) and hi - lo < 1.0 and n_cross >= 3)
        suffix = f"_{g}" if g else ""
        claims.append(
            Claim.judged(
                f"crossover_exponent{suffix}",
                f"{label(g)}: the crossover scales as |{sym}*| ∝ m^p with p = {pred:g} (our "
                "scaling argument); measured p from the seed-mean crossovers",
                _REF_DERIVED,
                float(exp_),
                f"{pred:g}",
                "inside the 95 % bootstrap interval, which must be narrower than 1, from at least "
                "3 widths",
                bool(resolved and lo <= pred <= hi),
                seeds=n_seeds,
                interval=(float(lo), float(hi)) if np.isfinite(lo) else None,
                on_fail="inconclusive",
                note=(
                    f"interval [{_fmt(lo)}, {_fmt(hi)}] over {len(fit.m)} widths "
                    f"{tuple(int(v) for v in fit.m)}; "
                    + (
                        "the grid does not pin the exponent (fewer than 3 widths with a crossover, "
                        "or a wide interval) — inconclusive. "
                        if not resolved
                        else ""
                    )
                    + (
                        f"The exponent is resolved but the argument's {pred:g} lies outside the "
                        "seed interval "
                        f"(by {_fmt(min(abs(pred - lo), abs(pred - hi)), '.2g')}); not called "
                        "contradicted: the argument is an order-of-magnitude estimate that drops "
                        "the initial c and constant factors, and the interval leaves out the "
                        "grid-interpolation error. "
                        if resolved and not lo <= pred <= hi
                        else ""
                    )
                    + "The interval covers the seed noise only, not the error of interpolating the "
                      "seed-mean "
                    f"curve linearly (in {'asinh(δ/0.01)' if axis == 'delta' else 'log σ'}) "
                    "between the grid's "
                    f"{sym} = "
                    + ", ".join(f"{v:g}" for v in ds[axis].values)
                    + ". "
                    + f"Crossovers: {cross_text}."
                ),
                readings=()
                if resolved
                else (Reading(f"{len(fit.m)} widths, {n_seeds} seeds", float(exp_), None),),
                certificate=cert,
                mechanism="measurement of the crossover; see the module docstring's scaling "
                "argument",
            )
        )
    if kind == "delta":
        nonneg = ds[axis].values >= 0
        if np.any(nonneg):
            sub = ds.isel(delta=np.flatnonzero(nonneg))
            failed = sub["interpolates"].values == 0
            ratio = (sub["affine_bound"] / sub["loss"]).values[failed]
            claims.append(
                Claim.above(
                    "nonnegative_delta_stalls_certified",
                    "the δ ≥ 0 runs that do not interpolate stop at the affine misfit bound of the "
                    "samples no knot "
                    "separates (smallest bound/loss ratio among them)",
                    _REF_STALL,
                    float(np.min(ratio)) if ratio.size else float("nan"),
                    1 - spec.stall_tol,
                    seeds=n_seeds,
                    on_fail="inconclusive",
                    note=f"{int(failed.sum())} of {failed.size} δ ≥ 0 runs do not interpolate"
                    + (
                        f", {int(np.sum(ratio >= 1 - spec.stall_tol))} of them at the bound "
                        "(stalled); a run below the bound is still moving at the step budget"
                        if ratio.size
                        else " (none: nothing to certify)"
                    )
                    + ".",
                )
            )
    else:
        lz = ds["laziness"].isel(m=-1).mean("seed").values
        from scipy.stats import spearmanr

        rho = float(spearmanr(np.arange(lz.size), lz).statistic) if np.ptp(lz) > 0 else float("nan")
        claims.append(
            Claim.below(
                "laziness_falls_with_scale",
                "at the largest width, the relative motion of the first layer falls as σ "
                "grows (Spearman correlation of the seed-mean laziness with σ)",
                _REF_LAZY,
                rho,
                -0.8,
                seeds=n_seeds,
                note="laziness per σ: " + ", ".join(_fmt(v) for v in lz),
            )
        )
    return claims
