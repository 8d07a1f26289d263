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

1. Integrate the smooth field of the current mode with DOP853 (Hairer's explicit
   Runge–Kutta 8(5,3) with scipy's coefficients, error estimate and step-size control,
   error control ``rtol``/``atol``), one step at a time; the field of a pattern is used
   as its polynomial extension, so steps may overshoot a surface.
2. After each step, evaluate the event functions at the step end: σ·gᵢⱼ for free
   neurons, and for sliding ones G⁻ (> 0) and −G⁺ (> 0), the two ends of μ ∈ (0, 1).
   A sign change is located on the DOP853 dense output (7th order) to rounding: the
   knot events (two state components each) all at once by Illinois regula falsi,
   dropping any whose bracket lies after another's; the exit events (which need the
   whole state) as the first root of the minimum of the flagged ones, by the same
   iteration, searched only up to the earliest knot event. The earliest event wins,
   and events within 10⁻¹² of it are handled together.
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

Implementation: everything between two events runs compiled (numba): the field of a
mode (:func:`_field_kernel`, one O(m + s) pass that also returns the exit functions and
the knot geometry), the DOP853 steps and dense output (:func:`_dop853_step`,
:func:`_dop853_dense`, checked against scipy's DOP853 by the tests), the event
functions, their location and the records (:func:`_advance`), and the Filippov decision
(:func:`_decide_kernel`). Python only restarts the solver after an event, applies it
and checks for interruption every few dozen steps. The numpy methods of
:class:`_Field` (``velocity``, ``normal_speeds``, ``rhs_reference``) are the readable
reference the tests compare the kernels with.

Cost: each event restarts the solver, about 18 gradient evaluations (initial slope,
one 12-stage step, 3 for the dense output, the decision). Measured on the 2-core
machine (shared, load ≈ 3): 30 neurons × 9 points (knots sticking) to t = 10 in ~670
evaluations and 4 ms, where plain DOP853 on the same field reaches t ≈ 0.85 in 2·10⁵;
m = 1000, s = 100 to t = 10: ~4000 events, 7·10⁴ evaluations, 2 s; m = 10⁴, s = 10:
0.4 s; the canonical flow of Williams et al.'s Lemma 2 (m = 2000, s = 8, to t = 1440,
i.e. mean-field time 0.72; ``williams2019.lemma2`` runs it): 3–5 s (it took ~90 s when
the steps and event location ran in Python).

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
* A canonical neuron whose angle reaches the edge of the sector where no sample is
  active (the field is exactly 0 inside it) is held on the edge, and leaves it again
  when the field on the active side turns outwards. GD steps about 10⁻⁵ rad into the
  dead sector and stays there for good; both are solutions (not unique), and the two
  differ by O(lr⁰): 2.4·10⁻³ rad at steps 2.5·10⁻⁴ to 1.6·10⁻⁵ in the Lemma 2 test
  setting (m = 60, seed 0, from mean-field time 0.066).
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

from .._common import interrupt_from_kernel
from .._validation import _short, as_choice, as_float_array, as_real, check_network_and_data
from ..network import Network
from ._api import _as_trainable
from ._compile_notice import install as _install_compile_notice

