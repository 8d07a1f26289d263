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
# vectorised numpy from its definition. ``_kernels._noise_row_into`` computes the same
# numbers inside the compiled kernels; the two use the same operations in the same
# order (integer arithmetic, bit casts, IEEE +, −, ×, ÷, √; every product and sum
# rounded on its own), so they agree bit for bit.

_GAMMA = np.uint64(0x9E3779B97F4A7C15)   # SplitMix64 (Steele, Lea & Flood 2014)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
# minimax polynomials (relative error): −2 ln m = s·(−4 + z·P(z)), s = (m − 1)/(m + 1),
# z = s², m in [√2/2, √2) (4.8e-12); sin(πy/4) = y·A(y²) (4.6e-12) and cos(πy/4) =
# 1 + y²·B(y²) (6.4e-11), y in [0, 1]. The same constants as in _kernels.
_P = (-1.3333333129724723, -0.8000066907736186, -0.5707469346939936, -0.4716295248224655)
_M2LN2 = -1.3862943611198906   # −2 ln 2
_A = (0.7853981633938905, -0.08074551201299178, 0.00249039318326693, -3.6572349551358685e-05,
      3.0897515121419694e-07)
_B = (-0.3084251356494161, 0.015854326622835535, -0.0003259400798500591, 3.530338049449397e-06)
_CHUNK = 256   # Gaussians per chunk of a noise row (_kernels: 2·_GAUSS_CHUNK)


def splitmix64(key, k) -> np.ndarray:
    """SplitMix64's outputs number k (0-based, a uint64 array) for the seed ``key``:
    z = key + (k + 1)·γ, then two xor-shift-multiply rounds (mod 2⁶⁴)."""
    with np.errstate(over="ignore"):  # arithmetic mod 2⁶⁴ (numpy warns on 0-d operands only)
        z = np.uint64(key) + (np.asarray(k, dtype=np.uint64) + np.uint64(1)) * _GAMMA
        z = (z ^ (z >> np.uint64(30))) * _MIX1
        z = (z ^ (z >> np.uint64(27))) * _MIX2
        return z ^ (z >> np.uint64(31))


def uniforms(h) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The documented uniforms of the 64-bit numbers h: u = (⌊h/2³²⌋ + ½)·2⁻³² (exact),
    y = (h mod 2²⁹)/2²⁹ (exact, φ = πy/4) and the octant bits 29–31 (an int array)."""
    h = np.asarray(h, dtype=np.uint64).view(np.int64)
    u = ((((h >> 12) & (0xFFFFFFFF << 20)) | 0x3FF0000000080000).view(np.float64) - 1.0)
    y = (0x3FF0000000000000 | ((h & 0x1FFFFFFF) << 23)).view(np.float64) - 1.0
    return u, y, (h >> 29) & 7


def minus_two_log(u: np.ndarray) -> np.ndarray:
    """−2 ln u for positive normal float64 u (the polynomial of the generator, relative
    error below 5e-12; branch-free)."""
    bits = u.view(np.int64)
    mant = bits & 0xFFFFFFFFFFFFF
    big = ((0x6A09E667F3BCD - mant) >> 63) & 1            # the mantissa exceeds √2's
    m = (mant | ((1023 - big) << 52)).view(np.float64)    # in [√2/2, √2)
    k = ((bits >> 52) - 1023 + big).astype(np.float64)    # exact
    f = m - 1.0
    s = f / (2.0 + f)
    z = s * s
    p1, p2, p3, p4 = _P
    return k * _M2LN2 + s * (-4.0 + z * (p1 + z * (p2 + z * (p3 + z * p4))))


def gaussian_pairs(key, k) -> tuple[np.ndarray, np.ndarray]:
    """The Box–Muller pairs number k (uint64 array) of the stream ``key``.

    h = SplitMix64 output k; u, y and the octant bits of :func:`uniforms`; r = √(−2 ln u);
    φ = πy/4, θ₀ = π/2 − φ when bit 29 is set, else φ; the pair is (±r cos θ₀, ±r sin θ₀),
    the first negative when bit 30 is set, the second when bit 31 is (so θ is uniform on
    the circle); ln, sin and cos by the generator's polynomials.
    """
    u, y, octant = uniforms(splitmix64(key, k))
    r = np.sqrt(minus_two_log(u))
    w = y * y
    a0, a1, a2, a3, a4 = _A
    b1, b2, b3, b4 = _B
    w2 = w * w   # Estrin's scheme, as in _kernels
    sin = y * ((a0 + w * a1) + w2 * ((a2 + w * a3) + w2 * a4))
    cos = 1.0 + w * ((b1 + w * b2) + w2 * (b3 + w * b4))
    swap = (octant & 1).astype(bool)                       # bit 29
    first, second = np.where(swap, sin, cos), np.where(swap, cos, sin)
    first_negative = ((octant >> 1) & 1).astype(bool)      # bit 30
    second_negative = ((octant >> 2) & 1).astype(bool)     # bit 31
    return first * np.where(first_negative, -r, r), second * np.where(second_negative, -r, r)


def noise_layout(m: int) -> tuple[np.ndarray, np.ndarray]:
    """(pair, second) for the m neurons of a noise row: neuron i gets member ``second[i]``
    (0: first, 1: second) of the row's pair ``pair[i]``. In chunk c of the row (neurons
    256c ≤ i < min(256c + 256, m): n_c of them, q_c = ⌈n_c/2⌉ pairs 128c + j, j < q_c),
    neuron 256c + j gets the first member of pair 128c + j when j < q_c and the second
    member of pair 128c + j − q_c otherwise."""
    i = np.arange(m)
    c, j = np.divmod(i, _CHUNK)
    q = (np.minimum(_CHUNK, m - _CHUNK * c) + 1) // 2
    second = j >= q
    return c * (_CHUNK // 2) + np.where(second, j - q, j), second


def noise_rows(key, row0: int, n_rows: int, m: int) -> np.ndarray:
    """Noise rows row0, ..., row0 + n_rows − 1 of the stream ``key`` for m neurons, an
    (n_rows, m) array: row R uses the Box–Muller pairs R·⌈m/2⌉ + p, p < ⌈m/2⌉, laid out
    as :func:`noise_layout` says."""
    half = (m + 1) // 2
    with np.errstate(over="ignore"):  # counters mod 2⁶⁴
        rows = np.uint64(row0) + np.arange(n_rows, dtype=np.uint64)
        k = rows[:, None] * np.uint64(half) + np.arange(half, dtype=np.uint64)
    first, second = gaussian_pairs(key, k)
    pair, is_second = noise_layout(m)
    return np.where(is_second, second[:, pair], first[:, pair])


def gaussian_noise(key, start: int, count: int, m: int) -> np.ndarray:
    """Gaussians number start, ..., start + count − 1 of the stream ``key`` for m
    neurons: number g is neuron g mod m of noise row ⌊g/m⌋ (:func:`noise_rows`)."""
    if count <= 0:
        return np.empty(0)
    row0 = start // m
    rows = noise_rows(key, row0, (start + count - 1) // m - row0 + 1, m).ravel()
    return rows[start - row0 * m:start - row0 * m + count]
