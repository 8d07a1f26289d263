r"""The exact gradient flow ż = −∇L(z) of a shallow univariate ReLU network.

Williams et al. eq. 2 (full parameters z = (a, b, c)) and eq. 7 (canonical parameters
w = (r, θ)), with the loss L = ½ Σⱼ ρⱼ² + (λ/2)‖z_trained‖², ρⱼ = f(xⱼ) − yⱼ (eq. 1).

Why a special integrator
------------------------
The field −∇L is only piecewise smooth. Neuron i is active at sample j when
gᵢⱼ = aᵢxⱼ − bᵢ > 0 (canonical: gᵢⱼ = xⱼ cos θᵢ + sin θᵢ = ⟨x̃ⱼ, d(θᵢ)⟩, the same
expression with (a, b) = (cos θ, −sin θ)). Within one *activation pattern* (no gᵢⱼ
changes sign) the field is a polynomial; across a surface gᵢⱼ = 0 it jumps. A generic
adaptive solver sees the jump as a stiff discontinuity; worse, where the field pushes
the knot eᵢ = bᵢ/aᵢ back onto the data point xⱼ from *both* sides it chatters across the
surface with ever smaller steps and stalls (a sliding mode in Filippov's sense).

What jumps, and what does not (derivation)
------------------------------------------
Take one neuron i and one sample j, and the two one-sided fields F⁻ (sample j counted
inactive for neuron i, indicator 0) and F⁺ (indicator 1), all else fixed. On the
surface S = {gᵢⱼ = 0}:

* the residuals are continuous: neuron i contributes (cᵢ/α)[gᵢⱼ]₊ = 0 to f(xⱼ) from
  both sides, so ρ is the same for F⁻ and F⁺;
* ∂L/∂cᵢ = (1/α) Σₖ ρₖ[gᵢₖ]₊ + λcᵢ does not jump (the j-term is ρⱼ·0);
* only the indicator 1[gᵢⱼ > 0] in ∂L/∂aᵢ = (cᵢ/α) Σₖ ρₖxₖ1[gᵢₖ>0] + λaᵢ and
  ∂L/∂bᵢ = −(cᵢ/α) Σₖ ρₖ1[gᵢₖ>0] + λbᵢ jumps, so
  F⁺ − F⁻ = −(cᵢρⱼ/α)·(xⱼ, −1) in (ȧᵢ, ḃᵢ) and 0 elsewhere.
  That is parallel to n = ∇g = (xⱼ, −1): **the jump is normal to S**. (It must be:
  L is continuous, so its tangential derivatives agree on both sides.) In canonical
  parameters likewise F⁺ − F⁻ = −(rᵢρⱼ/m)τⱼ e_θᵢ with τⱼ = ⟨x̃ⱼ, t(θᵢ)⟩, and
  ∇g = τⱼ e_θᵢ (∂r has no jump since ⟨x̃ⱼ, d(θᵢ)⟩₊ = 0 on S).
  Only trained coordinates move: n is restricted to them (n_T); if n_T = 0 the knot
  cannot move relative to xⱼ and the surface is never reached.

The normal speeds ġ on the two sides are G⁻ = n·F⁻ and G⁺ = n·F⁺ = G⁻ + J with
J = −(cᵢρⱼ/α)‖n_T‖² (canonical: −(rᵢρⱼ/m)τⱼ²).

Filippov's rule
---------------
Filippov's solution on S takes the convex combination F = (1 − μ)F⁻ + μF⁺ tangent to S:
n·F = 0 gives μ = G⁻/(G⁻ − G⁺) = −G⁻/J. It is a sliding mode (the knot stays on xⱼ)
exactly when both sides push into S, G⁻ > 0 > G⁺, i.e. μ ∈ (0, 1). Because F⁺ − F⁻ ∥ n,
F is simply the orthogonal projection of either one-sided field onto the tangent
plane: F = F⁻ − (G⁻/‖n_T‖²)n_T (canonical: θ̇ᵢ = 0, ṙᵢ unchanged). Hence:

* sliding is the gradient flow of L restricted to S (the tangential gradient is the
  same from both sides), so dL/dt = −‖F‖² ≤ 0 also while sliding;
* (a, b)·n = gᵢⱼ = 0 on S, so d(aᵢ² + bᵢ²)/dt is the same as for F⁻ and the
  invariants δᵢ = cᵢ² − aᵢ² − bᵢ² are still conserved (Lemma 3); with weight decay
  λ they decay as δᵢ(t) = δᵢ(0)e^{−2λt}, sliding or not;
* the constraint gᵢⱼ = 0 is linear in the full parameters, and Runge–Kutta methods keep
  linear invariants exactly, so the solver stays on S up to rounding (no drift term);
* several neurons can slide at once, on the same or on different samples: each
  surface involves only its own neuron's (aᵢ, bᵢ), the normals of different neurons are
  orthogonal and ρ is continuous, so each neuron is projected independently. Two knots
  on one data point are therefore no special case.

Algorithm
---------
The state carries a discrete mode: per neuron either *free* with a fixed activation
pattern, or *sliding* on one sample j. Since x is sorted, the active set of a free
neuron is a prefix or a suffix of the samples (a < 0 or a > 0; all or none when its
knot is outside the data or aᵢ = 0). In the (a, b) plane the samples are lines through
the origin, and a free neuron sits in one sector between two adjacent ones, so only
**two** event functions per free neuron matter: σ·gᵢⱼ for the two samples bounding its
sector (σ = ±1, positive inside). This handles aᵢ → 0 with no special case: the knot
runs off to ±∞ and comes back from the other side while the neuron stays in the
"all active" (or "none active") sector, bounded by x₁ and x_s. The field of a pattern
is evaluated in O(m + s) with prefix sums over the sorted samples (no m × s array).

1. Integrate the smooth field of the current mode with DOP853 (scipy's explicit
   Runge–Kutta 8(5,3), error control ``rtol``/``atol``), one step at a time; the field
   of a pattern is used as its polynomial extension, so steps may overshoot a surface.
2. After each step, evaluate the event functions at the step end: σ·gᵢⱼ for free
   neurons, and for sliding ones G⁻ (> 0) and −G⁺ (> 0), the two ends of μ ∈ (0, 1).
   A sign change is located on the DOP853 dense output (7th order) to rounding: the
   knot events (two state components each) all at once by Illinois regula falsi,
   dropping any whose bracket lies after another's; the exit events by Brent's method.
   The earliest event wins, and events within 10⁻¹² of it are handled together.
3. At an event on S for free neuron i coming from side σ, compute G⁻ and G⁺ at the
   event state:
   *crossing* if the far side also points away from the near side (σ = −1: G⁺ > 0;
   σ = +1: G⁻ < 0): switch the indicator; *sliding* if instead both push into S
   (G⁻ > 0 > G⁺): project the neuron onto S exactly and constrain it;
   *grazing* (the near side's field is tangent and the far side's points back): stay.
   A sliding neuron whose μ reaches 0 (G⁻ → 0) is released to the inactive side, at
   μ = 1 (G⁺ → 0) to the active side.
4. Restart the solver in the new mode from the event state (with the last step size).

Chattering is avoided because the crossing/sticking decision is taken once, from the
two one-sided fields at the surface, instead of by the solver bouncing across it: a
sliding neuron is integrated on S with the Filippov velocity and leaves only when μ
leaves [0, 1]. An event function that starts a mode at (or within rounding of) zero,
such as the surface just crossed, is disarmed until it has moved a rounding tolerance
into its side, and triggers meanwhile only if it goes a tolerance the wrong way, so
rounding never re-triggers an event at the same instant. Decisions use a relative
tolerance 10⁻⁹·(|G⁻| + |G⁺|) on the normal speeds. Should events still pile up
without time advancing (a Zeno point), the run stops with a RuntimeError.

Cost: each event restarts the solver, about 20 gradient evaluations (initial slope,
one 12-stage step, 3 for the dense output, the decision). Measured on the 2-core
machine: 30 neurons × 9 points (knots sticking) to t = 10 in ~750 evaluations and
0.3 s, where plain DOP853 on the same field reaches t ≈ 0.85 in 2·10⁵; m = 1000,
s = 100 to t = 10: ~4000 events, 8·10⁴ evaluations, ~12 s; m = 10⁴, s = 10: 3 s.

Degenerate cases
----------------
* A knot exactly on a data point at t = 0: decided like an event, taking the state as
  the inactive side (the indicator-0 convention of the reference gradient): slide if
  G⁻ > 0 > G⁺, go active if G⁻ > 0 and G⁺ > 0, else stay inactive (this includes the
  repelling case G⁻ < 0 < G⁺, where the Filippov solution is not unique; plain GD with
  the indicator-0 gradient would move the same way).
* A neuron at (aᵢ, bᵢ) = (0, 0) (at t = 0, or a sliding neuron whose (a, b) runs into
  the origin along its surface, which is a line through it; watched by an event on
  sign(aᵢ)): every sample line passes through the origin and the "none active" sector's
  field vanishes there, so 0 is in Filippov's set and staying is a solution. It is set
  exactly to (0, 0) and kept there (c still moves; ``stats["n_dead"]`` counts them).
  The solution is **not unique** there: leaving along another sector or ray can be one
  too. Plain GD sometimes stays (its iterate lands in the dead sector, where the
  gradient is exactly 0) and sometimes leaves, depending on how its zig-zag around the
  sliding line meets the origin; in such runs GD and this flow can differ by O(1).
  Canonical neurons never reach it (|d(θ)| = 1).
* A crossing and re-crossing within one accepted step is not seen (as in any
  event-located solver); the step size control makes that rare.

When only c trains (or only r in canonical parameters) the features are fixed and the
flow is linear, ċ = −(ΦᵀΦ/α² + λI)c + Φᵀy/α, Φⱼᵢ = [aᵢxⱼ − bᵢ]₊; it is solved exactly
by an eigendecomposition of the s × s Gram matrix ΦΦᵀ/α² (:func:`_linear_flow`).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit
from scipy.integrate import DOP853
from scipy.optimize import brentq

from .._validation import check_network_and_data, _short, as_choice, as_float_array, as_real
from ..network import Network
from ._api import _as_trainable

__all__ = ["integrate_flow", "FlowResult"]

# Decision tolerance on the normal speeds G⁻, G⁺ (relative to |G⁻| + |G⁺|).
_DECIDE_RTOL = 1e-9
# An event function counts as "at zero" within this many ulps of its terms.
_ZERO_ULPS = 64.0
# Give up when this many events happen without time advancing (a Zeno point).
_MAX_STALLED_EVENTS = 10_000


@dataclass(frozen=True, eq=False)
class FlowResult:
    """Parameters along the gradient flow at the requested times.

    Attributes
    ----------
    times : (k,) array
        The record times (sorted, >= 0).
    a, b, c : (k, m) arrays
        Full parameters at each record time.
    loss : (k,) array
        L = ½ Σⱼ ρⱼ² + (λ/2)‖trained parameters‖² at each record time (for the
        canonical flow the penalty is (λ/2)‖r‖²).
    r, theta : (k, m) arrays or None
        Canonical parameters (parameterization="canonical" only).
    stats : dict
        ``n_events``, ``n_crossings``, ``n_sliding_entries``, ``n_sliding_exits``,
        ``n_grazing``, ``n_dead``, ``max_sliding`` (most neurons sliding at once),
        ``sliding_at_end``, ``n_steps`` (accepted solver steps), ``n_segments``,
        ``n_rhs_evals`` (every evaluation of the gradient, by the solver, the event
        location and the decisions), ``wall_time_s``, ``method``.
    """

    times: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    loss: np.ndarray
    r: np.ndarray | None = None
    theta: np.ndarray | None = None
    stats: dict = field(default_factory=dict)


@njit(cache=True)
def _pattern_sums(A, B, C, o, p, x, yd, alpha):  # pragma: no cover - compiled
    """O(m + s) residuals and active sums for a pattern (see :meth:`_Field.sums`).

    Neuron i with o = +1 is active at samples k >= pᵢ, with o = −1 at k < pᵢ, so
    f(x_k) = (x_k Σ CᵢAᵢ − Σ CᵢBᵢ)/α over the neurons active at k: cumulative sums over
    the histogram of p, forward for suffixes and backward for prefixes; then
    Wᵢ = Σ_active ρ and (Wx)ᵢ = Σ_active ρx are differences of prefix sums of ρ.
    """
    s, m = x.size, A.size
    suf1, suf0 = np.zeros(s + 1), np.zeros(s + 1)
    pre1, pre0 = np.zeros(s + 1), np.zeros(s + 1)
    for i in range(m):
        if o[i] > 0:
            suf1[p[i]] += C[i] * A[i]
            suf0[p[i]] += C[i] * B[i]
        else:
            pre1[p[i]] += C[i] * A[i]
            pre0[p[i]] += C[i] * B[i]
    rho = np.empty(s)
    back1, back0 = 0.0, 0.0
    for k in range(s - 1, -1, -1):  # prefix neurons active at k: p > k
        back1 += pre1[k + 1]
        back0 += pre0[k + 1]
        rho[k] = back1 * x[k] - back0
    fwd1, fwd0 = 0.0, 0.0
    for k in range(s):
        fwd1 += suf1[k]
        fwd0 += suf0[k]
        rho[k] = (rho[k] + fwd1 * x[k] - fwd0) / alpha - yd[k]
    r0, r1 = np.zeros(s + 1), np.zeros(s + 1)
    for k in range(s):
        r0[k + 1] = r0[k] + rho[k]
        r1[k + 1] = r1[k] + rho[k] * x[k]
    w, wx = np.empty(m), np.empty(m)
    for i in range(m):
        if o[i] > 0:
            w[i] = r0[s] - r0[p[i]]
            wx[i] = r1[s] - r1[p[i]]
        else:
            w[i] = r0[p[i]]
            wx[i] = r1[p[i]]
    return rho, w, wx


# ============================================================================ the field
class _Field:
    """−∇L for one parameterisation, evaluated for a given mode in O(m + s).

    State vector: full ``y = (a, b, c)``; canonical ``y = (r, θ)``. The geometry of the
    knots uses (A, B) = (a, b), resp. (cos θ, −sin θ); the output weights are C = c with
    scale α, resp. C = r with scale m.
    """

    def __init__(self, x, y, m, alpha, canonical, train, lam):
        self.x, self.y, self.m, self.s = x, y, m, x.size
        self.canonical = canonical
        self.alpha = float(m) if canonical else alpha
        self.train = train          # full: (a, b, c) flags; canonical: (r, θ) flags
        self.lam = lam
        self.n_evals = 0
        # Mode: free neurons have the active set [p, s) (o = +1) or [0, p) (o = −1);
        # a sliding neuron (slide ≥ 0) has the strict side of its sample as pattern.
        self.o = np.ones(m, dtype=np.int64)
        self.p = np.zeros(m, dtype=np.int64)
        self.slide = np.full(m, -1, dtype=np.int64)
        self.dead = np.zeros(m, dtype=bool)

    # ---------------------------------------------------------------- geometry
    def geometry(self, y):
        m = self.m
        if self.canonical:
            theta = y[m:]
            return np.cos(theta), -np.sin(theta), y[:m]
        return y[:m], y[m:2 * m], y[2 * m:]

    def n_sq(self, j):
        """‖n_T‖² for surfaces at samples j (full only)."""
        xj = self.x[j]
        return xj ** 2 * self.train[0] + 1.0 * self.train[1]

    # ---------------------------------------------------------------- sums over patterns
    def sums(self, y):
        """Residuals ρ and per-neuron W = Σ_active ρ, Wx = Σ_active ρx for the mode."""
        self.n_evals += 1
        A, B, C = self.geometry(y)
        return _pattern_sums(np.ascontiguousarray(A), np.ascontiguousarray(B), np.ascontiguousarray(C),
                             self.o, self.p, self.x, self.y, self.alpha)

    # ---------------------------------------------------------------- velocities
    def velocity(self, y, w, wx, idx=None, decay=True):
        """F = −∇L from the sums (for neurons ``idx``, default all); ``decay=False``
        leaves out the weight decay (used for the linear jump F⁺ − F⁻)."""
        m = self.m
        sel = slice(None) if idx is None else idx
        A, B, C = (v[sel] for v in self.geometry(y))
        lam = self.lam if decay else 0.0
        # Frozen parameters get exact zeros (not 0·value, which is NaN for a rejected
        # trial step that overflowed).
        zero = np.zeros(np.broadcast_shapes(np.shape(A), np.shape(w)))
        if self.canonical:
            r = C
            vr = -((A * wx - B * w) / m + lam * r) if self.train[0] else zero        # cos·Wx + sin·W
            vt = -(r / m) * (B * wx + A * w) if self.train[1] else zero.copy()     # −sin·Wx + cos·W
            return vr, vt
        a, b, c = A, B, C
        va = -(c * wx / self.alpha + lam * a) if self.train[0] else zero
        vb = -(-c * w / self.alpha + lam * b) if self.train[1] else zero.copy()
        vc = -((a * wx - b * w) / self.alpha + lam * c) if self.train[2] else zero.copy()
        return va, vb, vc

    def gdot(self, y, idx, j, vel):
        """ġ for surfaces (idx, j) given the neurons' velocity components."""
        xj = self.x[j]
        if self.canonical:
            theta = y[self.m:][idx]
            tau = -xj * np.sin(theta) + np.cos(theta)
            return tau * vel[1]
        return xj * vel[0] - vel[1]

    def normal_speeds(self, y, idx, j, rho, w, wx):
        """G⁻ (sample j inactive for neuron idx) and J = G⁺ − G⁻ at state y.

        ``w, wx`` are the neurons' sums in the current mode; sample j is taken out where
        the mode counts it active.
        """
        active = self.is_active(idx, j)
        rj = rho[j]
        w_minus = w[idx] - np.where(active, rj, 0.0)
        wx_minus = wx[idx] - np.where(active, rj * self.x[j], 0.0)
        g_minus = self.gdot(y, idx, j, self.velocity(y, w_minus, wx_minus, idx))
        jump = self.gdot(y, idx, j, self.velocity(y, rj, rj * self.x[j], idx, decay=False))
        return g_minus, jump

    def is_active(self, idx, j):
        o, p = self.o[idx], self.p[idx]
        return np.where(o > 0, j >= p, j < p) & (self.slide[idx] < 0)

    def rhs(self, t, y):
        # A too-long trial step of the solver can overflow; its error estimate is then
        # not finite and the step is rejected, so the warnings would only be noise.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._rhs(y)

    def _rhs(self, y):
        rho, w, wx = self.sums(y)
        vel = self.velocity(y, w, wx)
        sl = np.flatnonzero(self.slide >= 0)
        if sl.size:
            j = self.slide[sl]
            if self.canonical:
                vel[1][sl] = 0.0
            else:
                # Filippov: the one-sided field projected onto the surface's tangent.
                g_minus = self.gdot(y, sl, j, (vel[0][sl], vel[1][sl]))
                k = g_minus / self.n_sq(j)
                if self.train[0]:
                    vel[0][sl] -= k * self.x[j]
                if self.train[1]:
                    vel[1][sl] += k
        if self.dead.any():
            for v in vel[:2]:
                v[self.dead] = 0.0
        return np.concatenate(vel)

    # ---------------------------------------------------------------- modes
    def set_pattern(self, idx, lo, hi):
        """Free neurons ``idx`` with active set [lo, hi) (a prefix or a suffix)."""
        s = self.s
        lo, hi = np.broadcast_to(lo, np.shape(idx)), np.broadcast_to(hi, np.shape(idx))
        if np.any((lo > 0) & (hi < s) & (lo < hi)):
            raise RuntimeError("internal error: an active set that is neither a prefix nor a suffix")
        empty, full = lo >= hi, (lo == 0) & (hi == s)
        o = np.where(empty | full | (hi == s), 1, -1)
        p = np.where(empty, s, np.where(full, 0, np.where(hi == s, lo, hi)))
        self.o[idx], self.p[idx], self.slide[idx] = o, p, -1

    def active_interval(self, idx):
        o, p = self.o[idx], self.p[idx]
        return np.where(o > 0, p, 0), np.where(o > 0, self.s, p)

    def boundaries(self):
        """The two sector-bounding samples (j, σ) of every free, live neuron."""
        s = self.s
        idx = np.flatnonzero((self.slide < 0) & ~self.dead)
        o, p = self.o[idx], self.p[idx]
        all_on = (o > 0) & (p == 0)
        none_on = (o > 0) & (p == s)
        # Interior suffix [p, s): p−1 (inactive), p (active); prefix [0, p): p−1 active, p inactive.
        j1 = np.where(all_on, 0, np.where(none_on, s - 1, p - 1))
        j2 = np.where(all_on, s - 1, np.where(none_on, 0, p))
        sg1 = np.where(all_on, 1, np.where(none_on, -1, np.where(o > 0, -1, 1)))
        sg2 = np.where(all_on, 1, np.where(none_on, -1, np.where(o > 0, 1, -1)))
        return (np.concatenate((idx, idx)), np.concatenate((j1, j2)),
                np.concatenate((sg1, sg2)).astype(np.float64))


