r"""Exact function-space endpoints of wide networks: the functions a trained network is
measured against.

* :func:`kernel` — the m = ∞ kernel interpolant (c-only "rf" or tangent "ntk"), the lazy
  end (a thin wrapper of :func:`relu1d.kernel.interpolant`).
* :func:`rnorm` — the minimum-representation-cost interpolant of an infinitely wide
  network under weight decay, the adaptive end: bias ``"free"`` (decay on a and c only)
  or ``"penalised"`` (decay on a, b and c, as ``relu1d.train(..., weight_decay=λ)``).
* :func:`regularised` — the minimiser of ½·mean((f(xⱼ) − yⱼ)²) + λ·cost(f): the
  β = ∞ minimiser of Shevchenko et al.'s free energy, the end state of weight-decayed
  training.
* :func:`cost` — the representation cost of a given piecewise-linear function.

Results are :class:`Endpoint` objects (callable on x) carrying the function, its cost,
knots, a certified optimality gap and a description.

1. Representation cost
----------------------
f(x) = (1/α) Σᵢ cᵢ [aᵢx − bᵢ]₊. Weight decay adds (λ/2)·Σᵢ (aᵢ² + bᵢ² + cᵢ²) (penalised
bias) or (λ/2)·Σᵢ (aᵢ² + cᵢ²) (free bias). The rescaling (a, b, c) ↦ (ka, kb, c/k)
leaves f unchanged, and min over k of ½(k²ρ² + c²/k²) = |c|·ρ (AM–GM, attained when
|c| = kρ, "balance"), so at the optimum neuron i costs |cᵢ|·ρᵢ with ρᵢ = ‖(aᵢ, bᵢ)‖
(penalised) or ρᵢ = |aᵢ| (free), i.e. α·|cᵢ/α|·ρᵢ. The cost of a function is

    R(f) = inf { Σᵢ |cᵢ/α|·ρᵢ : (1/α) Σᵢ cᵢ[aᵢx − bᵢ]₊ = f },                       (R)

over all widths (the infimum of infinitely wide networks), and a width-m network at
balance pays exactly (λ/2)‖z‖² = λ·α·Σ|cᵢ/α|ρᵢ >= λ·α·R(f).

Correspondence with :func:`relu1d.train` (penalised bias, its weight decay acts on all of
a, b, c): ``train(net, data, loss="mean", weight_decay=λ)`` on a network with α = 1
minimises ½·mean(r²) + (λ/2)‖z‖² >= ½·mean(r²) + λ·R(f), whose infimum over widths is
``regularised(data, λ, "penalised").objective``. In general ``loss="mean"`` matches
``lam = weight_decay·α``; ``loss="sum"`` (the default) minimises
s·[½·mean(r²) + (weight_decay·α/s)·R(f)], i.e. ``lam = weight_decay·α/s`` and the
objective s times ours. Shevchenko et al.'s free energy at β = ∞,
F = ½R(ρ) + (λ/2)∫‖θ‖²dρ with their ŷ = (1/N)Σaᵢ(wᵢx + bᵢ)₊, is ½·mean(r²) + λ·R(f)
with their λ (the same AM–GM step), the objective of :func:`regularised`.

Knots. A neuron with aᵢ > 0 is uᵢ = bᵢ/aᵢ, active right of it: (cᵢaᵢ/α)(x − uᵢ)₊; with
aᵢ < 0, (cᵢ|aᵢ|/α)(uᵢ − x)₊. Its delta-slope is μᵢ = cᵢ|aᵢ|/α and its cost
|cᵢ/α|ρᵢ = |μᵢ|·w(uᵢ) with

    w(u) = √(1 + u²)  (penalised: ρ/|a| = ‖(1, u)‖),     w(u) = 1  (free).

So the cheapest neuron with knot u has (a, b) ∝ (1, u), and a knot costs
∫ w(x)|f''(x)|dx: √(1 + x²) per unit of |delta-slope| at x with the bias penalised.
A neuron with a = 0 is the constant cᵢ[−bᵢ]₊/α; its cost is |c|·|b|/α = |constant|
(penalised) or → 0 as b → −∞ (free: constants are free; the infimum is not attained).

The affine part. Write p(x − u)₊ + q(u − x)₊ = ((p + q)/2)|x − u| + ((p − q)/2)(x − u):
a knot with delta-slope μ = p + q, split between a right- and a left-active neuron,
costs w(u)(|p| + |q|) = w(u)·max(|μ|, 2|d|) with d = (p − q)/2. Two opposite neurons at
the same u (μ = 0) make the affine function d(x − u) at cost 2w(u)|d|. Hence

    f(x) = Σₖ (μₖ/2)|x − uₖ| + A·x + B,   A = (f'(+∞) + f'(−∞))/2,
                                          B = f(0) − Σₖ (μₖ/2)|uₖ|,

and each knot offers the affine function dₖ·(x − uₖ) for free while |dₖ| <= |μₖ|/2,
at 2w(uₖ) per unit beyond (the same price as an opposite pair at uₖ). Therefore

    R(f) = Σₖ w(uₖ)|μₖ| + min { N(v) : v = (A, B) − Σₖ dₖ(1, −uₖ), |dₖ| <= |μₖ|/2 }.

Free bias: a pair at u makes slope d for 2|d| (any intercept, constants being free), so
N(v) = 2|v₁| and R(f) = V + max(0, 2|A| − V) = max(∫|f''|, |f'(−∞) + f'(+∞)|),
V = Σ|μₖ| — Savarese et al. (COLT 2019) and Ongie et al. (ICLR 2020), derived here
without an output bias (constants are free anyway). Penalised bias: a pair at u makes
(slope, intercept) = d·(1, −u) for 2|d|·√(1 + u²) = 2‖d·(1, −u)‖, so any affine part
(Ã, B̃) costs 2‖(Ã, B̃)‖ (one pair at u = −B̃/Ã), while a constant C costs only |C|
(a = 0 neuron): N(v) = min_C 2‖(v₁, v₂ − C)‖ + |C|, which is 2‖v‖ when |v₂| <= |v₁|/√3
and √3|v₁| + |v₂| otherwise (the constant takes the intercept beyond |v₁|/√3).
Examples: (x)₊ costs 1, |x| costs 2, x costs 2, the constant 5 costs 5, x + 1 costs
1 + √3 (a constant 1 − 1/√3 and a pair at u = −1/√3; free: 2), and Shevchenko's two-point
minimiser t·(2/101)((10x + 1)₊ + (1 − 10x)₊) costs 4t/√101 (the box constraint is
exactly tight). :func:`cost` solves the two-variable minimisation by a cutting-plane LP
(the only non-polyhedral piece is the 2-norm of (Ã, B̃)) and reports its gap.

2. The interpolation and regularised problems, exactly
------------------------------------------------------
Only f(x₁), …, f(x_s) enter the data term, so both problems are convex programs over a
measure on neuron directions d = (a, b) on the unit circle, feature φⱼ(d) = (a xⱼ − b)₊,
cost ω(d) = 1 (penalised) or |a| (free):

    rnorm:        min ∫ω d|c|        s.t.  ∫φⱼ dc = yⱼ
    regularised:  min ½·mean((∫φ dc − y)²) + λ∫ω d|c|

Their duals are max νᵀy subject to |g_ν(d)| <= ω(d) for every d, g_ν(d) = Σⱼ νⱼ φⱼ(d)
(rnorm), and max νᵀy − (s/2)‖ν‖² subject to |g_ν(d)| <= λω(d) (regularised; at the
optimum ν = (y − f(X))/s). The lines a xⱼ = b cut the circle into 2s activation
sectors; on a sector with active set C, φ is linear in d: g_ν(d) = ⟨d, v_C⟩ with
v_C = Σ_{j∈C} νⱼ (xⱼ, −1).

Free bias — an exact finite candidate set. On each sector intersected with {a >= 0} or
{a <= 0} both the features and the cost |a| are linear in d, so every neuron there is a
nonnegative combination of that cone's extreme rays with the same features and the same
cost. The extreme rays are the data knots ±(1, xⱼ) (either orientation) and (0, −1), the
constant (cost 0). So the knots can be restricted to the data: the problem is one LP
(rnorm) or one QP (regularised) over the 2s data-knot neurons and a free constant, and
the result is exact. The certificate checks |g_ν| <= ω at every data knot and
Σⱼ νⱼ = 0 (dual feasibility on the whole circle, because g_ν/|a| is piecewise linear in
the knot with kinks at the data and constant beyond them).

Penalised bias — knots between data points can be optimal, and the exchange method is
exact. Moving a knot u ∈ (xⱼ, xⱼ₊₁) to the two data points (the combination
t(x − xⱼ)₊ + (1 − t)(x − xⱼ₊₁)₊, t = (xⱼ₊₁ − u)/(xⱼ₊₁ − xⱼ), has the same features)
costs t√(1 + xⱼ²) + (1 − t)√(1 + xⱼ₊₁²) >= √(1 + u²): the convexity of √(1 + x²) makes
the interior knot *cheaper*, and Shevchenko's two-point example has its knots at ±1/10,
inside (−10, 10). But on each sector |g_ν(d)| = |⟨d, v_C⟩| is a sinusoid on an arc,
maximal at the arc's ends (data knots) or at d = ±v_C/‖v_C‖ if that lies inside the arc,
where it equals ‖v_C‖. So the most violated dual constraint is known in closed form;
the solver starts from the data knots and the constant neuron, solves the LP (HiGHS via
``scipy.optimize.linprog``) or QP on the current columns, adds the maximiser of every
violated sector, and stops when the gap closes. The gap is certified: the current
primal is feasible (upper bound), and ν/M with M = max_d |g_ν(d)|/ω(d) (computed
exactly, sector by sector) is dual feasible (lower bound). Per sector the optimal
neuron is unique (an arc shorter than π holds at most one maximiser of |⟨d, v⟩|), so a
solution has at most two interior knots per interval between samples (one per
orientation) besides the data knots.

The QP (regularised) on given columns is solved exactly through its dual, a projection
onto a polytope, by the least-distance-programming reduction to nonnegative least
squares (Lawson & Hanson's finite active-set method); the KKT residual (relative to λ)
is reported with the gap.

3. Which minimiser (free bias)
------------------------------
Free-bias minimisers are not unique. Let sᵢ be the secant slopes of the data,
Δᵢ = sᵢ − sᵢ₋₁ the kinks of the linear interpolant at the interior samples,
V = Σ|Δᵢ| and S = s₁ + s_{s−1}. Any interpolant has ∫|f''| >= V (f' takes every secant
slope, mean value theorem), and its end slopes differ from s₁, s_{s−1} by at most the
variation of f' outside the hull, which gives the minimum cost max(V, (V + |S|)/2). The
linear interpolant continued linearly costs max(V, |S|): a minimiser exactly when
V >= |S|; otherwise a knot at an end sample with total slope change
K = (|S| − V)/2 is needed (it reduces |f'(−∞) + f'(+∞)|).

:func:`rnorm` returns the **sparsest** minimiser: in every maximal run of r consecutive
kinks of one sign (the end kink included), consecutive pairs are merged into one knot at
the crossing of the two outer secant lines (it lies strictly between the two samples
when the kinks have the same sign), which keeps the interpolation and ∫|f''|, leaving
⌈r/2⌉ knots. No minimiser has fewer: choosing ξᵢ in (xᵢ, xᵢ₊₁) where f' takes the
secant slope sᵢ, a minimiser has variation exactly |Δᵢ| on [ξᵢ₋₁, ξᵢ], so it needs a
knot of the sign of Δᵢ in that closed segment; one knot serves two segments only at
their common end and only when both kinks have its sign, never three. (Kinks below
1e-10 of the slope scale count as zero.) :func:`regularised` with free bias returns the
sparsest minimum-cost interpolant of its fitted values (the fitted values are unique).

Limits of exactness: HiGHS and L-BFGS-B work in floating point, so "exact" means a
certified gap, typically 1e-10 of the objective; ``Endpoint.gap`` reports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._common import _check_data
from ._validation import _short, as_choice, as_real
from .data import Dataset
from .network import Network, PiecewiseLinear

__all__ = ["Endpoint", "kernel", "rnorm", "regularised", "cost"]

_BIASES = ("free", "penalised")
_REL_TOL = 1e-10  # target relative gap of the exchange method
_MAX_ROUNDS = 60  # exchange rounds before giving up (gap then reported as is)
_ZERO_KINK = 1e-10  # kinks below this fraction of the slope scale count as zero
_HIGHS = dict(primal_feasibility_tolerance=1e-10, dual_feasibility_tolerance=1e-10)


# ----------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class Endpoint:
    """An exact function-space endpoint: what :func:`rnorm` and :func:`regularised` return.

    Callable on x (the function). Frozen.

    Attributes
    ----------
    function : relu1d.PiecewiseLinear
        f on the whole real line.
    cost : float
        R(f), the representation cost (module docstring, §1): ∫w|f''| plus the affine
        part, w = √(1 + x²) (penalised bias) or 1 (free bias).
    knots : ndarray
        Sorted positions where f' jumps (jumps below 1e-10 of the slope scale omitted).
    gap : float
        Certified optimality gap of ``objective``: upper bound (this f) minus a dual lower
        bound, both exact up to rounding. Relative to the objective it is typically 1e-10.
    objective : float
        ½·mean((f(xⱼ) − yⱼ)²) + λ·cost (``cost`` itself for :func:`rnorm`, λ = 0).
    data_loss : float
        ½·mean((f(xⱼ) − yⱼ)²) (0 up to rounding for :func:`rnorm`).
    lam : float
        λ (0 for :func:`rnorm`).
    bias : {"free", "penalised"}
    problem : {"rnorm", "regularised"}
    data : Dataset
    network : relu1d.Network
        A balanced α = 1 network representing f whose weight-decay cost
        Σᵢ|cᵢ|·ρᵢ equals ``cost`` (ρ = ‖(a, b)‖ penalised, |a| free; with free bias a
        constant is carried by one a = 0 neuron, free in the infimum).
    kkt : float
        KKT residual of the final QP relative to λ (0 for the LPs, whose duality is
        checked through ``gap``).
    sparsest : bool
        True where f is proven to have the fewest knots among all minimisers (free
        bias); False where the minimiser is returned as found (penalised bias).
    description : str
        What f is, in words.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import endpoints
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> e = endpoints.regularised(data, lam=0.1, bias="free")
    >>> e.problem, e.bias, e.knots
    ('regularised', 'free', array([0.]))
    >>> bool(np.isclose(e.objective, e.data_loss + e.lam * e.cost))
    True
    >>> bool(np.allclose(e.network(data.x), e(data.x)))       # a network with the same function
    True
    """

    function: PiecewiseLinear
    cost: float
    knots: np.ndarray
    gap: float
    objective: float
    data_loss: float
    lam: float
    bias: str
    problem: str
    data: Dataset
    network: Network
    kkt: float = 0.0
    sparsest: bool = False
    description: str = field(default="")

    def __call__(self, x) -> np.ndarray:
        return self.function(x)

    def __repr__(self) -> str:
        return (
            f"Endpoint({self.problem}, bias={self.bias!r}, lam={self.lam:g}, cost={self.cost:.6g}, "
            f"knots={self.knots.size}, gap={self.gap:.2g})"
        )

    def knot_counts(self, atol: float = 1e-9) -> np.ndarray:
        """Knots in each closed interval of the data: (−∞, x₁], [x₁, x₂], …, [x_s, ∞).

        A knot within ``atol``·(1 + |x|) of a sample counts in both intervals that end
        there (Shevchenko et al. count "at most three knots per interval", two of them at
        its ends). Returns an int array of length s + 1.
        """
        atol = as_real(atol, "atol", nonnegative=True)
        x = self.data.x
        edges = np.concatenate(([-np.inf], x, [np.inf]))
        counts = np.zeros(x.size + 1, dtype=int)
        for u in self.knots:
            near = np.abs(x - u) <= atol * (1 + abs(u))
            for k in range(x.size + 1):
                lo, hi = edges[k], edges[k + 1]
                at_lo = k > 0 and near[k - 1]
                at_hi = k < x.size and near[k]
                if at_lo or at_hi or lo < u < hi:
                    counts[k] += 1
        return counts


# ----------------------------------------------------------------------------- kernel
def kernel(data, init="uniform", kernel="rf", ridge=0.0):
    """The m = ∞ kernel interpolant: :func:`relu1d.kernel.interpolant`, unchanged.

    The lazy end of the transition: Σⱼ αⱼ K(xⱼ, ·), the minimum-RKHS-norm interpolant
    (Williams et al. 2019, Theorem 5).

    Parameters
    ----------
    data : Dataset
    init : "uniform", "gaussian", relu1d.kernel.Uniform/Gaussian/Density or callable p(a, b)
        The distribution of (a, b) at initialisation.
    kernel : {"rf", "ntk"}
        "rf": only c trains (the random-feature kernel); "ntk": all layers, α = √m, with
        the init's ``c_variance`` (pass ``relu1d.kernel.Uniform(c_variance=...)`` for
        another output-layer scale).
    ridge : float >= 0
        Kernel ridge regression instead of interpolation.

    Returns
    -------
    relu1d.kernel.KernelInterpolant

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import endpoints
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> f = endpoints.kernel(data)
    >>> [round(float(v), 10) + 0.0 for v in f(data.x)]
    [0.0, 1.0, 0.0]
    """
    from . import kernel as _kernel_module

    return _kernel_module.interpolant(data, init=init, kernel=kernel, ridge=ridge)


# ----------------------------------------------------------------------------- validation
def _check_bias(bias) -> str:
    if not isinstance(bias, str):
        raise TypeError(f"bias must be one of 'free', 'penalised'; got {_short(bias)}")
    return as_choice(bias, "bias", _BIASES)


# ----------------------------------------------------------------------------- columns
def _features(x: np.ndarray, dirs: np.ndarray) -> np.ndarray:
    """Φ (s, n): φⱼ(d) = (a xⱼ − b)₊ for the rows d = (a, b) of ``dirs``."""
    return np.maximum(np.outer(x, dirs[:, 0]) - dirs[:, 1], 0.0)


def _omega(dirs: np.ndarray, bias: str) -> np.ndarray:
    return np.hypot(dirs[:, 0], dirs[:, 1]) if bias == "penalised" else np.abs(dirs[:, 0])


def _data_columns(x: np.ndarray, bias: str) -> np.ndarray:
    """Data-knot neurons of both orientations with a non-zero feature, plus (0, −1)
    (penalised; with free bias the constant is a separate free variable)."""
    rows = [(1.0, xj) for xj in x[:-1]] + [(-1.0, -xj) for xj in x[1:]]
    if x.size == 1:
        rows = [(1.0, x[0] - 1.0)]  # one sample: (x − (x₁ − 1))₊ is 1 there
    dirs = np.array(rows, dtype=float)
    if bias == "penalised":
        dirs = np.vstack([dirs / np.hypot(dirs[:, 0], dirs[:, 1])[:, None], [[0.0, -1.0]]])
    return dirs


def _sector_maxima(x: np.ndarray, nu: np.ndarray):
    """Exact max over the unit circle of |g_ν(d)| = |Σⱼ νⱼ (a xⱼ − b)₊|.

    Returns (M, new) where ``new`` lists (value, direction) for every sector whose
    interior maximiser ±v_C/‖v_C‖ lies inside it (module docstring, §2); the arc ends
    are the data knots, evaluated too.
    """
    bounds = np.concatenate([np.arctan2(x, 1.0), np.arctan2(-x, -1.0)])
    bounds = np.unique(np.mod(bounds, 2 * np.pi))
    ends = np.stack([np.cos(bounds), np.sin(bounds)], axis=1)
    best = float(np.max(np.abs(_features(x, ends).T @ nu))) if bounds.size else 0.0
    new = []
    nb = bounds.size
    for i in range(nb):
        lo = bounds[i]
        hi = bounds[i + 1] if i + 1 < nb else bounds[0] + 2 * np.pi
        width = hi - lo
        mid = lo + width / 2
        act = x * math.cos(mid) - math.sin(mid) > 0
        if not act.any():
            continue
        v = np.array([np.sum(nu[act] * x[act]), -np.sum(nu[act])])
        norm = float(np.hypot(*v))
        if norm == 0.0:
            continue
        for sgn in (1.0, -1.0):
            ang = math.atan2(sgn * v[1], sgn * v[0])
            if 0.0 < np.mod(ang - lo, 2 * np.pi) < width:
                best = max(best, norm)
                new.append((norm, sgn * v / norm))
    return best, new


def _certificate(x, nu, bias, scale):
    """M = max_d |g_ν(d)|/(scale·ω(d)) over the whole circle, and new columns."""
    if bias == "free":
        dirs = np.array([(1.0, xj) for xj in x] + [(-1.0, -xj) for xj in x])
        return float(np.max(np.abs(_features(x, dirs).T @ nu))) / scale, []
    M, new = _sector_maxima(x, nu)
    return M / scale, [(v / scale, d) for v, d in new]


# ----------------------------------------------------------------------------- solvers
def _solve_lp(phi, w, y, free_const):
    """min wᵀ|c| s.t. Φc (+ C) = y: (c, C, ν) with ν the equality duals."""
    from scipy.optimize import linprog

    s, n = phi.shape
    # solved as its dual, max yᵀν s.t. |Φᵀν| <= w (Σν = 0 with a free constant): s
    # variables, and c from the constraint multipliers. HiGHS solves it in a fraction of a
    # second where the primal form (2n columns, some tiny) took minutes at s = 200.
    G = np.vstack([phi.T, -phi.T])
    res = linprog(
        -y,
        A_ub=G,
        b_ub=np.concatenate([w, w]),
        A_eq=np.ones((1, s)) if free_const else None,
        b_eq=[0.0] if free_const else None,
        bounds=(None, None),
        method="highs",
        options=_HIGHS,
    )
    if res.status != 0:
        raise RuntimeError(f"the LP solver failed ({res.message})")
    mult = -np.asarray(res.ineqlin.marginals, float)
    z = np.concatenate([mult, [0.0, 0.0]]) if free_const else mult
    if free_const:
        C0 = float(np.mean(y - phi @ (z[:n] - z[n:2 * n])))
        z[2 * n:] = (max(C0, 0.0), max(-C0, 0.0))
    A = np.hstack([phi, -phi] + ([np.ones((s, 1)), -np.ones((s, 1))] if free_const else []))
    c = z[:n] - z[n:2 * n]
    C = float(z[2 * n] - z[2 * n + 1]) if free_const else 0.0
    # polish: on the solver's support, solve the equalities exactly (keeping the signs)
    scale = max(float(np.max(np.abs(c), initial=0.0)), 1e-300)
    support = np.flatnonzero(np.abs(c) > 1e-12 * scale)
    Asup = phi[:, support]
    if free_const:
        Asup = np.hstack([Asup, np.ones((s, 1))])
    if Asup.shape[1]:
        sol = np.linalg.lstsq(Asup, y, rcond=None)[0]
        cs = sol[:support.size]
        if (np.all(np.sign(cs) == np.sign(c[support]))
                and np.max(np.abs(Asup @ sol - y)) <= np.max(np.abs(A @ z - y))):
            c = np.zeros(n)
            c[support] = cs
            C = float(sol[-1]) if free_const else 0.0
    return c, C, np.asarray(res.x, float)


def _qp_objective(phi, w, y, lam, c, C):
    r = phi @ c + C - y
    return 0.5 * float(r @ r) / y.size + lam * float(w @ np.abs(c))


def _solve_qp(phi, w, y, lam, free_const, c0=None, C0=0.0):
    """min ½·mean((Φc + C − y)²) + λ wᵀ|c| (C = 0 unless ``free_const``), exactly.

    The dual is the projection of y/s onto the polytope {ν : |Φₙᵀν| <= λwₙ}, a
    least-distance program min ‖ξ‖ s.t. Gξ >= h for ξ = ν − y/s, which Lawson & Hanson
    (Solving Least Squares Problems, ch. 23) reduce to one nonnegative least-squares
    problem, solved by their finite active-set method (``scipy.optimize.nnls``): with u
    its solution and r = [Gᵀ; hᵀ]u − e, ξ = −r₁…ₛ/rₛ₊₁ and the multipliers u/(1 − hᵀu)
    give c (c = s·(μ⁺ − μ⁻)). A free constant is eliminated by centering Φ and y.
    Returns (c, C, ν, kkt) with kkt the largest violation of the optimality conditions
    divided by λ.
    """
    from scipy.optimize import nnls

    s, n = phi.shape
    A, b = phi / w, y.copy()
    if free_const:
        A = A - A.mean(axis=0)
        b = b - b.mean()
    G = np.vstack([-A.T, A.T])
    h = np.concatenate([A.T @ b / s - lam, -A.T @ b / s - lam])
    E = np.vstack([G.T, h[None, :]])
    e = np.zeros(s + 1)
    e[-1] = 1.0
    u, _ = nnls(E, e, maxiter=50 * E.shape[1] + 100)
    mu = u / (1.0 - float(h @ u))
    ct = s * (mu[:n] - mu[n:])
    c = ct / w
    C = float(np.mean(y - phi @ c)) if free_const else 0.0
    nu = (y - phi @ c - C) / s
    g = phi.T @ nu
    on = c != 0
    viol = np.where(on, np.abs(g - lam * w * np.sign(c)), np.maximum(np.abs(g) - lam * w, 0.0))
    kkt = float(np.max(viol, initial=0.0)) / lam
    if free_const:
        kkt = max(kkt, abs(float(np.sum(nu))) / lam)
    return c, C, nu, kkt


def _merge_parallel(dirs, c, x):
    """Merge the same-sign neurons of one activation sector (same active samples): the
    sector is a convex cone on which the features are linear, so Σcᵢdᵢ is one neuron of
    the sector with the same features and cost ‖Σ|cᵢ|dᵢ‖ <= Σ|cᵢ| (equality only for
    parallel dᵢ). Neurons active on no sample are dropped (they only cost)."""
    keep = np.abs(c) > 0
    dirs, c = dirs[keep], c[keep]
    pattern = np.outer(x, dirs[:, 0]) - dirs[:, 1] > 0
    groups: dict = {}
    for i in range(c.size):
        if not pattern[:, i].any():
            continue
        groups.setdefault((pattern[:, i].tobytes(), c[i] > 0), []).append(i)
    out_d, out_c = [], []
    for idx in groups.values():
        if len(idx) == 1:
            out_d.append(dirs[idx[0]])
            out_c.append(c[idx[0]])
            continue
        # a positive combination: stays in the cone
        v = (np.abs(c[idx])[:, None] * dirs[idx]).sum(axis=0)
        norm = float(np.hypot(*v))
        out_d.append(v / norm)
        out_c.append(math.copysign(norm, c[idx[0]]))
    return np.array(out_d).reshape(-1, 2), np.array(out_c)


def _spline_of(dirs, c, C, x) -> PiecewiseLinear:
    """f = Σ cᵢ(aᵢx − bᵢ)₊ + C exactly, with knots closer than 1e-11·(1 + |u|) (and to a
    sample) made equal, so that one kink is one breakpoint: each knot neuron is written
    as (c|a|)·(±x ∓ u)₊ with a = ±1, whose breakpoint is u exactly."""
    has = dirs[:, 0] != 0
    u = np.where(has, dirs[:, 1] / np.where(has, dirs[:, 0], 1.0), 0.0)
    order = np.argsort(u)
    pts = np.concatenate([u[has], x])
    # group sorted knots: a run within tolerance of its first member shares one position
    cand = np.sort(pts)
    reps, start = [], None
    for v in cand:
        if start is None or v - start > 1e-11 * (1 + abs(start)):
            start = v
        reps.append(start)
    rep_of = dict(zip(cand.tolist(), reps))
    xs = set(x.tolist())
    # prefer a sample as the representative of its group
    for v in x:
        r = rep_of[float(v)]
        for k, rr in list(rep_of.items()):
            if rr == r:
                rep_of[k] = float(v)
    del order, xs
    a_n = np.where(has, np.sign(dirs[:, 0]), 0.0)
    uu = np.array([rep_of[float(v)] if h else 0.0 for v, h in zip(u, has)])
    b_n = np.where(has, a_n * uu, dirs[:, 1])
    c_n = np.where(has, c * np.abs(dirs[:, 0]), c)
    a_n, b_n, c_n = np.append(a_n, 0.0), np.append(b_n, -1.0), np.append(c_n, C)
    return Network(a_n, b_n, c_n, 1.0).to_spline()


def _snap(x, y, dirs, c, C, kkt, lam, upper):
    """Penalised bias: the exchange method approaches an optimal data knot from inside a
    sector. Snap used directions within 1e-6 rad of a data-knot direction onto it and
    re-solve on the used columns; keep the result unless it is worse by more than the
    target gap (the dual bound stays valid either way)."""
    used = np.abs(c) > 0
    if not used.any():
        return dirs, c, C, kkt
    bounds = np.mod(np.concatenate([np.arctan2(x, 1.0), np.arctan2(-x, -1.0)]), 2 * np.pi)
    cand = dirs[used].copy()
    ang = np.mod(np.arctan2(cand[:, 1], cand[:, 0]), 2 * np.pi)
    diff = np.abs(np.mod(ang[:, None] - bounds[None, :] + np.pi, 2 * np.pi) - np.pi)
    near = np.min(diff, axis=1) < 1e-6
    if not near.any():
        return dirs, c, C, kkt
    target = bounds[np.argmin(diff, axis=1)]
    cand[near] = np.stack([np.cos(target[near]), np.sin(target[near])], axis=1)
    cand = np.unique(np.round(cand, 15), axis=0)
    cand = cand / np.hypot(cand[:, 0], cand[:, 1])[:, None]
    phi, w = _features(x, cand), np.ones(cand.shape[0])
    if lam == 0:
        try:
            c2, C2, _ = _solve_lp(phi, w, y, False)
        except RuntimeError:
            return dirs, c, C, kkt
        if np.max(np.abs(phi @ c2 - y)) > 1e-9 * max(1.0, float(np.max(np.abs(y)))):
            return dirs, c, C, kkt
        value, kkt2 = float(np.sum(np.abs(c2))), 0.0
    else:
        c2, C2, _, kkt2 = _solve_qp(phi, w, y, lam, False)
        value = _qp_objective(phi, w, y, lam, c2, C2)
    if value <= upper + 10 * _REL_TOL * max(1.0, abs(upper)):
        return cand, c2, C2, kkt2
    return dirs, c, C, kkt


def _newton_polish(x, y, dirs, c, nu, lam):
    """Penalised bias: solve the optimality system on the identified structure exactly.

    Unknowns ν (s) and the weights |cᵢ| (k); equations: the data (Σᵢ cᵢφ(dᵢ) = y, or
    y − Φc = sν when λ > 0), and for each neuron the active dual constraint:
    ‖v_C(ν)‖ = λ' for a neuron inside sector C (its direction is then σ·v_C/‖v_C‖),
    σ·g_ν(d) = λ' for a neuron at a data knot (λ' = λ, or 1 for rnorm). A square system,
    solved by Newton's method with the exact Jacobian from the exchange
    method's solution; None where it does not converge or leaves the structure."""
    s, k = x.size, c.size
    if k == 0:
        return None
    lamp = lam if lam > 0 else 1.0
    sig = np.sign(c)
    bounds = np.mod(np.concatenate([np.arctan2(x, 1.0), np.arctan2(-x, -1.0)]), 2 * np.pi)
    ang = np.mod(np.arctan2(dirs[:, 1], dirs[:, 0]), 2 * np.pi)
    diff = np.abs(np.mod(ang[:, None] - bounds[None, :] + np.pi, 2 * np.pi) - np.pi)
    boundary = np.min(diff, axis=1) < 1e-9
    masks = (np.outer(x, dirs[:, 0]) - dirs[:, 1] > 0).T  # (k, s)
    xt = np.stack([x, -np.ones(s)], axis=1)  # x̃ⱼ = (xⱼ, −1)
    fixed_phi = _features(x, dirs)  # used for boundary neurons

    def unpack(z):
        nu_, m = z[:s], z[s:]
        ds = dirs.copy()
        phi = fixed_phi.copy()
        r2 = np.empty(k)
        for i in range(k):
            if boundary[i]:
                r2[i] = sig[i] * float(nu_ @ fixed_phi[:, i]) - lamp
                continue
            v = (nu_[masks[i]][:, None] * xt[masks[i]]).sum(axis=0)
            nv = float(np.hypot(*v))
            r2[i] = nv - lamp
            d = sig[i] * v / nv if nv > 0 else dirs[i]
            ds[i] = d
            phi[:, i] = np.where(masks[i], xt @ d, 0.0)
        return nu_, m, ds, phi, r2

    def residual(z):
        nu_, m, _, phi, r2 = unpack(z)
        r1 = phi @ (sig * m) - y + (s * nu_ if lam > 0 else 0.0)
        return np.concatenate([r1, r2])

    def jacobian(z):
        # exact: for a neuron inside its sector, σᵢdᵢ = v/‖v‖ with v = Σ_{j∈C} νⱼx̃ⱼ, so
        # ∂(σᵢmᵢφ(dᵢ))/∂ν = mᵢ·Mᵢ P Mᵢᵀ with Mᵢ the rows x̃ⱼ of C, P = (I − v̂v̂ᵀ)/‖v‖, and
        # ∂‖v‖/∂ν = Mᵢv̂; a data-knot neuron has fixed φ and ∂(σᵢ g_ν(dᵢ))/∂ν = σᵢφ(dᵢ)
        nu_, m, _, phi, _ = unpack(z)
        J = np.zeros((s + k, s + k))
        J[:s, s:] = phi * sig
        if lam > 0:
            J[:s, :s] += s * np.eye(s)
        for i in range(k):
            if boundary[i]:
                J[s + i, :s] = sig[i] * fixed_phi[:, i]
                continue
            Mi = np.where(masks[i][:, None], xt, 0.0)
            v = Mi.T @ nu_
            nv = float(np.hypot(*v))
            if nv == 0:
                continue
            vh = v / nv
            J[s + i, :s] = Mi @ vh
            J[:s, :s] += (m[i] / nv) * (Mi @ (np.eye(2) - np.outer(vh, vh)) @ Mi.T)
        return J

    z = np.concatenate([nu, np.abs(c)])
    scale = 1.0 + float(np.max(np.abs(y)))
    for _ in range(40):
        r = residual(z)
        if np.max(np.abs(r)) <= 1e-14 * scale:
            break
        step = np.linalg.lstsq(jacobian(z), -r, rcond=None)[0]
        z = z + step
        if not np.all(np.isfinite(z)):
            return None
    r = residual(z)
    if np.max(np.abs(r)) > 1e-11 * scale:
        return None
    nu_, m, ds, _, _ = unpack(z)
    if np.any(m <= 0):
        return None
    new_masks = (np.outer(x, ds[:, 0]) - ds[:, 1] > 1e-12 * (1 + np.abs(x))[:, None]).T
    old_or_edge = (np.outer(x, ds[:, 0]) - ds[:, 1] >= -1e-12 * (1 + np.abs(x))[:, None]).T
    if np.any(new_masks & ~masks) or np.any(masks & ~old_or_edge):
        return None  # a direction left its sector
    return ds, sig * m, nu_


