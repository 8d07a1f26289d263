"""Compiled (numba) training kernels, checked against ``_reference``.

Both parameterizations are one computation. A network is f(x) = scale·Σᵢ wᵢ[pᵢx − qᵢ]₊
with (p, q, w, scale) = (a, b, c, 1/α) in full parameters and (cos θ, −sin θ, r, 1/m)
in canonical ones (Williams eq. 4); only the update of the parameters differs.

The sorted-samples trick. A batch's samples are sorted by x, and neuron i is active at
xⱼ iff pᵢxⱼ − qᵢ > 0 (the reference's exact expression), a condition monotone in j
(rounding is monotone too). So the active samples form a suffix [eᵢ, B) when pᵢ > 0 and
a prefix [0, eᵢ) when pᵢ <= 0, where the boundary eᵢ is the first j at which
hᵢ(j) = [pᵢxⱼ − qᵢ > 0] ≠ [pᵢ > 0] fails. Then

* the forward pass is a difference array: neuron i adds wᵢpᵢ to the slope and −wᵢqᵢ to
  the intercept of f on its run, one prefix sum over the B samples gives
  f(xⱼ) = scale·(xⱼ·S¹ⱼ + S⁰ⱼ);
* with prefix sums G⁰, G¹ of gⱼ = ρⱼ (÷ B for the mean loss) and of gⱼxⱼ, the sums
  P⁰ = Σ_run gⱼ and P¹ = Σ_run gⱼxⱼ are one lookup each, and
  ∂L/∂aᵢ = cᵢP¹/α, ∂L/∂bᵢ = −cᵢP⁰/α, ∂L/∂cᵢ = (aᵢP¹ − bᵢP⁰)/α;
  ∂L̃/∂rᵢ = (cos θᵢ·P¹ + sin θᵢ·P⁰)/m, ∂L̃/∂θᵢ = rᵢ(−sin θᵢ·P¹ + cos θᵢ·P⁰)/m.

eᵢ is followed on the full (sorted) data: bisection once, then at each step a walk
from the previous step's eᵢ, which is O(1) amortised since knots move little per step.
A minibatch's boundary is then rank[eᵢ], the number of the batch's samples before it
(a table built in O(s) per step). A step costs O(m + s) after the first (O(m log s)),
instead of O(m·B), and the pass over the neurons is fused: after updating neuron i for
step t the kernel locates its run for step t + 1 and scatters its contribution to that
step's forward pass, so each step reads the parameters once.

For small batches (B <= _DENSE_MAX) a dense form is faster: neurons are processed in
blocks that stay in L1; each block is updated, then one vectorised loop per sample
accumulates the block's share of the next forward pass and its active counts, which
index a table of (P⁰, P¹) per run (one load per neuron, no branch on the sign of p).

Full-batch steps without noise, when m is large against s (``_use_segments``), take a
third path with no per-neuron lookup or scatter at all: the neurons are kept grouped
by run, so that a group's (P⁰, P¹) and its share of the forward pass are one value
each (see the "segment path" section). This is the path of the speed targets.

Langevin noise is drawn inside the kernel, one block at a time, from a counter-based
generator (SplitMix64 + Box–Muller, see the "langevin noise" section): the noise of a
neuron depends on (key, row, neuron) only, so no noise array is materialised and the
numpy reference (``_reference.noise_rows``) computes the very same bits.

Every kernel has one compiled signature (float64 arrays, int64 indices, dummy arrays
where a feature is off) and is cached on disk, so compilation is paid once.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir as _ir
from numba import njit
from numba import types as _types
from numba.extending import intrinsic as _intrinsic

from ._compile_notice import install as _install_compile_notice

_install_compile_notice()  # one line on stderr when these kernels are compiled (not when cached)

__all__: list[str] = []

# Batches up to this size use the dense blocked path. Measured at m = 10⁴ (ns per
# neuron-step, dense/sorted): B = 10: 3.7/13.6, 32: 6.3/13.2, 64: 10.4/13.9,
# 96: 14.8/14.5, 128: 18.5/13.8.
_DENSE_MAX = 80
# Neurons per block of the dense path: (p, q, w, count) of a block fit in L1 (16 kB).
_BLOCK = 512
_EMPTY_IDX = np.zeros((1, 1), dtype=np.int64)
_EMPTY_NOISE = np.zeros((1, 1, 1))
_NO_KEY = np.uint64(0)


# ----------------------------------------------------------------------------- shared pieces
@njit(cache=True, nogil=True)
def _load_batch(x, y, batch_idx, batch_len, t, full, xb, yb):
    if full:
        return x.size
    nb = batch_len[t]
    for j in range(nb):
        k = batch_idx[t, j]
        xb[j] = x[k]
        yb[j] = y[k]
    return nb


@njit(cache=True, nogil=True, inline="always")
def _new_full(
    ai, bi, ci, p0, p1, ta, tb, tc, weight_decay, lr, inv_alpha, noise_scale, noise, i, noisy
):
    """One update of neuron i in full parameters (see _reference.advance_full)."""
    row = 0
    na = ai
    nb = bi
    nc = ci
    if ta:
        na = ai - lr * (ci * p1 * inv_alpha + weight_decay * ai)
        if noisy:
            na += noise_scale * noise[row, i]
            row += 1
    if tb:
        nb = bi - lr * (-ci * p0 * inv_alpha + weight_decay * bi)
        if noisy:
            nb += noise_scale * noise[row, i]
            row += 1
    if tc:
        nc = ci - lr * ((ai * p1 - bi * p0) * inv_alpha + weight_decay * ci)
        if noisy:
            nc += noise_scale * noise[row, i]
    return na, nb, nc


@njit(cache=True, nogil=True, inline="always")
def _hoisted_full(ai, bi, ci, p0, p1, step_a, step_b, step_c, keep_a, keep_b, keep_c):
    """One neuron's full-parameter update with the factors hoisted out of the loop:
    z ← keep·z − step·(α·∂L/∂z), keep = 1 − lr·λ and step = lr/α (1 and 0 when z is
    not trained). Branch-free, so the loops that call it vectorise."""
    return (keep_a * ai - step_a * (ci * p1), keep_b * bi + step_b * (ci * p0),
            keep_c * ci - step_c * (ai * p1 - bi * p0))


@njit(cache=True, nogil=True, inline="always")
def _new_canonical(
    ri, ti, ci, si, p0, p1, tr, tt, weight_decay, lr, inv_m, noise_scale, threshold, noise, i, noisy
):
    """One update of neuron i in canonical parameters (see _reference.advance_canonical)."""
    row = 0
    nr = ri
    nt = ti
    if tr:
        nr = ri - lr * ((ci * p1 + si * p0) * inv_m + weight_decay * ri)
        if noisy:
            nr += noise_scale * noise[row, i]
            row += 1
        if threshold > 0.0:
            mag = abs(nr) - threshold
            nr = np.sign(nr) * mag if mag > 0.0 else 0.0
    if tt:
        nt = ti - lr * (ri * (-si * p1 + ci * p0) * inv_m)
        if noisy:
            nt += noise_scale * noise[row, i]
    return nr, nt


@njit(cache=True, nogil=True, inline="always")
def _run_sums(positive, e, nb, g0, g1):
    """(P⁰, P¹) over the run with boundary e: [e, nb) when positive, else [0, e)."""
    k = np.uint64(e)  # unsigned: no negative-index wraparound check, so the loop vectorises
    q0 = g0[k]
    q1 = g1[k]
    if positive:
        return g0[nb] - q0, g1[nb] - q1
    return q0, q1


@njit(cache=True, nogil=True, inline="always")
def _outside(p, q, xj):
    """hᵢ(j): True on the samples before the boundary (inactive ones when p > 0)."""
    return (p * xj - q > 0.0) != (p > 0.0)


@njit(cache=True, nogil=True, inline="always")
def _boundary(p, q, xb, nb):
    lo = 0
    hi = nb
    while lo < hi:
        mid = (lo + hi) >> 1
        if _outside(p, q, xb[mid]):
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True, inline="always")
def _boundary_from(p, q, xb, nb, e):
    """The boundary, walking from a guess e (exact for any guess; fast for a close one)."""
    while e < nb and _outside(p, q, xb[e]):
        e += 1
    while e > 0 and not _outside(p, q, xb[e - 1]):
        e -= 1
    return e


@njit(cache=True, nogil=True)
def _prefix_sums(xb, yb, nb, f_slope, f_icpt, dense, scale, inv_count, g0, g1):
    """Residuals from the forward pass (dense: f_slope holds Σ wᵢ[pᵢxⱼ − qᵢ]₊; else the
    difference arrays of slope and intercept), their prefix sums, and the batch loss.
    Clears the forward-pass arrays for the next step."""
    s1 = 0.0
    s0 = 0.0
    acc0 = 0.0
    acc1 = 0.0
    loss = 0.0
    g0[0] = 0.0
    g1[0] = 0.0
    for j in range(nb):
        if dense:
            value = f_slope[j]
        else:
            s1 += f_slope[j]
            s0 += f_icpt[j]
            value = xb[j] * s1 + s0
        rho = value * scale - yb[j]
        loss += rho * rho
        g = rho * inv_count
        acc0 += g
        acc1 += g * xb[j]
        g0[j + 1] = acc0
        g1[j + 1] = acc1
    for j in range(f_slope.size):
        f_slope[j] = 0.0
        f_icpt[j] = 0.0
    return 0.5 * loss * inv_count


@njit(cache=True, nogil=True)
def _batch_ranks(batch_idx, batch_len, t, mark, rank):
    """rank[k] = how many of batch t's samples have index < k in the full (sorted) data,
    so a boundary k on the full data is the boundary rank[k] on the batch."""
    for j in range(batch_len[t]):
        mark[batch_idx[t, j]] = 1
    rank[0] = 0
    for k in range(mark.size):
        rank[k + 1] = rank[k] + mark[k]
        mark[k] = 0


# ----------------------------------------------------------------------------- langevin noise
# Noise row R of a run (layout: _api, "Langevin noise") is made from the Box–Muller pairs
# R·⌈m/2⌉ + j, whose two uniforms are the two 32-bit halves of SplitMix64's output number
# R·⌈m/2⌉ + j for the run's key, in chunks of 256 neurons: the first members of a chunk's
# pairs, then the second members (two runs, stored without the shuffles that
# interleaving them costs). Only integer arithmetic, bit casts and IEEE +, −, ×, ÷ and √
# are used (no libm call; numba emits no fused multiply-add without fastmath), so the
# numbers are the same bits whether a loop is vectorised or not, and
# ``_reference.noise_rows`` computes them again in numpy, bit for bit.
#
# ln, sin and cos are short minimax polynomials, not libm-accurate ones: u moves in steps
# of 2⁻³² and φ in steps of 1.5e-9 rad, so relative errors up to ~1e-10 are below what one
# step of the inputs does (measured: < 6.7e-11 on every Gaussian against the exact
# Box–Muller value of the same uniforms, tests/test_noise.py). A chunk is made in five
# short loops (hash; split of u; radius; sin and cos; octant and store) rather than one
# long one: the long loop body kept too few iterations in flight and ran latency-bound,
# and fusing any two of them was slower than running them apart (measured). The divider
# (one ÷ and one √ per pair) takes ~0.55 of the ~1.7 ns per Gaussian (AVX2, Zen 3), the
# hash ~0.28, sin and cos ~0.5; numpy's ``standard_normal`` takes 12-13 ns.
@_intrinsic
def _bits(typingctx, x):
    """The bits of a float64 as a uint64 (a bit cast, no conversion)."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.IntType(64))
    return _types.uint64(_types.float64), codegen