_install_compile_notice()  # one line on stderr when the flow kernel is compiled (not when cached)

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
    interrupted : bool
        True when KeyboardInterrupt stopped the integration: ``times`` and the arrays
        then hold only the record times reached.
    """

    times: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    loss: np.ndarray
    r: np.ndarray | None = None
    theta: np.ndarray | None = None
    stats: dict = field(default_factory=dict)
    interrupted: bool = False


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


@njit(cache=True)
def _mode_sums(y, canonical, o, p, x, yd, alpha):  # pragma: no cover - compiled
    """:func:`_pattern_sums` from the state vector (full or canonical)."""
    m = o.size
    if canonical:
        return _pattern_sums(np.cos(y[m:]), -np.sin(y[m:]), y[:m], o, p, x, yd, alpha)
    return _pattern_sums(y[:m], y[m:2 * m], y[2 * m:], o, p, x, yd, alpha)


@njit(cache=True)
def _boundaries(o, p, slide, dead, s):  # pragma: no cover - compiled
    """The two sector-bounding samples (j, σ) of every free, live neuron: all neurons'
    first boundary, then all their second. Interior suffix [p, s): p − 1 (inactive),
    p (active); prefix [0, p): p − 1 active, p inactive; all active: samples 0 and
    s − 1 from inside (σ = +1); none active: s − 1 and 0 from outside (σ = −1)."""
    m = o.size
    n = 0
    for i in range(m):
        if slide[i] < 0 and not dead[i]:
            n += 1
    bi = np.empty(2 * n, dtype=np.int64)
    bj = np.empty(2 * n, dtype=np.int64)
    bs = np.empty(2 * n)
    k = 0
    for i in range(m):
        if slide[i] >= 0 or dead[i]:
            continue
        bi[k] = i
        bi[n + k] = i
        if o[i] > 0 and p[i] == 0:
            bj[k], bj[n + k], bs[k], bs[n + k] = 0, s - 1, 1.0, 1.0
        elif o[i] > 0 and p[i] == s:
            bj[k], bj[n + k], bs[k], bs[n + k] = s - 1, 0, -1.0, -1.0
        elif o[i] > 0:
            bj[k], bj[n + k], bs[k], bs[n + k] = p[i] - 1, p[i], -1.0, 1.0
        else:
            bj[k], bj[n + k], bs[k], bs[n + k] = p[i] - 1, p[i], 1.0, -1.0
        k += 1
    return bi, bj, bs


@njit(cache=True)
def _field_kernel(
    y, canonical, tr0, tr1, tr2, lam, alpha, o, p, slide, dead, x, yd
):  # pragma: no cover
    """The whole right-hand side of a mode in one compiled pass, O(m + s).

    Returns the velocity −∇L (with the Filippov projection for sliding neurons and
    zeros for dead ones); for the sliding neurons, in index order, the normal speed G⁻
    of the inactive side and the jump J = G⁺ − G⁻ (the exit event functions); and the
    knot geometry (A, B) = (a, b), resp. (cos θ, −sin θ), for the knot events. The same
    formulas as :meth:`_Field.velocity`, :meth:`_Field.gdot` and
    :meth:`_Field.normal_speeds` (the reference used by the decisions); a sliding
    neuron's pattern already counts its sample as inactive, so its sums are W⁻, Wx⁻.
    """
    m = o.size
    A, B = np.empty(m), np.empty(m)
    if canonical:
        C = y[:m]
        for i in range(m):
            A[i] = np.cos(y[m + i])
            B[i] = -np.sin(y[m + i])
    else:
        C = y[2 * m:]
        for i in range(m):
            A[i] = y[i]
            B[i] = y[m + i]
    rho, w, wx = _pattern_sums(A, B, C, o, p, x, yd, alpha)
    vel = np.zeros(y.size)
    n_sl = 0
    for i in range(m):
        if slide[i] >= 0:
            n_sl += 1
    g_minus, jump = np.empty(n_sl), np.empty(n_sl)
    k = 0
    for i in range(m):
        if canonical:
            r = C[i]
            if tr0:
                vel[i] = -((A[i] * wx[i] - B[i] * w[i]) / alpha + lam * r)
            if tr1:
                vel[m + i] = -(r / alpha) * (B[i] * wx[i] + A[i] * w[i])
            if slide[i] >= 0:
                j = slide[i]
                tau = x[j] * B[i] + A[i]
                g_minus[k] = tau * vel[m + i]
                jump[k] = -(r / alpha) * rho[j] * tau * tau if tr1 else 0.0
                vel[m + i] = 0.0
                k += 1
        else:
            c = C[i]
            if tr0:
                vel[i] = -(c * wx[i] / alpha + lam * A[i])
            if tr1:
                vel[m + i] = -(-c * w[i] / alpha + lam * B[i])
            if tr2:
                vel[2 * m + i] = -((A[i] * wx[i] - B[i] * w[i]) / alpha + lam * c)
            if slide[i] >= 0:
                j = slide[i]
                xj = x[j]
                gm = xj * vel[i] - vel[m + i]
                ja = -(c * rho[j] * xj / alpha) if tr0 else 0.0
                jb = c * rho[j] / alpha if tr1 else 0.0
                g_minus[k] = gm
                jump[k] = xj * ja - jb
                n_sq = xj * xj * tr0 + 1.0 * tr1
                if n_sq > 0:
                    # Filippov: the one-sided field projected onto the surface's tangent.
                    kk = gm / n_sq
                    if tr0:
                        vel[i] -= kk * xj
                    if tr1:
                        vel[m + i] += kk
                k += 1
            if dead[i]:
                vel[i] = 0.0
                vel[m + i] = 0.0
    return vel, g_minus, jump, A, B


@njit(cache=True)
def _kern(y, fa):  # pragma: no cover - compiled
    """:func:`_field_kernel` with the field's arguments packed in the tuple ``fa``."""
    return _field_kernel(
        y, fa[0], fa[1], fa[2], fa[3], fa[4], fa[5], fa[6], fa[7], fa[8], fa[9], fa[10], fa[11]
    )


# DOP853 (Hairer's explicit Runge–Kutta 8(5,3)): scipy's coefficients and step-size
# control, compiled with the field so that a step makes no Python calls.
_DOP_A, _DOP_B, _DOP_C = DOP853.A, DOP853.B, DOP853.C
_DOP_E3, _DOP_E5, _DOP_D = DOP853.E3, DOP853.E5, DOP853.D
_DOP_A_EXTRA, _DOP_C_EXTRA = DOP853.A_EXTRA, DOP853.C_EXTRA
_DOP_STAGES = DOP853.n_stages            # 12 (+1 for the FSAL slope, +3 for the dense output)
_DOP_EXPONENT = -1.0 / (DOP853.error_estimator_order + 1)
_SAFETY, _MIN_FACTOR, _MAX_FACTOR = 0.9, 0.2, 10.0
_NO_INT, _NO_FLOAT = np.zeros(0, dtype=np.int64), np.zeros(0)


@njit(cache=True)
def _stage_sum(K, a, s, h):  # pragma: no cover - compiled
    """h · Σ_{k<s} a_k K_k."""
    n = K.shape[1]
    out = np.zeros(n)
    for k in range(s):
        ak = a[k]
        if ak != 0.0:
            for i in range(n):
                out[i] += ak * K[k, i]
    for i in range(n):
        out[i] *= h
    return out