def _exchange(data: Dataset, bias: str, lam: float):
    """Solve rnorm (lam = 0) or regularised (lam > 0) over neuron measures; returns
    (dirs, c, C, lower_bound, kkt)."""
    x, y = data.x, data.y
    s = x.size
    free_const = bias == "free"
    dirs = _data_columns(x, bias)
    c_prev, C_prev = None, 0.0
    lower = -np.inf
    kkt = 0.0
    for rnd in range(_MAX_ROUNDS):
        phi = _features(x, dirs)
        w = _omega(dirs, bias)
        if lam == 0:
            c, C, nu = _solve_lp(phi, w, y, free_const)
            upper = float(w @ np.abs(c))
            if free_const:
                nu = nu - np.mean(nu)  # Σν = 0 exactly: the dual constraint of the free constant
            M, new = _certificate(x, nu, bias, 1.0)
            lower = float(nu @ y) / max(M, 1.0)
        else:
            c, C, nu, kkt = _solve_qp(phi, w, y, lam, free_const, c_prev, C_prev)
            upper = _qp_objective(phi, w, y, lam, c, C)
            if free_const:
                nu = nu - np.mean(nu)
            M, new = _certificate(x, nu, bias, lam)
            nu_f = nu / max(M, 1.0)
            lower = float(nu_f @ y) - 0.5 * s * float(nu_f @ nu_f)
        if bias == "free" or upper - lower <= _REL_TOL * max(1.0, abs(upper)):
            break
        fresh = [d for v, d in new if v > 1.0 + 1e-12]
        if not fresh or rnd == _MAX_ROUNDS - 1:
            break
        dirs = np.vstack([dirs, np.array(fresh)])
        c_prev = np.concatenate([c, np.zeros(len(fresh))])
        C_prev = C
    if bias == "penalised":
        dirs, c = _merge_parallel(dirs, c, x)
        dirs, c, C, kkt = _snap(x, y, dirs, c, C, kkt, lam, upper)
        dirs, c = _merge_parallel(dirs, c, x)
        polished = _newton_polish(x, y, dirs, c, nu, lam)
        if polished is not None:
            d2, c2, nu2 = polished
            # the constant neuron (0, −1) comes back with a ≈ 1e-16: a knot at ~1e16, kept at a = 0
            d2[np.abs(d2[:, 0]) < 1e-13, 0] = 0.0
            phi2 = _features(x, d2)
            if lam == 0:
                up2 = float(np.sum(np.abs(c2)))
                feasible = np.max(np.abs(phi2 @ c2 - y)) <= 1e-11 * (1.0 + float(np.max(np.abs(y))))
                M2, _ = _certificate(x, nu2, bias, 1.0)
                low2 = float(nu2 @ y) / max(M2, 1.0)
                kkt2 = 0.0
            else:
                up2 = _qp_objective(phi2, np.ones(c2.size), y, lam, c2, 0.0)
                feasible = True
                M2, _ = _certificate(x, nu2, bias, lam)
                nu_f = nu2 / max(M2, 1.0)
                low2 = float(nu_f @ y) - 0.5 * s * float(nu_f @ nu_f)
                g = phi2.T @ ((y - phi2 @ c2) / s)
                kkt2 = float(np.max(np.abs(g - lam * np.sign(c2)), initial=0.0)) / lam
            if feasible and up2 <= upper + 10 * _REL_TOL * max(1.0, abs(upper)):
                dirs, c, kkt = d2, c2, kkt2
                lower = max(lower, low2)
    else:
        keep = c != 0
        dirs, c = dirs[keep], c[keep]
    return dirs, c, C, lower, kkt


