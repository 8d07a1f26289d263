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