@_intrinsic
def _float(typingctx, x):
    """The float64 whose bits are the uint64 ``x``."""
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], _ir.DoubleType())
    return _types.float64(_types.uint64), codegen


# Every integer below is a uint64 (numba turns uint64-with-int64 arithmetic into float64),
# and every shift is logical (AVX2 has no 64-bit arithmetic shift).
_GAMMA = np.uint64(0x9E3779B97F4A7C15)   # SplitMix64 (Steele, Lea & Flood 2014)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_MANT = np.uint64(0xFFFFFFFFFFFFF)
_SQRT2_MANT = np.uint64(0x6A09E667F3BCD)
_ONE_BITS = np.uint64(0x3FF0000000000000)      # 1.0
_ONE_HALF_BITS = np.uint64(0x3FF0000000080000)  # 1 + ½·2⁻³²
_HI32_MANT = np.uint64(0xFFFFFFFF << 20)       # the top 32 of the 52 mantissa bits
_BIAS_BITS = np.uint64(0x4330000000000000)     # 2⁵²
_LOW29 = np.uint64(0x1FFFFFFF)
_SIGN = np.uint64(1 << 63)
_U1, _U12, _U23, _U27, _U29, _U30, _U31, _U32, _U33, _U52, _U63, _U1023 = (
    np.uint64(v) for v in (1, 12, 23, 27, 29, 30, 31, 32, 33, 52, 63, 1023))
# −2 ln m = s·(−4 + z·P(z)), s = (m − 1)/(m + 1), z = s², m in [√2/2, √2) (|s| ≤ 3 − 2√2):
# minimax for the relative error (4.8e-12)
_P1, _P2, _P3, _P4 = (
    -1.3333333129724723, -0.8000066907736186, -0.5707469346939936, -0.4716295248224655)
_M2LN2 = -1.3862943611198906   # −2 ln 2
# sin(πy/4) = y·A(y²) (relative error 4.6e-12) and cos(πy/4) = 1 + y²·B(y²) (6.4e-11),
# y in [0, 1]: minimax for the relative error, evaluated by Estrin's scheme (_sin_cos)
_A0, _A1, _A2, _A3, _A4 = (0.7853981633938905, -0.08074551201299178, 0.00249039318326693,
                           -3.6572349551358685e-05, 3.0897515121419694e-07)
_B1, _B2, _B3, _B4 = (-0.3084251356494161, 0.015854326622835535, -0.0003259400798500591,
                      3.530338049449397e-06)
_GAUSS_CHUNK = 128   # pairs per chunk of 256 Gaussians (scratch: 6 × 1 kB, in L1)
assert _BLOCK % (2 * _GAUSS_CHUNK) == 0  # a dense block is whole noise chunks