# ----------------------------------------------------------------------------- functions
def _network_of(dirs, c, C, bias) -> Network:
    """Balanced α = 1 network: unit-cost directions scaled by √|c|."""
    k = np.sqrt(np.abs(c) / np.maximum(_omega(dirs, bias), 1e-300))
    a, b, cc = dirs[:, 0] * k, dirs[:, 1] * k, np.where(k > 0, c / np.where(k > 0, k, 1.0), 0.0)
    if C != 0.0:
        mag = math.sqrt(abs(C)) if bias == "penalised" else 1.0
        a, b, cc = np.append(a, 0.0), np.append(b, -mag), np.append(cc, C / mag)
    if a.size == 0:
        a, b, cc = np.zeros(1), np.zeros(1), np.zeros(1)
    return Network(a, b, cc, 1.0)


def _knots_of(f: PiecewiseLinear) -> np.ndarray:
    mu = f.delta_slopes
    scale = max(float(np.max(np.abs(f.slopes))), float(np.max(np.abs(mu), initial=0.0)), 1e-300)
    return np.asarray(f.breakpoints[np.abs(mu) > _ZERO_KINK * scale], float)


def _pl_from_lines(points, lines):
    """PiecewiseLinear through consecutive lines (slope, point x, value y); knots at
    their crossings (lines equal up to rounding give no breakpoint)."""
    bps, vals, slopes = [], [], [lines[0][0]]
    for (s0, x0, y0), (s1, x1, y1) in zip(lines[:-1], lines[1:]):
        if s1 == s0:
            continue
        u = (y1 - s1 * x1 - (y0 - s0 * x0)) / (s0 - s1)
        bps.append(u)
        vals.append(y0 + s0 * (u - x0))
        slopes.append(s1)
    if not bps:  # one line: a single breakpoint with no change of slope
        bps, vals = [float(points[0])], [lines[0][2] + lines[0][0] * (points[0] - lines[0][1])]
        slopes.append(lines[0][0])
    bps = np.array(bps)
    order = np.argsort(bps, kind="stable")
    if np.any(np.diff(bps[order]) <= 0) or np.any(order != np.arange(bps.size)):
        return None
    return PiecewiseLinear(bps, np.array(vals), np.array(slopes))


