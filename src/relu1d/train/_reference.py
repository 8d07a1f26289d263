"""Plain numpy loss and gradient: the reference every faster path is checked against.

L(z) = ½ Σⱼ (f(xⱼ) − yⱼ)² (Williams eq. 1), with the gradients of NOTES.md:
∂L/∂cᵢ = (1/α) Σⱼ ρⱼ [aᵢxⱼ − bᵢ]₊,  ∂L/∂aᵢ = (cᵢ/α) Σⱼ ρⱼ xⱼ 1[aᵢxⱼ > bᵢ],
∂L/∂bᵢ = −(cᵢ/α) Σⱼ ρⱼ 1[aᵢxⱼ > bᵢ].
At a kink (aᵢxⱼ = bᵢ exactly) the indicator is 0 (the one-sided derivative from the
inactive side).
"""

from __future__ import annotations

import numpy as np

__all__: list[str] = []


def residuals(a, b, c, alpha, x, y) -> np.ndarray:
    """ρⱼ = f(xⱼ) − yⱼ."""
    return np.maximum(np.multiply.outer(x, a) - b, 0.0) @ c / alpha - y


def loss_and_grad(a, b, c, alpha, x, y) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """L and (∂L/∂a, ∂L/∂b, ∂L/∂c), dense O(m·s)."""
    pre = np.multiply.outer(x, a) - b            # (s, m)
    act = pre > 0
    relu = np.where(act, pre, 0.0)
    rho = relu @ c / alpha - y
    grad_c = relu.T @ rho / alpha
    weighted = act.T @ rho                        # Σⱼ ρⱼ 1[active]
    weighted_x = act.T @ (rho * x)                # Σⱼ ρⱼ xⱼ 1[active]
    grad_a = c * weighted_x / alpha
    grad_b = -c * weighted / alpha
    return 0.5 * float(rho @ rho), grad_a, grad_b, grad_c


def canonical_loss_and_grad(r, theta, x, y) -> tuple[float, np.ndarray, np.ndarray]:
    """L̃(w) = L(z) in canonical parameters and (∂L̃/∂r, ∂L̃/∂θ) (Williams eqs. 4, 7).

    f̃(x) = (1/m) Σᵢ rᵢ ⟨x̃, d(θᵢ)⟩₊ with x̃ = (x, 1), d(θ) = (cos θ, sin θ), so
    ∂L̃/∂rᵢ = (1/m) Σⱼ ρⱼ ⟨x̃ⱼ, d(θᵢ)⟩₊ and
    ∂L̃/∂θᵢ = (rᵢ/m) Σⱼ ρⱼ ⟨x̃ⱼ, t(θᵢ)⟩ 1[⟨x̃ⱼ, d(θᵢ)⟩ > 0], t(θ) = (−sin θ, cos θ).
    """
    m = r.size
    cos, sin = np.cos(theta), np.sin(theta)
    pre = np.multiply.outer(x, cos) + sin         # ⟨x̃ⱼ, d(θᵢ)⟩, (s, m)
    act = pre > 0
    relu = np.where(act, pre, 0.0)
    rho = relu @ r / m - y
    grad_r = relu.T @ rho / m
    tangent = np.multiply.outer(x, -sin) + cos    # ⟨x̃ⱼ, t(θᵢ)⟩
    grad_theta = r * np.sum(np.where(act, tangent, 0.0) * rho[:, None], axis=0) / m
    return 0.5 * float(rho @ rho), grad_r, grad_theta


# --------------------------------------------------------------------------- the update rules
# The reference updates below are the definition the compiled kernels (_kernels.py) are
# tested against. Both consume the same precomputed minibatch indices and Gaussian noise,
# so the two backends agree to rounding, noise included.

def data_loss(a, b, c, alpha, x, y, mean) -> float:
    """½ Σⱼ ρⱼ² over the samples given (divided by their number when ``mean``)."""
    rho = residuals(a, b, c, alpha, x, y)
    value = 0.5 * float(rho @ rho)
    return value / x.size if mean else value


