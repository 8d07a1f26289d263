"""The spline view of Sahs et al.: breakpoints, delta-slopes, flatness, spline dynamics.

Sahs, Pyle, Damaraju, Ortega Caro, Tavaslioglu, Lu, (Anselmi,) Patel, *Shallow Univariate
ReLU Networks as Splines: Initialization, Loss Surface, Hessian, & Gradient Flow
Dynamics*, arXiv:2008.01772 (2020); Front. Artif. Intell. 5:889981 (2022).

What we could read of the paper
-------------------------------
The project holds only the abstract. The search tools of this project returned the
abstract and the opening of the Frontiers version (the parameter symmetries, the
reparametrisation as continuous piecewise-linear splines, "standard weight
initializations yield very flat initial functions", "this flatness, together with
overparametrization and the initial weight scale, is responsible for the strength and
type of implicit regularization"), but **not the statements of its theorems, their
equation numbers or its figures**. Every formula below is therefore derived here (and
in NOTES.md) and checked numerically; none is copied from the paper, and where we cite
"Sahs et al." it is for the claim in words, not for a printed formula.

Notation (NOTES.md)
-------------------
f(x) = (1/α) Σᵢ cᵢ[aᵢx − bᵢ]₊ = Σᵢ μᵢ[sᵢ(x − βᵢ)]₊ with breakpoint βᵢ = bᵢ/aᵢ,
delta-slope μᵢ = cᵢ|aᵢ|/α (the jump of f' across βᵢ) and orientation sᵢ = sign(aᵢ).
Residuals ρⱼ = f(xⱼ) − yⱼ, loss L = ½ Σⱼ ρⱼ², Aᵢ = {j : aᵢxⱼ > bᵢ} (the active side),
Rᵢ = Σ_{Aᵢ} ρⱼ and Eᵢ = Σ_{Aᵢ} ρⱼxⱼ (:func:`residual_moments`).

Results implemented, and how each is checked
--------------------------------------------
1. **Initialisation densities** (:func:`breakpoint_cdf`, :func:`breakpoint_pdf`,
   :func:`delta_slope_cdf`, :func:`delta_slope_pdf`).
   β = b/a does not depend on ``ab_scale`` or ``c_scale``:

   * "uniform" (a, b i.i.d. U(−1, 1)): p(β) = ¼ on |β| ≤ 1 and 1/(4β²) beyond
     (half of all breakpoints lie outside [−1, 1]);
   * "gaussian" ((a, b) i.i.d. N(0, 1)): standard Cauchy, p(β) = 1/(π(1 + β²));
   * **"he", "xavier", "lecun" start with b = 0: EVERY BREAKPOINT IS AT β = 0.** The
     initial function is a single kink at the origin, f(x) = x·(Σ_{a>0} cᵢaᵢ)/α on
     x > 0 and x·(Σ_{a<0} cᵢaᵢ)/α on x < 0; its "density" is a point mass (the cdf is
     a step at 0 and :func:`breakpoint_pdf` refuses these schemes).

   μ = c|a|/α is a product of independent variables:

   * "uniform": |μ|/k has the density −log t on (0, 1) (product of two U(0, 1)),
     k = (c_scale/√m)·ab_scale/α, so p(μ) = −log(|μ|/k)/(2k) on |μ| < k;
   * Gaussian c and a (gaussian, he, xavier, lecun): μ/k is a product of two standard
     normals, p(μ) = K₀(|μ|/k)/(πk), k = σ_c σ_a·c_scale·ab_scale/α, and
     P(0 < μ < t) = (1/π)∫₀^{t/k} K₀ (``scipy.special.iti0k0``).

   Checked by Kolmogorov–Smirnov tests (``scipy.stats.kstest``) of samples from
   :func:`relu1d.init_network` at fixed seeds (tests/test_splineview.py and the
   experiment ``sahs2020.init_statistics``); zero-bias breakpoints are checked to be
   exactly 0.

2. **Flatness** (:func:`roughness`, :func:`expected_roughness`). Three measures on an
   interval I: ∫_I f'², the total variation of f' on I (the sum of |jumps| at the
   breakpoints inside I, coinciding breakpoints merged), and Σᵢ μᵢ² (all neurons).
   For c independent of (a, b), E c = 0, and a law symmetric under (a, b) ↦ (−a, −b):

   * E Σᵢ μᵢ² = m·E[c²]·E[a²]/α²  — with α = 1 and unit scales: uniform (PyTorch
     default) m·(1/(3m))·(1/3) = **1/9**; gaussian **1**; He m·(2/m)·2 = **4**; LeCun
     **1**; Xavier m·(2/(m+1))² ≈ **4/m** (Glorot);
   * E f'(x)² = ½·m·E[c²]E[a²]/α² at every x (the symmetry makes P(active)-weighted
     E[a²·1ᵢ(x)] = ½E[a²]), so E ∫_I f'² = |I|/2 · E Σμᵢ²;
   * E TV_I(f') = m·E|c|·E[|a|·1(β ∈ I)]/α: gaussian (Cauchy breakpoints)
     m σ_c σ_a (g(hi) − g(lo))/(πα) with g(t) = t/√(1 + t²); uniform
     m·(w_c/2)·E[|a|1(β ∈ I)]/α by a one-dimensional integral ((hi − lo)/6 for
     I ⊂ [−1, 1]); zero-bias schemes E|Σᵢ μᵢ| = √(2/π) σ_c σ_a E[χ_m]/α if 0 ∈ I
     (one merged kink), else 0.

   With the default α = √m every measure falls like 1/m: wide networks start very
   flat. Checked against sampled means (standard errors from the samples) and against
   the roughness of the targets (``sahs2020.flatness``).

3. **Hessian**: see :mod:`relu1d.hessian` (2×2 blocks ±|Rᵢ| in spline coordinates,
   3×3 blocks ±√(pᵢ² + qᵢ²), 0 in (a, b, c), exact spectrum from the structure).

4. **Critical points in spline terms.** ∂L/∂cᵢ = (aᵢEᵢ − bᵢRᵢ)/α, ∂L/∂aᵢ = cᵢEᵢ/α,
   ∂L/∂bᵢ = −cᵢRᵢ/α, so ∇L = 0 iff for every neuron

   * if μᵢ ≠ 0: Rᵢ = Eᵢ = 0 — on the active side of every live breakpoint the
     residuals have zero sum and zero first moment (then Dᵢ = 0 in the Hessian);
   * if cᵢ = 0 (a "dead-output" neuron) and aᵢ ≠ 0: gᵢ(βᵢ) := Σⱼ ρⱼ[sᵢ(xⱼ − βᵢ)]₊ = 0,
     i.e. βᵢ is a zero of the residuals' ramp correlation (:func:`stationary_breakpoints`).

   At such a point only the dead-output neurons keep a residual block, and a neuron
   with cᵢ = 0 and (Rᵢ, Eᵢ) ≠ 0 gives a descent direction of second order:
   v = (pᵢ, qᵢ, ε) in its (a, b, c) block has vᵀHv = 2ε(pᵢ² + qᵢ²) + ε²‖∂f/∂cᵢ‖² < 0
   for small ε < 0, so the point is a strict saddle. If instead every neuron is live,
   D = 0 and H = JᵀJ ⪰ 0 even with non-zero residuals (second-order test
   inconclusive). At an interpolating minimum ρ = 0, D = 0 and H = JᵀJ has rank ≤ s:
   at least 3m − s eigenvalues vanish. Checked in tests and ``sahs2020.loss_surface``.

5. **Gradient flow in spline parameters** (:func:`spline_velocity`). Under ż = −∇L:
   β̇ᵢ = (cᵢ/(αaᵢ))(Rᵢ + βᵢEᵢ) = (cᵢ/(αaᵢ)) Σ_{Aᵢ} ρⱼ(1 + βᵢxⱼ) (NOTES.md) and
   μ̇ᵢ = −(sᵢ/α²)[aᵢ²(Eᵢ − βᵢRᵢ) + cᵢ²Eᵢ]. The spline parameters do not follow a
   gradient flow of their own: their speeds carry the hidden scales aᵢ², cᵢ². Scaling
   (a, b, c) by σ leaves β̇ unchanged while μ̇ grows like σ², so the function fits in
   time ∝ 1/σ² and the breakpoints travel ∝ 1/σ² before it does: small init →
   breakpoints move (adaptive), large init → they stay put (kernel regime). Checked
   against central differences of recorded gradient-descent trajectories.

6. **Implicit regularisation versus init scale**: the experiment
   ``sahs2020.implicit_regularisation`` (measured, no formula).
"""