def _sparsest_free(x: np.ndarray, z: np.ndarray):
    """The sparsest minimum-cost interpolant of (x, z) with free bias (module docstring, §3)."""
    if x.size == 1:
        return PiecewiseLinear(np.array([x[0]]), np.array([z[0]]), np.array([0.0, 0.0]))
    sec = np.diff(z) / np.diff(x)
    scale = max(float(np.max(np.abs(sec))), 1e-300)
    kinks = np.diff(sec)
    kinks[np.abs(kinks) <= _ZERO_KINK * scale] = 0.0
    V = float(np.sum(np.abs(kinks)))
    S = float(sec[0] + sec[-1])
    K = max(0.0, (abs(S) - V) / 2) if abs(S) > _ZERO_KINK * scale else 0.0
    # candidates: all of K at the left end (f'(−∞) = s₁ − κ) or at the right end
    # (f'(+∞) = s_last + κ')
    sides = ("left", "right") if K > 0 else ("none",)
    best = None
    for side in sides:
        kl = math.copysign(K, S) if side == "left" else 0.0  # delta-slope at x₁: from s₁ − kl to s₁
        kr = -math.copysign(K, S) if side == "right" else 0.0  # delta-slope at x_s
        # lines: ℓ₀ (left end), ℓ₁ … ℓ_{s−1} (secants), ℓ_s (right end);
        # kink k between ℓ_{k−1} and ℓ_k
        lines = [(sec[0] - kl, x[0], z[0])] + [(sec[i], x[i], z[i]) for i in range(sec.size)] + \
                [(sec[-1] + kr, x[-1], z[-1])]
        kink = np.concatenate([[kl], kinks, [kr]])  # kink k (k = 0..s−1) at x_k
        drop = set()
        k = 0
        while k < kink.size:
            if kink[k] == 0:
                k += 1
                continue
            j = k
            while (
                j + 1 < kink.size and kink[j + 1] != 0 and np.sign(kink[j + 1]) == np.sign(kink[k])
            ):
                j += 1
            for p in range(k, j, 2):  # pair (p, p + 1): drop the line between them, ℓ_{p+1}
                drop.add(p + 1)
            k = j + 1
        drop |= {k + 1 for k in range(kink.size) if kink[k] == 0}  # a zero kink: the line goes on
        kept = [ln for i, ln in enumerate(lines) if i not in drop]
        # lines with equal slopes next to each other are the same line (zero kink): merge
        merged = [kept[0]]
        for ln in kept[1:]:
            if ln[0] != merged[-1][0]:
                merged.append(ln)
        f = _pl_from_lines(x, merged)
        if f is None:
            continue
        n_knots = _knots_of(f).size
        if best is None or n_knots < best[0]:
            best = (n_knots, f)
    if best is None:  # not expected: fall back to the linear interpolant with end knots
        raise RuntimeError(
            "internal error: the sparse free-bias construction failed; please report"
        )
    return best[1]