def canonical_data_loss(r, theta, x, y, mean) -> float:
    """½ Σⱼ (f̃(xⱼ) − yⱼ)² in canonical parameters (÷ number of samples when ``mean``)."""
    pre = np.maximum(np.multiply.outer(x, np.cos(theta)) + np.sin(theta), 0.0)
    rho = pre @ r / r.size - y
    value = 0.5 * float(rho @ rho)
    return value / x.size if mean else value


def _batch(x, y, batch_idx, batch_len, t):
    if batch_idx is None:
        return x, y
    idx = batch_idx[t, :batch_len[t]]
    return x[idx], y[idx]


def advance_full(a, b, c, alpha, x, y, train, weight_decay, lr, noise_scale, mean,
                 batch_idx, batch_len, noise, n_steps):
    """Run ``n_steps`` updates of z = (a, b, c) in place.

    Step t: z_k ← z_k − lr·(∇_k L_batch + λ z_k) + noise_scale·ξ_k for each trained k,
    with ξ = ``noise[t]`` (rows in the order of the trained names in "abc"), skipped
    when ``noise`` is None. Returns (bad, last_loss): ``bad`` is −1, or the index
    (within this call) of the first state whose batch loss or parameters are not
    finite; ``last_loss`` is the last finite batch loss seen.
    """
    last = np.nan
    for t in range(n_steps):
        xb, yb = _batch(x, y, batch_idx, batch_len, t)
        loss, ga, gb, gc = loss_and_grad(a, b, c, alpha, xb, yb)
        if mean:
            scale = 1.0 / xb.size
            loss, ga, gb, gc = loss * scale, ga * scale, gb * scale, gc * scale
        if not np.isfinite(loss):
            return t, last
        last = loss
        row = 0
        for param, grad, on in zip((a, b, c), (ga, gb, gc), train):
            if on:
                param -= lr * (grad + weight_decay * param)
                if noise is not None:
                    param += noise_scale * noise[t, row]
                    row += 1
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.all(np.isfinite(c))):
            return t + 1, last
    return -1, last


def advance_canonical(r, theta, x, y, train, weight_decay, lr, noise_scale, threshold, mean,
                      batch_idx, batch_len, noise, n_steps):
    """Run ``n_steps`` updates of w = (r, θ) in place (Williams eq. 7, discretised).

    r ← prox(r − lr·(∂_r L̃_batch + λr) + noise_scale·ξ_r), θ ← θ − lr·∂_θ L̃_batch +
    noise_scale·ξ_θ, where prox is the soft threshold r ↦ sign(r)·max(|r| − threshold, 0)
    (the identity when threshold = 0). Same return convention as :func:`advance_full`.
    """
    last = np.nan
    for t in range(n_steps):
        xb, yb = _batch(x, y, batch_idx, batch_len, t)
        loss, gr, gt = canonical_loss_and_grad(r, theta, xb, yb)
        if mean:
            scale = 1.0 / xb.size
            loss, gr, gt = loss * scale, gr * scale, gt * scale
        if not np.isfinite(loss):
            return t, last
        last = loss
        row = 0
        if train[0]:
            r -= lr * (gr + weight_decay * r)
            if noise is not None:
                r += noise_scale * noise[t, row]
                row += 1
            if threshold > 0:
                r[:] = np.sign(r) * np.maximum(np.abs(r) - threshold, 0.0)
        if train[1]:
            theta -= lr * gt
            if noise is not None:
                theta += noise_scale * noise[t, row]
        if not (np.all(np.isfinite(r)) and np.all(np.isfinite(theta))):
            return t + 1, last
    return -1, last


# --------------------------------------------------------------------------- langevin noise
# The Gaussian stream of method="langevin" (layout: _api, "Langevin noise"), written in
# vectorised numpy from its definition. ``_kernels._fill_gaussians`` computes the same
# numbers inside the compiled kernels; the two use the same operations in the same
# order (integer arithmetic, bit casts, IEEE +, −, ×, ÷, √), so they agree bit for bit.