from __future__ import annotations

import math

import numpy as np

from ._common import _interval, _moments, _resolve_alpha
from ._validation import as_choice, as_float_array, as_int, as_real, check_network_and_data
from .data import Dataset
from .init import SCHEMES
from .network import Network, PiecewiseLinear
from .splines import Spline

__all__ = ["breakpoint_pdf", "breakpoint_cdf", "delta_slope_pdf", "delta_slope_cdf",
           "weight_moments", "expected_roughness", "roughness",
           "residual_moments", "spline_velocity", "stationary_breakpoints", "ZERO_BIAS_SCHEMES"]

ZERO_BIAS_SCHEMES = ("he", "xavier", "lecun")


def weight_moments(scheme: str, m: int) -> dict:
    """Laws of aᵢ and cᵢ under :func:`relu1d.init_network` at unit scales.

    Returns
    -------
    dict
        ``law`` ("uniform" or "normal"), ``var_a``, ``var_c`` (variances), ``half_a``,
        ``half_c`` (half-widths for the uniform law), ``zero_bias`` (bool).

    Examples
    --------
    >>> from relu1d import splineview
    >>> laws = splineview.weight_moments("uniform", 4)
    >>> laws["law"], round(laws["var_a"], 4), round(laws["var_c"], 4)
    ('uniform', 0.3333, 0.0833)
    """
    as_choice(scheme, "scheme", SCHEMES)
    m = as_int(m, "m", minimum=1)
    if scheme == "uniform":
        return {"law": "uniform", "var_a": 1 / 3, "var_c": 1 / (3 * m), "half_a": 1.0,
                "half_c": 1 / math.sqrt(m), "zero_bias": False}
    var_a, var_c = {
        "gaussian": (1.0, 1.0 / m),
        "he": (2.0, 2.0 / m),
        "xavier": (2.0 / (1 + m), 2.0 / (m + 1)),
        "lecun": (1.0, 1.0 / m),
    }[scheme]
    return {"law": "normal", "var_a": var_a, "var_c": var_c, "half_a": math.nan, "half_c": math.nan,
            "zero_bias": scheme in ZERO_BIAS_SCHEMES}