def _free_split_network(f: PiecewiseLinear) -> Network:
    """A balanced network for f with free bias: split each knot's delta-slope μₖ into
    pₖ(x − uₖ)₊ + qₖ(uₖ − x)₊ at minimal Σ|pₖ| + |qₖ| (an LP), constant by an a = 0 neuron."""
    from scipy.optimize import linprog

    u, mu = f.breakpoints, f.delta_slopes
    n = u.size
    # variables p⁺, p⁻, q⁺, q⁻ >= 0; p + q = μ; Σp = f'(+∞)
    A = np.zeros((n + 1, 4 * n))
    A[:n, :n] = np.eye(n)
    A[:n, n:2 * n] = -np.eye(n)
    A[:n, 2 * n:3 * n] = np.eye(n)
    A[:n, 3 * n:] = -np.eye(n)
    A[n, :n], A[n, n:2 * n] = 1.0, -1.0
    res = linprog(
        np.ones(4 * n),
        A_eq=A,
        b_eq=np.append(mu, f.slopes[-1]),
        bounds=(0, None),
        method="highs",
        options=_HIGHS,
    )
    z = res.x
    p, q = z[:n] - z[n:2 * n], z[2 * n:3 * n] - z[3 * n:]
    dirs = np.concatenate([np.stack([np.ones(n), u], 1), np.stack([-np.ones(n), -u], 1)])
    c = np.concatenate([p, q])
    keep = np.abs(c) > 0
    dirs, c = dirs[keep], c[keep]
    base = _features(np.array([0.0]), dirs)[0] @ c if c.size else 0.0
    return _network_of(dirs, c, float(f(0.0)) - float(base), "free")


