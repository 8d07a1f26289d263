"""Reference interpolants, distances between functions, and curvature functionals.

The kernel regime is compared against the natural cubic spline (Williams et al. 2019,
Theorem 5, Fig. 3) and the adaptive regime against the linear interpolant. Both are
:class:`Spline` objects: a piecewise polynomial on the data hull [x₁, x_s], continued
outside it affinely (or constantly, for :func:`linear` on request).

Distances are computed on a grid that contains every breakpoint the functions declare
(``breakpoints`` of :class:`Spline`, :class:`relu1d.PiecewiseLinear`,
:class:`relu1d.Network`, ``relu1d.kernel.KernelInterpolant``; ``x`` of a scipy
``PPoly``), so between grid nodes both functions are smooth; accuracy is stated in each
function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._common import _breakpoints_of, _check_data, _integrate, _interval, _second_derivative_fn
from ._validation import _short, as_choice, as_float_array, as_int, as_real

if TYPE_CHECKING:  # only for the annotation of Spline.ppoly (scipy is imported on use)
    from scipy.interpolate import PPoly

__all__ = ["Spline", "natural_cubic", "linear", "curvature_norm", "sup_distance", "l2_distance"]


@dataclass(frozen=True, eq=False)
class Spline:
    """A piecewise polynomial on the data hull, continued outside it.

    Attributes
    ----------
    ppoly : scipy.interpolate.PPoly or None
        The pieces on [x₁, x_s]; None for a single sample (a constant).
    outside : {"linear", "constant"}
        "linear": continue with the end value and end slope (so a natural cubic stays C²);
        "constant": continue with the end value.
    constant : float
        The value when ``ppoly`` is None.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import splines
    >>> f = splines.natural_cubic(relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]))
    >>> f.outside, f.breakpoints
    ('linear', array([-1.,  0.,  1.]))
    >>> f(np.array([-2.0, 2.0])), f.derivative(np.array([-2.0, 2.0]))   # continued linearly
    (array([-1.5, -1.5]), array([ 1.5, -1.5]))
    """

    ppoly: PPoly | None
    outside: str = "linear"
    constant: float = 0.0

    def __post_init__(self):
        from scipy.interpolate import PPoly

        if self.ppoly is not None and not isinstance(self.ppoly, PPoly):
            raise TypeError(
                f"ppoly must be a scipy.interpolate.PPoly or None, got {_short(self.ppoly)}"
            )
        as_choice(self.outside, "outside", ("linear", "constant"))

    @property
    def breakpoints(self) -> np.ndarray:
        return np.empty(0) if self.ppoly is None else np.asarray(self.ppoly.x)

    def __call__(self, x) -> np.ndarray:
        return self.derivative(x, 0)

    def second_derivative(self, x) -> np.ndarray:
        return self.derivative(x, 2)

    def derivative(self, x, order: int = 1) -> np.ndarray:
        """The ``order``-th derivative (0 = the value) at x; one-sided limits are not
        distinguished at breakpoints (the value of the piece on the right is used)."""
        x = as_float_array(x, "x", ndim=None)
        order = as_int(order, "order", minimum=0)
        if self.ppoly is None:
            return np.full(x.shape, self.constant if order == 0 else 0.0)
        lo, hi = self.ppoly.x[0], self.ppoly.x[-1]
        xc = np.clip(x, lo, hi)
        inside = xc == x
        slope = self.ppoly(xc, 1) if self.outside == "linear" else np.zeros_like(xc)
        if order == 0:
            return self.ppoly(xc) + (x - xc) * slope
        if order == 1:
            return np.where(inside, self.ppoly(xc, 1), slope)
        return np.where(inside, self.ppoly(xc, order), 0.0)


def natural_cubic(data) -> Spline:
    """The natural cubic spline through the data, continued linearly outside the hull.

    It minimises ∫_ℝ |f''|² among interpolants (f'' = 0 outside [x₁, x_s] and at x₁, x_s);
    scipy's ``CubicSpline(bc_type="natural")``. One sample: the constant; two: the line.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import splines
    >>> f = splines.natural_cubic(relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]))
    >>> f(np.array([-0.5, 0.5])), f.second_derivative(np.array([-1.0, 0.0, 1.0]))
    (array([0.6875, 0.6875]), array([ 0., -3.,  0.]))
    """
    from scipy.interpolate import CubicSpline, PPoly

    data = _check_data(data)
    if data.s == 1:
        return Spline(None, "linear", float(data.y[0]))
    spline = CubicSpline(data.x, data.y, bc_type="natural")
    return Spline(PPoly(spline.c, spline.x, extrapolate=True), "linear")


def linear(data, outside: str = "linear") -> Spline:
    """The piecewise-linear interpolant of the data.

    Parameters
    ----------
    data : Dataset
    outside : {"linear", "constant"}
        Outside [x₁, x_s]: continue the end pieces (default; no extra kink, as a network
        in the adaptive regime with no knot beyond the data does) or hold the end values.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import splines
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> splines.linear(data)(np.array([-2.0, -0.5, 0.5, 2.0]))
    array([-1. ,  0.5,  0.5, -1. ])
    >>> splines.linear(data, outside="constant")(np.array([-2.0, 2.0]))
    array([0., 0.])
    """
    from scipy.interpolate import PPoly

    data = _check_data(data)
    as_choice(outside, "outside", ("linear", "constant"))
    if data.s == 1:
        return Spline(None, outside, float(data.y[0]))
    slopes = np.diff(data.y) / np.diff(data.x)
    return Spline(PPoly(np.vstack([slopes, data.y[:-1]]), data.x, extrapolate=True), outside)


# --------------------------------------------------------------------------- helpers
def _check_callable(f, name: str):
    if not callable(f):
        raise TypeError(f"{name} must be a callable function of x, got {_short(f)}")


def _grid(f, g, lo: float, hi: float, n: int) -> np.ndarray:
    pts = np.concatenate([np.linspace(lo, hi, n + 1), _breakpoints_of(f), _breakpoints_of(g)])
    return np.unique(pts[(pts >= lo) & (pts <= hi)])


# --------------------------------------------------------------------------- functionals
def curvature_norm(f, weight, interval) -> float:
    """∫_interval |f''(u)|²/ζ(u) du, the curvature functional of Theorem 5 (eq. 17).

    Parameters
    ----------
    f : object with ``second_derivative(x)`` (or a scipy PPoly)
    weight : callable ζ(u) >= 0, or a positive number (constant weight)
        E.g. ``lambda u: relu1d.kernel.curvature_weight(u, "uniform")``. Where ζ = 0,
        f'' must vanish; otherwise the functional is infinite (returned as inf).
    interval : (low, high)
        May be infinite, e.g. ``(-np.inf, np.inf)``.

    Notes
    -----
    Adaptive Gauss–Kronrod (``scipy.integrate.quad``, tolerance 1e-11) on the pieces
    between the breakpoints f declares, so the integrand is smooth on each piece.

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import splines
    >>> f = splines.natural_cubic(relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]))
    >>> round(splines.curvature_norm(f, np.ones_like, (-1.0, 1.0)), 10)   # 2 ∫₀¹ (3u)² du
    6.0
    """
    d2 = _second_derivative_fn(f)
    lo, hi = _interval(interval, allow_inf=True)
    if callable(weight):
        zeta = weight
        zeta_points = np.asarray(getattr(weight, "breakpoints", ()), float)
    else:
        w = as_real(weight, "weight", positive=True)
        zeta, zeta_points = (lambda u: np.full(np.shape(u), w)), np.empty(0)
    infinite = []

    def integrand(u):
        value = float(np.asarray(d2(np.array([u])), float).ravel()[0])
        if value == 0.0:
            return 0.0
        z = float(np.asarray(zeta(np.array([u])), float).ravel()[0])
        if not z > 0:
            infinite.append(u)
            return 0.0
        return value * value / z

    points = np.concatenate([_breakpoints_of(f), zeta_points])
    total = _integrate(integrand, lo, hi, points)
    return float("inf") if infinite else total


def sup_distance(f, g, interval, n: int = 4096) -> float:
    """max over the interval of |f(x) − g(x)|.

    Sampled on n + 1 even nodes plus every breakpoint either function declares, then
    refined by bounded scalar maximisation on the cells next to the largest sample.
    Between declared breakpoints the error of the sampled maximum is at most
    h²/8·max|(f − g)''| (h = cell width) and the refinement removes it near the maximum;
    for undeclared kinks (a bare callable) the result is a lower bound within that error.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import splines
    >>> round(splines.sup_distance(np.sin, np.zeros_like, (0.0, np.pi)), 6)
    1.0
    """
    from scipy import optimize

    _check_callable(f, "f")
    _check_callable(g, "g")
    lo, hi = _interval(interval, allow_inf=False)
    n = as_int(n, "n", minimum=2)
    xs = _grid(f, g, lo, hi, n)
    gap = np.abs(np.asarray(f(xs), float) - np.asarray(g(xs), float))
    k = int(np.argmax(gap))
    best = float(gap[k])
    for a, b in ((xs[max(k - 1, 0)], xs[k]), (xs[k], xs[min(k + 1, xs.size - 1)])):
        if b > a:
            res = optimize.minimize_scalar(
                lambda x: -abs(float(np.asarray(f(np.array([x])), float)[0])
                               - float(np.asarray(g(np.array([x])), float)[0])),
                bounds=(a, b), method="bounded", options={"xatol": 1e-12 * max(1.0, hi - lo)})
            best = max(best, -float(res.fun))
    return best


def l2_distance(f, g, interval, n: int = 1024) -> float:
    """(∫_interval (f − g)² dx)^{1/2}.

    8-point Gauss–Legendre on each cell of n even cells refined at every breakpoint
    either function declares: exact up to rounding when f − g is a polynomial of degree
    <= 7 on each cell (e.g. cubic splines, networks, kernel interpolants on the uniform
    init's cubic region), O(h⁸·max|((f − g)²)⁽⁸⁾|) otherwise.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import splines
    >>> round(splines.l2_distance(np.sin, np.zeros_like, (0.0, np.pi)) ** 2, 4)   # π/2
    1.5708
    """
    _check_callable(f, "f")
    _check_callable(g, "g")
    lo, hi = _interval(interval, allow_inf=False)
    n = as_int(n, "n", minimum=1)
    edges = _grid(f, g, lo, hi, n)
    t, w = np.polynomial.legendre.leggauss(8)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    nodes = (mid[:, None] + half[:, None] * t).ravel()
    weights = (half[:, None] * w).ravel()
    diff = np.asarray(f(nodes), float) - np.asarray(g(nodes), float)
    return float(np.sqrt(np.sum(weights * diff * diff)))