# ============================================================================ integrator
class _Events:
    """The event functions of one mode, with their arming thresholds."""

    def __init__(self, fld: _Field, y):
        self.fld = fld
        self.bi, self.bj, self.bs = fld.boundaries()
        self.si = np.flatnonzero(fld.slide >= 0)
        self.sj = fld.slide[self.si]
        if not fld.canonical:
            # A sliding neuron's (a, b) moves on a line through the origin: watch o·a.
            self.sa = fld.o[self.si].astype(np.float64)
        v0, tol = self.values(y, with_tol=True)
        self.tol = tol
        self.thr = np.minimum(0.0, v0 - tol)

    def values(self, y, with_tol=False):
        fld = self.fld
        A, B, _ = fld.geometry(y)
        x = fld.x
        ax, bb = A[self.bi] * x[self.bj], B[self.bi]
        vb = self.bs * (ax - bb)
        parts, tols = [vb], [_ZERO_ULPS * np.finfo(float).eps * (np.abs(ax) + np.abs(bb)) + 1e-300]
        if self.si.size:
            rho, w, wx = fld.sums(y)
            g_minus, jump = fld.normal_speeds(y, self.si, self.sj, rho, w, wx)
            g_plus = g_minus + jump
            scale = _DECIDE_RTOL * (np.abs(g_minus) + np.abs(g_plus)) + 1e-300
            parts += [g_minus, -g_plus]
            tols += [scale, scale]
            if not fld.canonical:
                parts.append(self.sa * A[self.si])
                tols.append(np.zeros(self.si.size))
        v = np.concatenate(parts)
        return (v, np.concatenate(tols)) if with_tol else v

    def rearm(self, v):
        self.thr[v > self.tol] = 0.0

    def describe(self, k):
        """(kind, neuron, sample, side) of component k."""
        nb, ns = self.bi.size, self.si.size
        if k < nb:
            return "boundary", int(self.bi[k]), int(self.bj[k]), int(self.bs[k])
        k -= nb
        kind = ("exit_minus", "exit_plus", "origin")[k // ns]
        return kind, int(self.si[k % ns]), int(self.sj[k % ns]), 0


def _decide(fld: _Field, y, idx, j, side, stats):
    """Apply the Filippov rule to free neurons ``idx`` on the surfaces of samples ``j``,
    coming from ``side`` (+1 active, −1 inactive). Returns the state (snapped onto the
    surface for new sliding neurons)."""
    rho, w, wx = fld.sums(y)
    g_minus, jump = fld.normal_speeds(y, idx, j, rho, w, wx)
    g_plus = g_minus + jump
    tol = _DECIDE_RTOL * (np.abs(g_minus) + np.abs(g_plus)) + 1e-300
    from_minus = side < 0
    cross = np.where(from_minus, g_plus > tol, g_minus < -tol)
    slide = ~cross & np.where(from_minus, g_minus > tol, g_plus < -tol)
    lo, hi = fld.active_interval(idx)
    # Crossing toggles sample j, which is at an end of (or adjacent to) the active set.
    empty = lo >= hi
    add = cross & from_minus
    rem = cross & ~from_minus
    new_lo = np.where(add & (empty | (j == lo - 1)), j, np.where(rem & (j == lo), j + 1, lo))
    new_hi = np.where(add & (empty | (j == hi)), j + 1, np.where(rem & (j == hi - 1) & (j != lo), j, hi))
    c_idx = np.flatnonzero(cross)
    if c_idx.size:
        fld.set_pattern(idx[c_idx], new_lo[c_idx], new_hi[c_idx])
    s_idx = np.flatnonzero(slide)
    if s_idx.size:
        y = _enter_sliding(fld, y, idx[s_idx], j[s_idx])
    stats["n_crossings"] += int(c_idx.size)
    stats["n_sliding_entries"] += int(s_idx.size)
    stats["n_grazing"] += int(idx.size - c_idx.size - s_idx.size)
    return y


def _enter_sliding(fld: _Field, y, idx, j):
    y = y.copy()
    m, x = fld.m, fld.x
    A, B, _ = fld.geometry(y)
    g = A[idx] * x[j] - B[idx]
    if fld.canonical:
        theta = y[m:]
        for _ in range(3):  # Newton on xⱼcos θ + sin θ = 0; θ then stays put (θ̇ = 0)
            th = theta[idx]
            g = x[j] * np.cos(th) + np.sin(th)
            theta[idx] = th - g / (-x[j] * np.sin(th) + np.cos(th))
        orient = np.sign(np.cos(theta[idx]))
    else:
        k = g / fld.n_sq(j)
        if fld.train[0]:
            y[idx] -= k * x[j]
        if fld.train[1]:
            y[m + idx] += k
        orient = np.sign(y[idx])
    fld.o[idx] = np.where(orient > 0, 1, -1)
    fld.p[idx] = np.where(orient > 0, j + 1, j)
    fld.slide[idx] = j
    return y


def _release(fld: _Field, idx, j, to_active):
    """End sliding; the neuron goes free with sample j active or not."""
    o = fld.o[idx]
    lo = np.where(o > 0, np.where(to_active, j, j + 1), 0)
    hi = np.where(o > 0, fld.s, np.where(to_active, j + 1, j))
    fld.set_pattern(idx, lo, hi)



# ============================================================================ the origin
def _at_origin(fld: _Field, y, i, stats):
    """Neuron i has reached (aᵢ, bᵢ) = (0, 0): put it exactly there, and keep it there.

    Every sample line passes through the origin, and the "none active" sector's field
    is 0 there (W = Wx = 0, and λ(a, b) = 0), so 0 is in Filippov's set and staying is a
    solution; it is not the only one (see the module docstring).
    """
    y = y.copy()
    m = fld.m
    y[i] = 0.0
    y[m + i] = 0.0
    fld.slide[i] = -1
    fld.set_pattern(np.array([i]), np.array([fld.s]), np.array([fld.s]))
    if not fld.dead[i]:
        stats["n_dead"] += 1
    fld.dead[i] = True
    return y


def _initial_mode(fld: _Field, y, stats):
    """Pattern at t = 0 from the signs of gᵢⱼ; pairs exactly on a surface are decided."""
    A, B, _ = fld.geometry(y)
    x, s, m = fld.x, fld.s, fld.m
    if not fld.canonical:
        fld.dead[:] = (A == 0) & (B == 0)
    g = np.multiply.outer(x, A) - B                     # (s, m), once
    on = np.abs(g) <= _ZERO_ULPS * np.finfo(float).eps * (np.abs(np.multiply.outer(x, A)) + np.abs(B))
    on &= ~fld.dead
    act = (g > 0) & ~on
    count = act.sum(axis=0)
    first, last = act[0], act[-1]
    # Active sets are a suffix (a > 0), a prefix (a < 0), all or none.
    lo = np.where(count == 0, s, np.where(last, s - count, 0))
    hi = np.where(count == 0, s, np.where(last, s, count))
    lo = np.where(first & last, 0, lo)
    fld.set_pattern(np.arange(m), lo, hi)
    pairs_j, pairs_i = np.nonzero(on)
    if pairs_i.size:
        # One surface per neuron (its knot is at one place); take the inactive side.
        pairs_i, first_k = np.unique(pairs_i, return_index=True)
        pairs_j = pairs_j[first_k]
        stats["n_on_surface_at_t0"] = int(pairs_i.size)
        y = _decide(fld, y, pairs_i, pairs_j, -np.ones(pairs_i.size), stats)
    return y


class _DenseComponents:
    """Selected state components of a DOP853 dense output, each at its own time, in
    O(len(comps)) per evaluation (the full-state evaluation costs O(n) per time)."""

    def __init__(self, dense, comps):
        self.dense, self.comps = dense, comps
        F = getattr(dense, "F", None)
        self.F = None if F is None else F[::-1, comps]   # highest power first
        self.y_old = dense.y_old[comps] if F is not None else None

    def at(self, times, sel):
        """Components ``comps[sel]`` at ``times`` (one time per selected component)."""
        if self.F is None:  # another solver's interpolant: evaluate the whole state
            return np.array([self.dense(t)[c] for c, t in zip(self.comps[sel], times)])
        x = (times - self.dense.t_old) / self.dense.h
        y = np.zeros(sel.size)
        for n, f in enumerate(self.F):
            y += f[sel]
            y *= x if n % 2 == 0 else 1 - x
        return y + self.y_old[sel]


def _boundary_roots(ev: _Events, dense, t0, t1, ks):
    """Roots of the free-neuron event functions ``ks`` on [t0, t1], all at once (each
    depends on two state components): Illinois regula falsi with a bisection every
    fourth step, to rounding. Only the earliest root matters (the others are found again
    after the restart), so a component whose bracket lies wholly after another's is
    dropped (its root is returned as +inf)."""
    fld = ev.fld
    m = fld.m
    i, j, sg, thr = ev.bi[ks], ev.bj[ks], ev.bs[ks], ev.thr[ks]
    xj = fld.x[j]
    if fld.canonical:
        theta = _DenseComponents(dense, m + i)

        def fun(t, sel):
            th = theta.at(t, sel)
            return sg[sel] * (np.cos(th) * xj[sel] + np.sin(th)) - thr[sel]
    else:
        a_of, b_of = _DenseComponents(dense, i), _DenseComponents(dense, m + i)

        def fun(t, sel):
            return sg[sel] * (a_of.at(t, sel) * xj[sel] - b_of.at(t, sel)) - thr[sel]

    n = ks.size
    everything = np.arange(n)
    lo, hi = np.full(n, float(t0)), np.full(n, float(t1))
    f_lo, f_hi = fun(lo, everything), fun(hi, everything)
    at_start = f_lo <= 0
    hi[at_start], f_hi[at_start] = t0, 0.0
    tol = 4 * np.finfo(float).eps * max(abs(t0), abs(t1), 1e-300)
    side = np.zeros(n)
    live = everything
    for it in range(200):
        live = live[lo[live] <= hi[live].min()]
        live = live[(hi[live] - lo[live] > tol) & (f_hi[live] < 0)]
        if not live.size:
            break
        l, h, fl, fh = lo[live], hi[live], f_lo[live], f_hi[live]
        with np.errstate(divide="ignore", invalid="ignore"):
            mid = (l * fh - h * fl) / (fh - fl)
        if it % 4 == 3:
            mid = 0.5 * (l + h)
        mid = np.where(np.isfinite(mid) & (mid > l) & (mid < h), mid, 0.5 * (l + h))
        fm = fun(mid, live)
        neg, pos = fm < 0, fm > 0
        # Illinois: halve the retained end's value when the same end is kept twice.
        f_lo[live] = np.where(pos, fm, np.where(neg & (side[live] < 0), fl / 2, fl))
        f_hi[live] = np.where(neg, fm, np.where(pos, np.where(side[live] > 0, fh / 2, fh), 0.0))
        lo[live] = np.where(pos, mid, l)
        hi[live] = np.where(pos, h, mid)
        side[live] = np.where(neg, -1.0, np.where(pos, 1.0, side[live]))
    out = np.full(n, np.inf)
    best = hi.min()
    keep = lo <= best
    out[keep] = hi[keep]
    return out


def _locate(ev: _Events, dense, t0, t1, flagged):
    """Root times of the flagged components on [t0, t1]."""
    times = np.empty(flagged.size)
    nb = ev.bi.size
    is_b = flagged < nb
    if is_b.any():
        times[is_b] = _boundary_roots(ev, dense, t0, t1, flagged[is_b])
    for n in np.flatnonzero(~is_b):
        k = flagged[n]
        thr = ev.thr[k]

        def fun(t, k=k, thr=thr):
            return ev.values(dense(t))[k] - thr

        if fun(t0) <= 0:
            times[n] = t0
        else:
            times[n] = brentq(fun, t0, t1, xtol=1e-15 * max(1.0, abs(t1)), rtol=4 * np.finfo(float).eps)
    return times


def _integrate_piecewise(fld: _Field, y0, record_times, rtol, atol, progress, stats, loss_of):
    T = float(record_times[-1])
    n_rec = record_times.size
    states = np.empty((n_rec, y0.size))
    k_rec = 0
    t, y = 0.0, _initial_mode(fld, y0.copy(), stats)
    while k_rec < n_rec and record_times[k_rec] <= t:
        states[k_rec] = y
        k_rec += 1
    h = None
    stalled, last_event_t = 0, -1.0
    bar, last_draw = None, 0.0
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=T, file=sys.stderr, unit="t", desc="flow", leave=False,
                   bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}{postfix}]")
    try:
        while t < T:
            stats["n_segments"] += 1
            ev = _Events(fld, y)
            stats["max_sliding"] = max(stats["max_sliding"], int(ev.si.size))
            solver = DOP853(fld.rhs, t, y, T, rtol=rtol, atol=atol,
                            first_step=None if h is None else min(h, T - t))
            event = None
            while solver.status == "running":
                msg = solver.step()
                if solver.status == "failed":
                    raise RuntimeError(f"the flow's ODE solver failed at t = {solver.t:.6g}: {msg}")
                stats["n_steps"] += 1
                if not np.all(np.isfinite(solver.y)):
                    raise RuntimeError(f"the flow's state is not finite at t = {solver.t:.6g} (diverging); "
                                       "try tighter rtol/atol")
                t0, t1 = solver.t_old, solver.t
                v1 = ev.values(solver.y)
                flagged = np.flatnonzero(v1 < ev.thr)
                dense = None
                t_end = t1
                if flagged.size:
                    dense = solver.dense_output()
                    roots = _locate(ev, dense, t0, t1, flagged)
                    t_end = float(roots.min())
                    near = roots <= t_end + 1e-12 * max(1.0, abs(t_end))
                    event = (t_end, flagged[near])
                else:
                    ev.rearm(v1)
                while k_rec < n_rec and record_times[k_rec] <= t_end:
                    tr = record_times[k_rec]
                    if tr == t1:
                        states[k_rec] = solver.y
                    else:
                        if dense is None:
                            dense = solver.dense_output()
                        states[k_rec] = dense(tr)
                    k_rec += 1
                if bar is not None and time.perf_counter() - last_draw > 0.2:
                    last_draw = time.perf_counter()
                    bar.update(t_end - bar.n)
                    bar.set_postfix_str(f"loss={loss_of(solver.y):.4g} sliding={ev.si.size}", refresh=False)
                if event is not None:
                    break
                h = getattr(solver, "h_abs", None) or solver.step_size
            if event is None:
                t, y = solver.t, solver.y
                break
            t_ev, comps = event
            y = dense(t_ev)
            h = max(getattr(solver, "h_abs", None) or solver.step_size or 0.0, 1e-12 * max(1.0, T))
            stalled = stalled + 1 if t_ev <= last_event_t + 1e-13 * max(1.0, T) else 0
            if stalled > _MAX_STALLED_EVENTS:
                raise RuntimeError(f"the flow stalled at t = {t_ev:.6g}: {stalled} events without progress "
                                   "(a Zeno point); try a looser rtol or method='gd'")
            last_event_t = t_ev
            y = _handle_events(fld, ev, y, comps, stats)
            t = t_ev
            while k_rec < n_rec and record_times[k_rec] <= t:  # events exactly at a record time
                states[k_rec] = y
                k_rec += 1
    finally:
        if bar is not None:
            bar.update(t - bar.n)
            bar.close()
    states[k_rec:] = y
    stats["sliding_at_end"] = int(np.sum(fld.slide >= 0))
    return states