# ----------------------------------------------------------------------------- cost
def _as_piecewise_linear(f) -> PiecewiseLinear:
    if isinstance(f, Endpoint):
        return f.function
    if isinstance(f, Network):
        return f.to_spline()
    if isinstance(f, PiecewiseLinear):
        return f
    raise TypeError(f"f must be a relu1d.PiecewiseLinear, relu1d.Network or endpoints.Endpoint, "
                    f"got {type(f).__name__}")


def _penalised_affine(u, mu, A, B):
    """min N((A, B) − Σdₖ(1, −uₖ)) over |dₖ| <= |μₖ|/2, N(v) = min_C 2‖(v₁, v₂ − C)‖ + |C|,
    by cutting planes on the 2-norm (exact LP otherwise). Returns (value, gap)."""
    from scipy.optimize import linprog

    n = u.size
    scale = max(abs(A), abs(B), float(np.sum(np.abs(mu) * np.hypot(1, u))), 1e-300)
    angles = list(np.linspace(0, 2 * np.pi, 128, endpoint=False))
    # variables: d (n), Ã, B̃ (free), C⁺, C⁻ >= 0, t >= 0
    nv = n + 5
    obj = np.zeros(nv)
    obj[n + 2] = obj[n + 3] = 1.0
    obj[n + 4] = 2.0
    A_eq = np.zeros((2, nv))
    A_eq[0, :n], A_eq[0, n] = 1.0, 1.0
    A_eq[1, :n], A_eq[1, n + 1], A_eq[1, n + 2], A_eq[1, n + 3] = -u, 1.0, 1.0, -1.0
    bounds = [(-abs(m) / 2, abs(m) / 2) for m in mu] + [(None, None)] * 2 + [(0, None)] * 3
    value, gap = 0.0, np.inf
    for _ in range(60):
        A_ub = np.zeros((len(angles), nv))
        A_ub[:, n] = np.cos(angles)
        A_ub[:, n + 1] = np.sin(angles)
        A_ub[:, n + 4] = -1.0
        res = linprog(
            obj,
            A_ub=A_ub,
            b_ub=np.zeros(len(angles)),
            A_eq=A_eq,
            b_eq=[A, B],
            bounds=bounds,
            method="highs",
            options=_HIGHS,
        )
        if res.status != 0:
            raise RuntimeError(f"the LP solver failed ({res.message})")
        z = res.x
        at, bt = z[n], z[n + 1]
        norm = float(np.hypot(at, bt))
        value = 2 * norm + z[n + 2] + z[n + 3]
        gap = value - res.fun
        if gap <= 1e-9 * scale:  # HiGHS works to 1e-10: more cuts cannot certify more
            break
        angles.append(math.atan2(bt, at))
    return value, max(gap, 0.0)