@njit(cache=True, nogil=True, inline="always")
def _mix(z):
    """SplitMix64's output function (two xor-shift-multiply rounds, mod 2⁶⁴)."""
    z = (z ^ (z >> _U30)) * _MIX1
    z = (z ^ (z >> _U27)) * _MIX2
    return z ^ (z >> _U31)


@njit(cache=True, nogil=True, inline="always")
def _splitmix64(key, k):
    """SplitMix64's output number k (0-based) for the seed ``key`` (uint64 arithmetic)."""
    return _mix(key + (k + _U1) * _GAMMA)


@njit(cache=True, nogil=True, inline="always")
def _split_u(h):
    """(s, k) for u = (⌊h/2³²⌋ + ½)·2⁻³² = 2ᵏ·m, m in [√2/2, √2): s = (m − 1)/(m + 1)
    and k as a float64 (branch-free, exact but for the one rounding of s)."""
    ubits = _bits(_float(((h >> _U12) & _HI32_MANT) | _ONE_HALF_BITS) - 1.0)   # u, exactly
    mant = ubits & _MANT
    big = (_SQRT2_MANT - mant) >> _U63                       # 1 when the mantissa exceeds √2's
    m = _float(mant | ((_U1023 - big) << _U52))              # in [√2/2, √2)
    k = _float(_BIAS_BITS + (ubits >> _U52) + big) - 4503599627371519.0   # the exponent, exactly
    f = m - 1.0
    return f / (2.0 + f), k


@njit(cache=True, nogil=True, inline="always")
def _radius(s, k):
    """r = √(−2 ln u) = √(−2k ln 2 − 4 atanh s) from ``_split_u``'s (s, k)."""
    z = s * s
    return math.sqrt(k * _M2LN2 + s * (-4.0 + z * (_P1 + z * (_P2 + z * (_P3 + z * _P4)))))


@njit(cache=True, nogil=True, inline="always")
def _sin_cos(h):
    """(sin φ, cos φ) for φ = (π/4)·(h mod 2²⁹)/2²⁹."""
    y = _float(_ONE_BITS | ((h & _LOW29) << _U23)) - 1.0     # (h mod 2²⁹)/2²⁹, exactly
    w = y * y
    w2 = w * w  # Estrin's scheme: shorter dependency chains than Horner's (measured 15% faster)
    return (y * ((_A0 + w * _A1) + w2 * ((_A2 + w * _A3) + w2 * _A4)),
            1.0 + w * ((_B1 + w * _B2) + w2 * (_B3 + w * _B4)))


@njit(cache=True, nogil=True, inline="always")
def _octant(h, sin, cos, r):
    """(±r cos θ₀, ±r sin θ₀) from φ's sine and cosine and bits 29-31 of h: θ₀ = π/2 − φ
    when bit 29 is set (cos and sin swap), else φ; bit 30 negates the first, bit 31 the
    second (θ₀ → π − θ₀, −θ₀). Exact (a selection and sign flips)."""
    swap = (h >> _U29) & _U1
    first = sin if swap else cos
    second = cos if swap else sin
    rb = _bits(r)
    return (first * _float(rb ^ ((h << _U33) & _SIGN)),
            second * _float(rb ^ ((h << _U32) & _SIGN)))


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def _chunk_into(key, k0, n, out, h, work):
    """The n <= 2·h.size Gaussians of one chunk: with q = ⌈n/2⌉ pairs k0 + j (j < q),
    out[j] is the first member of pair j and out[q + j] the second (j < n − q), made in
    short loops (each vectorises; h and work are scratch)."""
    q = (n + 1) >> 1
    z = key + (k0 + _U1) * _GAMMA
    for j in range(q):
        h[j] = _mix(z)
        z += _GAMMA
    s = work[0]
    e = work[1]
    r = work[2]
    sin = work[3]
    cos = work[4]
    for j in range(q):
        s[j], e[j] = _split_u(h[j])
    for j in range(q):
        r[j] = _radius(s[j], e[j])
    for j in range(q):
        sin[j], cos[j] = _sin_cos(h[j])
    if n == 2 * _GAUSS_CHUNK:  # a whole chunk (n known when compiled): stored directly
        for j in range(_GAUSS_CHUNK):
            first, second = _octant(h[j], sin[j], cos[j], r[j])
            out[j] = first
            out[_GAUSS_CHUNK + j] = second
        return
    for j in range(q):  # in place, then copied (one loop storing to out[j] and out[q + j]
        sin[j], cos[j] = _octant(h[j], sin[j], cos[j], r[j])   # with q unknown: scalar)
    for j in range(q):
        out[j] = sin[j]
    for j in range(n - q):  # n odd: the last pair's second member is not used
        out[q + j] = cos[j]


@njit(cache=True, nogil=True, error_model="numpy")
def _noise_row_into(key, row, m, lo, out, h, work):
    """out[j] = the Gaussian of neuron lo + j in noise row ``row`` of a run of m neurons
    (layout: _api, "Langevin noise"). lo is a multiple of the chunk length 2·h.size, and
    so is lo + out.size unless it is m: the chunks are then the row's own."""
    base = np.uint64(row) * np.uint64((m + 1) >> 1) + np.uint64(lo >> 1)
    n = out.size
    chunk = 2 * h.size
    done = 0
    while done < n:
        c = min(chunk, m - lo - done)
        k = base + np.uint64(done >> 1)
        if c == 2 * _GAUSS_CHUNK:  # a whole chunk: compiled with its length known
            _chunk_into(key, k, 2 * _GAUSS_CHUNK, out[done:done + c], h, work)
        else:
            _chunk_into(key, k, c, out[done:done + c], h, work)
        done += c


@njit(cache=True, nogil=True, error_model="numpy")
def _add_noise_row(key, row, m, lo, z, scale, xs, h, work):
    """z[j] += scale·(the Gaussian of neuron lo + j in row ``row``), made in the scratch
    xs (z.size long); whether every z is finite afterwards."""
    _noise_row_into(key, row, m, lo, xs, h, work)
    ok = 1
    for j in range(z.size):
        v = z[j] + scale * xs[j]
        z[j] = v
        ok &= v * 0.0 == 0.0  # False for inf and NaN
    return ok == 1


@njit(cache=True, nogil=True)
def _gaussian_scratch():
    return np.empty(_GAUSS_CHUNK, dtype=np.uint64), np.empty((5, _GAUSS_CHUNK))


@njit(cache=True, nogil=True, error_model="numpy")
def _fill_noise_rows(key, row0, out):
    """out[k, i] = the Gaussian of neuron i in noise row row0 + k (out: rows × m)."""
    h, work = _gaussian_scratch()
    for k in range(out.shape[0]):
        _noise_row_into(key, row0 + k, out.shape[1], 0, out[k], h, work)