@njit(cache=True)
def _dop853_step(y, f, t, h_abs, t_bound, rtol, atol, K, fa, A, B, C, E3, E5):  # pragma: no cover
    """One accepted DOP853 step from (t, y) with slope f (scipy's ``RungeKutta._step_impl``
    with DOP853's error estimate; max_step = ∞). ``K`` (16 × n) receives the stages.

    Returns (ok, t_new, y_new, f_new, g_minus, jump, A_new, B_new, h_abs_next, h,
    n_evals), the middle ones being :func:`_field_kernel`'s at y_new; ok is False when
    the step size fell below 10 ulps of t (nothing else is valid then).
    """
    n = y.size
    min_step = 10.0 * abs(np.nextafter(t, np.inf) - t)
    if h_abs < min_step:
        h_abs = min_step
    rejected = False
    n_evals = 0
    while True:
        if h_abs < min_step:
            return (
                False,
                t,
                y,
                f,
                np.empty(0),
                np.empty(0),
                np.empty(0),
                np.empty(0),
                h_abs,
                0.0,
                n_evals,
            )
        t_new = t + h_abs
        if t_new - t_bound > 0:
            t_new = t_bound
        h = t_new - t
        h_abs = abs(h)
        K[0] = f
        for s in range(1, _DOP_STAGES):
            K[s] = _kern(y + _stage_sum(K, A[s], s, h), fa)[0]
        y_new = y + _stage_sum(K, B, _DOP_STAGES, h)
        f_new, g_minus, jump, A_new, B_new = _kern(y_new, fa)
        K[_DOP_STAGES] = f_new
        n_evals += _DOP_STAGES
        e5, e3 = 0.0, 0.0
        for i in range(n):
            scale = atol + max(abs(y[i]), abs(y_new[i])) * rtol
            d5, d3 = 0.0, 0.0
            for k in range(_DOP_STAGES + 1):
                d5 += K[k, i] * E5[k]
                d3 += K[k, i] * E3[k]
            e5 += (d5 / scale) ** 2
            e3 += (d3 / scale) ** 2
        if e5 == 0.0 and e3 == 0.0:
            err = 0.0
        else:
            err = abs(h) * e5 / np.sqrt((e5 + 0.01 * e3) * n)
        if err < 1.0:
            if err == 0.0:
                factor = _MAX_FACTOR
            else:
                factor = min(_MAX_FACTOR, _SAFETY * err ** _DOP_EXPONENT)
            if rejected:
                factor = min(1.0, factor)
            return (
                True,
                t_new,
                y_new,
                f_new,
                g_minus,
                jump,
                A_new,
                B_new,
                h_abs * factor,
                h,
                n_evals,
            )
        factor = _SAFETY * err ** _DOP_EXPONENT
        if not factor > _MIN_FACTOR:  # also when err is NaN (an overflowing trial step)
            factor = _MIN_FACTOR
        h_abs *= factor
        rejected = True


@njit(cache=True)
def _dop853_dense(K, t_old, h, y_old, y_new, f_new, fa, A_EXTRA, C_EXTRA, D):  # pragma: no cover
    """The 7th-order interpolant of the last step (scipy's ``DOP853._dense_output_impl``):
    3 more stages into ``K``, returns the coefficient rows F (7 × n)."""
    for e in range(A_EXTRA.shape[0]):
        s = _DOP_STAGES + 1 + e
        K[s] = _kern(y_old + _stage_sum(K, A_EXTRA[e], s, h), fa)[0]
    n = y_old.size
    F = np.empty((3 + D.shape[0], n))
    dy = y_new - y_old
    F[0] = dy
    F[1] = h * K[0] - dy
    F[2] = 2 * dy - h * (f_new + K[0])
    for r in range(D.shape[0]):
        F[3 + r] = _stage_sum(K, D[r], K.shape[0], h)
    return F


@njit(cache=True)
def _dense_at(F, y_old, t_old, h, t):  # pragma: no cover - compiled
    """The interpolant at time t (scipy's ``Dop853DenseOutput``)."""
    x = (t - t_old) / h
    y = np.zeros(y_old.size)
    q = F.shape[0]
    for k in range(q):
        y += F[q - 1 - k]
        if k % 2 == 0:
            y *= x
        else:
            y *= 1 - x
    return y + y_old


@njit(cache=True)
def _dense_comp(F, y_old, t_old, h, t, c):  # pragma: no cover - compiled
    """Component c of the interpolant at time t."""
    x = (t - t_old) / h
    v = 0.0
    q = F.shape[0]
    for k in range(q):
        v += F[q - 1 - k, c]
        if k % 2 == 0:
            v *= x
        else:
            v *= 1 - x
    return v + y_old[c]


@njit(cache=True)
def _event_values(A, B, g_minus, jump, bi, bj, bs, si, sa, canonical, x):  # pragma: no cover
    """The event functions of a mode (see :class:`_Events`) from the field kernel's
    outputs at a state: σ·gᵢⱼ = σ(Aᵢxⱼ − Bᵢ) for the free neurons' two bounding
    samples, then G⁻ and −G⁺ of the sliding neurons and (full parameters) o·aᵢ of the
    sliding neurons."""
    nb, ns = bi.size, g_minus.size
    v = np.empty(nb + (2 if canonical else 3) * ns)
    for k in range(nb):
        v[k] = bs[k] * (A[bi[k]] * x[bj[k]] - B[bi[k]])
    for k in range(ns):
        v[nb + k] = g_minus[k]
        v[nb + ns + k] = -(g_minus[k] + jump[k])
        if not canonical:
            v[nb + 2 * ns + k] = sa[k] * A[si[k]]
    return v


@njit(cache=True)
def _knot_value(F, y_old, t_old, h, t, i, xj, sg, thr, canonical, m):  # pragma: no cover
    if canonical:
        th = _dense_comp(F, y_old, t_old, h, t, m + i)
        return sg * (np.cos(th) * xj + np.sin(th)) - thr
    return (
        sg
        * (_dense_comp(F, y_old, t_old, h, t, i) * xj - _dense_comp(F, y_old, t_old, h, t, m + i))
        - thr
    )


@njit(cache=True)
def _illinois_point(lo, hi, fl, fh, it):  # pragma: no cover
    """The next trial point of the bracket [lo, hi] (f(lo) = fl > 0 > fh = f(hi)): the
    secant point, a bisection every fourth step or when the secant leaves the bracket."""
    mid = (lo * fh - hi * fl) / (fh - fl)
    if it % 4 == 3:
        mid = 0.5 * (lo + hi)
    if not (np.isfinite(mid) and lo < mid < hi):
        mid = 0.5 * (lo + hi)
    return mid


@njit(cache=True)
def _illinois_update(mid, fm, lo, fl, hi, fh, side):  # pragma: no cover
    """The bracket after evaluating f(mid) = fm: Illinois halves the value of the end that
    is kept twice in a row; a root hit exactly becomes the upper end."""
    if fm > 0:
        lo, fl = mid, fm
        if side > 0:
            fh = fh / 2
        side = 1
    elif fm < 0:
        hi, fh = mid, fm
        if side < 0:
            fl = fl / 2
        side = -1
    else:
        hi, fh = mid, 0.0
    return lo, fl, hi, fh, side