# ---------------------------------------------------------------------- breakpoints
def breakpoint_cdf(beta, scheme: str = "uniform") -> np.ndarray:
    """P(βᵢ ≤ beta) at initialisation (module docstring, item 1).

    uniform: 1/(4|β|) for β ≤ −1, ½ + β/4 on [−1, 1], 1 − 1/(4β) for β ≥ 1;
    gaussian: standard Cauchy; he, xavier, lecun: a unit step at 0 (all breakpoints at 0).

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import splineview
    >>> splineview.breakpoint_cdf(np.array([-1.0, 0.0, 1.0]))
    array([0.25, 0.5 , 0.75])
    """
    as_choice(scheme, "scheme", SCHEMES)
    t = as_float_array(beta, "beta", ndim=None)
    if scheme == "uniform":
        with np.errstate(divide="ignore"):
            return np.where(
                t <= -1, 1 / (4 * np.abs(t)), np.where(t >= 1, 1 - 1 / (4 * t), 0.5 + t / 4)
            )
    if scheme == "gaussian":
        return 0.5 + np.arctan(t) / np.pi
    return (t >= 0).astype(np.float64)


def breakpoint_pdf(beta, scheme: str = "uniform") -> np.ndarray:
    """Density of βᵢ at initialisation: ¼ ∧ 1/(4β²) (uniform) or Cauchy (gaussian).

    Raises ValueError for he, xavier, lecun: their breakpoints are all exactly 0 (a point
    mass, no density); see :func:`breakpoint_cdf`.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import splineview
    >>> splineview.breakpoint_pdf(np.array([0.0, 0.5, 2.0]))         # ¼ ∧ 1/(4β²)
    array([0.25  , 0.25  , 0.0625])
    >>> splineview.breakpoint_pdf(np.array([0.0]), "gaussian")        # Cauchy: 1/π
    array([0.31830989])
    """
    as_choice(scheme, "scheme", SCHEMES)
    if scheme in ZERO_BIAS_SCHEMES:
        raise ValueError(
            f"scheme {scheme!r} starts with b = 0, so every breakpoint is exactly 0: a point mass "
            "with no density; use breakpoint_cdf (a step at 0)"
        )
    t = as_float_array(beta, "beta", ndim=None)
    if scheme == "uniform":
        return np.where(np.abs(t) <= 1, 0.25, 0.25 / np.maximum(t * t, 1.0))
    return 1 / (np.pi * (1 + t * t))