# ----------------------------------------------------------------------------- dense path
@njit(cache=True, nogil=True, inline="always")
def _relu_act(pre):
    return (pre if pre > 0.0 else 0.0), (1.0 if pre > 0.0 else 0.0)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _forward_counts(p, q, w, xb, nb, f, count):
    """f[j] += Σᵢ wᵢ[pᵢxⱼ − qᵢ]₊ over a block, and countᵢ = kᵢ + (0 if pᵢ > 0 else nb + 1)
    with kᵢ = #{j < nb : pᵢxⱼ − qᵢ > 0}: the neuron's row in ``_run_table``.

    Four samples per pass over the block (then two, then one), so that each (pᵢ, qᵢ, wᵢ)
    load serves several samples: loads, not arithmetic, bound the one-sample loop."""
    n = p.size
    offset = float(nb + 1)
    for i in range(n):
        count[i] = 0.0 if p[i] > 0.0 else offset
    j = 0
    while j + 4 <= nb:
        x0 = xb[j]
        x1 = xb[j + 1]
        x2 = xb[j + 2]
        x3 = xb[j + 3]
        acc0 = 0.0
        acc1 = 0.0
        acc2 = 0.0
        acc3 = 0.0
        for i in range(n):
            pi = p[i]
            qi = q[i]
            wi = w[i]
            r0, k0 = _relu_act(pi * x0 - qi)
            r1, k1 = _relu_act(pi * x1 - qi)
            r2, k2 = _relu_act(pi * x2 - qi)
            r3, k3 = _relu_act(pi * x3 - qi)
            acc0 += wi * r0
            acc1 += wi * r1
            acc2 += wi * r2
            acc3 += wi * r3
            count[i] += (k0 + k1) + (k2 + k3)
        f[j] += acc0
        f[j + 1] += acc1
        f[j + 2] += acc2
        f[j + 3] += acc3
        j += 4
    if j + 2 <= nb:
        x0 = xb[j]
        x1 = xb[j + 1]
        acc0 = 0.0
        acc1 = 0.0
        for i in range(n):
            pi = p[i]
            qi = q[i]
            wi = w[i]
            r0, k0 = _relu_act(pi * x0 - qi)
            r1, k1 = _relu_act(pi * x1 - qi)
            acc0 += wi * r0
            acc1 += wi * r1
            count[i] += k0 + k1
        f[j] += acc0
        f[j + 1] += acc1
        j += 2
    if j < nb:
        xj = xb[j]
        acc = 0.0
        for i in range(n):
            r, k = _relu_act(p[i] * xj - q[i])
            acc += w[i] * r
            count[i] += k
        f[j] += acc


# The dense updates are written without branches in the per-neuron loop (a parameter that
# does not train gets step 0.0, which leaves it exactly unchanged) and with the noise
# (made in the staged loops of ``_noise_row_into`` into scratch rows, then added in the
# update loop when every name trains, else in a loop of its own), the proximal step and
# the new cos/sin in loops of their own, so that every loop vectorises; runtime flags
# inside one loop would keep it scalar.
@njit(cache=True, nogil=True)
def _run_table(nb, g0, g1, t0, t1):
    """(P⁰, P¹) for every run of a batch of nb samples: row k is the suffix of length k
    (a neuron with p > 0 and k active samples), row nb + 1 + k the prefix of length k
    (p <= 0); the values are those of ``_run_sums``. One lookup per neuron, no branch
    on the (coin-flip) sign of p."""
    for k in range(nb + 1):
        t0[k], t1[k] = _run_sums(True, nb - k, nb, g0, g1)
        t0[nb + 1 + k], t1[nb + 1 + k] = _run_sums(False, k, nb, g0, g1)


@njit(cache=True, nogil=True, inline="always")
def _one_sample_sums(k, g0, g1):
    """(P⁰, P¹) of a neuron with row k of a one-sample batch's table: k is 0 or 2
    (inactive), 1 or 3 (active), and the rows are 0 or (g0, g1) = (g, g·x); arithmetic
    instead of a gather, so that the loops using it vectorise."""
    active = k - 2.0 * np.floor(0.5 * k)
    return g0 * active, g1 * active


@njit(cache=True, nogil=True)
def _lookup_sums(count, t0, t1, s0, s1, nb):
    if nb == 1:  # one sample (batch size 1)
        g0 = t0[1]
        g1 = t1[1]
        for i in range(count.size):
            s0[i], s1[i] = _one_sample_sums(count[i], g0, g1)
        return
    for i in range(count.size):
        k = np.uint64(np.int64(count[i]))  # unsigned: no wraparound check, a plain load
        s0[i] = t0[k]
        s1[i] = t1[k]


@njit(cache=True, nogil=True)
def _all_finite(z):
    ok = 1
    for i in range(z.size):
        ok &= z[i] * 0.0 == 0.0  # False for inf and NaN
    return ok == 1


@njit(cache=True, nogil=True)
def _update_full_block(
    a,
    b,
    c,
    count,
    t0,
    t1,
    nb,
    ta,
    tb,
    tc,
    weight_decay,
    lr,
    inv_alpha,
    noise_scale,
    noisy,
    key,
    noise_row,
    m,
    lo,
    gauss_h,
    gauss_work,
    scratch,
):
    """One dense update of the block of neurons lo, lo + 1, ... of m; when ``noisy``,
    trained name k (in the order "abc") then gets noise_scale times the block's part of
    noise row noise_row + k of the stream ``key``."""
    # z ← (1 − lr·λ)·z − (lr/α)·(α·∂L/∂z): the factors are hoisted out of the loop
    # (the rounding differs from the reference's by an ulp or so per step)
    step_a = lr * inv_alpha if ta else 0.0
    step_b = lr * inv_alpha if tb else 0.0
    step_c = lr * inv_alpha if tc else 0.0
    keep_a = 1.0 - lr * weight_decay if ta else 1.0
    keep_b = 1.0 - lr * weight_decay if tb else 1.0
    keep_c = 1.0 - lr * weight_decay if tc else 1.0
    n = a.size
    s0 = scratch[0, :n]
    s1 = scratch[1, :n]
    ok = 1
    if noisy and ta and tb and tc:
        # every row noised (Langevin's usual case): the block's noise is made first
        # (scratch rows 2-4) and added in the update loop, the same operations as adding
        # it afterwards (fl(fl(update) + fl(scale·ξ))), without a second pass over a, b, c
        xa = scratch[2, :n]
        xb = scratch[3, :n]
        xc = scratch[4, :n]
        _noise_row_into(key, noise_row, m, lo, xa, gauss_h, gauss_work)
        _noise_row_into(key, noise_row + 1, m, lo, xb, gauss_h, gauss_work)
        _noise_row_into(key, noise_row + 2, m, lo, xc, gauss_h, gauss_work)
        if nb == 1:  # batch size 1: (P⁰, P¹) computed in the loop, no lookup pass
            g0 = t0[1]
            g1 = t1[1]
            for i in range(n):
                p0, p1 = _one_sample_sums(count[i], g0, g1)
                na, nbias, nc = _hoisted_full(
                    a[i], b[i], c[i], p0, p1, step_a, step_b, step_c, keep_a, keep_b, keep_c
                )
                na = na + noise_scale * xa[i]
                nbias = nbias + noise_scale * xb[i]
                nc = nc + noise_scale * xc[i]
                a[i] = na
                b[i] = nbias
                c[i] = nc
                ok &= na * 0.0 + nbias * 0.0 + nc * 0.0 == 0.0  # False for inf and NaN
            return ok == 1
        _lookup_sums(count, t0, t1, s0, s1, nb)
        for i in range(n):
            na, nbias, nc = _hoisted_full(
                a[i], b[i], c[i], s0[i], s1[i], step_a, step_b, step_c, keep_a, keep_b, keep_c
            )
            na = na + noise_scale * xa[i]
            nbias = nbias + noise_scale * xb[i]
            nc = nc + noise_scale * xc[i]
            a[i] = na
            b[i] = nbias
            c[i] = nc
            ok &= na * 0.0 + nbias * 0.0 + nc * 0.0 == 0.0  # False for inf and NaN
        return ok == 1
    _lookup_sums(count, t0, t1, s0, s1, nb)  # the lookups (scalar), then the update (vectorised)
    for i in range(n):
        p0 = s0[i]
        p1 = s1[i]
        na, nbias, nc = _hoisted_full(
            a[i], b[i], c[i], p0, p1, step_a, step_b, step_c, keep_a, keep_b, keep_c
        )
        a[i] = na
        b[i] = nbias
        c[i] = nc
        ok &= na * 0.0 + nbias * 0.0 + nc * 0.0 == 0.0  # False for inf and NaN
    if not noisy:
        return ok == 1
    row = noise_row
    xs = scratch[2, :n]
    for z, on in ((a, ta), (b, tb), (c, tc)):
        if on:  # a finite value plus finite noise: only the noised rows need a new check
            if not _add_noise_row(key, row, m, lo, z, noise_scale, xs, gauss_h, gauss_work):
                ok = 0
            row += 1
    return ok == 1


