r"""The kernel regime at infinite width (Williams et al. 2019, §3.3, Theorem 5, App. A.3).

When only the output layer c trains (δ → −∞), a width-m network
f(x) = (1/α) Σᵢ cᵢ [aᵢx − bᵢ]₊ is a random-feature model, and as m → ∞ with α = √m it
becomes kernel regression with the random-feature kernel (eq. 16)

    K(x, x') = E_{(a,b)~μ₀} [(ax − b)₊ (ax' − b)₊].

This module gives K exactly for the uniform and Gaussian initialisations and by
deterministic quadrature for any density, the tangent kernel when a, b and c all train,
the minimum-norm interpolant (the m → ∞ limit of eq. 15), the exact function-space
gradient flow at finite times, the curvature weight ζ of Theorem 5, and the full RKHS
norm. The derivation below is what the code implements; the tests check every step of
it numerically.

Initialisations
---------------
``"uniform"`` = :class:`Uniform` (A = B = 1): a ~ U(−A, A), b ~ U(−B, B) independent
(``init_network(scheme="uniform", ab_scale=s)`` is A = B = s). ``"gaussian"`` =
:class:`Gaussian` (σ = 1): (a, b) ~ N(0, σ²I). :class:`Density` (or a bare callable
p(a, b)) is any density with bounded support box.

1. The knot representation of the kernel
----------------------------------------
Write b = a·u (u is the neuron's knot). For a > 0, (ax − b)₊ = a (x − u)₊; for a < 0,
(ax − b)₊ = |a| (u − x)₊; and db = |a| du. Hence

    K(x, x') = ∫ ζ₊(u) (x − u)₊ (x' − u)₊ du + ∫ ζ₋(u) (u − x)₊ (u − x')₊ du,      (K1)
    ζ₊(u) = ∫_{a>0} |a|³ p(a, a u) da,   ζ₋(u) = ∫_{a<0} |a|³ p(a, a u) da,

and ζ = ζ₊ + ζ₋ = ∫ |a|³ p(a, a·u) da is the weight of Theorem 5. (The paper prints
ν(u) = ∫ |a| μ_a(a u) q(a) da; the power must be 3: two powers from the product of two
features, one from db = |a| du. Jin & Montúfar, JMLR 2023, note the same.) For a density
symmetric under (a, b) → (−a, −b), ζ₊ = ζ₋ = ζ/2.

Uniform, by direct integration of a³ over 0 < a < min(A, B/|u|):

    ζ(u) = min(A, B/|u|)⁴ / (8AB)   = A³/(8B) for |u| <= B/A,  B³/(8A u⁴) outside;

A = B = 1 gives ⅛·min(1, u⁻⁴). Gaussian, from ∫₀^∞ a³ e^{−c a²} da = 1/(2c²):

    ζ(u) = 2σ² / (π (1 + u²)²)        (σ = 1: 2/(π(1 + u²)²)).

Closed forms of K. Uniform: with J(x, x') = ∫_{−∞}^{min(x,x')} ζ(u)(x − u)(x' − u) du,
(K1) is K = ½[J(x, x') + J(−x, −x')]; the integrand is a quadratic times a constant on
|u| <= T = B/A and a quadratic times u⁻⁴ outside, whose antiderivatives
xx'u − (x + x')u²/2 + u³/3 and −xx'/(3u³) + (x + x')/(2u²) − 1/u give J exactly.
Gaussian: the degree-1 arc-cosine kernel with x̃ = (x, 1),

    K = σ² ‖x̃‖‖x̃'‖ (sin φ + (π − φ) cos φ)/(2π) = σ² (|x − x'| + (π − φ)(1 + xx'))/(2π),

φ = atan2(|x − x'|, 1 + xx') the angle between x̃ and x̃' (‖x̃‖‖x̃'‖ sin φ = |x − x'|).

2. Interpolants, and Theorem 5
------------------------------
Differentiating (K1) twice in x (d²/dx² (x − u)₊ = δ(x − u)):

    ∂²ₓ K(xⱼ, x) = ζ₊(x)(xⱼ − x)₊ + ζ₋(x)(x − xⱼ)₊,

so f = Σⱼ αⱼ K(xⱼ, ·) has, for symmetric μ₀, f''(x)/ζ(x) = ½ Σⱼ αⱼ |x − xⱼ|: piecewise
linear in x with kinks only at the data. Uniform: ζ is constant on [−B/A, B/A], so there
f is a C² cubic spline with knots at the data and f''' jumps ζ·αⱼ at xⱼ; outside
[−B/A, B/A] it is not cubic. Gaussian: (1 + u²)² f''(u) is affine between data points.
Outside the data hull f''/ζ = ½(Σαⱼ)x − ½Σαⱼxⱼ (right) is generally not zero.

3. The RKHS norm, including the affine part
-------------------------------------------
Infinite width with c-only features: f(x) = E[c(a, b)(ax − b)₊] with norm
‖f‖² = min E[c²] over all c representing f. Substituting b = a u,

    f(x) = ∫ (x − u)₊ G₊(u) du + ∫ (u − x)₊ G₋(u) du,   G± (u) = ∫_{±a>0} c(a, au) a² p(a, au) da,

and for fixed G± the cheapest c is proportional to |a| (Cauchy–Schwarz), costing
E[c²] = ∫ G₊²/ζ₊ + G₋²/ζ₋ du. Now f'' = G₊ + G₋ =: g fixes the sum only. Write
G± = g ζ±/ζ ± η; then

    cost = ∫ g²/ζ du + ∫ η² ζ/(ζ₊ζ₋) du,
    f(x) = ∫ k(x, u) g(u) du + ℓ(x),   k(x, u) = [ζ₊(u)(x − u)₊ + ζ₋(u)(u − x)₊]/ζ(u),
    ℓ(x) = ∫ (x − u) η(u) du  (an affine function: ℓ' = ∫η, ℓ(0) = −∫uη).

So f determines g = f'' and the affine function ℓ = f − ∫k(·, u) f''(u) du; η is free
except for its two moments. Minimising ∫η² ζ/(ζ₊ζ₋) under them (Lagrange:
η = (β₀ + β₁u) ν, ν = ζ₊ζ₋/ζ) gives the full norm

    ‖f‖²_H = ∫ |f''(u)|²/ζ(u) du  +  vᵀ N⁻¹ v,      v = (ℓ', −ℓ(0)),
    N = [[∫ν, ∫uν], [∫uν, ∫u²ν]].                                              (N)

The first term is the paper's eq. (17) with the corrected weight; the second is the
charge on the affine part that Theorem 5 leaves out. For symmetric μ₀, ν = ζ/4 and
∫u^k ζ du = E[a^{2−k} b^k] (from |a|³ da du = a² da db), so N = ¼ [[E a², E ab],
[E ab, E b²]], k = ½|x − u|, ℓ' = ½(f'(+∞) + f'(−∞)) (the mean asymptotic slope) and
ℓ(0) = f(0) − ½∫|u| f''(u) du (the mean asymptotic intercept); with E ab = 0

    ‖f‖²_H = ∫ |f''|²/ζ  +  4 (ℓ'² / E[a²] + ℓ(0)² / E[b²]).

Uniform: E a² = A²/3, E b² = B²/3; Gaussian: E a² = E b² = σ². Because this charge is
finite, the minimum-norm interpolant is not the natural cubic spline (for which the
curvature term alone is minimal and f'' = 0 outside the hull): it trades a little
curvature outside the data for a cheaper affine part. For f = Σⱼ αⱼ K(xⱼ, ·) the
representation G₊ = ζ₊ Σαⱼ(xⱼ − u)₊, G₋ = ζ₋ Σαⱼ(u − xⱼ)₊ is optimal and
‖f‖²_H = αᵀKα, which :func:`rkhs_norm` reproduces by quadrature (tests).

4. Time scales of the flows
---------------------------
c-only gradient flow ċ = −∇_c L, L = ½ Σⱼ (f(xⱼ) − yⱼ)², f = (1/α) Φc (Φⱼᵢ = (aᵢxⱼ − bᵢ)₊):
ḟ(X) = −(ΦΦᵀ/α²)(f(X) − y) = −(m/α²) K_m (f(X) − y) with K_m = ΦΦᵀ/m → K (law of
large numbers, error O(m^{−1/2})). Hence with α = √m the width-m flow at time t tends to
the kernel flow at the same t; with another α, at kernel time τ = (m/α²)·t. From f = 0
(c = 0): f_τ(x) = K(x, X) K⁻¹ (I − e^{−Kτ}) y (:func:`flow`), and τ → ∞ gives the
interpolant (:func:`interpolant`), the limit of the min-‖c‖ solution of eq. (15).

5. The tangent kernel
---------------------
With a, b and c all training, Θ_m(x, x') = Σ_θ ∂_θ f(x) ∂_θ f(x') =
(1/α²) Σᵢ [φᵢ(x)φᵢ(x') + cᵢ²(1 + xx') 1[aᵢx > bᵢ] 1[aᵢx' > bᵢ]]. For i.i.d. neurons with
c independent of (a, b) and E[c²] = κ:

    E Θ_m = (m/α²) [K(x, x') + κ (1 + xx') K₀(x, x')],   K₀ = P(ax > b, ax' > b),

exactly for every m. With α = √m the factor is 1 and the bracket is the m → ∞ limit.
The defaults κ = 1/3 (uniform) and κ = 1 (Gaussian) are the NTK parameterisation,
c = O(1): c ~ U(−1, 1) or N(0, 1), i.e. ``init_network(m, scheme, c_scale=√m)``.
``init_network``'s own c ~ U(±1/√m) or N(0, 1/m) has κ = 1/(3m) or 1/m: the c-part is
O(1/m) and Θ_m → K (only the output layer counts); pass ``c_variance`` for it. K₀ is
the degree-0 arc-cosine kernel (π − φ)/(2π) for the Gaussian; for the uniform, with
g(z) = ∫₀^A clip(az, −B, B) da, K₀ = (2AB + g(min(x,x')) + g(−max(x,x')))/(4AB).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, cast

import numpy as np

from ._common import _breakpoints_of, _check_data, _integrate, _resolve_alpha, _second_derivative_fn
from ._validation import _short, as_choice, as_float_array, as_int, as_real
from .data import Dataset
from .splines import curvature_norm

__all__ = ["Uniform", "Gaussian", "Density", "rf_kernel", "ntk", "curvature_weight",
           "interpolant", "flow", "rkhs_norm", "KernelInterpolant", "KernelFlow", "NormParts"]

_KERNELS = ("rf", "ntk")


# --------------------------------------------------------------------------- inits
@dataclass(frozen=True)
class Uniform:
    """a ~ U(−A, A), b ~ U(−B, B) independent (``init_network``'s "uniform" at A = B = 1).

    ``c_variance`` is E[c²] of the output layer, used only by :func:`ntk`: 1/3 for
    c ~ U(−1, 1), the NTK parameterisation (``init_network``'s default c ~ U(±1/√m) has
    1/(3m); module docstring, §5).

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import kernel
    >>> init = kernel.Uniform(A=1.0, B=1.0)
    >>> x = np.array([0.0])
    >>> float(kernel.rf_kernel(x, x, init=init)[0, 0])       # E[(−b)₊²] = E[b²]/2 = 1/6
    0.1666...
    """

    A: float = 1.0
    B: float = 1.0
    c_variance: float = 1.0 / 3.0

    def __post_init__(self):
        for name in ("A", "B"):
            object.__setattr__(self, name, as_real(getattr(self, name), name, positive=True))
        object.__setattr__(
            self, "c_variance", as_real(self.c_variance, "c_variance", nonnegative=True)
        )

    symmetric = True

    @property
    def second_moments(self) -> tuple[float, float, float]:
        """(E a², E ab, E b²)."""
        return self.A ** 2 / 3, 0.0, self.B ** 2 / 3

    @property
    def breakpoints(self) -> tuple[float, ...]:
        """Where ζ is not smooth: ±B/A."""
        return (-self.B / self.A, self.B / self.A)

    def zeta(self, u: np.ndarray) -> np.ndarray:
        A, B = self.A, self.B
        with np.errstate(divide="ignore"):
            reach = np.minimum(A, B / np.abs(u))
        return reach ** 4 / (8 * A * B)

    def _half(self, x, xp):
        """J(x, x') = ∫_{−∞}^{min(x,x')} ζ(u)(x − u)(x' − u) du, exactly."""
        A, B = self.A, self.B
        T = B / A
        c_in, c_out = A ** 3 / (8 * B), B ** 3 / (8 * A)
        lo = np.minimum(x, xp)
        s, p = x + xp, x * xp

        def poly(u):
            return p * u - s * u ** 2 / 2 + u ** 3 / 3

        def inv(u):  # antiderivative of (x − u)(x' − u)/u⁴, zero at u = ±∞
            return -p / (3 * u ** 3) + s / (2 * u ** 2) - 1 / u

        left = inv(np.minimum(lo, -T))
        middle = poly(np.clip(lo, -T, T)) - poly(-T)
        right = inv(np.maximum(lo, T)) - inv(T)
        return c_out * left + c_in * middle + c_out * right

    def _k1(self, x, xp):
        return 0.5 * (self._half(x, xp) + self._half(-x, -xp))

    def _k0(self, x, xp):
        A, B = self.A, self.B

        def g(z):  # ∫₀^A clip(a z, −B, B) da
            az = np.abs(z)
            with np.errstate(divide="ignore", invalid="ignore"):
                outer = np.sign(z) * (A * B - B ** 2 / (2 * az))
            return np.where(az * A <= B, A ** 2 * z / 2, outer)

        return (2 * A * B + g(np.minimum(x, xp)) + g(-np.maximum(x, xp))) / (4 * A * B)


@dataclass(frozen=True)
class Gaussian:
    """(a, b) ~ N(0, σ²I) (``init_network``'s "gaussian" at σ = 1).

    ``c_variance`` = E[c²], used only by :func:`ntk`: 1 for c ~ N(0, 1), the NTK
    parameterisation (``init_network``'s default c ~ N(0, 1/m) has 1/m; module docstring, §5).

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import kernel
    >>> x = np.array([1.0])                                    # a − b ~ N(0, 2): E[(a − b)₊²] = 1
    >>> round(float(kernel.rf_kernel(x, x, init=kernel.Gaussian(sigma=1.0))[0, 0]), 6)
    1.0
    """

    sigma: float = 1.0
    c_variance: float = 1.0

    def __post_init__(self):
        object.__setattr__(self, "sigma", as_real(self.sigma, "sigma", positive=True))
        object.__setattr__(
            self, "c_variance", as_real(self.c_variance, "c_variance", nonnegative=True)
        )

    symmetric = True
    breakpoints = ()

    @property
    def second_moments(self) -> tuple[float, float, float]:
        return self.sigma ** 2, 0.0, self.sigma ** 2

    def zeta(self, u: np.ndarray) -> np.ndarray:
        return 2 * self.sigma ** 2 / (np.pi * (1 + u ** 2) ** 2)

    @staticmethod
    def _angle(x, xp):
        return np.arctan2(np.abs(x - xp), 1 + x * xp)

    def _k1(self, x, xp):
        phi = self._angle(x, xp)
        return self.sigma ** 2 * (np.abs(x - xp) + (np.pi - phi) * (1 + x * xp)) / (2 * np.pi)

    def _k0(self, x, xp):
        return (np.pi - self._angle(x, xp)) / (2 * np.pi)


@dataclass(frozen=True, eq=False)
class Density:
    """Any density p(a, b) of the first layer, integrated by deterministic quadrature.

    Parameters
    ----------
    p : callable
        Vectorised p(a, b) >= 0 (numpy arrays in, array out), integrating to 1.
    bounds : ((a_lo, a_hi), (b_lo, b_hi))
        A box containing the support (mass outside it is ignored), with a_lo < 0 < a_hi.
    nodes : int
        Gauss–Legendre nodes per direction and sub-interval for the kernels. The rule is
        split at every kink of the integrand (b = a·min(x, x'), the box edges), so it
        is exact for piecewise-polynomial densities whose pieces are the box and
        converges spectrally for smooth ones (1e-12 for a standard normal on the default
        box). ζ± use the same rule in a, split where a·u crosses the box's b-edges.
    c_variance : float, optional
        E[c²] of the output layer; needed only by :func:`ntk`.
    symmetric : bool
        Declare p(a, b) = p(−a, −b) (then ζ₊ = ζ₋ = ζ/2); otherwise ζ± are integrated
        separately.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import kernel
    >>> normal = kernel.Density(lambda a, b: np.exp(-(a**2 + b**2) / 2) / (2 * np.pi))
    >>> x = np.array([-1.0, 0.0, 1.0])
    >>> bool(np.allclose(kernel.rf_kernel(x, x, init=normal),
    ...                  kernel.rf_kernel(x, x, init=kernel.Gaussian()), atol=1e-6))
    True
    """

    p: Callable
    bounds: tuple = ((-8.0, 8.0), (-8.0, 8.0))
    nodes: int = 48
    c_variance: float | None = None
    symmetric: bool = False
    _moments: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        if not callable(self.p):
            raise TypeError(f"p must be a callable density p(a, b), got {_short(self.p)}")
        try:
            (a_lo, a_hi), (b_lo, b_hi) = self.bounds
        except (TypeError, ValueError):
            raise ValueError(
                f"bounds must be ((a_lo, a_hi), (b_lo, b_hi)), got {_short(self.bounds)}"
            ) from None
        a_lo, a_hi, b_lo, b_hi = (as_real(v, "bounds entry") for v in (a_lo, a_hi, b_lo, b_hi))
        if not (a_lo < 0 < a_hi and b_lo < b_hi):
            raise ValueError(
                f"bounds must satisfy a_lo < 0 < a_hi and b_lo < b_hi, got {self.bounds}"
            )
        object.__setattr__(self, "bounds", ((a_lo, a_hi), (b_lo, b_hi)))
        object.__setattr__(self, "nodes", as_int(self.nodes, "nodes", minimum=2))
        if self.c_variance is not None:
            object.__setattr__(
                self, "c_variance", as_real(self.c_variance, "c_variance", nonnegative=True)
            )
        if not isinstance(self.symmetric, bool):
            raise TypeError(f"symmetric must be a bool, got {_short(self.symmetric)}")

    breakpoints = ()

    def zeta_pm(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ζ±(u) = ∫_{±a>0} |a|³ p(a, a·u) da by Gauss–Legendre split where a·u crosses
        the box's b-edges (so the rule sees a smooth integrand on each piece)."""
        (a_lo, a_hi), (b_lo, b_hi) = self.bounds
        u = np.asarray(u, dtype=float)
        flat = u.ravel()
        t, w = _leggauss(self.nodes)
        out = []
        for lo, hi in ((0.0, a_hi), (a_lo, 0.0)):
            with np.errstate(divide="ignore", invalid="ignore"):
                kinks = np.stack([b_lo / flat, b_hi / flat], axis=1)
            kinks = np.clip(np.where(np.isfinite(kinks), kinks, lo), lo, hi)
            edges = np.sort(np.concatenate([np.full((flat.size, 1), lo), kinks,
                                            np.full((flat.size, 1), hi)], axis=1), axis=1)
            half = (edges[:, 1:] - edges[:, :-1]) / 2
            a = (edges[:, 1:] + edges[:, :-1])[..., None] / 2 + half[..., None] * t
            vals = np.abs(a) ** 3 * self.p(a, a * flat[:, None, None])
            out.append(np.einsum("nk,nkq,q->n", half, vals, w).reshape(u.shape))
        return out[0], out[1]

    def zeta(self, u: np.ndarray) -> np.ndarray:
        plus, minus = self.zeta_pm(u)
        return plus + minus

    @property
    def second_moments(self) -> tuple[float, float, float]:
        if "second" not in self._moments:
            (a_lo, a_hi), (b_lo, b_hi) = self.bounds
            a, wa = _gauss_legendre(np.array([[a_lo, 0.0], [0.0, a_hi]]), 4 * self.nodes)
            b, wb = _gauss_legendre(np.array([[b_lo, b_hi]]), 4 * self.nodes)
            A, Bm = np.meshgrid(a.ravel(), b.ravel(), indexing="ij")
            W = np.outer(wa.ravel(), wb.ravel()) * self.p(A, Bm)
            self._moments["second"] = tuple(float(np.sum(W * v)) for v in (A * A, A * Bm, Bm * Bm))
        return self._moments["second"]

    def _pair_integral(self, x, xp, features: bool):
        """Σ over a>0 and a<0 of ∫∫ [(ax−b)(ax'−b) or 1] p db da on {b < a·x, b < a·x'}."""
        (a_lo, a_hi), (b_lo, b_hi) = self.bounds
        x, xp = np.broadcast_arrays(np.asarray(x, float), np.asarray(xp, float))
        shape = x.shape
        x, xp = x.ravel(), xp.ravel()
        out = np.zeros(x.size)
        gl_t, gl_w = _leggauss(self.nodes)
        for start in range(0, x.size, 512):
            sl = slice(start, start + 512)
            xs, xps = x[sl], xp[sl]
            for side, (lo, hi) in ((1, (0.0, a_hi)), (-1, (a_lo, 0.0))):
                # active set {b < a·z} with z = min (a > 0) or max (a < 0) of x, x'
                z = np.minimum(xs, xps) if side > 0 else np.maximum(xs, xps)
                with np.errstate(divide="ignore", invalid="ignore"):
                    kinks = np.stack([b_lo / z, b_hi / z], axis=1)
                kinks = np.where(np.isfinite(kinks), kinks, lo)
                edges = np.sort(np.concatenate([np.full((z.size, 1), lo), np.clip(kinks, lo, hi),
                                                np.full((z.size, 1), hi)], axis=1), axis=1)
                a_left, a_right = edges[:, :-1], edges[:, 1:]  # (n, 3)
                half = (a_right - a_left) / 2
                a = (a_left + a_right)[..., None] / 2 + half[..., None] * gl_t  # (n, 3, q)
                wa = half[..., None] * gl_w
                top = np.clip(a * z[:, None, None], b_lo, b_hi)
                bh = (top - b_lo) / 2
                b = (top + b_lo)[..., None] / 2 + bh[..., None] * gl_t  # (n, 3, q, q)
                wb = bh[..., None] * gl_w
                aa = a[..., None]
                dens = self.p(np.broadcast_to(aa, b.shape), b)
                if features:
                    dens = (
                        dens
                        * (aa * xs[:, None, None, None] - b)
                        * (aa * xps[:, None, None, None] - b)
                    )
                out[sl] += np.einsum("nkq,nkqr,nkqr->n", wa, wb, dens)
        return out.reshape(shape)

    def _k1(self, x, xp):
        return self._pair_integral(x, xp, True)

    def _k0(self, x, xp):
        return self._pair_integral(x, xp, False)


@functools.lru_cache(maxsize=16)
def _leggauss(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss–Legendre nodes and weights on [−1, 1] (cached: computing them costs more than
    using them)."""
    return np.polynomial.legendre.leggauss(n)


def _gauss_legendre(intervals: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights, shape (len(intervals), n), of n-point rules on each interval."""
    t, w = _leggauss(n)
    lo, hi = intervals[:, :1], intervals[:, 1:]
    return (lo + hi) / 2 + (hi - lo) / 2 * t, (hi - lo) / 2 * w


def _resolve_init(init):
    if isinstance(init, (Uniform, Gaussian, Density)):
        return init
    if isinstance(init, str):
        if init not in ("uniform", "gaussian"):
            raise ValueError(
                "init must be 'uniform', 'gaussian', a kernel.Uniform(A, B), "
                "kernel.Gaussian(sigma) or kernel.Density(p) instance, or a callable density "
                f"p(a, b); got {init!r}"
            )
        return Uniform() if init == "uniform" else Gaussian()
    if callable(init):
        return Density(init)
    raise TypeError(f"init must be 'uniform', 'gaussian', a Uniform/Gaussian/Density instance or a "
                    f"callable density p(a, b); got {_short(init)}")


def _zeta_pm(init, u):
    if init.symmetric:
        half = init.zeta(u) / 2
        return half, half
    return init.zeta_pm(u)


def _outer(x, xp, name_x="x", name_xp="xp"):
    x_arr = as_float_array(x, name_x, ndim=None)
    xp_arr = as_float_array(xp, name_xp, ndim=None)
    if x_arr.ndim > 1 or xp_arr.ndim > 1:
        raise ValueError(f"{name_x} and {name_xp} must be scalars or 1-D arrays; got shapes "
                         f"{x_arr.shape} and {xp_arr.shape}")
    return x_arr, xp_arr, x_arr.reshape(-1, 1), xp_arr.reshape(1, -1)


def _shape_out(values, x_arr, xp_arr):
    return values.reshape(x_arr.shape + xp_arr.shape)


# --------------------------------------------------------------------------- kernels
def rf_kernel(x, xp, init="uniform") -> np.ndarray:
    """The random-feature kernel K(x, x') = E[(ax − b)₊(ax' − b)₊] (eq. 16).

    Parameters
    ----------
    x, xp : float or 1-D array_like
    init : "uniform", "gaussian", Uniform, Gaussian, Density or callable p(a, b)
        Distribution of (a, b); closed forms for the first two (module docstring, §1),
        quadrature for a density.

    Returns
    -------
    ndarray, shape x.shape + xp.shape

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import kernel
    >>> x = np.array([-1.0, 0.0, 1.0])
    >>> kernel.rf_kernel(x, x).round(4)
    array([[0.3333, 0.1771, 0.0833],
           [0.1771, 0.1667, 0.1771],
           [0.0833, 0.1771, 0.3333]])
    """
    init = _resolve_init(init)
    x_arr, xp_arr, X, XP = _outer(x, xp)
    X, XP = np.broadcast_arrays(X, XP)
    return _shape_out(init._k1(X, XP), x_arr, xp_arr)


def ntk(x, xp, init="uniform", alpha="sqrt", m=None, c_variance=None) -> np.ndarray:
    """Expected tangent kernel of a width-m network when a, b and c all train.

    E Θ_m(x, x') = (m/α²)·[K(x, x') + κ(1 + xx')K₀(x, x')], exactly for every m
    (module docstring, §5), where κ = E[c²] and K₀(x, x') = P(ax > b, ax' > b). With
    ``alpha="sqrt"`` the prefactor is 1 and this is the m → ∞ limit of Θ_m.

    Parameters
    ----------
    x, xp : float or 1-D array_like
    init : as in :func:`rf_kernel`
    alpha : {"sqrt", "one", "m"} or float
        α(m). Anything but "sqrt" needs ``m``.
    m : int, optional
        Width, for the prefactor m/α².
    c_variance : float, optional
        κ = E[c²]; default the init's (1/3 uniform, 1 Gaussian: c = O(1), the NTK
        parameterisation; ``init_network``'s default output layer has 1/(3m), 1/m).

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import kernel
    >>> x = np.array([-1.0, 0.0, 1.0])
    >>> kernel.ntk(x, x).round(4)
    array([[0.6667, 0.3021, 0.0833],
           [0.3021, 0.3333, 0.3021],
           [0.0833, 0.3021, 0.6667]])
    """
    init = _resolve_init(init)
    if c_variance is None:
        c_variance = getattr(init, "c_variance", None)
        if c_variance is None:
            raise ValueError(
                "ntk needs c_variance = E[c²] for a Density without one; pass c_variance="
            )
    kappa = as_real(c_variance, "c_variance", nonnegative=True)
    if isinstance(alpha, str) and alpha == "sqrt":
        factor = 1.0
    else:
        if m is None:
            raise ValueError(f"ntk with alpha={alpha!r} needs the width m (the prefactor is m/α²)")
        m = as_int(m, "m", minimum=1)
        factor = m / _resolve_alpha(alpha, m) ** 2
    x_arr, xp_arr, X, XP = _outer(x, xp)
    X, XP = np.broadcast_arrays(X, XP)
    theta = init._k1(X, XP) + kappa * (1 + X * XP) * init._k0(X, XP)
    return _shape_out(factor * theta, x_arr, xp_arr)


def curvature_weight(u, init="uniform") -> np.ndarray:
    """ζ(u) = ∫ |a|³ p(a, a·u) da, the weight of Theorem 5 (corrected from the printed ν).

    Uniform: min(A, B/|u|)⁴/(8AB) (⅛·min(1, u⁻⁴) at A = B = 1). Gaussian:
    2σ²/(π(1 + u²)²). A density: adaptive quadrature. Derivation in the module docstring.

    Examples
    --------
    >>> import numpy as np
    >>> from relu1d import kernel
    >>> # ζ(u) = ∫_{|a| ≤ min(1, 1/|u|)} |a|³/4 da
    >>> kernel.curvature_weight(np.array([0.0, 0.5, 2.0])).round(4)
    array([0.125 , 0.125 , 0.0078])
    """
    init = _resolve_init(init)
    u_arr = as_float_array(u, "u", ndim=None)
    return init.zeta(u_arr)


def _kernel_fn(init, kernel: str):
    if kernel == "rf":
        return lambda x, xp: rf_kernel(x, xp, init)
    return lambda x, xp: ntk(x, xp, init)


@dataclass(frozen=True, eq=False)
class KernelInterpolant:
    """f(x) = Σⱼ αⱼ K(xⱼ, x): what :func:`interpolant` returns.

    Attributes
    ----------
    data : Dataset
    init : Uniform, Gaussian or Density
    kernel : {"rf", "ntk"}
    ridge : float
    coefficients : ndarray, shape (s,)
        α = (K + ridge·I)⁻¹ y.
    gram : ndarray, shape (s, s)
        K(X, X).

    Examples
    --------
    >>> import numpy as np
    >>> import relu1d
    >>> from relu1d import kernel
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> f = kernel.interpolant(data, ridge=1e-3)
    >>> f.gram.shape, f.ridge
    ((3, 3), 0.001)
    >>> x = np.array([0.5])                              # f(x) = Σⱼ αⱼ K(xⱼ, x)
    >>> bool(np.allclose(f(x), kernel.rf_kernel(x, data.x) @ f.coefficients))
    True
    """

    data: Dataset
    init: object
    kernel: str
    ridge: float
    coefficients: np.ndarray
    gram: np.ndarray

    def __call__(self, x) -> np.ndarray:
        x_arr = as_float_array(x, "x", ndim=None)
        return _kernel_fn(self.init, self.kernel)(x_arr, self.data.x) @ self.coefficients

    @property
    def breakpoints(self) -> np.ndarray:
        """Where f is not smooth: the data and the kinks of ζ (±B/A for the uniform)."""
        init_breaks = np.asarray(cast(Any, self.init).breakpoints, float)
        return np.unique(np.concatenate([self.data.x, init_breaks]))

    @property
    def norm_squared(self) -> float:
        """αᵀKα, the squared RKHS norm (ridge = 0: the interpolant's)."""
        return float(self.coefficients @ self.gram @ self.coefficients)

    def second_derivative(self, x) -> np.ndarray:
        """f''(x) = Σⱼ αⱼ [ζ₊(x)(xⱼ − x)₊ + ζ₋(x)(x − xⱼ)₊] (module docstring, §2); rf only."""
        if self.kernel != "rf":
            raise ValueError("second_derivative is implemented for kernel='rf' only")
        x_arr = as_float_array(x, "x", ndim=None)
        plus, minus = _zeta_pm(self.init, x_arr)
        diff = self.data.x - x_arr[..., None]
        return (plus * (np.maximum(diff, 0) @ self.coefficients)
                + minus * (np.maximum(-diff, 0) @ self.coefficients))

    def third_derivative_jumps(self) -> np.ndarray:
        """f'''(xⱼ⁺) − f'''(xⱼ⁻) = ζ(xⱼ)·αⱼ for symmetric μ₀ (rf kernel)."""
        if self.kernel != "rf":
            raise ValueError("third_derivative_jumps is implemented for kernel='rf' only")
        plus, minus = _zeta_pm(self.init, self.data.x)
        return (plus + minus) * self.coefficients


def interpolant(data, init="uniform", kernel="rf", ridge=0.0) -> KernelInterpolant:
    """The minimum-RKHS-norm interpolant Σⱼ αⱼ K(xⱼ, ·) (eq. 15 at m → ∞; Theorem 5).

    Parameters
    ----------
    data : Dataset
    init : as in :func:`rf_kernel`
    kernel : {"rf", "ntk"}
        "rf": c-only training (the paper's kernel regime); "ntk": all layers, α = √m,
        the init's default ``c_variance`` (see :func:`ntk`).
    ridge : float >= 0
        α = (K + ridge·I)⁻¹ y: kernel ridge regression for noisy data.

    Returns
    -------
    KernelInterpolant
        Callable; ``coefficients``, ``data``, ``second_derivative`` and ``norm_squared``.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import kernel
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> f = kernel.interpolant(data)
    >>> f(data.x).round(10) + 0.0
    array([0., 1., 0.])
    >>> f.coefficients.round(4)
    array([-26.3226,  61.9355, -26.3226])
    """
    data = _check_data(data)
    init = _resolve_init(init)
    as_choice(kernel, "kernel", _KERNELS)
    ridge = as_real(ridge, "ridge", nonnegative=True)
    gram = _kernel_fn(init, kernel)(data.x, data.x)
    from scipy import linalg

    try:
        coef = linalg.solve(gram + ridge * np.eye(data.s), data.y, assume_a="pos")
    except (linalg.LinAlgError, ValueError) as exc:
        raise ValueError(
            f"the kernel matrix is singular on these data ({exc}); pass ridge > 0"
        ) from None
    return KernelInterpolant(data, init, kernel, ridge, coef, gram)


@dataclass(frozen=True, eq=False)
class KernelFlow:
    """f_τ(x) = K(x, X) K⁻¹ (I − e^{−Kτ}) y at the given times τ (what :func:`flow` returns).

    ``coefficients[k]`` are the αⱼ at ``times[k]``; ``f(x)`` has shape (len(times),) + x.shape.

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import kernel
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> path = kernel.flow(data, times=[0.0, 10.0, 1e6])
    >>> path.coefficients.shape                          # one row of αⱼ per time
    (3, 3)
    >>> path.at(2)(data.x).round(6) + 0.0                # τ → ∞: the interpolant
    array([0., 1., 0.])
    """

    data: Dataset
    init: object
    kernel: str
    times: np.ndarray
    coefficients: np.ndarray

    def __call__(self, x) -> np.ndarray:
        x_arr = as_float_array(x, "x", ndim=None)
        K = _kernel_fn(self.init, self.kernel)(x_arr, self.data.x)
        return np.moveaxis(K @ self.coefficients.T, -1, 0)

    def at(self, k: int) -> KernelInterpolant:
        """The function at ``times[k]`` as a :class:`KernelInterpolant` (ridge recorded as nan)."""
        gram = _kernel_fn(self.init, self.kernel)(self.data.x, self.data.x)
        return KernelInterpolant(self.data, self.init, self.kernel, float("nan"),
                                 self.coefficients[int(k)], gram)


def flow(data, times, init="uniform", kernel="rf") -> KernelFlow:
    """Exact function-space gradient flow of L = ½ Σⱼ (f(xⱼ) − yⱼ)² in the kernel regime,
    from f = 0.

    ḟ = −K(·, X)(f(X) − y) gives f_τ = K(·, X) K⁻¹(I − e^{−Kτ}) y, computed from the
    eigendecomposition of K as Σ_k v_k (1 − e^{−λ_k τ})/λ_k v_kᵀ y (→ τ where λ_k = 0,
    so a singular K is fine). τ = ∞ is the interpolant. Time scale: a width-m network
    trained in c alone from c = 0 with output scale α is at kernel time τ = (m/α²)·t
    (τ = t for α = √m; module docstring, §4). Small τ is early stopping: a smoothed,
    non-interpolating fit.

    Parameters
    ----------
    data : Dataset
    times : float or 1-D array_like of τ >= 0 (inf allowed)
    init : as in :func:`rf_kernel`
    kernel : {"rf", "ntk"}
        "ntk": the linearised (lazy) flow of all layers with α = √m and the init's default
        ``c_variance`` (see :func:`ntk`), started from f = 0 (a network whose initial output
        is zero, e.g. a symmetrised one).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import kernel
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> path = kernel.flow(data, times=[0.0, 1.0, 100.0])
    >>> path(data.x).round(4)                                  # one row per time
    array([[0.    , 0.    , 0.    ],
           [0.134 , 0.1289, 0.134 ],
           [0.0975, 0.7771, 0.0975]])
    >>> path.at(1).coefficients.round(4)
    array([-0.0735,  0.9298, -0.0735])
    """
    data = _check_data(data)
    init = _resolve_init(init)
    as_choice(kernel, "kernel", _KERNELS)
    t = as_float_array(times, "times", finite=False)
    if np.any(np.isnan(t)) or np.any(t < 0):
        raise ValueError(f"times must be >= 0 (inf allowed), got {_short(t.tolist())}")
    gram = _kernel_fn(init, kernel)(data.x, data.x)
    return KernelFlow(data, init, kernel, t, _flow_coefficients(gram, data.y, t))


def _flow_coefficients(gram: np.ndarray, y: np.ndarray, times: np.ndarray) -> np.ndarray:
    """β(τ) = G⁻¹(I − e^{−Gτ}) y for each τ (rows), via G's eigendecomposition; the
    solution of ḟ = −G(f − y) from f = 0 is f(X) = G β(τ)."""
    lam, vec = np.linalg.eigh(gram)
    # round-off can make a PSD matrix's smallest eigenvalue slightly negative
    lam = np.maximum(lam, 0.0)
    proj = vec.T @ y
    lam_row, t_col = lam[None, :], times[:, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        gain = np.where(
            lam_row > 0, -np.expm1(-lam_row * t_col) / np.where(lam_row > 0, lam_row, 1.0), t_col
        )
    return (gain * proj) @ vec.T


# --------------------------------------------------------------------------- RKHS norm
class NormParts(NamedTuple):
    """Squared RKHS norm ‖f‖²_H = curvature + affine (module docstring, §3).

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import kernel
    >>> f = kernel.interpolant(relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0]))
    >>> parts = kernel.rkhs_norm(f)
    >>> round(parts.curvature + parts.affine - parts.total, 9)
    0.0
    """

    curvature: float
    affine: float
    total: float


def rkhs_norm(f, init="uniform") -> NormParts:
    """Full squared RKHS norm of f for the c-only random-feature kernel of ``init``.

    ‖f‖²_H = ∫_ℝ |f''|²/ζ du + vᵀN⁻¹v, v = (ℓ', −ℓ(0)), ℓ = f − ∫ k(·, u) f''(u) du,
    the affine part (module docstring, §3, eq. (N)). For a symmetric μ₀ with E ab = 0 the
    charge is 4(ℓ'²/E a² + ℓ(0)²/E b²) with ℓ' the mean of f's asymptotic slopes at ±∞.

    Parameters
    ----------
    f : callable with ``second_derivative(x)`` (and optional ``breakpoints``)
        E.g. a :class:`KernelInterpolant` or ``splines.natural_cubic(data)``. f'' must
        be integrable against |u| and f''²/ζ integrable on ℝ.
    init : as in :func:`rf_kernel`

    Examples
    --------
    >>> import relu1d
    >>> from relu1d import kernel
    >>> data = relu1d.Dataset([-1.0, 0.0, 1.0], [0.0, 1.0, 0.0])
    >>> f = kernel.interpolant(data)
    >>> parts = kernel.rkhs_norm(f)
    >>> round(parts.total, 4), round(float(f.coefficients @ data.y), 4)   # ‖f‖² = αᵀy
    (61.9355, 61.9355)
    """
    init = _resolve_init(init)
    d2 = _second_derivative_fn(f)
    points = np.concatenate([_breakpoints_of(f), np.asarray(init.breakpoints, float)])
    curvature = curvature_norm(f, init.zeta, (-np.inf, np.inf))

    def ell(x0: float) -> float:
        if init.symmetric:
            def k(u):
                return 0.5 * abs(x0 - u)
        else:
            def k(u):
                zp, zm = (float(z[0]) for z in init.zeta_pm(np.array([u])))
                return (
                    (zp * max(x0 - u, 0) + zm * max(u - x0, 0)) / (zp + zm) if zp + zm > 0 else 0.0
                )

        integral = _integrate(lambda u: k(u) * float(d2(np.array([u]))[0]), -np.inf, np.inf,
                              np.append(points, x0))
        return float(np.asarray(f(np.array([x0])), float)[0]) - integral

    ell0, ell1 = ell(0.0), ell(1.0)
    v = np.array([ell1 - ell0, -ell0])
    N = _nu_moments(init)
    affine = float(v @ np.linalg.solve(N, v))
    return NormParts(curvature, affine, curvature + affine)


def _nu_moments(init) -> np.ndarray:
    """N of eq. (N): moments of ν = ζ₊ζ₋/ζ up to order 2."""
    if init.symmetric:
        eaa, eab, ebb = init.second_moments
        return np.array([[eaa, eab], [eab, ebb]]) / 4
    if "nu" not in init._moments:
        def nu(u):
            zp, zm = (float(z[0]) for z in init.zeta_pm(np.array([u])))
            return zp * zm / (zp + zm) if zp + zm > 0 else 0.0

        mom = [
            _integrate(lambda u, k=k: u**k * nu(u), -np.inf, np.inf, [-1.0, 0.0, 1.0], tol=1e-10)
            for k in range(3)
        ]
        init._moments["nu"] = np.array([[mom[0], mom[1]], [mom[1], mom[2]]])
    return init._moments["nu"]