@njit(cache=True)
def _knot_roots(F, y_old, t_old, h, t0, t1, bi, xj, sg, thr, canonical, m):  # pragma: no cover
    """Roots on [t0, t1] of the free-neuron event functions (each depends on two state
    components): Illinois regula falsi with a bisection every fourth step, to rounding.
    Only the earliest root matters (the others are found again after the restart), so
    a component whose bracket lies wholly after another's is dropped (+inf). Each root
    is returned as the upper end of its final bracket (the far side of the surface)."""
    n = bi.size
    lo, hi = np.full(n, t0), np.full(n, t1)
    tol = 4 * np.finfo(np.float64).eps * max(abs(t0), abs(t1), 1e-300)
    best = np.inf
    for k in range(n):
        fl = _knot_value(F, y_old, t_old, h, t0, bi[k], xj[k], sg[k], thr[k], canonical, m)
        if fl <= 0:
            hi[k] = t0
            best = min(best, t0)
            continue
        fh = _knot_value(F, y_old, t_old, h, t1, bi[k], xj[k], sg[k], thr[k], canonical, m)
        lo_k, hi_k, side = t0, t1, 0
        for it in range(200):
            if lo_k > best or not (hi_k - lo_k > tol and fh < 0):
                break
            mid = _illinois_point(lo_k, hi_k, fl, fh, it)
            fm = _knot_value(F, y_old, t_old, h, mid, bi[k], xj[k], sg[k], thr[k], canonical, m)
            lo_k, fl, hi_k, fh, side = _illinois_update(mid, fm, lo_k, fl, hi_k, fh, side)
        lo[k], hi[k] = lo_k, hi_k
        best = min(best, hi_k)
    out = np.full(n, np.inf)
    for k in range(n):
        if lo[k] <= best:
            out[k] = hi[k]
    return out


@njit(cache=True)
def _exit_root(
    F, y_old, t_old, h, t0, t1, comps, thr, fa, si, sa, canonical, m, x
):  # pragma: no cover
    """The earliest time on [t0, t1] at which one of the sliding-neuron event functions
    ``comps`` (indices into the sliding block of :func:`_event_values`) reaches its
    threshold, as the root of their minimum (Illinois, as :func:`_knot_roots`; the minimum
    is positive at t0 and not at t1). Returns (t, n_evals)."""
    tol = 4 * np.finfo(np.float64).eps * max(abs(t0), abs(t1), 1e-300)
    n_evals = 0
    lo, hi = t0, t1
    fl, fh = 1.0, -1.0
    for side_end in range(2):
        t = t0 if side_end == 0 else t1
        y = _dense_at(F, y_old, t_old, h, t)
        _, gm, jp, A, B = _kern(y, fa)
        n_evals += 1
        v = _event_values(A, B, gm, jp, _NO_INT, _NO_INT, _NO_FLOAT, si, sa, canonical, x)
        g = np.inf
        for c in range(comps.size):
            g = min(g, v[comps[c]] - thr[c])
        if side_end == 0:
            fl = g
        else:
            fh = g
    side = 0
    for it in range(200):
        if not (hi - lo > tol and fh < 0 and fl > 0):
            break
        mid = _illinois_point(lo, hi, fl, fh, it)
        y = _dense_at(F, y_old, t_old, h, mid)
        _, gm, jp, A, B = _kern(y, fa)
        n_evals += 1
        v = _event_values(A, B, gm, jp, _NO_INT, _NO_INT, _NO_FLOAT, si, sa, canonical, x)
        fm = np.inf
        for c in range(comps.size):
            fm = min(fm, v[comps[c]] - thr[c])
        lo, fl, hi, fh, side = _illinois_update(mid, fm, lo, fl, hi, fh, side)
    if fl <= 0:
        return t0, n_evals
    if fh > 0:  # none of them reaches its threshold by t1
        return np.inf, n_evals
    return hi, n_evals


@njit(cache=True)
def _set_pattern1(o, p, slide, i, lo, hi, s):  # pragma: no cover - compiled
    """Free neuron i with active set [lo, hi) (a prefix or a suffix); see
    :meth:`_Field.set_pattern`."""
    if lo > 0 and hi < s and lo < hi:
        raise RuntimeError("internal error: an active set that is neither a prefix nor a suffix")
    empty, full = lo >= hi, lo == 0 and hi == s
    o[i] = 1 if (empty or full or hi == s) else -1
    p[i] = s if empty else (0 if full else (lo if hi == s else hi))
    slide[i] = -1