@njit(cache=True, nogil=True)
def _update_canonical_block(r, theta, cos, nsin, count, t0, t1, nb, tr, tt, weight_decay, lr, inv_m,
                            noise_scale, threshold, noisy, key, noise_row, m, lo,
                            gauss_h, gauss_work, scratch):
    lr_r = lr if tr else 0.0
    lr_t = lr if tt else 0.0
    n = r.size
    s0 = scratch[0, :n]
    s1 = scratch[1, :n]
    _lookup_sums(count, t0, t1, s0, s1, nb)
    for i in range(n):
        p0 = s0[i]
        p1 = s1[i]
        ri = r[i]
        ci = cos[i]
        si = -nsin[i]
        r[i] = ri - lr_r * ((ci * p1 + si * p0) * inv_m + weight_decay * ri)
        theta[i] = theta[i] - lr_t * (ri * (-si * p1 + ci * p0) * inv_m)
    row = noise_row
    xs = scratch[2, :n]
    if tr and noisy:
        _add_noise_row(key, row, m, lo, r, noise_scale, xs, gauss_h, gauss_work)
        row += 1
    if tr and threshold > 0.0:
        for i in range(r.size):
            mag = abs(r[i]) - threshold
            r[i] = np.sign(r[i]) * mag if mag > 0.0 else 0.0
    if tt:
        if noisy:
            _add_noise_row(key, row, m, lo, theta, noise_scale, xs, gauss_h, gauss_work)
        for i in range(r.size):
            cos[i] = np.cos(theta[i])
            nsin[i] = -np.sin(theta[i])
    return _all_finite(r) and _all_finite(theta)


# ----------------------------------------------------------------------------- the kernel
@njit(cache=True, nogil=True)
def _advance(
    canonical,
    u,
    v,
    w,
    scale,
    x,
    y,
    t0,
    t1,
    t2,
    weight_decay,
    lr,
    noise_scale,
    threshold,
    mean,
    batch_idx,
    batch_len,
    full,
    key,
    first,
    n_rows,
    noisy,
    n_steps,
    dense,
):
    """``n_steps`` updates in place; full: (u, v, w) = (a, b, c), scale = 1/α, trained
    flags (t0, t1, t2) for (a, b, c); canonical: (u, v) = (r, θ), w unused, scale = 1/m,
    (t0, t1) for (r, θ). When ``noisy``, step t adds noise_scale times noise row
    first + t·n_rows + k of the stream ``key`` to trained name k (in the order of the
    trained names). Returns (bad, last) as ``_reference.advance_full``."""
    m = u.size
    size = x.size
    xb = np.empty(size)
    yb = np.empty(size)
    xn = np.empty(size)
    yn = np.empty(size)
    f_slope = np.zeros(size + 1)
    f_icpt = np.zeros(size + 1)
    g0 = np.empty(size + 1)
    g1 = np.empty(size + 1)
    count = np.empty(m)
    table0 = np.empty(2 * size + 2)
    table1 = np.empty(2 * size + 2)
    scratch = np.empty((5, _BLOCK))   # run sums (2 rows), a block's noise (3 rows)
    edge = np.empty(m, dtype=np.int64)       # boundary on the full data (followed step to step)
    bedge = np.empty(m, dtype=np.int64)      # the same boundary on the current batch
    mark = np.zeros(size, dtype=np.int64)
    rank = np.empty(size + 1, dtype=np.int64)
    # this step's noise, rows in the order of the trained names (a dummy when not noisy)
    flat = np.empty(n_rows * m if noisy else 1)
    rows = flat.reshape((n_rows, m)) if noisy else flat.reshape((1, 1))
    gauss_h, gauss_work = _gaussian_scratch()
    if canonical:  # the forward pass sees (p, q, weight) = (cos θ, −sin θ, r)
        p = np.cos(v)
        q = -np.sin(v)
        weight = u
    else:
        p = u
        q = v
        weight = w
    nb = _load_batch(x, y, batch_idx, batch_len, 0, full, xb, yb)
    xcur = x if full else xb
    ycur = y if full else yb
    if dense:
        for lo in range(0, m, _BLOCK):
            hi = min(lo + _BLOCK, m)
            _forward_counts(p[lo:hi], q[lo:hi], weight[lo:hi], xcur, nb, f_slope, count[lo:hi])
    else:
        base1 = 0.0
        base0 = 0.0
        if not full:
            _batch_ranks(batch_idx, batch_len, 0, mark, rank)
        for i in range(m):
            e = _boundary(p[i], q[i], x, size)
            edge[i] = e
            if not full:
                e = rank[e]
            bedge[i] = e
            slope = weight[i] * p[i]
            icpt = -weight[i] * q[i]
            if p[i] > 0.0:  # run [e, nb): its end is never read
                f_slope[e] += slope
                f_icpt[e] += icpt
            else:  # run [0, e) = everything minus [e, nb)
                base1 += slope
                base0 += icpt
                f_slope[e] -= slope
                f_icpt[e] -= icpt
        f_slope[0] += base1
        f_icpt[0] += base0
    last = np.nan
    for t in range(n_steps):
        inv_count = 1.0 / nb if mean else 1.0
        loss = _prefix_sums(xcur, ycur, nb, f_slope, f_icpt, dense, scale, inv_count, g0, g1)
        if not np.isfinite(loss):
            return t, last
        last = loss
        if dense:
            _run_table(nb, g0, g1, table0, table1)
        more = t + 1 < n_steps
        nn = 0
        if more:
            nn = _load_batch(x, y, batch_idx, batch_len, t + 1, full, xn, yn)
        xnext = x if full else xn
        if noisy and not dense:  # the dense path adds each block's noise as it makes it
            for k in range(n_rows):
                _noise_row_into(key, first + t * n_rows + k, m, 0, rows[k], gauss_h, gauss_work)
        bad = 0.0
        if dense:
            for lo in range(0, m, _BLOCK):
                hi = min(lo + _BLOCK, m)
                noise_row = first + t * n_rows
                if canonical:
                    finite = _update_canonical_block(
                        u[lo:hi],
                        v[lo:hi],
                        p[lo:hi],
                        q[lo:hi],
                        count[lo:hi],
                        table0,
                        table1,
                        nb,
                        t0,
                        t1,
                        weight_decay,
                        lr,
                        scale,
                        noise_scale,
                        threshold,
                        noisy,
                        key,
                        noise_row,
                        m,
                        lo,
                        gauss_h,
                        gauss_work,
                        scratch,
                    )
                else:
                    finite = _update_full_block(
                        u[lo:hi],
                        v[lo:hi],
                        w[lo:hi],
                        count[lo:hi],
                        table0,
                        table1,
                        nb,
                        t0,
                        t1,
                        t2,
                        weight_decay,
                        lr,
                        scale,
                        noise_scale,
                        noisy,
                        key,
                        noise_row,
                        m,
                        lo,
                        gauss_h,
                        gauss_work,
                        scratch,
                    )
                if not finite:
                    bad = np.nan
                if more:
                    _forward_counts(
                        p[lo:hi], q[lo:hi], weight[lo:hi], xnext, nn, f_slope, count[lo:hi]
                    )
        else:
            if more and not full:
                _batch_ranks(batch_idx, batch_len, t + 1, mark, rank)
            base1 = 0.0
            base0 = 0.0
            for i in range(m):
                pi = p[i]
                p0, p1 = _run_sums(pi > 0.0, bedge[i], nb, g0, g1)
                if canonical:
                    nr, nt = _new_canonical(
                        u[i],
                        v[i],
                        pi,
                        -q[i],
                        p0,
                        p1,
                        t0,
                        t1,
                        weight_decay,
                        lr,
                        scale,
                        noise_scale,
                        threshold,
                        rows,
                        i,
                        noisy,
                    )
                    u[i] = nr
                    if t1:
                        v[i] = nt
                        p[i] = np.cos(nt)
                        q[i] = -np.sin(nt)
                    bad += nr * 0.0 + nt * 0.0
                else:
                    na, nbias, nc = _new_full(
                        u[i],
                        v[i],
                        w[i],
                        p0,
                        p1,
                        t0,
                        t1,
                        t2,
                        weight_decay,
                        lr,
                        scale,
                        noise_scale,
                        rows,
                        i,
                        noisy,
                    )
                    u[i] = na
                    v[i] = nbias
                    w[i] = nc
                    bad += na * 0.0 + nbias * 0.0 + nc * 0.0
                if more:
                    pi = p[i]
                    qi = q[i]
                    e = _boundary_from(pi, qi, x, size, edge[i])
                    edge[i] = e
                    if not full:
                        e = rank[e]
                    bedge[i] = e
                    slope = weight[i] * pi
                    icpt = -weight[i] * qi
                    # branch-free (the sign of p is a coin flip per neuron): a prefix run
                    # [0, e) is everything minus [e, nb)
                    positive = pi > 0.0
                    sign = 1.0 if positive else -1.0
                    f_slope[e] += sign * slope
                    f_icpt[e] += sign * icpt
                    base1 += 0.0 if positive else slope
                    base0 += 0.0 if positive else icpt
            f_slope[0] += base1
            f_icpt[0] += base0
        if bad != 0.0:
            return t + 1, last
        if more:
            nb = nn
            if not full:
                xb, xn = xn, xb
                yb, yn = yn, yb
                xcur = xb
                ycur = yb
    return -1, last