# ---------------------------------------------------------------------- delta-slopes
def _delta_slope_scale(scheme, m, alpha, ab_scale, c_scale) -> tuple[str, float]:
    m = as_int(m, "m", minimum=1)
    mom = weight_moments(scheme, m)
    alpha = _resolve_alpha(alpha, m)
    ab_scale = as_real(ab_scale, "ab_scale", positive=True)
    c_scale = as_real(c_scale, "c_scale", positive=True)
    if mom["law"] == "uniform":
        return "uniform", mom["half_c"] * mom["half_a"] * ab_scale * c_scale / alpha
    return "normal", math.sqrt(mom["var_a"] * mom["var_c"]) * ab_scale * c_scale / alpha


def delta_slope_cdf(mu, scheme: str = "uniform", m: int = 1, alpha="sqrt", ab_scale: float = 1.0,
                    c_scale: float = 1.0) -> np.ndarray:
    """P(μᵢ ≤ mu) at initialisation for :func:`relu1d.init_network`'s arguments.

    uniform: ½ ± ½F(|μ|/k), F(t) = t − t log t on [0, 1]; Gaussian weights:
    ½ ± (1/π)∫₀^{|μ|/k} K₀ (module docstring, item 1).

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import splineview
    >>> splineview.delta_slope_cdf(np.array([0.0]), m=4)                 # symmetric law
    array([0.5])
    """
    law, k = _delta_slope_scale(scheme, m, alpha, ab_scale, c_scale)
    t = np.abs(as_float_array(mu, "mu", ndim=None)) / k
    if law == "uniform":
        tt = np.minimum(t, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            half = np.where(tt > 0, tt - tt * np.log(tt), 0.0) / 2
    else:
        from scipy import special

        half = special.iti0k0(t)[1] / np.pi
    return 0.5 + np.sign(np.asarray(mu, dtype=np.float64)) * half


def delta_slope_pdf(mu, scheme: str = "uniform", m: int = 1, alpha="sqrt", ab_scale: float = 1.0,
                    c_scale: float = 1.0) -> np.ndarray:
    """Density of μᵢ at initialisation: −log(|μ|/k)/(2k) (uniform) or K₀(|μ|/k)/(πk).

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import splineview
    >>> splineview.delta_slope_pdf(np.array([0.1, 0.5]), m=1).round(4)   # −log|μ|/2 at k = 1
    array([1.1513, 0.3466])
    """
    law, k = _delta_slope_scale(scheme, m, alpha, ab_scale, c_scale)
    t = np.abs(as_float_array(mu, "mu", ndim=None)) / k
    with np.errstate(divide="ignore"):
        if law == "uniform":
            return np.where(t < 1, -np.log(t), 0.0) / (2 * k)
        from scipy import special

        return special.k0(t) / (np.pi * k)


# ---------------------------------------------------------------------- flatness
def expected_roughness(scheme: str = "uniform", m: int = 100, alpha="sqrt", ab_scale: float = 1.0,
                       c_scale: float = 1.0, interval=(-1.0, 1.0)) -> dict:
    """Closed-form expectations of the three roughness measures at initialisation.

    Parameters
    ----------
    scheme, m, alpha, ab_scale, c_scale
        As in :func:`relu1d.init_network`.
    interval : (float, float)
        I for ∫_I f'² and TV_I(f') (finite for the first).

    Returns
    -------
    dict
        ``sum_mu2`` = m E[c²]E[a²]/α², ``int_fprime2`` = |I|/2 · sum_mu2, ``tv_fprime``
        (module docstring, item 2).

    Examples
    --------
    >>> from relu1d import splineview
    >>> expected = splineview.expected_roughness("uniform", m=4)
    >>> {key: round(value, 4) for key, value in sorted(expected.items())}
    {'int_fprime2': 0.0278, 'sum_mu2': 0.0278, 'tv_fprime': 0.1667}
    """
    m = as_int(m, "m", minimum=1)
    mom = weight_moments(scheme, m)
    alpha = _resolve_alpha(alpha, m)
    ab_scale = as_real(ab_scale, "ab_scale", nonnegative=True)
    c_scale = as_real(c_scale, "c_scale", nonnegative=True)
    lo, hi = _interval(interval, allow_inf=True)
    sa, sc = math.sqrt(mom["var_a"]) * ab_scale, math.sqrt(mom["var_c"]) * c_scale
    sum_mu2 = m * sa ** 2 * sc ** 2 / alpha ** 2
    if mom["zero_bias"]:
        # One merged kink at 0: E|Σ cᵢ|aᵢ|/α| with c Gaussian given a, √Σa² = σ_a χ_m.
        from scipy import special

        e_chi = math.sqrt(2) * math.exp(special.gammaln((m + 1) / 2) - special.gammaln(m / 2))
        tv = math.sqrt(2 / math.pi) * sc * sa * e_chi / alpha if lo < 0 < hi else 0.0
    elif mom["law"] == "normal":
        def g(t):
            return math.copysign(1.0, t) if math.isinf(t) else t / math.hypot(1.0, t)

        tv = m * sc * sa * (g(hi) - g(lo)) / (math.pi * alpha)
    else:
        # E[|A| 1(lo < B/A < hi)], A, B ~ U(−1, 1): both signs of A give
        # ½∫₀¹ A·|[lo A, hi A] ∩ [−1, 1]| dA.
        def inside(u):
            return u * max(0.0, min(hi * u, 1.0) - max(lo * u, -1.0))
        kinks = [1 / abs(v) for v in (lo, hi) if math.isfinite(v) and abs(v) > 1]
        from scipy import integrate

        moment = (
            0.5
            * integrate.quad(inside, 0.0, 1.0, points=kinks or None, epsabs=1e-13, epsrel=1e-12)[0]
        )
        tv = m * (mom["half_c"] * c_scale / 2) * ab_scale * moment / alpha
    int_fp2 = (hi - lo) / 2 * sum_mu2 if math.isfinite(hi - lo) else math.inf
    return {"sum_mu2": sum_mu2, "int_fprime2": int_fp2, "tv_fprime": tv}


def roughness(f, interval=(-1.0, 1.0)) -> dict:
    """Roughness of a network, a piecewise-linear function or a spline on an interval.

    Parameters
    ----------
    f : Network, PiecewiseLinear or relu1d.splines.Spline
        A Spline (``relu1d.splines.linear(data)``, ``natural_cubic(data)``) is handled
        exactly through its polynomial pieces (degree <= 3).
    interval : (float, float)
        Finite interval I.

    Returns
    -------
    dict
        ``int_fprime2`` = ∫_I f'(x)² dx; ``tv_fprime`` = total variation of f' on the
        open interval I (Σ of |jumps of f'| at breakpoints inside I, coinciding
        breakpoints merged, plus ∫_I |f''| for curved pieces); ``sum_mu2`` = Σᵢ μᵢ² over
        all neurons of a Network (Sahs et al.'s parameter-level measure, independent of
        I), otherwise the Σ of squared jumps of f' inside I. Exact up to rounding.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import splineview
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])   # f' = −2, 0, 1 on [−1, 1]
    >>> {key: round(value, 9) for key, value in sorted(splineview.roughness(net).items())}
    {'int_fprime2': 3.0, 'sum_mu2': 5.0, 'tv_fprime': 3.0}
    """
    lo, hi = _interval(interval, allow_inf=True)
    if not math.isfinite(hi - lo):
        raise ValueError(f"interval must be finite, got {interval}")
    if isinstance(f, (Network, PiecewiseLinear)):
        spline = f.to_spline() if isinstance(f, Network) else f
        bp, jumps = spline.breakpoints, spline.delta_slopes
        inner = (bp > lo) & (bp < hi)
        edges = np.concatenate(([lo], bp[inner], [hi]))
        slopes = spline.derivative((edges[:-1] + edges[1:]) / 2)
        sum_mu2 = (
            float(np.sum(f.delta_slopes**2))
            if isinstance(f, Network)
            else float(np.sum(jumps[inner] ** 2))
        )
        return {"int_fprime2": float(np.sum(slopes ** 2 * np.diff(edges))),
                "tv_fprime": float(np.sum(np.abs(jumps[inner]))), "sum_mu2": sum_mu2}
    if not isinstance(f, Spline):
        raise TypeError(
            "f must be a relu1d.Network, PiecewiseLinear or relu1d.splines.Spline, "
            f"got {type(f).__name__}"
        )
    bp = f.breakpoints
    inner = bp[(bp > lo) & (bp < hi)]
    edges = np.concatenate(([lo], inner, [hi]))
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    # f' has degree <= 2 on each cell: 5-point Gauss-Legendre integrates f'² exactly.
    t, w = np.polynomial.legendre.leggauss(5)
    int_fp2 = float(np.sum(half[:, None] * w * f.derivative(mid[:, None] + half[:, None] * t) ** 2))
    # f'' is affine on each cell: its values at the cell's ends (of this cell's piece).
    left, centre = f.derivative(edges[:-1], 2), f.derivative(mid, 2)
    right = 2 * centre - left
    with np.errstate(divide="ignore", invalid="ignore"):
        curved = np.where(left * right >= 0, half * np.abs(left + right),
                          half * (left ** 2 + right ** 2) / np.abs(right - left))
    # Jump of f' at each inner breakpoint: right value minus the left cell's quadratic at its end.
    f1_end = f.derivative(mid, 1) + centre * half + 0.5 * (right - left) / 2 * half
    jumps = f.derivative(inner, 1) - f1_end[:-1]
    return {"int_fprime2": int_fp2, "tv_fprime": float(np.sum(curved) + np.sum(np.abs(jumps))),
            "sum_mu2": float(np.sum(jumps ** 2))}


# ---------------------------------------------------------------------- dynamics
def residual_moments(net: Network, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Rᵢ = Σ_{j∈Aᵢ} ρⱼ and Eᵢ = Σ_{j∈Aᵢ} ρⱼxⱼ, Aᵢ = {j : aᵢxⱼ > bᵢ} (strict at kinks).

    ∇L in these terms: ∂L/∂aᵢ = cᵢEᵢ/α, ∂L/∂bᵢ = −cᵢRᵢ/α, ∂L/∂cᵢ = (aᵢEᵢ − bᵢRᵢ)/α.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import splineview
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> splineview.residual_moments(net, data)                     # (R, E), one entry per neuron
    (array([1., 1.]), array([ 1., -1.]))
    """
    check_network_and_data(net, data)
    _, _, big_r, big_e = _moments(net, data)
    return big_r, big_e


def spline_velocity(
    net: Network, data: Dataset, trainable: str = "abc"
) -> tuple[np.ndarray, np.ndarray]:
    """(β̇, μ̇) along the gradient flow ż = −∇L of the trainable parameters.

    With all of a, b, c trainable (module docstring, item 5):
    β̇ᵢ = (cᵢ/(αaᵢ))(Rᵢ + βᵢEᵢ),  μ̇ᵢ = −(sᵢ/α²)[aᵢ²(Eᵢ − βᵢRᵢ) + cᵢ²Eᵢ].
    A frozen parameter drops its term: ȧ = −cE/α, ḃ = cR/α, ċ = −(aE − bR)/α give
    β̇ = (ḃ − βȧ)/a and μ̇ = (|a|ċ + s c ȧ)/α. NaN for β̇ where aᵢ = 0.

    Parameters
    ----------
    net : Network
    data : Dataset
    trainable : str
        Any non-empty subset of "abc".

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import splineview
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> net = relu1d.Network([1.0, -1.0], [0.0, 0.5], [1.0, 2.0])
    >>> splineview.spline_velocity(net, data)                      # (β̇, μ̇)
    (array([ 1., -3.]), array([-2. , -4.5]))
    """
    check_network_and_data(net, data)
    if not isinstance(trainable, str) or not trainable or set(trainable) - set("abc"):
        raise ValueError(f"trainable must be a non-empty subset of 'abc', got {trainable!r}")
    big_r, big_e = residual_moments(net, data)
    a, b, c, alpha = net.a, net.b, net.c, net.alpha
    a_dot = -c * big_e / alpha if "a" in trainable else np.zeros_like(a)
    b_dot = c * big_r / alpha if "b" in trainable else np.zeros_like(a)
    c_dot = -(a * big_e - b * big_r) / alpha if "c" in trainable else np.zeros_like(a)
    beta = net.breakpoints
    with np.errstate(divide="ignore", invalid="ignore"):
        beta_dot = np.where(a != 0, (b_dot - beta * a_dot) / np.where(a != 0, a, 1.0), np.nan)
    mu_dot = (np.abs(a) * c_dot + np.sign(a) * c * a_dot) / alpha
    return beta_dot, mu_dot


def stationary_breakpoints(net: Network, data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Where a neuron with cᵢ = 0 would be stationary, given the network's residuals.

    A dead-output neuron (cᵢ = 0) has ∂L/∂aᵢ = ∂L/∂bᵢ = 0 and
    ∂L/∂cᵢ = (|aᵢ|/α) g_s(βᵢ), g_s(β) = Σⱼ ρⱼ[s(xⱼ − β)]₊. g_s is continuous and linear
    between samples, so its zeros strictly inside the data hull are found exactly per
    interval (a zero exactly at a sample is skipped: a neuron there sits on a kink).
    Adding such neurons to a critical point gives a critical point of the wider
    network with the same function; it is a strict saddle when a neuron's Rᵢ or Eᵢ ≠ 0
    (module docstring, item 4).

    Returns
    -------
    beta : (k,) array
        The zeros of g₊ and g₋ strictly inside (x₁, x_s), sorted per orientation.
    orientation : (k,) array of ±1

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import splineview
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [-1.0, 3.0, 0.0])
    >>> zero = relu1d.Network([1.0], [5.0], [0.0])                 # f = 0, so ρ = −y
    >>> splineview.stationary_breakpoints(zero, data)             # g₋(β) = 1 − 2β on (0, 1)
    (array([0.5]), array([-1.]))
    """
    check_network_and_data(net, data)
    x = data.x
    rho = net(x) - data.y
    betas, signs = [], []
    for s in (1.0, -1.0):
        g = np.maximum(s * np.subtract.outer(x, x), 0.0).T @ rho   # g_s at every sample
        for j in range(x.size - 1):
            g0, g1 = g[j], g[j + 1]
            if g0 * g1 < 0:
                betas.append(x[j] + (x[j + 1] - x[j]) * g0 / (g0 - g1))
                signs.append(s)
    return np.asarray(betas, dtype=np.float64), np.asarray(signs, dtype=np.float64)