def _cost_parts(f: PiecewiseLinear, bias: str) -> tuple[float, float]:
    u, mu = np.asarray(f.breakpoints, float), f.delta_slopes
    lo, hi = float(f.slopes[0]), float(f.slopes[-1])
    if bias == "free":
        return float(max(np.sum(np.abs(mu)), abs(lo + hi))), 0.0
    A = (lo + hi) / 2
    B = float(f(0.0)) - float(np.sum(mu / 2 * np.abs(u)))
    affine, gap = _penalised_affine(u, mu, A, B)
    return float(np.sum(np.hypot(1.0, u) * np.abs(mu)) + affine), float(gap)


def cost(f, bias="penalised") -> float:
    r"""The representation cost R(f) of a continuous piecewise-linear f (module docstring, §1).

    The least Σᵢ|cᵢ/α|·ρᵢ over all networks (any width) computing f exactly, which is
    what weight decay pays at balance per unit λ·α: ρ = ‖(a, b)‖ (penalised bias) or
    |a| (free bias).

    * free: max(∫|f''|, |f'(−∞) + f'(+∞)|) (Savarese et al. 2019; Ongie et al. 2020);
    * penalised: Σₖ √(1 + uₖ²)|μₖ| plus the cheapest affine completion (module docstring):
      Σₖ w(uₖ)|μₖ| + min N((A, B) − Σₖ dₖ(1, −uₖ)) over |dₖ| <= |μₖ|/2.

    Parameters
    ----------
    f : relu1d.PiecewiseLinear, relu1d.Network or Endpoint
        A network is taken as the function it computes (its own parameters may cost more).
    bias : {"penalised", "free"}

    Returns
    -------
    float

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import endpoints
    >>> relu = relu1d.PiecewiseLinear([0.0], [0.0], [0.0, 1.0])          # (x)₊
    >>> round(endpoints.cost(relu), 12), round(endpoints.cost(relu, "free"), 12)
    (1.0, 1.0)
    >>> line = relu1d.PiecewiseLinear([0.0], [1.0], [1.0, 1.0])          # x + 1
    >>> round(endpoints.cost(line), 9), round(endpoints.cost(line, "free"), 9)
    (2.732050808, 2.0)
    """
    bias = _check_bias(bias)
    return _cost_parts(_as_piecewise_linear(f), bias)[0]