@njit(cache=True, nogil=True)
def _loss(p, q, w, scale, x, y, mean):
    """½ Σⱼ ρⱼ² (÷ s when mean) of f(x) = scale·Σᵢ wᵢ[pᵢx − qᵢ]₊ on all samples."""
    size = x.size
    f_slope = np.zeros(size + 1)
    f_icpt = np.zeros(size + 1)
    g0 = np.empty(size + 1)
    g1 = np.empty(size + 1)
    for i in range(p.size):
        e = _boundary(p[i], q[i], x, size)
        lo, hi = (e, size) if p[i] > 0.0 else (0, e)
        f_slope[lo] += w[i] * p[i]
        f_slope[hi] -= w[i] * p[i]
        f_icpt[lo] -= w[i] * q[i]
        f_icpt[hi] += w[i] * q[i]
    return _prefix_sums(
        x, y, size, f_slope, f_icpt, False, scale, 1.0 / size if mean else 1.0, g0, g1
    )


# ----------------------------------------------------------------------------- segment path
# Without noise, the neurons are kept grouped by key (the boundary e on the full data,
# plus size + 1 when p <= 0): within a segment of one key every neuron has the same run,
# so (P⁰, P¹) is one value per segment (no lookup per neuron), and the next forward pass
# needs only the segment's Σ wᵢpᵢ and Σ wᵢqᵢ (no scatter per neuron). Each step is then
# one vectorised update per segment plus a check that each neuron's knot is still
# between the segment's two boundary samples (the exact ``_outside`` test); the few
# neurons whose knot crossed a sample are moved to their new segment by swaps along the
# segment boundaries. O(m + s) per step, with no work per (neuron, sample) pair.
_CHUNK = 512


@njit(cache=True, nogil=True)
def _key_sides(key, size, x):
    """(positive, e, has_left, x[e − 1], has_right, x[e]) of a segment key."""
    positive = key <= size
    e = key if positive else key - size - 1
    has_l = e > 0
    has_r = e < size
    xl = x[e - 1] if has_l else 0.0
    xr = x[e] if has_r else 0.0
    return positive, e, has_l, xl, has_r, xr


@njit(cache=True, nogil=True, inline="always")
def _stays(p, q, positive, has_l, xl, has_r, xr):
    """The boundary of (p, q) is still the segment's: ``_outside`` holds at x[e − 1]
    and fails at x[e] (same expressions as ``_boundary``, so the same key)."""
    return (((p > 0.0) == positive) & ((not has_l) | ((p * xl - q > 0.0) != positive))
            & ((not has_r) | ((p * xr - q > 0.0) == positive)))


@njit(cache=True, nogil=True)
def _segment_update_full(
    a,
    b,
    c,
    p0,
    p1,
    step_a,
    step_b,
    step_c,
    keep_a,
    keep_b,
    keep_c,
    positive,
    has_l,
    xl,
    has_r,
    xr,
    leaving,
):
    """Update one chunk of a segment, flag the neurons that leave it; returns (all
    finite, number leaving)."""
    ok = 1
    moved = 0
    for i in range(a.size):
        na, nbias, nc = _hoisted_full(
            a[i], b[i], c[i], p0, p1, step_a, step_b, step_c, keep_a, keep_b, keep_c
        )
        a[i] = na
        b[i] = nbias
        c[i] = nc
        ok &= na * 0.0 + nbias * 0.0 + nc * 0.0 == 0.0  # False for inf and NaN
        flag = 0 if _stays(na, nbias, positive, has_l, xl, has_r, xr) else 1
        leaving[i] = flag
        moved += flag
    return ok == 1, moved