def _handle_events(fld: _Field, ev: _Events, y, comps, stats):
    kinds = [ev.describe(int(k)) for k in comps]
    seen = set()
    bnd_i, bnd_j, bnd_s = [], [], []
    for kind, i, j, side in kinds:
        if i in seen:
            continue
        seen.add(i)
        stats["n_events"] += 1
        if kind == "boundary":
            bnd_i.append(i), bnd_j.append(j), bnd_s.append(side)
        elif kind == "origin":
            stats["n_sliding_exits"] += 1
            y = _at_origin(fld, y, i, stats)
        else:
            _release(fld, np.array([i]), np.array([j]), kind == "exit_plus")
            stats["n_sliding_exits"] += 1
    if bnd_i:
        y = _decide(fld, y, np.array(bnd_i), np.array(bnd_j), np.array(bnd_s, dtype=float), stats)
    return y


# ============================================================================ linear flow
def _linear_flow(phi, c0, y, alpha, lam, times):
    """Exact solution of ċ = −(ΦᵀΦ/α² + λI)c + Φᵀy/α at ``times`` (c-only flow).

    With Φ/α = U S Vᵀ (thin SVD via the eigendecomposition of the s × s Gram
    ΦΦᵀ/α² = U S² Uᵀ, V = ΦᵀU/(αS)), u = Vᵀc obeys u̇ = −(S² + λ)u + S Uᵀy, so
    u(t) = e^{−κt}u₀ + (1 − e^{−κt})/κ · S Uᵀy with κ = S² + λ; the part of c outside
    the row space of Φ only decays, as e^{−λt}. Cost O(s²m + s³), no m × m matrix.
    """
    gram = phi @ phi.T / alpha ** 2
    ev, u = np.linalg.eigh(gram)
    keep = ev > max(ev.max(initial=0.0), 0.0) * phi.shape[0] * np.finfo(float).eps * 10
    ev, u = ev[keep], u[:, keep]
    sv = np.sqrt(ev)
    v = (phi.T @ u) / (alpha * sv)                      # (m, r), orthonormal columns
    u0 = v.T @ c0
    drive = sv * (u.T @ y)
    kappa = ev + lam
    out = np.empty((times.size, c0.size))
    for n, t in enumerate(times):
        decay = np.exp(-kappa * t)
        # (1 − e^{−κt})/κ without cancellation; → t as κt → 0.
        gain = np.where(kappa * t > 0, -np.expm1(-kappa * t) / np.where(kappa > 0, kappa, 1.0), t)
        ut = decay * u0 + gain * drive
        out[n] = np.exp(-lam * t) * c0 + v @ (ut - np.exp(-lam * t) * u0)
    return out


