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