@njit(cache=True)
def _decide_kernel(y, idx, j, side, fa, decide_rtol):  # pragma: no cover - compiled
    """The Filippov rule for free neurons ``idx`` on the surfaces of samples ``j``,
    coming from ``side`` (+1 active, −1 inactive); see :func:`_decide`. Changes the
    mode arrays in ``fa`` in place; returns the state (new sliding neurons snapped onto
    their surfaces) and the numbers of crossings and sliding entries.

    G⁻ and J = G⁺ − G⁻ as in :meth:`_Field.normal_speeds` (the numpy reference):
    the neuron's sums with sample j taken out where the mode counts it active, its
    velocity with them, and the velocity of the jump (ρⱼ, ρⱼxⱼ) without weight decay.
    """
    canonical, tr0, tr1, lam, alpha = fa[0], fa[1], fa[2], fa[4], fa[5]
    o, p, slide, x, yd = fa[6], fa[7], fa[8], fa[10], fa[11]
    m, s, n = o.size, x.size, idx.size
    rho, w, wx = _mode_sums(y, canonical, o, p, x, yd, alpha)
    g_minus, jump = np.empty(n), np.empty(n)
    for k in range(n):
        i, jj = idx[k], j[k]
        active = slide[i] < 0 and ((o[i] > 0 and jj >= p[i]) or (o[i] <= 0 and jj < p[i]))
        rj, xj = rho[jj], x[jj]
        wm = w[i] - (rj if active else 0.0)
        wxm = wx[i] - (rj * xj if active else 0.0)
        if canonical:
            th, r = y[m + i], y[i]
            A, B = np.cos(th), -np.sin(th)
            tau = -xj * np.sin(th) + np.cos(th)
            vt = -(r / alpha) * (B * wxm + A * wm) if tr1 else 0.0
            vtj = -(r / alpha) * (B * (rj * xj) + A * rj) if tr1 else 0.0
            g_minus[k], jump[k] = tau * vt, tau * vtj
        else:
            a, b, c = y[i], y[m + i], y[2 * m + i]
            va = -(c * wxm / alpha + lam * a) if tr0 else 0.0
            vb = -(-c * wm / alpha + lam * b) if tr1 else 0.0
            vaj = -(c * (rj * xj) / alpha + 0.0 * a) if tr0 else 0.0
            vbj = -(-c * rj / alpha + 0.0 * b) if tr1 else 0.0
            g_minus[k], jump[k] = xj * va - vb, xj * vaj - vbj
    out = y.copy()
    n_cross, n_slide = 0, 0
    for k in range(n):
        i, jj = idx[k], j[k]
        gm, gp = g_minus[k], g_minus[k] + jump[k]
        tol = decide_rtol * (abs(gm) + abs(gp)) + 1e-300
        from_minus = side[k] < 0
        cross = gp > tol if from_minus else gm < -tol
        if cross:
            # Crossing toggles sample j, which is at an end of (or adjacent to) the active set.
            lo, hi = (p[i], s) if o[i] > 0 else (0, p[i])
            empty = lo >= hi
            if from_minus:
                new_lo = jj if (empty or jj == lo - 1) else lo
                new_hi = jj + 1 if (empty or jj == hi) else hi
            else:
                new_lo = jj + 1 if jj == lo else lo
                new_hi = jj if (jj == hi - 1 and jj != lo) else hi
            _set_pattern1(o, p, slide, i, new_lo, new_hi, s)
            n_cross += 1
        elif gm > tol if from_minus else gp < -tol:
            # Sliding: project onto the surface exactly and constrain the neuron.
            xj = x[jj]
            if canonical:
                th = out[m + i]
                for _ in range(3):  # Newton on xⱼcos θ + sin θ = 0; θ then stays put (θ̇ = 0)
                    g = xj * np.cos(th) + np.sin(th)
                    th = th - g / (-xj * np.sin(th) + np.cos(th))
                out[m + i] = th
                positive = np.cos(th) > 0
            else:
                g = out[i] * xj - out[m + i]
                kk = g / (xj * xj * tr0 + 1.0 * tr1)
                if tr0:
                    out[i] -= kk * xj
                if tr1:
                    out[m + i] += kk
                positive = out[i] > 0
            o[i] = 1 if positive else -1
            p[i] = jj + 1 if positive else jj
            slide[i] = jj
            n_slide += 1
    return out, n_cross, n_slide


@njit(cache=True)
def _events_setup(y, fa, zero_ulps, decide_rtol):  # pragma: no cover - compiled
    """The event functions of the mode at state y (:func:`_event_values`): boundary
    pairs, sliding neurons, the field at y and the arming tolerances and thresholds.
    An event function that starts at (or within rounding of) zero is disarmed: its
    threshold is min(0, v − tol) until it has moved ``tol`` into its side."""
    canonical, o, p, slide, dead, x = fa[0], fa[6], fa[7], fa[8], fa[9], fa[10]
    m, s = o.size, x.size
    bi, bj, bs = _boundaries(o, p, slide, dead, s)
    ns = 0
    for i in range(m):
        if slide[i] >= 0:
            ns += 1
    si = np.empty(ns, dtype=np.int64)
    k = 0
    for i in range(m):
        if slide[i] >= 0:
            si[k] = i
            k += 1
    sj = slide[si]
    sa = o[si].astype(np.float64)
    f0, gm, jp, A, B = _kern(y, fa)
    v0 = _event_values(A, B, gm, jp, bi, bj, bs, si, sa, canonical, x)
    nb = bi.size
    tol = np.zeros(v0.size)
    eps = np.finfo(np.float64).eps
    for k in range(nb):
        tol[k] = zero_ulps * eps * (abs(A[bi[k]] * x[bj[k]]) + abs(B[bi[k]])) + 1e-300
    for k in range(ns):
        scale = decide_rtol * (abs(gm[k]) + abs(gm[k] + jp[k])) + 1e-300
        tol[nb + k] = scale
        tol[nb + ns + k] = scale
    thr = np.minimum(0.0, v0 - tol)
    return bi, bj, bs, si, sj, sa, f0, tol, thr


@njit(cache=True)
def _record(rec_t, states, k_rec, t_end, t1, y1, F, y_old, t_old, h):  # pragma: no cover - compiled
    """Record the states at the record times up to ``t_end`` within the step."""
    while k_rec < rec_t.size and rec_t[k_rec] <= t_end:
        if rec_t[k_rec] == t1:
            states[k_rec] = y1
        else:
            states[k_rec] = _dense_at(F, y_old, t_old, h, rec_t[k_rec])
        k_rec += 1
    return k_rec