@njit(cache=True, nogil=True)
def _segment_update_canonical(
    r,
    theta,
    cos,
    nsin,
    p0,
    p1,
    tr,
    tt,
    weight_decay,
    lr,
    inv_m,
    threshold,
    positive,
    has_l,
    xl,
    has_r,
    xr,
    leaving,
):
    ok = 1
    moved = 0
    for i in range(r.size):
        nr, nt = _new_canonical(
            r[i],
            theta[i],
            cos[i],
            -nsin[i],
            p0,
            p1,
            tr,
            tt,
            weight_decay,
            lr,
            inv_m,
            0.0,
            threshold,
            _EMPTY_NOISE[0],
            i,
            False,
        )
        r[i] = nr
        if tt:
            theta[i] = nt
            cos[i] = np.cos(nt)
            nsin[i] = -np.sin(nt)
        ok &= nr * 0.0 + nt * 0.0 == 0.0
        flag = 0 if _stays(cos[i], nsin[i], positive, has_l, xl, has_r, xr) else 1
        leaving[i] = flag
        moved += flag
    return ok == 1, moved


@njit(cache=True, nogil=True, fastmath={"reassoc"})
def _segment_sums(p, q, w):
    """(Σ wᵢpᵢ, Σ wᵢqᵢ) over a chunk (reassociated: vectorised, deterministic)."""
    s1 = 0.0
    s0 = 0.0
    for i in range(p.size):
        s1 += w[i] * p[i]
        s0 += w[i] * q[i]
    return s1, s0


@njit(cache=True, nogil=True)
def _recompute_sums(p, q, w, start, key, sum1, sum0):
    s1 = 0.0
    s0 = 0.0
    for lo in range(start[key], start[key + 1], _CHUNK):
        hi = min(lo + _CHUNK, start[key + 1])
        c1, c0 = _segment_sums(p[lo:hi], q[lo:hi], w[lo:hi])
        s1 += c1
        s0 += c0
    sum1[key] = s1
    sum0[key] = s0


@njit(cache=True, nogil=True)
def _scatter_segments(sum1, sum0, size, f_slope, f_icpt):
    """The forward pass's difference arrays from the segments' sums."""
    base1 = 0.0
    base0 = 0.0
    for key in range(2 * size + 2):
        positive = key <= size
        e = key if positive else key - size - 1
        if positive:  # run [e, size)
            f_slope[e] += sum1[key]
            f_icpt[e] -= sum0[key]
        else:  # run [0, e) = everything minus [e, size)
            base1 += sum1[key]
            base0 -= sum0[key]
            f_slope[e] -= sum1[key]
            f_icpt[e] += sum0[key]
    f_slope[0] += base1
    f_icpt[0] += base0


@njit(cache=True, nogil=True)
def _swap(z1, z2, z3, z4, order, where, i, j):
    z1[i], z1[j] = z1[j], z1[i]
    z2[i], z2[j] = z2[j], z2[i]
    z3[i], z3[j] = z3[j], z3[i]
    z4[i], z4[j] = z4[j], z4[i]
    order[i], order[j] = order[j], order[i]
    where[order[i]] = i
    where[order[j]] = j


@njit(cache=True, nogil=True)
def _valid_layout(pc, qc, x, order, start):
    size = x.size
    for k in range(2 * size + 2):
        positive, e, has_l, xl, has_r, xr = _key_sides(k, size, x)
        for pos in range(start[k], start[k + 1]):
            i = order[pos]
            if not _stays(pc[i], qc[i], positive, has_l, xl, has_r, xr):
                return False
    return True


@njit(cache=True, nogil=True)
def _advance_segments(
    canonical,
    u,
    v,
    w,
    scale,
    x,
    y,
    t0,
    t1,
    t2,
    weight_decay,
    lr,
    threshold,
    mean,
    n_steps,
    order,
    start,
    zu,
    zv,
    zw,
    sum1,
    sum0,
    reuse,
):
    """``_advance`` for full-batch steps without noise, on the segment layout (same
    arguments and result).

    The layout — ``order`` (the neuron at each position), ``start`` (the first position
    of each key), the state in that order (zu, zv, zw) and the segments' sums — is
    kept between calls (``reuse``): when the caller's state is still the one left by
    the last call, the run goes on exactly as if it had not been cut, so recording
    (which cuts runs into calls) never changes the bits of a trajectory."""
    m = u.size
    size = x.size
    nkeys = 2 * size + 2
    same = reuse
    if same:
        for pos in range(m):
            i = order[pos]
            if not (u[i] == zu[pos] and v[i] == zv[pos] and (canonical or w[i] == zw[pos])):
                same = False
                break
    keyof = np.empty(m, dtype=np.int64)
    if canonical:
        pc = np.cos(v)
        qc = -np.sin(v)
    else:
        pc = u
        qc = v
    if not same and not (reuse and _valid_layout(pc, qc, x, order, start)):
        # neurons sorted by key (stable)
        start[:] = 0
        for i in range(m):
            e = _boundary(pc[i], qc[i], x, size)
            k = e if pc[i] > 0.0 else size + 1 + e
            keyof[i] = k
            start[k + 1] += 1
        for k in range(nkeys):
            start[k + 1] += start[k]
        fill = start[:nkeys].copy()
        for i in range(m):
            k = keyof[i]
            order[fill[k]] = i
            fill[k] += 1
    where = np.empty(m, dtype=np.int64)
    for pos in range(m):
        where[order[pos]] = pos
    if not same:
        for pos in range(m):
            i = order[pos]
            zu[pos] = u[i]
            zv[pos] = v[i]
            zw[pos] = w[i]
    if canonical:
        zp = np.cos(zv)
        zq = -np.sin(zv)
        weight = zu
        z3 = zp
        z4 = zq
    else:
        zp = zu
        zq = zv
        weight = zw
        z3 = zw
        z4 = np.empty(m)  # nothing to carry: a placeholder for the swaps
    if not same:
        for k in range(nkeys):
            _recompute_sums(zp, zq, weight, start, k, sum1, sum0)
    tab0 = np.empty(nkeys)
    tab1 = np.empty(nkeys)
    f_slope = np.zeros(size + 1)
    f_icpt = np.zeros(size + 1)
    g0 = np.empty(size + 1)
    g1 = np.empty(size + 1)
    seg_moved = np.zeros(nkeys, dtype=np.int64)
    leaving = np.zeros(m, dtype=np.uint8)
    leavers = np.empty(m, dtype=np.int64)
    _scatter_segments(sum1, sum0, size, f_slope, f_icpt)
    inv_count = 1.0 / size if mean else 1.0
    step = lr * scale
    keep = 1.0 - lr * weight_decay
    last = np.nan
    result = -1
    for t in range(n_steps):
        loss = _prefix_sums(x, y, size, f_slope, f_icpt, False, scale, inv_count, g0, g1)
        if not np.isfinite(loss):
            result = t
            break
        last = loss
        for k in range(nkeys):
            positive = k <= size
            tab0[k], tab1[k] = _run_sums(positive, k if positive else k - size - 1, size, g0, g1)
        finite = True
        total_moved = 0
        for k in range(nkeys):
            positive, e, has_l, xl, has_r, xr = _key_sides(k, size, x)
            moved = 0
            s1 = 0.0
            s0 = 0.0
            for lo in range(start[k], start[k + 1], _CHUNK):
                hi = min(lo + _CHUNK, start[k + 1])
                if canonical:
                    ok, mv = _segment_update_canonical(
                        zu[lo:hi],
                        zv[lo:hi],
                        zp[lo:hi],
                        zq[lo:hi],
                        tab0[k],
                        tab1[k],
                        t0,
                        t1,
                        weight_decay,
                        lr,
                        scale,
                        threshold,
                        positive,
                        has_l,
                        xl,
                        has_r,
                        xr,
                        leaving[lo:hi],
                    )
                else:
                    ok, mv = _segment_update_full(
                        zu[lo:hi],
                        zv[lo:hi],
                        zw[lo:hi],
                        tab0[k],
                        tab1[k],
                        step if t0 else 0.0,
                        step if t1 else 0.0,
                        step if t2 else 0.0,
                        keep if t0 else 1.0,
                        keep if t1 else 1.0,
                        keep if t2 else 1.0,
                        positive,
                        has_l,
                        xl,
                        has_r,
                        xr,
                        leaving[lo:hi],
                    )
                finite &= ok
                moved += mv
                c1, c0 = _segment_sums(zp[lo:hi], zq[lo:hi], weight[lo:hi])
                s1 += c1
                s0 += c0
            sum1[k] = s1
            sum0[k] = s0
            seg_moved[k] = moved
            total_moved += moved
        if not finite:
            result = t + 1
            break
        if total_moved > 0:
            # collect the leavers (by neuron id: the swaps below move positions), then
            # move each to its new key along the segment boundaries, moving its share
            # of the sums with it
            count = 0
            for k in range(nkeys):
                if seg_moved[k] == 0:
                    continue
                for pos in range(start[k], start[k + 1]):
                    if leaving[pos]:
                        leavers[count] = order[pos]
                        keyof[order[pos]] = k
                        count += 1
            for n_ in range(count):
                idn = leavers[n_]
                pos = where[idn]
                old = keyof[idn]
                e = _boundary_from(
                    zp[pos], zq[pos], x, size, old if old <= size else old - size - 1
                )
                new = e if zp[pos] > 0.0 else size + 1 + e
                if new == old:
                    continue
                share1 = weight[pos] * zp[pos]
                share0 = weight[pos] * zq[pos]
                sum1[old] -= share1
                sum0[old] -= share0
                sum1[new] += share1
                sum0[new] += share0
                k = old
                while k < new:  # to the end of segment k, which then ends before it
                    last_pos = start[k + 1] - 1
                    _swap(zu, zv, z3, z4, order, where, pos, last_pos)
                    pos = last_pos
                    start[k + 1] -= 1
                    k += 1
                while k > new:  # to the start of segment k, which then starts after it
                    first = start[k]
                    _swap(zu, zv, z3, z4, order, where, pos, first)
                    pos = first
                    start[k] += 1
                    k -= 1
                keyof[idn] = new
        if t + 1 < n_steps:
            _scatter_segments(sum1, sum0, size, f_slope, f_icpt)
    # back to the caller's order
    for pos in range(m):
        i = order[pos]
        u[i] = zu[pos]
        v[i] = zv[pos]
        if not canonical:
            w[i] = zw[pos]
    return result, last