# ----------------------------------------------------------------------------- endpoints
def _finish(data, bias, lam, f, lower, kkt, net, sparsest, problem, description) -> Endpoint:
    value, cost_gap = _cost_parts(f, bias)
    r = f(data.x) - data.y
    data_loss = 0.5 * float(r @ r) / data.s
    objective = value if lam == 0 else data_loss + lam * value
    gap = max(objective - lower, 0.0) + lam * cost_gap + (cost_gap if lam == 0 else 0.0)
    return Endpoint(
        f,
        value,
        _knots_of(f),
        gap,
        objective,
        data_loss,
        lam,
        bias,
        problem,
        data,
        net,
        kkt,
        sparsest,
        description,
    )


def rnorm(data, bias="penalised") -> Endpoint:
    r"""The minimum-cost interpolant of an infinitely wide network under weight decay.

    min R(f) subject to f(xⱼ) = yⱼ, with R the representation cost (module docstring,
    §1): weight decay on (a, c) only (``bias="free"``) or on (a, b, c)
    (``bias="penalised"``, as ``relu1d.train(..., weight_decay=λ)`` applies it). This is
    the λ → 0⁺ limit of :func:`regularised` and the adaptive end of the kernel↔adaptive
    transition.

    Parameters
    ----------
    data : Dataset
    bias : {"penalised", "free"}

    Returns
    -------
    Endpoint
        ``cost`` is the minimum, ``gap`` a certified bound on its error.

    Notes
    -----
    Free bias: the minimum is max(V, (V + |S|)/2) with V = Σ|Δ secant slopes| (the
    linear interpolant's ∫|f''|) and S = s₁ + s_{s−1}; the linear interpolant continued
    linearly is *one* minimiser when V >= |S|, but minimisers are not unique. The one
    returned is the **sparsest** (fewest knots; ``sparsest`` is True): runs of same-sign
    kinks are merged pairwise into knots between the samples, with the proof of
    optimality in the module docstring, §3. The LP over the data knots, exact because the
    knots can be restricted to the data (§2), certifies the value.

    Penalised bias: each knot at x costs √(1 + x²) per unit of delta-slope, plus the
    affine part; knots between samples can be strictly cheaper than knots at them, so
    the minimiser is found by the exchange method over the whole circle of neuron
    directions (§2) and returned as found (``sparsest`` is False).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import endpoints
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0, 2.0], [0.0, 1.0, 0.0, 1.0])
    >>> e = endpoints.rnorm(data, bias="free")
    >>> round(e.cost, 9), e.sparsest, bool(e.gap < 1e-9)
    (4.0, True, True)
    >>> [round(float(v), 9) for v in e(data.x)]
    [0.0, 1.0, 0.0, 1.0]
    >>> p = endpoints.rnorm(relu1d.Dataset([-10.0, 10.0], [2.0, 2.0]))
    >>> round(p.cost, 6), [round(float(u), 6) for u in p.knots]
    (0.398015, [-0.1, 0.1])
    """
    data = _check_data(data)
    bias = _check_bias(bias)
    dirs, c, C, lower, kkt = _exchange(data, bias, 0.0)
    if bias == "free":
        f = _sparsest_free(data.x, data.y)
        net = _free_split_network(f)
        desc = ("sparsest minimum-cost interpolant with free bias (weight decay on a, c): cost "
                "max(∫|f''|, |f'(−∞)+f'(+∞)|), knots merged pairwise in same-sign runs")
        return _finish(data, bias, 0.0, f, lower, 0.0, net, True, "rnorm", desc)
    net = _network_of(dirs, c, C, bias)
    f = _spline_of(dirs, c, C, data.x)
    desc = ("minimum-cost interpolant with penalised bias (weight decay on a, b, c): cost "
            "∫√(1+x²)|f''| + affine part, exchange method over all neuron directions")
    return _finish(data, bias, 0.0, f, lower, kkt, net, False, "rnorm", desc)


def regularised(data, lam, bias="penalised") -> Endpoint:
    r"""The minimiser of ½·mean((f(xⱼ) − yⱼ)²) + λ·R(f) over infinitely wide networks.

    The β = ∞ minimiser of Shevchenko et al.'s free energy F = ½·mean squared error +
    (λ/2)∫‖θ‖²dρ (their λ), and the end state of weight-decayed training:
    ``relu1d.train(net, data, loss="mean", weight_decay=λ)`` with α = 1 minimises the same
    objective over width-m networks (module docstring, §1, for α ≠ 1 and ``loss="sum"``:
    lam = weight_decay·α/s and the train objective is s times ``objective``).

    Parameters
    ----------
    data : Dataset
    lam : float >= 0
        λ. lam = 0 gives :func:`rnorm` (the limit λ → 0⁺).
    bias : {"penalised", "free"}

    Returns
    -------
    Endpoint
        ``objective`` is the minimum, ``gap`` a certified bound on its error (dual
        bound), ``kkt`` the KKT residual of the final QP relative to λ.

    Notes
    -----
    The fitted values f(xⱼ) are unique (the data term is strictly convex in them). With
    free bias f is the sparsest minimum-cost interpolant of them (``sparsest`` True);
    with penalised bias the minimiser is returned as the exchange method finds it.

    Examples
    --------
    Shevchenko et al.'s two samples (±10, 2) at λ = 1: F* = 4λ/√101 − 2λ²/101.

    >>> import math, relu1d
    >>> from relu1d import endpoints
    >>> e = endpoints.regularised(relu1d.Dataset([-10.0, 10.0], [2.0, 2.0]), 1.0)
    >>> round(e.objective, 6), round(4 / math.sqrt(101) - 2 / 101, 6)
    (0.378213, 0.378213)
    >>> [round(float(u), 6) for u in e.knots]
    [-0.1, 0.1]
    """
    data = _check_data(data)
    bias = _check_bias(bias)
    lam = as_real(lam, "lam", nonnegative=True)
    if lam == 0:
        return rnorm(data, bias)
    dirs, c, C, lower, kkt = _exchange(data, bias, lam)
    if bias == "free":
        fitted = _features(data.x, dirs) @ c + C
        f = _sparsest_free(data.x, fitted)
        net = _free_split_network(f)
        desc = (f"λ = {lam:g} minimiser with free bias: sparsest minimum-cost interpolant of the "
                "fitted values")
        return _finish(data, bias, lam, f, lower, kkt, net, True, "regularised", desc)
    net = _network_of(dirs, c, C, bias)
    f = _spline_of(dirs, c, C, data.x)
    desc = (f"λ = {lam:g} minimiser with penalised bias (β = ∞ minimiser of Shevchenko et al.'s "
            "free energy)")
    return _finish(data, bias, lam, f, lower, kkt, net, False, "regularised", desc)