@njit(cache=True)
def _locate_kernel(
    F, y_old, t_old, h, t1, flagged, bi, bj, bs, thr, fa, si, sa
):  # pragma: no cover
    """The earliest event time on the step [t_old, t1] and the flagged components at it
    (within 10⁻¹² relative), and the field evaluations spent. Knot events by
    :func:`_knot_roots`; then the sliding-exit events, only up to the earliest knot
    event, by :func:`_exit_root`."""
    canonical, x = fa[0], fa[10]
    m, nb = fa[6].size, bi.size
    kb = flagged[flagged < nb]
    ke = flagged[flagged >= nb]
    n_evals = 0
    t_end = t1
    roots = np.empty(0)
    if kb.size:
        roots = _knot_roots(
            F, y_old, t_old, h, t_old, t1, bi[kb], x[bj[kb]], bs[kb], thr[kb], canonical, m
        )
        t_end = min(t_end, roots.min())
    if ke.size:
        t_x, n_ev = _exit_root(
            F, y_old, t_old, h, t_old, t_end, ke - nb, thr[ke], fa, si, sa, canonical, m, x
        )
        n_evals += n_ev
        t_end = min(t_end, t_x)
    t_near = t_end + 1e-12 * max(1.0, abs(t_end))
    near_b = kb[roots <= t_near]
    if not ke.size:
        return t_end, near_b, n_evals
    y = _dense_at(F, y_old, t_old, h, min(t_near, t1))
    _, gm, jp, A, B = _kern(y, fa)
    n_evals += 1
    v = _event_values(A, B, gm, jp, _NO_INT, _NO_INT, _NO_FLOAT, si, sa, canonical, x)
    over = v[ke - nb] - thr[ke]
    hit = ke[over <= 0]
    if not hit.size and not near_b.size:  # rounding: the one that defined t_end
        hit = ke[np.argmin(over):np.argmin(over) + 1]
    return t_end, np.concatenate((near_b, hit)), n_evals