# ----------------------------------------------------------------------------- entry points
def _use_segments(m, size):
    """Whether the segment path beats the dense (size <= _DENSE_MAX) or sorted one for
    full-batch steps. Cost model in ns per neuron-step, fitted to timings on this
    machine (lr 1e-5 and 1e-2, m ∈ {10, ..., 10⁴}, s ∈ {10, ..., 10⁴}): segments
    1.2 + 33·(2s + 2)/m (a fixed cost per segment and step), dense 1.5 + 0.14·s,
    sorted 14. Measured at lr 10⁻³ (segments vs the other): s = 10, m = 200: 4.5 vs
    3.5, m = 10³: 3.2 vs 3.4, m = 10⁴: 1.2 vs 2.8; s = 100, m = 700: 6.5 vs 13.9;
    s = 1000, m = 3000: 13.1 vs 13.8 (the model keeps the sorted path there)."""
    segments = 1.2 + 33.0 * (2 * size + 2) / m
    other = 1.5 + 0.14 * size if size <= _DENSE_MAX else 14.0
    return segments < other


def advance(engine, n, batch_idx, batch_len, noise_at):
    """Run ``n`` steps of ``engine`` (a ``_api._Engine``) in place; ``noise_at`` is
    None (no noise) or the index in the engine's noise stream of the first Gaussian of
    this call (a whole number of rows of m); see ``_reference.advance_full`` for the
    return convention."""
    cfg = engine.cfg
    full = batch_idx is None
    idx = _EMPTY_IDX if full else batch_idx
    lens = _EMPTY_IDX[0] if full else batch_len
    noisy = noise_at is not None
    largest = engine.x.size if full else batch_idx.shape[1]
    canonical = cfg.parameterization == "canonical"
    u, v = engine.state[0], engine.state[1]
    w = u if canonical else engine.state[2]
    flags = tuple(cfg.train) + (False,) * (3 - len(cfg.train))
    scale = 1.0 / engine.m if canonical else 1.0 / engine.alpha
    if full and not noisy and _use_segments(u.size, engine.x.size):
        # the segment layout lives with the engine between calls (see _advance_segments)
        layout = getattr(engine, "_segment_layout", None)
        reuse = layout is not None
        if not reuse:
            nkeys = 2 * engine.x.size + 2
            layout = (
                np.empty(u.size, dtype=np.int64),
                np.zeros(nkeys + 1, dtype=np.int64),
                np.empty(u.size),
                np.empty(u.size),
                np.empty(u.size),
                np.empty(nkeys),
                np.empty(nkeys),
            )
            engine._segment_layout = layout
        bad, last = _advance_segments(
            canonical,
            u,
            v,
            w,
            scale,
            engine.x,
            engine.y,
            *flags,
            cfg.weight_decay,
            cfg.lr_eff,
            engine.threshold,
            cfg.mean,
            n,
            *layout,
            reuse,
        )
    else:
        bad, last = _advance(
            canonical,
            u,
            v,
            w,
            scale,
            engine.x,
            engine.y,
            *flags,
            cfg.weight_decay,
            cfg.lr_eff,
            engine.noise_scale,
            engine.threshold,
            cfg.mean,
            idx,
            lens,
            full,
            engine.noise_key if noisy else _NO_KEY,
            int(noise_at) // u.size if noisy else 0,  # a multiple of m: the first row
            engine.noise_rows,
            noisy,
            n,
            largest <= _DENSE_MAX,
        )
    return int(bad), float(last)


def data_loss(engine) -> float:
    """The data term on all samples for the engine's current state."""
    cfg = engine.cfg
    if cfg.parameterization == "full":
        a, b, c = engine.state
        return float(_loss(a, b, c, 1.0 / engine.alpha, engine.x, engine.y, cfg.mean))
    r, theta = engine.state
    return float(
        _loss(np.cos(theta), -np.sin(theta), r, 1.0 / engine.m, engine.x, engine.y, cfg.mean)
    )