_GAMMA = np.uint64(0x9E3779B97F4A7C15)   # SplitMix64 (Steele, Lea & Flood 2014)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
# fdlibm's e_log.c kernel on [√2/2, √2) and its k_sin.c / k_cos.c polynomials on [0, π/4]
_LG = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10
_SIN = (-1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04,
        2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10)
_COS = (4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
        -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11)
_PI_4 = 0.78539816339744830962


def splitmix64(key, k) -> np.ndarray:
    """SplitMix64's outputs number k (0-based, a uint64 array) for the seed ``key``:
    z = key + (k + 1)·γ, then two xor-shift-multiply rounds (mod 2⁶⁴)."""
    with np.errstate(over="ignore"):  # arithmetic mod 2⁶⁴ (numpy warns on 0-d operands only)
        z = np.uint64(key) + (np.asarray(k, dtype=np.uint64) + np.uint64(1)) * _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def _log(x: np.ndarray) -> np.ndarray:
    """ln x for positive normal float64 (fdlibm's algorithm, branch-free; < 1 ulp)."""
    bits = x.view(np.int64)
    mant = bits & 0xFFFFFFFFFFFFF
    big = ((0x6A09E667F3BCD - mant) >> 63) & 1            # the mantissa exceeds √2's
    m = (mant | ((1023 - big) << 52)).view(np.float64)    # in [√2/2, √2)
    k = ((bits >> 52) - 1023 + big).astype(np.float64)
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    lg1, lg2, lg3, lg4, lg5, lg6, lg7 = _LG
    r = z * (lg1 + w * (lg3 + w * (lg5 + w * lg7))) + w * (lg2 + w * (lg4 + w * lg6))
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


def gaussian_pairs(key, k) -> tuple[np.ndarray, np.ndarray]:
    """The Box–Muller pairs number k (uint64 array) of the stream ``key``.

    h = SplitMix64 output k; u = (⌊h/2³²⌋ + ½)·2⁻³², r = √(−2 ln u); φ = (π/4)·(h mod
    2²⁹)/2²⁹ and the octant bits of h: bit 29 mirrors φ to π/2 − φ, bit 30 adds π/2,
    bit 31 adds π, giving θ; the pair is (r cos θ, r sin θ).
    """
    h = splitmix64(key, k).view(np.int64)
    hi = (h >> 32) & 0xFFFFFFFF
    lo = h & 0xFFFFFFFF
    u = (0x3FF0000000000000 | (hi << 20) | 0x80000).view(np.float64) - 1.0  # (hi + ½)·2⁻³², exactly
    r = np.sqrt(-2.0 * _log(u))
    x = _PI_4 * ((0x3FF0000000000000 | ((lo & 0x1FFFFFFF) << 23)).view(np.float64) - 1.0)
    z = x * x
    s1, s2, s3, s4, s5, s6 = _SIN
    c1, c2, c3, c4, c5, c6 = _COS
    sin = x + (z * x) * (s1 + z * (s2 + z * (s3 + z * (s4 + z * (s5 + z * s6)))))
    cos = 1.0 - (0.5 * z - z * (z * (c1 + z * (c2 + z * (c3 + z * (c4 + z * (c5 + z * c6)))))))
    mirror = ((lo >> 29) & 1).astype(bool)
    c, s = np.where(mirror, sin, cos), np.where(mirror, cos, sin)
    quarter = ((lo >> 30) & 1).astype(bool)
    c, s = np.where(quarter, -s, c), np.where(quarter, c, s)
    half = ((lo >> 31) & 1).astype(bool)
    return np.where(half, -c, c) * r, np.where(half, -s, s) * r


def gaussian_noise(key, start: int, count: int) -> np.ndarray:
    """Gaussians number start, ..., start + count − 1 of the stream ``key``: number g
    is the first (g even) or second (g odd) of the Box–Muller pair ⌊g/2⌋."""
    if count <= 0:
        return np.empty(0)
    first = start // 2
    c, s = gaussian_pairs(key, np.arange(first, (start + count - 1) // 2 + 1, dtype=np.uint64))
    both = np.empty(2 * c.size)
    both[0::2] = c
    both[1::2] = s
    return both[start - 2 * first:start - 2 * first + count]