# ============================================================================ front end
def _features(A, B, x):
    return np.maximum(np.multiply.outer(x, A) - B, 0.0)


def integrate_flow(net, data, record_times, *, trainable="abc", weight_decay=0.0, rtol=1e-8,
                   atol=1e-10, parameterization="full", progress=False) -> FlowResult:
    r"""Integrate the gradient flow ż = −∇L(z) exactly (Williams eqs. 2 and 7).

    Piecewise-smooth integration with event location and Filippov sliding: see the
    module docstring for the derivation and the algorithm. When the first layer is
    frozen (``trainable="c"``, or ``"r"`` in canonical parameters) the flow is linear
    and solved in closed form.

    Parameters
    ----------
    net : Network
        Initial network z(0).
    data : Dataset
        Samples (x sorted).
    record_times : array_like, shape (k,)
        Non-decreasing times >= 0 at which to return the parameters.
    trainable : str, default "abc"
        Full parameters: a non-empty subset of "abc" (the others stay fixed).
        Canonical: "abc" or "rt" (both), "r" or "t" (θ).
    weight_decay : float, default 0
        λ >= 0: L gains (λ/2)‖z_trained‖² (canonical: (λ/2)‖r‖², as the engine's GD).
    rtol, atol : float
        Error control of the DOP853 steps (and nothing else: events are located to
        rounding on the dense output).
    parameterization : {"full", "canonical"}
        "canonical" integrates ẇ = −∇L̃(w) on (r, θ) (eq. 7) and maps back with the
        invariants δ of ``net`` (Lemma 3, :meth:`Network.from_canonical`).
    progress : bool
        A tqdm bar over t on stderr.

    Returns
    -------
    FlowResult
    """
    check_network_and_data(net, data)
    times = as_float_array(record_times, "record_times", min_size=1)
    if np.any(times < 0) or np.any(np.diff(times) < 0):
        raise ValueError(f"record_times must be non-decreasing and >= 0; got {_short(times.tolist())}")
    as_choice(parameterization, "parameterization", ("full", "canonical"))
    canonical = parameterization == "canonical"
    train, _ = _as_trainable(trainable, parameterization)
    lam = as_real(weight_decay, "weight_decay", nonnegative=True)
    rtol = as_real(rtol, "rtol", positive=True)
    atol = as_real(atol, "atol", positive=True)
    if not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True or False, got {_short(progress)}")
    x, yd = data.x, data.y
    m, alpha = net.m, net.alpha
    start = time.perf_counter()
    stats = dict(method="piecewise-DOP853", n_events=0, n_crossings=0, n_sliding_entries=0,
                 n_sliding_exits=0, n_grazing=0, n_dead=0, n_on_surface_at_t0=0, max_sliding=0,
                 sliding_at_end=0, n_steps=0, n_segments=0, n_rhs_evals=0)

    if canonical:
        r0, theta0 = net.canonical()
        y0 = np.concatenate((r0, theta0))
        alpha_eff = float(m)
    else:
        y0 = np.concatenate((net.a, net.b, net.c))
        alpha_eff = alpha
    fld = _Field(x, yd, m, alpha_eff, canonical, train, lam)

    frozen_features = train == ((True, False) if canonical else (False, False, True))
    if frozen_features:
        stats["method"] = "exact-linear"
        if canonical:
            phi = _features(np.cos(theta0), -np.sin(theta0), x)
            rs = _linear_flow(phi, r0, yd, alpha_eff, lam, times)
            states = np.concatenate((rs, np.broadcast_to(theta0, rs.shape)), axis=1)
        else:
            phi = _features(net.a, net.b, x)
            cs = _linear_flow(phi, net.c, yd, alpha, lam, times)
            states = np.concatenate((np.broadcast_to(net.a, cs.shape), np.broadcast_to(net.b, cs.shape), cs), axis=1)
    else:
        def loss_of(state):
            return _objective(fld, state)
        states = _integrate_piecewise(fld, y0, times, rtol, atol, progress, stats, loss_of)
    stats["n_rhs_evals"] = fld.n_evals
    loss = np.array([_objective(fld, st, count=False) for st in states])
    if canonical:
        r, theta = states[:, :m], np.mod(states[:, m:], 2 * np.pi)
        delta = net.invariants()
        abc = [Network.from_canonical(r[k], theta[k], delta, alpha) for k in range(times.size)]
        a = np.array([n.a for n in abc]).reshape(times.size, m)
        b = np.array([n.b for n in abc]).reshape(times.size, m)
        c = np.array([n.c for n in abc]).reshape(times.size, m)
    else:
        a, b, c = states[:, :m], states[:, m:2 * m], states[:, 2 * m:]
        r = theta = None
    stats["wall_time_s"] = time.perf_counter() - start
    return FlowResult(times, np.ascontiguousarray(a), np.ascontiguousarray(b), np.ascontiguousarray(c),
                      loss, None if r is None else np.ascontiguousarray(r),
                      None if theta is None else np.ascontiguousarray(theta), stats)


def _objective(fld: _Field, state, count=True) -> float:
    """L at a state, with the true ReLU (independent of the mode)."""
    A, B, C = fld.geometry(state)
    rho = _features(A, B, fld.x) @ C / fld.alpha - fld.y
    m = fld.m
    if fld.canonical:
        pen = float(state[:m] @ state[:m]) if fld.train[0] else 0.0
    else:
        pen = sum(float(state[k * m:(k + 1) * m] @ state[k * m:(k + 1) * m]) for k in range(3) if fld.train[k])
    return 0.5 * float(rho @ rho) + 0.5 * fld.lam * pen