@njit(cache=True)
def _advance(
    t,
    y,
    f,
    h_abs,
    t_bound,
    rtol,
    atol,
    K,
    fa,
    bi,
    bj,
    bs,
    si,
    sa,
    thr,
    tol,
    rec_t,
    states,
    k_rec,
    max_steps,
    A,
    B,
    C,
    E3,
    E5,
    A_EXTRA,
    C_EXTRA,
    D,
):  # pragma: no cover - compiled
    """Accepted DOP853 steps in the current mode until an event function crosses its
    threshold (located on the dense output), t_bound is reached, or ``max_steps``
    steps are taken; records the states at ``rec_t`` passed on the way.

    Returns (status, t, y, f, h_abs, t_event, y_event, components, k_rec, n_steps,
    n_evals): status 0 reached t_bound, 1 event, 2 step size below rounding at t,
    3 non-finite state at t, 4 ``max_steps`` taken. After an event (t, y, f) is the
    start of the step that contains it.
    """
    canonical, x = fa[0], fa[10]
    n_steps, n_evals = 0, 0
    none = np.empty(0, dtype=np.int64)
    while t < t_bound and n_steps < max_steps:
        ok, t1, y1, f1, gm1, jp1, A1, B1, h_new, h, n_ev = _dop853_step(
            y, f, t, h_abs, t_bound, rtol, atol, K, fa, A, B, C, E3, E5
        )
        n_evals += n_ev
        if not ok:
            return 2, t, y, f, h_abs, t, y, none, k_rec, n_steps, n_evals
        h_abs = h_new
        n_steps += 1
        if not np.all(np.isfinite(y1)):
            return 3, t1, y1, f1, h_abs, t1, y1, none, k_rec, n_steps, n_evals
        v1 = _event_values(A1, B1, gm1, jp1, bi, bj, bs, si, sa, canonical, x)
        flagged = np.flatnonzero(v1 < thr)
        if flagged.size:
            F = _dop853_dense(K, t, h, y, y1, f1, fa, A_EXTRA, C_EXTRA, D)
            n_evals += A_EXTRA.shape[0]
            t_end, comps, n_ev = _locate_kernel(
                F, y, t, h, t1, flagged, bi, bj, bs, thr, fa, si, sa
            )
            n_evals += n_ev
            k_rec = _record(rec_t, states, k_rec, t_end, t1, y1, F, y, t, h)
            return (
                1,
                t,
                y,
                f,
                h_abs,
                t_end,
                _dense_at(F, y, t, h, t_end),
                comps,
                k_rec,
                n_steps,
                n_evals,
            )
        for c in range(v1.size):  # re-arm the event functions that have left zero
            if v1[c] > tol[c]:
                thr[c] = 0.0
        have_dense = False
        while k_rec < rec_t.size and rec_t[k_rec] <= t1:
            if rec_t[k_rec] == t1:
                states[k_rec] = y1
            else:
                if not have_dense:
                    F = _dop853_dense(K, t, h, y, y1, f1, fa, A_EXTRA, C_EXTRA, D)
                    n_evals += A_EXTRA.shape[0]
                    have_dense = True
                states[k_rec] = _dense_at(F, y, t, h, rec_t[k_rec])
            k_rec += 1
        t, y, f = t1, y1, f1
    return (0 if t >= t_bound else 4), t, y, f, h_abs, t, y, none, k_rec, n_steps, n_evals


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
        # The compiled kernel's arguments (the mode arrays are changed in place only).
        self.kargs = (
            bool(canonical),
            bool(train[0]),
            bool(train[1]),
            bool(train[2]) if len(train) > 2 else False,
            float(lam),
            float(self.alpha),
            self.o,
            self.p,
            self.slide,
            self.dead,
            np.ascontiguousarray(x, dtype=np.float64),
            np.ascontiguousarray(y, dtype=np.float64),
        )

    # ---------------------------------------------------------------- geometry
    def geometry(self, y, idx=None):
        """(A, B, C) of all neurons, or of neurons ``idx``."""
        m = self.m
        if idx is None:
            if self.canonical:
                theta = y[m:]
                return np.cos(theta), -np.sin(theta), y[:m]
            return y[:m], y[m:2 * m], y[2 * m:]
        if self.canonical:
            theta = y[m + idx]
            return np.cos(theta), -np.sin(theta), y[idx]
        return y[idx], y[m + idx], y[2 * m + idx]

    def n_sq(self, j):
        """‖n_T‖² for surfaces at samples j (full only)."""
        xj = self.x[j]
        return xj ** 2 * self.train[0] + 1.0 * self.train[1]

    # ---------------------------------------------------------------- sums over patterns
    def sums(self, y):
        """Residuals ρ and per-neuron W = Σ_active ρ, Wx = Σ_active ρx for the mode."""
        self.n_evals += 1
        return _mode_sums(np.ascontiguousarray(y, dtype=np.float64), self.canonical, self.o, self.p,
                          self.kargs[10], self.kargs[11], float(self.alpha))

    # ---------------------------------------------------------------- velocities
    def velocity(self, y, w, wx, idx=None, decay=True):
        """F = −∇L from the sums (for neurons ``idx``, default all); ``decay=False``
        leaves out the weight decay (used for the linear jump F⁺ − F⁻)."""
        m = self.m
        A, B, C = self.geometry(y, idx)
        lam = self.lam if decay else 0.0
        # Frozen parameters get exact zeros (not 0·value, which is NaN for a rejected
        # trial step that overflowed).
        zero = np.zeros(np.broadcast_shapes(np.shape(A), np.shape(w)))
        if self.canonical:
            r = C
            vr = -((A * wx - B * w) / m + lam * r) if self.train[0] else zero  # cos·Wx + sin·W
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

    def evaluate(self, y):
        """Compiled: the field of the mode at ``y``, and G⁻, J of the sliding neurons
        (in index order); see :func:`_field_kernel`."""
        self.n_evals += 1
        return _field_kernel(np.ascontiguousarray(y, dtype=np.float64), *self.kargs)[:3]

    def rhs(self, t, y):
        # A too-long trial step of the solver can overflow; its error estimate is then
        # not finite and the step is rejected (no floating-point warnings in compiled code).
        return self.evaluate(y)[0]

    def rhs_reference(self, y):
        """The same field as :meth:`rhs`, from the numpy building blocks (the readable
        reference for the compiled kernel, checked against it by the tests)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return self._rhs_numpy(y)

    def _rhs_numpy(self, y):
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
            raise RuntimeError(
                "internal error: an active set that is neither a prefix nor a suffix"
            )
        empty, full = lo >= hi, (lo == 0) & (hi == s)
        o = np.where(empty | full | (hi == s), 1, -1)
        p = np.where(empty, s, np.where(full, 0, np.where(hi == s, lo, hi)))
        self.o[idx], self.p[idx], self.slide[idx] = o, p, -1


# ============================================================================ integrator
class _Events:
    """The event functions of one mode (:func:`_events_setup`, :func:`_event_values`)
    with their arming thresholds, and the field at the mode's start state (``f0``)."""

    def __init__(self, fld: _Field, y):
        self.fld = fld
        (self.bi, self.bj, self.bs, self.si, self.sj, self.sa, self.f0, self.tol, self.thr) = (
            _events_setup(
                np.ascontiguousarray(y, dtype=np.float64), fld.kargs, _ZERO_ULPS, _DECIDE_RTOL
            )
        )
        fld.n_evals += 1

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
    coming from ``side`` (+1 active, −1 inactive): *cross* if the far side also points
    away from the near side, *slide* if both sides push into the surface (the neuron is
    then projected onto it exactly and constrained), else *graze* (stay). Returns the
    state (:func:`_decide_kernel`)."""
    idx = np.asarray(idx, dtype=np.int64)
    y, n_cross, n_slide = _decide_kernel(
        np.ascontiguousarray(y, dtype=np.float64),
        idx,
        np.asarray(j, dtype=np.int64),
        np.asarray(side, dtype=np.float64),
        fld.kargs,
        _DECIDE_RTOL,
    )
    fld.n_evals += 1
    stats["n_crossings"] += int(n_cross)
    stats["n_sliding_entries"] += int(n_slide)
    stats["n_grazing"] += int(idx.size - n_cross - n_slide)
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
    g = np.multiply.outer(x, A) - B  # (s, m), once
    on = np.abs(g) <= _ZERO_ULPS * np.finfo(float).eps * (
        np.abs(np.multiply.outer(x, A)) + np.abs(B)
    )
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


def _initial_step(fld, t0, y0, f0, t_bound, rtol, atol, order=DOP853.error_estimator_order):
    """scipy's ``select_initial_step`` (Hairer, Nørsett & Wanner I, Sec. II.4)."""
    def norm(v):
        return np.linalg.norm(v) / v.size ** 0.5

    interval = abs(t_bound - t0)
    scale = atol + np.abs(y0) * rtol
    d0, d1 = norm(y0 / scale), norm(f0 / scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    h0 = min(h0, interval)
    f1 = fld.evaluate(y0 + h0 * f0)[0]
    d2 = norm((f1 - f0) / scale) / h0
    h1 = (
        max(1e-6, h0 * 1e-3)
        if d1 <= 1e-15 and d2 <= 1e-15
        else (0.01 / max(d1, d2)) ** (1 / (order + 1))
    )
    return min(100 * h0, h1, interval)


# Accepted steps per compiled call between checks for interruption and progress updates.
_STEPS_PER_CALL = 64


def _integrate_piecewise(
    fld: _Field, y0, record_times, rtol, atol, progress, stats, loss_of, stop=None
):
    """The states at ``record_times`` and whether KeyboardInterrupt (or ``stop`` being
    set) ended the integration early; then only the states reached are returned.

    The steps, event detection and location and the records run compiled
    (:func:`_advance`); this loop restarts the solver after each event, applies the
    event (:func:`_handle_events`) and watches for a Zeno point."""
    T = float(record_times[-1])
    record_times = np.ascontiguousarray(record_times, dtype=np.float64)
    n_rec = record_times.size
    states = np.empty((n_rec, y0.size))
    K = np.empty((_DOP_STAGES + 1 + _DOP_A_EXTRA.shape[0], y0.size))
    k_rec = 0
    t, y = 0.0, _initial_mode(fld, y0.copy(), stats)
    while k_rec < n_rec and record_times[k_rec] <= t:
        states[k_rec] = y
        k_rec += 1
    h = None
    stalled, last_event_t = 0, -1.0
    bar, last_draw = None, 0.0
    interrupted = False
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(
            total=T,
            file=sys.stderr,
            unit="t",
            desc="flow",
            leave=False,
            bar_format="{l_bar}{bar}| t={n:.4g}/{total:.4g} [{elapsed}<{remaining}{postfix}]",
        )
    try:
        with interrupt_from_kernel():  # Ctrl-C inside a compiled call, too
            while t < T:
                stats["n_segments"] += 1
                ev = _Events(fld, y)
                stats["max_sliding"] = max(stats["max_sliding"], int(ev.si.size))
                f = ev.f0
                h_abs = _initial_step(fld, t, y, f, T, rtol, atol) if h is None else min(h, T - t)
                while True:
                    if stop is not None and stop.is_set():  # train_many was interrupted
                        raise KeyboardInterrupt
                    (status, t, y, f, h_abs, t_ev, y_ev, comps, k_rec, n_steps, n_evals) = _advance(
                        t,
                        y,
                        f,
                        h_abs,
                        T,
                        rtol,
                        atol,
                        K,
                        fld.kargs,
                        ev.bi,
                        ev.bj,
                        ev.bs,
                        ev.si,
                        ev.sa,
                        ev.thr,
                        ev.tol,
                        record_times,
                        states,
                        k_rec,
                        _STEPS_PER_CALL,
                        _DOP_A,
                        _DOP_B,
                        _DOP_C,
                        _DOP_E3,
                        _DOP_E5,
                        _DOP_A_EXTRA,
                        _DOP_C_EXTRA,
                        _DOP_D,
                    )
                    stats["n_steps"] += int(n_steps)
                    fld.n_evals += int(n_evals)
                    if bar is not None and time.perf_counter() - last_draw > 0.2:
                        last_draw = time.perf_counter()
                        bar.update(t_ev - bar.n)
                        bar.set_postfix_str(
                            f"loss={loss_of(y_ev):.4g} sliding={ev.si.size}", refresh=False
                        )
                    if status != 4:
                        break
                if status == 2:
                    raise RuntimeError(
                        f"the flow's ODE solver failed at t = {t:.6g}: the step size fell below "
                        "the spacing of floating-point numbers"
                    )
                if status == 3:
                    raise RuntimeError(f"the flow's state is not finite at t = {t:.6g} "
                                       "(diverging); try tighter rtol/atol")
                if status == 0:
                    break
                h = max(h_abs, 1e-12 * max(1.0, T))
                stalled = stalled + 1 if t_ev <= last_event_t + 1e-13 * max(1.0, T) else 0
                if stalled > _MAX_STALLED_EVENTS:
                    raise RuntimeError(
                        f"the flow stalled at t = {t_ev:.6g}: {stalled} events without progress "
                        "(a Zeno point); try a looser rtol or method='gd'"
                    )
                last_event_t = t_ev
                y = _handle_events(fld, ev, y_ev, comps, stats)
                t = float(t_ev)
                while k_rec < n_rec and record_times[k_rec] <= t:  # events exactly at a record time
                    states[k_rec] = y
                    k_rec += 1
    except KeyboardInterrupt:
        if k_rec == 0:  # nothing to return
            raise
        interrupted = True
    finally:
        if bar is not None:
            bar.update(t - bar.n)
            bar.close()
    if interrupted:
        stats["sliding_at_end"] = int(np.sum(fld.slide >= 0))
        return states[:k_rec], True
    states[k_rec:] = y
    stats["sliding_at_end"] = int(np.sum(fld.slide >= 0))
    return states, False


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
            bnd_i.append(i)
            bnd_j.append(j)
            bnd_s.append(side)
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
                   atol=1e-10, parameterization="full", progress=False, _stop=None) -> FlowResult:
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
    _stop : threading.Event, optional
        Internal (``train_many``): when set, the integration stops as on Ctrl-C.

    Returns
    -------
    FlowResult
        KeyboardInterrupt (Ctrl-C) during the integration returns the record times
        reached so far with ``interrupted=True``; one before the first record time is
        reached propagates.
    """
    check_network_and_data(net, data)
    times = as_float_array(record_times, "record_times", min_size=1)
    if np.any(times < 0) or np.any(np.diff(times) < 0):
        raise ValueError(
            f"record_times must be non-decreasing and >= 0; got {_short(times.tolist())}"
        )
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
    interrupted = False
    if frozen_features:
        stats["method"] = "exact-linear"
        if canonical:
            phi = _features(np.cos(theta0), -np.sin(theta0), x)
            rs = _linear_flow(phi, r0, yd, alpha_eff, lam, times)
            states = np.concatenate((rs, np.broadcast_to(theta0, rs.shape)), axis=1)
        else:
            phi = _features(net.a, net.b, x)
            cs = _linear_flow(phi, net.c, yd, alpha, lam, times)
            states = np.concatenate(
                (np.broadcast_to(net.a, cs.shape), np.broadcast_to(net.b, cs.shape), cs), axis=1
            )
    else:
        def loss_of(state):
            return _objective(fld, state)

        states, interrupted = _integrate_piecewise(
            fld, y0, times, rtol, atol, progress, stats, loss_of, _stop
        )
        times = times[:states.shape[0]]
    stats["n_rhs_evals"] = fld.n_evals
    loss = np.array([_objective(fld, st, count=False) for st in states])
    r: np.ndarray | None
    theta: np.ndarray | None
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
    return FlowResult(
        times,
        np.ascontiguousarray(a),
        np.ascontiguousarray(b),
        np.ascontiguousarray(c),
        loss,
        None if r is None else np.ascontiguousarray(r),
        None if theta is None else np.ascontiguousarray(theta),
        stats,
        interrupted,
    )


def _objective(fld: _Field, state, count=True) -> float:
    """L at a state, with the true ReLU (independent of the mode)."""
    A, B, C = fld.geometry(state)
    rho = _features(A, B, fld.x) @ C / fld.alpha - fld.y
    m = fld.m
    if fld.canonical:
        pen = float(state[:m] @ state[:m]) if fld.train[0] else 0.0
    else:
        pen = sum(
            float(state[k * m : (k + 1) * m] @ state[k * m : (k + 1) * m])
            for k in range(3)
            if fld.train[k]
        )
    return 0.5 * float(rho @ rho) + 0.5 * fld.lam * pen
